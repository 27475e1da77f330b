"""Warm start (architecture §13): the next container of a worker's actor is already running.

While a worker runs an execution (or waits for messages), a filler thread creates and starts the next
container for the same actor, revision and limits: the same ``ContainerSpec`` and host config as a cold
start, except that its entrypoint is the entry shim (``runners.pipeline.shim``) waiting on a control FIFO. When the
next message comes, ``acquire`` hands that container out and ``start`` writes the execution's environment
and program into the FIFO: the actor's process runs within milliseconds. One pre-started container serves
exactly one execution and is then removed, as a cold one is; the filler pre-starts the next.

Cold start remains the fallback: when warm start is off (``ABACO_WARM_START``, or the actor's ``cold``
hint), when the pool is empty or its container is not ready, when the host or actor bound is reached, and
for messages that need a per-execution bind mount (binary and large messages, delivered from S3). Waiting
containers are bounded per host and per actor (``WarmPool``), live as long as their worker (so they go
with a new revision, the actor's deletion, the worker's time to live and the host's shutdown), and carry
the runner label, so a restarted runner's reaper removes them after a crash.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from chalicelib.domain.models import Actor
from chalicelib.wiring.settings import Settings
from runners.metrics import Registry
from runners.pipeline import delivery as deliveries
from runners.pipeline import shim
from runners.pipeline.containers import Acquired, ColdStart, ContainerSource
from runners.pipeline.engine import LABEL_ACTOR, LABEL_RUNNER, LABEL_TENANT, ContainerSpec, DockerEngine, EngineError
from runners.pipeline.warm_container import Waiting, dispatch_to, prestart

LOG = logging.getLogger("abaco.runner")
COLD_HINT = "cold"  # an actor with this hint always starts cold
FILL_WAIT_SECONDS = 2.0  # acquire waits for a pre-start under way: what is left of it beats a cold start
RETRY_SECONDS = 5.0  # pause after a failed pre-start
MAX_FAILURES = 3  # consecutive failed pre-starts of one shape before the worker stops trying
CLOSE_JOIN_SECONDS = 15.0


class WarmPool:
    """Host-wide bounds on waiting containers: at most ``per_host`` in all, ``per_actor`` per actor."""

    def __init__(self, per_host: int, per_actor: int) -> None:
        self.per_host = per_host
        self.per_actor = per_actor
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Registry) -> WarmPool:
        pool = cls(settings.warm_pool_per_host, settings.warm_pool_per_actor)
        metrics.describe("abaco_warm_starts_total", "counter", "Executions by container source (hit, miss, cold)")
        metrics.describe("abaco_warm_prestarts_total", "counter", "Warm containers pre-started, by outcome")
        metrics.gauge_fn("abaco_warm_waiting", pool.waiting)
        return pool

    def reserve(self, actor: str) -> bool:
        with self._lock:
            if sum(self._counts.values()) >= self.per_host or self._counts.get(actor, 0) >= self.per_actor:
                return False
            self._counts[actor] = self._counts.get(actor, 0) + 1
            return True

    def release(self, actor: str) -> None:
        with self._lock:
            left = self._counts.get(actor, 0) - 1
            if left > 0:
                self._counts[actor] = left
            else:
                self._counts.pop(actor, None)

    def waiting(self, actor: str | None = None) -> int:
        with self._lock:
            return sum(self._counts.values()) if actor is None else self._counts.get(actor, 0)


@dataclass
class _Dispatch:
    waiting: Waiting
    message: bytes
    labels: dict[str, str]


PER_EXECUTION_MOUNTS = (deliveries.BINARY_PATH, deliveries.MESSAGE_PATH)  # only known at dispatch


def shape_of(spec: ContainerSpec) -> ContainerSpec:
    """What a pre-started container must share with the execution's spec: everything but the
    per-execution environment, labels and results socket (the actor's own mounts stay)."""
    return replace(spec, environment={},
                   binds={k: v for k, v in spec.binds.items() if v.get("bind") != deliveries.RESULTS_PATH},
                   labels={k: v for k, v in spec.labels.items() if k in (LABEL_RUNNER, LABEL_ACTOR, LABEL_TENANT)})


def eligible(spec: ContainerSpec, actor: Actor) -> bool:
    """Warm start serves messages without a per-execution file to mount (binary and large messages have
    one, and bind mounts are fixed when a container is created)."""
    if COLD_HINT in actor.hints or spec.entrypoint is not None or spec.command is not None:
        return False
    return not any(bind.get("bind") in PER_EXECUTION_MOUNTS for bind in spec.binds.values())


def source_for(settings: Settings, engine: DockerEngine, pool: WarmPool | None, metrics: Registry,
               work_root: Path) -> ContainerSource:
    """The worker's container source: warm when the deployment allows it and the shim can run, else cold."""
    cold = ColdStart(engine)
    if pool is None or not settings.warm_start:
        return cold
    if not shim.is_static_elf(settings.warm_shim):
        LOG.warning("warm start off: %s is not a statically linked executable", settings.warm_shim)
        return cold
    return WarmSource(settings, cold, pool, metrics, work_root / "warm")


class WarmSource:
    """One worker's warm container and its filler thread (the Docker client is not shared: the filler
    has its own)."""

    def __init__(self, settings: Settings, cold: ColdStart, pool: WarmPool, metrics: Registry, root: Path) -> None:
        self.settings = settings
        self.cold = cold
        self.pool = pool
        self.metrics = metrics
        self.root = root
        self._cond = threading.Condition()
        self._waiting: Waiting | None = None
        self._discard: list[Waiting] = []
        self._wanted: ContainerSpec | None = None  # the shape to keep ready (set after a successful start)
        self._pending: ContainerSpec | None = None  # the shape of the execution being started
        self._filling: ContainerSpec | None = None
        self._failures = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._fill_loop, name="warm-filler", daemon=True)
        self._thread.start()

    # --- the container source ------------------------------------------------------------------
    def acquire(self, spec: ContainerSpec, actor: Actor) -> Acquired:
        if not eligible(spec, actor):
            self._pending = None
            if COLD_HINT in actor.hints:
                self._want(None)
            self.metrics.inc("abaco_warm_starts_total", source="cold")
            return self.cold.acquire(spec, actor)
        shape = shape_of(spec)
        self._pending = shape
        waiting = self._take(shape)
        if waiting is not None:
            try:
                message = shim.control_message(
                    shim.docker_environment(spec.environment, waiting.config.get("Env") or []),
                    shim.program(waiting.config))
            except shim.NotWarmable as exc:
                LOG.info("execution needs a cold start: %s", exc)
                self._put_back(waiting)
            else:
                self.metrics.inc("abaco_warm_starts_total", source="warm")
                return Acquired(cid=waiting.cid, output=waiting.output, created_at=time.time(),
                                results=waiting.results, phases={"prestarted": waiting.prestarted_at},
                                handle=_Dispatch(waiting, message, dict(spec.labels)))
        self.metrics.inc("abaco_warm_starts_total", source="miss")
        return self.cold.acquire(spec, actor)

    def start(self, container: Acquired) -> float:
        dispatch = container.handle
        if not isinstance(dispatch, _Dispatch):
            started = self.cold.start(container)
            self._want(self._pending)
            return started
        baseline = dispatch_to(dispatch.waiting, dispatch.message, dispatch.labels)
        started = time.time()
        container.dispatched_at, container.cpu_baseline = started, baseline
        self._want(self._pending)
        return started

    def release(self, container: Acquired, remove: bool = True) -> None:
        dispatch = container.handle
        if not isinstance(dispatch, _Dispatch):
            self.cold.release(container, remove)
            return
        try:
            if remove:
                self.cold.release(container, remove)
        finally:
            dispatch.waiting.dispose()

    def close(self) -> None:
        """Drain: the filler removes the waiting container (and any discarded ones) and exits."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(CLOSE_JOIN_SECONDS)

    # --- the pool --------------------------------------------------------------------------------
    def _take(self, shape: ContainerSpec) -> Waiting | None:
        deadline = time.monotonic() + FILL_WAIT_SECONDS
        with self._cond:
            while self._waiting is None and self._filling == shape and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            waiting, self._waiting = self._waiting, None
            if waiting is None:
                return None
            self.pool.release(waiting.key)  # dispatched or discarded: no longer waiting either way
            if waiting.shape == shape and waiting.alive():
                return waiting
            LOG.info("pre-started container %s not used: %s", waiting.cid[:12],
                     "its shim is gone" if waiting.shape == shape else "the actor's container changed")
            self._discard.append(waiting)
            self._cond.notify_all()
        return None

    def _put_back(self, waiting: Waiting) -> None:
        with self._cond:
            if self._waiting is None and not self._stopped and self.pool.reserve(waiting.key):
                self._waiting = waiting
            else:
                self._discard.append(waiting)
            self._cond.notify_all()

    def _want(self, shape: ContainerSpec | None) -> None:
        """Keep a container of ``shape`` ready (None: none); a waiting one of another shape goes."""
        with self._cond:
            if shape != self._wanted:
                self._failures = 0
            self._wanted = shape
            if self._waiting is not None and self._waiting.shape != shape:
                self.pool.release(self._waiting.key)
                self._discard.append(self._waiting)
                self._waiting = None
            self._cond.notify_all()

    def _fill_loop(self) -> None:
        engine: DockerEngine | None = None
        try:
            engine = DockerEngine(self.settings.docker_url)
            while True:
                with self._cond:
                    while not self._stopped and not self._discard and not self._needs_fill():
                        self._cond.wait()
                    if self._stopped:
                        break
                    discard, self._discard = self._discard, []
                    shape = self._wanted if self._needs_fill() else None
                    self._filling = shape
                self._remove_all(engine, discard)
                if shape is not None:
                    self._fill(engine, shape)
        except Exception:
            LOG.exception("warm filler stopped")
        finally:
            self._drain(engine)

    def _needs_fill(self) -> bool:
        return self._wanted is not None and self._waiting is None and self._failures < MAX_FAILURES

    def _fill(self, engine: DockerEngine, shape: ContainerSpec) -> None:
        key = shape.labels.get(LABEL_TENANT, "") + "_" + shape.labels.get(LABEL_ACTOR, "")
        if not self.pool.reserve(key):
            with self._cond:
                self._filling = None
                self._cond.wait(RETRY_SECONDS)  # bound reached: look again later
            return
        try:
            waiting = prestart(engine, shape, key, self.root, self.settings.warm_shim)
        except Exception as exc:  # any failure to pre-start leaves the worker on cold starts, never broken
            self.pool.release(key)
            self.metrics.inc("abaco_warm_prestarts_total", outcome="failed")
            LOG.warning("could not pre-start a container of %s: %s", shape.image, exc)
            with self._cond:
                self._failures += 1
                self._filling = None
                self._cond.notify_all()
                self._cond.wait(RETRY_SECONDS)
            return
        self.metrics.inc("abaco_warm_prestarts_total", outcome="ok")
        with self._cond:
            self._filling = None
            if self._stopped or shape != self._wanted or self._waiting is not None:
                self.pool.release(key)
                self._discard.append(waiting)
            else:
                self._failures = 0
                self._waiting = waiting
            self._cond.notify_all()

    def _drain(self, engine: DockerEngine | None) -> None:
        with self._cond:
            left = [w for w in (self._waiting, *self._discard) if w is not None]
            if self._waiting is not None:
                self.pool.release(self._waiting.key)
            self._waiting, self._discard = None, []
        if engine is None:
            engine = DockerEngine(self.settings.docker_url)
        try:
            self._remove_all(engine, left)
        finally:
            engine.close()

    @staticmethod
    def _remove_all(engine: DockerEngine, containers: list[Waiting]) -> None:
        for waiting in containers:
            try:
                engine.remove(waiting.cid)
            except EngineError as exc:
                LOG.error("could not remove warm container %s: %s", waiting.cid[:12], exc)
            waiting.dispose()
