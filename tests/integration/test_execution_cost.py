"""The runner's AWS requests for one no-op execution, counted on the wire.

Each request is a round trip the emulator pays CPU for (on our 2 cores the main reason throughput trails
bare Docker) and, in AWS, a billed request. A private runner talks to the session's emulator through a
recording proxy on loopback; the requests about the execution are those naming its actor (the actor,
execution, worker and log items, the inbox) plus the tenant's configs query, and the long poll that
delivered the message. The runner's duties and its idle long polls name no actor and are left out; the
worker's health check is set an hour apart so it does not fall inside the window.
"""
from __future__ import annotations

import json
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from bench.proxy import RecordingProxy
from local.launcher import Stack
from tests.conftest import Api, start_stack, wait_for

# The requests one no-op execution costs the runner (the API talks to the emulator directly here): receive,
# claim, terminal write, totals, delete. 6 before the actor's item listed its bound configs, so that an
# actor with none costs no query of the bindings (chalicelib/adapters/storage/configs.py); 8 before the
# worker ran a message on its last reading of the actor when the message names that version
# (runners/host/actor_view.py) and the lease, not the receive, confirmed the message's visibility
# (runners/pipeline/lease.py); 9 before the worker's BUSY and READY writes rode on the host heartbeat and
# the totals' transaction became one small update (13 before that); ``python -m bench.cost --measure``
# counts the API's too (bench/results/cost.json).
MAX_REQUESTS_PER_EXECUTION = 5
# An attempt still running this long after its claim may have confirmed its message's visibility (the lease
# does so a second before the receive's 2 s end): one more request, allowed only then.
CONFIRM_AFTER_SECONDS = 0.9
NOOP_IMAGE = "abacosamples/noop"


def _about(op: str, request: str, response: str, actor_id: str) -> bool:
    """Whether a recorded request belongs to the execution of ``actor_id``'s message."""
    if op.endswith("ReceiveMessage"):
        return actor_id in request and '"Messages"' in response and '"Messages": []' not in response
    if op == "dynamodb.Query" and "-configs" in request:
        return True
    return actor_id in request and "-hosts" not in request  # the host heartbeat lists its workers


def _per_operation(recorded: list[tuple[str, str, str]], actor_id: str) -> Counter[str]:
    return Counter(op.split(".", 1)[1] for op, request, response in recorded if _about(op, request, response, actor_id))


def _worker_ready(api: Api, actor_id: str) -> Any:
    workers = api.ok("GET", f"/actors/{actor_id}/workers")
    return workers if workers and all(w["status"] == "READY" for w in workers) else None


def test_one_noop_execution_costs_at_most_the_counted_requests(stack: Stack, tmp_path: Path) -> None:
    private = start_stack(tmp_path, runners=0, emulator_url=stack.env["AWS_ENDPOINT_URL"],
                          env={"ABACO_WORKER_HEALTH_CHECK_SECONDS": "3600"})
    port = urllib.parse.urlsplit(stack.env["AWS_ENDPOINT_URL"]).port
    proxy = RecordingProxy(port).start()
    try:
        private.add_runner("runner0", env={"AWS_ENDPOINT_URL": proxy.url})
        api = Api(private.api_url)
        actor = api.create_actor(image=NOOP_IMAGE)
        wait_for(lambda: _worker_ready(api, actor["id"]), 90, what="the actor's worker to be READY")
        first = api.ok("POST", f"/actors/{actor['id']}/messages", data={"message": "warm up"})
        api.wait_execution(actor["id"], first["execution_id"])
        wait_for(lambda: _worker_ready(api, actor["id"]), 60, what="the worker to be READY again")
        begin = len(proxy.recorded())
        sent = api.ok("POST", f"/actors/{actor['id']}/messages", data={"message": "count me"})
        done = api.wait_execution(actor["id"], sent["execution_id"])
        assert done["status"] == "COMPLETE" and done["exit_code"] == 0 and done["start_time"]
        assert api.logs(actor["id"], sent["execution_id"]) == ""
        phases = done["phases"]  # the claim's and the start's stamps rode on the terminal write
        assert phases["queued"] <= phases["claimed"] <= phases["started"] <= phases["exited"] <= phases["finalised"]
        assert [a["reason"] for a in done["attempts"]] == ["exited"]  # rebuilt from the execution's own fields
        # The worker stays READY (its BUSY rides on the host heartbeat): the message's acknowledgement, after
        # the terminal write and the totals, ends the execution's requests.
        wait_for(lambda: _per_operation(proxy.recorded()[begin:], actor["id"])["DeleteMessage"], 60,
                 what="the message's acknowledgement")
        counts = _per_operation(proxy.recorded()[begin:], actor["id"])
        print("runner AWS requests for one no-op execution:", json.dumps(dict(sorted(counts.items()))))
        assert counts["ReceiveMessage"] == 1 and counts["DeleteMessage"] == 1, counts
        assert counts["TransactWriteItems"] == 0, counts  # the terminal write is one UpdateItem, the totals another
        assert counts["GetItem"] == 0, counts  # the worker's reading of the actor has the message's version
        assert counts["Query"] == 0, counts  # the actor's item lists no bound config
        held = phases["finalised"] - phases["claimed"]
        visibility = counts["ChangeMessageVisibility"] + counts["ChangeMessageVisibilityBatch"]
        assert visibility <= (1 if held >= CONFIRM_AFTER_SECONDS else 0), (held, counts)
        assert sum(counts.values()) - visibility <= MAX_REQUESTS_PER_EXECUTION, counts
        totals = api.ok("GET", f"/actors/{actor['id']}/executions")
        assert totals["total_executions"] == 2
    finally:
        private.stop()
        proxy.stop()
