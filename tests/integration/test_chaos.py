"""Fault injection (reliability plan §6 A): runners SIGKILLed, paused, stopped and cut off, the emulator
restarted. Each test has its own stack with short timings (visibility 6 s, heartbeat 1 s, long poll 1 s).
Counts come from the store and from Docker's events; only processes these tests started get signals.
The runner SIGKILL storm (T02, 1,000 messages; 200 in `make test`) is in test_chaos_storm.py.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local import emulator
from local.launcher import ROOT, Stack
from tests.conftest import Api, start_stack, wait_for
from tests.faults import (
    DockerEvents,
    FaultProxy,
    backend_for,
    labelled_containers,
    runner_containers,
    wait_exit,
)
from tests.integration.test_reliability import images  # noqa: F401 (fixture)

pytestmark = [pytest.mark.docker, pytest.mark.chaos]
TENANT = "DEV-DEVELOP"
FAST = {
    "ABACO_VISIBILITY_TIMEOUT": "6",
    "ABACO_HEARTBEAT_SECONDS": "1",
    "ABACO_RECEIVE_WAIT_SECONDS": "1",
    "ABACO_AUTOSCALE_SECONDS": "1",
    "ABACO_RECONCILE_SECONDS": "2",
    "ABACO_HOST_HEARTBEAT_SECONDS": "1",
    "ABACO_WORKER_TTL": "30",
    "ABACO_DUTY_LEASE_SECONDS": "6",  # a SIGKILLed runner's duties move to the other runner within 8 s
}
FENCE_QUIET_GRACE_SECONDS = 5.0  # generous: a thread past its fence check sends its poll within moments


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator:
    stacks: list[Stack] = []

    def make(env: dict[str, str], runners: int) -> Stack:
        stack = start_stack(tmp_path / f"s{len(stacks)}", env={**FAST, **env}, runners=runners)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


def _send(api: Api, actor_id: str, query: str = "") -> str:
    return api.ok("POST", f"/actors/{actor_id}/messages{query}", data={"message": "m"})["execution_id"]


def _runner_of(stack: Stack, runner_id: str) -> str:
    pid = int(runner_id.split(":")[1])
    return next(name for name, proc in stack.procs.items() if name.startswith("runner") and proc.pid == pid)


def test_sigterm_hands_prefetched_messages_back_within_2_s(make_stack, images: None) -> None:  # noqa: F811
    # A 20 s long poll (production's) and a 30 s visibility: a message not handed back would stay
    # invisible for 30 s, and an idle poll the runner waited for would delay its exit by up to 20 s.
    stack = make_stack({"ABACO_PREFETCH": "3", "ABACO_WORKER_SLOTS": "2", "ABACO_VISIBILITY_TIMEOUT": "30",
                        "ABACO_HEARTBEAT_SECONDS": "5", "ABACO_SHUTDOWN_GRACE_SECONDS": "60",
                        "ABACO_RECEIVE_WAIT_SECONDS": "20"}, runners=0)
    api, backend = Api(stack.api_url), backend_for(stack)
    actor = api.create_actor(image="abaco-test/sleep")
    idle = api.create_actor(image="abacosamples/noop")  # its worker sits in a 20 s long poll
    ids = [_send(api, actor["id"], "?SLEEP=3") for _ in range(3)]
    inbox = backend.queues.inbox_url(TENANT, actor["id"])
    runner = stack.add_runner("runner0")  # starts with three messages waiting: it takes all three at once
    running = wait_for(lambda: [e for e in ids if api.ok("GET", f"/actors/{actor['id']}/executions/{e}")["status"]
                                == "RUNNING"], 60, interval=0.1, what="one running execution")
    wait_for(lambda: api.ok("GET", f"/actors/{idle['id']}/workers"), 30, what="the idle actor's worker")
    assert backend.queues.depth(inbox) == (0, 3)  # one running, two prefetched (invisible for 30 s)
    runner.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    wait_for(lambda: backend.queues.depth(inbox)[0] == 2, 5, interval=0.05, what="the prefetched messages back")
    assert time.monotonic() - signalled <= 2.0
    done = api.wait_execution(actor["id"], running[0], timeout=60)
    assert done["status"] == "COMPLETE"  # the running execution finished within the grace period
    finished = time.monotonic()
    assert wait_exit(runner, 60) == 0
    assert time.monotonic() - finished < 8  # the idle 20 s long poll did not hold the exit back
    assert api.ok("GET", f"/actors/{idle['id']}/workers") == []  # the idle worker's record went with it
    stack.add_runner("runner1")
    for eid in ids:
        done = api.wait_execution(actor["id"], eid, timeout=60)
        assert done["status"] == "COMPLETE" and done["attempt"] == 1  # a prefetched message was never claimed


def test_paused_runner_cannot_overwrite_a_newer_attempt(make_stack, images: None) -> None:  # noqa: F811
    stack = make_stack({"ABACO_WORKER_SLOTS": "1"}, runners=2)
    api, backend = Api(stack.api_url), backend_for(stack)
    actor = api.create_actor(image="abaco-test/sleep")
    with DockerEvents() as events:
        eid = _send(api, actor["id"], "?SLEEP=10")
        first = wait_for(lambda: (e := backend.executions.get(f"{TENANT}_{actor['id']}", eid)).status.value
                         == "RUNNING" and e.start_time and e, 30, what="attempt 1 running")
        paused = stack.procs[_runner_of(stack, first.runner_id or "")]
        paused.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: backend.executions.get(f"{TENANT}_{actor['id']}", eid).attempt == 2, 30,
                     what="the other runner to claim attempt 2")
        finally:
            paused.send_signal(signal.SIGCONT)
        resumed = time.monotonic()
        wait_for(lambda: not [c for c in labelled_containers({eid}) if c["Labels"].get("org.abaco.attempt") == "1"
                              and c["State"] == "running"], 10, what="attempt 1's container to be killed")
        assert time.monotonic() - resumed <= 5.0
        done = api.wait_execution(actor["id"], eid, timeout=60)
        time.sleep(0.5)
        assert events.starts[eid] == 2
    assert done["status"] == "COMPLETE" and done["attempt"] == 2 and done["exit_code"] == 0
    assert [a["reason"] for a in done["attempts"]] == ["runner_lost", "exited"]
    assert done["attempts"][0]["runner_id"] == first.runner_id
    assert backend.executions.get(f"{TENANT}_{actor['id']}", eid).runner_id != first.runner_id


def _host_id(backend, proc: subprocess.Popen[bytes]) -> str:
    return wait_for(lambda: next((h.id for h in backend.hosts.all() if h.pid == proc.pid), None), 30,
                    what=f"the host record of pid {proc.pid}")


def test_runner_cut_off_from_the_store_fences_the_whole_host(make_stack, images: None) -> None:  # noqa: F811
    """Runner 1 reaches the store through a fault proxy and serves the pools special and solo; runner 2
    (special) joins once runner 1 runs two executions; then the proxy blackholes runner 1."""
    stack = make_stack({"ABACO_POOLS": "default,special,solo"}, runners=1)
    proxy = FaultProxy(stack.emulator_port)
    try:
        cut = stack.add_runner("runner1", {"ABACO_RUNNER_POOL": "special,solo", "AWS_ENDPOINT_URL": proxy.url})
        api, backend = Api(stack.api_url), backend_for(stack)
        fenced = _host_id(backend, cut)
        actor = api.create_actor(image="abaco-test/sleep", queue="special", max_workers=2)
        dbid = f"{TENANT}_{actor['id']}"
        with DockerEvents() as events:
            ids = [_send(api, actor["id"], "?SLEEP=10") for _ in range(2)]
            wait_for(lambda: all(backend.executions.get(dbid, e).start_time for e in ids), 60,
                     what="both executions running on runner 1")
            other = _host_id(backend, stack.add_runner("runner2", {"ABACO_RUNNER_POOL": "special"}))
            proxy.blackholed.set()
            cut_at = time.monotonic()
            wait_for(lambda: not runner_containers(fenced, running_only=True), 15, interval=0.1,
                     what="every container of the cut-off host killed")
            assert time.monotonic() - cut_at <= 6 + 1  # within the lease (visibility 6 s) plus a check
            starts_at_cut = events.by_runner[fenced]
            wait_for(lambda: all(backend.executions.get(dbid, e).runner_id == other for e in ids), 60,
                     what="runner 2 to take both executions over")
            assert events.by_runner[fenced] == starts_at_cut  # the fenced host started nothing
            proxy.blackholed.clear()  # runner 1 is back while attempt 2 runs
            _assert_re_registered(backend, fenced, time.time())
            done = [api.wait_execution(actor["id"], e, timeout=60) for e in ids]
            solo = api.create_actor(image="abacosamples/noop", queue="solo")  # only runner 1 serves solo
            probe = api.wait_execution(solo["id"], _send(api, solo["id"]), timeout=60)
            assert probe["status"] == "COMPLETE"  # it resumed: took a worker command and ran a container
            wait_for(lambda: not runner_containers(fenced), 30, what="no container of runner 1 left")
            time.sleep(0.5)  # the last docker events arrive (nothing more can start: all is finished)
            starts = dict(events.starts)
        for eid, execution in zip(ids, done, strict=True):
            assert execution["status"] == "COMPLETE" and execution["attempt"] == 2 and starts[eid] == 2
            assert [a["reason"] for a in execution["attempts"]] == ["runner_lost", "exited"]
            assert execution["attempts"][0]["runner_id"] == fenced
            # Runner 1 has been back and working for a while: none of its writes replaced attempt 2's.
            assert api.ok("GET", f"/actors/{actor['id']}/executions/{eid}") == execution
            assert backend.executions.get(dbid, eid).runner_id == other
        assert backend.executions.get(f"{TENANT}_{solo['id']}", probe["id"]).runner_id == fenced
    finally:
        proxy.close()


def test_runner_cut_off_from_the_store_only_takes_no_work(make_stack, images: None) -> None:  # noqa: F811
    """The proxy drops runner 1's DynamoDB calls only; SQS still answers it. Fenced, it must not take what
    it could still receive: its container is killed, messages posted meanwhile run on runner 2, and the
    wire shows no ReceiveMessage (inbox or command queue) and no DeleteMessage from runner 1 until the
    store answers it again; then it takes work again."""
    stack = make_stack({"ABACO_POOLS": "default,special,solo"}, runners=1)
    proxy = FaultProxy(stack.emulator_port)
    try:
        metrics_port = emulator.free_port()
        cut = stack.add_runner("runner1", {"ABACO_RUNNER_POOL": "special,solo", "AWS_ENDPOINT_URL": proxy.url,
                                           "ABACO_RUNNER_METRICS_PORT": str(metrics_port)})
        api, backend = Api(stack.api_url), backend_for(stack)
        fenced = _host_id(backend, cut)
        actor = api.create_actor(image="abaco-test/sleep", queue="special", max_workers=2)
        dbid = f"{TENANT}_{actor['id']}"
        with DockerEvents() as events:
            held = _send(api, actor["id"], "?SLEEP=20")  # runs on past the window checked below
            wait_for(lambda: backend.executions.get(dbid, held).start_time, 60, what="the execution running")
            other = _host_id(backend, stack.add_runner("runner2", {"ABACO_RUNNER_POOL": "special"}))
            proxy.cut("dynamodb")
            wait_for(lambda: _counter(metrics_port, "abaco_host_fenced_total") >= 1, 30, interval=0.1,
                     what="runner 1 to fence itself")
            fenced_at = time.monotonic()
            wait_for(lambda: not runner_containers(fenced, running_only=True), 10, interval=0.1,
                     what="runner 1's container killed")
            starts_at_fence = events.by_runner[fenced]
            posted = [_send(api, actor["id"], "?SLEEP=0") for _ in range(3)]
            done = [api.wait_execution(actor["id"], e, timeout=120) for e in [held, *posted]]
            assert events.by_runner[fenced] == starts_at_fence  # runner 1 started nothing while cut off
            restored_at = time.monotonic()
            proxy.restore("dynamodb")
            _assert_re_registered(backend, fenced, time.time())
            solo = api.create_actor(image="abacosamples/noop", queue="solo")  # only runner 1 serves solo
            probe = api.wait_execution(solo["id"], _send(api, solo["id"]), timeout=60)
        # A poll a thread had begun as the fence went up may still reach the wire just after it.
        quiet = fenced_at + FENCE_QUIET_GRACE_SECONDS
        assert restored_at - quiet > 10  # the messages above were posted and run inside this window
        assert proxy.forwarded("ReceiveMessage", quiet, restored_at) == []
        assert proxy.forwarded("DeleteMessage", fenced_at, restored_at) == []
        assert probe["status"] == "COMPLETE"  # it resumed: took a worker command and ran a container
        assert backend.executions.get(f"{TENANT}_{solo['id']}", probe["id"]).runner_id == fenced
        first = done[0]
        assert first["status"] == "COMPLETE" and first["attempt"] == 2
        assert [(a["reason"], a["runner_id"]) for a in first["attempts"]] == [("runner_lost", fenced),
                                                                                ("exited", other)]
        for execution in done[1:]:
            assert execution["status"] == "COMPLETE" and execution["attempt"] == 1
            assert backend.executions.get(dbid, execution["id"]).runner_id == other
        # Runner 1 has been back and working: none of its writes replaced what runner 2 recorded.
        assert [api.ok("GET", f"/actors/{actor['id']}/executions/{e['id']}") for e in done] == done
    finally:
        proxy.close()


def _counter(port: int, name: str) -> float:
    """A counter from a runner's /metrics (0 until it appears, or while the endpoint is not up yet)."""
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return 0.0
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def _assert_re_registered(backend, host_id: str, since: float) -> None:
    """The fenced host's record: RUNNING again with a heartbeat written after the store came back."""
    wait_for(lambda: (h := backend.hosts.get(host_id)) is not None and h.status.value == "RUNNING"
             and h.heartbeat_at > since, 30, what="the fenced host to re-register")


