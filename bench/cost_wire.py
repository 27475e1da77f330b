"""The AWS requests of executions, counted on the wire of a local stack, for ``python -m bench.cost``.

A private stack (its own emulator, the API and one runner) talks to the emulator through a recording
proxy (``bench/proxy.py``), as ``tests/integration/test_execution_cost.py`` does. After a warm-up, the
requests that name the measured actor (or query the configs table) in a window of ``executions``
messages, each sent once the one before finished (case A's load: at 100 executions/s over 300 actors, an
actor gets a message every 3 s, which its warm worker runs without scaling out), are that many executions'
cost: the API's (the POST and what it writes and sends) and the
runner's (receive, claim, terminal write, delete). A quiet window before the messages gives the idle
requests per minute of one runner host with one idle worker: what grows with hosts and with workers.
Each request is kept with its sizes, so the model can turn it into DynamoDB request units: a write with
the write units DynamoDB bills for it, table and indexes (``SizingProxy``: the item read before and after
the write, priced by ``bench/item_size.py``), and the measured executions' final item size for storage.
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

from bench import item_size
from bench.proxy import RecordingProxy
from local import emulator
from local.launcher import Stack

NOOP_IMAGE = "abacosamples/noop"
IDLE_WINDOW_SECONDS = 30.0
CASE_A_SPACING_SECONDS = 3.0  # case A (bench/cost.py): 100 executions/s over 300 actors, one per actor every 3 s
TENANT = "DEV-DEVELOP"  # the tenant of access_control=none
# The worker's health check runs at its shipped period (5 s): at case A's pace it is part of what an
# execution costs (an eventually consistent read of the worker record every other message, no write).
STACK_ENV = {"ABACO_ACCESS_CONTROL": "none", "ABACO_RATE_LIMIT_RPS": "0", "ABACO_WARM_START": "false",
             "ABACO_RECEIVE_WAIT_SECONDS": "20"}


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

    def item_bytes(self, actor_id: str, execution_ids: list[str]) -> int:
        """The mean billed size of the finished executions' items (what storage keeps for ``execution_ex``)."""
        keys = [{"actor_dbid": {"S": f"{self._tenant}_{actor_id}"}, "execution_id": {"S": e}} for e in execution_ids]
        sizes = [item_size.item_size(self._ddb.get_item(TableName=f"{self._prefix}-executions", Key=k)["Item"])
                 for k in keys]
        return round(sum(sizes) / max(len(sizes), 1))

    def ready(self, actor_id: str) -> bool:
        items = self._ddb.query(TableName=f"{self._prefix}-workers", KeyConditionExpression="actor_dbid = :a",
                                ExpressionAttributeValues={":a": {"S": f"{self._tenant}_{actor_id}"}})["Items"]
        return bool(items) and all(i.get("status", {}).get("S") == "READY" for i in items)


Target = tuple[str, dict[str, Any]]  # a table's physical name and an item's key
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def _targets(op: str, body: bytes) -> list[Target]:
    """The items a DynamoDB write names (none for any other request)."""
    service, _, name = op.partition(".")
    if service != "dynamodb" or name not in WRITES:
        return []
    payload = json.loads(body)
    if name == "TransactWriteItems":
        actions = [a for entry in payload["TransactItems"] for kind, a in entry.items() if kind != "ConditionCheck"]
    elif name == "BatchWriteItem":
        actions = [{"TableName": t, **(r.get("PutRequest") or r.get("DeleteRequest"))}
                   for t, requests_ in payload["RequestItems"].items() for r in requests_]
    else:
        actions = [payload]
    out = []
    for action in actions:
        table = item_size.table_of(action["TableName"])
        key = action.get("Key") or (item_size.key_of(table, action["Item"]) if table else {})
        out.append((action["TableName"], key))
    return out


