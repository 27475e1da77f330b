"""Actor configs and secrets (reference §1.11): named values handed to listed actors as ``_actor_configs``.

Secret values are encrypted before they are stored and only ciphertext ever leaves the API; the
runner decrypts them for the container of an actor the config lists. An alias is resolved to its actor
when the config is written (``actor_ids``): re-pointing or re-creating the alias later must not hand the
config's secrets to another actor (Abaco matched aliases at run time, by a substring test).
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from chalicelib.adapters import crypto
from chalicelib.domain import bodies, ids, inputs
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.models import Actor, ActorConfig
from chalicelib.domain.responses import ConfigResponse, shown
from chalicelib.identity.auth import Caller
from chalicelib.services import aliases as alias_service
from chalicelib.services import paged
from chalicelib.services import permissions as permission_service
from chalicelib.wiring.backend import Backend

T = TypeVar("T")

PREFIX = "Invalid config description"
RESERVED_WORDS = ("executions", "nonces", "logs", "messages", "adapters", "admin", "utilization")
FORBIDDEN_CHARS = (":", "/", "?", "#", "[", "]", "@", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=",
                   " ")
MAX_NAME_LENGTH = 128
MAX_VALUE_CHARS = 32_768  # all configs share one environment variable, which Linux caps at 128 KiB
MAX_ACTORS = 100


def _name(value: Any) -> str:
    raw = inputs.as_str(value, "name", PREFIX)
    name = raw.strip()
    if len(raw) > MAX_NAME_LENGTH:  # before stripping: the limit is on what was sent
        raise BadRequest(f"{PREFIX}. A config name is at most {MAX_NAME_LENGTH} printable characters.")
    if not name:
        raise BadRequest(f"{PREFIX}. Missing required field: name")
    if name in RESERVED_WORDS:
        raise BadRequest(f"{name} is a reserved word. The following reserved words cannot be used for a "
                         f"config: {list(RESERVED_WORDS)}.")
    bad = next((c for c in FORBIDDEN_CHARS if c in name), None)
    if bad is not None:
        raise BadRequest(f"'{bad}' is a forbidden character. The following characters cannot be used for a "
                         f"config name: {list(FORBIDDEN_CHARS)}.")
    if len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadRequest(f"{PREFIX}. A config name is at most {MAX_NAME_LENGTH} printable characters.")
    return name


def _value(raw: Any) -> str:
    if raw is None:
        raise BadRequest(f"{PREFIX}. Missing required field: value")
    value = raw if isinstance(raw, str) else json.dumps(raw)
    if len(value) > MAX_VALUE_CHARS:
        raise BadRequest(f"{PREFIX}. value: longer than {MAX_VALUE_CHARS} characters.")
    if "\x00" in value:
        raise BadRequest(f"{PREFIX}. value: may not contain NUL characters.")
    return value


def _names(value: Any) -> list[str]:
    """The actor ids and/or aliases a config lists, as given (comma-separated text or a list)."""
    if value is None:
        raise BadRequest(f"{PREFIX}. Missing required field: actors")
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    names = [n.strip() for n in inputs.as_str(value, "actors", PREFIX).split(",") if n.strip()]
    if not names:
        raise BadRequest(f"{PREFIX}. actors: list at least one actor id or alias (comma separated).")
    if len(names) > MAX_ACTORS:
        raise BadRequest(f"{PREFIX}. actors: at most {MAX_ACTORS} actors.")
    return names


def _secret(value: Any) -> bool:
    if value is None:
        raise BadRequest(f"{PREFIX}. Missing required field: is_secret")
    return inputs.as_bool(value, "is_secret", PREFIX)


ConfigName = bodies.checked(str, lambda v, _i: _name(v),
                            bodies.name_schema(FORBIDDEN_CHARS, MAX_NAME_LENGTH, RESERVED_WORDS))
IsSecret = bodies.checked(bool, lambda v, _i: _secret(v), bodies.BOOLISH)
Value = bodies.checked(str, lambda v, _i: _value(v), {"oneOf": [
    {"type": "string", "maxLength": MAX_VALUE_CHARS, "pattern": r"^[^\x00]*$"},
    {"type": "number"}, {"type": "boolean"}, {"type": "object"}, {"type": "array"}]})
Recipients = bodies.checked(list[str], lambda v, _i: _names(v), {
    "description": "comma-separated actor ids and/or aliases, each existing and yours to UPDATE",
    "oneOf": [{"type": "string", "pattern": r"[^,\s]"},
              {"type": "array", "minItems": 1, "maxItems": MAX_ACTORS, "items": bodies.ACTOR_REF}]})


class ConfigUpdate(bodies.Body):  # the fields in the order of Abaco's checks
    PREFIX: ClassVar[str] = PREFIX
    is_secret: IsSecret
    value: Value
    actors: Recipients


class ConfigInput(bodies.Body):
    PREFIX: ClassVar[str] = PREFIX
    name: ConfigName
    is_secret: IsSecret
    value: Value
    actors: Recipients


def _actors(backend: Backend, caller: Caller, names: list[str]) -> tuple[list[str], list[str]]:
    """Actor ids and/or aliases, each existing in the caller's tenant (404 otherwise) and each one the
    caller may UPDATE: a config hands its values to those actors' containers (Abaco computed this check
    and ignored it, so anyone could attach a config to any actor). Returns the names as given and the
    actor ids they name now."""
    resolved: list[str] = []
    for name in dict.fromkeys(names):
        try:
            actor_id = alias_service.resolve(backend, caller.tenant, name)
        except NotFound:
            actor_id = None
        if actor_id is None or backend.actors.find(caller.tenant, actor_id) is None:
            raise NotFound(f"No actor or alias found with id: {name}.")
        permission_service.require(backend, caller, Kind.ACTOR, actor_id, Level.UPDATE)
        resolved.append(actor_id)
    return list(dict.fromkeys(names)), list(dict.fromkeys(resolved))


def _build(backend: Backend, caller: Caller, name: str, given: ConfigInput | ConfigUpdate, owner: str) -> ActorConfig:
    value, is_secret = given.value, given.is_secret
    actors, actor_ids = _actors(backend, caller, given.actors)
    if is_secret:
        value = crypto.cipher(backend.settings).encrypt(caller.tenant, value, name)
    return ActorConfig(tenant=caller.tenant, name=name, value=value, is_secret=is_secret, actors=actors,
                        actor_ids=actor_ids, owner=owner, api_server=backend.settings.api_server)


def create(backend: Backend, caller: Caller, body: dict[str, Any]) -> ActorConfig:
    """The creator gets UPDATE on the config, and needs UPDATE on every actor it lists."""
    given = ConfigInput.of(body)
    config = _build(backend, caller, given.name, given, caller.username)
    backend.configs.create(config, recipients(config))
    permission_service.grant_owner(backend, Kind.CONFIG, caller.tenant, config.name, caller.username)
    return config


def get(backend: Backend, caller: Caller, name: str) -> ActorConfig:
    return backend.configs.get(caller.tenant, name)


def list_configs(backend: Backend, caller: Caller) -> list[ActorConfig]:
    """Abaco's list (it listed the whole tenant's): the first ``LIST_LIMIT`` configs the caller may read;
    paging parameters page further (``page``)."""
    if caller.is_admin:
        found = backend.configs.first(caller.tenant, paged.LIST_LIMIT)
    else:
        names = sorted(permission_service.readable_names(backend, caller, Kind.CONFIG))[:paged.LIST_LIMIT]
        found = backend.configs.get_many(caller.tenant, names, consistent=True)
    return sorted(found, key=lambda c: c.create_time)


def page(backend: Backend, caller: Caller, params: paged.Params) -> dict[str, Any]:
    """One page of the configs the caller may read (``limit``, ``skip``, ``cursor``, filters)."""
    return permission_service.readable_page(backend, caller, Kind.CONFIG, params, backend.configs.walk,
                                            lambda config: config.name, display, "/actors/configs")


def update(backend: Backend, caller: Caller, name: str, body: dict[str, Any]) -> ActorConfig:
    """Full replacement; the name comes from the URL and the owner and creation time are kept."""
    current = get(backend, caller, name)
    replacement = _build(backend, caller, current.name, ConfigUpdate.of(body), current.owner)
    return backend.configs.replace(replacement.model_copy(update={"create_time": current.create_time}),
                                   recipients(current), recipients(replacement))


def delete(backend: Backend, caller: Caller, name: str) -> None:
    config = get(backend, caller, name)
    backend.configs.delete(caller.tenant, config.name, recipients(config))
    permission_service.drop(backend, Kind.CONFIG, caller.tenant, config.name)


def display(config: ActorConfig) -> dict[str, Any]:
    """Secrets show their ciphertext only; ``actors`` is Abaco's comma-separated string."""
    base = config.api_server.rstrip("/")
    return {**shown(ConfigResponse, config),
            "_links": {"self": f"{base}/actors/configs/{config.name}", "owner": f"{base}/profiles/v2/{config.owner}"}}


