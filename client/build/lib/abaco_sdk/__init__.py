"""Python SDK for the Abaco actors API.

    from abaco_sdk import Abaco
    t = Abaco()                      # ABACO_URL / ABACO_TOKEN, or ~/.abaco/config
    actor = t.actors.create_actor(image="abacosamples/test")
    sent = t.actors.send_message(actor_id=actor.id, message="hello")
    done = t.actors.wait_for_execution(actor.id, sent.execution_id)
    print(t.actors.get_execution_logs(actor.id, sent.execution_id).logs)

The calls mirror tapipy's ``t.actors`` so notebooks port by changing the constructor.
"""
from __future__ import annotations

from typing import Any

import requests

from abaco_sdk.actors import ActorsApi
from abaco_sdk.config import Profile, read_profile, resolve, write_profile
from abaco_sdk.errors import (
    AbacoError,
    ApiError,
    BadRequest,
    ConfigError,
    Conflict,
    MethodNotAllowed,
    NotFound,
    ServerError,
    Throttled,
    TransportError,
    WaitTimeout,
)
from abaco_sdk.models import Actor, Execution, Record
from abaco_sdk.transport import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Transport

__version__ = "0.1.0"
__all__ = ["Abaco", "AbacoError", "Actor", "ActorsApi", "ApiError", "BadRequest", "ConfigError", "Conflict",
           "Execution", "MethodNotAllowed", "NotFound", "Profile", "Record", "ServerError", "Throttled",
           "TransportError", "WaitTimeout", "read_profile", "resolve", "write_profile"]


class Abaco:
    """A client for one Abaco API. ``actors`` holds every call (tapipy's ``t.actors``).

    ``base_url``/``access_token`` win over ``ABACO_URL``/``ABACO_TOKEN``, which win over the profile file.
    ``jwt_header`` sends the token in that header (``X-Jwt-Assertion-<TENANT>``, Abaco v2 style) instead of
    ``Authorization: Bearer``; ``nonce`` authenticates with ``?x-nonce=``.
    """

    def __init__(self, base_url: str | None = None, access_token: str | None = None, *,
                 jwt_header: str | None = None, tenant: str | None = None, nonce: str | None = None,
                 profile: str | None = None, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 session: requests.Session | None = None, **_tapipy_compat: Any) -> None:
        self.profile = resolve(profile, url=base_url, token=access_token, jwt_header=jwt_header, tenant=tenant,
                               nonce=nonce)
        self.transport = Transport(self.profile, timeout=timeout, retries=retries, session=session)
        self.actors = ActorsApi(self.transport)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def __repr__(self) -> str:
        return f"Abaco({self.base_url!r})"
