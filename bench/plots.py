"""One PNG per suite, each drawn against the baseline measured in the same run (matplotlib, no display)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window (CI has no display)
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench import plots_user, warm_start

OURS, BARE, TARGET = "#1f77b4", "#7f7f7f", "#d62728"
DPI = 110


def write_all(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Every figure whose suite ran; returns the files written."""
    suites = report["suites"]
    draw: dict[str, Callable[[dict[str, Any], dict[str, Any]], Figure]] = {
        "latency": _latency, "throughput": _throughput, "scale_from_zero": _zero, "scale_out": _out,
        "idle": _idle, "api": _api, "warm_start": warm_start.figure, "sync": plots_user.sync_figure,
        "cost": plots_user.cost_figure}
    written = []
    for name, painter in draw.items():
        data = suites.get(name)
        if not data or "error" in data:
            continue
        figure = painter(data, suites)
        figure.text(0.99, 0.01, report["label"], ha="right", va="bottom", fontsize=7, color=BARE)
        path = out_dir / f"{name}.png"
        figure.savefig(path, dpi=DPI)
        plt.close(figure)
        written.append(path)
    return written


def _cdf(ax: Axes, samples: list[float], label: str, color: str) -> None:
    ordered = sorted(samples)
    ax.step(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], where="post", label=label, color=color)


def _latency(data: dict[str, Any], _suites: dict[str, Any]) -> Figure:
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    cold = data.get("cold") or {}
    _cdf(left, data["samples"]["e2e_ms"], "Abaco as shipped: POST -> COMPLETE", OURS)
    if cold:
        _cdf(left, cold["samples"]["e2e_ms"], "Abaco, cold hint: POST -> COMPLETE", "#ff7f0e")
    _cdf(left, data["samples"]["baseline_ms"], "bare Docker: create+start+wait+logs+remove", BARE)
    left.set_xlabel("milliseconds")
    left.set_ylabel("fraction of runs")
    left.legend(loc="lower right", fontsize=8)
    title = (f"No-op actor, {data['runs']} runs, p50: shipped {data['e2e_ms']['p50']:.0f} ms = "
             f"{data['ratio']['p50']:.2f}x")
    if cold:
        title += f", cold {cold['e2e_ms']['p50']:.0f} ms = {cold['ratio']['p50']:.2f}x"
    left.set_title(title + f" bare ({data['baseline_ms']['p50']:.0f} ms)", fontsize=9)
    rows = [("bare Docker", data["baseline_phases_ms"]), ("as shipped", data["phases_ms"])]
    if cold:
        rows.append(("cold hint", cold["phases_ms"]))
    for row, (_, phases) in enumerate(rows):
        _stacked(right, phases, row)
    right.set_yticks(range(len(rows)), [name for name, _ in rows])
    right.set_xlabel("milliseconds (p50 of each phase)")
    right.set_title("Where the time goes", fontsize=10)
    figure.tight_layout()
    return figure


# Phase intervals and bare steps by what they do (one colour per kind, shared by every bar).
KINDS = {"post->queued": "API", "post->received": "API", "queued->dequeued": "queue", "received->claimed": "queue",
         "queued->claimed": "queue", "dequeued->claimed": "claim", "claimed->created": "create", "create": "create",
         "created->started": "start", "claimed->started": "start (warm: dispatch)", "start": "start",
         "started->exited": "run (wait)", "wait": "run (wait)", "exited->finalised": "finalise / logs",
         "logs": "finalise / logs", "remove": "remove"}


def _stacked(ax: Axes, phases: dict[str, dict[str, float]], row: int) -> None:
    left = 0.0
    palette = plt.get_cmap("tab10").colors
    kinds = list(dict.fromkeys(KINDS.values()))
    seen = {t.get_text() for t in ax.get_legend().get_texts()} if ax.get_legend() else set()
    for name, summary in phases.items():
        kind = KINDS.get(name, name)
        width = max(summary["p50"], 0.0)
        shade = palette[kinds.index(kind) % len(palette)] if kind in kinds else BARE
        ax.barh(row, width, left=left, color=shade, edgecolor="white", label=None if kind in seen else kind)
        seen.add(kind)
        if width >= 25:
            ax.text(left + width / 2, row, f"{width:.0f}", ha="center", va="center", fontsize=7, color="white")
        left += width
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=5)