def configs_for_actor(backend: Backend, actor: Actor) -> dict[str, str]:
    """Decrypted ``{name: value}`` of every config written for this actor (by its id, or by an alias that
    named it then). Runs before every container start and reads only this actor's configs: its bindings
    (one Query) and, when it has any, those configs (one BatchGetItem), never the tenant's. With
    ``ABACO_CONFIG_CACHE_SECONDS`` the (runner) process keeps them that long, so a busy actor reads them
    once per window; a changed config then reaches executions within that window (0, the default: the
    next execution sees it). A binding whose config no longer lists the actor hands nothing over. An actor
    whose item lists no bound config (``Actor.config_names``) costs no read at all."""
    if actor.configs_known and not actor.config_names:
        return {}
    bound = _cached(("configs", actor.tenant, actor.id), backend.settings.config_cache_seconds,
                    lambda: backend.configs.for_actor(actor.tenant, actor.id))
    configs = sorted((c for c in bound if actor.id in recipients(c)), key=lambda c: c.create_time)
    if not configs:
        return {}
    cipher = crypto.cipher(backend.settings)
    out: dict[str, str] = {}
    for config in configs:
        if not config.is_secret:
            out[config.name] = config.value
            continue
        try:
            out[config.name] = cipher.decrypt(actor.tenant, config.value, config.name)
        except crypto.DecryptionError as exc:
            raise crypto.DecryptionError(f"config '{config.name}': {exc}") from exc
    return out


def recipients(config: ActorConfig) -> list[str]:
    """The actor ids a config's values go to. A config stored before ``actor_ids`` existed gives its values
    only to the ids it lists: its aliases may name other actors by now (re-save it to include them)."""
    return config.actor_ids or [name for name in config.actors if ids.is_hashid(name)]


def rebind(backend: Backend, tenant: str) -> int:
    """Write the bindings of every config of a tenant (configs stored before bindings existed reach their
    actors only once bound: ``scripts/rebind_configs.py`` runs this per tenant after an upgrade)."""
    listed = backend.configs.list(tenant)
    for config in listed:
        backend.configs.rebind(config, recipients(config))
    return len(listed)


CACHE_KEYS = 4096  # entries kept at most (the oldest go first)
_cache: OrderedDict[tuple[str, ...], tuple[float, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(key: tuple[str, ...], ttl: float, load: Callable[[], T]) -> T:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[no-any-return]
    value = load()
    with _cache_lock:
        _cache[key] = (now + ttl, value)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_KEYS:
            _cache.popitem(last=False)
    return value
