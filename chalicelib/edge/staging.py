"""Hand-off of a message body that the local HTTP server already streamed to S3.

Chalice's local gateway base64-encodes binary bodies and hands the view a decoded copy, so a 100 MB
message would sit in the API process three or four times. The local WSGI adapter
(``local/wsgi.py``) therefore streams large ``application/octet-stream`` message bodies straight to
the payloads bucket and offers the pointer here, on the request's own thread (the gateway calls the
view synchronously on that thread). Nothing a client sends can forge an offer: it never travels in the
request. In AWS nothing offers anything and the view reads the (at most 10 MB) body itself.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from chalicelib.adapters.payloads import Pointer

_LOCAL = threading.local()


@dataclass
class Offer:
    pointer: Pointer
    taken: bool = False


def offer(pointer: Pointer) -> Offer:
    """Called by the HTTP adapter before it dispatches the request."""
    current = Offer(pointer)
    _LOCAL.offer = current
    return current


def take() -> Pointer | None:
    """Called by the messages view: the staged body of this request, if any (at most once)."""
    current: Offer | None = getattr(_LOCAL, "offer", None)
    if current is None or current.taken:
        return None
    current.taken = True
    return current.pointer


def clear() -> None:
    _LOCAL.offer = None
