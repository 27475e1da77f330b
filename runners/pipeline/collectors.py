"""Background readers for one container: its log stream and its stats stream."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

LOG = logging.getLogger("abaco.runner")


SECRET_MASK = "[REDACTED]"


class LogCollector:
    """Reads stdout+stderr while the container runs, keeping at most ``limit`` characters (plus one
    more so the caller can tell a truncation happened). Past the cap it keeps reading and discarding:
    a container writing to a pipe nobody reads would block, and the runner's memory stays flat."""

    def __init__(self, stream: Iterator[bytes], limit: int, secrets: tuple[str, ...] = ()) -> None:
        self._stream = stream
        self._limit = limit
        self._secrets = tuple(s for s in secrets if s)  # masked in every snapshot (the actor token)
        self._parts: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._version = 0
        self._decoder_pending = b""
        self.discarded = 0  # bytes read past the cap
        self._thread = threading.Thread(target=self._run, name="logs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for chunk in self._stream:
                self._add(chunk)
        except Exception as exc:  # the stream ends with the container; errors only cut it short
            LOG.debug("log stream ended: %s", exc)

    def _add(self, chunk: bytes) -> None:
        if self._size > self._limit:  # full: drop without decoding
            self.discarded += len(chunk)
            return
        data = self._decoder_pending + chunk
        try:
            text = data.decode("utf-8")
            self._decoder_pending = b""
        except UnicodeDecodeError as exc:
            if exc.start >= len(data) - 3:  # a multi-byte character split across chunks
                text, self._decoder_pending = data[:exc.start].decode("utf-8"), data[exc.start:]
            else:
                text, self._decoder_pending = data.decode("utf-8", errors="replace"), b""
        with self._lock:
            room = self._limit + 1 - self._size
            if room <= 0:
                return
            piece = text[:room]
            self._parts.append(piece)
            self._size += len(piece)
            self._version += 1

    def snapshot(self) -> tuple[int, str]:
        with self._lock:
            text = "".join(self._parts)
            for secret in self._secrets:  # on the joined text, so a secret split across chunks is found too
                text = text.replace(secret, SECRET_MASK)
            return self._version, text

    def finish(self, timeout: float = 5.0) -> str:
        self._thread.join(timeout)
        return self.snapshot()[1]


class StatsCollector:
    """Keeps the latest cumulative CPU (ns) and block I/O (bytes) from Docker's streaming stats."""

    def __init__(self, open_stream: Callable[[], Iterator[dict[str, Any]]]) -> None:
        self.cpu = 0
        self.io = 0
        self._open = open_stream
        self._thread = threading.Thread(target=self._run, name="stats", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for sample in self._open():
                self._take(sample)
        except Exception as exc:  # stats failures must never block cleanup (Abaco issue #12)
            LOG.debug("stats stream ended: %s", exc)

    def _take(self, sample: dict[str, Any]) -> None:
        cpu = (sample.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage") or 0
        self.cpu = max(self.cpu, int(cpu))
        blkio = (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
        io = sum(int(e.get("value", 0)) for e in blkio if e.get("op", "").lower() in ("read", "write"))
        networks = sample.get("networks") or {}
        io += sum(int(n.get("rx_bytes", 0)) for n in networks.values())
        self.io = max(self.io, io)

    def finish(self, timeout: float = 2.0) -> tuple[int, int]:
        self._thread.join(timeout)
        return self.cpu, self.io
