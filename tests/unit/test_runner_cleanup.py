"""What the runner must give back after every execution (found by the nightly soak, T28): the worker's
directory for per-execution files, and the container's output stream with its engine connection."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, cast

from chalicelib.adapters.payloads import PayloadStore
from chalicelib.domain.queue_messages import InboxMessage
from runners.pipeline import delivery
from runners.pipeline.engine import OutputStream, close_output


def _message(execution_id: str) -> InboxMessage:
    return InboxMessage(tenant="T", actor_id="a", execution_id=execution_id, body="hi", size=2)


def _prepare(root: Path, worker: str, execution_id: str) -> delivery.Delivery:
    no_payloads = cast(PayloadStore, None)  # an inline message never touches the payload store
    return delivery.prepare(root, worker, execution_id, _message(execution_id), no_payloads)


def test_the_worker_directory_goes_with_its_last_execution(tmp_path: Path) -> None:
    first = _prepare(tmp_path, "w1", "e1")
    assert (tmp_path / "w1" / "e1" / "results.sock").exists()
    first.close()
    assert list(tmp_path.iterdir()) == []  # neither the execution's nor the worker's directory is left
    second = _prepare(tmp_path, "w1", "e2")  # the next execution of the same worker makes it again
    assert (tmp_path / "w1" / "e2").is_dir()
    second.close()
    assert list(tmp_path.iterdir()) == []


def test_a_worker_directory_with_other_files_stays(tmp_path: Path) -> None:
    running = _prepare(tmp_path, "w1", "e1")
    other = _prepare(tmp_path, "w1", "e2")
    running.close()
    assert (tmp_path / "w1" / "e2" / "results.sock").exists()  # untouched
    other.close()
    assert not (tmp_path / "w1").exists()


def test_a_delivery_made_elsewhere_leaves_its_parent_alone(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    delivery.Delivery(own, sock).close()
    assert tmp_path.is_dir() and not own.exists()


class _Response:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class _SdkStream:
    """The SDK's CancellableStream: iterates, closes its socket, keeps the response."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)
        self._response = _Response()
        self.closed = 0

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        self.closed += 1
        raise OSError("already shut down by the engine")  # closing must not fail the execution


def test_output_stream_closes_the_stream_and_its_response_once() -> None:
    sdk = _SdkStream([b"a", b"b"])
    stream = OutputStream(sdk)
    assert list(stream) == [b"a", b"b"]
    stream.close()
    close_output(stream)
    assert sdk.closed == 1 and sdk._response.closed == 1


def test_close_output_accepts_plain_iterators() -> None:
    close_output(iter([b"x"]))  # engine fakes hand these out
    close_output(None)
    generator: Any = (b for b in [b"x"])
    close_output(generator)
