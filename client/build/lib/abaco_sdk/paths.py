"""URL path building shared by every call."""
from __future__ import annotations

from urllib.parse import quote


def seg(value: str) -> str:
    """One path segment (an id, an alias with dots): nothing in it may be read as a separator."""
    if not value:
        raise ValueError("an id or alias is required")
    return quote(str(value), safe="")
