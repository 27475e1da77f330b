"""The results collector keeps every datagram sent before ``finish`` and stops its thread when told."""
from __future__ import annotations

import socket
from pathlib import Path

from runners.pipeline.results import ResultsCollector


class MemoryResults:
    """The one method of ResultStore the collector calls."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, bytes]] = []

    def append(self, key: str, seq: str, data: bytes, expires_at: int) -> None:
        self.items.append((key, seq, data))


def _bound(tmp_path: Path) -> tuple[socket.socket, str]:
    path = str(tmp_path / "results.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    return sock, path


def test_finish_keeps_every_datagram_and_stops_the_thread(tmp_path: Path) -> None:
    sock, path = _bound(tmp_path)
    store = MemoryResults()
    collector = ResultsCollector(sock, store, "actor#exec", 1, 60)  # type: ignore[arg-type]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        for payload in (b"one", b"two", b"three"):
            sender.sendto(payload, path)
    assert collector.finish() == 3
    assert sorted(data for _, _, data in store.items) == [b"one", b"three", b"two"]
    assert not collector._thread.is_alive()
    assert collector.finish() == 3  # idempotent
    sock.close()


def test_finish_with_nothing_sent_stops_the_waiting_thread(tmp_path: Path) -> None:
    sock, _ = _bound(tmp_path)
    collector = ResultsCollector(sock, MemoryResults(), "actor#exec", 1, 60)  # type: ignore[arg-type]
    assert collector._thread.is_alive()  # blocked waiting for a datagram
    assert collector.finish() == 0
    assert not collector._thread.is_alive()
    sock.close()
