"""Stage configuration: defaults per stage, overridden by CDK context (``cdk synth -c prefix=...``).

Everything an operator may change lives here or in ``cdk.json``; the constructs read only this object.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

DUMMY_ACCOUNT = "123456789012"  # offline synthesis: no AWS account is contacted, no lookups are made
DEFAULT_REGION = "us-east-1"
# Debian publishes its AMIs as public SSM parameters; resolved by CloudFormation at deploy time.
DEBIAN_12_AMI_PARAMETER = "/aws/service/debian/release/12/latest/amd64"
STAGES = ("dev", "prod")
SECRETS_BACKENDS = ("kms", "fernet")


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
    visibility_timeout: int = 60
    extra_env: dict[str, str] = field(default_factory=dict)  # more ABACO_* settings for API and runners
    # ABACO_ENCRYPTION_KEYS lives in Secrets Manager (created by the operator before the first deploy, see
    # docs/operator-guide.md); a version id pins the value the API function gets (bump it to rotate).
    encryption_secret: str = ""  # default: <prefix>/encryption-keys
    encryption_keys_version: str = ""
    # Config secrets: "kms" (envelope encryption under the stage's key, tenant and purpose in the encryption
    # context; the Fernet keys above still read older tokens) or "fernet" (the keys above only).
    secrets_backend: str = "kms"

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
            # Sized for 100 executions/s of short containers (docs/operator-guide.md, "Size for a load"): a
            # 4-vCPU host starts about 10 fresh containers a second, so 10 hosts carry the load and 24 leave
            # room for longer runs and a host refresh; 16 slots and a backlog target of 16 per host.
            pools=(PoolConfig("default", min_hosts=2, max_hosts=24, instance_type="m6i.xlarge", worker_slots=16,
                              backlog_per_host=16),
                   PoolConfig("privileged", privileged=True, min_hosts=1, max_hosts=2)))
    return StageConfig(
        stage=stage, prefix=f"abaco-{stage}",
        pools=(PoolConfig("default", min_hosts=1, max_hosts=2),
               PoolConfig("privileged", privileged=True, min_hosts=0, max_hosts=1)))


def load(stage: str, context: dict[str, Any]) -> StageConfig:
    """Defaults for ``stage``, then the context keys: flat ones (``prefix``, ``region``, ``account``,
    ``api_server``) apply to every stage; ``stage:<name>`` holds a JSON object of overrides for one stage."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    config = _defaults(stage)
    overrides: dict[str, Any] = {}
    for key in ("region", "account", "api_server", "access_control", "alarm_email"):
        if context.get(key):
            overrides[key] = str(context[key])
    if context.get("prefix"):
        overrides["prefix"] = f"{context['prefix']}-{stage}"
    per_stage = context.get(f"stage:{stage}") or {}
    if isinstance(per_stage, str):
        per_stage = json.loads(per_stage)
    overrides.update(per_stage)
    if "pools" in overrides:
        overrides["pools"] = tuple(PoolConfig(**p) for p in overrides["pools"])
    if "availability_zones" in overrides:
        overrides["availability_zones"] = tuple(overrides["availability_zones"])
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
    if config.secrets_backend not in SECRETS_BACKENDS:
        raise ValueError(f"stage {config.stage}: secrets_backend must be one of {SECRETS_BACKENDS}")
    for pool in config.pools:
        if not 0 <= pool.min_hosts <= pool.max_hosts:
            raise ValueError(f"pool {pool.name}: need 0 <= min_hosts <= max_hosts")
    if not config.prefix.replace("-", "").isalnum() or config.prefix != config.prefix.lower():
        raise ValueError(f"prefix {config.prefix!r}: lower-case letters, digits and dashes only (S3 bucket names)")
