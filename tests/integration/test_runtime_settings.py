"""Runtime behaviour that needs its own settings: log truncation and expiry (global and per tenant), the
synchronous timeout, cron firing, events to a linked actor and a webhook, the ``sync`` hint and runner
pools. One private stack (API and two runners, one per pool) on the session's emulator."""
from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.storage.logs import TRUNCATION_MARKER
from chalicelib.domain import cron
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local.launcher import Stack
from tests.conftest import Api, start_stack, wait_for
from tests.integration.probe import probe_image, report  # noqa: F401  (fixture)

MAX_LOG = 6000
TENANT = "DEV-DEVELOP"  # the default tenant of access_control=none
ENV = {
    "ABACO_MAX_LOG_LENGTH": str(MAX_LOG),
    "ABACO_TENANT_LOG_EX": json.dumps({"SHORT": 3}),
    "ABACO_TENANT_LOG_EX_LIMIT": json.dumps({"CAPPED": 3}),
    "ABACO_SYNC_TIMEOUT": "3",
    "ABACO_CRON_SECONDS": "1",
    "ABACO_ALLOW_PRIVATE_WEBHOOKS": "true",  # the test's webhook listens on 127.0.0.1
    "ABACO_WORKER_TTL": "2",
    "ABACO_POOLS": "default,special",
    # A longer lease than the session's 10 s: on a loaded 2-core machine a starved heartbeat must not get
    # these executions fenced (nothing here tests the lease).
    "ABACO_VISIBILITY_TIMEOUT": "30",
    "ABACO_HEARTBEAT_SECONDS": "5",
}


