"""Figures of issue 18's suites: what the user waits for (per round, against bare docker run) and the cost
of one execution (CPU by process, AWS requests by operation)."""
from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window (CI has no display)
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

COLORS = {"bare": "#7f7f7f", "sync": "#1f77b4", "sync_cold": "#ff7f0e", "async": "#2ca02c"}
LABELS = {"bare": "bare docker run", "sync": "synchronous, warm start", "sync_cold": "synchronous, cold",
          "async": "POST + blocking wait"}


def sync_figure(data: dict[str, Any], _suites: dict[str, Any]) -> Figure:
    """Every run of every round (dots) and each round's p50 (bars), by kind."""
    figure, ax = plt.subplots(figsize=(12, 4.5))
    rounds = data["samples"]["bare"]
    width = 0.8 / len(COLORS)
    for offset, kind in enumerate(COLORS):
        for index, values in enumerate(data["samples"][kind]):
            x = index + offset * width
            ax.bar(x, data["rounds"][index]["p50_ms"][kind], width, color=COLORS[kind], alpha=0.5,
                   label=LABELS[kind] if index == 0 else None)
            ax.scatter([x] * len(values), values, s=6, color=COLORS[kind])
    ax.set_xticks([i + width * (len(COLORS) - 1) / 2 for i in range(len(rounds))],
                  [f"round {i + 1}" for i in range(len(rounds))])
    ax.set_ylabel("ms, POST to the last byte of the answer")
    ax.legend(fontsize=8)
    ax.set_title(f"What the user waits for: warm {data.get('sync_ratio_p50')}x bare "
                 f"{data.get('sync_ratio_p50_spread')}, cold {data.get('sync_cold_ratio_p50')}x "
                 f"{data.get('sync_cold_ratio_p50_spread')} (median of the rounds [min, max])", fontsize=10)
    figure.tight_layout()
    return figure


def cost_figure(data: dict[str, Any], _suites: dict[str, Any]) -> Figure:
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    cpu = data["cpu_ms_per_execution"]
    left.bar(list(cpu), list(cpu.values()), color=["#1f77b4", "#ff7f0e", "#7f7f7f"][:len(cpu)])
    left.set_ylabel("CPU ms per execution")
    left.set_title(f"CPU per execution: ours (API + runner) {data['our_cpu_ms_per_execution']} ms", fontsize=10)
    ops = data["requests_by_operation"]
    right.barh(list(ops), list(ops.values()), color="#1f77b4")
    right.set_xlabel("AWS requests per execution")
    right.set_title(f"AWS requests per execution (API + runner): {data['requests_per_execution']}", fontsize=10)
    figure.tight_layout()
    return figure