class SizingProxy(RecordingProxy):
    """A recording proxy that also prices each DynamoDB write: it reads every item a write names before
    and after forwarding it (consistently, from the emulator itself: not recorded), and keeps the write
    units beside the request. A failed conditional write is billed too (its item is unchanged)."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.sized: list[dict[str, int] | None] = []
        self._ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{upstream_port}", region_name="us-east-1",
                                 aws_access_key_id="testing", aws_secret_access_key="testing")

    def _read(self, target: Target) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._ddb.get_item(TableName=target[0], Key=target[1],
                                                          ConsistentRead=True).get("Item")
        return found

    def before(self, op: str, request: bytes) -> object:
        return [(target, self._read(target)) for target in _targets(op, request)] or None

    def observe(self, op: str, request: bytes, response: bytes, context: object = None) -> None:
        sized = None
        if isinstance(context, list):
            sized = {"table": 0, "index": 0}
            for target, old in context:
                billed = item_size.write_units(item_size.table_of(target[0]), old, self._read(target),
                                               transactional=op.endswith("TransactWriteItems"))
                sized = {k: sized[k] + billed[k] for k in sized}
        with self._lock:
            self.requests.append((op, request.decode("utf-8", "replace"), response.decode("utf-8", "replace")))
            self.sized.append(sized)

    def recorded_sized(self) -> list[tuple[tuple[str, str, str], dict[str, int] | None]]:
        with self._lock:
            return list(zip(self.requests, self.sized, strict=True))


def record(row: tuple[str, str, str], sized: dict[str, int] | None = None) -> dict[str, Any]:
    """One request as the model reads it: operation, sizes, the flags that change its price, and for a
    write the units DynamoDB bills (``write_units`` for the table, ``index_units`` for its indexes)."""
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
            "inbox": "-inbox-" in request, "executions": "-executions" in request,
            **({"write_units": sized["table"], "index_units": sized["index"]} if sized else {})}


def measure(executions: int = 20, idle_seconds: float = IDLE_WINDOW_SECONDS,
            spacing: float = CASE_A_SPACING_SECONDS) -> dict[str, Any]:
    """Start a stack, measure, stop it; the result is what ``bench/results/cost.json`` holds."""
    tmp = Path(tempfile.mkdtemp(prefix="abaco-cost-"))
    base_stack = Stack(api_port=emulator.free_port(), emulator_port=emulator.free_port(), log_dir=tmp / "emu",
                       extra_env={**STACK_ENV, "ABACO_RESOURCE_PREFIX": f"abaco-c{secrets.token_hex(3)}"},
                       runners=0, own_emulator=True).start()
    proxy = SizingProxy(int(urllib.parse.urlsplit(base_stack.env["AWS_ENDPOINT_URL"]).port or 0)).start()
    private = Stack(api_port=emulator.free_port(), emulator_port=emulator.free_port(), log_dir=tmp / "stack",
                    extra_env={**STACK_ENV, "ABACO_RESOURCE_PREFIX": f"abaco-c{secrets.token_hex(3)}",
                               "AWS_ENDPOINT_URL": proxy.url}, runners=0, own_emulator=False)
    try:
        private.start()
        private.add_runner("runner0", env={"AWS_ENDPOINT_URL": proxy.url})
        watcher = Watcher(base_stack.env["AWS_ENDPOINT_URL"], private.extra_env["ABACO_RESOURCE_PREFIX"], TENANT)
        return _measure(private.api_url, watcher, proxy, executions, idle_seconds, spacing)
    finally:
        private.stop()
        proxy.stop()
        base_stack.stop()


def _measure(base: str, watch: Watcher, proxy: SizingProxy, executions: int,
             idle_seconds: float, spacing: float) -> dict[str, Any]:
    actor_id = _call(base, "POST", "/actors", json={"image": NOOP_IMAGE})["id"]
    _wait(lambda: watch.ready(actor_id), 120, "the worker")
    first = _call(base, "POST", f"/actors/{actor_id}/messages", data={"message": "warm up"})
    _wait(lambda: watch.done(actor_id, first["execution_id"]), 120, "the warm-up")
    _wait(lambda: watch.ready(actor_id), 60, "the worker to be READY again")
    begin, started = len(proxy.recorded()), time.monotonic()
    time.sleep(idle_seconds)  # the quiet window: what an idle host with one idle worker asks for
    idle_rows = proxy.recorded_sized()[begin:]
    idle_minutes = (time.monotonic() - started) / 60
    begin = len(proxy.recorded())
    sent = []
    for i in range(executions):  # case A's load on one actor: a message every ``spacing`` s, one warm worker
        due = time.monotonic() + spacing
        sent.append(_call(base, "POST", f"/actors/{actor_id}/messages", data={"message": f"m{i}"})["execution_id"])
        _wait(lambda eid=sent[-1]: watch.done(actor_id, eid), 120, f"execution {sent[-1]}")
        time.sleep(max(0.0, due - time.monotonic()))  # the load's pace (an actor's worker check is spared
        # when its messages come closer together: chalicelib/services/taking.py)
    # The runner acknowledges a message after its terminal write and the totals: wait for the last one.
    _wait(lambda: sum(op == "sqs.DeleteMessage" and actor_id in request
                      for op, request, _ in proxy.recorded()[begin:]) >= executions, 60, "the last acknowledgement")
    rows = [(r, sized) for r, sized in proxy.recorded_sized()[begin:] if _about(*r, actor_id)]
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "executions": executions,
        "spacing_seconds": spacing,
        "execution_item_bytes": watch.item_bytes(actor_id, sent),
        "requests": [record(r, sized) for r, sized in rows],
        "idle_minutes": round(idle_minutes, 3),
        "idle_requests": [record(r, sized) for r, sized in idle_rows],
        "by_operation": dict(sorted(Counter(r[0] for r, _ in rows).items())),
    }
