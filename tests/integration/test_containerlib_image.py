"""The in-container library as shipped in ``abacosamples/py3_base``: typed context and tapipy-style calls."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.test_images import client, run  # noqa: F401 (the Docker client fixture builds images)

SCRIPT = """
import json
from agavepy.actors import get_client, get_typed_context
ctx = get_typed_context()
actors = get_client().actors
print(json.dumps({"message": ctx.message, "is_json": ctx.is_json, "revision": ctx.actor_revision,
                  "token_in_repr": "tok-123" in repr(ctx), "actors": type(actors).__name__}))
"""


@pytest.mark.docker
def test_py3_base_has_the_typed_context_and_the_stdlib_client(client: Any) -> None:  # noqa: F811
    env = {"MSG": "{'a': 1}", "_abaco_Content_Type": "application/json", "_abaco_actor_revision": "2",
           "_abaco_access_token": "tok-123", "_abaco_api_server": "http://127.0.0.1:9"}
    code, logs = run(client, "abacosamples/py3_base", ["python3", "-c", SCRIPT], env)
    assert code == 0, logs
    seen = json.loads(logs.strip().splitlines()[-1])
    assert seen == {"message": {"a": 1}, "is_json": True, "revision": 2, "token_in_repr": False,
                    "actors": "StdlibActors"}  # the image has no SDK: the standard-library subset answers
