"""``make preflight`` / ``python -m infrastructure preflight``: what would make a deploy fail, checked first.

A first ``cdk deploy`` that fails half-way costs a rollback and often leaves named resources in the way of the
retry. Each check reads the account with the caller's credentials (or ``AWS_ENDPOINT_URL``, the emulator in
the tests) and prints one line; the exit code is 1 when any check failed:

* the stage's configuration synthesises (a JWT key, issuer and audience; see ``abaco_infra/config.py``);
* the encryption keys secret exists and holds valid Fernet keys (the value is never printed);
* the payload bucket's name is free, or already this stack's;
* no table of the stage exists outside the stack (a retained table from an earlier deploy);
* the account is CDK-bootstrapped at a version the synthesised templates accept;
* quotas: a VPC left for the stack, enough on-demand vCPUs for every pool at its largest, and Lambda
  concurrency left beside the API's reserved concurrency. A quota the account does not report is a warning.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import boto3  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

from abaco_infra import config as stage_config  # noqa: E402
from chalicelib.wiring import resources  # noqa: E402
from chalicelib.wiring.settings import parse_keys  # noqa: E402

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"  # the default qualifier's version parameter
MIN_BOOTSTRAP_VERSION = 6  # what the CDK's asset manifests require (``requiresBootstrapStackVersion``)
VPC_QUOTA = ("vpc", "L-F678F1CE")  # VPCs per Region
VCPU_QUOTA = ("ec2", "L-1216C47A")  # Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances, vCPUs
MIN_UNRESERVED_CONCURRENCY = 100  # Lambda keeps at least this much of the account's concurrency unreserved


@dataclass(frozen=True)
class Outcome:
    check: str
    ok: bool
    detail: str
    warning: bool = False

    def line(self) -> str:
        mark = "ok  " if self.ok else ("warn" if self.warning else "FAIL")
        return f"{mark} {self.check}: {self.detail}"


class Account:
    """The clients of one account and region (the configured endpoint, if any)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            kwargs: dict[str, Any] = {"region_name": self.region}
            if os.environ.get("AWS_ENDPOINT_URL"):
                kwargs["endpoint_url"] = os.environ["AWS_ENDPOINT_URL"]
            self._clients[service] = boto3.client(service, **kwargs)
        return self._clients[service]

    def id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def stack_exists(self, name: str) -> bool:
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError:
            return False
        return any(s.get("StackStatus") != "DELETE_COMPLETE" for s in stacks)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def check_secret(config: stage_config.StageConfig, account: Account) -> Outcome:
    name = config.secret_name
    try:
        value = account.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    except ClientError as exc:
        return Outcome("encryption keys secret", False, f"{name}: {_code(exc)} (create it: docs/operator-guide.md)")
    try:
        keys = parse_keys(value)
    except ValueError as exc:
        return Outcome("encryption keys secret", False, f"{name}: {exc}")
    if not keys:
        return Outcome("encryption keys secret", False, f"{name} is empty")
    return Outcome("encryption keys secret", True, f"{name} holds {len(keys)} valid key(s)")


def check_bucket(config: stage_config.StageConfig, account: Account, ours: bool) -> Outcome:
    name = f"{resources.bucket_name(config.prefix)}-{account.id()}-{account.region}"
    try:
        account.client("s3").head_bucket(Bucket=name)
    except ClientError as exc:
        if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return Outcome("payload bucket name", True, f"{name} is free")
        return Outcome("payload bucket name", False, f"{name} belongs to another account ({_code(exc)})")
    if ours:
        return Outcome("payload bucket name", True, f"{name} exists and the stack {config.stack_name} owns it")
    return Outcome("payload bucket name", False, f"{name} exists but the stack {config.stack_name} does not: "
                   "a bucket retained by an earlier deploy? empty and delete it, or choose another prefix")


def check_tables(config: stage_config.StageConfig, account: Account, ours: bool) -> Outcome:
    if ours:
        return Outcome("table names", True, f"the stack {config.stack_name} exists: its tables are its own")
    names = set(_paged(account.client("dynamodb").list_tables, "TableNames", "ExclusiveStartTableName",
                       "LastEvaluatedTableName"))
    leftovers = sorted(t.physical(config.prefix) for t in resources.TABLES if t.physical(config.prefix) in names)
    if leftovers:
        return Outcome("table names", False, f"{', '.join(leftovers)} exist without the stack: retained by an "
                       "earlier deploy? back them up and delete them, or choose another prefix")
    return Outcome("table names", True, f"none of the {len(resources.TABLES)} table names is taken")