def test_emulator_restart_gives_503_then_the_system_recovers(make_stack) -> None:
    stack = make_stack({}, runners=1)
    api = Api(stack.api_url)
    actor = api.create_actor(image="abacosamples/noop")
    assert api.wait_execution(actor["id"], _send(api, actor["id"]))["status"] == "COMPLETE"
    moto = stack.procs.pop("emulator")
    moto.kill()
    moto.wait(10)
    for method, path in (("GET", "/actors"), ("POST", f"/actors/{actor['id']}/messages")):
        response = requests.request(method, stack.api_url + path, data={"message": "x"}, timeout=60)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "error" and "Traceback" not in response.text
    stack.procs["emulator"] = emulator.start(stack.emulator_port, str(stack.log_dir / "emulator2.log"))
    subprocess.run([sys.executable, "-m", "local.bootstrap"], cwd=ROOT, env=stack.env, check=True)
    # moto keeps everything in memory: the restart lost every table and queue (AWS would not).
    assert api.ok("GET", "/actors") == []
    fresh = api.create_actor(image="abacosamples/noop")
    ids = [_send(api, fresh["id"]) for _ in range(10)]
    for eid in ids:
        assert api.wait_execution(fresh["id"], eid, timeout=60)["status"] == "COMPLETE"
    assert stack.procs["runner0"].poll() is None  # the runner rode it out
