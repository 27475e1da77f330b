"""Permission levels (reference §1.8) and the per-view declaration of what a route requires.

Views declare their need with ``@needs(Level.X, Scope.Y)``; ``chalicelib.edge.http.route`` enforces it for
every view through ``chalicelib.edge.guard`` (instead of guessing from URL substrings as the original did).
A view without a declaration is served to admins only (fail closed), and a test lists such views.

Scopes and the path parameter that names their object:

* ``PUBLIC``: no credentials at all (keep this for health or documentation routes).
* ``AUTHENTICATED``: any caller with a role (collections, search, creating things).
* ``ADMIN``: the admin role.
* ``ACTOR`` (``{actor_id}``, an id or an alias): the caller needs ``level`` on the actor.
* ``ACTOR_ADMIN`` (``{actor_id}``): the actor must exist in the caller's tenant and the caller be an admin
  (managing workers).
* ``ALIAS`` (``{alias}``) and ``CONFIG`` (``{config_name}`` or ``{name}``): ``level`` on that object.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

WORLD = "ABACO_WORLD"  # a grant to this user applies to everybody (reference §1.8)


class Level(enum.IntEnum):
    NONE = 0
    READ = 1
    EXECUTE = 2
    UPDATE = 3

    @classmethod
    def parse(cls, value: Any) -> Level:
        """``READ``/``read``/``1``; anything else is a ValueError."""
        if isinstance(value, Level):
            return value
        text = str(value).strip().upper()
        if text in cls.__members__:
            return cls[text]
        if text.isascii() and text.isdigit() and int(text) in iter(cls):
            return cls(int(text))
        raise ValueError(f"invalid permission level: {value!r}")


class Scope(enum.StrEnum):
    """What object the required level applies to."""

    PUBLIC = "public"
    AUTHENTICATED = "authenticated"  # any caller with a base role (collections, search)
    ADMIN = "admin"
    ACTOR = "actor"
    ACTOR_ADMIN = "actor_admin"
    ALIAS = "alias"
    CONFIG = "config"


class Kind(enum.StrEnum):
    """Objects that carry permissions (each its own namespace in the permissions table)."""

    ACTOR = "actor"
    ALIAS = "alias"
    CONFIG = "config"


# The path parameters that name the object of a scope, in order of preference.
PATH_PARAMETERS: dict[Scope, tuple[str, ...]] = {
    Scope.ACTOR: ("actor_id",),
    Scope.ACTOR_ADMIN: ("actor_id",),
    Scope.ALIAS: ("alias",),
    Scope.CONFIG: ("config_name", "config", "name"),
}


def needs(level: Level, scope: Scope = Scope.ACTOR) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.required = (scope, level)  # type: ignore[attr-defined]
        return view

    return mark


UNDECLARED = (Scope.ADMIN, Level.UPDATE)  # what an undeclared view gets: fail closed


def declared(view: Callable[..., Any]) -> bool:
    return hasattr(view, "required")


def required(view: Callable[..., Any]) -> tuple[Scope, Level]:
    return getattr(view, "required", UNDECLARED)
