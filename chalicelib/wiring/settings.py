"""Typed settings, read once from ``ABACO_*`` environment variables and validated at start-up.

Every knob of the original ``abaco.conf`` that we support has a field here; the infrastructure code sets
these variables for Lambda and the runner hosts, and ``make run`` passes the caller's environment through.
"""
from __future__ import annotations

import functools
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Defaults with their provenance.
DEFAULT_LOG_MAX_BYTES = 1_000_000  # Abaco web.max_log_length: 1 MB per execution
DEFAULT_LOG_EX = 43_200  # Abaco dev config web.log_ex: 12 h
DEFAULT_WORKER_TTL = 600  # idle seconds before a worker exits; Abaco's sync_max_idle_time default
DEFAULT_MAX_WORKERS_PER_ACTOR = 20  # Abaco spawner.max_workers_per_actor fallback
DEFAULT_SYNC_MAX_IDLE_TIME = 600  # seconds the warm worker of a `sync` actor stays (Abaco's default; -1: always)
DEFAULT_WORKER_PARK_SECONDS = 30  # idle seconds before a worker stops polling its inbox (READY, woken by a message)
DEFAULT_WORKER_POLLERS = 64  # workers polling their inbox at once per runner host (slots bound containers)
DEFAULT_SHUTDOWN_GRACE = 60  # seconds running executions get to finish after the first SIGTERM
DEFAULT_AUTOSCALE_SECONDS = 2.0  # autoscaler pass; a backlog is met within about 5 s
DEFAULT_RECONCILE_SECONDS = 10.0  # reconciler pass (reliability plan §1.3 step 5)
DEFAULT_RESEND_AFTER = 30  # seconds an execution may sit SUBMITTED and not enqueued before a re-send
DEFAULT_UNCLAIMED_AFTER = 300  # seconds an enqueued execution may stay unclaimed before a re-send
DEFAULT_HOST_HEARTBEAT = 5.0  # runner host record heartbeat
# A duty's lease (at least; three passes when that is longer), renewed when a third of it has passed: a host
# that dies without releasing its leases hands its duties over within about 1.3 leases.
DEFAULT_DUTY_LEASE_SECONDS = 30.0
DEFAULT_MAX_CONTENT_LENGTH = 500_000_000  # Abaco web.max_content_length: 500 MB per message body
DEFAULT_SYNC_TIMEOUT = 25.0  # seconds a synchronous message waits; below API Gateway's 29 s limit
DEFAULT_RESULTS_EX = 3_600  # seconds a result stays poppable (Abaco's docs: 60 min; its code: 20 min)
DEFAULT_CRON_SECONDS = 50.0  # Abaco's cron agent period
MAX_JWT_LEEWAY = 60  # seconds of clock skew tolerated on exp/nbf, at most
DEFAULT_MAX_CPUS = 1_000_000_000  # one CPU per container by default (CPU limits by default)
MIN_PRIVILEGED_ROLE_MAX_AGE = 300  # well above the API's once-a-minute refresh of recorded roles
DEFAULT_TMPFS_SIZE = "64m"  # the /tmp tmpfs of a read-only container (it counts against the memory limit)
DEFAULT_CONTAINER_USER = "10000:10000"  # non-root uid:gid (reliability plan §3.2; CVE-2019-5736 needs root)
DEFAULT_MAX_BODY_BYTES = 1_048_576  # JSON/form body: 1 MiB, SQS's message size class (reliability plan §4.4)
DEFAULT_MAX_HEADER_BYTES = 16_384  # all request headers together (reliability plan §4.4)
DEFAULT_RATE_LIMIT_RPS = 50.0  # per principal, per API process; API Gateway usage plans do this in AWS
DEFAULT_RATE_LIMIT_BURST = 100
DEFAULT_AUTH_FAILURES_PER_MINUTE = 60  # failed credentials (JWTs, nonces) per source before 429



def parse_keys(value: str | None) -> list[str]:
    """Split and validate the setting; raises ValueError naming the bad key's position."""
    keys = [k.strip() for k in (value or "").split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"ABACO_ENCRYPTION_KEYS: key {position} is not a valid Fernet key "
                             "(32 url-safe base64-encoded bytes)") from exc
    return keys

