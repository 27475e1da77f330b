"""A synchronous message's answer reads the logs and the results only when the terminal write says the attempt
stored some (``Execution.log_bytes``, ``results_stored``); an execution that does not say (an older runner's)
is read as before. Against in-process moto, the store's reads counted."""
from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain.models import Execution, ExecutionStatus
from chalicelib.services import executions
from chalicelib.wiring.backend import Backend
from tests.unit.test_protocol import (
    backend,  # noqa: F401 (fixture)
    registered_actor,
)


def _finished(backend: Backend, actor: Any, **fields: Any) -> Execution:  # noqa: F811
    execution = Execution(tenant=actor.tenant, actor_id=actor.id, id=f"E{time.time_ns()}", executor="u",
                          status=ExecutionStatus.COMPLETE, exit_code=0, **fields)
    backend.executions.create(execution)
    return execution


def _reads(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> list[str]:  # noqa: F811
    seen: list[str] = []
    read, pop = backend.logs.read, backend.results.pop
    monkeypatch.setattr(backend.logs, "read", lambda key: seen.append("logs") or read(key))
    monkeypatch.setattr(backend.results, "pop", lambda key: seen.append("results") or pop(key))
    return seen


def test_an_attempt_that_stored_nothing_is_answered_without_reads(backend: Backend,  # noqa: F811
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    actor = registered_actor(backend)
    quiet = _finished(backend, actor, log_bytes=0, results_stored=0)
    reads = _reads(backend, monkeypatch)
    outcome = executions.wait_synchronous(backend, actor, quiet.id, timeout=5)
    assert reads == [] and outcome.logs == "" and outcome.result is None


def test_logs_and_results_are_read_when_stored_or_not_said(backend: Backend,  # noqa: F811
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    actor = registered_actor(backend)
    loud = _finished(backend, actor, log_bytes=6, results_stored=1)
    backend.logs.write(execution_key(actor.dbid, loud.id), "hello\n", None, attempt=1)
    backend.results.append(execution_key(actor.dbid, loud.id), 1, b"r1", int(time.time()) + 3600)
    older = _finished(backend, actor)  # no log_bytes, no results_stored: an older runner's
    backend.logs.write(execution_key(actor.dbid, older.id), "before\n", None, attempt=1)
    reads = _reads(backend, monkeypatch)
    outcome = executions.wait_synchronous(backend, actor, loud.id, timeout=5)
    assert sorted(reads) == ["logs", "results"] and outcome.logs == "hello\n" and outcome.result == b"r1"
    reads.clear()
    outcome = executions.wait_synchronous(backend, actor, older.id, timeout=5)
    assert sorted(reads) == ["logs", "results"] and outcome.logs == "before\n" and outcome.result is None
