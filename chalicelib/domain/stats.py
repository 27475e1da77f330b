"""What the dashboard's read endpoints and the admin views show: an actor's statistics
(``GET /actors/{actor_id}/stats``), the operator's overview (``GET /actors/admin/overview``), utilization and
the admin summaries, one pydantic model each, so that the services build them through an allow-list and the
OpenAPI document is generated from them (chalicelib/edge/openapi/schemas.py) like the other answers
(chalicelib/domain/responses.py).

Durations are milliseconds, from the execution's phase stamps (chalicelib/services/insights.py); a
percentile is null when no execution of the bucket reached the phases it needs.
"""
from __future__ import annotations

from pydantic import Field

from chalicelib.domain.responses import OptionalTime, Response, Time

_MS = "milliseconds; null: no execution to measure"


class Window(Response):
    start: float = Field(description="epoch seconds of the first bucket")
    seconds: int
    bucket_seconds: int


class _Percentiles(Response):
    p50: float | None = Field(description="run time, " + _MS)
    p95: float | None = Field(description="run time, " + _MS)
    p99: float | None = Field(description="run time, " + _MS)
    wait_p50: float | None = Field(description="queue wait, " + _MS)
    wait_p95: float | None = Field(description="queue wait, " + _MS)


class Summary(_Percentiles):
    executions: int
    counts: dict[str, int] = Field(description="executions by status")
    cpu: int
    io: int
    runtime: int = Field(description="seconds")


class Bucket(_Percentiles):
    t: float = Field(description="epoch seconds of the bucket's start")
    counts: dict[str, int] = Field(description="executions received in the bucket, by their status now")
    total: int


class RecentExecution(Response):
    id: str
    status: str
    exit_code: int | None
    message_received_time: Time
    runtime: int = Field(description="seconds")
    cpu: int
    io: int
    run_ms: float | None
    queue_wait_ms: float | None


class LastError(Response):
    execution_id: str
    message: str
    exit_code: int | None


class ActorStatsResponse(Response):
    window: Window
    inbox_depth: int
    last_error: LastError | None = Field(description="the newest execution in ERROR within the window")
    status_message: str
    summary: Summary
    series: list[Bucket]
    recent: list[RecentExecution]


class QueueDepth(Response):
    visible: int
    in_flight: int


class WakeQueue(QueueDepth):
    wait_s: float | None = Field(description="the longest wait of a start request taken in the last minute")


class HostRow(Response):
    id: str
    hostname: str
    pools: list[str]
    status: str
    privileged: bool
    slots: int
    used_slots: int
    idle_slots: int
    workers: int
    started_at: OptionalTime
    warm_waiting: int
    parked_workers: int
    heartbeat_age_s: float | None


class PoolRow(Response):
    pool: str
    commands: QueueDepth
    wake: WakeQueue
    backlog: int
    queue: str = Field(description="the command queue's name")


class DutyRow(Response):
    name: str | None
    holder: str | None
    expires_at: float | None = Field(description="epoch seconds the holder's lease runs to")
    runs: int
    last_run_at: float | None
    last_error: str | None


class TenantCount(Response):
    tenant: str
    executions: int


class TopActor(Response):
    actor_id: str
    tenant: str
    executions: int
    errors: int
    cpu: int
    runtime: int


class OverviewResponse(Response):
    window: Window
    hosts: list[HostRow]
    pools: list[PoolRow]
    dead_letter: QueueDepth
    duties: list[DutyRow]
    summary: Summary
    series: list[Bucket]
    tenants: list[TenantCount]
    top_actors: list[TopActor]


# --- the admin views (reference §1.13) ----------------------------------------------------------------------

class UtilizationResponse(Response):
    """Always camelCase, as in Abaco."""

    currentActors: int
    totalActors: int
    workers: int
    commandQueue: int


class WorkersSummary(Response):
    total_workers: int
    ready_workers: int
    requested_workers: int
    error_workers: int
    busy_workers: int
    actors_no_workers: int


class ActorExecutionTotals(Response):
    actor_id: str
    owner: str
    image: str
    total_executions: int
    total_execution_cpu: int
    total_execution_io: int
    total_execution_runtime: int


class ExecutionsTotals(Response):
    """Tenant totals over all executions (``_all``: including those of actors being deleted, until the cleanup
    duty removes them) and over existing actors (``_existing``)."""

    total_actors_all_with_executions: int
    total_executions_all: int
    total_execution_runtime_all: int
    total_execution_cpu_all: int
    total_execution_io_all: int
    total_actors_existing_with_executions: int
    total_executions_existing: int
    total_execution_runtime_existing: int
    total_execution_cpu_existing: int
    total_execution_io_existing: int
    total_actors_all: int
    total_actors_existing: int
