"""The AWS requests of executions, counted on the wire of a local stack, for ``python -m bench.cost``.

A private stack (its own emulator, the API and one runner) talks to the emulator through a recording
proxy (``bench/proxy.py``), as ``tests/integration/test_execution_cost.py`` does. After a warm-up, the
requests that name the measured actor (or query the configs table) in a window of ``executions``
messages are that many executions' cost: the API's (the POST and what it writes and sends) and the
runner's (receive, claim, terminal write, delete). A quiet window before the messages gives the idle
requests per minute of one runner host with one idle worker: what grows with hosts and with workers.
Each request is kept with its sizes, so the model can turn it into DynamoDB request units.
"""
from __future__ import annotations

import json
import secrets
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.proxy import RecordingProxy
from local import emulator
from local.launcher import Stack

NOOP_IMAGE = "abacosamples/noop"
IDLE_WINDOW_SECONDS = 30.0
TENANT = "DEV-DEVELOP"  # the tenant of access_control=none
STACK_ENV = {"ABACO_ACCESS_CONTROL": "none", "ABACO_RATE_LIMIT_RPS": "0", "ABACO_WARM_START": "false",
             "ABACO_RECEIVE_WAIT_SECONDS": "20", "ABACO_WORKER_HEALTH_CHECK_SECONDS": "3600"}


def _about(op: str, request: str, response: str, actor_id: str) -> bool:
    """Whether a recorded request belongs to the executions of ``actor_id``'s messages."""
    if op.endswith("ReceiveMessage"):
        return actor_id in request and '"Messages"' in response and '"Messages": []' not in response
    if op == "dynamodb.Query" and "-configs" in request:
        return True
    return actor_id in request and "-hosts" not in request


def _call(base: str, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, base + path, timeout=60, **kwargs)
    response.raise_for_status()
    return response.json()["result"]


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


class Watcher:
    """Reads the stack's tables straight from the emulator (not through the proxy): waiting for an
    execution must not add the client's polls to the requests counted."""

    def __init__(self, endpoint: str, prefix: str, tenant: str) -> None:
        self._ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                 aws_access_key_id="testing", aws_secret_access_key="testing")
        self._prefix, self._tenant = prefix, tenant

    def done(self, actor_id: str, execution_id: str) -> bool:
        item = self._ddb.get_item(TableName=f"{self._prefix}-executions", Key={
            "actor_dbid": {"S": f"{self._tenant}_{actor_id}"}, "execution_id": {"S": execution_id}}).get("Item", {})
        return item.get("status", {}).get("S") in ("COMPLETE", "ERROR")

    def ready(self, actor_id: str) -> bool:
        items = self._ddb.query(TableName=f"{self._prefix}-workers", KeyConditionExpression="actor_dbid = :a",
                                ExpressionAttributeValues={":a": {"S": f"{self._tenant}_{actor_id}"}})["Items"]
        return bool(items) and all(i.get("status", {}).get("S") == "READY" for i in items)


def record(row: tuple[str, str, str]) -> dict[str, Any]:
    """One request as the model reads it: operation, sizes, and the flags that change its price."""
    op, request, response = row
    payload: dict[str, Any] = {}
    if request.startswith("{"):
        try:
            payload = json.loads(request)
        except ValueError:
            payload = {}
    return {"op": op, "request_bytes": len(request.encode()), "response_bytes": len(response.encode()),
            "consistent": bool(payload.get("ConsistentRead")), "index": bool(payload.get("IndexName")),
            "items": len(payload.get("TransactItems", [])) or 1,
            "inbox": "-inbox-" in request, "executions": "-executions" in request}


def measure(executions: int = 20, idle_seconds: float = IDLE_WINDOW_SECONDS) -> dict[str, Any]:
    """Start a stack, measure, stop it; the result is what ``bench/results/cost.json`` holds."""
    tmp = Path(tempfile.mkdtemp(prefix="abaco-cost-"))
    base_stack = Stack(api_port=emulator.free_port(), emulator_port=emulator.free_port(), log_dir=tmp / "emu",
                       extra_env={**STACK_ENV, "ABACO_RESOURCE_PREFIX": f"abaco-c{secrets.token_hex(3)}"},
                       runners=0, own_emulator=True).start()
    proxy = RecordingProxy(int(urllib.parse.urlsplit(base_stack.env["AWS_ENDPOINT_URL"]).port or 0)).start()
    private = Stack(api_port=emulator.free_port(), emulator_port=emulator.free_port(), log_dir=tmp / "stack",
                    extra_env={**STACK_ENV, "ABACO_RESOURCE_PREFIX": f"abaco-c{secrets.token_hex(3)}",
                               "AWS_ENDPOINT_URL": proxy.url}, runners=0, own_emulator=False)
    try:
        private.start()
        private.add_runner("runner0", env={"AWS_ENDPOINT_URL": proxy.url})
        watcher = Watcher(base_stack.env["AWS_ENDPOINT_URL"], private.extra_env["ABACO_RESOURCE_PREFIX"], TENANT)
        return _measure(private.api_url, watcher, proxy, executions, idle_seconds)
    finally:
        private.stop()
        proxy.stop()
        base_stack.stop()


def _measure(base: str, watch: Watcher, proxy: RecordingProxy, executions: int,
             idle_seconds: float) -> dict[str, Any]:
    actor_id = _call(base, "POST", "/actors", json={"image": NOOP_IMAGE})["id"]
    _wait(lambda: watch.ready(actor_id), 120, "the worker")
    first = _call(base, "POST", f"/actors/{actor_id}/messages", data={"message": "warm up"})
    _wait(lambda: watch.done(actor_id, first["execution_id"]), 120, "the warm-up")
    _wait(lambda: watch.ready(actor_id), 60, "the worker to be READY again")
    begin, started = len(proxy.recorded()), time.monotonic()
    time.sleep(idle_seconds)  # the quiet window: what an idle host with one idle worker asks for
    idle_rows = proxy.recorded()[begin:]
    idle_minutes = (time.monotonic() - started) / 60
    begin = len(proxy.recorded())
    sent = [_call(base, "POST", f"/actors/{actor_id}/messages", data={"message": f"m{i}"})["execution_id"]
            for i in range(executions)]
    for execution_id in sent:
        _wait(lambda eid=execution_id: watch.done(actor_id, eid), 120, f"execution {execution_id}")
    _wait(lambda: watch.ready(actor_id), 60, "the worker to be READY again")
    rows = [r for r in proxy.recorded()[begin:] if _about(*r, actor_id)]
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "executions": executions,
        "requests": [record(r) for r in rows],
        "idle_minutes": round(idle_minutes, 3),
        "idle_requests": [record(r) for r in idle_rows],
        "by_operation": dict(sorted(Counter(r[0] for r in rows).items())),
    }
