"""The host's batched deletes of finished messages (``runners/pipeline/acks.py``): what is added within the
linger goes in one DeleteMessageBatch per inbox, ten at most; nothing is sent while the host is cut off;
``close`` sends what is left; a deleted inbox or a failed batch loses nothing the duplicate path would not
catch."""
from __future__ import annotations

import threading
import time

from chalicelib.domain.errors import NotFound, Unavailable
from runners.pipeline.acks import Acks
from runners.pipeline.consumer import InboxConsumer
from tests.conftest import wait_for


class RecordingQueues:
    """The one Queues method Acks calls, recorded (an in-memory stand-in beside the integration tests)."""

    def __init__(self, fail: type[Exception] | None = None) -> None:
        self.batches: list[tuple[str, list[str]]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def delete_many(self, url: str, receipts: list[str]) -> None:
        with self.lock:
            self.batches.append((url, list(receipts)))
        if self.fail is not None:
            raise self.fail("refused")

    def sent(self) -> list[tuple[str, list[str]]]:
        with self.lock:
            return list(self.batches)


def test_deletes_within_the_linger_go_as_one_batch_per_inbox() -> None:
    queues = RecordingQueues()
    acks = Acks(queues, linger=0.3).start()  # type: ignore[arg-type]
    try:
        for i in range(3):
            acks.add("q/a", f"ra{i}")
        acks.add("q/b", "rb0")
        assert acks.pending() == 4 and queues.sent() == []  # nothing before the linger ends
        wait_for(lambda: len(queues.sent()) == 2, 10, what="the batches")
        assert sorted(queues.sent()) == [("q/a", ["ra0", "ra1", "ra2"]), ("q/b", ["rb0"])]
        assert acks.pending() == 0
    finally:
        acks.close()


def test_ten_to_one_inbox_go_at_once() -> None:
    queues = RecordingQueues()
    acks = Acks(queues, linger=3600).start()  # type: ignore[arg-type]
    try:
        for i in range(10):
            acks.add("q/a", f"r{i}")
        wait_for(queues.sent, 10, what="a full batch, without waiting for the linger")
        assert queues.sent() == [("q/a", [f"r{i}" for i in range(10)])]
    finally:
        acks.close()


def test_a_cut_off_host_sends_nothing_until_it_is_back() -> None:
    queues = RecordingQueues()
    cut_off = threading.Event()
    cut_off.set()
    acks = Acks(queues, held=cut_off.is_set, linger=0.05).start()  # type: ignore[arg-type]
    try:
        acks.add("q/a", "r0")
        deadline = time.monotonic() + 0.6  # several lingers and a held pause: still nothing
        while time.monotonic() < deadline:
            assert queues.sent() == []
            time.sleep(0.05)
        acks.add("q/a", "r1")
        cut_off.clear()
        wait_for(queues.sent, 10, what="the held deletes, once the host is back")
        assert [r for _, receipts in queues.sent() for r in receipts] == ["r0", "r1"]
    finally:
        acks.close()


def test_close_sends_what_is_pending_and_later_adds_go_at_once() -> None:
    queues = RecordingQueues()
    acks = Acks(queues, linger=3600).start()  # type: ignore[arg-type]
    acks.add("q/a", "r0")
    acks.close()
    assert queues.sent() == [("q/a", ["r0"])]
    acks.add("q/a", "r1")  # a worker finishing after the host's close
    assert queues.sent()[-1] == ("q/a", ["r1"])


def test_a_deleted_inbox_or_a_refusal_does_not_stop_the_thread() -> None:
    for failure in (NotFound, Unavailable):
        queues = RecordingQueues(fail=failure)
        acks = Acks(queues, linger=0.01).start()  # type: ignore[arg-type]
        try:
            acks.add("q/a", "r0")
            wait_for(lambda q=queues: q.sent(), 10, what="the first batch")
            acks.add("q/a", "r1")
            wait_for(lambda q=queues: len(q.sent()) == 2, 10, what="the next batch after a refusal")
        finally:
            acks.close()


def test_the_consumer_acks_through_the_host_batch() -> None:
    queues = RecordingQueues()
    acks = Acks(queues, linger=3600).start()  # type: ignore[arg-type]
    consumer = InboxConsumer(queues, "q/a", acks)  # type: ignore[arg-type]

    class Message:
        receipt = "r0"

    consumer.ack(Message())  # type: ignore[arg-type]
    assert acks.pending() == 1 and queues.sent() == []
    acks.close()
    assert queues.sent() == [("q/a", ["r0"])]
