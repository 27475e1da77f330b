"""Where a user's wait goes: every AWS request of one message, on one time line from the start of its POST.

``python -m bench.timeline [--messages 15] [--kind sync|cold|async]`` starts a system whose API and runner
talk to the emulator through a recording proxy (``bench.proxy``), sends messages one after another to a
warm-start no-op actor (``sync``: ``?_abaco_synchronous=true``; ``cold``: the same to an actor with the
``cold`` hint; ``async``: the POST, then a blocking ``GET .../executions/{id}?wait=25``) and prints, for the
message whose round trip is the median, each AWS request (operation, table or queue, start and end in ms
after the POST began) with the runner's phase stamps and the end of the answer between them. The runner's
duties run every 600 s and its idle long polls last 20 s, as in the cost suite, so what is printed is the
message's. Nothing is written: it is a reading aid for ``bench/results/profiles/README.md``.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

from bench.execution_cost import RUNNER_ENV
from bench.latency import _settle
from bench.proxy import CountingProxy, resource
from bench.sync import Timer, _async, _sync
from bench.system import BenchSystem, Observer
from local import emulator

POOL = "cost"


class TimelineProxy(CountingProxy):
    """Also keeps (operation, resource, started, ended) of every request, in ``time.time()`` seconds."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.spans: list[tuple[str, str, float, float]] = []

    def before(self, op: str, request: bytes) -> object:
        return (resource(request), time.time())

    def observe(self, op: str, request: bytes, response: bytes, context: object = None) -> None:
        where, began = context  # type: ignore[misc]
        with self._lock:
            self.spans.append((op, where, began, time.time()))

    def take(self) -> list[tuple[str, str, float, float]]:
        with self._lock:
            out, self.spans = self.spans, []
        return out


def one(timer: Timer, kind: str, actor_id: str) -> tuple[float, float, str]:
    """(POST began, answer ended, execution id) in ``time.time()`` seconds: the sync suite's requests."""
    began = time.time()
    execution_id = _sync(timer, actor_id)[1] if kind in ("sync", "cold") else _async(timer, actor_id)[2]
    return began, time.time(), execution_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=15)
    parser.add_argument("--kind", choices=("sync", "cold", "async"), default="sync")
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="abaco-bench-timeline-"))
    port = emulator.free_port()
    moto = emulator.start(port, str(log_dir / "emulator.log"))
    proxy = TimelineProxy(port).start()
    system = BenchSystem(log_dir=log_dir, emulator_url=proxy.url)
    try:
        system.start()
        observer = system.observer = Observer(system.settings(f"http://127.0.0.1:{port}"))
        client = system.client()
        system.start_runner(POOL, **RUNNER_ENV)
        hints = ["cold"] if args.kind == "cold" else []
        actor_id = client.create_actor(POOL, hints=hints)
        client.wait_ready([actor_id])
        dbid = observer.dbid(actor_id)
        engine_api = docker.APIClient(version="auto")
        timer = Timer(system.stack.api_url, client.tenant)
        runs: list[dict[str, Any]] = []
        for index in range(args.messages + 3):
            _settle(observer, dbid, engine_api, warm=args.kind != "cold")
            proxy.take()
            began, ended, execution_id = one(timer, args.kind, actor_id)
            _settle(observer, dbid, engine_api, warm=args.kind != "cold")
            spans = [s for s in proxy.take() if s[2] < ended]
            if index >= 3:  # warm-up: connections, imports, the first pre-started container
                phases = observer.execution(actor_id, execution_id).phases
                runs.append({"began": began, "ended": ended, "spans": spans, "phases": phases})
        runs.sort(key=lambda r: r["ended"] - r["began"])
        print(f"round trips (ms): {[round(1000 * (r['ended'] - r['began']), 1) for r in runs]}")
        median = runs[len(runs) // 2]
        print_run(median)
        counts = [len(r["spans"]) for r in runs]
        print(f"requests before the answer: median {statistics.median(counts)}, min {min(counts)}, max {max(counts)}")
        timer.close()
        engine_api.close()
        client.close()
    finally:
        system.stop()
        proxy.stop()
        moto.terminate()
        moto.wait(10)
    return 0


def print_run(run: dict[str, Any]) -> None:
    began = run["began"]
    events: list[tuple[float, str]] = []
    for op, where, start, end in run["spans"]:
        short = where.rsplit("-", 1)[-1] if where else ""
        events.append((start, f"{1000 * (start - began):7.1f} -> {1000 * (end - began):7.1f}  {op} {short}"))
    for name, stamp in run["phases"].items():
        events.append((stamp, f"{1000 * (stamp - began):7.1f}             runner: {name}"))
    events.append((run["ended"], f"{1000 * (run['ended'] - began):7.1f}             answer's last byte"))
    for _, line in sorted(events):
        print(line)


if __name__ == "__main__":
    raise SystemExit(main())
