"""Permission levels (reference §1.8) and the per-view declaration of what a route requires.

Views declare their need with ``@needs(Level.X)``; the HTTP edge enforces it (see ``chalicelib.http``)
instead of guessing from URL substrings as the original did.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Level(enum.IntEnum):
    NONE = 0
    READ = 1
    EXECUTE = 2
    UPDATE = 3


class Scope(enum.StrEnum):
    """What object the required level applies to."""

    AUTHENTICATED = "authenticated"  # any caller with a base role (collections, search)
    ACTOR = "actor"
    ALIAS = "alias"
    CONFIG = "config"
    ADMIN = "admin"


def needs(level: Level, scope: Scope = Scope.ACTOR) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.required = (scope, level)  # type: ignore[attr-defined]
        return view

    return mark


def required(view: Callable[..., Any]) -> tuple[Scope, Level]:
    return getattr(view, "required", (Scope.AUTHENTICATED, Level.NONE))
