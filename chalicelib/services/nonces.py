"""Nonces on actors and aliases (reference §1.9), without Abaco's weaknesses (reference §9, reliability plan §4.3).

* The secret is ``{tenant}_{64 hex digits}``: 256 random bits (Abaco's were a uuid1 timestamp).
* Only its SHA-256 is stored; the secret is shown once, in the response that creates it. Afterwards a
  nonce is named by its ``handle`` (the first 128 bits of the hash), which is no credential.
* A request with ``?x-nonce=`` and no JWT runs as the nonce's creator with at most the ``user`` role
  (never admin or privileged, whatever the creator holds), at most at the nonce's level, on its one
  actor or alias, and only while the creator still holds that level.
* ``max_uses`` is consumed with one conditional UpdateItem, so concurrent uses never overshoot.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.storage.nonces import Exhausted, target
from chalicelib.domain import inputs
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest, NotAuthorized, NotFound, Unauthenticated
from chalicelib.domain.models import Nonce
from chalicelib.identity.auth import TENANT_PATTERN, Caller
from chalicelib.services.roles import nonce_roles
from chalicelib.wiring.backend import Backend

SECRET_BYTES = 32  # 256 bits of randomness (reliability plan §4.3: token of at least 128 bits)
HANDLE_HEX = 32  # 128 bits of the secret's SHA-256 name a nonce in lists and URLs
_SECRET = re.compile(r"^(?P<tenant>.+)_(?P<random>[0-9a-f]{64})$")
_HANDLE = re.compile(r"^[0-9a-f]{32}$")
PREFIX = "Invalid nonce description"
ACTOR_LEVELS = (Level.NONE, Level.READ, Level.EXECUTE, Level.UPDATE)
ALIAS_LEVELS = (Level.NONE, Level.READ, Level.EXECUTE)  # Abaco: alias nonces cannot carry UPDATE
EXHAUSTED = "No remaining uses left for this nonce."
MAX_DESCRIPTION = 4_096  # characters, as an actor's description: keeps the nonce item small
MAX_USES = 1_000_000_000  # a finite max_uses above this is meaningless (and must fit a DynamoDB number)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def handle_of(secret: str) -> str:
    return hash_secret(secret)[:HANDLE_HEX]


def tenant_of(secret: str) -> str:
    """The tenant named in a nonce secret; any malformed value is the generic 401."""
    match = _SECRET.match(secret or "")
    if not match or not TENANT_PATTERN.match(match.group("tenant")):
        raise Unauthenticated("malformed nonce")
    return match.group("tenant")


def parse(body: dict[str, Any], kind: Kind) -> tuple[Level, int, str]:
    allowed = ALIAS_LEVELS if kind is Kind.ALIAS else ACTOR_LEVELS
    raw_level = body.get("level", "EXECUTE")
    try:
        level = Level.parse(raw_level)
    except ValueError as exc:
        raise BadRequest(f"{PREFIX}: level: '{raw_level}' is not a valid level.") from exc
    if level not in allowed:
        raise BadRequest(f"{PREFIX}: level: must be one of {', '.join(lvl.name for lvl in allowed)}.")
    max_uses = inputs.as_int(body.get("max_uses", -1), "max_uses", PREFIX)
    max_uses = -1 if max_uses is None else max_uses
    if max_uses == 0 or max_uses < -1 or max_uses > MAX_USES:
        raise BadRequest(f"{PREFIX}: max_uses: must be a positive integer up to {MAX_USES} or -1 (unlimited).")
    description = inputs.as_str(body.get("description"), "description", PREFIX)
    if len(description) > MAX_DESCRIPTION:
        raise BadRequest(f"{PREFIX}: description: longer than {MAX_DESCRIPTION} characters.")
    return level, max_uses, description


def create(backend: Backend, caller: Caller, kind: Kind, name: str, actor_id: str | None,
           body: dict[str, Any]) -> dict[str, Any]:
    if caller.nonce:
        raise NotAuthorized("Not authorized -- nonces cannot be created with a nonce.")
    level, max_uses, description = parse(body, kind)
    secret = f"{caller.tenant}_{secrets.token_hex(SECRET_BYTES)}"
    nonce = Nonce(tenant=caller.tenant, handle=handle_of(secret), secret_hash=hash_secret(secret),
                  actor_id=actor_id, alias=name if kind is Kind.ALIAS else None, owner=caller.username,
                  roles=list(nonce_roles(caller.roles)), level=level.name, max_uses=max_uses, remaining_uses=max_uses,
                  description=description, api_server=backend.settings.api_server)
    backend.nonces.create(target(kind, caller.tenant, name), nonce)
    return display(nonce, secret)


def list_for(backend: Backend, caller: Caller, kind: Kind, name: str) -> list[dict[str, Any]]:
    return [display(n) for n in backend.nonces.list(target(kind, caller.tenant, name))]


def _handle(identifier: str) -> str:
    if _HANDLE.match(identifier):
        return identifier
    if _SECRET.match(identifier):
        return handle_of(identifier)
    raise NotFound(f"Nonce {identifier} not found.")


def get(backend: Backend, caller: Caller, kind: Kind, name: str, identifier: str) -> dict[str, Any]:
    nonce = backend.nonces.find(target(kind, caller.tenant, name), _handle(identifier))
    if nonce is None:
        raise NotFound(f"Nonce {identifier} not found.")
    return display(nonce)


def delete(backend: Backend, caller: Caller, kind: Kind, name: str, identifier: str) -> None:
    backend.nonces.delete(target(kind, caller.tenant, name), _handle(identifier))


def delete_all(backend: Backend, kind: Kind, tenant: str, name: str) -> None:
    """The object was deleted: its nonces go with it."""
    backend.nonces.delete_all(target(kind, tenant, name))


def check(backend: Backend, secret: str, kind: Kind, name: str, tenant: str, level: Level) -> tuple[Caller, str]:
    """The caller ``secret`` stands for on the object at ``level``, without using it up.

    Unknown or mismatched secrets are the generic 401; a level above the nonce's is a 400 (Abaco).
    """
    handle = handle_of(secret)
    key = target(kind, tenant, name)
    nonce = backend.nonces.find(key, handle)
    if nonce is None or not hmac.compare_digest(nonce.secret_hash, hash_secret(secret)):
        raise Unauthenticated("unknown nonce")
    if Level[nonce.level] < level:
        raise NotAuthorized("Not authorized -- this nonce does not grant the required level.")
    if nonce.max_uses != -1 and nonce.remaining_uses <= 0:
        raise BadRequest(EXHAUSTED)
    # Capped again here: nonces stored before the cap may still hold admin or privileged.
    caller = Caller(username=nonce.owner, tenant=tenant, roles=nonce_roles(nonce.roles), nonce=handle)
    return caller, nonce.secret_hash


def redeem(backend: Backend, secret: str, kind: Kind, name: str, tenant: str, level: Level,
           before_use: Callable[[Caller], None]) -> Caller:
    """``check``, then ``before_use`` (the creator's own rights), then consume one use, atomically."""
    caller, secret_hash = check(backend, secret, kind, name, tenant, level)
    before_use(caller)
    try:
        backend.nonces.redeem(target(kind, tenant, name), caller.nonce or "", secret_hash)
    except Exhausted as exc:
        raise BadRequest(EXHAUSTED) from exc
    except NotFound as exc:  # deleted meanwhile
        raise Unauthenticated("nonce deleted") from exc
    return caller


def display(nonce: Nonce, secret: str | None = None) -> dict[str, Any]:
    base = nonce.api_server.rstrip("/")
    owner_path = f"aliases/{nonce.alias}" if nonce.alias else nonce.actor_id
    data: dict[str, Any] = {
        "id": secret or nonce.handle, "handle": nonce.handle, "actor_id": nonce.actor_id, "alias": nonce.alias,
        "owner": nonce.owner, "roles": nonce.roles, "level": nonce.level, "max_uses": nonce.max_uses,
        "remaining_uses": nonce.remaining_uses, "current_uses": nonce.current_uses,
        "description": nonce.description, "create_time": nonce.create_time,
        "last_use_time": nonce.last_use_time or "None", "api_server": nonce.api_server,
    }
    data["_links"] = {"self": f"{base}/actors/{owner_path}/nonces/{nonce.handle}",
                      "actor": f"{base}/actors/{nonce.actor_id}", "owner": f"{base}/profiles/v2/{nonce.owner}"}
    return data
