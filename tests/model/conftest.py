"""One in-process moto (``mock_aws``) per package for the model-based tests: the real storage, queue,
service and runner code runs against it; each Hypothesis example registers its own actors."""
from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters import aws
from chalicelib.identity.auth import Caller
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import bootstrap
from tests.model.world import REGION, World


@pytest.fixture(scope="package")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.delenv("AWS_ENDPOINT_URL", raising=False)  # boto3 would send to it instead of moto
        with mock_aws():
            patch.setattr(aws, "client", lambda service, _settings: boto3.client(service, region_name=REGION))
            # The plan's test timings (§6): visibility timeout and lease 10 s, heartbeat 3 s.
            # One shard of the open index: moto answers each index query by reading the whole table, and the
            # machines run the reconciler hundreds of times (sharding is tested in tests/unit/test_protocol.py).
            settings = Settings(resource_prefix=f"model{time.time_ns()}", visibility_timeout=10,
                                heartbeat_seconds=3, receive_wait_seconds=0, max_attempts=2, open_index_shards=1)
            bootstrap.create_tables(settings)
            bootstrap.create_queues(settings)
            yield World(Backend.from_settings(settings), Caller(username="modeller", tenant="MODEL"))
