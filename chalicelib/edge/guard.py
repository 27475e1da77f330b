"""Enforcement of every view's declared requirement (``@needs``), before the view runs.

``chalicelib.edge.http.route`` calls ``authorize`` for every request. In order: header and body sizes; the
failure budget of the source; the caller (JWT, ``none`` mode, or a nonce on an actor/alias route); the
caller's rate limit; then the scope: the object named in the path is looked up **in the caller's tenant**
(another tenant's id is a 404, like a missing one) and the caller's level on it checked (400, Abaco's code
for authorization failures). The result is stashed on the request for ``chalicelib.api.common.context``.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.access import PATH_PARAMETERS, Kind, Level, Scope
from chalicelib.domain.errors import NotAuthorized, NotFound, TooManyRequests, Unauthenticated
from chalicelib.domain.models import Actor, ExecutionStatus
from chalicelib.edge import limits
from chalicelib.identity import auth
from chalicelib.identity.auth import Caller
from chalicelib.services import actors, nonces, roles
from chalicelib.services import permissions as perms
from chalicelib.wiring.backend import Backend, get_backend
from chalicelib.wiring.settings import SHARED_RATE_LIMIT_WINDOW_SECONDS, Settings

LOG = logging.getLogger("abaco.auth")
ATTRIBUTE = "abaco_grant"  # where the grant is kept on the Chalice request
NONCE_PARAMETER = "x-nonce"
ADMIN_ONLY = "Not authorized -- this action requires the admin role."
_NONCE_SCOPES = (Scope.ACTOR, Scope.ACTOR_ADMIN, Scope.ALIAS)
FINISHED = (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR)


@dataclass(frozen=True)
class Grant:
    """What the guard established: who calls and, for actor routes, the actor (resolved in-tenant)."""

    caller: Caller
    actor: Actor | None = None
    identifier: str | None = None  # the path's actor id or alias


def _buckets(settings: Settings) -> tuple[limits.TokenBuckets, limits.TokenBuckets]:
    """Per process: requests per principal, and failed credentials per source."""
    return _make_buckets(settings.rate_limit_rps, settings.rate_limit_burst, settings.auth_failures_per_minute)


@functools.lru_cache(maxsize=4)
def _make_buckets(rps: float, burst: int, failures: int) -> tuple[limits.TokenBuckets, limits.TokenBuckets]:
    return limits.TokenBuckets(rps, burst), limits.TokenBuckets(failures / 60.0, max(failures, 1))


def authorize(request: Any, scope: Scope, level: Level, params: Mapping[str, str]) -> Grant:
    backend = get_backend()
    settings = backend.settings
    check_sizes(request, settings)
    if scope is Scope.PUBLIC:
        grant = Grant(Caller(username="anonymous", tenant=settings.tenant))
    else:
        grant = _authorize(backend, request, scope, level, params)
    setattr(request, ATTRIBUTE, grant)
    return grant


def grant_of(request: Any) -> Grant | None:
    return getattr(request, ATTRIBUTE, None)


def check_sizes(request: Any, settings: Settings) -> None:
    limits.check_headers(request.headers, settings.max_header_bytes)
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    length = int(declared) if declared and declared.isdigit() else len(request.raw_body or b"")
    limits.check_body(content_type, length, settings.max_body_bytes, settings.max_content_length)


def _authorize(backend: Backend, request: Any, scope: Scope, level: Level, params: Mapping[str, str]) -> Grant:
    requests_bucket, failure_bucket = _buckets(backend.settings)
    source = _source(request)
    failure_bucket.check(f"src:{source}", "Too many failed authentication attempts")
    try:
        grant = _identify(backend, request, scope, level, params)
    except Unauthenticated as exc:
        LOG.info("authentication failed from %s: %r", source, exc.reason[:200])  # repr: one line, escaped
        failure_bucket.take(f"src:{source}", "Too many failed authentication attempts")
        raise
    requests_bucket.take(grant.caller.principal)
    _take_shared(backend, grant.caller.principal)
    if grant.caller.nonce:
        return grant  # the nonce path checked everything already
    roles.observe(backend, grant.caller)  # what the runners re-check privileged actors' owners against
    return _check_scope(backend, grant.caller, scope, level, params)


def _take_shared(backend: Backend, principal: str) -> None:
    """The limit across every API process (a shared counter), behind the in-process bucket."""
    settings = backend.settings
    if settings.rate_limit_rps <= 0 or settings.shared_rate_limit_per_minute <= 0:
        return
    wait = backend.rate_limits.take(principal, settings.shared_rate_limit_per_minute,
                                    SHARED_RATE_LIMIT_WINDOW_SECONDS)
    if wait:
        raise TooManyRequests(f"Too many requests; retry after {wait} s.", wait)


def _identify(backend: Backend, request: Any, scope: Scope, level: Level, params: Mapping[str, str]) -> Grant:
    caller = auth.identify(request.headers, backend.settings, functools.partial(roles.granted, backend))
    if caller is not None:
        _check_execution_running(backend, caller)
        return Grant(caller)
    secret = (request.query_params or {}).get(NONCE_PARAMETER)
    if not secret or scope not in _NONCE_SCOPES:
        raise Unauthenticated("no credentials")
    return _redeem_nonce(backend, secret, scope, level, params)


def precheck(headers: Mapping[str, str], query: Mapping[str, str], scope: Scope, level: Level,
             params: Mapping[str, str]) -> None:
    """Authorise a request before its body is read (large uploads), with no side effect: a nonce is
    checked, not used (the request itself uses it when it reaches its view)."""
    backend = get_backend()
    caller = auth.identify(headers, backend.settings, functools.partial(roles.granted, backend))
    if caller is not None:
        _check_execution_running(backend, caller)
        _check_scope(backend, caller, scope, level, params)
        return
    secret = query.get(NONCE_PARAMETER)
    if not secret or scope not in _NONCE_SCOPES:
        raise Unauthenticated("no credentials")
    _redeem_nonce(backend, secret, scope, level, params, consume=False)


def _check_execution_running(backend: Backend, caller: Caller) -> None:
    """An actor token (``chalicelib.identity.platform_tokens``) lives only while its execution runs."""
    if caller.execution is None:
        return
    execution = backend.executions.find(*caller.execution)
    if execution is None or execution.tenant != caller.tenant or execution.status in FINISHED:
        raise Unauthenticated("actor token of an execution that is not running")


def _redeem_nonce(backend: Backend, secret: str, scope: Scope, level: Level, params: Mapping[str, str],
                  consume: bool = True) -> Grant:
    tenant = nonces.tenant_of(secret)
    identifier = _path_value(scope, params)
    if scope is Scope.ALIAS:
        kind, name, actor = Kind.ALIAS, identifier, None
    else:
        try:
            actor = _actor(backend, Caller(username="", tenant=tenant), identifier)
        except NotFound as exc:  # without credentials, existence is not revealed either
            raise Unauthenticated("nonce for an unknown actor") from exc
        kind, name = (Kind.ACTOR, actor.id) if actor.id == identifier else (Kind.ALIAS, identifier)

    def creator_still_allowed(caller: Caller) -> None:
        _check_scope(backend, caller, scope, level, params, actor)

    if consume:
        caller = nonces.redeem(backend, secret, kind, name, tenant, level, creator_still_allowed)
    else:
        caller, _ = nonces.check(backend, secret, kind, name, tenant, level)
        creator_still_allowed(caller)
    return Grant(caller, actor, identifier)


def _check_scope(backend: Backend, caller: Caller, scope: Scope, level: Level, params: Mapping[str, str],
                 actor: Actor | None = None) -> Grant:
    if not caller.has_base_role:
        raise NotAuthorized(auth.MISSING_ROLE)
    if scope is Scope.AUTHENTICATED:
        return Grant(caller)
    if scope is Scope.ADMIN:
        if not caller.is_admin:
            raise NotAuthorized(ADMIN_ONLY)
        return Grant(caller)
    identifier = _path_value(scope, params)
    if scope in (Scope.ACTOR, Scope.ACTOR_ADMIN):
        actor = actor or _actor(backend, caller, identifier)
        if scope is Scope.ACTOR_ADMIN and not caller.is_admin:
            raise NotAuthorized(ADMIN_ONLY)
        if not perms.owns(caller, actor):
            perms.require(backend, caller, Kind.ACTOR, actor.id, level)
        return Grant(caller, actor, identifier)
    kind = Kind.ALIAS if scope is Scope.ALIAS else Kind.CONFIG
    _must_exist(backend, caller.tenant, kind, identifier)
    perms.require(backend, caller, kind, identifier, level)
    return Grant(caller, None, identifier)


def _must_exist(backend: Backend, tenant: str, kind: Kind, name: str) -> None:
    """Aliases and configs are looked up in the caller's tenant: another tenant's is a 404 like a missing one."""
    store = backend.aliases if kind is Kind.ALIAS else backend.configs
    if store.find(tenant, name) is None:
        raise NotFound(perms.NOT_FOUND[kind].format(name=name))


def _actor(backend: Backend, caller: Caller, identifier: str) -> Actor:
    return actors.get(backend, caller, identifier)


def _path_value(scope: Scope, params: Mapping[str, str]) -> str:
    for name in PATH_PARAMETERS.get(scope, ()):
        if params.get(name):
            return params[name]
    raise NotFound(f"The {scope.value} named in the path was not found.")


def _source(request: Any) -> str:
    context = getattr(request, "context", None) or {}
    return str((context.get("identity") or {}).get("sourceIp") or "unknown")
