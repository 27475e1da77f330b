"""Orphan containers: containers of a dead runner on this host are removed and their attempts marked lost
(the OpenWhisk pattern, reliability plan §1.3 step 6).

A runner id is ``host:pid:random``; a container labelled with a runner of this host whose process is gone
is an orphan. Its execution, if that attempt still holds it, is handed back at once (or ends in ERROR when
its attempts are used up), so the redelivered message does not wait for the lease to expire.
"""
from __future__ import annotations

import logging
import os
import socket
from typing import Any

from chalicelib.domain.errors import AbacoError, Conflict
from chalicelib.domain.models import AttemptReason, ExecutionStatus
from chalicelib.wiring.backend import Backend
from runners.pipeline import warm_container
from runners.pipeline.engine import (
    LABEL_ACTOR,
    LABEL_ATTEMPT,
    LABEL_EXECUTION,
    LABEL_RUNNER,
    LABEL_TENANT,
    DockerEngine,
)

LOG = logging.getLogger("abaco.runner")


def reap_orphans(backend: Backend, runner_id: str) -> int:
    engine = DockerEngine(backend.settings.docker_url)
    reaped = 0
    try:
        for container in engine.labelled(LABEL_RUNNER):
            labels = container.get("Labels") or {}
            owner = labels.get(LABEL_RUNNER, "")
            if owner == runner_id or not dead_sibling(owner):
                continue
            engine.remove(container["Id"])
            reaped += 1
            _mark_lost(backend, {**labels, **warm_container.dispatched_labels(labels)})
    finally:
        engine.close()
    if reaped:
        LOG.info("runner %s: removed %d orphan container(s)", runner_id, reaped)
    return reaped


def _mark_lost(backend: Backend, labels: dict[str, Any]) -> None:
    """Close the orphan's attempt as runner_lost, fenced on the dead runner and its attempt number."""
    try:
        dbid = f"{labels[LABEL_TENANT]}_{labels[LABEL_ACTOR]}"
        execution = backend.executions.find(dbid, labels[LABEL_EXECUTION])
        attempt = int(labels.get(LABEL_ATTEMPT, "0"))
    except (KeyError, ValueError, AbacoError):
        return
    if execution is None or execution.status != ExecutionStatus.RUNNING:
        return
    if execution.runner_id != labels[LABEL_RUNNER] or execution.attempt != attempt:
        return
    max_attempts = execution.max_attempts or backend.settings.max_attempts
    try:
        if execution.charged >= max_attempts:
            backend.executions.fail(execution, f"runner lost, attempts {execution.charged}/{max_attempts}",
                                    reason=AttemptReason.RUNNER_LOST.value, fenced=True)
        else:
            backend.executions.release(execution, AttemptReason.RUNNER_LOST.value)
    except (Conflict, AbacoError) as exc:
        LOG.warning("could not mark attempt %d of %s lost: %s", attempt, execution.id, exc)


def dead_sibling(runner_id: str) -> bool:
    parts = runner_id.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False