def _throughput(data: dict[str, Any], _suites: dict[str, Any]) -> Figure:
    levels = data["levels"]
    slots = [level["slots"] for level in levels]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = range(len(slots))
    left.bar([i - 0.2 for i in x], [lv["ours_per_s"] for lv in levels], 0.4, label="Abaco, one runner", color=OURS)
    left.bar([i + 0.2 for i in x], [lv["bare_per_s"] for lv in levels], 0.4, label="bare Docker", color=BARE)
    left.set_xticks(list(x), [str(s) for s in slots])
    left.set_xlabel("worker slots = concurrent containers")
    left.set_ylabel("executions per second")
    left.legend(fontsize=8)
    left.set_title("No-op executions per second", fontsize=10)
    right.plot(slots, [lv["ratio"] for lv in levels], marker="o", color=OURS, label="Abaco / bare, same slots")
    right.axhline(0.9, color=TARGET, linestyle="--", label="target 0.9")
    right.set_ylim(0, max(1.1, max(lv["ratio"] for lv in levels) * 1.1))
    right.set_xscale("log", base=2)
    right.set_xticks(slots, [str(s) for s in slots])
    right.set_xlabel("worker slots")
    right.legend(fontsize=8)
    right.set_title(f"Ratio to bare Docker (best vs best: {data['ratio']:.2f})", fontsize=10)
    figure.tight_layout()
    return figure


def _zero(data: dict[str, Any], suites: dict[str, Any]) -> Figure:
    figure, ax = plt.subplots(figsize=(8, 4.5))
    samples = data["samples_s"]
    ax.bar(range(len(samples)), samples, color=OURS, label="Abaco: POST -> container started (no worker)")
    phases = (suites.get("latency") or {}).get("baseline_phases_ms") or {}
    title = f"Scale from zero: p50 {data['seconds']['p50']:.2f} s"
    if "create" in phases and "start" in phases:
        bare = (phases["create"]["p50"] + phases["start"]["p50"]) / 1000
        ax.axhline(bare, color=BARE, label=f"bare Docker create+start p50 ({bare * 1000:.0f} ms)")
        title += f" = {data['seconds']['p50'] / bare:.1f}x bare create+start"
    ax.axhline(1.0, color=TARGET, linestyle="--", label="target 1 s")
    ax.set_xlabel("sample (one idle actor each)")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def _out(data: dict[str, Any], _suites: dict[str, Any]) -> Figure:
    figure, ax = plt.subplots(figsize=(8, 4.5))
    done = data["completions_s"]
    ax.step(done, range(1, len(done) + 1), where="post", color=OURS,
            label=f"Abaco: {data['messages']} messages over {data['actors']} actors")
    bare = data.get("bare_per_s")
    title = f"Scale out: drained in {data['drain_s']:.0f} s, {data['per_s']:.1f} executions/s"
    if bare:
        ideal = data["messages"] / bare
        ax.plot([0, ideal], [0, data["messages"]], color=BARE, linestyle="--",
                label=f"bare Docker, 8 threads, just before ({bare:.1f}/s)")
        title += f" = {data['per_s'] / bare:.2f}x bare"
    ax.set_xlabel("seconds since the first POST")
    ax.set_ylabel("executions finished")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def _idle(data: dict[str, Any], _suites: dict[str, Any]) -> Figure:
    windows = data["windows"]
    ops = sorted({op for w in windows for op in w["by_operation_per_min"]})
    figure, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(windows)
    for index, window in enumerate(windows):
        ax.bar([i + index * width for i in range(len(ops))], [window["by_operation_per_min"].get(op, 0) for op in ops],
               width, label=f"{window['actors']} idle actors (runner CPU {window['runner_cpu_percent']:.1f}%)",
               color=[BARE, OURS][index % 2])
    ax.set_xticks([i + width * (len(windows) - 1) / 2 for i in range(len(ops))], ops, rotation=20, fontsize=7)
    ax.set_ylabel("requests per minute")
    ax.legend(fontsize=8)
    growth = data.get("growth")
    ax.set_title(f"Idle cost, one runner with {data['slots']} slots: growth "
                 f"{windows[0]['actors']} -> {windows[-1]['actors']} actors = {growth}x", fontsize=10)
    figure.tight_layout()
    return figure


def _api(data: dict[str, Any], _suites: dict[str, Any]) -> Figure:
    levels = [k for k in data if k.startswith("c")]
    cases = list(data[levels[0]])
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(levels)
    for index, level in enumerate(levels):
        xs = [i + index * width for i in range(len(cases))]
        left.bar(xs, [data[level][c]["per_s"] for c in cases], width, label=f"{level[1:]} client(s)")
        right.bar(xs, [data[level][c]["latency_ms"]["p99"] for c in cases], width, label=f"{level[1:]} client(s)")
    for ax, label in ((left, "requests per second"), (right, "p99 latency, ms")):
        ax.set_xticks([i + width * (len(levels) - 1) / 2 for i in range(len(cases))], cases, fontsize=8)
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    top = levels[-1]
    ratio = data[top]["get_actor"]["per_s"] / data[top]["store_get_item"]["per_s"]
    left.set_title(f"API vs a raw DynamoDB GetItem (baseline): GET actor = {ratio:.2f}x its rate at "
                   f"{top[1:]} clients", fontsize=9)
    right.set_title("p99 latency", fontsize=10)
    figure.tight_layout()
    return figure
