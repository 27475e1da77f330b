"""Schemathesis hooks for T26 (loaded by ``st run`` through SCHEMATHESIS_HOOKS=tests.fuzz_hooks).

One check replaces Schemathesis' ``positive_data_acceptance``. It is the same check, except for 400s
whose envelope message is one of ``SEMANTIC_REFUSALS``: rules that depend on who calls or on stored
data, which no JSON Schema can state. Abaco answers those with 400 (reference §1.1: authorization
failures are 400, not 403), and the built-in check, which accepts 401/403/404/409 for them, would read
them as a schema that is too loose. Every other 400 to schema-valid data still fails the run.
"""
from __future__ import annotations

import json
import re
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Messages (regular expressions, matched at the start) of 400s that refuse valid-looking data for a
# reason outside the request itself, with that reason.
SEMANTIC_REFUSALS: tuple[tuple[str, str], ...] = (
    (r"Not authorized", "the caller's role or permission (Abaco's 400 for 403)"),
    (r"Invalid link parameter", "link must name an existing actor the caller may EXECUTE"),
    (r"The starting datetime is old", "a cron start must not be in the past"),
    (r"The starting date .* is not a valid date", "a cron start must be a calendar date (not 2030-02-30)"),
    (r"Invalid actor description: stateful actors can only have 1 worker", "max_workers with stateless=false"),
    (r"Invalid actor description: cron_on: a cron_schedule is required", "cron_on with no cron_schedule"),
    (r"Invalid actor description: an actor that was not stateless", "the stored actor is stateful"),
    (r"Invalid alias description\. Alias cannot be an Abaco hash id", "an alias must not decode as an id"),
    (r"(Alias|Config) .* already exists", "the name is taken"),
    (r"Cannot force quit an execution not in RUNNING status", "the stored execution's status"),
    (r"Cannot issue synchronous execution", "the actor's inbox backlog"),
    (r"The owner's permission cannot be lowered", "the stored owner"),
    (r"No remaining uses left for this nonce", "the nonce's stored use count"),
    (r"cursor is not valid", "a cursor is opaque: only one the API issued (_metadata.next_cursor) is valid"),
)
_REFUSALS = tuple((re.compile(pattern), why) for pattern, why in SEMANTIC_REFUSALS)


def semantic_refusal(status: int, body: bytes | str | None) -> str | None:
    """Why a 400 refused valid data for a reason no schema can say, or None when it did not."""
    if status != 400 or not body:
        return None
    try:
        message = json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        return None
    return next((why for pattern, why in _REFUSALS if pattern.match(message)), None)


@schemathesis.check
def abaco_positive_data_acceptance(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, with Abaco's semantic 400s counted as the 403/409 they mean."""
    if semantic_refusal(response.status_code, response.content):
        return None
    return positive_data_acceptance(ctx, response, case)
