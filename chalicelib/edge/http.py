"""The HTTP edge: request parsing, Abaco's envelope, and the one table that maps domain errors to codes.

Chalice middleware does not see exceptions raised in views, so ``route`` wraps every view. Each path is
registered once for every verb, so a wrong verb gets a 405 in Abaco's envelope instead of Chalice's, and
once more under each of its other spellings (``/v3/actors/...`` for tapipy, ``/actors/v2/...`` for agavepy:
``chalicelib/edge/paths.py``). ``SERVED`` records which verbs each path really serves:
the OpenAPI document is checked against it. CORS headers go on every response; preflight OPTIONS
requests are answered by the gateway itself, before any view (and so without authentication).
"""
from __future__ import annotations

import json
import logging
import traceback
import urllib.parse
from collections.abc import Callable
from typing import Any

from chalice import Chalice, CORSConfig, Response

from chalicelib.domain import errors
from chalicelib.domain.access import required
from chalicelib.edge import guard, paths
from chalicelib.edge.envelope import FIELDS, Keys, cased, envelope
from chalicelib.wiring.settings import get_settings

LOG = logging.getLogger("abaco.api")

# Resolved by the most specific class (``status_for``): a subclass listed here wins over its base wherever
# either is written, and a subclass not listed takes its nearest listed base's status.
STATUS_BY_ERROR: dict[type[errors.AbacoError], int] = {
    errors.AbacoError: 500,  # a domain error without a status of its own (DecryptionError)
    errors.BadRequest: 400,
    errors.Rejected: 400,  # a backing service refused the request itself: nothing was changed
    errors.NotAuthorized: 400,  # Abaco reports authorization failures as 400
    errors.Unauthenticated: 401,
    errors.NotFound: 404,
    errors.MethodNotAllowed: 405,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.TooManyRequests: 429,
    errors.HeadersTooLarge: 431,
    errors.Misconfigured: 500,  # a permission or configuration problem: a retry would only repeat it
    errors.ExecutionFailed: 502,  # the execution behind a synchronous message failed
    errors.Unavailable: 503,
    errors.Timeout: 504,  # a synchronous message outlived the server-side wait
}


def status_for(exc: Exception, table: dict[type[errors.AbacoError], int] | None = None) -> int:
    """The status of the most specific class of ``exc`` that the table lists (its own, else its nearest
    base's, following the method resolution order), so the table's order never matters."""
    table = STATUS_BY_ERROR if table is None else table
    return next((table[cls] for cls in type(exc).__mro__ if cls in table), 500)

VERBS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "application/octet-stream",
                 "text/plain", "multipart/form-data"]

View = Callable[..., Any]
PREFIXES = ("", paths.TAPIS_V3)  # Abaco v2 paths, and the same routes under /v3 (reference §1.2)
CORS = CORSConfig(allow_origin="*", allow_headers=["*", "Authorization", "X-Nonce", "Tenant", "X-Tapis-Token"],
                  max_age=600)
SERVED: dict[str, tuple[str, ...]] = {}  # path (Abaco v2 spelling) -> the verbs it serves


class Ok:
    """What a view returns: a result for the envelope, or raw bytes/text for the few non-JSON routes."""

    def __init__(self, result: Any, message: str, keys: Keys = FIELDS) -> None:
        self.result, self.message, self.keys = result, message, keys  # keys: what the case switch converts


