"""What the API does when Lambda loads it: logging, the start-up checks, and its own base URL.

In Lambda there is no server start (``local/wsgi.py`` checks the settings before gunicorn serves), so:

* logging is configured when ``app.py`` is imported (JSON lines, the redaction filter, INFO), before any
  request; the function's ``LoggingConfig`` is JSON too (``infrastructure/abaco_infra/api.py``);
* the security settings are checked once per Lambda instance (``identity.auth.check_configuration``:
  ``none`` refused in production, a usable key, issuer and audience in production). A failed check is
  logged at load and again with every request, and every request gets a 500 in Abaco's envelope that
  names no setting (the log line does);
* when ``ABACO_API_SERVER`` is unset, the base URL of ``_links`` and ``_abaco_api_server`` comes from the
  first request (API Gateway's ``domainName`` and ``stage``), never the local default on 127.0.0.1.
"""
from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response
from pydantic import ValidationError

from chalicelib.edge.envelope import envelope
from chalicelib.identity.auth import ConfigurationError, check_configuration
from chalicelib.wiring import backend, logconfig, settings

LOG = logging.getLogger("abaco.api")
MISCONFIGURED = "The API is misconfigured and refuses every request; its log says why."
EXECUTE_API_SUFFIX = ".amazonaws.com"  # API Gateway's own domain: the stage is the first path segment


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def install(app: Chalice) -> None:
    """Called by ``app.py`` at import: in Lambda, logging and the start-up check run now."""
    if in_lambda():
        logconfig.configure("api", "json", logging.INFO)
        problem = startup_problem()
        if problem:
            LOG.error("API start-up check failed, refusing every request: %s", problem)
    app.register_middleware(_middleware, "http")


@functools.lru_cache(maxsize=1)
def startup_problem() -> str | None:
    """One line when the settings must not serve (checked once per process)."""
    try:
        check_configuration(settings.get_settings())
    except (ConfigurationError, ValidationError) as exc:
        return " ".join(str(exc).split())
    return None


def _middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    problem = startup_problem()
    if problem:
        LOG.error("refusing %s %s: API start-up check failed: %s", event.method, event.path, problem)
        return Response(body=_error_body(), status_code=500, headers={"Content-Type": "application/json"})
    adopt_base_url(getattr(event, "context", None) or {})
    return get_response(event)


def _error_body() -> str:
    return json.dumps(envelope(None, MISCONFIGURED, os.environ.get("ABACO_VERSION", ":dev"), "error"))


def base_url(context: dict[str, Any]) -> str | None:
    """``https://<domain>/<stage>`` on API Gateway's own domain, ``https://<domain>`` on a custom domain
    (whose base path mapping hides the stage) or an HTTP API's ``$default`` stage; None when the request
    did not come through API Gateway."""
    domain = str(context.get("domainName") or "")
    if not domain or domain in ("localhost", "127.0.0.1"):
        return None
    stage = str(context.get("stage") or "")
    if domain.endswith(EXECUTE_API_SUFFIX) and stage and stage != "$default":  # an HTTP API's has no prefix
        return f"https://{domain}/{stage}"
    return f"https://{domain}"


def adopt_base_url(context: dict[str, Any]) -> None:
    """With ``ABACO_API_SERVER`` unset, take the first request's base URL for this process."""
    if os.environ.get("ABACO_API_SERVER"):
        return
    base = base_url(context)
    if base is None:
        return
    os.environ["ABACO_API_SERVER"] = base
    settings.get_settings.cache_clear()  # rebuilt with the base URL; clients stay cached (adapters/aws.py)
    backend.get_backend.cache_clear()
    LOG.info("API base URL from the request: %s (ABACO_API_SERVER is unset)", base)
