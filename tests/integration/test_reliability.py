"""The execution protocol, recovery and scaling against one stack with two runner hosts.

Runner 0 serves the default pool; runner 1 serves default and special and is flagged for privileged
actors. Short timings (visibility 6 s, heartbeat 2 s, long poll 1 s, worker TTL 6 s) keep it quick.
Container counts come from Docker's events, execution states from the store.
"""
from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import requests

from chalicelib.domain.models import Execution
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.services import messages
from local import emulator
from local.launcher import Stack
from tests.conftest import Api, start_stack, wait_for
from tests.faults import DockerEvents, backend_for, labelled_containers, rss_kib

pytestmark = pytest.mark.docker
TENANT = "DEV-DEVELOP"
RELIABILITY_ENV = {
    "ABACO_POOLS": "default,special",
    "ABACO_VISIBILITY_TIMEOUT": "6",
    "ABACO_HEARTBEAT_SECONDS": "2",
    "ABACO_RECEIVE_WAIT_SECONDS": "1",
    "ABACO_WORKER_TTL": "6",
    "ABACO_AUTOSCALE_SECONDS": "1",
    "ABACO_RECONCILE_SECONDS": "2",
    "ABACO_RESEND_AFTER_SECONDS": "3",
    "ABACO_START_RETRY_SECONDS": "1",
    "ABACO_HOST_HEARTBEAT_SECONDS": "2",
    "ABACO_WORKER_SLOTS": "4",
}


@pytest.fixture(scope="module")
def rstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("reliability"), env=RELIABILITY_ENV, runners=0)
    try:
        stack.add_runner("runner0", {"ABACO_RUNNER_POOL": "default",
                                     "ABACO_RUNNER_METRICS_PORT": str(emulator.free_port())})
        stack.add_runner("runner1", {"ABACO_RUNNER_POOL": "default,special", "ABACO_RUNNER_PRIVILEGED": "true",
                                     "ABACO_RUNNER_METRICS_PORT": str(emulator.free_port())})
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def rapi(rstack: Stack) -> Api:
    api = Api(rstack.api_url)
    wait_for(lambda: len(api.ok("GET", "/actors/admin/hosts")["hosts"]) == 2, 30, what="two runner hosts")
    return api


@pytest.fixture(scope="module")
def images() -> None:
    """Test images built offline FROM the sample images."""
    client = docker.from_env()
    try:
        for tag, base, cmd in (
            ("abaco-test/nostart", "abacosamples/noop", '["/no/such/binary"]'),
            ("abaco-test/memhog", "abacosamples/py3_base",
             '["python3", "-c", "x = bytearray(256 * 1024 * 1024); print(len(x))"]'),
            ("abaco-test/flood", "abacosamples/noop",
             # Long lines: Docker's json-file driver costs per line (256 MB of 50-byte lines: 66 s here).
             '["sh", "-c", "head -c ${BYTES:-1073741824} /dev/zero | tr \\"\\\\0\\" a"]'),
            ("abaco-test/sleep", "abacosamples/noop", '["sh", "-c", "sleep ${SLEEP:-30}; echo slept"]'),
        ):
            dockerfile = f"FROM {base}\nCMD {cmd}\n".encode()
            client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    finally:
        client.close()


def _send(api: Api, actor_id: str, text: str = "m", query: str = "") -> str:
    return api.ok("POST", f"/actors/{actor_id}/messages{query}", data={"message": text})["execution_id"]


def _metric(stack: Stack, name: str) -> float:
    total = 0.0
    for runner in ("runner0", "runner1"):
        port = _metrics_port(stack, runner)
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        total += sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))
    return total


def _metrics_port(stack: Stack, runner: str) -> int:
    hosts = Api(stack.api_url).ok("GET", "/actors/admin/hosts")["hosts"]
    pid = stack.procs[runner].pid
    return next(h["metrics_port"] for h in hosts if h["pid"] == pid)


# --- the protocol -------------------------------------------------------------------------------------

def test_duplicate_and_late_deliveries_start_one_container(rstack: Stack, rapi: Api) -> None:
    backend = backend_for(rstack)
    actor = rapi.create_actor(image="abacosamples/test")
    before = _metric(rstack, "abaco_duplicates_suppressed_total")
    with DockerEvents() as events:
        eid = _send(rapi, actor["id"], "once")
        stored = backend.executions.get(f"{TENANT}_{actor['id']}", eid).inbox_message
        assert stored is not None
        message = InboxMessage.decode(stored)
        for _ in range(3):  # what SQS may do: the same message delivered as separate copies
            backend.queues.send_inbox(message)
        assert rapi.wait_execution(actor["id"], eid)["status"] == "COMPLETE"
        backend.queues.send_inbox(message)  # a late redelivery after the result was recorded
        inbox = backend.queues.inbox_url(TENANT, actor["id"])
        wait_for(lambda: backend.queues.depth(inbox) == (0, 0), 30, what="the copies to be deleted")
        time.sleep(0.5)  # let the last docker events arrive (the inbox is empty, nothing more can start)
        assert events.starts[eid] == 1
    execution = rapi.ok("GET", f"/actors/{actor['id']}/executions/{eid}")
    assert execution["attempt"] == 1 and [a["reason"] for a in execution["attempts"]] == ["exited"]
    assert _metric(rstack, "abaco_duplicates_suppressed_total") - before >= 4


