"""Every operation of the API, maintained by hand (reference §1.2), with what it takes and returns.

``tests/unit/test_openapi.py`` compares this table with the routes the app registers and fails on any
drift. An operation whose route is still being built may be marked ``planned``: it appears in the
served document once its route is registered.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    op_id: str
    summary: str
    tag: str
    result: str | None = None  # component schema(s) of the envelope's ``result``, ``A|B`` for either; None: null
    body: str | None = None  # component schema of the request body
    query: tuple[str, ...] = field(default_factory=tuple)  # names of query parameter groups
    raw: str | None = None  # a non-JSON response content type
    planned: bool = False


A, AL, C, S, AD, T = "actors", "aliases", "configs", "search", "admin", "tenants"
ACTOR = "/actors/{actor_id}"
ALIAS = "/actors/aliases/{alias}"
CONFIG = "/actors/configs/{config_name}"
EXECUTION = ACTOR + "/executions/{execution_id}"

OPERATIONS: tuple[Op, ...] = (
    Op("GET", "/actors", "listActors", "List the actors of the tenant (with query parameters: search)", A,
       "ActorList|SearchResult", query=("search",)),
    Op("POST", "/actors", "createActor", "Register an actor", A, "Actor", body="ActorInput"),
    Op("GET", ACTOR, "getActor", "An actor (by id or alias)", A, "Actor"),
    Op("PUT", ACTOR, "updateActor", "Replace an actor's description (absent fields take defaults)", A, "Actor",
       body="ActorUpdate"),
    Op("DELETE", ACTOR, "deleteActor", "Delete an actor, its inbox, workers and logs", A),
    Op("POST", ACTOR + "/messages/uploads", "requestMessageUpload", "A presigned S3 upload URL for a large binary "
       "message (then POST the message with the X-Abaco-Upload header)", A, "MessageUpload", body="MessageUploadInput"),
    Op("GET", ACTOR + "/messages", "getMessageCount", "Number of pending messages", A, "MessageCount"),
    Op("POST", ACTOR + "/messages", "sendMessage", "Send a message (form, JSON, text or binary)", A,
       "MessageSent", body="MessageInput", query=("message_env",)),
    Op("DELETE", ACTOR + "/messages", "purgeMessages", "Purge the actor's inbox", A, "MessagesPurged"),
    Op("GET", ACTOR + "/executions", "listExecutions", "Executions summary (with query parameters: search)", A,
       "ExecutionsSummary|SearchResult", query=("search",)),
    Op("POST", ACTOR + "/executions", "recordExecution", "Record a synthetic execution (legacy); returns the actor",
       A, "Actor", body="ExecutionInput"),
    Op("GET", EXECUTION, "getExecution", "An execution (with wait: once it has ended)", A, "Execution",
       query=("wait",)),
    Op("DELETE", EXECUTION, "forceQuitExecution", "Force-quit a RUNNING execution", A),
    Op("GET", EXECUTION + "/logs", "getExecutionLogs", "An execution's logs (with query parameters: search)", A,
       "Logs|SearchResult", query=("search",)),
    Op("GET", EXECUTION + "/results", "getExecutionResult", "Pop one result the actor sent (needs EXECUTE)", A,
       raw="application/octet-stream"),
    Op("GET", ACTOR + "/state", "getState", "An actor's state", A, "State"),
    Op("POST", ACTOR + "/state", "setState", "Replace a stateful actor's state", A, "Actor", body="StateInput"),
    Op("GET", ACTOR + "/workers", "listWorkers", "An actor's workers (with query parameters: search)", A,
       "WorkerList|SearchResult", query=("search",)),
    Op("POST", ACTOR + "/workers", "addWorkers", "Ensure at least num workers (administrators)", A,
       body="WorkersInput"),
    Op("GET", ACTOR + "/workers/{worker_id}", "getWorker", "A worker", A, "Worker"),
    Op("DELETE", ACTOR + "/workers/{worker_id}", "deleteWorker", "Stop a worker", A),
    Op("GET", ACTOR + "/permissions", "getActorPermissions", "Who may do what with an actor (with query "
       "parameters: one page of {user, level})", A, "Permissions|SearchResult", query=("search",)),
    Op("POST", ACTOR + "/permissions", "setActorPermission", "Grant or change a permission", A, "Permissions",
       body="PermissionInput"),
    Op("GET", ACTOR + "/nonces", "listActorNonces", "An actor's nonces (with query parameters: one page)", A,
       "NonceList|SearchResult", query=("search",)),
    Op("POST", ACTOR + "/nonces", "createActorNonce", "Create a nonce for an actor", A, "Nonce",
       body="NonceInput"),
    Op("GET", ACTOR + "/nonces/{nonce_id}", "getActorNonce", "A nonce", A, "Nonce"),
    Op("DELETE", ACTOR + "/nonces/{nonce_id}", "deleteActorNonce", "Delete a nonce", A),
    Op("GET", "/actors/aliases", "listAliases", "The aliases of the tenant (with query parameters: one page)", AL,
       "AliasList|SearchResult", query=("search",)),
    Op("POST", "/actors/aliases", "createAlias", "Create an alias for an actor", AL, "Alias", body="AliasInput"),
    Op("GET", ALIAS, "getAlias", "An alias", AL, "Alias"),
    Op("PUT", ALIAS, "updateAlias", "Point an alias at another actor", AL, "Alias", body="AliasUpdate"),
    Op("DELETE", ALIAS, "deleteAlias", "Delete an alias", AL),
    Op("GET", ALIAS + "/permissions", "getAliasPermissions", "Who may do what with an alias (with query "
       "parameters: one page of {user, level})", AL, "Permissions|SearchResult", query=("search",)),
    Op("POST", ALIAS + "/permissions", "setAliasPermission", "Grant or change an alias permission", AL,
       "Permissions", body="PermissionInput"),
    Op("GET", ALIAS + "/nonces", "listAliasNonces", "An alias's nonces (with query parameters: one page)", AL,
       "NonceList|SearchResult", query=("search",)),
    Op("POST", ALIAS + "/nonces", "createAliasNonce", "Create a nonce for an alias", AL, "Nonce",
       body="AliasNonceInput"),
    Op("GET", ALIAS + "/nonces/{nonce_id}", "getAliasNonce", "An alias nonce", AL, "Nonce"),
    Op("DELETE", ALIAS + "/nonces/{nonce_id}", "deleteAliasNonce", "Delete an alias nonce", AL),
    Op("GET", "/actors/configs", "listConfigs", "The configs of the tenant (with query parameters: one page)", C,
       "ConfigList|SearchResult", query=("search",)),
    Op("POST", "/actors/configs", "createConfig", "Create a config or secret", C, "Config", body="ConfigInput"),
    Op("GET", CONFIG, "getConfig", "A config (secrets as ciphertext)", C, "Config"),
    Op("PUT", CONFIG, "updateConfig", "Replace a config", C, "Config", body="ConfigUpdate"),
    Op("DELETE", CONFIG, "deleteConfig", "Delete a config", C),
    Op("GET", CONFIG + "/permissions", "getConfigPermissions", "Who may do what with a config (with query "
       "parameters: one page of {user, level})", C, "Permissions|SearchResult", query=("search",)),
    Op("POST", CONFIG + "/permissions", "setConfigPermission", "Grant or change a config permission", C,
       "Permissions", body="PermissionInput"),
    Op("GET", "/actors/search/{search_type}", "search", "Search actors, workers, executions or logs", S,
       "SearchResult", query=("search",)),
    Op("GET", "/actors/utilization", "getUtilization", "Counts of actors, workers and queued commands", AD,
       "Utilization"),
    Op("GET", "/actors/admin", "adminActors", "Actors with workers, messages and executions (a page of the "
       "tenant's)", AD, "AdminActorList|AdminActorPage", query=("paging",)),
    Op("GET", "/actors/admin/workers", "adminWorkers", "Workers of a page of actors with summary counts", AD,
       "AdminWorkers", query=("paging",)),
    Op("GET", "/actors/admin/executions", "adminExecutions", "Execution totals per actor (a page of actors)", AD,
       "AdminExecutions", query=("paging",)),
    Op("GET", "/actors/admin/hosts", "adminHosts", "Runner hosts, their heartbeats and workers, duty leases", AD,
       "AdminHosts"),
    Op("GET", "/actors/admin/overview", "adminOverview", "Hosts, pools, queues, duties and executions over time",
       AD, "AdminOverview", query=("window",)),
    Op("GET", ACTOR + "/stats", "getActorStats", "Executions over time: counts by status, run time and queue "
       "wait percentiles", A, "ActorStats", query=("window",)),
    Op("GET", "/actors/admin/roles/{username}", "getRoles", "A user's granted Tapis v3 roles (caller's tenant)", AD,
       "RoleGrant"),
    Op("PUT", "/actors/admin/roles/{username}", "putRoles", "Replace a user's granted roles", AD, "RoleGrant",
       body="RolesInput"),
    Op("DELETE", "/actors/admin/roles/{username}", "deleteRoles", "Revoke every granted role of a user", AD,
       "RoleGrant"),
    Op("GET", "/tenants", "listTenants", "The tenants (Tapis v3 Tenants API, read-only)", T, "TenantList"),
    Op("GET", "/tenants/{tenant_id}", "getTenant", "One tenant", T, "Tenant"),
    Op("GET", "/sites", "listSites", "The sites (one)", T, "SiteList"),
    Op("GET", "/actors/openapi.json", "getOpenApi", "This document", AD, raw="application/json"),
    Op("GET", "/dashboard", "getDashboard", "The web dashboard (a page calling this API)", "dashboard",
       raw="text/html"),
    Op("GET", "/dashboard/app.js", "getDashboardScript", "The dashboard's script", "dashboard",
       raw="text/javascript"),
    Op("GET", "/dashboard/app.css", "getDashboardStyle", "The dashboard's style sheet", "dashboard", raw="text/css"),
    Op("GET", "/dashboard/hosts", "getDashboardHosts", "The dashboard's operator page", "dashboard",
       raw="text/html"),
    Op("GET", "/dashboard/actors/{actor_id}", "getDashboardActor", "The dashboard's actor page", "dashboard",
       raw="text/html"),
    Op("GET", "/dashboard/actors/{actor_id}/executions/{execution_id}", "getDashboardExecution",
       "The dashboard's execution page", "dashboard", raw="text/html"),
)
