"""The execution protocol's storage writes, duty leases and runner helpers, against in-process moto.

These are the invariants of reliability plan §5 checked one write at a time: a claim is exclusive, every
later write is fenced on the attempt, attempts are bounded, terminal states are absorbing.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from moto import mock_aws

from chalicelib.adapters.storage.base import Table
from chalicelib.adapters.storage.duties import DutyLeases
from chalicelib.adapters.storage.executions import ClaimRefused, open_shard
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import Actor, Execution, ExecutionStatus
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.resources import EXECUTIONS, OPEN_INDEX
from chalicelib.wiring.settings import Settings
from local import bootstrap
from runners.duties import autoscaler
from runners.duties.scheduler import Duty, DutyScheduler
from runners.fence import Fence
from runners.metrics import standard_registry
from runners.pipeline.collectors import LogCollector


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        settings = Settings(resource_prefix=f"unit{time.time_ns()}")
        import boto3

        ddb = boto3.client("dynamodb", region_name="us-east-1")
        from chalicelib.adapters import aws

        monkeypatch.setattr(aws, "client", lambda service, _s: boto3.client(service, region_name="us-east-1"))
        bootstrap.create_tables(settings)
        assert ddb.list_tables()["TableNames"]
        yield Backend.from_settings(settings)


def registered_actor(backend: Backend, tenant: str = "T") -> Actor:
    """A fresh actor with its inbox (and the pools' queues), for the unit tests that send it messages."""
    bootstrap.create_queues(backend.settings)
    actor = Actor(tenant=tenant, id=f"A{time.time_ns()}", image="abacosamples/noop", owner="u")
    backend.actors.create(actor)
    backend.queues.create_inbox(tenant, actor.id)
    return actor


def _submitted(backend: Backend, pool: str = "default") -> Execution:
    execution = Execution(tenant="T", actor_id="A", id=f"E{time.time_ns()}", executor="u", open_pool=pool,
                          inbox_message="{}", phases={"queued": time.time()})
    backend.executions.create(execution)
    return execution


def test_a_claim_is_exclusive_and_later_writes_are_fenced(backend: Backend) -> None:
    execution = _submitted(backend)
    mine = backend.executions.claim(execution, "r1", "w1", 30, 2, "m1")
    assert mine.status == ExecutionStatus.RUNNING and mine.attempt == 1 and mine.charged == 1
    with pytest.raises(ClaimRefused) as refused:  # a live lease: nobody else gets it
        backend.executions.claim(execution, "r2", "w2", 30, 2, "m1")
    assert refused.value.execution is not None and refused.value.execution.runner_id == "r1"
    assert backend.executions.renew(mine, 30).attempt == 1
    stale = mine.model_copy(update={"attempt": 0})
    with pytest.raises(Conflict):
        backend.executions.finish(stale, {"status": "COMPLETE"}, "exited")


def test_a_claim_without_a_read_applies_only_to_a_never_claimed_submitted_execution(backend: Backend) -> None:
    execution = _submitted(backend)
    mine = backend.executions.claim_unread("T_A", execution.id, "r1", "w1", 30, 2, "m1")
    assert mine is not None and mine.status == ExecutionStatus.RUNNING and (mine.attempt, mine.charged) == (1, 1)
    # kept (stored to the millisecond: chalicelib/adapters/storage/executions.py), and ours
    assert mine.phases["queued"] == round(execution.phases["queued"], 3) and "claimed" in mine.phases
    stored = backend.executions.get("T_A", execution.id)
    assert stored.runner_id == "r1" and stored.message_id == "m1" and stored.attempts == []
    assert backend.executions.claim_unread("T_A", execution.id, "r2", "w2", 30, 2, "m1") is None  # claimed
    assert backend.executions.get("T_A", execution.id).runner_id == "r1"
    assert backend.executions.claim_unread("T_A", "missing", "r2", "w2", 30, 2, "m1") is None
    backend.executions.release(mine, "start_failed", charge=False)  # SUBMITTED again, but at attempt 1
    assert backend.executions.claim_unread("T_A", execution.id, "r2", "w2", 30, 2, "m1") is None
    ended = _submitted(backend)
    backend.executions.fail(ended, "gone")
    assert backend.executions.claim_unread("T_A", ended.id, "r2", "w2", 30, 2, "m1") is None
    assert backend.executions.get("T_A", ended.id).status == ExecutionStatus.ERROR


def test_an_expired_lease_is_taken_over_and_the_old_attempt_can_no_longer_write(backend: Backend) -> None:
    execution = _submitted(backend)
    first = backend.executions.claim(execution, "r1", "w1", 0.01, 2, "m1")
    time.sleep(0.05)
    second = backend.executions.claim(first, "r2", "w2", 30, 2, "m1")
    assert second.attempt == 2 and [a.reason for a in second.attempts] == ["runner_lost"]
    with pytest.raises(Conflict):  # the paused runner wakes up: its heartbeat and its result are refused
        backend.executions.renew(first, 30)
    with pytest.raises(Conflict):
        backend.executions.finish(first, {"status": "COMPLETE", "exit_code": 0}, "exited")
    done = backend.executions.finish(second, {"status": "COMPLETE", "exit_code": 0}, "exited")
    assert [a.reason for a in done.attempts] == ["runner_lost", "exited"]
    assert done.open_pool is None and done.inbox_message is None  # off the open index
    with pytest.raises(ClaimRefused) as refused:  # terminal states are absorbing
        backend.executions.claim(done, "r3", "w3", 30, 5, "m1")
    assert refused.value.execution is not None and refused.value.execution.status == ExecutionStatus.COMPLETE


def test_attempts_are_bounded_and_start_failures_are_not_charged(backend: Backend) -> None:
    execution = _submitted(backend)
    claimed = backend.executions.claim(execution, "r1", "w1", 30, 1, "m1")
    released = backend.executions.release(claimed, "start_failed", charge=False)
    assert released.status == ExecutionStatus.SUBMITTED and released.charged == 0
    claimed = backend.executions.claim(released, "r1", "w1", 0.01, 1, "m1")
    assert claimed.attempt == 2 and claimed.charged == 1
    time.sleep(0.05)
    with pytest.raises(ClaimRefused):  # max_attempts 1 is used up
        backend.executions.claim(claimed, "r2", "w2", 30, 1, "m1")


def test_concurrent_claims_have_one_winner(backend: Backend) -> None:
    """Eight runners claim from the same read copy. DynamoDB applies each conditional write atomically;
    in-process moto does not, so the lock stands in for that (the integration tier runs the emulator
    wrapper that serialises DynamoDB requests)."""
    execution = _submitted(backend)
    winners: list[str] = []
    atomic = threading.Lock()

    def claim(runner: str) -> None:
        try:
            with atomic:
                backend.executions.claim(execution, runner, "w", 30, 2, "m")
            winners.append(runner)
        except ClaimRefused:
            pass

    threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def _open(backend: Backend, *pools: str) -> list[tuple[str, str]]:
    return sorted((pool, e.id) for pool, e in backend.executions.open_executions(pools))


def test_the_open_index_lists_only_work_in_flight(backend: Backend) -> None:
    first, second = _submitted(backend), _submitted(backend, pool="special")
    assert _open(backend, "default") == [("default", first.id)]  # another pool's are left out
    backend.executions.fail(first, "gone")
    assert _open(backend, "default", "special") == [("special", second.id)]


def test_every_shard_of_the_open_index_is_read_page_by_page(backend: Backend) -> None:
    """Written over the index's shards, read back whole (a Scan of the index, a few items per page here),
    each with its pool and once."""
    written = sorted((pool, _submitted(backend, pool).id) for pool in ("default", "special") * 9)
    shards = {open_shard(pool, e, backend.settings.open_index_shards) for pool, e in written}
    assert len(shards) > 2
    assert _open(backend, "default", "special") == written
    items = list(Table(EXECUTIONS, backend.settings).scan_index(OPEN_INDEX, page=4))
    assert sorted(i["execution_id"]["S"] for i in items) == sorted(e for _, e in written)
    assert {i["open_pool"]["S"] for i in items} == shards


class CountingLeases(DutyLeases):
    """The real duties table, counting the lease writes."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.writes = 0

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        self.writes += 1
        return super().acquire(*args, **kwargs)


def test_a_duty_runs_on_one_holder_until_its_lease_expires(backend: Backend) -> None:
    runs: list[str] = []
    now = 1000.0
    schedulers = [DutyScheduler(backend, holder) for holder in ("h1", "h2")]
    for scheduler in schedulers:
        scheduler.register(Duty("d", 1.0, lambda _b, _n, h=scheduler.holder: runs.append(h)))
    for step in range(3):
        for scheduler in schedulers:
            scheduler.tick(now + step)
    assert runs == ["h1", "h1", "h1"]
    later = now + 100  # h1 is gone: after its lease h2 takes over
    assert schedulers[1].tick(later) == ["d"] and runs[-1] == "h2"


def test_a_duty_lease_is_written_once_per_third_of_a_lease_and_taken_over_after_it(backend: Backend) -> None:
    leases = CountingLeases(backend.settings)
    counted = replace(backend, duties=leases)
    lease = backend.settings.duty_lease_seconds  # 30 s: renewed every 10 s
    runs: list[tuple[str, float]] = []
    holder, other = (DutyScheduler(counted, name) for name in ("h1", "h2"))
    for scheduler in (holder, other):
        scheduler.register(Duty("events", 1.0, lambda _b, n, h=scheduler.holder: runs.append((h, n))))
    start = 1000.0
    for second in range(60):  # a minute of passes every second, both hosts ticking
        holder.tick(start + second)
        other.tick(start + second)
    assert [h for h, _ in runs] == ["h1"] * 60  # every pass ran, on the holder only
    assert leases.writes <= 2 * (60 / (lease / 3) + 1)  # 60 passes: about 6 renewals and 6 refused asks
    record = next(d for d in backend.duties.all() if d["name"] == "events")
    assert record["holder"] == "h1" and 40 <= record["runs"] <= 60  # passes recorded with the renewals
    died = start + 59  # h1 dies after its last pass; h2 keeps ticking every second
    taken = next(t for t in range(1, 120) if other.tick(died + t) == ["events"])
    assert lease * (1 - 1 / 3) <= taken <= lease * (1 + 1 / 3) + 1
    assert runs[-1] == ("h2", died + taken)


def test_the_autoscaler_wants_workers_for_the_backlog_within_slots_and_capacity() -> None:
    assert autoscaler.wanted(backlog=8, running=0, live=0, slots=3, capacity=10) == 3
    assert autoscaler.wanted(backlog=8, running=2, live=2, slots=3, capacity=10) == 1
    assert autoscaler.wanted(backlog=8, running=0, live=0, slots=3, capacity=0) == 1  # scale from zero
    assert autoscaler.wanted(backlog=8, running=1, live=1, slots=3, capacity=0) == 0
    assert autoscaler.wanted(backlog=0, running=1, live=1, slots=3, capacity=5) == 0
    assert autoscaler.wanted(backlog=5, running=0, live=0, slots=1, capacity=5) == 1  # stateful


def test_the_fence_kills_a_container_whose_lease_was_not_renewed() -> None:
    killed: list[str] = []
    fence = Fence(killed.append)
    fence.watch("e1", "c1", deadline=100.0)
    fence.watch("e2", "c2", deadline=200.0)
    fence.renewed("e1", 150.0)
    assert fence.check(now=149.0) == [] and killed == []
    assert fence.check(now=160.0) == ["e1"] and killed == ["c1"]
    fence.renewed("e1", 500.0)  # too late: a fenced attempt stays fenced
    assert fence.fenced("e1") and fence.unwatch("e1") and not fence.unwatch("e2")
    assert Fence.deadline(0.0, 10.0) == 8.0 and Fence.deadline(0.0, 4.0) == 3.0


def test_the_log_collector_discards_past_its_cap_without_blocking() -> None:
    chunks = (b"x" * 65536 for _ in range(2000))  # 128 MiB through a 1 MB cap
    collector = LogCollector(iter(chunks), 1_000_000)
    text = collector.finish(timeout=30)
    assert len(text) == 1_000_001 and collector.discarded > 100_000_000


def test_metrics_render_in_the_prometheus_text_format() -> None:
    registry = standard_registry()
    registry.inc("abaco_executions_total", outcome="ran")
    registry.inc("abaco_executions_total", outcome="ran")
    registry.observe("abaco_phase_seconds", 0.25, phase="queued_to_claimed")
    registry.gauge_fn("abaco_workers", lambda: 3)
    text = registry.render()
    assert "# TYPE abaco_executions_total counter" in text
    assert 'abaco_executions_total{outcome="ran"} 2' in text
    assert 'abaco_phase_seconds_count{phase="queued_to_claimed"} 1' in text
    assert "abaco_workers 3" in text
