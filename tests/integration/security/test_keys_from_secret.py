"""Fernet keys read from Secrets Manager on first use (``ABACO_ENCRYPTION_KEYS_SECRET_ID``), not placed in
the API's environment (docs/security.md §2.8), over HTTP against an API whose environment has no keys."""
from __future__ import annotations

import secrets
from collections.abc import Iterator

import boto3
import pytest
from cryptography.fernet import Fernet

from chalicelib.adapters.crypto import FernetCipher
from local.launcher import Stack
from tests.conftest import Api, start_stack
from tests.integration.conftest import tenant_api

KEY = Fernet.generate_key().decode()
TENANT = "SEC-KEYS"


@pytest.fixture(scope="module")
def keyed(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    name = f"abaco-test-keys-{secrets.token_hex(3)}"
    client = boto3.client("secretsmanager", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_secret(Name=name, SecretString=KEY)
    private = start_stack(tmp_path_factory.mktemp("keys"), runners=0, emulator_url=stack.env["AWS_ENDPOINT_URL"],
                          env={"ABACO_ENCRYPTION_KEYS_SECRET_ID": name, "ABACO_ENCRYPTION_KEYS": ""})
    yield Api(private.api_url)
    private.stop()
    client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_config_secrets_are_sealed_with_the_keys_from_the_secret(keyed: Api) -> None:
    t = tenant_api(keyed, TENANT)
    actor = t.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    name, value = f"cfg-{secrets.token_hex(3)}", f"v-{secrets.token_hex(6)}"
    t.ok("POST", "/actors/configs", json={"name": name, "value": value, "is_secret": True, "actors": actor})
    token = t.ok("GET", f"/actors/configs/{name}")["value"]
    assert value not in token
    assert FernetCipher([KEY]).decrypt(TENANT, token, name) == value
