"""Paging of collections: Abaco's ``limit`` default and ceiling, and the clamp every list uses."""
from __future__ import annotations

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
