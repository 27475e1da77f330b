"""``python -m infrastructure preflight`` against the emulator (issue 15, "a failed first deploy can be retried"):
each thing that would make a first deploy fail, or its retry collide, is named in one line before it happens."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cryptography.fernet import Fernet

from local import emulator
from local.launcher import ROOT
from tests import jwt_keys

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's account
TOKENS = ["-c", f"jwt_public_key={jwt_keys.key_pair()[1]}", "-c", f"jwt_issuer={jwt_keys.ISSUER}",
          "-c", "jwt_audience=abaco"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = emulator.free_port()
    proc = emulator.start(port, str(tmp_path_factory.mktemp("preflight") / "emulator.log"))
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(20)


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def preflight(endpoint: str, prefix: str, *extra: str) -> tuple[int, dict[str, str]]:
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    done = subprocess.run([sys.executable, "-m", "infrastructure", "preflight", "--stage", "dev", "-c",
                           f"prefix={prefix}", *TOKENS, *extra], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    lines = {}
    for line in done.stdout.splitlines():
        if ":" in line and line[:4] in ("ok  ", "warn", "FAIL"):
            mark, rest = line[:4].strip(), line[5:]
            lines[rest.split(":", 1)[0]] = f"{mark} {rest.split(':', 1)[1].strip()}"
    return done.returncode, lines


def ready(endpoint: str, prefix: str) -> None:
    """What an operator does before the first deploy: the keys secret, and cdk bootstrap."""
    client(endpoint, "secretsmanager").create_secret(Name=f"{prefix}-dev/encryption-keys",
                                                     SecretString=Fernet.generate_key().decode())
    client(endpoint, "ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="21", Type="String",
                                          Overwrite=True)


def test_a_fresh_account_is_told_to_create_the_secret_and_bootstrap(endpoint: str) -> None:
    code, lines = preflight(endpoint, "fresh")
    assert code == 1
    assert lines["encryption keys secret"].startswith("FAIL fresh-dev/encryption-keys")
    assert lines["CDK bootstrap"].startswith("FAIL") and "cdk bootstrap" in lines["CDK bootstrap"]
    assert lines["payload bucket name"] == f"ok fresh-dev-payloads-{ACCOUNT}-{REGION} is free"
    assert lines["table names"].startswith("ok")


def test_a_prepared_account_is_ready(endpoint: str) -> None:
    ready(endpoint, "good")
    code, lines = preflight(endpoint, "good")
    assert code == 0, lines
    assert lines["encryption keys secret"] == "ok good-dev/encryption-keys holds 1 valid key(s)"
    assert lines["VPC quota"].startswith("ok") and "the stack adds 1" in lines["VPC quota"]
    assert lines["on-demand vCPU quota"].startswith(("ok", "warn"))  # the emulator reports no EC2 quotas


def test_leftovers_of_a_failed_deploy_are_named(endpoint: str) -> None:
    ready(endpoint, "left")
    client(endpoint, "s3").create_bucket(Bucket=f"left-dev-payloads-{ACCOUNT}-{REGION}")
    client(endpoint, "dynamodb").create_table(
        TableName="left-dev-actors", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "tenant", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "tenant", "AttributeType": "S"}])
    code, lines = preflight(endpoint, "left")
    assert code == 1
    assert lines["payload bucket name"].startswith("FAIL") and "does not" in lines["payload bucket name"]
    assert lines["table names"].startswith("FAIL left-dev-actors exist without the stack")


def test_bad_keys_a_missing_token_setting_and_a_full_vpc_quota_fail(endpoint: str) -> None:
    client(endpoint, "secretsmanager").create_secret(Name="badkeys-dev/encryption-keys", SecretString="not-a-key")
    code, lines = preflight(endpoint, "badkeys")
    assert code == 1 and "not a valid Fernet key" in lines["encryption keys secret"]
    assert "not-a-key" not in str(lines)  # the secret's value is never printed
    ec2 = client(endpoint, "ec2")
    while len(ec2.describe_vpcs()["Vpcs"]) < 5:  # the default quota (VPCs per Region)
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    assert preflight(endpoint, "good")[1]["VPC quota"].startswith("FAIL 5 of 5 VPCs used")
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": endpoint}
    done = subprocess.run([sys.executable, "-m", "infrastructure", "preflight", "--stage", "prod"], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "FAIL stage configuration" in done.stdout and "JWT" in done.stdout
