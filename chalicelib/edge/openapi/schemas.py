"""Component schemas of the OpenAPI document: Abaco's models in their displayed (snake_case) form. Every answer
with fields of its own (the actor, the execution, the worker, the alias, the config, the nonce, the sent
message, the executions summary, the role grant, the tenant, the site, the upload, the statistics, the
overview, utilization and the admin summaries) is generated from the response model the API shows it with
(``chalicelib.domain.responses``, ``chalicelib.domain.stats``); what is written here are the lists, the
envelope, the compositions of those (an admin actor is an actor with its workers and counts), the search
results (records of any of four kinds) and the hosts view (the host records as stored, for operators)."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.paging import MAX_SKIP
from chalicelib.domain.responses import (
    ActorResponse,
    AliasResponse,
    ConfigResponse,
    ExecutionResponse,
    ExecutionsSummaryResponse,
    MessageSentResponse,
    MessageUploadResponse,
    NonceResponse,
    RoleGrantResponse,
    SiteResponse,
    TenantResponse,
    WorkerResponse,
)
from chalicelib.domain.stats import (
    ActorExecutionTotals,
    ActorStatsResponse,
    ExecutionsTotals,
    OverviewResponse,
    UtilizationResponse,
    WorkersSummary,
)
from chalicelib.edge.limits import MAX_PAGE_LIMIT
from chalicelib.edge.openapi.models import object_schema


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    return schema


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}


STR, INT, ANY = {"type": "string"}, {"type": "integer"}, {}
OPT_STR = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time", "nullable": True, "description": "ISO-8601 UTC"}
LINKS = {"type": "object", "additionalProperties": {"type": "string"}}
NEXT = {"next_cursor": {**OPT_STR, "description": "the cursor of the next page; null: this page is the last"},
        "next": {**OPT_STR, "description": "the next page's URL (these parameters and the cursor)"}}
PAGE_METADATA = _obj({"record_limit": INT, "count_returned": INT, **NEXT})

SCHEMAS: dict[str, Any] = {
    "Envelope": _obj({"message": STR, "result": ANY, "status": {"type": "string", "enum": ["success", "error"]},
                      "version": STR}, ("message", "result", "status", "version")),
    "Actor": object_schema(ActorResponse, ("id", "image", "owner", "status", "_links"), {"_links": LINKS}),
    "ActorList": _list("Actor"),
    "AdminActor": {"allOf": [{"$ref": "#/components/schemas/Actor"}, _obj({
        "workers": _list("Worker"), "messages": INT, "executions": INT, "runtime": INT})]},
    "AdminActorList": _list("AdminActor"),
    "MessageSent": object_schema(MessageSentResponse, ("execution_id",), {"_links": LINKS}),
    "MessageCount": _obj({"messages": INT, "_links": LINKS}),
    "MessagesPurged": _obj({"msg": STR, "_links": LINKS}),
    "Execution": object_schema(ExecutionResponse, ("id", "status", "_links"), {"_links": LINKS}),
    "ExecutionsSummary": object_schema(ExecutionsSummaryResponse, ("actor_id", "executions", "ids"),
                                       {"_links": LINKS, "_metadata": PAGE_METADATA}),
    "Logs": _obj({"logs": STR, "_links": LINKS}),
    "State": _obj({"state": ANY}),
    "Worker": object_schema(WorkerResponse, ("id", "status"), {
        "host_status": {**STR, "description": "its runner host's status, when the host is known"},
        "host_last_heartbeat_time": TIME, "_links": LINKS}),
    "WorkerList": _list("Worker"),
    "Alias": object_schema(AliasResponse, ("alias", "actor_id"), {"_links": LINKS}),
    "AliasList": _list("Alias"),
    "Config": object_schema(ConfigResponse, ("name", "value", "is_secret", "actors"), {"_links": LINKS}),
    "ConfigList": _list("Config"),
    "Permissions": {"type": "object", "additionalProperties": {"type": "string"}},
    "Nonce": object_schema(NonceResponse, ("id", "handle", "level"), {"_links": LINKS}),
    "NonceList": _list("Nonce"),
    "SearchResult": _obj({"_metadata": _obj({"total_count": INT, "records_skipped": INT, "record_limit": INT,
                                             "count_returned": INT, **NEXT}),
                          "search": {"type": "array", "items": {"type": "object"}}}),
    "AdminActorPage": _obj({"_metadata": PAGE_METADATA, "actors": _list("AdminActor")}),
    "Utilization": object_schema(UtilizationResponse, ("currentActors", "totalActors", "workers", "commandQueue")),
    "AdminWorkers": _obj({"summary": object_schema(WorkersSummary), "workers": {"type": "array", "items": {
        "allOf": [{"$ref": "#/components/schemas/Worker"}, _obj({"actor_dbid": STR})]}}, "_metadata": PAGE_METADATA},
                         ("summary", "workers")),
    "AdminHosts": _obj({"hosts": {"type": "array", "items": {"type": "object"}},
                        "duties": {"type": "array", "items": {"type": "object"}}}),
    "RoleGrant": object_schema(RoleGrantResponse, ("username", "tenant", "roles", "source")),
    "Tenant": object_schema(TenantResponse, ("tenant_id", "base_url", "site_id")),
    "TenantList": _list("Tenant"),
    "Site": object_schema(SiteResponse, ("site_id", "services", "site_admin_tenant_id")),
    "SiteList": _list("Site"),
    "AdminExecutions": _obj({"summary": object_schema(ExecutionsTotals), "actors": {
        "type": "array", "items": object_schema(ActorExecutionTotals)}, "_metadata": PAGE_METADATA},
        ("summary", "actors")),
    "ActorStats": object_schema(ActorStatsResponse, ("window", "summary", "series", "recent")),
    "MessageUpload": object_schema(MessageUploadResponse, ("upload_id", "url", "method", "headers")),
    "AdminOverview": object_schema(OverviewResponse, ("window", "hosts", "pools", "summary", "series")),
}

SEARCH_PARAMETERS: list[dict[str, Any]] = [
    {"name": "search", "in": "query", "required": False, "schema": STR,
     "description": "words to find anywhere in the record (any of them); may repeat. Any other parameter is a "
                    "field filter: field=value or field.<op>=value with op in eq, neq, gt, gte, lt, lte, in, nin, "
                    "like, nlike, between, on any field of the records, nested with dots (final_state.ExitCode); "
                    "OpenAPI 3.0 cannot describe parameters by name pattern, so they are not listed"},
    {"name": "exactsearch", "in": "query", "required": False, "schema": STR,
     "description": "a phrase that must appear; may repeat"},
    {"name": "skip", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SKIP, "default": 0},
     "description": f"at most {MAX_SKIP}: page further with the cursor of _metadata.next"},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 0, "default": 100},
     "description": f"values above {MAX_PAGE_LIMIT} count as {MAX_PAGE_LIMIT}"},
    {"name": "cursor", "in": "query", "required": False, "schema": STR,
     "description": "where the previous page stopped: the value of _metadata.next_cursor (opaque)"},
]
# The admin views page the tenant's actors (no filters); without either parameter, the first 1,000.
PAGING_PARAMETERS: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 0, "default": 100},
     "description": f"actors per page; values above {MAX_PAGE_LIMIT} count as {MAX_PAGE_LIMIT}"},
    SEARCH_PARAMETERS[-1],
]

WINDOW_PARAMETERS: list[dict[str, Any]] = [
    {"name": "window", "in": "query", "required": False, "schema": {"type": "string", "enum": ["hour", "day"]},
     "description": "the time covered: the last hour in minutes (default) or the last day in half hours"},
]

WAIT_PARAMETERS: list[dict[str, Any]] = [
    {"name": "wait", "in": "query", "required": False, "schema": {"type": "number", "minimum": 0},
     "description": "seconds to hold the answer until the execution is COMPLETE or ERROR (values above the "
                    "synchronous timeout, ABACO_SYNC_TIMEOUT, count as it); the execution as it is when the wait ends"},
]

MESSAGE_ENV_PARAMETERS: list[dict[str, Any]] = [
    {"name": "_abaco_synchronous", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": r"^[^\x00]*$"},
     "description": "true (any case) waits for the execution and returns its result or logs; any other value "
                    "sends the message asynchronously. Every other query parameter becomes an environment "
                    "variable of the container: a plain name ([A-Za-z_][A-Za-z0-9_]*) that is neither a "
                    "name Abaco sets (MSG, _actor_configs, _abaco_username, ...) nor a loader, interpreter, "
                    "shell or network hook (LD_*, PYTHON*, PATH, HOME, BASH_ENV, proxies, ...): 400 otherwise"},
]
