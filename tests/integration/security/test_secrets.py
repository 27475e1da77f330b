"""Secrets (plan T24): KMS envelopes bound to tenant and config, and a canary secret that reaches the
container and nowhere else: not API responses, not the API or runner logs, not a DynamoDB item."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import tarfile
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest

from chalicelib.adapters.crypto import DecryptionError
from chalicelib.adapters.kms import KMS_SCHEME, KmsEnvelopeCipher
from chalicelib.wiring import resources
from local.launcher import Stack
from tests.integration.security.test_nonces import _dump_tables

DIGEST_IMAGE = "abaco-test/secret-digest"
DIGEST_SCRIPT = """
import ast, hashlib, os
configs = ast.literal_eval(os.environ.get("_actor_configs") or "{}")
value = configs.get(os.environ.get("SECRET_NAME", ""), "")
print("DIGEST", hashlib.sha256(value.encode()).hexdigest(), len(value), flush=True)
"""


def _kms(stack: Stack) -> Any:
    return boto3.client("kms", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def cipher(stack: Stack) -> KmsEnvelopeCipher:
    """The KMS backend against the session emulator's key (created by the bootstrap)."""
    return KmsEnvelopeCipher(_kms(stack), resources.kms_alias(stack.env["ABACO_RESOURCE_PREFIX"]))


def test_kms_envelopes_round_trip_and_hide_the_value(cipher: KmsEnvelopeCipher) -> None:
    token = cipher.encrypt("T1", "s3cr3t-value", "db-password")
    assert token.startswith(KMS_SCHEME) and "s3cr3t" not in token
    assert cipher.decrypt("T1", token, "db-password") == "s3cr3t-value"
    assert cipher.encrypt("T1", "s3cr3t-value", "db-password") != token  # a fresh data key and nonce each time


def test_a_token_moved_to_another_tenant_or_config_does_not_open(cipher: KmsEnvelopeCipher) -> None:
    token = cipher.encrypt("T1", "only for T1", "cfg")
    for tenant, name in [("T2", "cfg"), ("T1", "other-cfg")]:
        with pytest.raises(DecryptionError):
            cipher.decrypt(tenant, token, name)


def test_data_keys_are_cached_per_context_and_a_changed_secret_is_never_stale(stack: Stack) -> None:
    """With ABACO_KMS_DATA_KEY_CACHE_SECONDS, a secret decrypted again costs no KMS call; a re-encrypted
    (changed) secret has a new data key, so it is read fresh; a token moved to another tenant still goes
    to KMS, which refuses it."""
    client = _kms(stack)
    decrypts: list[str] = []
    client.meta.events.register("before-call.kms.Decrypt", lambda **_: decrypts.append("Decrypt"))
    cached = KmsEnvelopeCipher(client, resources.kms_alias(stack.env["ABACO_RESOURCE_PREFIX"]), cache_seconds=300)
    config = f"cfg-{secrets.token_hex(3)}"
    token = cached.encrypt("T1", "first", config)
    assert [cached.decrypt("T1", token, config) for _ in range(3)] == ["first"] * 3
    assert len(decrypts) == 1  # one KMS Decrypt, then the cached data key
    changed = cached.encrypt("T1", "second", config)
    assert cached.decrypt("T1", changed, config) == "second" and len(decrypts) == 2
    with pytest.raises(DecryptionError):
        cached.decrypt("T2", token, config)  # another context: never served from the cache
    assert len(decrypts) == 3
    uncached = KmsEnvelopeCipher(client, resources.kms_alias(stack.env["ABACO_RESOURCE_PREFIX"]))
    assert [uncached.decrypt("T1", changed, config) for _ in range(2)] == ["second"] * 2
    assert len(decrypts) == 5  # cache_seconds 0: KMS every time


def test_kms_itself_refuses_the_data_key_under_another_context(cipher: KmsEnvelopeCipher, stack: Stack) -> None:
    token = cipher.encrypt("T1", "value", "cfg")
    blob = base64.urlsafe_b64decode(json.loads(base64.urlsafe_b64decode(token[len(KMS_SCHEME):]))["k"])
    kms = _kms(stack)
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "T2", "purpose": "abaco-config-secret",
                                                            "name": "cfg"})


def test_a_flipped_byte_is_detected(cipher: KmsEnvelopeCipher) -> None:
    token = cipher.encrypt("T1", "value", "cfg")
    body = json.loads(base64.urlsafe_b64decode(token[len(KMS_SCHEME):]))
    sealed = bytearray(base64.urlsafe_b64decode(body["c"]))
    sealed[0] ^= 1
    body["c"] = base64.urlsafe_b64encode(bytes(sealed)).decode()
    forged = KMS_SCHEME + base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
    with pytest.raises(DecryptionError):
        cipher.decrypt("T1", forged, "cfg")
    with pytest.raises(DecryptionError):
        cipher.decrypt("T1", KMS_SCHEME + "garbage", "cfg")


@pytest.fixture(scope="module")
def digest_image() -> str:
    """An actor that prints the sha256 of one config value, never the value (built offline)."""
    dockerfile = 'FROM abacosamples/py3_base\nCOPY digest.py /digest.py\nCMD ["python3", "/digest.py"]\n'
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, text in (("Dockerfile", dockerfile), ("digest.py", DIGEST_SCRIPT)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    context.seek(0)
    client = docker.from_env(timeout=300)
    try:
        client.images.build(fileobj=context, custom_context=True, tag=DIGEST_IMAGE, rm=True, pull=False)
    finally:
        client.close()
    return DIGEST_IMAGE


@pytest.mark.docker
def test_a_canary_secret_reaches_only_the_container(jwt_stack: Stack, client: Any, digest_image: str) -> None:
    canary = f"CANARY-{secrets.token_hex(16)}"
    owner = client("sally")
    seen: list[str] = []  # every API response body of this test

    def ok(method: str, path: str, **kwargs: Any) -> Any:
        response = owner.call(method, path, **kwargs)
        seen.append(response.text)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    actor = ok("POST", "/actors", json={"image": digest_image})["id"]
    created = ok("POST", "/actors/configs", json={"name": "canary-config", "value": canary, "is_secret": True,
                                                  "actors": actor})
    assert created["value"].startswith(KMS_SCHEME)  # the jwt stack runs with ABACO_SECRETS_BACKEND=kms
    ok("GET", "/actors/configs/canary-config")
    ok("GET", "/actors/configs")
    ok("PUT", "/actors/configs/canary-config", json={"value": canary, "is_secret": True, "actors": actor})
    sent = ok("POST", f"/actors/{actor}/messages?SECRET_NAME=canary-config", data={"message": "go"})
    execution = owner.wait_execution(actor, sent["execution_id"])
    assert execution["status"] == "COMPLETE", execution
    logs = ok("GET", f"/actors/{actor}/executions/{sent['execution_id']}/logs")["logs"]
    ok("GET", f"/actors/{actor}/executions/{sent['execution_id']}")
    ok("GET", "/actors/search/actors")
    ok("GET", "/actors/search/logs")
    assert f"DIGEST {hashlib.sha256(canary.encode()).hexdigest()} {len(canary)}" in logs  # it was in there
    assert not [body for body in seen if canary in body]
    for log in Path(jwt_stack.log_dir).glob("*.log"):
        assert canary not in log.read_text(errors="replace"), f"the canary is in {log.name}"
    assert canary not in _dump_tables(jwt_stack)
