"""Stage configuration: defaults per stage, overridden by CDK context (``cdk synth -c prefix=...``).

Everything an operator may change lives here or in ``cdk.json``; the constructs read only this object.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DUMMY_ACCOUNT = "123456789012"  # offline synthesis: no AWS account is contacted, no lookups are made
DEFAULT_REGION = "us-east-1"
# Debian publishes its AMIs as public SSM parameters; resolved by CloudFormation at deploy time.
DEBIAN_12_AMI_PARAMETER = "/aws/service/debian/release/12/latest/amd64"
STAGES = ("dev", "prod")
SECRETS_BACKENDS = ("kms", "fernet")
# The API Gateway in front of the API function (infrastructure/abaco_infra/api.py): an HTTP API ($1.00 per
# million requests) by default, or the REST API Chalice deploys ($3.50); docs/operator-guide.md says why.
API_FLAVOURS = ("http", "rest")
# S3's 63 characters minus "-payloads-" (10), the account (12), "-" and the longest region name (14).
MAX_PREFIX_LENGTH = 26
SPOT_LARGE = ("t3.large", "t3a.large", "m6i.large", "m5.large")  # 2 vCPUs, 8 GiB: one Spot pool is rarely enough
SPOT_XLARGE = ("m6i.xlarge", "m5.xlarge", "m6a.xlarge", "m7i.xlarge")  # 4 vCPUs, 16 GiB (prod's default pool)
# Flat context keys, for every stage (jwt_public_key_file: a path to the PEM, read at synthesis).
JWT_CONTEXT = ("jwt_public_key", "jwt_issuer", "jwt_audience", "jwt_public_key_file")
# Settings a stage may not take from extra_env: they would undo what the stack enforces.
FORCED_SETTINGS = {"ABACO_ACCESS_CONTROL": "jwt", "ABACO_PRODUCTION": "true"}


@dataclass(frozen=True)
class PoolConfig:
    """One runner pool (an actor's ``queue``): its own Auto Scaling group, role and command queue."""

    name: str
    privileged: bool = False
    instance_type: str = "t3.large"
    min_hosts: int = 1
    max_hosts: int = 4
    worker_slots: int = 8
    backlog_per_host: int = 8  # the scaling target: about one host's worth of slots busy or waiting
    volume_gb: int = 30
    # Tenants whose actors this pool runs, when it is dedicated to some: its hosts may then decrypt config
    # secrets of these tenants only (the KMS encryption context's tenant). Empty: every tenant.
    tenants: tuple[str, ...] = ()
    # Spot: hosts above min_hosts run on Spot (a mixed-instances policy over these instance types; the first
    # min_hosts stay on demand), drained on the two-minute interruption notice. AWS offers no warm pool with
    # Spot, so a pool has one or the other: warm_pool keeps that many stopped, pre-booted hosts ready.
    spot: bool = False
    spot_instance_types: tuple[str, ...] = ()
    warm_pool: int = 0


@dataclass(frozen=True)
class StageConfig:
    stage: str
    prefix: str
    region: str = DEFAULT_REGION
    account: str = DUMMY_ACCOUNT
    pools: tuple[PoolConfig, ...] = ()
    api_server: str = ""  # base URL for _links; empty: the stage's execute-api URL must be set after deploy
    access_control: str = "jwt"
    tenant: str = "DEV-DEVELOP"
    version: str = ":dev"
    log_retention_days: int = 30
    payload_expiry_days: int = 30
    retain_data: bool = False  # prod keeps tables, bucket and key when the stack is deleted
    availability_zones: tuple[str, ...] = ()
    ami_parameter: str = DEBIAN_12_AMI_PARAMETER
    alarm_email: str = ""
    api_memory_mb: int = 512
    api_timeout_s: int = 30
    # Concurrency reserved for the API function: a flood of requests cannot take the account's whole
    # Lambda concurrency (the duties keep theirs), and cannot grow past it (issue 14: request-driven cost).
    api_reserved_concurrency: int = 50
    # API Gateway stage throttling (every method): steady requests per second and burst, over all callers.
    api_throttle_rps: int = 200
    api_throttle_burst: int = 400
    api_flavour: str = "http"  # API_FLAVOURS; every stage with -c api=rest, one with stage:<name>
    visibility_timeout: int = 60
    extra_env: dict[str, str] = field(default_factory=dict)  # more ABACO_* settings for API and runners
    # Token verification (the API only): the RS256 public key (PEM) and the issuer and audience every token
    # must carry. Required: the API runs with ABACO_PRODUCTION=true and refuses every request without them
    # (chalicelib/identity/auth.py), so synthesis refuses them missing. A per-tenant key map can come
    # instead of the key, as ABACO_JWT_TENANT_KEYS_FILE in extra_env.
    jwt_public_key: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    # ABACO_ENCRYPTION_KEYS lives in Secrets Manager (created by the operator before the first deploy, see
    # docs/operator-guide.md); a version id pins the value the API function gets (bump it to rotate).
    encryption_secret: str = ""  # default: <prefix>/encryption-keys
    encryption_keys_version: str = ""
    # Config secrets: "kms" (envelope encryption under the stage's key, tenant and purpose in the encryption
    # context; the Fernet keys above still read older tokens) or "fernet" (the keys above only).
    secrets_backend: str = "kms"
    # Actor images in this account's ECR: repositories under these prefixes may be pulled by the hosts
    # (default: "<prefix>/"). dockerhub_cache_secret: the ARN of a Secrets Manager secret named
    # "ecr-pullthroughcache/..." with Docker Hub credentials turns on an ECR pull-through cache for Docker Hub
    # (images then pull as <account>.dkr.ecr.<region>.amazonaws.com/<prefix>-dockerhub/library/python:3.12).
    ecr_repository_prefixes: tuple[str, ...] = ()
    dockerhub_cache_secret: str = ""

    @property
    def stack_name(self) -> str:
        return self.prefix

    @property
    def pool_names(self) -> list[str]:
        """Every pool, each with a command queue and an Auto Scaling group."""
        return [p.name for p in self.pools]

    @property
    def actor_pools(self) -> list[str]:
        """The valid values of an actor's ``queue`` (ABACO_POOLS)."""
        return [p.name for p in self.pools if not p.privileged]

    @property
    def privileged_pool(self) -> str:
        return next(p.name for p in self.pools if p.privileged)

    @property
    def secret_name(self) -> str:
        return self.encryption_secret or f"{self.prefix}/encryption-keys"

    @property
    def encryption_keys_reference(self) -> str:
        """A CloudFormation dynamic reference: resolved at deploy time, never in the template."""
        version = f":::{self.encryption_keys_version}" if self.encryption_keys_version else ""
        return f"{{{{resolve:secretsmanager:{self.secret_name}:SecretString{version}}}}}"


def _defaults(stage: str) -> StageConfig:
    if stage == "prod":
        return StageConfig(
            stage="prod", prefix="abaco-prod", version=":prod", retain_data=True, log_retention_days=90,
            api_reserved_concurrency=200, api_throttle_rps=1000, api_throttle_burst=2000,
            # Sized for 100 executions/s of short containers (docs/operator-guide.md, "Size for a load"): a
            # 4-vCPU host starts about 10 fresh containers a second, so 10 hosts carry the load and 24 leave
            # room for longer runs and a host refresh; 16 slots and a backlog target of 16 per host.
            pools=(PoolConfig("default", min_hosts=2, max_hosts=24, instance_type="m6i.xlarge", worker_slots=16,
                              backlog_per_host=16, spot=True, spot_instance_types=SPOT_XLARGE),
                   PoolConfig("privileged", privileged=True, min_hosts=1, max_hosts=2, warm_pool=1)))
    return StageConfig(
        stage=stage, prefix=f"abaco-{stage}",
        pools=(PoolConfig("default", min_hosts=1, max_hosts=2, spot=True, spot_instance_types=SPOT_LARGE),
               PoolConfig("privileged", privileged=True, min_hosts=0, max_hosts=1, warm_pool=1)))


def load(stage: str, context: dict[str, Any]) -> StageConfig:
    """Defaults for ``stage``, then the context keys: flat ones (``prefix``, ``region``, ``account``,
    ``api_server``) apply to every stage; ``stage:<name>`` holds a JSON object of overrides for one stage."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    config = _defaults(stage)
    overrides: dict[str, Any] = {}
    for key in ("region", "account", "api_server", "access_control", "alarm_email", *JWT_CONTEXT[:3]):
        if context.get(key):
            overrides[key] = str(context[key])
    if context.get("prefix"):
        overrides["prefix"] = f"{context['prefix']}-{stage}"
    if context.get("api"):
        overrides["api_flavour"] = str(context["api"])
    per_stage = context.get(f"stage:{stage}") or {}
    if isinstance(per_stage, str):
        per_stage = json.loads(per_stage)
    overrides.update(per_stage)
    if "pools" in overrides:
        overrides["pools"] = tuple(PoolConfig(**{**p, "tenants": tuple(p.get("tenants", ())),
                                                 "spot_instance_types": tuple(p.get("spot_instance_types", ()))})
                                   for p in overrides["pools"])
    if "ecr_repository_prefixes" in overrides:
        overrides["ecr_repository_prefixes"] = tuple(overrides["ecr_repository_prefixes"])
    if "availability_zones" in overrides:
        overrides["availability_zones"] = tuple(overrides["availability_zones"])
    if context.get("jwt_public_key_file"):  # the CDK CLI cuts a -c value at its first newline: a PEM file
        overrides["jwt_public_key"] = Path(str(context["jwt_public_key_file"])).read_text()
    if "jwt_public_key" in overrides:  # or the PEM with its newlines written as \n
        overrides["jwt_public_key"] = str(overrides["jwt_public_key"]).replace("\\n", "\n")
    config = replace(config, **overrides)
    _validate(config)
    return config


def _validate(config: StageConfig) -> None:
    names = config.pool_names
    if not names or len(set(names)) != len(names):
        raise ValueError(f"stage {config.stage}: pools must be a non-empty list of unique names, got {names}")
    if "default" not in config.actor_pools:
        raise ValueError(f"stage {config.stage}: a pool named 'default' is required (the actors' default queue)")
    if len(names) - len(config.actor_pools) != 1:
        raise ValueError(f"stage {config.stage}: exactly one pool must be privileged (it runs privileged actors)")
    if config.access_control != "jwt":
        raise ValueError(f"stage {config.stage}: access_control must be 'jwt' in AWS ('none' is local only)")
    for name, forced in FORCED_SETTINGS.items():
        if name in config.extra_env and config.extra_env[name].strip().lower() != forced:
            raise ValueError(f"stage {config.stage}: extra_env may not set {name}={config.extra_env[name]!r} "
                             f"(every deployed stage runs with {name}={forced})")
    _check_token_settings(config)
    if config.api_flavour not in API_FLAVOURS:
        raise ValueError(f"stage {config.stage}: api_flavour must be one of {API_FLAVOURS}")
    if config.secrets_backend not in SECRETS_BACKENDS:
        raise ValueError(f"stage {config.stage}: secrets_backend must be one of {SECRETS_BACKENDS}")
    for pool in config.pools:
        if not 0 <= pool.min_hosts <= pool.max_hosts:
            raise ValueError(f"pool {pool.name}: need 0 <= min_hosts <= max_hosts")
        if pool.spot and pool.warm_pool:
            raise ValueError(f"pool {pool.name}: spot or warm_pool, not both (AWS has no warm pool with Spot)")
    if not config.prefix.replace("-", "").isalnum() or config.prefix != config.prefix.lower():
        raise ValueError(f"prefix {config.prefix!r}: lower-case letters, digits and dashes only (S3 bucket names)")
    if len(config.prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(f"prefix {config.prefix!r}: at most {MAX_PREFIX_LENGTH} characters (the bucket name "
                         "<prefix>-payloads-<account>-<region> must fit S3's 63)")


def api_token_settings(config: StageConfig) -> dict[str, str]:
    """The API's token-verification settings: the stage's fields, then whatever extra_env adds."""
    settings = {name: value for name, value in (("ABACO_JWT_PUBLIC_KEY", config.jwt_public_key),
                                                ("ABACO_JWT_ISSUER", config.jwt_issuer),
                                                ("ABACO_JWT_AUDIENCE", config.jwt_audience)) if value}
    settings.update({k: v for k, v in config.extra_env.items() if k.startswith("ABACO_JWT_")})
    return settings


def _check_token_settings(config: StageConfig) -> None:
    """The API's own start-up check (``chalicelib.identity.auth.check_configuration``) on the stage's settings,
    at synthesis: a stage that would refuse every request is never deployed."""
    from chalicelib.identity.auth import ConfigurationError, check_configuration
    from chalicelib.wiring.settings import Settings

    env = api_token_settings(config)
    if not ({"ABACO_JWT_PUBLIC_KEY", "ABACO_JWT_PUBLIC_KEY_FILE", "ABACO_JWT_TENANT_KEYS_FILE"} & set(env)):
        raise ValueError(f"stage {config.stage}: no JWT verification key: set -c jwt_public_key=<PEM> (or "
                         "ABACO_JWT_TENANT_KEYS_FILE in extra_env), with -c jwt_issuer=... and -c jwt_audience=...")
    if "ABACO_JWT_PUBLIC_KEY_FILE" in env or "ABACO_JWT_TENANT_KEYS_FILE" in env:
        if not (env.get("ABACO_JWT_ISSUER") and env.get("ABACO_JWT_AUDIENCE")):
            raise ValueError(f"stage {config.stage}: ABACO_JWT_ISSUER and ABACO_JWT_AUDIENCE are required")
        return  # files live in the Lambda package: checked when the function starts
    fields = {name.removeprefix("ABACO_").lower(): value for name, value in env.items()}
    try:
        check_configuration(Settings(access_control="jwt", production=True, **fields))
    except (ConfigurationError, ValueError) as exc:
        raise ValueError(f"stage {config.stage}: {' '.join(str(exc).split())}") from exc
