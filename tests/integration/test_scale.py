"""Scale (issue 16) against the session's moto server over HTTP: paged collections, bounded deletion,
byte-sized log chunks, and a reconciler that asks SQS before it re-sends.

Executions are written straight through the store (thousands through the API would take minutes on the
emulator) under a prefix of their own; the API under test reads the same tables over HTTP. A recording
proxy between the API (or a store) and the emulator counts the AWS requests one API request, or one pass
of a duty, makes.
"""
from __future__ import annotations

import secrets
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from bench.proxy import RecordingProxy
from chalicelib.adapters.storage import executions as execution_storage
from chalicelib.adapters.storage.logs import CHUNK_BYTES, execution_key
from chalicelib.domain.models import Actor, Execution, ExecutionStatus
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.services import cleanup
from chalicelib.services import executions as execution_service
from chalicelib.wiring import resources
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import bootstrap
from local.launcher import Stack
from runners.duties import reconciler
from tests.conftest import Api
from tests.integration.conftest import proxied_stack, tenant_api

REGION = "us-east-1"
TENANT = "SCALE-TENANT"
MAX_CALLS_PER_DELETE = 20  # one DELETE /actors/{id}: a few reads and writes, whatever the history
BATCH_WRITE = 25


def _backend(endpoint: str, prefix: str, **extra: Any) -> Backend:
    return Backend.from_settings(Settings(AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=REGION,
                                          resource_prefix=prefix, **extra))


def _client(backend: Backend) -> Any:
    return boto3.client("dynamodb", endpoint_url=backend.settings.aws_endpoint_url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _prefix(stack: Stack) -> str:
    return stack.env["ABACO_RESOURCE_PREFIX"]


@pytest.fixture(scope="module")
def proxied(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, RecordingProxy]]:
    with proxied_stack(stack, tmp_path_factory, "scale") as pair:
        yield pair


def _write_finished(backend: Backend, actor: Actor, count: int, cpu: int = 0) -> list[str]:
    """``count`` COMPLETE executions of ``actor``, written 25 a request (BatchWriteItem) in a few threads."""
    table = resources.EXECUTIONS.physical(backend.settings.resource_prefix)
    client = _client(backend)
    records = [Execution(tenant=actor.tenant, actor_id=actor.id, id=f"e{i:05d}{secrets.token_hex(2)}",
                         executor="u", status=ExecutionStatus.COMPLETE, cpu=cpu, created_ns=time.time_ns())
               for i in range(count)]

    def write(first: int) -> None:
        items = [{"PutRequest": {"Item": execution_storage._to_item(e)}} for e in records[first:first + BATCH_WRITE]]
        while items:
            items = client.batch_write_item(RequestItems={table: items}).get("UnprocessedItems", {}).get(table, [])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(0, count, BATCH_WRITE)))
    return [e.id for e in records]


def test_a_paginated_walk_over_2000_executions_returns_each_once(proxied: tuple[Stack, RecordingProxy]) -> None:
    stack, _ = proxied
    api = tenant_api(Api(stack.api_url), TENANT)
    actor_id = api.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"]
    backend = _backend(stack.env["AWS_ENDPOINT_URL"], _prefix(stack))
    actor = backend.actors.get(TENANT, actor_id)
    written = set(_write_finished(backend, actor, 2000))
    seen: list[str] = []
    path = f"/actors/{actor_id}/executions?limit=300"
    for _ in range(40):
        page = api.ok("GET", path)
        seen.extend(record["id"] for record in page["search"])
        cursor = page["_metadata"]["next_cursor"]
        if cursor is None:
            break
        path = f"/actors/{actor_id}/executions?limit=300&cursor={cursor}"
    assert len(seen) == len(set(seen)) == 2000 and set(seen) == written
    summary = api.ok("GET", f"/actors/{actor_id}/executions")  # the summary: one page and its next link
    assert len(summary["ids"]) == 1000 and summary["_metadata"]["next"]


def test_totals_are_counters_added_by_the_terminal_write(stack: Stack) -> None:
    backend = _backend(stack.env["AWS_ENDPOINT_URL"], f"abaco-sc{secrets.token_hex(3)}")
    bootstrap.bootstrap(backend.settings)
    actor = Actor(tenant="T", id="A", image="i", owner="u")
    backend.actors.create(actor)
    open_one = Execution(tenant="T", actor_id="A", id="e1", executor="u", open_pool="default")
    backend.executions.create(open_one)
    failed = backend.executions.fail(open_one, "stopped")
    assert failed is not None and failed.status == ExecutionStatus.ERROR
    assert backend.executions.fail(failed, "again") is None  # terminal: not counted twice
    backend.executions.create(Execution(tenant="T", actor_id="A", id="e2", executor="u",
                                        status=ExecutionStatus.COMPLETE, cpu=7, io=3, runtime=2))
    assert execution_service.counters(backend, actor) == {"total_executions": 2, "total_cpu": 7, "total_io": 3,
                                                          "total_runtime": 2}
    backend.actors.replace(backend.actors.get("T", "A").model_copy(update={"description": "x"}), expected_version=1)
    assert execution_service.counters(backend, actor)["total_executions"] == 2  # a PUT keeps the counters
    item = _client(backend).get_item(
        TableName=resources.EXECUTIONS.physical(backend.settings.resource_prefix),
        Key={"actor_dbid": {"S": "T_A"}, "execution_id": {"S": "e1"}})["Item"]
    assert int(item["expires_at"]["N"]) > time.time() + 29 * 86_400  # terminal executions expire (30 days)