class Settings(BaseSettings):
    """All configuration of the API and the runners."""

    model_config = SettingsConfigDict(env_prefix="ABACO_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)  # keys never reach a log

    # Where AWS is: None means real AWS; locally the moto server (AWS_ENDPOINT_URL is read too).
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_DEFAULT_REGION")
    resource_prefix: str = "abaco-local"
    bootstrap_template: str | None = None  # local bootstrap: create what this CloudFormation template defines

    # Web.
    version: str = ":dev"
    case: Literal["snake", "camel"] = "snake"
    access_control: Literal["none", "jwt"] = "jwt"  # make run sets "none" explicitly, and says so
    production: bool = False  # refuses access_control none
    jwt_public_key: str | None = None  # PEM text of the RS256 public key
    jwt_public_key_file: str | None = None  # or a path to it
    jwt_tenant_keys_file: str | None = None  # JSON {"TENANT": "<PEM>"}: per-tenant keys (the global one is the rest's)
    jwt_leeway: int = Field(default=MAX_JWT_LEEWAY, ge=0, le=MAX_JWT_LEEWAY)
    jwt_issuer: str | None = None  # when set, tokens must carry this iss
    jwt_audience: str | None = None  # when set, tokens must carry this aud
    jwt_key_id: str | None = None  # when set, tokens with a kid must name this one
    user_role: str = "Internal/abaco-user"  # Abaco web.user_role: the v2 base role
    rate_limit_rps: float = Field(default=DEFAULT_RATE_LIMIT_RPS, ge=0)  # 0 disables
    rate_limit_burst: int = Field(default=DEFAULT_RATE_LIMIT_BURST, ge=1)
    auth_failures_per_minute: int = Field(default=DEFAULT_AUTH_FAILURES_PER_MINUTE, ge=0)  # 0 disables
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, ge=1024)
    allow_private_webhooks: bool = False  # webhooks to loopback/private/link-local ranges (operators only)
    tenant: str = "DEV-DEVELOP"
    api_server: str = "http://127.0.0.1:8000"
    api_port: int = 8000
    api_host: str = "127.0.0.1"
    max_log_length: int = DEFAULT_LOG_MAX_BYTES
    log_ex: int = DEFAULT_LOG_EX
    log_ex_limit: int = 86_400 * 7
    default_token: bool = False  # Abaco web.default_token: an actor's ``token`` when it sets none
    # Comma-separated Fernet keys for secrets at rest; the first encrypts. Unset: a public development key.
    encryption_keys: str | None = None
    secrets_backend: Literal["fernet", "kms"] = "fernet"  # fernet locally; kms (envelope encryption) in AWS
    kms_key_id: str | None = None  # key id, ARN or alias; default alias/{prefix}-secrets
    # Per-tenant overrides of log_ex / log_ex_limit, JSON objects: '{"TENANT": seconds}'.
    tenant_log_ex: dict[str, int] = Field(default_factory=dict)
    tenant_log_ex_limit: dict[str, int] = Field(default_factory=dict)
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    sync_timeout: float = DEFAULT_SYNC_TIMEOUT
    results_ex: int = DEFAULT_RESULTS_EX

    # Runners and workers.
    runner_pool: str = "default"
    pools: str = "default"
    worker_slots: int = 8
    worker_ttl: int = DEFAULT_WORKER_TTL
    # Idle seconds before a worker parks: it stays READY but its host stops polling the inbox (-1: never).
    worker_park_seconds: int = DEFAULT_WORKER_PARK_SECONDS
    worker_pollers: int = Field(default=DEFAULT_WORKER_POLLERS, ge=1)  # active workers (inbox polls) per host
    max_workers_per_actor: int = DEFAULT_MAX_WORKERS_PER_ACTOR
    max_run_time: int = -1
    mem_limit: str = "512m"
    max_cpus: int | None = DEFAULT_MAX_CPUS  # nano-CPUs; a container gets a CPU cap unless the actor sets its own
    pids_limit: int = 256
    container_network: Literal["none", "host"] = "none"
    container_user: str = DEFAULT_CONTAINER_USER  # uid:gid of non-privileged actors without their own uid
    # A read-only root filesystem for non-privileged containers, with a tmpfs on /tmp as the scratch space
    # (reliability plan §3.2). On by default: containers already run as a non-root uid, which cannot write
    # to the image's root-owned directories anyway, so /tmp was already the one place most actors could write.
    container_read_only: bool = True
    container_tmpfs_size: str = Field(default=DEFAULT_TMPFS_SIZE, pattern=r"^[1-9][0-9]*[kmg]?$")
    receive_wait_seconds: int = 20
    visibility_timeout: int = 60
    heartbeat_seconds: int = 20
    max_attempts: int = Field(default=2, ge=1)  # per actor unless the actor sets max_attempts
    docker_url: str | None = None
    leave_containers: bool = False
    # Pull missing images from a registry. Off by default: locally no registry is reachable, and a pull
    # attempt alone sends DNS traffic to the machine's resolver. The AWS runner hosts turn it on.
    pull_images: bool = False
    # Reliability: pools, prefetch, shutdown, duties, metrics.
    privileged_pool: str = "privileged"  # the runner pool that runs privileged actors
    runner_privileged: bool = False  # this runner host serves the privileged pool (and may run privileged actors)
    # Seconds within which a privileged actor's owner must have presented the privileged or admin role to
    # the API for its runs to go on (0: no limit; a revoked role still stops runs once the owner's next
    # token without it arrives). Bounds how long a revoked owner keeps running through nonces, links, cron.
    privileged_role_max_age: int = Field(default=0, ge=0)  # 0 or >= MIN_PRIVILEGED_ROLE_MAX_AGE
    prefetch: int = Field(default=1, ge=1, le=10)  # messages a worker receives at once (SQS caps a batch at 10)
    sync_max_idle_time: int = DEFAULT_SYNC_MAX_IDLE_TIME
    shutdown_grace_seconds: int = DEFAULT_SHUTDOWN_GRACE
    autoscale_seconds: float = DEFAULT_AUTOSCALE_SECONDS
    reconcile_seconds: float = DEFAULT_RECONCILE_SECONDS
    resend_after_seconds: int = DEFAULT_RESEND_AFTER
    unclaimed_after_seconds: int = DEFAULT_UNCLAIMED_AFTER
    host_heartbeat_seconds: float = DEFAULT_HOST_HEARTBEAT
    duty_lease_seconds: float = Field(default=DEFAULT_DUTY_LEASE_SECONDS, ge=3)
    # How often an active worker re-reads its record and its actor (DELETE worker, a new revision, ERROR).
    worker_health_check_seconds: float = Field(default=5.0, gt=0)
    start_retry_seconds: int = 5  # pause before a container that failed to start is retried (Abaco: 5 s)
    runner_metrics_port: int = 0  # Prometheus /metrics on 127.0.0.1:<port>; 0 = off
    log_format: Literal["json", "text"] = "json"
    # Where a runner keeps per-execution files (binary payloads, results sockets); the Docker engine must
    # see the same path. AF_UNIX paths are capped at 108 bytes, so keep it short. Default: <tmp>/abaco-runner.
    runner_work_dir: str | None = None
    cron_seconds: float = DEFAULT_CRON_SECONDS
    # Warm start: the next container of each worker is pre-started and waits for its message.
    warm_start: bool = True
    warm_pool_per_host: int = Field(default=8, ge=0)  # waiting containers per runner host
    warm_pool_per_actor: int = Field(default=4, ge=0)  # waiting containers per actor on one host
    warm_shim: str = "/usr/bin/busybox"  # a static busybox, bind-mounted read-only as the entry shim

    @field_validator("privileged_role_max_age")
    @classmethod
    def _role_age(cls, value: int) -> int:
        if 0 < value < MIN_PRIVILEGED_ROLE_MAX_AGE:
            raise ValueError(f"must be 0 (no limit) or at least {MIN_PRIVILEGED_ROLE_MAX_AGE} seconds: the API "
                             "refreshes a principal's recorded roles about once a minute")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _valid_keys(cls, value: str | None) -> str | None:
        parse_keys(value)
        return value

    @property
    def pool_names(self) -> list[str]:
        return [p.strip() for p in self.pools.split(",") if p.strip()]

    @property
    def all_pools(self) -> list[str]:
        """Every pool with a command queue: the actor pools and the privileged pool."""
        names = self.pool_names
        return names if self.privileged_pool in names else [*names, self.privileged_pool]

    @property
    def served_pools(self) -> list[str]:
        """The pools this runner host takes commands from (the privileged pool only when flagged)."""
        pools = [p.strip() for p in self.runner_pool.split(",") if p.strip()]
        if self.runner_privileged and self.privileged_pool not in pools:
            pools.append(self.privileged_pool)
        return pools


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import time)."""
    return Settings()
