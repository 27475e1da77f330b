"""The executions store maps its items explicitly (chalicelib/adapters/storage/executions.py): the model's
``id`` is stored as the sort key ``execution_id``, the store's own attributes never reach the model, and a
record read back is the record written."""
from __future__ import annotations

import time

import boto3

from chalicelib.domain.models import Execution
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.resources import EXECUTIONS
from tests.unit.test_protocol import backend  # noqa: F401 (fixture)


def test_an_execution_is_stored_under_its_attribute_names_and_read_back_whole(backend: Backend) -> None:  # noqa: F811
    execution = Execution(tenant="T", actor_id="A1", id=f"E{time.time_ns()}", executor="u", final_state={"x": 1})
    backend.executions.create(execution)
    client = boto3.client("dynamodb", region_name="us-east-1")
    key = {"actor_dbid": {"S": "T_A1"}, "execution_id": {"S": execution.id}}
    item = client.get_item(TableName=EXECUTIONS.physical(backend.settings.resource_prefix), Key=key)["Item"]
    assert "id" not in item and item["execution_id"]["S"] == execution.id
    assert backend.executions.get(execution.actor_dbid, execution.id) == execution
