"""The paths each route answers on, and what the gateway does to a path before any route matches it.

Abaco's clients reach the same routes under three spellings: Abaco v2's ``/actors/...``, Tapis v3's
``/v3/actors/...`` (tapipy) and the Agave gateway's ``/actors/v2/...`` (agavepy), where ``v2`` replaces
nothing but sits after ``/actors``. That is why ``v2`` is a reserved alias word
(``chalicelib/services/aliases.py``): ``/actors/v2/...`` must never name an actor.

The nginx in front of Abaco merges repeated slashes, and tapipy's bundled spec relies on it (its
``send_binary_message`` posts to ``/v3/actors/{id}//messages``). API Gateway does not merge them, so the
Lambda entry (``chalicelib/edge/gateway.py``) and the local WSGI edge (``local/wsgi.py``) both do it
(``merge_slashes``) before a route is matched; in AWS the entry matches it itself (``match``), since API
Gateway handed the request to the catch-all route.
"""
from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

ACTORS = "/actors"
TAPIS_V3 = "/v3"  # Tapis v3 (reference §1.2): every route again under /v3
AGAVE_V2 = "/actors/v2"  # the Agave gateway's Abaco v2 paths: /actors/... as /actors/v2/...
CATCH_ALL = "/{proxy+}"  # API Gateway's greedy route: what no other route matched, e.g. a path with //
_SLASHES = re.compile(r"/{2,}")


def variants(path: str) -> list[str]:
    """Every path a route registered as ``path`` (an Abaco v2 path) answers on."""
    spelled = [path, TAPIS_V3 + path]
    if path == ACTORS or path.startswith(ACTORS + "/"):
        spelled.append(AGAVE_V2 + path[len(ACTORS):])
    return spelled


def merge_slashes(path: str) -> str:
    """``/v3/actors/x//messages`` -> ``/v3/actors/x/messages``, as nginx's ``merge_slashes on``."""
    return _SLASHES.sub("/", path) if "//" in path else path


def match(path: str, routes: Iterable[str]) -> tuple[str, dict[str, str]] | None:
    """The route a (merged, still percent-encoded) path names and its decoded parameters, or None.

    Literal segments win over parameters, as in API Gateway: routes are tried in sorted order, where a
    ``{`` sorts after every character a literal segment uses.
    """
    if path != "/" and path.endswith("/"):
        path = path[:-1]  # API Gateway ignores one trailing slash
    parts = path.split("/")
    for route in sorted(routes):
        if route == CATCH_ALL:
            continue
        captured = _captured(parts, route.split("/"))
        if captured is not None:
            return route, captured
    return None


def _captured(parts: list[str], segments: list[str]) -> dict[str, str] | None:
    if len(parts) != len(segments):
        return None
    captured: dict[str, str] = {}
    for part, segment in zip(parts, segments, strict=True):
        if segment.startswith("{") and segment.endswith("}"):
            if not part:
                return None
            captured[segment[1:-1]] = urllib.parse.unquote(part)
        elif part != segment:
            return None
    return captured
