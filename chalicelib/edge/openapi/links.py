"""How callers authenticate (security schemes) and how operations feed each other (OpenAPI links).

Security comes from each view's ``@needs`` declaration (``chalicelib.domain.access``): public routes say
``security: []``, actor and alias routes also take a nonce, every other route a JWT. Links say which
identifiers a response hands to later calls (the id of a new actor to everything under
``/actors/{actor_id}``), so clients and Schemathesis' stateful phase can walk the API.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.edge.openapi.operations import Op

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "A JWT signed by the tenant's key (Tapis style); Abaco v2's "
                              "X-Jwt-Assertion-<tenant> header is accepted too"},
    "nonce": {"type": "apiKey", "in": "query", "name": "x-nonce",
              "description": "A nonce of the actor or alias in the path (reference §1.9)"},
}
_NONCE_SCOPES = frozenset({"actor", "actor_admin", "alias"})
_PARAM = re.compile(r"{([^}]+)}")


def security(scope: str | None) -> list[dict[str, list[str]]]:
    """The security requirement of an operation whose view needs ``scope`` (None: not known, a JWT)."""
    if scope == "public":
        return []
    if scope in _NONCE_SCOPES:
        return [{"bearer": []}, {"nonce": []}]
    return [{"bearer": []}]


# What a successful response of an operation provides: path parameter -> runtime expression.
PROVIDES: dict[str, dict[str, str]] = {
    "createActor": {"actor_id": "$response.body#/result/id"},
    "sendMessage": {"actor_id": "$request.path.actor_id", "execution_id": "$response.body#/result/execution_id"},
    "createActorNonce": {"actor_id": "$request.path.actor_id", "nonce_id": "$response.body#/result/id"},
    "createAlias": {"alias": "$response.body#/result/alias"},
    "createAliasNonce": {"alias": "$request.path.alias", "nonce_id": "$response.body#/result/id"},
    "createConfig": {"config_name": "$response.body#/result/name"},
}

# Operations no link points at: a DELETE that empties a collection (the inbox) or stops work (force quit)
# leaves the resource at its path readable, which a client walking links would take for a removal.
NOT_LINKED = frozenset({"purgeMessages", "forceQuitExecution"})


def links(op: Op, operations: list[Op]) -> dict[str, Any]:
    """Links from ``op``'s 200 response to every operation whose path parameters it provides exactly."""
    provided = PROVIDES.get(op.op_id)
    if not provided:
        return {}
    out: dict[str, Any] = {}
    for target in operations:
        needed = set(_PARAM.findall(target.path))
        if needed and needed == set(provided) and target.op_id not in NOT_LINKED:
            out[target.op_id] = {"operationId": target.op_id,
                                 "parameters": {name: provided[name] for name in sorted(needed)}}
    return out


def scopes_of(registered: list[tuple[str, str, Any]], required: Any) -> Mapping[tuple[str, str], str]:
    """(METHOD, path) -> the scope its view declares, from ``chalicelib.edge.http.REGISTERED``."""
    return {(verb, path): str(required(view)[0]) for path, verb, view in registered}
