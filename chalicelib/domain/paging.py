"""Paging of collections: Abaco's ``limit`` and ``skip``, the opaque cursor of large tables, the clamps.

Every collection is read a page at a time (architecture §3 decision 3): a request never reads a tenant's
whole history. ``skip`` is Abaco's; past ``MAX_SKIP`` the cursor (a store position) goes on.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import BadRequest

DEFAULT_PAGE_LIMIT = 100  # Abaco's search default
MAX_PAGE_LIMIT = 1000  # reliability plan §4.4: list ``limit`` at most 1000


def clamp_limit(value: Any, default: int = DEFAULT_PAGE_LIMIT, maximum: int = MAX_PAGE_LIMIT) -> int:
    """A ``limit`` query value as an int in [1, maximum]; a non-integer is a 400."""
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise BadRequest(f"limit must be a non-negative integer, not '{value}'.") from exc
    if number < 0:
        raise BadRequest(f"limit must be a non-negative integer, not '{value}'.")
    return max(1, min(number, maximum))


MAX_SKIP = 10_000  # beyond this, ``skip`` would read too much of a large table: the cursor goes on instead


def encode_cursor(position: dict[str, Any] | None) -> str | None:
    """An opaque cursor for a store's position (DynamoDB's LastEvaluatedKey), or None at the end."""
    if not position:
        return None
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The position a cursor names; a cursor we did not make is a 400 (stores also check its partition)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (ValueError, binascii.Error) as exc:
        raise BadRequest("cursor is not valid; use the value of _metadata.next_cursor.") from exc
    if not isinstance(position, dict):
        raise BadRequest("cursor is not valid; use the value of _metadata.next_cursor.")
    return position


def clamp_skip(value: Any) -> int:
    """A ``skip`` query value in [0, MAX_SKIP]; beyond it the caller is told to use the cursor."""
    if value is None or value == "":
        return 0
    text = str(value).strip()
    if not text.isdigit() or not text.isascii():
        raise BadRequest(f'Inputted "skip" parameter must be an int. Received: {value}')
    number = int(text)
    if number > MAX_SKIP:
        raise BadRequest(f"skip may be at most {MAX_SKIP}; follow _metadata.next (the cursor) to page further.")
    return number


@dataclass(frozen=True)
class Page:
    """One page of a collection and the opaque cursor of the next one (None at the end)."""

    items: list[Any]
    cursor: str | None = None


def next_link(base: str, limit: int, cursor: str | None) -> str | None:
    """The ``_metadata.next`` link of a page."""
    return f"{base}?limit={limit}&cursor={cursor}" if cursor else None