def check_bootstrap(account: Account) -> Outcome:
    try:
        value = account.client("ssm").get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"]
    except ClientError as exc:
        return Outcome("CDK bootstrap", False, f"{BOOTSTRAP_PARAMETER}: {_code(exc)}: run `npx cdk bootstrap "
                       f"aws://ACCOUNT/{account.region}` first")
    if not value.isdigit() or int(value) < MIN_BOOTSTRAP_VERSION:
        return Outcome("CDK bootstrap", False, f"version {value} is older than {MIN_BOOTSTRAP_VERSION}: run "
                       "`npx cdk bootstrap` again")
    return Outcome("CDK bootstrap", True, f"version {value}")


def _quota(account: Account, code: tuple[str, str]) -> float | None:
    try:
        return float(account.client("service-quotas").get_service_quota(
            ServiceCode=code[0], QuotaCode=code[1])["Quota"]["Value"])
    except ClientError:
        return None


def check_vpcs(account: Account) -> Outcome:
    quota = _quota(account, VPC_QUOTA)
    used = len(account.client("ec2").describe_vpcs()["Vpcs"])
    if quota is None:
        return Outcome("VPC quota", True, f"{used} VPCs; the quota is not reported", warning=True)
    return Outcome("VPC quota", used + 1 <= quota, f"{used} of {quota:.0f} VPCs used; the stack adds 1")


def check_vcpus(config: stage_config.StageConfig, account: Account) -> Outcome:
    types = sorted({p.instance_type for p in config.pools})
    described = account.client("ec2").describe_instance_types(InstanceTypes=types)["InstanceTypes"]
    vcpus = {t["InstanceType"]: int(t["VCpuInfo"]["DefaultVCpus"]) for t in described}
    needed = sum(p.max_hosts * vcpus.get(p.instance_type, 0) for p in config.pools)
    quota = _quota(account, VCPU_QUOTA)
    if quota is None:
        return Outcome("on-demand vCPU quota", True, f"the pools need up to {needed} vCPUs; the quota is not "
                       "reported (Service Quotas L-1216C47A)", warning=True)
    return Outcome("on-demand vCPU quota", needed <= quota, f"the pools need up to {needed} of {quota:.0f} vCPUs")


def check_concurrency(config: stage_config.StageConfig, account: Account) -> Outcome:
    try:
        limit = int(account.client("lambda").get_account_settings()["AccountLimit"]["ConcurrentExecutions"])
    except (ClientError, KeyError):
        return Outcome("Lambda concurrency", True, "the account limit is not reported", warning=True)
    left = limit - config.api_reserved_concurrency
    return Outcome("Lambda concurrency", left >= MIN_UNRESERVED_CONCURRENCY,
                   f"{limit} in the account, {config.api_reserved_concurrency} reserved for the API, {left} left "
                   f"(Lambda needs {MIN_UNRESERVED_CONCURRENCY})")


def checks(config: stage_config.StageConfig, account: Account) -> Iterator[tuple[str, Callable[[], Outcome]]]:
    ours = account.stack_exists(config.stack_name)
    yield "encryption keys secret", lambda: check_secret(config, account)
    yield "payload bucket name", lambda: check_bucket(config, account, ours)
    yield "table names", lambda: check_tables(config, account, ours)
    yield "CDK bootstrap", lambda: check_bootstrap(account)
    yield "VPC quota", lambda: check_vpcs(account)
    yield "on-demand vCPU quota", lambda: check_vcpus(config, account)
    yield "Lambda concurrency", lambda: check_concurrency(config, account)


def run(stage: str, context: dict[str, Any]) -> list[Outcome]:
    try:
        config = stage_config.load(stage, context)
    except ValueError as exc:
        return [Outcome("stage configuration", False, str(exc))]
    account = Account(config.region)
    outcomes = [Outcome("stage configuration", True, f"{config.stack_name} in {config.region}")]
    for name, check in checks(config, account):
        try:
            outcomes.append(check())
        except (ClientError, BotoCoreError) as exc:
            outcomes.append(Outcome(name, False, f"cannot tell: {exc}"))
    return outcomes


def _paged(call: Callable[..., Any], field: str, token_in: str, token_out: str) -> Iterator[str]:
    kwargs: dict[str, Any] = {}
    while True:
        page = call(**kwargs)
        yield from page.get(field, [])
        if not page.get(token_out):
            return
        kwargs[token_in] = page[token_out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="prod", choices=stage_config.STAGES)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="CDK context, as for cdk synth (prefix, region, jwt_public_key, stage:<name>, ...)")
    args = parser.parse_args(argv)
    context = dict(item.split("=", 1) for item in args.context)
    outcomes = run(args.stage, context)
    for outcome in outcomes:
        print(outcome.line(), flush=True)
    failed = [o for o in outcomes if not o.ok]
    print(f"preflight {args.stage}: " + ("ready to deploy" if not failed else f"{len(failed)} check(s) failed"))
    return 1 if failed else 0
