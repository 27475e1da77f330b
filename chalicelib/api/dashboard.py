"""The web dashboard: a static single-page app served by the API itself, at ``/dashboard``.

Every page has its own address (``/dashboard``, ``/dashboard/actors/{id}``,
``/dashboard/actors/{id}/executions/{execution_id}``, ``/dashboard/hosts``): each serves the same page, whose
script draws the view its address names. Asset links are relative to the address, so the page works under
any base path (an API Gateway stage included).

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
# The script, kept in three files and served as one (``/dashboard/app.js``): one route instead of three keeps
# the REST flavour's template under CloudFormation's 1 MB (tests/integration/test_infrastructure.py).
SCRIPTS = ("charts.js", "app.js", "views.js")
CONTENT_TYPES = {"index.html": "text/html; charset=utf-8", "app.css": "text/css; charset=utf-8",
                 "app.js": "text/javascript; charset=utf-8"}
ASSET_PREFIX = "{{ASSETS}}"  # in index.html: where the page's own files are, relative to its address
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


def _serve(name: str, body: str | None = None) -> Response:
    return Response(body=asset(name) if body is None else body, status_code=200,
                    headers={"Content-Type": CONTENT_TYPES[name], **SECURITY_HEADERS})


def _page(depth: int) -> Response:
    """The page at ``depth`` path segments below ``/dashboard``, its asset links relative to that address."""
    prefix = "dashboard/" if depth == 0 else "../" * (depth - 1)
    return _serve("index.html", asset("index.html").replace(ASSET_PREFIX, prefix))


@needs(Level.NONE, Scope.PUBLIC)
def page(request: Any) -> Response:
    return _page(0)


@needs(Level.NONE, Scope.PUBLIC)
def hosts_page(request: Any) -> Response:
    return _page(1)


@needs(Level.NONE, Scope.PUBLIC)
def actor_page(request: Any, actor_id: str) -> Response:
    return _page(2)


@needs(Level.NONE, Scope.PUBLIC)
def execution_page(request: Any, actor_id: str, execution_id: str) -> Response:
    return _page(4)


@functools.cache
def script_text() -> str:
    """The three script files, in their order, as one script."""
    return "\n".join(asset(name) for name in SCRIPTS)


@needs(Level.NONE, Scope.PUBLIC)
def script(request: Any) -> Response:
    return _serve("app.js", script_text())


@needs(Level.NONE, Scope.PUBLIC)
def style(request: Any) -> Response:
    return _serve("app.css")


route(bp, "/dashboard", GET=page)
route(bp, "/dashboard/hosts", GET=hosts_page)
route(bp, "/dashboard/actors/{actor_id}", GET=actor_page)
route(bp, "/dashboard/actors/{actor_id}/executions/{execution_id}", GET=execution_page)
route(bp, "/dashboard/app.js", GET=script)
route(bp, "/dashboard/app.css", GET=style)