def _recorded_only(rstack: Stack, rapi: Api, text: str) -> tuple[dict[str, Any], Execution, InboxMessage]:
    """A new no-op actor and an execution of ``text`` recorded the way the API's first step does, with
    nothing sent to the inbox yet (the test decides what reaches the queue)."""
    backend = backend_for(rstack)
    actor = rapi.create_actor(image="abacosamples/noop")
    stored = backend.actors.get(TENANT, actor["id"])
    execution, message = messages.record(backend, stored, "anonymous", messages.ParsedMessage("str", text), {})
    return actor, execution, message


def test_poison_message_goes_to_the_dead_letter_queue_and_its_execution_to_error(rstack: Stack, rapi: Api) -> None:
    backend = backend_for(rstack)
    actor, execution, message = _recorded_only(rstack, rapi, "future")
    body = json.loads(message.encode())
    body["v"] = 99  # a message version this runner does not know
    inbox = backend.queues.inbox_url(TENANT, actor["id"])
    backend.queues._call("send_message", QueueUrl=inbox, MessageBody=json.dumps(body))
    backend.queues._call("send_message", QueueUrl=inbox, MessageBody="not json at all")
    backend.executions.mark_sent(execution)
    good = _send(rapi, actor["id"], "fine")
    assert rapi.wait_execution(actor["id"], good)["status"] == "COMPLETE"  # the others are unaffected
    failed = rapi.wait_execution(actor["id"], execution.id, timeout=30)
    assert failed["status"] == "ERROR" and "dead-letter" in failed["status_message"]
    dlq = backend.queues.dead_letter_url()
    seen: dict[str, str] = {}

    def both_in_dlq() -> bool:
        for m in backend.queues._call("receive_message", QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                      MessageAttributeNames=["All"]).get("Messages", []):
            seen[m["Body"]] = m["MessageAttributes"]["reason"]["StringValue"]
        return "not json at all" in seen and any(execution.id in b for b in seen)

    wait_for(both_in_dlq, 30, what="both poison messages in the dead-letter queue")
    assert "known version" in seen["not json at all"]


def test_actor_whose_containers_cannot_start_six_times_goes_to_error(rstack: Stack, rapi: Api, images: None) -> None:
    actor = rapi.create_actor(image="abaco-test/nostart")
    eid = _send(rapi, actor["id"])
    execution = rapi.wait_execution(actor["id"], eid, timeout=60)
    assert execution["status"] == "ERROR"
    reasons = [a["reason"] for a in execution["attempts"]]
    assert reasons == ["start_failed"] * 6, reasons
    state = wait_for(lambda: (a := rapi.ok("GET", f"/actors/{actor['id']}"))["status"] == "ERROR" and a, 20,
                     what="actor ERROR")
    assert "6 times in a row" in state["status_message"]


def test_reconciler_resends_what_the_api_recorded_but_never_enqueued(rstack: Stack, rapi: Api) -> None:
    # The API's first step only: the record exists, the process "died" before SendMessage.
    actor, execution, _ = _recorded_only(rstack, rapi, "orphaned")
    done = rapi.wait_execution(actor["id"], execution.id, timeout=40)
    assert done["status"] == "COMPLETE" and done["attempt"] == 1


def test_reconciler_recovers_a_running_execution_whose_lease_died_with_its_message(rstack: Stack,
                                                                                    rapi: Api) -> None:
    backend = backend_for(rstack)
    actor = rapi.create_actor(image="abacosamples/noop")
    stored = backend.actors.get(TENANT, actor["id"])
    execution, _ = messages.record(backend, stored, "anonymous",
                                   messages.ParsedMessage("str", "lost"), {})
    execution = backend.executions.mark_sent(execution)
    # A runner claimed it with a 1 s lease and vanished together with the message.
    backend.executions.claim(execution, "ghost:1:000000", "w", 1, 2, "gone-message")
    done = rapi.wait_execution(actor["id"], execution.id, timeout=60)
    assert done["status"] == "COMPLETE" and done["attempt"] == 2
    assert [a["reason"] for a in done["attempts"]] == ["runner_lost", "exited"]


# --- scaling -----------------------------------------------------------------------------------------

