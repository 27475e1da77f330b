"""What the API shows: an allow-list, one pydantic model per kind of answer (an execution, an actor, a worker,
an alias, a config, a nonce, a sent message, an executions summary, a role grant, a tenant, a site, an upload).
The OpenAPI document's schemas are generated from them (chalicelib/edge/openapi/schemas.py).

The domain models carry the protocol's bookkeeping too (the runner holding an attempt, its lease, the
encoded inbox message, the optimistic-locking version, ...). The API used to show a model minus a
deny-list, so a field added for the protocol was shown until someone remembered to hide it; here a field
is shown only once it is named. The fields and their order are Abaco's (reference §1.3, §1.4) plus our
documented additions (``attempt``, ``attempts``, ``phases``, ``max_attempts``, ``max_run_time``).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from chalicelib.domain.models import ActorStatus, AttemptRecord, ExecutionStatus, WorkerStatus

_TIME = {"format": "date-time", "description": "ISO-8601 UTC"}
Time = Annotated[str, Field(json_schema_extra=_TIME)]
OptionalTime = Annotated[str | None, Field(json_schema_extra=_TIME)]


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore", from_attributes=True)


class ExecutionResponse(Response):
    actor_id: str
    id: str
    executor: str
    api_server: str
    status: ExecutionStatus
    status_message: str
    worker_id: str | None
    message_received_time: Time
    start_time: OptionalTime
    finish_time: OptionalTime
    runtime: int = Field(description="seconds")
    cpu: int
    io: int
    exit_code: int | None
    final_state: dict[str, Any]
    attempt: int
    attempts: list[AttemptRecord]
    phases: dict[str, float] = Field(description="epoch seconds of each phase reached: queued, claimed, "
                                     "created, started, exited, finalised")
    max_attempts: int


class ActorResponse(Response):
    id: str
    image: str
    owner: str
    name: str | None
    description: str
    stateless: bool
    privileged: bool
    type: str
    hints: list[str]
    default_environment: dict[str, Any]
    link: str
    webhook: str
    token: bool
    max_workers: int | None
    mem_limit: str | None
    max_cpus: int | None
    use_container_uid: bool
    queue: str
    log_ex: int | None
    cron_schedule: str | None
    cron_on: bool
    cron_next_ex: str | None = Field(description="next slot, YYYY-M-D H (UTC)")
    revision: int
    state: Any
    mounts: list[dict[str, str]]
    uid: str | None
    gid: str | None
    tasdir: str | None
    run_as_executor: bool
    max_attempts: int | None
    max_run_time: int | None
    status: ActorStatus
    status_message: str
    create_time: Time
    last_update_time: Time


class WorkerResponse(Response):
    """A worker without its scheduling bookkeeping (its owner, whether it was woken or is parked)."""

    tenant: str
    actor_id: str
    id: str
    status: WorkerStatus
    image: str
    revision: int
    ch_name: str
    location: str
    cid: str
    host_id: str
    host_ip: str
    slot: int = Field(description="its place among its actor's workers of one revision")
    create_time: Time
    last_execution_time: OptionalTime
    last_health_check_time: OptionalTime


class AliasResponse(Response):
    alias: str
    actor_id: str
    owner: str
    create_time: Time


def _joined(names: Any) -> Any:
    return ",".join(names) if isinstance(names, list) else names


class ConfigResponse(Response):
    """Secrets show their ciphertext only; ``actors`` is Abaco's comma-separated string."""

    name: str
    value: str = Field(description="ciphertext when is_secret")
    is_secret: bool
    actors: Annotated[str, BeforeValidator(_joined)] = Field(description="comma-separated actor ids and/or aliases")
    owner: str
    create_time: Time
    last_update_time: Time


class NonceResponse(Response):
    """Abaco's nonce fields; ``handle`` names the nonce in URLs for everyone."""

    id: str | None = Field(description="the secret to redeem; null unless the caller manages the actor (UPDATE)")
    handle: str
    actor_id: str | None
    alias: str | None
    owner: str
    roles: list[str]
    level: str
    max_uses: int = Field(description="-1: unlimited")
    remaining_uses: int = Field(description="-1: unlimited")
    current_uses: int
    description: str
    create_time: Time
    last_use_time: str = Field(description='ISO-8601 UTC; "None" until used (Abaco)')
    expires_at: str | None = Field(description="ISO-8601 UTC; null: never expires")
    api_server: str


class MessageSentResponse(Response):
    execution_id: str
    msg: Any = Field(description="the message as received (its text, its JSON, or a note for a binary one)")


class ExecutionBrief(Response):
    id: str
    status: ExecutionStatus
    start_time: OptionalTime
    finish_time: OptionalTime
    message_received_time: Time


class ExecutionsSummaryResponse(Response):
    """One page of an actor's executions with its totals (reference §1.4)."""

    actor_id: str
    api_server: str
    owner: str
    total_executions: int
    total_cpu: int
    total_io: int
    total_runtime: int
    executions: list[ExecutionBrief]
    ids: list[str]


class RoleGrantResponse(Response):
    username: str
    tenant: str
    roles: list[str]
    source: Literal["api", "settings", "none"] = Field(description="where the roles come from")
    granted_by: str | None = None
    granted_at: OptionalTime = None


class TenantResponse(Response):
    """What tapipy reads of a Tapis v3 tenant at start-up."""

    tenant_id: str
    base_url: str
    site_id: str
    token_service: str
    security_kernel: str
    authenticator: str
    owner: str
    admin_user: str
    token_gen_services: list[str]
    public_key: str
    description: str
    status: str


class SiteResponse(Response):
    site_id: str
    base_url: str
    primary: bool
    services: list[str]
    tenant_base_url_template: str
    site_admin_tenant_id: str


class MessageUploadResponse(Response):
    upload_id: str
    url: str
    method: str
    headers: dict[str, str]
    expires_in: int = Field(description="seconds")
    max_bytes: int
    message_header: str = Field(description="the header that names the upload when the message is sent")


def made(response: type[Response], **fields: Any) -> dict[str, Any]:
    """``fields`` as ``response`` shows them: its names only, as JSON values."""
    return response.model_validate(fields).model_dump(mode="json")


def shown(response: type[Response], record: BaseModel) -> dict[str, Any]:
    """The fields of ``record`` that ``response`` names, as JSON values."""
    return response.model_validate(record).model_dump(mode="json")
