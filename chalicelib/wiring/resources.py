"""The one definition of every table, queue and bucket.

The local bootstrap (``local/bootstrap.py``) and the CDK stack (``infrastructure/``) both read these,
so local and AWS resources cannot drift.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# SQS limits (AWS documentation, "Amazon SQS quotas").
SQS_MAX_MESSAGE_BYTES = 262_144  # 256 KiB; set explicitly so moto (default 1 MiB) behaves like AWS
SQS_MAX_RETENTION_SECONDS = 1_209_600  # 14 days
SQS_QUEUE_NAME_MAX = 80
# Receives before SQS moves a message to the dead-letter queue: a backstop only. The runner dead-letters
# poison itself; legitimate returns (start retries: Abaco allows 6 tries, shutdown hand-backs, rolling
# updates) also count as receives, so the backstop sits well above them (AWS recommends at least 5).
INBOX_MAX_RECEIVE_COUNT = 10

# Tags and metrics shared by the code and the CDK stack (infrastructure/).
POOL_TAG = "abaco-pool"  # on every inbox: runner roles may read only inboxes tagged with their pool
# Set by the API on the inbox of an actor it deletes: the cleanup duty on the runner hosts may delete only
# inboxes carrying it (infrastructure/abaco_infra/policies.py), so a host cannot delete a live actor's inbox.
DELETING_TAG = "abaco-deleting"
METRICS_NAMESPACE = "Abaco"
BACKLOG_METRIC = "Backlog"  # per (Prefix, Pool): messages waiting or running; the runner groups scale on it
STALE_HOSTS_METRIC = "StaleHosts"  # per Prefix: host records whose heartbeat stopped (services/health.py)
OLDEST_OPEN_METRIC = "OldestOpenExecutionAge"  # per (Prefix, Pool): seconds the oldest open execution waits


@dataclass(frozen=True)
class TableDef:
    name: str  # logical name; the physical name is ``{prefix}-{name}``
    pk: str
    sk: str | None = None
    sk_type: str = "S"
    ttl_attribute: str | None = None
    indexes: tuple[tuple[str, str, str | None], ...] = field(default_factory=tuple)  # (name, pk, sk)
    # Indexes that project only some attributes (name -> attributes besides the keys, none: KEYS_ONLY);
    # the others: ALL.
    projections: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)

    def physical(self, prefix: str) -> str:
        return f"{prefix}-{self.name}"

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.pk, "KeyType": "HASH"}]
        if self.sk:
            schema.append({"AttributeName": self.sk, "KeyType": "RANGE"})
        return schema

    def global_secondary_indexes(self) -> list[dict[str, object]]:
        """The ``GlobalSecondaryIndexes`` argument of CreateTable (ALL, or INCLUDE for ``projections``)."""
        out: list[dict[str, object]] = []
        included = dict(self.projections)
        for name, ipk, isk in self.indexes:
            schema = [{"AttributeName": ipk, "KeyType": "HASH"}]
            if isk:
                schema.append({"AttributeName": isk, "KeyType": "RANGE"})
            projection: dict[str, object] = {"ProjectionType": "ALL"}
            if name in included:
                projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(included[name])} \
                    if included[name] else {"ProjectionType": "KEYS_ONLY"}
            out.append({"IndexName": name, "KeySchema": schema, "Projection": projection})
        return out

    def attribute_definitions(self) -> list[dict[str, str]]:
        attrs = {self.pk: "S"}
        if self.sk:
            attrs[self.sk] = self.sk_type
        for _, ipk, isk in self.indexes:
            attrs.setdefault(ipk, "S")
            if isk:
                attrs.setdefault(isk, "S")
        return [{"AttributeName": k, "AttributeType": v} for k, v in attrs.items()]


# ``deleting`` is set only while a deleted actor's executions, logs and inbox are being removed, so the sparse
# ``deleting`` index lists exactly the cleanup duty's work (one small query per pass, never a scan).
DELETING_INDEX = "deleting"
DELETING_KEY = "deleting"  # the one partition of the sparse index (deletions in progress are few)
# Owner and image filters of a search read these instead of the tenant's every actor.
OWNER_INDEX = "by_owner"
IMAGE_INDEX = "by_image"
ACTORS = TableDef("actors", pk="tenant", sk="actor_id",
                  indexes=((DELETING_INDEX, "deleting", "actor_id"), (OWNER_INDEX, "tenant_owner", "actor_id"),
                           (IMAGE_INDEX, "tenant_image", "actor_id")),
                  projections=((DELETING_INDEX, ("tenant", "deleting_since")),))
# ``open_pool`` is set while an execution is not terminal, so the sparse ``open`` index lists exactly the
# work in flight per runner pool: one Scan of it per pass gives the autoscaler every backlog and the
# reconciler every stuck execution of every pool, whatever the number of idle actors. The key is
# write-sharded (``{pool}#{n}``, ``ABACO_OPEN_INDEX_SHARDS`` of them: one hot key per pool took ~1,000 WRU/s
# at 100 executions/s; a Query per pool and shard made an idle pass 16 requests, the Scan makes it one) and
# the index projects only what those two duties read: the inbox message stays off the index.
OPEN_INDEX = "open"
OPEN_PROJECTION = ("tenant", "actor_id", "executor", "status", "lease_expires_at", "enqueued", "last_sent_at",
                   "created_ns", "charged", "max_attempts", "attempt", "runner_id", "phases", "message_id",
                   "message_received_time")  # the oldest open execution's age (services/health.py)
# Executions of a tenant in time order (``message_received_time``): a tenant-wide search reads pages of
# this (a time range as its key condition) instead of every actor's every execution. It projects keys and
# the actor id only, none of which ever changes, so an execution's later writes never write the index.
TENANT_TIME_INDEX = "by_tenant_time"
EXECUTIONS = TableDef("executions", pk="actor_dbid", sk="execution_id", ttl_attribute="expires_at",
                      indexes=((OPEN_INDEX, "open_pool", "actor_dbid"),
                               (TENANT_TIME_INDEX, "tenant", "message_received_time")),
                      projections=((OPEN_INDEX, OPEN_PROJECTION), (TENANT_TIME_INDEX, ("actor_id",))))
# A tenant's workers, keys only: utilization counts them with one query instead of one per actor. The
# tenant never changes, so a worker's status writes (one per execution) never write the index.
TENANT_WORKERS_INDEX = "by_tenant"
WORKERS = TableDef("workers", pk="actor_dbid", sk="worker_id", indexes=((TENANT_WORKERS_INDEX, "tenant", None),),
                   projections=((TENANT_WORKERS_INDEX, ()),))
LOGS = TableDef("logs", pk="execution_key", sk="chunk", sk_type="N", ttl_attribute="expires_at")
# One item per runner host: pools, slots, heartbeat and its workers ("many hosts").
HOSTS = TableDef("hosts", pk="host_id", ttl_attribute="expires_at")
# One lease item per duty that must run once across all runner hosts (reconciler, autoscaler, cron, ...).
DUTIES = TableDef("duties", pk="name")
ALIASES = TableDef("aliases", pk="tenant", sk="alias")  # unique per tenant by the key itself
CONFIGS = TableDef("configs", pk="tenant", sk="name")
# One item per (actor, config) a config names: ``tenant#actor_id`` -> config name. A runner reads its actor's
# partition and then only those configs (a GSI cannot index a config's list of actors), never the tenant's.
CONFIG_BINDINGS = TableDef("bindings", pk="actor_key", sk="name")
METRICS = TableDef("metrics", pk="tenant", sk="day")  # daily counters (Abaco's ``{date}-stats`` documents)

# One item per datagram an execution sent on /_abaco_results.sock, popped oldest first by GET .../results.
RESULTS = TableDef("results", pk="execution_key", sk="seq", sk_type="N", ttl_attribute="expires_at")

# Who may do what on an actor, alias or config: one item per (object, user); the index lists what a user
# may see (``tenant#user`` -> objects), so lists never scan other tenants.
PERMISSIONS = TableDef("permissions", pk="object_key", sk="username",
                       indexes=(("by_principal", "principal", "object_key"),))
# Nonces, keyed by what they unlock (``tenant#actor#id`` or ``tenant#alias#name``) and a handle derived from
# a hash of the secret; the secret itself is stored only encrypted. A nonce with an expiry goes by TTL.
NONCES = TableDef("nonces", pk="target", sk="handle", ttl_attribute="expires_at")

# The roles each principal last presented to the API (JWTs carry roles; nothing else stores them), so a
# runner can re-check that a privileged actor's owner still holds the privileged or admin role.
ROLES = TableDef("roles", pk="tenant", sk="username")

# Fixed-window request counters per principal, shared by every API process (the guard's second line after
# its in-process bucket): ``principal#window-start`` -> count, expired with the window.
RATE_LIMITS = TableDef("ratelimits", pk="counter", ttl_attribute="expires_at")

TABLES: tuple[TableDef, ...] = (ACTORS, EXECUTIONS, WORKERS, LOGS, HOSTS, DUTIES, ALIASES, CONFIGS, METRICS,
                                RESULTS, PERMISSIONS, NONCES, ROLES, RATE_LIMITS, CONFIG_BINDINGS)


@dataclass(frozen=True)
class QueueDef:
    name: str  # logical name; physical ``{prefix}-{name}``
    visibility_timeout: int = 60
    dead_letter: bool = False  # whether this queue redrives to the shared dead-letter queue

    def physical(self, prefix: str) -> str:
        return f"{prefix}-{self.name}"


DEAD_LETTER = QueueDef("dlq")
# Actor and execution events (ACTOR_READY, ACTOR_ERROR, EXECUTION_STARTED, EXECUTION_COMPLETE) of actors
# with a link or a webhook; the events duty on the runner hosts delivers them (reference §4.8).
EVENTS = QueueDef("events", visibility_timeout=60)


def command_queue(pool: str) -> QueueDef:
    """One command queue per runner pool (Abaco's ``command_channel_{queue}``): start requests nobody
    waits for (registrations, updates, added workers)."""
    return QueueDef(f"commands-{_safe(pool)}", visibility_timeout=30)


def wake_queue(pool: str) -> QueueDef:
    """One wake queue per runner pool: start requests for actors with messages waiting, which a host reads
    before the command queue, so a message never waits behind a pile of registrations' requests."""
    return QueueDef(f"wake-{_safe(pool)}", visibility_timeout=30)


def start_queues(pool: str) -> tuple[QueueDef, QueueDef]:
    """A pool's two start-request queues: wake first (served first), then commands."""
    return wake_queue(pool), command_queue(pool)


def static_queues(pools: list[str]) -> list[QueueDef]:
    return [DEAD_LETTER, EVENTS, *(q for p in pools for q in start_queues(p))]


def inbox_name(prefix: str, tenant: str, actor_id: str) -> str:
    """The physical name of an actor's inbox queue (created with the actor, deleted with it)."""
    name = f"{prefix}-inbox-{_safe(tenant)}-{actor_id}"
    return name[:SQS_QUEUE_NAME_MAX]


def inbox_prefix(prefix: str) -> str:
    """Every inbox starts with this; IAM policies grant the API queue management under it only."""
    return f"{prefix}-inbox-"


def command_queue_prefix(prefix: str) -> str:
    return f"{prefix}-commands-"


def kms_alias(prefix: str) -> str:
    """The KMS key that wraps the data keys of secret configs (``ABACO_SECRETS_BACKEND=kms``)."""
    return f"alias/{prefix}-secrets"


def bucket_name(prefix: str) -> str:
    """Message payloads too large for SQS or the container environment, and every binary message."""
    return f"{prefix}-payloads".lower()


PAYLOAD_KEY_PREFIX = "messages/"  # every payload object; the bucket's lifecycle rule expires them
PAYLOAD_EXPIRY_DAYS = 15  # lifecycle backstop: one day past the 14-day SQS retention


def _safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", value)
