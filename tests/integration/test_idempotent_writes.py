"""A conditional create the AWS SDK retried (chalicelib/adapters/storage/base.py ``Table.put``).

botocore retries a request whose answer was lost (a read timeout, a dropped connection). For a create
conditioned on ``attribute_not_exists`` the retry finds the item the first attempt wrote: CI saw
``POST /messages`` answer 409 "Execution id ... already exists." under load although the execution had been
created. Here the retry is played on the session's emulator over HTTP: the same put twice. The second
finds its own item and succeeds; a put of a different item under the same key still fails.
"""
from __future__ import annotations

import secrets

import pytest

from chalicelib.adapters.storage.base import ConditionFailed, Table
from chalicelib.wiring import resources
from chalicelib.wiring.settings import Settings
from local import bootstrap
from local.launcher import Stack


@pytest.fixture()
def executions(stack: Stack) -> Table:
    settings = Settings(AWS_ENDPOINT_URL=stack.env["AWS_ENDPOINT_URL"], AWS_DEFAULT_REGION="us-east-1",
                        resource_prefix=f"abaco-id{secrets.token_hex(3)}")
    bootstrap.bootstrap(settings)
    return Table(resources.EXECUTIONS, settings)


def test_a_retried_create_finds_its_own_item_and_succeeds(executions: Table) -> None:
    item = {"actor_dbid": {"S": "T_a"}, "execution_id": {"S": "e1"}, "status": {"S": "SUBMITTED"},
            "cpu": {"N": "1.50"}}
    condition = "attribute_not_exists(execution_id)"
    executions.put(item, condition=condition)
    executions.put(item, condition=condition)  # the SDK's retry of the same request
    assert executions.get({"actor_dbid": {"S": "T_a"}, "execution_id": {"S": "e1"}})["status"] == {"S": "SUBMITTED"}
    with pytest.raises(ConditionFailed):
        executions.put({**item, "status": {"S": "RUNNING"}}, condition=condition)
