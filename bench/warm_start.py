"""Suite: warm start against cold start, side by side in one runner, with the bare Docker baseline.

Two actors of the same image on one runner with the shipped settings (warm start on): one plain (its
worker's next container is pre-started), one with the ``cold`` hint (a fresh container per message). Runs
alternate bare, warm, cold, so a shared machine's noise hits all three alike. The image is busybox's
``adjtimex``, which prints the wall clock in microseconds as its first act: the time at which the actor's
process runs, on the host's clock, against the runner's ``dequeued`` stamp (when the worker took the
message up) and the client's POST.

Reported: dequeue -> actor process running, POST -> COMPLETE (the runner's ``finalised`` stamp) and the
bare ``docker run`` of the same image (create + start + wait + logs + remove, the runner's own engine
adapter), the hit rate of the warm actor, and what a waiting container costs in memory (its cgroup, and
the containerd shim process that every container has on the host).
"""
from __future__ import annotations

import io
import re
import tarfile
import time
from pathlib import Path
from typing import Any

import docker

from bench import stats
from bench.baseline import Bare
from bench.profile import Profile
from bench.system import BenchError, BenchSystem, poll
from runners.pipeline import cgroups
from runners.pipeline.engine import LABEL_WARM

POOL = "warm"
STAMP_IMAGE = "abaco-bench/stamp"
STAMP_DOCKERFILE = b'FROM abacosamples/noop\nCMD ["/bin/adjtimex"]\n'
SETTLE_SECONDS = 0.2  # between runs: the worker back in its long poll, the next container pre-started
READY_TIMEOUT = 30.0
STAMP = re.compile(r"time\.tv_sec:\s+(\d+)\s+time\.tv_usec:\s+(\d+)")


def run(system: BenchSystem, profile: Profile, run_id: str) -> dict[str, Any]:
    build_stamp_image()
    client = system.client()
    system.start_runner(POOL, warm_start="true")
    warm_actor = client.create_actor(POOL, image=STAMP_IMAGE)
    cold_actor = client.create_actor(POOL, image=STAMP_IMAGE, hints=["cold"])
    client.wait_ready([warm_actor, cold_actor])
    bare = Bare(STAMP_IMAGE, run_id)
    samples: dict[str, list[dict[str, float]]] = {"warm": [], "cold": []}
    bares: list[float] = []
    try:
        for index in range(profile.latency_warmup + profile.latency_runs):
            bare_ms = bare.run_once().total_ms
            time.sleep(SETTLE_SECONDS)
            warm = _one(system, client, warm_actor)
            time.sleep(SETTLE_SECONDS)
            cold = _one(system, client, cold_actor)
            time.sleep(SETTLE_SECONDS)
            if index >= profile.latency_warmup:
                bares.append(bare_ms)
                samples["warm"].append(warm)
                samples["cold"].append(cold)
        memory = waiting_memory(f"{client.tenant}_{warm_actor}")
    finally:
        bare.close()
        client.close()
        system.stop_runner(POOL)
    return summarise(samples, bares, memory)


def build_stamp_image() -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(STAMP_DOCKERFILE)
        archive.addfile(info, io.BytesIO(STAMP_DOCKERFILE))
    context.seek(0)
    engine = docker.from_env(timeout=300)
    try:
        engine.images.build(fileobj=context, custom_context=True, tag=STAMP_IMAGE, rm=True, pull=False)
    finally:
        engine.close()


def _one(system: BenchSystem, client: Any, actor_id: str) -> dict[str, float]:
    assert system.observer is not None
    posted = time.time()
    execution_id = client.send(actor_id)
    execution, _seen = system.observer.wait_terminal(actor_id, execution_id)
    if execution.status.value != "COMPLETE" or execution.exit_code != 0:
        raise BenchError(f"execution {execution_id}: {execution.status.value} {execution.status_message}")
    logs = client.ok("GET", f"/actors/{actor_id}/executions/{execution_id}/logs")["logs"]
    return sample(posted, execution.phases, logs)


def sample(posted: float, phases: dict[str, float], logs: str) -> dict[str, float]:
    """Milliseconds of one execution (pure; unit tested): dequeue -> process running, POST -> COMPLETE,
    and whether its container was pre-started (1.0) or not (0.0)."""
    found = STAMP.search(logs)
    if found is None or "dequeued" not in phases or "finalised" not in phases:
        raise BenchError(f"no process stamp or phases: {logs[:200]!r} {sorted(phases)}")
    running = int(found.group(1)) + int(found.group(2)) / 1e6
    return {"dequeue_to_running_ms": (running - phases["dequeued"]) * 1000,
            "start_to_running_ms": (running - phases["started"]) * 1000,
            "e2e_ms": (phases["finalised"] - posted) * 1000,
            "warm": 1.0 if "prestarted" in phases else 0.0}


