"""Hand-off of a message body that the local HTTP server already streamed to S3.

Chalice's local gateway base64-encodes binary bodies and hands the view a decoded copy, so a 100 MB
message would sit in the API process three or four times. The local WSGI adapter (``local/wsgi.py``)
therefore streams large ``application/octet-stream`` bodies for the views that declare they take one
(``@accepts_staged``) straight to the payloads bucket, and puts the pointer in the request's own context
(``request.context``, API Gateway's ``requestContext``), as an ``Offer`` object. Nothing a client sends
can forge one: headers and body never reach the context, and API Gateway writes only plain JSON there,
never an ``Offer``. In AWS nothing offers anything and the view reads the (at most 10 MB) body itself.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib.adapters.payloads import Pointer

CONTEXT_KEY = "abacoStagedBody"
View = TypeVar("View", bound=Callable[..., Any])


@dataclass
class Offer:
    pointer: Pointer
    taken: bool = False


def accepts_staged(view: View) -> View:
    """Declare that ``view`` takes a staged body (``take``): the local edge may stream its uploads."""
    view.accepts_staged = True  # type: ignore[attr-defined]
    return view


def accepts(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, "accepts_staged", False))


def context_for(pointer: Pointer) -> tuple[dict[str, Any], Offer]:
    """What the HTTP adapter adds to the request's context, and the offer it can ask about afterwards."""
    offer = Offer(pointer)
    return {CONTEXT_KEY: offer}, offer


def take(request: Any) -> Pointer | None:
    """Called by the view: the staged body of this request, if any (at most once)."""
    offer = (getattr(request, "context", None) or {}).get(CONTEXT_KEY)
    if not isinstance(offer, Offer) or offer.taken:
        return None
    offer.taken = True
    return offer.pointer
