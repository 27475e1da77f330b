"""The JSON report: headline numbers (the keys other tools rely on), targets, machine and versions."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import docker
import requests

ROOT = Path(__file__).resolve().parent.parent
DOCKER_INFO_TIMEOUT = 10  # seconds
PACKAGES = ("boto3", "botocore", "chalice", "moto", "gunicorn", "docker", "matplotlib", "pydantic")
# Issues 8 and 18's targets: (headline key, comparison, bound).
TARGETS = (
    ("sync_ratio_p50", "<", 1.0),  # what the user waits for, warm start, below bare docker run
    ("sync_cold_ratio_p50", "<=", 1.15),
    ("our_cpu_ms_per_execution", "<=", 15.0),
    ("emulator_cpu_ms_per_execution", "<=", 20.0),
    ("aws_requests_per_execution", "<=", 6.0),
    ("e2e_overhead_p50_ms", "<=", 50.0),
    ("api_accept_p50_ms", "<=", 10.0),
    ("throughput_ratio", ">=", 0.9),
    ("scale_from_zero_p50_s", "<", 1.0),
    ("idle_growth", "<=", 1.1),  # "does not grow with the number of idle actors" (10% for noise)
    ("warm_dequeue_to_running_p50_ms", "<", 50.0),
    ("warm_e2e_minus_bare_p50_ms", "<", 0.0),  # warm POST -> COMPLETE below bare docker run
)


def headline(suites: dict[str, Any]) -> dict[str, float | None]:
    """The flat numbers of the benchmark interface (README, Benchmarks); None where a suite did not run or failed."""
    lat, tp, zero = suites.get("latency") or {}, suites.get("throughput") or {}, suites.get("scale_from_zero") or {}
    out, idle, api = suites.get("scale_out") or {}, suites.get("idle") or {}, suites.get("api") or {}
    windows = idle.get("windows") or [{}]
    bare_start = _bare_create_start_s(lat)
    zero_p50 = _get(zero, "seconds", "p50")
    best_bare = tp.get("best_bare_per_s")
    return {
        **_user(suites.get("sync") or {}, suites.get("cost") or {}, tp),
        "e2e_p50_ms": _get(lat, "e2e_ms", "p50"),
        "e2e_p95_ms": _get(lat, "e2e_ms", "p95"),
        "e2e_p99_ms": _get(lat, "e2e_ms", "p99"),
        "baseline_p50_ms": _get(lat, "baseline_ms", "p50"),
        "e2e_overhead_p50_ms": _get(lat, "overhead_ms", "p50"),
        "e2e_ratio_p50": _get(lat, "ratio", "p50"),
        "e2e_cold_p50_ms": _get(lat, "cold", "e2e_ms", "p50"),
        "e2e_cold_overhead_p50_ms": _get(lat, "cold", "overhead_ms", "p50"),
        "api_accept_p50_ms": (suites.get("sync") or {}).get("accept_p50_ms", _get(lat, "accept_ms", "p50")),
        "throughput_best_per_s": tp.get("best_ours_per_s"),
        "throughput_bare_best_per_s": best_bare,
        "scale_from_zero_p50_s": zero_p50,
        "scale_from_zero_ratio": round(zero_p50 / bare_start, 2) if zero_p50 and bare_start else None,
        "scale_out_drain_s": out.get("drain_s"),
        "scale_out_per_s": out.get("per_s"),
        "scale_out_ratio": out.get("ratio"),
        "idle_requests_per_min_1000_actors": windows[-1].get("requests_per_min"),
        "idle_requests_per_min_100_actors": windows[0].get("requests_per_min"),
        "idle_runner_cpu_percent_1000_actors": windows[-1].get("runner_cpu_percent"),
        "idle_growth": idle.get("growth"),
        "api_get_actor_p99_ms_c16": _get(api, "c16", "get_actor", "latency_ms", "p99"),
        "api_get_actor_per_s_c16": _get(api, "c16", "get_actor", "per_s"),
        "api_post_message_per_s_c16": _get(api, "c16", "post_message", "per_s"),
        **_warm(suites.get("warm_start") or {}),
    }


def _user(sync: dict[str, Any], cost: dict[str, Any], tp: dict[str, Any]) -> dict[str, Any]:
    """Issue 18's numbers: what the user waits for (median over rounds, ``_spread`` [min, max]) and the
    CPU and AWS requests per execution of the whole system."""
    cpu = cost.get("cpu_ms_per_execution") or {}
    out: dict[str, Any] = {
        "sync_p50_ms": sync.get("sync_p50_ms"), "sync_bare_p50_ms": sync.get("bare_p50_ms"),
        "sync_cold_p50_ms": sync.get("sync_cold_p50_ms"), "async_wait_p50_ms": sync.get("async_p50_ms"),
        "sync_warm_hit_rate": sync.get("warm_hit_rate"),
        "our_cpu_ms_per_execution": cost.get("our_cpu_ms_per_execution"),
        "api_cpu_ms_per_execution": cpu.get("api"), "runner_cpu_ms_per_execution": cpu.get("runner"),
        "emulator_cpu_ms_per_execution": cpu.get("emulator"),
        "aws_requests_per_execution": cost.get("requests_per_execution"),
        "throughput_ratio": tp.get("ratio"), "throughput_ratio_spread": tp.get("ratio_spread"),
    }
    for key in ("sync_ratio_p50", "sync_cold_ratio_p50", "async_ratio_p50"):
        out[key], out[f"{key}_spread"] = sync.get(key), sync.get(f"{key}_spread")
    return out


def _warm(warm: dict[str, Any]) -> dict[str, float | None]:
    """Issue 9's numbers: warm and cold side by side, and warm POST -> COMPLETE against bare docker run."""
    warm_e2e, base = _get(warm, "warm", "e2e_ms", "p50"), _get(warm, "baseline_ms", "p50")
    return {
        "warm_dequeue_to_running_p50_ms": _get(warm, "warm", "dequeue_to_running_ms", "p50"),
        "cold_dequeue_to_running_p50_ms": _get(warm, "cold", "dequeue_to_running_ms", "p50"),
        "warm_e2e_p50_ms": warm_e2e,
        "cold_e2e_p50_ms": _get(warm, "cold", "e2e_ms", "p50"),
        "warm_bare_baseline_p50_ms": base,
        "warm_e2e_minus_bare_p50_ms": round(warm_e2e - base, 1) if warm_e2e is not None and base else None,
        "warm_hit_rate": round(warm["warm_hits"] / warm["runs"], 2) if warm.get("runs") else None,
        "warm_waiting_memory_bytes": _get(warm, "waiting_memory", "cgroup_bytes"),
    }