def test_backlog_adds_workers_up_to_max_workers_within_5_s(rstack: Stack, rapi: Api) -> None:
    actor = rapi.create_actor(image="abacosamples/test", max_workers=3)
    sent = time.monotonic()  # the backlog starts forming with the first message
    ids = [_send(rapi, actor["id"], f"m{i}") for i in range(8)]
    peak, slots_ok = 0, True

    def workers(statuses: tuple[str, ...]) -> int:
        nonlocal peak, slots_ok
        found = rapi.ok("GET", f"/actors/{actor['id']}/workers")
        peak = max(peak, len(found))
        for host in rapi.ok("GET", "/actors/admin/hosts")["hosts"]:
            slots_ok = slots_ok and host["used_slots"] <= host["slots"]
        return len([w for w in found if w["status"] in statuses])

    wait_for(lambda: workers(("REQUESTED", "SPAWNER SETUP", "PULLING IMAGE", "READY", "BUSY")) >= 3, 10,
             interval=0.2, what="three workers requested")
    reacted = time.monotonic() - sent
    wait_for(lambda: workers(("READY", "BUSY")) >= 3, 30, interval=0.2, what="three workers up")
    print(f"backlog of 8: 3 workers requested after {reacted:.1f} s, up after {time.monotonic() - sent:.1f} s")
    assert reacted <= 5.0
    for eid in ids:
        assert rapi.wait_execution(actor["id"], eid)["status"] == "COMPLETE"
        workers(())
    assert peak == 3 and slots_ok


def test_stateful_actor_gets_exactly_one_worker_under_concurrent_posts(rstack: Stack, rapi: Api) -> None:
    actor = rapi.create_actor(image="abacosamples/noop", stateless=False)
    wait_for(lambda: rapi.ok("GET", f"/actors/{actor['id']}/workers") == [], 30, what="the first worker to idle")
    ids: list[str] = []
    lock = threading.Lock()

    def post() -> None:
        eid = _send(Api(rstack.api_url), actor["id"])
        with lock:
            ids.append(eid)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert len(rapi.ok("GET", f"/actors/{actor['id']}/workers")) <= 1
    for eid in ids:
        assert rapi.wait_execution(actor["id"], eid)["status"] == "COMPLETE"


def test_idle_workers_exit_after_the_ttl_and_the_sync_hint_keeps_one(rstack: Stack, rapi: Api) -> None:
    plain = rapi.create_actor(image="abacosamples/noop")
    warm = rapi.create_actor(image="abacosamples/test", hints=["sync"], max_workers=2)
    ids = [_send(rapi, warm["id"]) for _ in range(4)] + [_send(rapi, plain["id"])]
    wait_for(lambda: len(rapi.ok("GET", f"/actors/{warm['id']}/workers")) == 2, 20, what="two sync workers")
    for eid in ids[:4]:
        rapi.wait_execution(warm["id"], eid)
    wait_for(lambda: rapi.ok("GET", f"/actors/{plain['id']}/workers") == [], 30, what="the idle worker to exit")
    wait_for(lambda: len(rapi.ok("GET", f"/actors/{warm['id']}/workers")) == 1, 30, what="one warm worker")
    time.sleep(8)  # longer than the TTL: the warm one stays (a deliberate wait, not a synchronisation)
    assert len(rapi.ok("GET", f"/actors/{warm['id']}/workers")) == 1


def test_rolling_update_drains_old_workers_without_dropping_or_double_running(rstack: Stack, rapi: Api) -> None:
    actor = rapi.create_actor(image="abacosamples/test", max_workers=2)
    with DockerEvents() as events:
        first = [_send(rapi, actor["id"], f"a{i}") for i in range(4)]
        wait_for(lambda: any(rapi.ok("GET", f"/actors/{actor['id']}/executions/{e}")["status"] == "RUNNING"
                             for e in first), 30, what="a running execution")
        updated = rapi.ok("PUT", f"/actors/{actor['id']}", json={"image": "abacosamples/test", "max_workers": 2,
                                                                  "force": True})
        assert updated["revision"] == 2
        second = [_send(rapi, actor["id"], f"b{i}") for i in range(4)]
        for eid in first + second:
            assert rapi.wait_execution(actor["id"], eid)["status"] == "COMPLETE"
        time.sleep(0.5)
        assert all(events.starts[e] == 1 for e in first + second), dict(events.starts)
    workers = rapi.ok("GET", f"/actors/{actor['id']}/workers")
    assert all(w["revision"] == 2 for w in workers)


# --- many hosts --------------------------------------------------------------------------------------

