"""Loaded by a test's child process through ``PYTHONPATH`` (Python imports ``sitecustomize`` at start):
appends one JSON line per distinct AWS call the process makes, ``{"service", "operation", "resources"}``,
to the file named by ``ABACO_TEST_RECORD_AWS``. The calls still go to the real endpoint unchanged; only
the recording is added (``tests/integration/test_runner_iam.py`` compares them with the IAM policy)."""
from __future__ import annotations

import json
import os
import threading
from typing import Any

import botocore.session

_PATH = os.environ.get("ABACO_TEST_RECORD_AWS", "")
_SEEN: set[str] = set()
_LOCK = threading.Lock()
_create_client = botocore.session.Session.create_client


def _resources(params: dict[str, Any]) -> list[str]:
    found = []
    for key in ("TableName", "QueueName", "Bucket", "KeyId", "SecretId", "Path", "Name", "Namespace"):
        if isinstance(params.get(key), str):
            found.append(params[key])
    if isinstance(params.get("QueueUrl"), str):
        found.append(params["QueueUrl"].rsplit("/", 1)[-1])
    for key in ("RequestItems", "TransactItems"):
        value = params.get(key)
        if isinstance(value, dict):
            found += list(value)
        elif isinstance(value, list):
            found += [op.get("TableName", "") for item in value for op in item.values() if isinstance(op, dict)]
    if params.get("IndexName"):
        found = [f"{name}/index/{params['IndexName']}" for name in found]
    return sorted(set(found))


def _record(params: dict[str, Any], model: Any, **_: Any) -> None:
    line = json.dumps({"service": model.service_model.signing_name or model.service_model.endpoint_prefix,
                       "operation": model.name, "resources": _resources(params)}, sort_keys=True)
    with _LOCK:
        if line in _SEEN:
            return
        _SEEN.add(line)
        with open(_PATH, "a") as out:
            out.write(line + "\n")


def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
    client = _create_client(self, *args, **kwargs)
    client.meta.events.register("before-parameter-build", _record)
    return client


if _PATH:
    botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
