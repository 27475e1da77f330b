"""Prometheus metrics of one runner host, served as text on 127.0.0.1 (``ABACO_RUNNER_METRICS_PORT``).

A few counters, gauges and summaries in the Prometheus text exposition format (version 0.0.4); small
enough that the runner needs no client library. The registry is per host (tests start several hosts in
one process), and every update is thread-safe.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = tuple[tuple[str, str], ...]


class Registry:
    """Named metrics with labels; ``render`` gives the exposition text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}  # name -> (type, help)
        self._values: dict[tuple[str, Labels], float] = {}
        self._gauges: dict[str, Callable[[], float]] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] = value

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """A summary without quantiles: ``_count`` and ``_sum``."""
        self.inc(f"{name}_count", 1.0, **labels)
        self.inc(f"{name}_sum", seconds, **labels)

    def gauge_fn(self, name: str, read: Callable[[], float]) -> None:
        """A gauge computed when scraped (worker counts, free slots)."""
        self._gauges[name] = read

    def value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        with self._lock:
            values = dict(self._values)
        for name, read in self._gauges.items():
            try:
                values[(name, ())] = float(read())
            except Exception:  # a gauge that cannot be read is left out of this scrape
                continue
        lines: list[str] = []
        seen: set[str] = set()
        for (name, labels), value in sorted(values.items()):
            base = name.removesuffix("_count").removesuffix("_sum")
            family = base if base in self._help else name
            if family not in seen and family in self._help:
                kind, text = self._help[family]
                lines += [f"# HELP {family} {text}", f"# TYPE {family} {kind}"]
                seen.add(family)
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{name}{{{label_text}}} {value:g}" if labels else f"{name} {value:g}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def standard_registry() -> Registry:
    """The runner's metric families with their help text."""
    registry = Registry()
    for name, kind, text in (
        ("abaco_executions_total", "counter", "Messages handled, by outcome"),
        ("abaco_duplicates_suppressed_total", "counter", "Duplicate or late deliveries dropped without a container"),
        ("abaco_stale_write_rejected_total", "counter", "Writes refused because a newer attempt holds the execution"),
        ("abaco_fenced_total", "counter", "Containers killed because their lease could not be renewed"),
        ("abaco_host_fenced_total", "counter", "Times this host was cut off from the store and fenced itself"),
        ("abaco_host_reconnected_total", "counter", "Times this host re-registered after being cut off"),
        ("abaco_dead_lettered_total", "counter", "Poison messages moved to the dead-letter queue"),
        ("abaco_handed_back_total", "counter", "Messages made visible again at shutdown"),
        ("abaco_start_failures_total", "counter", "Containers that could not be created or started"),
        ("abaco_orphans_reaped_total", "counter", "Containers of dead runners removed at start-up"),
        ("abaco_duty_runs_total", "counter", "Passes of leased duties run by this host"),
        ("abaco_phase_seconds", "summary", "Seconds between execution phases (queued, claimed, started, exited)"),
        ("abaco_workers", "gauge", "Worker threads on this host"),
        ("abaco_free_slots", "gauge", "Execution slots on this host neither running a container nor pinned"),
        ("abaco_running_containers", "gauge", "Containers this host is running"),
        ("abaco_workers_started_total", "counter", "Workers started on this host (each took its REQUESTED record)"),
        ("abaco_workers_activated_total", "counter", "Parked workers this host took for a message (any host's)"),
        ("abaco_workers_retired_total", "counter", "Idle pollers parked for another actor's worker at the bound"),
    ):
        registry.describe(name, kind, text)
    return registry


class MetricsServer:
    """``GET /metrics`` on 127.0.0.1 in a daemon thread."""

    def __init__(self, registry: Registry, port: int) -> None:
        handler = _handler(registry)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: Registry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = registry.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:  # scrapes are not worth a log line
            return

    return Handler
