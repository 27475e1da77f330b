"""Nonces on actors and aliases (reference §1.9), without Abaco's weaknesses (reference §9, reliability plan §4.3).

* The secret (Abaco's nonce ``id``) is ``{tenant}_{64 hex digits}``: 256 random bits (Abaco's were a
  uuid1 timestamp).
* Abaco clients find a nonce's id by listing the nonces, so the id is listable, but only by callers who
  manage the object (UPDATE on the actor; for an alias nonce, on the alias and its actor): Abaco showed it
  to READ, which let a reader redeem an EXECUTE nonce. Others see the nonce with ``id`` null. (Reliability
  plan §4.3 kept only a hash and showed the id once; showing ids to UPDATE alone keeps its point, that a
  listing never turns READ into a higher level, and lets Abaco's clients work.)
* At rest the secret is encrypted by the secrets backend (``chalicelib/adapters/crypto.py``: Fernet, or KMS
  envelopes bound to the tenant and the nonce), never stored in clear. The storage key (``handle``) is the
  first 128 bits of its SHA-256: a redemption stays one read, and nonces stored before encryption keep
  working (their secret is shown to nobody). A keyed hash would add nothing here: the secret has 256
  random bits, so its unkeyed hash cannot be inverted, and a key would cost a second lookup for old nonces.
* A request with ``?x-nonce=`` and no JWT runs as the nonce's creator with at most the ``user`` role
  (never admin or privileged, whatever the creator holds), at most at the nonce's level, on its one
  actor or alias, and only while the creator still holds that level.
* ``max_uses`` is consumed with one conditional UpdateItem, so concurrent uses never overshoot; the same
  write refuses a nonce whose optional expiry (``ttl`` seconds at creation, shown as ``expires_at``) passed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from chalicelib.adapters import crypto
from chalicelib.adapters.storage.nonces import Exhausted, Expired, target
from chalicelib.domain import bodies, inputs
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest, NotAuthorized, NotFound, Unauthenticated
from chalicelib.domain.models import Actor, Nonce
from chalicelib.domain.responses import NonceResponse, made
from chalicelib.identity.auth import TENANT_PATTERN, Caller
from chalicelib.services import paged, permissions
from chalicelib.services.roles import nonce_roles
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.nonces")

SECRET_BYTES = 32  # 256 bits of randomness (reliability plan §4.3: token of at least 128 bits)
HANDLE_HEX = 32  # 128 bits of the secret's SHA-256 name a nonce in lists and URLs
_SECRET = re.compile(r"^(?P<tenant>.+)_(?P<random>[0-9a-f]{64})$")
_HANDLE = re.compile(r"^[0-9a-f]{32}$")
PREFIX = "Invalid nonce description"
ACTOR_LEVELS = (Level.NONE, Level.READ, Level.EXECUTE, Level.UPDATE)
ALIAS_LEVELS = (Level.NONE, Level.READ, Level.EXECUTE)  # Abaco: alias nonces cannot carry UPDATE
EXHAUSTED = "No remaining uses left for this nonce."
EXPIRED = "This nonce has expired."
MAX_TTL = 999_999_999  # seconds (about 31 years): the largest nine-digit number, as the input schema spells it
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


def _level(raw: Any, allowed: tuple[Level, ...]) -> Level:
    try:
        level = Level.parse(raw)
    except ValueError as exc:
        raise BadRequest(f"{PREFIX}: level: '{raw}' is not a valid level.") from exc
    if level not in allowed:
        raise BadRequest(f"{PREFIX}: level: must be one of {', '.join(lvl.name for lvl in allowed)}.")
    return level


def _max_uses(value: Any) -> int:
    max_uses = inputs.as_int(value, "max_uses", PREFIX)
    max_uses = -1 if max_uses is None else max_uses
    if max_uses == 0 or max_uses < -1 or max_uses > MAX_USES:
        raise BadRequest(f"{PREFIX}: max_uses: must be a positive integer up to {MAX_USES} or -1 (unlimited).")
    return max_uses


def _description(value: Any) -> str:
    description = inputs.as_str(value, "description", PREFIX)
    if len(description) > MAX_DESCRIPTION:
        raise BadRequest(f"{PREFIX}: description: longer than {MAX_DESCRIPTION} characters.")
    return description


def _ttl(value: Any) -> int | None:
    ttl = inputs.as_int(value, "ttl", PREFIX)
    if ttl is not None and not 1 <= ttl <= MAX_TTL:
        raise BadRequest(f"{PREFIX}: ttl: must be a number of seconds from 1 to {MAX_TTL}.")
    return ttl


assert MAX_USES == 10 ** 9, "the pattern below spells the limit"
MaxUses = bodies.checked(int, lambda v, _i: _max_uses(v), {
    "description": f"-1: unlimited; at most {MAX_USES}", "nullable": True, "oneOf": [
        {"type": "integer", "minimum": -1, "maximum": MAX_USES, "not": {"enum": [0]}},
        {"type": "string", "pattern": r"^\s*(-0*1|\+?0*([1-9][0-9]{0,8}|1000000000))\s*$"},
        {"type": "string", "enum": [""]}]})
assert MAX_TTL == 10 ** 9 - 1, "the pattern below spells the limit"
Ttl = bodies.checked(int | None, lambda v, _i: _ttl(v), {
    "description": f"seconds the nonce stays usable, 1 to {MAX_TTL}; absent: no expiry", "nullable": True,
    "oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_TTL},
              {"type": "string", "pattern": r"^\s*\+?0*[1-9][0-9]{0,8}\s*$"}, {"type": "string", "enum": [""]}]})
Description = bodies.checked(str, lambda v, _i: _description(v), bodies.text_schema(MAX_DESCRIPTION))
ActorLevel = bodies.checked(Level, lambda v, _i: _level(v, ACTOR_LEVELS), bodies.level_schema(*ACTOR_LEVELS))
AliasLevel = bodies.checked(Level, lambda v, _i: _level(v, ALIAS_LEVELS), bodies.level_schema(*ALIAS_LEVELS))


class NonceInput(bodies.Body):
    PREFIX: ClassVar[str] = PREFIX
    level: ActorLevel = Level.EXECUTE
    max_uses: MaxUses = -1
    description: Description = ""
    ttl: Ttl = None


class AliasNonceInput(NonceInput):
    level: AliasLevel = Level.EXECUTE


def parse(body: dict[str, Any], kind: Kind) -> tuple[Level, int, str]:
    given = (AliasNonceInput if kind is Kind.ALIAS else NonceInput).of(body)
    return given.level, given.max_uses, given.description


def parse_ttl(body: dict[str, Any]) -> int | None:
    """The optional ``ttl``: seconds the nonce stays usable, 1 to ``MAX_TTL`` (None: it never expires)."""
    return NonceInput.of(body).ttl


def _cipher_name(handle: str) -> str:
    """What the ciphertext is bound to besides the tenant (KMS encryption context): this nonce. Config
    names cannot contain ``:``, so no config secret shares it."""
    return f"nonce:{handle}"


def create(backend: Backend, caller: Caller, kind: Kind, name: str, actor_id: str | None,
           body: dict[str, Any]) -> dict[str, Any]:
    if caller.nonce:
        raise NotAuthorized("Not authorized -- nonces cannot be created with a nonce.")
    given = (AliasNonceInput if kind is Kind.ALIAS else NonceInput).of(body)
    level, max_uses, description, ttl = given.level, given.max_uses, given.description, given.ttl
    secret = f"{caller.tenant}_{secrets.token_hex(SECRET_BYTES)}"
    handle = handle_of(secret)
    sealed = crypto.cipher(backend.settings).encrypt(caller.tenant, secret, _cipher_name(handle))
    nonce = Nonce(tenant=caller.tenant, handle=handle, secret_hash=hash_secret(secret), secret_cipher=sealed,
                  expires_at=None if ttl is None else int(time.time()) + ttl,
                  actor_id=actor_id, alias=name if kind is Kind.ALIAS else None, owner=caller.username,
                  roles=list(nonce_roles(caller.roles)), level=level.name, max_uses=max_uses, remaining_uses=max_uses,
                  description=description, api_server=backend.settings.api_server)
    backend.nonces.create(target(kind, caller.tenant, name), nonce)
    return display(nonce, secret)


def expired(nonce: Nonce, now: float) -> bool:
    return nonce.expires_at is not None and nonce.expires_at <= now


def may_see_ids(backend: Backend, caller: Caller, kind: Kind, name: str, actor: Actor) -> bool:
    """Whether the caller manages the object, and so may see (and redeem) its nonces' secrets: UPDATE on
    the actor, and for alias nonces on the alias too. A nonce-authorised request never sees them."""
    if caller.nonce:
        return False
    if not (permissions.owns(caller, actor) or
            permissions.level_of(backend, caller, Kind.ACTOR, actor.id) >= Level.UPDATE):
        return False
    return kind is Kind.ACTOR or permissions.level_of(backend, caller, Kind.ALIAS, name) >= Level.UPDATE


def list_for(backend: Backend, caller: Caller, kind: Kind, name: str, actor: Actor) -> list[dict[str, Any]]:
    """Abaco's list: the object's unexpired nonces among its first ``LIST_LIMIT``, with their ids for those
    who manage it (``may_see_ids``); paging parameters page further (``page``)."""
    reveal = may_see_ids(backend, caller, kind, name, actor)
    now = time.time()
    return [display(n, _secret(backend, n) if reveal else None)
            for n in backend.nonces.list(target(kind, caller.tenant, name), paged.LIST_LIMIT) if not expired(n, now)]


def page(backend: Backend, caller: Caller, kind: Kind, name: str, actor: Actor,
         params: paged.Params) -> dict[str, Any]:
    """One page of the object's unexpired nonces. Filters see them without their ids; only the nonces
    the page returns are decrypted (for those who manage the object), never a whole window."""
    reveal = may_see_ids(backend, caller, kind, name, actor)
    now = time.time()
    read: dict[str, Nonce] = {}

    def rows(start: dict[str, Any] | None) -> Iterator[paged.Row]:
        for nonce, position in backend.nonces.walk(target(kind, caller.tenant, name), start):
            read[nonce.handle] = nonce
            yield (None if expired(nonce, now) else display(nonce, None)), position

    link = f"/actors/{actor.id}/nonces" if kind is Kind.ACTOR else f"/actors/aliases/{name}/nonces"
    result = paged.page(backend, params, rows, link, created="create_time")
    if reveal:
        for record in result["search"]:
            record["id"] = _secret(backend, read[record["handle"]])
    return result


def _secret(backend: Backend, nonce: Nonce) -> str | None:
    """The nonce's secret, decrypted; None for a nonce stored before secrets were kept, or one whose key is
    gone (logged: the operator removed a key that still protects data)."""
    if not nonce.secret_cipher:
        return None
    try:
        return crypto.cipher(backend.settings).decrypt(nonce.tenant, nonce.secret_cipher, _cipher_name(nonce.handle))
    except crypto.DecryptionError as exc:
        LOG.error("nonce %s of %s: its secret cannot be decrypted: %s", nonce.handle, nonce.tenant, exc)
        return None


def _handle(identifier: str) -> str:
    if _HANDLE.match(identifier):
        return identifier
    if _SECRET.match(identifier):
        return handle_of(identifier)
    raise NotFound(f"Nonce {identifier} not found.")


def get(backend: Backend, caller: Caller, kind: Kind, name: str, identifier: str, actor: Actor) -> dict[str, Any]:
    nonce = backend.nonces.find(target(kind, caller.tenant, name), _handle(identifier))
    if nonce is None or expired(nonce, time.time()):
        raise NotFound(f"Nonce {identifier} not found.")
    reveal = may_see_ids(backend, caller, kind, name, actor)
    return display(nonce, _secret(backend, nonce) if reveal else None)


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
    if expired(nonce, time.time()):
        raise BadRequest(EXPIRED)
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
        backend.nonces.redeem(target(kind, tenant, name), caller.nonce or "", secret_hash, int(time.time()))
    except Exhausted as exc:
        raise BadRequest(EXHAUSTED) from exc
    except Expired as exc:
        raise BadRequest(EXPIRED) from exc
    except NotFound as exc:  # deleted meanwhile
        raise Unauthenticated("nonce deleted") from exc
    return caller


def display(nonce: Nonce, secret: str | None = None) -> dict[str, Any]:
    """Abaco's nonce fields; ``id`` is the secret when the caller may see it, else null. ``handle`` names
    the nonce in URLs for everyone."""
    base = nonce.api_server.rstrip("/")
    owner_path = f"aliases/{nonce.alias}" if nonce.alias else nonce.actor_id
    data = made(NonceResponse, **{
        **nonce.model_dump(), "id": secret, "last_use_time": nonce.last_use_time or "None",
        "expires_at": _time(nonce.expires_at)})  # an allow-list: chalicelib/domain/responses.py
    data["_links"] = {"self": f"{base}/actors/{owner_path}/nonces/{nonce.handle}",
                      "actor": f"{base}/actors/{nonce.actor_id}", "owner": f"{base}/profiles/v2/{nonce.owner}"}
    return data


def _time(epoch: int | None) -> str | None:
    """Epoch seconds as the API's other timestamps (``chalicelib.domain.models.utcnow``)."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
