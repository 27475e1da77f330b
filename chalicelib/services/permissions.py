"""Who may do what on actors, aliases and configs (reference §1.8), and the list filter.

Levels READ < EXECUTE < UPDATE. Owners get UPDATE at creation; a grant to ``ABACO_WORLD`` applies to
everybody at its level (Abaco ignored the level); admins pass every check in their own tenant. Other
engineers' services call ``require`` (body-named objects, e.g. the actor an alias points to),
``grant_owner``/``drop`` on create/delete, and ``readable`` to filter lists and search results.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Self

from pydantic import model_validator

from chalicelib.domain import bodies
from chalicelib.domain.access import WORLD, Kind, Level
from chalicelib.domain.errors import BadRequest, NotAuthorized, NotFound
from chalicelib.domain.models import Actor
from chalicelib.identity.auth import Caller
from chalicelib.services import paged
from chalicelib.wiring.backend import Backend

MAX_USER_LENGTH = 128  # a user name in a grant (JWT subjects are far shorter)

NOT_AUTHORIZED = {
    Kind.ACTOR: "Not authorized -- you do not have access to this actor.",
    Kind.ALIAS: "Not authorized -- you do not have access to this alias.",
    Kind.CONFIG: "Not authorized -- you do not have access to this config.",
}
# Abaco's own messages where its clients and functional tests match on them (its controllers and auth).
ALIAS_AND_ACTOR = "Not authorized -- you do not have access to this alias and actor."
NOT_FOUND = {
    Kind.ACTOR: "Actor with identifier '{name}' not found",
    Kind.ALIAS: "No alias found: {name}.",
    Kind.CONFIG: "No config found: {name}.",
}


def effective(levels: Mapping[str, Level], username: str) -> Level:
    """The caller's level from an object's grants: their own or everybody's, whichever is higher."""
    return max(levels.get(username, Level.NONE), levels.get(WORLD, Level.NONE))


def level_of(backend: Backend, caller: Caller, kind: Kind, name: str) -> Level:
    if caller.is_admin:
        return Level.UPDATE
    return effective(_levels(backend, caller, kind, name), caller.username)


def _levels(backend: Backend, caller: Caller, kind: Kind, name: str) -> dict[str, Level]:
    """The caller's and everybody's grants on the object (one read, whatever the object's other grants)."""
    return backend.permissions.levels_of(kind, caller.tenant, name, (caller.username, WORLD))


def require(backend: Backend, caller: Caller, kind: Kind, name: str, level: Level,
            must_exist: bool = False, message: str | None = None) -> None:
    """Raise unless the caller holds ``level`` on the object in their own tenant (``message``, when given,
    is the refusal's text instead of the kind's).

    An object without any grant does not exist (creation always grants the owner), so with
    ``must_exist`` that is a 404, the same answer an object of another tenant gets.
    """
    if caller.is_admin and not must_exist:
        return  # an admin holds every level: no need to read the grants (one round trip per request)
    levels = _levels(backend, caller, kind, name)
    if must_exist and not levels and not backend.permissions.exists(kind, caller.tenant, name):
        raise NotFound(NOT_FOUND[kind].format(name=name))
    if caller.is_admin:
        return
    if effective(levels, caller.username) < level:
        raise NotAuthorized(message or NOT_AUTHORIZED[kind])


def owns(caller: Caller, actor: Actor) -> bool:
    """Whether the caller is the actor's owner, who always holds UPDATE on it: the grant is written at
    registration, ``grant`` refuses to lower it, and it goes only with the actor. The actor was read in the
    caller's tenant, so the guard need not read the grants again (one query less per owner request)."""
    return actor.tenant == caller.tenant and actor.owner == caller.username


def grant_owner(backend: Backend, kind: Kind, tenant: str, name: str, username: str) -> None:
    backend.permissions.grant(kind, tenant, name, username, Level.UPDATE)


def drop(backend: Backend, kind: Kind, tenant: str, name: str) -> None:
    backend.permissions.drop(kind, tenant, name)


def listing(backend: Backend, caller: Caller, kind: Kind, name: str) -> dict[str, str]:
    """The ``{user: level}`` map Abaco returns, of the object's first ``LIST_LIMIT`` users; paging
    parameters page further (``page``)."""
    levels = backend.permissions.first(kind, caller.tenant, name, paged.LIST_LIMIT)
    return {user: level.name for user, level in sorted(levels.items())}


def page(backend: Backend, caller: Caller, kind: Kind, name: str, params: paged.Params,
         link: str) -> dict[str, Any]:
    """One page of an object's grants as records ``{user, level}`` (``limit``, ``skip``, ``cursor``, filters)."""

    def rows(start: dict[str, Any] | None) -> Iterator[paged.Row]:
        for user, level, position in backend.permissions.walk(kind, caller.tenant, name, start):
            yield {"user": user, "level": level.name}, position

    return paged.page(backend, params, rows, link)


