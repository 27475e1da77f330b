"""Measure what a slow but alive store does to a runner (README, "A slow store").

One private stack per trial (moto server, API, no runner of its own), one runner whose AWS calls go through
the fault proxy (tests/fault_proxy.py), which holds each DynamoDB request for ``--stall`` seconds while SQS
answers at once. One message runs a container sleeping ``--sleep`` seconds on that runner. Printed per
trial: the runner's fence counters (per attempt, whole host), the execution's outcome and attempt history,
the longest gap between two host heartbeats that reached the store, and the longest time the execution's
lease had ended in the store while its container still ran (another runner could have taken it over).

    .venv/bin/python scripts/measure_slow_store.py --stall 1 2.5 4.5 --profile fast
    .venv/bin/python scripts/measure_slow_store.py --stall 3 --late   # slow only once the container runs
    .venv/bin/python scripts/measure_slow_store.py --timeout-only   # how long a call to a stalled store takes to fail

Needs Docker and the sample images (``make images``); builds abaco-test/sleep like the chaos tests.
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker
import requests

from chalicelib.adapters import aws
from chalicelib.domain.errors import AbacoError
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import emulator
from tests.conftest import Api, start_stack, wait_for
from tests.fault_proxy import FaultProxy
from tests.faults import labelled_containers

PROFILES = {  # the chaos tests' timings, and the suite's (tests/conftest.py TEST_ENV)
    "fast": {"ABACO_VISIBILITY_TIMEOUT": "6", "ABACO_HEARTBEAT_SECONDS": "1", "ABACO_HOST_HEARTBEAT_SECONDS": "1",
             "ABACO_RECEIVE_WAIT_SECONDS": "1", "ABACO_AUTOSCALE_SECONDS": "1", "ABACO_RECONCILE_SECONDS": "2",
             "ABACO_DUTY_LEASE_SECONDS": "6"},
    "test": {},
}
TRIAL_TIMEOUT_SECONDS = 240.0
POLL_SECONDS = 0.2


def _counter(port: int, name: str) -> float:
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return -1.0
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def _build_sleep_image() -> None:
    client = docker.from_env()
    dockerfile = b'FROM abacosamples/noop\nCMD ["sh", "-c", "sleep ${SLEEP:-30}; echo slept"]\n'
    client.images.build(fileobj=io.BytesIO(dockerfile), tag="abaco-test/sleep", rm=True)
    client.close()


class LeaseWatch:
    """Polls the execution record and Docker: the longest time its lease had ended while a container of
    the execution was running."""

    def __init__(self, stack: object, actor_id: str, execution_id: str) -> None:
        settings = Settings(AWS_ENDPOINT_URL=stack.env["AWS_ENDPOINT_URL"],  # type: ignore[attr-defined]
                            resource_prefix=stack.env["ABACO_RESOURCE_PREFIX"])  # type: ignore[attr-defined]
        self._backend = Backend.from_settings(settings)
        self._dbid = f"DEV-DEVELOP_{actor_id}"
        self._eid = execution_id
        self.lapsed = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            execution = self._backend.executions.find(self._dbid, self._eid)
            if execution is None or execution.status.value != "RUNNING" or not execution.lease_expires_at:
                continue
            over = time.time() - execution.lease_expires_at
            if over > 0 and labelled_containers({self._eid}) and any(
                    c.get("State") == "running" for c in labelled_containers({self._eid})):
                self.lapsed = max(self.lapsed, over)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return round(self.lapsed, 2)


def trial(profile: str, stall: float, sleep: int, late: bool) -> dict[str, object]:
    """``late``: the store turns slow only once the container runs (else before the message is sent)."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), env={**PROFILES[profile], "ABACO_POOLS": "default,slow"}, runners=0)
        proxy = FaultProxy(stack.emulator_port)
        port = emulator.free_port()
        try:
            stack.add_runner("runner1", {"ABACO_RUNNER_POOL": "slow", "AWS_ENDPOINT_URL": proxy.url,
                                         "ABACO_RUNNER_METRICS_PORT": str(port)})
            api = Api(stack.api_url)
            wait_for(lambda: api.ok("GET", "/actors/admin/hosts")["hosts"], 60, what="the runner's record")
            actor = api.create_actor(image="abaco-test/sleep", queue="slow")
            wait_for(lambda: api.ok("GET", f"/actors/{actor['id']}/workers"), 60, what="a worker")
            if not late:
                proxy.stall("dynamodb", stall)
            started = time.monotonic()
            eid = api.ok("POST", f"/actors/{actor['id']}/messages?SLEEP={sleep}", data={"message": "m"})["execution_id"]
            watch = LeaseWatch(stack, actor["id"], eid)
            if late:
                wait_for(lambda: api.ok("GET", f"/actors/{actor['id']}/executions/{eid}")["status"] == "RUNNING"
                         and labelled_containers({eid}), 60, interval=0.05, what="the container running")
                proxy.stall("dynamodb", stall)
            done = api.wait_execution(actor["id"], eid, timeout=TRIAL_TIMEOUT_SECONDS)
            lapsed = watch.stop()
            beats = [at for at, target, table in proxy.log
                     if at >= started and target.endswith("PutItem") and table.endswith("-hosts")]
            gaps = [b - a for a, b in itertools.pairwise(beats)]
            return {"profile": profile, "stall_s": stall, "late": late, "status": done["status"],
                    "attempts": [a["reason"] for a in done["attempts"]],
                    "seconds": round(time.monotonic() - started, 1),
                    "attempt_fences": _counter(port, "abaco_fenced_total"),
                    "host_fences": _counter(port, "abaco_host_fenced_total"),
                    "max_host_beat_gap_s": round(max(gaps), 2) if gaps else None,
                    "lease_ended_while_running_s": lapsed}
        finally:
            proxy.close()
            stack.stop()


def call_failure_time() -> float:
    """Seconds until one DynamoDB call against a store that never answers raises (the SDK's timeouts and
    retries, chalicelib/adapters/aws.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), runners=0)
        proxy = FaultProxy(stack.emulator_port)
        try:
            settings = Settings(AWS_ENDPOINT_URL=proxy.url, resource_prefix=stack.env["ABACO_RESOURCE_PREFIX"])
            proxy.cut("dynamodb")
            started = time.monotonic()
            try:
                Backend.from_settings(settings).hosts.all()
            except AbacoError:
                return round(time.monotonic() - started, 1)
            raise AssertionError("the call succeeded through a cut")
        finally:
            aws._CLIENTS.clear()
            proxy.close()
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stall", type=float, nargs="*", default=[1.0, 2.5, 4.5])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    parser.add_argument("--sleep", type=int, default=12)
    parser.add_argument("--late", action="store_true", help="turn the store slow once the container runs")
    parser.add_argument("--timeout-only", action="store_true")
    args = parser.parse_args()
    if args.timeout_only:
        print(json.dumps({"dynamodb_call_fails_after_s": call_failure_time()}))
        return
    _build_sleep_image()
    for stall in args.stall:
        print(json.dumps(trial(args.profile, stall, args.sleep, args.late)), flush=True)


if __name__ == "__main__":
    main()