def waiting_memory(actor_dbid: str) -> dict[str, Any]:
    """Memory of the warm actor's waiting container: its cgroup's charge and the host-side shim's RSS."""
    engine = docker.APIClient(version="auto")
    try:
        found = poll(lambda: engine.containers(filters={"label": f"{LABEL_WARM}={actor_dbid}"}), READY_TIMEOUT,
                     0.1, "a waiting container")
        pid = int(engine.inspect_container(found[0]["Id"])["State"]["Pid"])
    finally:
        engine.close()
    return {"cgroup_bytes": cgroups.memory_bytes(pid), "cgroup_rss_bytes": _cgroup_rss(pid),
            "shim_process_rss_bytes": _rss(_parent(pid)), "entry_shim_rss_bytes": _rss(pid)}


def _cgroup_rss(pid: int) -> int | None:
    directory = cgroups.cgroup_dir(pid, "memory")
    if directory is None or not (directory / "memory.stat").is_file():
        return None
    for line in (directory / "memory.stat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name in ("total_rss", "anon"):
            return int(value)
    return None


def _parent(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return 0


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def summarise(samples: dict[str, list[dict[str, float]]], bares: list[float],
              memory: dict[str, Any]) -> dict[str, Any]:
    """Side-by-side summaries (pure; unit tested). Warm numbers count only the runs that were warm."""
    hot = [s for s in samples["warm"] if s["warm"]]
    out: dict[str, Any] = {"runs": len(samples["warm"]), "warm_hits": len(hot),
                           "baseline_ms": stats.summary(bares) if bares else None, "waiting_memory": memory,
                           "samples": {"warm_e2e_ms": [round(r["e2e_ms"], 2) for r in hot],
                                       "cold_e2e_ms": [round(r["e2e_ms"], 2) for r in samples["cold"]],
                                       "warm_dequeue_to_running_ms": [round(r["dequeue_to_running_ms"], 2)
                                                                      for r in hot],
                                       "cold_dequeue_to_running_ms": [round(r["dequeue_to_running_ms"], 2)
                                                                      for r in samples["cold"]],
                                       "baseline_ms": [round(b, 2) for b in bares]}}
    for name, rows in (("warm", hot), ("cold", samples["cold"])):
        out[name] = {key: stats.summary([r[key] for r in rows]) if rows else None
                     for key in ("dequeue_to_running_ms", "start_to_running_ms", "e2e_ms")}
    warm_e2e = (out["warm"]["e2e_ms"] or {}).get("p50")
    base = (out["baseline_ms"] or {}).get("p50")
    out["warm_e2e_below_bare_p50"] = None if warm_e2e is None or base is None else warm_e2e < base
    out["warm_dequeue_to_running_p50_ms"] = (out["warm"]["dequeue_to_running_ms"] or {}).get("p50")
    return out


def figure(data: dict[str, Any], _suites: dict[str, Any]) -> Any:
    """Two CDFs: dequeue -> actor process running (warm, cold), and POST -> COMPLETE against bare Docker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = data["samples"]
    for ax, pairs, title in (
            (left, (("warm", series["warm_dequeue_to_running_ms"]), ("cold", series["cold_dequeue_to_running_ms"])),
             "Dequeue -> actor process running"),
            (right, (("warm", series["warm_e2e_ms"]), ("cold", series["cold_e2e_ms"]),
                     ("bare docker run", series["baseline_ms"])), "POST -> COMPLETE vs bare docker run")):
        for (label, values), color in zip(pairs, ("#1f77b4", "#ff7f0e", "#7f7f7f"), strict=False):
            if values:
                ordered = sorted(values)
                ax.step(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], where="post",
                        color=color, label=f"{label} (p50 {stats.percentile(values, 50):.0f} ms)")
        ax.set_xlabel("milliseconds")
        ax.set_ylabel("fraction of runs")
        ax.set_title(title, fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
    left.axvline(50, color="#d62728", linestyle=":", linewidth=1)
    found.suptitle(f"Warm start: {data['warm_hits']} of {data['runs']} messages found a pre-started container",
                   fontsize=10)
    found.tight_layout()
    return found