_GRANT = "Invalid permission description"


def _user(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{_GRANT}: user: Missing required parameter.")
    return value  # checked as a name once the level is (Abaco's order), by PermissionInput


def _level(raw: Any) -> Level:
    if raw is None or raw == "":
        raise BadRequest(f"{_GRANT}: level: Missing required parameter.")
    try:
        return Level.parse(raw)
    except ValueError as exc:
        raise BadRequest(f"{_GRANT}: level: '{raw}' is not one of NONE, READ, EXECUTE, UPDATE.") from exc


GrantUser = bodies.checked(str, lambda v, _i: _user(v), {
    "type": "string", "maxLength": MAX_USER_LENGTH,
    "pattern": r"^\s*[^#\s\x00-\x1f]([^#\x00-\x1f]*[^#\s\x00-\x1f])?\s*$"})
GrantLevel = bodies.checked(Level, lambda v, _i: _level(v), bodies.level_schema(*Level))


class PermissionInput(bodies.Body):
    PREFIX: ClassVar[str] = _GRANT
    user: GrantUser
    level: GrantLevel

    @model_validator(mode="after")
    def _user_name(self) -> Self:
        too_long = len(self.user) > MAX_USER_LENGTH  # the limit is on what was sent, before stripping
        self.user = self.user.strip()
        if too_long or "#" in self.user or any(ord(c) < 32 for c in self.user):
            raise BadRequest(f"{_GRANT}: user: invalid user name.")
        return self


def parse_grant(body: Mapping[str, Any]) -> tuple[str, Level]:
    given = PermissionInput.of(body)
    return given.user, given.level


def grant(backend: Backend, caller: Caller, kind: Kind, name: str, body: Mapping[str, Any],
          owner: str | None = None) -> dict[str, str]:
    """POST .../permissions: upsert ``{user, level}`` and return the whole map.

    Nonce-authorised requests may not grant (a nonce must not mint lasting access), and the owner's
    UPDATE cannot be taken away (Abaco allowed locking the owner out).
    """
    if caller.nonce:
        raise NotAuthorized("Not authorized -- permissions cannot be changed with a nonce.")
    user, level = parse_grant(body)
    if owner is not None and user == owner and level < Level.UPDATE:
        raise BadRequest("The owner's permission cannot be lowered.")
    backend.permissions.grant(kind, caller.tenant, name, user, level)
    return listing(backend, caller, kind, name)


def readable_page(backend: Backend, caller: Caller, kind: Kind, params: paged.Params,
                  walk: Callable[[str, dict[str, Any] | None], Iterable[tuple[Any, dict[str, Any]]]],
                  name_of: Callable[[Any], str], show: Callable[[Any], dict[str, Any]], link: str) -> dict[str, Any]:
    """One page of the tenant's objects of ``kind`` (``walk``) the caller may read (``limit``, ``skip``,
    ``cursor``, filters); the others count as read, so a page stays bounded whatever the caller may see."""
    allowed = None if caller.is_admin else readable_names(backend, caller, kind)

    def rows(start: dict[str, Any] | None) -> Iterator[paged.Row]:
        for item, position in walk(caller.tenant, start):
            yield (show(item) if allowed is None or name_of(item) in allowed else None), position

    return paged.page(backend, params, rows, link, created="create_time")


def readable_names(backend: Backend, caller: Caller, kind: Kind = Kind.ACTOR, level: Level = Level.READ) -> set[str]:
    """The names of the objects of ``kind`` the caller holds ``level`` on (one index query)."""
    return {name for name, lvl in backend.permissions.granted(kind, caller.tenant, caller.username).items()
            if lvl >= level}


# Fields only admins and the privileged role may set (Abaco's ``check_privileged``), with the value that
# means "not set". Checked on the parsed actor fields of POST and PUT /actors only: never on message or
# state bodies (Abaco inspected any body, so a message with a "privileged" key was refused).
PRIVILEGED_FIELDS: dict[str, Any] = {
    "privileged": False, "use_container_uid": False, "max_workers": None, "mem_limit": None,
    "max_cpus": None, "queue": "default",
}
PRIVILEGED_ONLY = "Not authorized -- only admins and privileged users can set {fields}."


def check_privileged_fields(caller: Caller, fields: Mapping[str, Any]) -> None:
    if caller.is_privileged:
        return
    restricted = [name for name, unset in PRIVILEGED_FIELDS.items() if fields.get(name, unset) != unset]
    if restricted:
        raise NotAuthorized(PRIVILEGED_ONLY.format(fields=", ".join(restricted)))