@pytest.fixture(scope="module")
def rt_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    private = start_stack(tmp_path_factory.mktemp("runtime"), env=ENV, runners=1,
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    private.add_runner("runner-special", {"ABACO_RUNNER_POOL": "special"})
    yield private
    private.stop()


@pytest.fixture(scope="module")
def rt(rt_stack: Stack) -> Api:
    return Api(rt_stack.api_url)


@pytest.fixture(scope="module")
def backend(rt_stack: Stack) -> Backend:
    """Direct access to the stack's tables, to move a cron slot into the past."""
    settings = Settings(AWS_ENDPOINT_URL=rt_stack.env["AWS_ENDPOINT_URL"],
                        resource_prefix=rt_stack.env["ABACO_RESOURCE_PREFIX"])
    return Backend.from_settings(settings)


def _run(api: Api, actor_id: str, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    sent = api.ok("POST", f"/actors/{actor_id}/messages", json=body or {"message": "m"}, headers=headers)
    execution = _wait(api, actor_id, sent["execution_id"], headers)
    assert execution["status"] == "COMPLETE", execution
    return execution


def _wait(api: Api, actor_id: str, execution_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        result = api.ok("GET", f"/actors/{actor_id}/executions/{execution_id}", headers=headers)
        return result if result["status"] in ("COMPLETE", "ERROR") else None

    return wait_for(done, 90, what=f"execution {execution_id}")


def _logs(api: Api, actor_id: str, execution_id: str, headers: dict[str, str] | None = None) -> str:
    return api.ok("GET", f"/actors/{actor_id}/executions/{execution_id}/logs", headers=headers)["logs"]


# --- logs --------------------------------------------------------------------------------------

def test_logs_are_truncated_at_the_maximum_with_abacos_marker(rt: Api, probe_image: str) -> None:  # noqa: F811
    actor = rt.create_actor(image=probe_image, default_environment={"PAD": "p" * 2 * MAX_LOG})
    execution = _run(rt, actor["id"])
    logs = _logs(rt, actor["id"], execution["id"])
    assert logs.endswith("\n" + TRUNCATION_MARKER)
    assert len(logs) == MAX_LOG + 1 + len(TRUNCATION_MARKER)
    assert logs.startswith("PROBE {")


def test_logs_expire_by_tenant_default_and_tenant_ceiling(rt: Api) -> None:
    short, capped, default = {"tenant": "SHORT"}, {"tenant": "CAPPED"}, {}
    runs = []
    for headers, fields in ((short, {}), (capped, {"log_ex": 100_000}), (default, {})):
        actor = rt.ok("POST", "/actors", json={"image": "abacosamples/test", **fields}, headers=headers)
        execution = _run(rt, actor["id"], headers, message="x")
        runs.append((actor["id"], execution["id"], headers))
        assert "Contents of MSG: x" in _logs(rt, actor["id"], execution["id"], headers)
    for actor_id, execution_id, headers in runs[:2]:  # 3 s: the tenant default, and the tenant ceiling
        wait_for(lambda a=actor_id, e=execution_id, h=headers: _logs(rt, a, e, h) == "", 30,
                 what="the logs to expire")
    actor_id, execution_id, headers = runs[2]
    assert "Contents of MSG: x" in _logs(rt, actor_id, execution_id, headers)  # global default: 12 h


# --- synchronous timeout -----------------------------------------------------------------------

def test_synchronous_message_times_out_with_the_execution_id(rt: Api, probe_image: str) -> None:  # noqa: F811
    actor = rt.create_actor(image=probe_image)
    response = rt.call("POST", f"/actors/{actor['id']}/messages?_abaco_synchronous=true&PROBE_SLEEP=6",
                       data={"message": "slow"})
    assert response.status_code == 504, response.text
    body = response.json()
    assert body["status"] == "error" and "did not finish within 3 seconds" in body["message"]
    execution_id = body["message"].split()[1]
    assert _wait(rt, actor["id"], execution_id)["status"] == "COMPLETE"  # it goes on


# --- cron --------------------------------------------------------------------------------------

def _cron_executions(api: Api, actor_id: str) -> list[dict[str, Any]]:
    ids = [e["id"] for e in api.ok("GET", f"/actors/{actor_id}/executions")["executions"]]
    executions = [api.ok("GET", f"/actors/{actor_id}/executions/{i}") for i in ids]
    return [e for e in executions if e["executor"] == "cron"]


def test_cron_fires_its_slot_once_then_catches_up_once(rt: Api, backend: Backend) -> None:
    actor = rt.create_actor(image="abacosamples/test", cron_schedule="now + 1 hour")
    assert actor["cron_on"] is True
    first = wait_for(lambda: _cron_executions(rt, actor["id"]), 30, what="the cron execution")
    assert len(first) == 1
    execution = _wait(rt, actor["id"], first[0]["id"])
    assert "Contents of MSG: This is your cron execution" in _logs(rt, actor["id"], execution["id"])
    next_hour = cron.now_hour() + dt.timedelta(hours=1)
    assert rt.ok("GET", f"/actors/{actor['id']}")["cron_next_ex"] == cron.format_slot(next_hour)
    # The duty was down for five hours: the schedule runs once, then jumps to the next hour.
    missed = cron.format_slot(cron.now_hour() - dt.timedelta(hours=5))
    stored = backend.actors.get(TENANT, actor["id"])
    assert backend.actors.advance_cron(stored.tenant, stored.id, stored.cron_next_ex or "", missed)
    wait_for(lambda: len(_cron_executions(rt, actor["id"])) == 2, 30, what="the catch-up execution")
    wait_for(lambda: rt.ok("GET", f"/actors/{actor['id']}")["cron_next_ex"] == cron.format_slot(next_hour), 10,
             what="the next slot after the catch-up")
    assert len(_cron_executions(rt, actor["id"])) == 2


def test_cron_off_still_advances_without_firing(rt: Api, backend: Backend) -> None:
    start = cron.format_slot(cron.now_hour() + dt.timedelta(hours=1))  # not due yet: nothing races the PUT
    body = {"image": "abacosamples/noop", "cron_schedule": f"{start} + 2 hours"}
    actor = rt.create_actor(**body)
    assert rt.ok("PUT", f"/actors/{actor['id']}", json={**body, "cron_on": False})["cron_on"] is False
    current = backend.actors.get(TENANT, actor["id"])
    missed = cron.format_slot(cron.now_hour() - dt.timedelta(hours=3))
    assert backend.actors.advance_cron(current.tenant, current.id, current.cron_next_ex or "", missed)
    wait_for(lambda: rt.ok("GET", f"/actors/{actor['id']}")["cron_next_ex"] != missed, 30, what="the slot to move")
    following = cron.parse_slot(rt.ok("GET", f"/actors/{actor['id']}")["cron_next_ex"])
    assert following > cron.now_hour()
    assert rt.ok("GET", f"/actors/{actor['id']}/executions")["total_executions"] == 0


# --- events ------------------------------------------------------------------------------------

class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook?from=abaco", _Hook.received
    server.shutdown()


def test_events_reach_the_linked_actor_and_the_webhook(rt: Api, webhook: tuple) -> None:
    """Abaco's events and no others: EXECUTION_STARTED is opt-in, so a link target written for Abaco gets
    no message it never got there."""
    url, posted = webhook
    target = rt.create_actor(image="abacosamples/test", default_environment={"_abaco_test_sleep": "0"})
    source = rt.create_actor(image="abacosamples/noop", link=target["id"], webhook=url)
    executed = _run(rt, source["id"])
    kinds = {"ACTOR_READY", "EXECUTION_COMPLETE"}
    wait_for(lambda: {e["event_type"] for e in posted} >= kinds, 30, what="two webhook posts")
    assert sorted(e["event_type"] for e in posted) == sorted(kinds)  # the started event came before COMPLETE
    complete = next(e for e in posted if e["event_type"] == "EXECUTION_COMPLETE")
    assert (complete["execution_id"], complete["status"], complete["exit_code"]) == (executed["id"], "COMPLETE", 0)
    assert complete["actor_id"] == source["id"] and complete["_abaco_link"] == target["id"]
    assert complete["_abaco_webhook"] == url and complete["event_time_utc"].endswith("Z")

    def delivered() -> list[dict[str, Any]]:
        ids = [e["id"] for e in rt.ok("GET", f"/actors/{target['id']}/executions")["executions"]]
        done = [_wait(rt, target["id"], i) for i in ids]
        return done if len(done) >= 2 else []

    executions = wait_for(delivered, 60, what="two event executions on the linked actor")
    assert len(executions) == 2 and {e["executor"] for e in executions} == {"Abaco Event"}
    logs = "\n".join(_logs(rt, target["id"], e["id"]) for e in executions)
    for kind in kinds:
        assert f"'event_type': '{kind}'" in logs  # the event as a Python repr in MSG, as Abaco
    assert "_abaco_username=Abaco Event" in logs and "_abaco_Content_Type=application/json" in logs


def test_execution_started_is_opt_in_and_actor_error_reaches_the_webhook(rt: Api, webhook: tuple) -> None:
    url, posted = webhook
    opted = rt.create_actor(image="abacosamples/noop", webhook=url, hints=["execution_started_events"])
    executed = _run(rt, opted["id"])

    def kinds_of(actor_id: str) -> list[str]:
        return [e["event_type"] for e in posted if e["actor_id"] == actor_id]

    wait_for(lambda: "EXECUTION_COMPLETE" in kinds_of(opted["id"]), 30, what="the opted-in actor's events")
    assert sorted(kinds_of(opted["id"])) == ["ACTOR_READY", "EXECUTION_COMPLETE", "EXECUTION_STARTED"]
    started = next(e for e in posted if e["event_type"] == "EXECUTION_STARTED")
    assert started["execution_id"] == executed["id"] and started["actor_id"] == opted["id"]
    broken = rt.create_actor(image="abaco-test/no-such-image-anywhere", webhook=url)
    wait_for(lambda: kinds_of(broken["id"]) == ["ACTOR_ERROR"], 60, what="ACTOR_ERROR")
    error = next(e for e in posted if e["actor_id"] == broken["id"])
    assert "not available on this runner host" in error["status_message"]
    assert error["_abaco_webhook"] == url and error["tenant_id"] == TENANT


# --- the sync hint and runner pools ------------------------------------------------------------

def _workers(api: Api, actor_id: str) -> list[dict[str, Any]]:
    return api.ok("GET", f"/actors/{actor_id}/workers")


def test_sync_hint_keeps_one_warm_worker(rt: Api) -> None:
    warm = rt.create_actor(image="abacosamples/noop", hints=["sync"])
    cold = rt.create_actor(image="abacosamples/noop")
    _run(rt, warm["id"])
    _run(rt, cold["id"])
    wait_for(lambda: not _workers(rt, cold["id"]), 30, what="the idle worker to retire (time to live 2 s)")
    # BUSY comes from the host's heartbeat (chalicelib/services/workers.py shown_status), so READY may show
    # one heartbeat after the execution ended; the worker itself must stay, one of it, throughout.
    wait_for(lambda: [w["status"] for w in _workers(rt, warm["id"])] == ["READY"], 30,
             what="the kept worker READY once its host's heartbeat saw it idle")
    _run(rt, warm["id"])  # and it serves the next message


def test_queue_selects_the_runner_pool(rt: Api, rt_stack: Stack, probe_image: str) -> None:  # noqa: F811
    special_pid = str(rt_stack.procs["runner-special"].pid)
    for queue, on_special in (("special", True), ("default", False)):
        actor = rt.create_actor(image=probe_image, queue=queue)
        sent = rt.ok("POST", f"/actors/{actor['id']}/messages?PROBE_SLEEP=2", data={"message": "m"})
        wait_for(lambda a=actor["id"], e=sent["execution_id"]:
                 rt.ok("GET", f"/actors/{a}/executions/{e}")["status"] == "RUNNING", 60, what="RUNNING")
        host = _workers(rt, actor["id"])[0]["host_id"]  # BUSY while the probe sleeps
        assert (host.split(":")[1] == special_pid) is on_special, (queue, host)
        assert _wait(rt, actor["id"], sent["execution_id"])["status"] == "COMPLETE"
