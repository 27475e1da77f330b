"""Typed settings, read once from ``ABACO_*`` environment variables and validated at start-up.

Every knob of the original ``abaco.conf`` that we support has a field here; the infrastructure code sets
these variables for Lambda and the runner hosts, and ``make run`` passes the caller's environment through.
"""
from __future__ import annotations

import functools
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Defaults with their provenance.
DEFAULT_LOG_MAX_BYTES = 1_000_000  # Abaco web.max_log_length: 1 MB per execution
DEFAULT_LOG_EX = 43_200  # Abaco dev config web.log_ex: 12 h
DEFAULT_EXECUTION_EX = 30 * 86_400  # seconds a terminal execution is kept (issue 16: storage stops growing)
DEFAULT_WORKER_TTL = 600  # idle seconds before a worker exits; Abaco's sync_max_idle_time default
DEFAULT_MAX_WORKERS_PER_ACTOR = 20  # Abaco spawner.max_workers_per_actor fallback
DEFAULT_MAX_ACTORS_PER_USER = 1_000  # far above any Abaco user's we know of; a bound on one user's registrations
DEFAULT_MAX_ACTORS_PER_TENANT = 20_000
DEFAULT_MAX_WORKERS_PER_USER = 100  # concurrent workers beyond each actor's first (a few hosts' slots)
DEFAULT_MAX_WORKERS_PER_TENANT = 1_000
DEFAULT_MAX_RESULTS = 10_000  # datagrams on /_abaco_results.sock per execution
DEFAULT_MAX_RESULT_BYTES = 64 * 1024 * 1024  # their bytes together (each datagram is at most 128 KiB)
DEFAULT_MAX_RUN_TIME = 86_400  # a container is stopped after a day unless its actor sets max_run_time
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
DEFAULT_UPLOAD_URL_SECONDS = 900  # a presigned upload URL for a large message stays valid 15 minutes
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
# Requests per principal per minute across every API process (the shared DynamoDB counter): the in-process
# rate for one minute, so one process alone never reaches it and N processes together cannot exceed it.
DEFAULT_SHARED_RATE_LIMIT_PER_MINUTE = int(DEFAULT_RATE_LIMIT_RPS * 60)
SHARED_RATE_LIMIT_WINDOW_SECONDS = 60
DEFAULT_AUTH_FAILURES_PER_MINUTE = 60  # failed credentials (JWTs, nonces) per source before 429
GRANTABLE_ROLES = ("abaco_admin", "abaco_privileged", "abaco_limited")  # Tapis v3's role names



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
    # The payload bucket; default ``<prefix>-payloads``. The AWS stacks name it with the account and region
    # as well (S3 names are global: a retried first deploy or a second account must not collide).
    payload_bucket: str | None = None
    bootstrap_template: str | None = None  # local bootstrap: create what this CloudFormation template defines

    # Web.
    version: str = ":dev"
    case: Literal["snake", "camel"] = "snake"
    access_control: Literal["none", "jwt"] = "jwt"  # make run sets "none" explicitly, and says so
    production: bool = False  # refuses access_control none
    jwt_public_key: str | None = None  # PEM text of the RS256 public key
    jwt_public_key_file: str | None = None  # or a path to it
    jwt_tenant_keys_file: str | None = None  # JSON {"TENANT": "<PEM>"}: per-tenant keys (the global one is the rest's)
    jwt_tenant_keys: dict[str, str] = Field(default_factory=dict)  # the same JSON inline (Lambda has no files)
    jwt_leeway: int = Field(default=MAX_JWT_LEEWAY, ge=0, le=MAX_JWT_LEEWAY)
    jwt_issuer: str | None = None  # when set, tokens must carry this iss
    jwt_audience: str | None = None  # when set, tokens must carry this aud
    jwt_key_id: str | None = None  # when set, tokens with a kid must name this one
    # Accept a v2 token signed by the global key without a ``tenant`` claim for whatever tenant its
    # X-Jwt-Assertion-<TENANT> header names (Abaco v2's behaviour, one-tenant development only): refused in
    # production. Off: such a token must be bound by its tenant's own key or a matching ``tenant`` claim.
    jwt_trust_header_tenant: bool = False
    # Roles of Tapis v3 and platform tokens, which carry none: '{"<tenant>": {"<username>": ["abaco_admin"]}}'.
    # The roles API (/actors/admin/roles/{username}) overrides an entry, revocation included.
    role_grants: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    # Actor tokens (_abaco_access_token): the key that signs them. "file": an RSA key in platform_key_file
    # (created on first use); "kms": a KMS asymmetric key (RSA_2048, SIGN_VERIFY) named by platform_kms_key_id.
    platform_signer: Literal["file", "kms"] = "file"
    platform_key_file: str | None = None  # default: <tmp>/abaco-platform-key-<uid>.pem
    platform_kms_key_id: str | None = None  # key id, ARN or alias; default alias/{prefix}-platform-tokens
    user_role: str = "Internal/abaco-user"  # Abaco web.user_role: the v2 base role
    rate_limit_rps: float = Field(default=DEFAULT_RATE_LIMIT_RPS, ge=0)  # 0 disables
    rate_limit_burst: int = Field(default=DEFAULT_RATE_LIMIT_BURST, ge=1)
    # 0 disables; off too when rate_limit_rps is 0 (rate limiting off altogether)
    shared_rate_limit_per_minute: int = Field(default=DEFAULT_SHARED_RATE_LIMIT_PER_MINUTE, ge=0)
    auth_failures_per_minute: int = Field(default=DEFAULT_AUTH_FAILURES_PER_MINUTE, ge=0)  # 0 disables
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, ge=1024)
    allow_private_webhooks: bool = False  # webhooks to loopback/private/link-local ranges (operators only)
    tenant: str = "DEV-DEVELOP"
    # Whose administrators are the platform's (the runner hosts view); unset: ABACO_TENANT's
    platform_tenant: str | None = None
    api_server: str = "http://127.0.0.1:8000"
    api_port: int = 8000
    api_host: str = "127.0.0.1"
    max_log_length: int = DEFAULT_LOG_MAX_BYTES
    log_ex: int = DEFAULT_LOG_EX
    log_ex_limit: int = 86_400 * 7
    default_token: bool = False  # Abaco web.default_token: an actor's ``token`` when it sets none
    tenant_default_token: dict[str, bool] = Field(default_factory=dict)  # per tenant: '{"TENANT": true}'
    # Comma-separated Fernet keys for secrets at rest; the first encrypts. Unset: a public development key.
    encryption_keys: str | None = None
    # Or the Secrets Manager secret that holds them (its SecretString, the same comma-separated keys), read
    # once per process on first use: in Lambda the keys then never sit in the function's configuration.
    encryption_keys_secret_id: str | None = None
    secrets_backend: Literal["fernet", "kms"] = "fernet"  # fernet locally; kms (envelope encryption) in AWS
    kms_key_id: str | None = None  # key id, ARN or alias; default alias/{prefix}-secrets
    # Seconds a process keeps a decrypted KMS data key (chalicelib/adapters/kms.py); 0: ask KMS every time.
    kms_data_key_cache_seconds: float = Field(default=300.0, ge=0)
    # Per-tenant overrides of log_ex / log_ex_limit, JSON objects: '{"TENANT": seconds}'.
    tenant_log_ex: dict[str, int] = Field(default_factory=dict)
    tenant_log_ex_limit: dict[str, int] = Field(default_factory=dict)
    # Seconds a terminal execution is kept before DynamoDB's TTL removes it (<= 0: forever), and per-tenant
    # overrides as a JSON object '{"TENANT": seconds}'. Its logs follow their own log_ex.
    execution_ex: int = DEFAULT_EXECUTION_EX
    tenant_execution_ex: dict[str, int] = Field(default_factory=dict)
    # Write shards of the ``open`` index per pool (chalicelib/wiring/resources.py). Only writers use it: the
    # index is read whole (one Scan, chalicelib/adapters/storage/executions.py), so it may change any time.
    open_index_shards: int = Field(default=8, ge=1, le=64)
    # Registries trusted by name although they are a literal address (chalicelib/domain/images.py): comma
    # separated host:port, exactly as actors' image references write them.
    allowed_registries: str = ""
    # Seconds a runner reuses an actor's configs before reading them again (0: never).
    config_cache_seconds: float = Field(default=0.0, ge=0)  # off: a config written now reaches the next run
    # Actor deletion: executions (with their logs) removed per cleanup pass, at most.
    cleanup_batch: int = Field(default=200, ge=1, le=1000)
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    tracing: bool = False  # X-Ray segments from the API and the runners (chalicelib/adapters/tracing.py)
    tracing_sample_all: bool = False  # record every request instead of the SDK's sampling rules
    upload_url_seconds: int = Field(default=DEFAULT_UPLOAD_URL_SECONDS, ge=60, le=43_200)
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
    # Caps (chalicelib/services/quotas.py); 0: none
    max_actors_per_user: int = Field(default=DEFAULT_MAX_ACTORS_PER_USER, ge=0)
    max_actors_per_tenant: int = Field(default=DEFAULT_MAX_ACTORS_PER_TENANT, ge=0)
    max_workers_per_user: int = Field(default=DEFAULT_MAX_WORKERS_PER_USER, ge=0)
    max_workers_per_tenant: int = Field(default=DEFAULT_MAX_WORKERS_PER_TENANT, ge=0)
    max_results_per_execution: int = Field(default=DEFAULT_MAX_RESULTS, ge=0)
    max_result_bytes_per_execution: int = Field(default=DEFAULT_MAX_RESULT_BYTES, ge=0)
    max_run_time: int = DEFAULT_MAX_RUN_TIME  # seconds; -1: unlimited (Abaco's default, not ours)
    mem_limit: str = "512m"
    max_cpus: int | None = DEFAULT_MAX_CPUS  # nano-CPUs; a container gets a CPU cap unless the actor sets its own
    pids_limit: int = 256
    # none: no network; bridge: the user-defined network below (runners/pipeline/network.py); host: the
    # host's own network, refused in AWS (the instance metadata service would hand actors its credentials)
    container_network: Literal["none", "bridge", "host"] = "none"
    container_bridge: str = Field(default="abaco-actors", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    # its Linux interface (at most 15 characters): the name the host's firewall rules match
    container_bridge_interface: str = Field(default="abaco-actors0", pattern=r"^[A-Za-z0-9_.-]{1,15}$")
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
    # A pull failing for the registry's reasons (429, 5xx, timeouts) is retried this many more times, the
    # pause doubling from pull_backoff_seconds; only a missing image puts the actor in ERROR.
    pull_retries: int = Field(default=4, ge=0)
    pull_backoff_seconds: float = Field(default=2.0, ge=0)
    # Reliability: pools, prefetch, shutdown, duties, metrics.
    privileged_pool: str = "privileged"  # the runner pool that runs privileged actors
    runner_privileged: bool = False  # this runner host serves the privileged pool (and may run privileged actors)
    # This host takes part in the leased cluster duties (reconciler, autoscaler, cron, events). The AWS
    # privileged pool's hosts do not: their IAM role has none of the duties' permissions.
    runner_duties: bool = True
    # AWS hosts: the host's Auto Scaling group. Set, the runner keeps itself protected from scale-in while
    # containers run and drains on a termination or Spot notice (runners/host/lifecycle.py), for at most
    # drain_seconds (running executions end by their max_run_time anyway).
    asg_name: str | None = None
    drain_seconds: int = Field(default=7200, ge=0)
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

    @field_validator("role_grants")
    @classmethod
    def _grants(cls, value: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for tenant, users in value.items():
            for user, names in users.items():
                unknown = [n for n in names if n not in GRANTABLE_ROLES]
                if unknown:
                    raise ValueError(f"ABACO_ROLE_GRANTS: {tenant}/{user}: unknown roles {unknown}; "
                                     f"use {list(GRANTABLE_ROLES)}")
        return value

    @model_validator(mode="after")
    def _tenant_binding(self) -> Settings:
        if self.production and self.access_control == "jwt" and self.jwt_trust_header_tenant:
            raise ValueError("ABACO_JWT_TRUST_HEADER_TENANT is refused when ABACO_PRODUCTION is set: with it, a "
                             "token works in any tenant its header names. Bind tokens to tenants with per-tenant "
                             "keys (ABACO_JWT_TENANT_KEYS_FILE) or a tenant claim (docs/operator-guide.md).")
        return self

    def token_default(self, tenant: str) -> bool:
        """Abaco's ``web.default_token``, per tenant (``{tenant}_default_token``) then global."""
        return self.tenant_default_token.get(tenant, self.tenant_default_token.get(tenant.upper(),
                                                                                   self.default_token))

    @model_validator(mode="after")
    def _no_host_network_in_aws(self) -> Settings:
        """``host`` shares the runner host's network namespace: in AWS (no emulator endpoint, or
        ``ABACO_PRODUCTION``) the instance metadata service would answer any actor with the host's role."""
        if self.container_network == "host" and (self.production or self.aws_endpoint_url is None):
            raise ValueError("ABACO_CONTAINER_NETWORK=host is refused in AWS and in production (actors would "
                             "reach the instance metadata service); use bridge")
        return self

    @field_validator("encryption_keys")
    @classmethod
    def _valid_keys(cls, value: str | None) -> str | None:
        parse_keys(value)
        return value

    @property
    def allowed_registry_list(self) -> tuple[str, ...]:
        return tuple(r.strip().lower() for r in self.allowed_registries.split(",") if r.strip())

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
