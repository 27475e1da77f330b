"""A message wakes its actor ahead of a pile of registrations (scaling).

Every registration puts a start request on its pool's command queue; a full runner host declines those
whose actor has nothing to run, one by one. A message to a worker-less actor must not wait behind that
pile: its start request goes to the pool's wake queue, which a host serves first.

The pile is built before the runner starts (the stack has none), so the order is not a race: the runner
takes the first two requests (its two slots), becomes full, and can make room only once its workers have
been idle for a few seconds (``runners.host.daemon.RETIRE_MIN_IDLE_SECONDS``); by then the message is posted. What
is asserted is the state of the queues when the execution is over, and Docker's own container starts.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.wiring.backend import Backend
from local.launcher import Stack
from tests.conftest import Api, start_stack, wait_for
from tests.faults import DockerEvents, backend_for

pytestmark = pytest.mark.docker
TENANT = "DEV-DEVELOP"
SLOTS = 2
REGISTRATIONS = 240
CLIENTS = 4  # concurrent registering clients
WAKE_DEADLINE_SECONDS = 120.0  # generous: the assertion is on the queue's state, not on the time


@pytest.fixture(scope="module")
def wstack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ABACO_WORKER_SLOTS": str(SLOTS), "ABACO_HOST_HEARTBEAT_SECONDS": "2"}
    private = start_stack(tmp_path_factory.mktemp("wake"), env=env, runners=0,
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    try:
        yield private
    finally:
        private.stop()


def _register(api_url: str, count: int) -> list[str]:
    """``count`` actors over HTTP, in registration order."""
    def one(_index: int) -> tuple[float, str]:
        actor_id = Api(api_url).create_actor(image="abacosamples/noop")["id"]
        return time.monotonic(), actor_id

    with ThreadPoolExecutor(CLIENTS) as pool:
        done = list(pool.map(one, range(count)))
    return [actor_id for _, actor_id in sorted(done)]


def _queued(backend: Backend) -> int:
    """Start requests still on the registration queue (waiting or being read)."""
    visible, in_flight = backend.queues.depth(backend.queues.command_url("default"))
    return visible + in_flight


def _execution_status(backend: Backend, actor_id: str, execution_id: str) -> str:
    return backend.executions.get(f"{TENANT}_{actor_id}", execution_id).status.value


def test_a_message_starts_its_worker_ahead_of_queued_registrations(wstack: Stack) -> None:
    api, backend = Api(wstack.api_url), backend_for(wstack)
    began = time.monotonic()
    actors = _register(wstack.api_url, REGISTRATIONS)
    registered = time.monotonic() - began
    assert _queued(backend) == REGISTRATIONS  # no runner yet: every registration's request waits
    wstack.add_runner("runner0")
    taken = wait_for(lambda: [w for w in backend.workers.all() if w.status.value == "READY"]
                     if len([w for w in backend.workers.all() if w.status.value == "READY"]) >= SLOTS else None,
                     60, what="the runner's two slots held by idle workers")
    holders = {w.actor_id for w in taken}
    woken = next(a for a in reversed(actors) if a not in holders)  # the last registered without a worker
    with DockerEvents() as events:
        posted = time.monotonic()
        execution_id = api.ok("POST", f"/actors/{woken}/messages", data={"message": "m"})["execution_id"]
        wait_for(lambda: _execution_status(backend, woken, execution_id) in ("COMPLETE", "ERROR"),
                 WAKE_DEADLINE_SECONDS, interval=0.05, what="the woken actor's execution to finish")
        queued, took = _queued(backend), time.monotonic() - posted
        assert _execution_status(backend, woken, execution_id) == "COMPLETE"
        wait_for(lambda: events.starts[execution_id] >= 1, 10, what="Docker's start event")
    print(f"{REGISTRATIONS} registrations in {registered:.1f} s; the message's execution complete "
          f"{took:.1f} s after the POST, {queued} registration requests still queued")
    # Its own registration's request is among those still queued: the message did not wait for it.
    assert queued >= REGISTRATIONS // 2, f"only {queued} requests left: the message waited for the pile"
    assert events.starts[execution_id] == 1
    assert [w.status.value for w in backend.workers.list(f"{TENANT}_{woken}")] in (["READY"], ["BUSY"])
    # The operator sees how long the wake request waited before the host took it (runners/host/wake_waits.py),
    # reported with the host's heartbeat: at most the time from the POST to the execution's end.
    def wake_wait() -> float | None:
        pools = api.ok("GET", "/actors/admin/overview")["pools"]
        return next(p["wake"]["wait_s"] for p in pools if p["pool"] == "default")

    waited = wait_for(lambda: wake_wait() is not None, 30, what="the host's report of the wake wait") and wake_wait()
    assert waited is not None and 0.0 <= waited <= took
