"""``python -m runners``: start one runner host against the configured endpoint.

Before it takes work it checks, in order, that it can reach AWS or the local emulator
(``chalicelib.wiring.endpoint``), the store, and the Docker engine with the mounts every container needs
(``runners.host.selftest``). Whatever fails is logged as one line and the runner exits with code 2 without
registering or serving; systemd restarts it (and so repeats the line) until the cause is fixed.
"""
from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys

from chalicelib.adapters import aws, tracing
from chalicelib.domain.errors import AbacoError
from chalicelib.wiring import endpoint, logconfig
from chalicelib.wiring.backend import Backend, get_backend
from runners.host import lifecycle, selftest
from runners.host.daemon import RunnerHost
from runners.pipeline.engine import DockerEngine, EngineError

LOG = logging.getLogger("abaco.runner")
CANNOT_SERVE = 2


def cannot_serve(backend: Backend | None, where: endpoint.Resolution) -> str | None:
    """The one reason this runner cannot serve, or None."""
    if where.problem or backend is None:
        return where.problem
    try:
        backend.hosts.get("start-up-check")
    except AbacoError as exc:
        return f"the store ({where.where}) does not answer: {exc}"
    try:
        engine = DockerEngine(backend.settings.docker_url)
    except EngineError as exc:
        return str(exc)
    try:
        selftest.run(backend.settings, engine)
    except selftest.SelfTestFailed as exc:
        return f"start-up self-test: {exc}"
    finally:
        engine.close()
    return None


def main() -> int:
    where = endpoint.resolve(os.environ)  # before the settings are read: it may set AWS_ENDPOINT_URL
    backend = None if where.problem else get_backend()
    logconfig.configure("runner", backend.settings.log_format if backend else os.environ.get(
        "ABACO_LOG_FORMAT", "json"))
    reason = cannot_serve(backend, where)
    if reason is not None or backend is None:
        LOG.error("runner cannot serve: %s", reason)
        return CANNOT_SERVE
    LOG.info("runner start-up checks passed: AWS is %s; a self-test container saw its mounts", where.where)
    tracing.configure(backend.settings, "abaco-runner")
    faulthandler.register(signal.SIGUSR1)  # operators: ``kill -USR1 <pid>`` prints every thread's stack
    host = RunnerHost(backend)
    host.install_signal_handlers()
    if backend.settings.asg_name:  # an AWS host: scale-in protection and the drain on termination notices
        notices = lifecycle.ImdsNotices()
        lifecycle.Lifecycle(host, aws.client("autoscaling", backend.settings), backend.settings.asg_name,
                            notices.instance_id(), notices, backend.settings.drain_seconds).start()
    host.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