class Raw:
    def __init__(self, body: bytes | str, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.body, self.content_type, self.headers = body, content_type, headers or {}


# Every registered (path, verb, view), for the test that each view declares its requirement.
REGISTERED: list[tuple[str, str, View]] = []
# The view behind each Chalice route (with its prefix) and verb: an edge that acts before the app (the
# local streaming upload) asks the view itself what it requires, rather than restating it.
VIEWS: dict[tuple[str, str], View] = {}


def route(app: Chalice, path: str, **views: View) -> None:
    """Register ``path`` (and its ``paths.variants``) for every verb; ``views`` maps verbs to view functions.

    Each view's ``@needs`` declaration is enforced before it runs (``chalicelib.edge.guard``); a view without
    one is served to admins only.
    """
    allowed = ",".join([*views, "OPTIONS"])
    REGISTERED.extend((path, verb, view) for verb, view in views.items())

    def handler(**params: str) -> Response:
        request = app.current_request
        method = request.method.upper()
        view = views.get(method)
        try:
            if view is None:
                raise errors.MethodNotAllowed(f"The method {method} is not allowed for this URL.")
            scope, level = required(view)
            guard.authorize(request, scope, level, params)
            response = _render(view(request, **params))
        except errors.AbacoError as exc:
            response = error_response(exc)
            if isinstance(exc, errors.MethodNotAllowed):
                response.headers["Allow"] = allowed  # RFC 9110: a 405 lists the methods the resource serves
        except Exception:  # the last line of defence: log it, never leak a traceback
            LOG.error("unhandled error on %s %s\n%s", method, path, traceback.format_exc())
            response = _json(500, envelope(None, "Unrecognized exception type. Please contact the "
                                           "administrator.", get_settings().version, "error"))
        response.headers["Access-Control-Allow-Methods"] = allowed
        return response

    SERVED[path] = tuple(views)
    for spelled in paths.variants(path):
        VIEWS.update({(spelled, verb): view for verb, view in views.items()})
        named = handler if spelled == path else _renamed(handler)
        named.__name__ = "view_" + "".join(c if c.isalnum() else "_" for c in spelled)
        app.route(spelled, methods=VERBS, cors=CORS, content_types=CONTENT_TYPES)(named)


def view_of(route_path: str, method: str) -> View | None:
    """The view registered for a Chalice route (as matched, any spelling) and verb, if any."""
    return VIEWS.get((route_path, method.upper()))


def _renamed(handler: View) -> View:
    """The same handler under another name (Chalice keys views by function name)."""

    def view(**params: str) -> Any:
        return handler(**params)

    return view


def not_found() -> Response:
    """No route: Abaco's 404 (Flask's wording), from the catch-all route and the local edge alike."""
    return _json(404, envelope(None, "The requested URL was not found on the server.", get_settings().version,
                               "error"))


def error_response(exc: errors.AbacoError) -> Response:
    status = status_for(exc)
    response = _json(status, envelope(None, str(exc), get_settings().version, "error"))
    if isinstance(exc, errors.TooManyRequests):
        response.headers["Retry-After"] = str(max(1, exc.retry_after))
    if isinstance(exc, errors.Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="abaco"'
    return response


def _render(outcome: Ok | Raw | Response) -> Response:
    if isinstance(outcome, Response):
        return outcome
    if isinstance(outcome, Raw):
        return Response(body=outcome.body, status_code=200,
                        headers={**outcome.headers, "Content-Type": outcome.content_type})
    settings = get_settings()
    result = cased(outcome.result, settings.case, outcome.keys)
    return _json(200, envelope(result, outcome.message, settings.version))


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(body=json.dumps(payload), status_code=status, headers={"Content-Type": "application/json"})


# --- request parsing -------------------------------------------------------------------------------

def content_type(request: Any) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def form(request: Any) -> dict[str, Any] | None:
    """Form fields of a url-encoded body; a repeated field (``hints=a&hints=b``) becomes a list."""
    if content_type(request) != "application/x-www-form-urlencoded":
        return None
    raw = request.raw_body or b""
    fields: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True):
        if key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    return fields


def json_body(request: Any) -> Any:
    """The parsed JSON body, or None when there is none; malformed JSON is a 400."""
    if content_type(request) not in ("application/json", ""):
        return None
    raw = request.raw_body
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.BadRequest("Could not parse the JSON body of the request.") from exc


def body_fields(request: Any) -> dict[str, Any]:
    """Fields of a POST/PUT body: form-encoded or a JSON object (Abaco accepts both everywhere)."""
    fields = form(request)
    if fields is not None:
        return fields
    parsed = json_body(request)
    if parsed is None and not (request.raw_body or b"").strip():
        return {}
    if not isinstance(parsed, dict):  # a JSON null is not an empty body
        raise errors.BadRequest("The request body must be a JSON object or form data.")
    return parsed


def query(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def query_lists(request: Any) -> dict[str, list[str]]:
    """Every value of every query parameter (``search`` may repeat)."""
    params = request.query_params
    if not params:
        return {}
    return {key: list(params.getlist(key)) for key in params}