def test_pools_privileged_pool_and_host_records(rstack: Stack, rapi: Api) -> None:
    summary = rapi.ok("GET", "/actors/admin/hosts")
    by_pid = {h["pid"]: h for h in summary["hosts"]}
    special_host = by_pid[rstack.procs["runner1"].pid]
    assert sorted(special_host["pools"]) == ["default", "privileged", "special"] and special_host["privileged"]
    assert by_pid[rstack.procs["runner0"].pid]["pools"] == ["default"]
    assert {d["name"] for d in summary["duties"]} >= {"reconciler", "autoscaler"}
    special = rapi.create_actor(image="abacosamples/noop", queue="special")
    eid = _send(rapi, special["id"])
    assert rapi.wait_execution(special["id"], eid)["status"] == "COMPLETE"
    # Here the test checks where the privileged actor's worker was placed; its runs are covered by
    # tests/integration/security/test_privileged_gates.py. (This machine's Docker refuses privileged
    # containers whose process runs as root, "unable to apply caps"; as the default uid 10000 they run.)
    privileged = rapi.create_actor(image="abacosamples/noop", privileged=True)
    for actor in (special, privileged):
        workers = wait_for(lambda a=actor: [w for w in rapi.ok("GET", f"/actors/{a['id']}/workers")
                                            if w["host_id"]], 30, what="a placed worker")
        for worker in workers:
            assert worker["host_id"] == special_host["id"]
            assert worker["host_status"] == "RUNNING" and worker["host_last_heartbeat_time"]


def test_runner_metrics_endpoint(rstack: Stack, rapi: Api) -> None:
    actor = rapi.create_actor(image="abacosamples/noop")
    rapi.wait_execution(actor["id"], _send(rapi, actor["id"]))
    port = _metrics_port(rstack, "runner0")
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "# TYPE abaco_executions_total counter" in text
    assert "abaco_free_slots " in text and "abaco_workers " in text
    assert requests.get(f"http://127.0.0.1:{port}/nothing", timeout=5).status_code == 404


# --- limits ------------------------------------------------------------------------------------------

def test_max_run_time_per_actor_stops_the_container(rstack: Stack, rapi: Api, images: None) -> None:
    actor = rapi.create_actor(image="abaco-test/sleep", max_run_time=2)
    eid = _send(rapi, actor["id"], query="?SLEEP=60")
    started = time.monotonic()
    execution = rapi.wait_execution(actor["id"], eid, timeout=40)
    assert time.monotonic() - started < 20
    assert execution["status"] == "COMPLETE" and "max_run_time of 2 s" in execution["status_message"]
    assert execution["attempts"][-1]["reason"] == "timeout"
    assert execution["runtime"] <= 10
    # The container is removed just after the terminal write (runners/pipeline/execution.py), so poll for it.
    wait_for(lambda: not labelled_containers({eid}), 15, what="the stopped container to be removed")


def test_out_of_memory_is_recorded_as_such(rstack: Stack, rapi: Api, images: None) -> None:
    actor = rapi.create_actor(image="abaco-test/memhog", mem_limit="64m")
    eid = _send(rapi, actor["id"])
    execution = rapi.wait_execution(actor["id"], eid, timeout=60)
    assert execution["final_state"]["OOMKilled"] is True and execution["exit_code"] == 137
    assert "out of memory" in execution["status_message"]
    assert execution["attempts"][-1]["reason"] == "oom_killed"


FLOOD_BYTES = 1024 * 1024 * 1024  # the 1 GB: about 25 s here when the machine is quiet


@pytest.mark.timeout(600)
def test_a_container_flooding_its_output_keeps_the_runner_memory_flat(rstack: Stack, rapi: Api,
                                                                       images: None) -> None:
    """Past the log cap the runner keeps reading and drops what it reads: flat memory, no blocked writer."""
    pids = [rstack.procs[r].pid for r in ("runner0", "runner1")]
    baseline = {pid: rss_kib(pid)[0] for pid in pids}
    peak = dict(baseline)
    actor = rapi.create_actor(image="abaco-test/flood")
    eid = _send(rapi, actor["id"], query=f"?BYTES={FLOOD_BYTES}")
    started = time.monotonic()

    def finished() -> bool:
        for pid in pids:
            peak[pid] = max(peak[pid], rss_kib(pid)[0])
        status = rapi.ok("GET", f"/actors/{actor['id']}/executions/{eid}")["status"]
        return status in ("COMPLETE", "ERROR")

    wait_for(finished, 480, interval=0.2, what="the flood to finish")
    elapsed = time.monotonic() - started
    growth_mib = max(peak[p] - baseline[p] for p in pids) / 1024
    print(f"{FLOOD_BYTES >> 20} MiB flood: {elapsed:.1f} s, runner RSS growth {growth_mib:.1f} MiB")
    assert growth_mib < 100
    execution = rapi.ok("GET", f"/actors/{actor['id']}/executions/{eid}")
    assert execution["status"] == "COMPLETE" and execution["exit_code"] == 0
    logs = rapi.logs(actor["id"], eid)
    assert logs.endswith("LOG LIMIT EXCEEDED; this execution log was TRUNCATED!")
    assert len(logs) < 1_100_000