def targets(numbers: dict[str, float | None]) -> dict[str, dict[str, Any]]:
    verdicts: dict[str, dict[str, Any]] = {}
    for key, op, bound in TARGETS:
        value = numbers.get(key)
        met = None if value is None else {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[op]
        verdicts[key] = {"target": f"{op} {bound:g}", "value": value, "met": met}
    return verdicts


def _bare_create_start_s(latency: dict[str, Any]) -> float | None:
    phases = latency.get("baseline_phases_ms") or {}
    if "create" not in phases or "start" not in phases:
        return None
    return (phases["create"]["p50"] + phases["start"]["p50"]) / 1000


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def machine() -> dict[str, Any]:
    """Where the numbers come from: a shared 2-core machine gives noisy numbers, so say which."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "kernel": platform.release(), "arch": platform.machine(),
                            "cpu_model": _cpu_model(), "memory_gb": _memory_gb(), "os": _os_name(),
                            "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        client = docker.from_env(timeout=DOCKER_INFO_TIMEOUT)
        docker_info = client.info()
        info["docker"] = {"server": docker_info.get("ServerVersion"), "api": client.version().get("ApiVersion"),
                          "cgroup": docker_info.get("CgroupVersion"), "storage": docker_info.get("Driver"),
                          "containers_running": docker_info.get("ContainersRunning")}
        client.close()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        info["docker"] = {"error": str(exc)}  # a hung engine must not hang a run that does not need it
    return info


def versions() -> dict[str, Any]:
    found: dict[str, Any] = {"python": platform.python_version(), "git": _git_commit()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _os_name() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")
