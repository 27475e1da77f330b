"""The web dashboard: a static single-page app served by the API itself, at ``/dashboard``.

The page holds no data and no credentials; its script calls the same API with the token the user keeps in
the browser, so it needs no authentication of its own. A strict Content-Security-Policy allows only this
origin's script, style and API calls (the page never loads anything from elsewhere).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge.http import route

bp = Blueprint(__name__)

ASSETS = Path(__file__).resolve().parent.parent / "dashboard"
CONTENT_TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                 "app.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@functools.cache
def asset(name: str) -> str:
    """The file's text, read once per process (the files ship inside chalicelib with the Lambda package)."""
    return (ASSETS / name).read_text(encoding="utf-8")


def _serve(name: str) -> Response:
    return Response(body=asset(name), status_code=200,
                    headers={"Content-Type": CONTENT_TYPES[name], **SECURITY_HEADERS})


@needs(Level.NONE, Scope.PUBLIC)
def page(request: Any) -> Response:
    return _serve("index.html")


@needs(Level.NONE, Scope.PUBLIC)
def script(request: Any) -> Response:
    return _serve("app.js")


@needs(Level.NONE, Scope.PUBLIC)
def style(request: Any) -> Response:
    return _serve("app.css")


route(bp, "/dashboard", GET=page)
route(bp, "/dashboard/app.js", GET=script)
route(bp, "/dashboard/app.css", GET=style)