def _calls_during(proxy: RecordingProxy, action: Any) -> tuple[Any, int]:
    before = len(proxy.recorded())
    result = action()
    return result, len(proxy.recorded()) - before


def test_an_actor_with_5000_executions_is_deleted_in_bounded_calls(proxied: tuple[Stack, RecordingProxy]) -> None:
    stack, proxy = proxied
    api = tenant_api(Api(stack.api_url), TENANT)
    actor_id = api.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"]
    direct = _backend(stack.env["AWS_ENDPOINT_URL"], _prefix(stack))
    actor = direct.actors.get(TENANT, actor_id)
    ids = _write_finished(direct, actor, 5000)
    expiring = int(time.time()) + 3600
    for eid in ids[:50]:
        direct.logs.write(execution_key(actor.dbid, eid), "output", expiring, attempt=1)
    response, calls = _calls_during(proxy, lambda: api.call("DELETE", f"/actors/{actor_id}"))
    assert response.status_code == 200 and calls <= MAX_CALLS_PER_DELETE, calls
    assert api.call("GET", f"/actors/{actor_id}").status_code == 404  # gone for the API at once
    duty = _backend(proxy.url, _prefix(stack), cleanup_batch=500)  # the cleanup duty, counted too
    bound = 3 * duty.settings.cleanup_batch + 20  # logs query and batch deletes per execution, and a few more
    for _ in range(len(ids) // duty.settings.cleanup_batch + 5):
        report, calls = _calls_during(proxy, lambda: cleanup.run_once(duty, time.time()))
        assert calls <= bound, calls
        if actor_id in report.actors_removed:
            break
    assert direct.actors.find(TENANT, actor_id) is None
    assert direct.executions.keys_page(actor.dbid, 10) == []
    # Its logs carry a TTL (log_ex) and go with it; no route reaches them once the execution is gone.
    assert api.call("GET", f"/actors/{actor_id}/executions/{ids[0]}/logs").status_code == 404


def test_a_1mb_cjk_log_is_stored_and_read_back_and_a_flush_writes_only_the_changed_chunk(
        stack: Stack) -> None:
    port = urllib.parse.urlsplit(stack.env["AWS_ENDPOINT_URL"]).port
    proxy = RecordingProxy(port).start()
    try:
        backend = _backend(proxy.url, f"abaco-lg{secrets.token_hex(3)}")
        bootstrap.create_tables(backend.settings)
        text = "日本語のログ" * 56_000 + "\ufffd" * 10_000  # 1.04 MB of UTF-8: 3 bytes a character
        assert len(text.encode()) > 1_000_000 and len(text) < 400_000  # under the old 200,000-char cut: 600 KB
        key = "T_A#e1"
        backend.logs.write(key, text, None, attempt=1)
        assert backend.logs.read(key) == text
        grown = text + "\nmore output"
        _, calls = _calls_during(proxy, lambda: backend.logs.write(key, grown, None, attempt=1))
        assert calls == 1  # the last chunk only, not the whole log again
        assert backend.logs.read(key) == grown
        pages = _client(backend).get_paginator("query").paginate(
            TableName=resources.LOGS.physical(backend.settings.resource_prefix),
            KeyConditionExpression="execution_key = :k", ExpressionAttributeValues={":k": {"S": key}})
        items = [item for page in pages for item in page["Items"]]
        sizes = [len(item["text"]["S"].encode()) for item in items]
        assert len(sizes) == 3 and max(sizes) <= CHUNK_BYTES < 400_000, sizes  # cut by bytes, not characters
    finally:
        proxy.stop()


def _reconciler_world(stack: Stack) -> tuple[Backend, Actor, Execution]:
    """An actor, its inbox and one execution sent 10 minutes ago and never claimed."""
    backend = _backend(stack.env["AWS_ENDPOINT_URL"], f"abaco-rc{secrets.token_hex(3)}")
    bootstrap.bootstrap(backend.settings)
    actor = Actor(tenant="T", id=f"A{secrets.token_hex(3)}", image="i", owner="u")
    backend.actors.create(actor)
    backend.queues.create_inbox(actor.tenant, actor.id)
    message = InboxMessage(tenant="T", actor_id=actor.id, execution_id="e1", content_type="str", body="hi",
                           size=2, env={}, executor="u", sent_at=time.time())
    execution = Execution(tenant="T", actor_id=actor.id, id="e1", executor="u", open_pool="default",
                          inbox_message=message.encode(), phases={"queued": time.time()})
    backend.executions.create(execution)
    backend.queues.send_inbox(message)
    return backend, actor, backend.executions.mark_sent(execution)


def test_the_reconciler_does_not_resend_a_message_sqs_still_holds(stack: Stack) -> None:
    backend, actor, execution = _reconciler_world(stack)
    later = time.time() + backend.settings.unclaimed_after_seconds + 60
    assert reconciler.run_once(backend, later).resent == []  # still on the inbox: nothing to send
    url = backend.queues.inbox_url(actor.tenant, actor.id)
    assert backend.queues.depth(url) == (1, 0)
    for received in backend.queues.receive(url, wait_seconds=0, max_messages=1, visibility=30):
        backend.queues.delete(url, received.receipt)  # lost (as if it expired or went to the dead-letter queue)
    assert reconciler.run_once(backend, later).resent == [execution.id]  # gone from SQS: sent again
    assert sum(backend.queues.depth(url)) == 1
