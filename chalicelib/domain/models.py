"""Domain models (storage-agnostic), their lifecycle states and transition tables."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> str:
    """Timestamps are ISO-8601 UTC with a ``Z`` (what Abaco's ``display_time`` meant to produce)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class ActorStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    READY = "READY"
    ERROR = "ERROR"
    SHUTTING_DOWN = "SHUTTING_DOWN"


class ExecutionStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"


class WorkerStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"
    SPAWNER_SETUP = "SPAWNER SETUP"
    PULLING_IMAGE = "PULLING IMAGE"
    CREATING_CONTAINER = "CREATING CONTAINER"
    READY = "READY"
    BUSY = "BUSY"
    SHUTDOWN_REQUESTED = "SHUTDOWN_REQUESTED"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    ERROR = "ERROR"


# The execution's transitions are a table of their own: chalicelib/domain/execution_machine.py.

LIVE_WORKER_STATUSES = frozenset(
    {
        WorkerStatus.REQUESTED,
        WorkerStatus.SPAWNER_SETUP,
        WorkerStatus.PULLING_IMAGE,
        WorkerStatus.CREATING_CONTAINER,
        WorkerStatus.READY,
        WorkerStatus.BUSY,
    }
)


class _Model(BaseModel):
    model_config = ConfigDict(use_enum_values=False, validate_assignment=True)


class Actor(_Model):
    tenant: str
    id: str
    image: str
    owner: str
    name: str | None = None
    description: str = ""
    stateless: bool = True
    privileged: bool = False
    type: str = "none"
    hints: list[str] = Field(default_factory=list)
    default_environment: dict[str, Any] = Field(default_factory=dict)
    link: str = ""  # as given (an id or an alias), shown to clients
    link_id: str = ""  # the actor ``link`` named when it was written: events go here, not to an alias's new target
    webhook: str = ""
    token: bool = False
    max_workers: int | None = None
    mem_limit: str | None = None
    max_cpus: int | None = None
    use_container_uid: bool = False
    queue: str = "default"
    log_ex: int | None = None
    cron_schedule: str | None = None
    cron_on: bool = False
    cron_next_ex: str | None = None
    revision: int = 1
    state: Any = Field(default_factory=dict)
    mounts: list[dict[str, str]] = Field(default_factory=list)
    uid: str | None = None
    gid: str | None = None
    tasdir: str | None = None
    run_as_executor: bool = False
    max_attempts: int | None = None  # runs of one message after runner losses; None: ABACO_MAX_ATTEMPTS
    max_run_time: int | None = None  # seconds before the container is stopped; None: ABACO_MAX_RUN_TIME
    start_failures: int = 0  # consecutive container-start failures; the sixth puts the actor in ERROR
    status: ActorStatus = ActorStatus.SUBMITTED
    status_message: str = ""
    create_time: str = Field(default_factory=utcnow)
    last_update_time: str = Field(default_factory=utcnow)
    api_server: str = ""
    version: int = 1  # optimistic-locking counter
    # The configs bound to the actor, kept on its item by the configs store (chalicelib/adapters/storage/
    # configs.py; never written by a put or a replace of the actor): a runner reads the bindings only when
    # there are some. ``configs_known`` is set for actors created since the list is kept; an older actor
    # has no list, so its bindings are always read.
    configs_known: bool = False
    config_names: list[str] = Field(default_factory=list)

    @property
    def dbid(self) -> str:
        return f"{self.tenant}_{self.id}"


class AttemptReason(enum.StrEnum):
    """Why an attempt ended, as recorded in an execution's ``attempts`` history."""

    EXITED = "exited"  # the container ran to its end (any exit code)
    TIMEOUT = "timeout"  # stopped at max_run_time
    OOM_KILLED = "oom_killed"  # the kernel killed it at the memory limit
    RUNNER_LOST = "runner_lost"  # the runner died or was cut off; its lease expired
    RUNNER_SHUTDOWN = "runner_shutdown"  # the runner was stopped (second signal) and handed it back
    START_FAILED = "start_failed"  # the container could not be created or started
    FENCED = "fenced"  # a newer attempt took over while this one was paused or cut off


class AttemptRecord(_Model):
    attempt: int
    runner_id: str
    worker_id: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    exit_code: int | None = None
    reason: str


class Execution(_Model):
    tenant: str
    actor_id: str
    id: str
    executor: str
    api_server: str = ""
    status: ExecutionStatus = ExecutionStatus.SUBMITTED
    status_message: str = ""
    worker_id: str | None = None
    message_received_time: str = Field(default_factory=utcnow)
    start_time: str | None = None
    finish_time: str | None = None
    runtime: int = 0
    cpu: int = 0
    io: int = 0
    exit_code: int | None = None
    final_state: dict[str, Any] = Field(default_factory=dict)
    content_type: str = "str"
    attempt: int = 0
    runner_id: str | None = None
    lease_expires_at: float | None = None
    attempts: list[AttemptRecord] = Field(default_factory=list)
    enqueued: bool = False
    phases: dict[str, float] = Field(default_factory=dict)  # epoch seconds per lifecycle phase
    created_ns: int = 0  # creation order (executions list in creation order)
    # Protocol bookkeeping (never shown by the API): the SQS message the current attempt runs from, how
    # many attempts count against max_attempts (start failures do not), the runner pool while the
    # execution is open, the encoded inbox message the reconciler re-sends, and when it last did.
    message_id: str | None = None
    charged: int = 0
    max_attempts: int = 0
    open_pool: str | None = None
    inbox_message: str | None = None
    last_sent_at: float | None = None
    payload_key: str | None = None  # the S3 object holding the message body, when it is not inline
    force_quit: bool = False  # DELETE asked the runner to stop the container
    # What the attempt that ended it stored (None: not said, an older runner or an attempt that did not run):
    # a synchronous answer reads the logs or the results only when there are some.
    log_bytes: int | None = None
    results_stored: int | None = None

    @property
    def actor_dbid(self) -> str:
        return f"{self.tenant}_{self.actor_id}"


PHASES = ("queued", "claimed", "created", "started", "exited", "finalised")  # Execution.phases keys, in order


class HostStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    DRAINING = "DRAINING"  # first signal: takes no new work, running executions finish
    FENCED = "FENCED"  # cut off from the store: its containers were killed, it writes nothing
    STOPPED = "STOPPED"


class Host(_Model):
    """A runner host's record: what it serves and its heartbeat."""

    id: str
    hostname: str = ""
    pid: int = 0
    pools: list[str] = Field(default_factory=list)
    privileged: bool = False
    slots: int = 0
    used_slots: int = 0
    idle_slots: int = 0  # active workers polling with no message (they hold no slot; informational)
    pinned_slots: int = 0  # slots the ``sync`` hint's warm workers keep (runners/host/slots.py)
    parked_workers: int = 0  # READY workers of this host without a poller (runners/host/parking.py)
    warm_waiting: int = 0  # pre-started containers waiting for a message (runners/pipeline/warm.py)
    # Per pool: the longest a start request waited in the wake queue, of those received in the last minute
    # (runners/host/wake_waits.py).
    wake_wait_s: dict[str, float] = Field(default_factory=dict)
    workers: list[str] = Field(default_factory=list)  # "actor_dbid/worker_id"
    # Of those, the ones running an execution, and when each last finished one: a worker's BUSY and its
    # last_execution_time ride on the heartbeat instead of two writes of its record per execution.
    busy: list[str] = Field(default_factory=list)
    last_executions: dict[str, str] = Field(default_factory=dict)
    status: HostStatus = HostStatus.RUNNING
    started_at: str = Field(default_factory=utcnow)
    heartbeat_at: float = 0.0
    last_heartbeat_time: str | None = None
    metrics_port: int = 0


class Worker(_Model):
    tenant: str
    actor_id: str
    id: str
    status: WorkerStatus = WorkerStatus.REQUESTED
    image: str = ""
    revision: int = 1
    ch_name: str = ""
    location: str = ""
    cid: str = ""
    host_id: str = ""
    host_ip: str = "127.0.0.1"
    slot: int = 0  # the worker's place among its actor's workers of one revision (see services.workers)
    owner: str = ""  # its actor's owner: what the per-user worker cap counts (chalicelib/services/quotas.py)
    woken: bool = False  # a start request for it is on the wake queue (a message waits; never declined)
    parked: bool = False  # READY without a poller: a message wakes it (services.workers.wake_requested)
    create_time: str = Field(default_factory=utcnow)
    last_execution_time: str | None = None
    last_health_check_time: str | None = None

    @property
    def actor_dbid(self) -> str:
        return f"{self.tenant}_{self.actor_id}"


class Alias(_Model):
    """Another name for an actor, unique in its tenant (reference §1.10)."""

    tenant: str
    alias: str
    actor_id: str
    owner: str
    api_server: str = ""
    create_time: str = Field(default_factory=utcnow)


class ActorConfig(_Model):
    """A named value (or secret, stored encrypted) handed to the listed actors (reference §1.11)."""

    tenant: str
    name: str
    value: str  # the ciphertext when ``is_secret``
    is_secret: bool
    actors: list[str]  # actor ids and/or aliases, as given (shown to clients)
    actor_ids: list[str] = Field(default_factory=list)  # what ``actors`` named when written: who gets the values
    owner: str
    api_server: str = ""
    create_time: str = Field(default_factory=utcnow)
    last_update_time: str = Field(default_factory=utcnow)


class Nonce(_Model):
    """A bearer credential for one actor or alias at one level (reference §1.9).

    ``handle`` identifies it in lists and URLs and is the storage key (the first 128 bits of the secret's
    SHA-256, so a redemption is one read). The secret (``id``) is stored only encrypted by the secrets
    backend (``secret_cipher``), for the callers who manage the actor; nonces stored before that have
    none and show their secret to nobody. ``expires_at`` (epoch seconds, the table's TTL) is optional.
    """

    tenant: str
    handle: str
    secret_hash: str
    secret_cipher: str | None = None
    expires_at: int | None = None
    actor_id: str | None = None
    alias: str | None = None
    owner: str
    roles: list[str] = Field(default_factory=list)
    level: str = "EXECUTE"
    max_uses: int = -1
    remaining_uses: int = -1
    current_uses: int = 0
    description: str = ""
    create_time: str = Field(default_factory=utcnow)
    last_use_time: str | None = None
    api_server: str = ""
