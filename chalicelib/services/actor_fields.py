"""Validating an actor description (POST and PUT bodies, reference §1.3) into Actor fields. Pure logic.

Every optional field takes its default when absent, which is what makes PUT a full replacement. Errors
are 400s whose message starts with Abaco's "Invalid actor description" and names the field.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import urllib.parse
from typing import Any

from chalicelib.domain import cron, envnames, images, inputs
from chalicelib.domain.errors import BadRequest
from chalicelib.wiring.settings import Settings

PREFIX = "Invalid actor description"
ACTOR_TYPES = ("none", "bin", "json")
HINT_FORBIDDEN = "\"'{}[]"  # Abaco: hints must be simple strings, no lists or dicts
MAX_HINTS = 50
MAX_TEXT = 4_096  # description, name, hint
MAX_URL = 2_048  # webhook
MAX_MEMORY_CHARS = 24  # mem_limit ("512m"); int() of a very long digit string is itself a 500
MAX_ENV_VARIABLES = 256  # default_environment entries
MAX_ENV_CHARS = 65_536  # default_environment as JSON; Linux caps one variable at 128 KiB, the actor item at 400 KB
MAX_STATE_CHARS = 300_000  # JSON text of an actor's state; keeps the actor item under DynamoDB's 400 KB
MIN_NANO_CPUS = 10_000_000  # Docker refuses less than 0.01 CPU
MIN_MEMORY_BYTES = 6 * 1024 * 1024  # Docker's minimum memory limit (6 MiB)
_MEMORY = re.compile(r"^(?P<n>\d+)(?P<unit>[bkmg]?)$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
# Hosts an event webhook may never name (the platform must not send traffic to private ranges).
BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in
                         ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fe80::/10",
                          "fc00::/7"))


def parse(body: dict[str, Any], settings: Settings, now: dt.datetime | None = None,
          current_cron: tuple[str | None, str | None] = (None, None), tenant: str | None = None) -> dict[str, Any]:
    """Every user-settable field with its default; cron fields derived from ``cron_schedule``.

    ``current_cron`` is the stored (schedule, next slot) on a PUT: resending the same schedule keeps its
    clock instead of re-validating a start time that has since passed.
    """
    fields: dict[str, Any] = {
        "image": _image(body.get("image"), settings.allowed_registry_list),
        "description": _text(body.get("description"), "description"),
        "stateless": inputs.as_bool(body.get("stateless", True), "stateless", PREFIX),
        "privileged": inputs.as_bool(body.get("privileged", False), "privileged", PREFIX),
        "use_container_uid": inputs.as_bool(body.get("use_container_uid", False), "use_container_uid", PREFIX),
        "run_as_executor": inputs.as_bool(body.get("run_as_executor", False), "run_as_executor", PREFIX),
        "token": _token(body.get("token"), settings, tenant),
        "default_environment": _environment(body.get("default_environment", {})),
        "hints": _hints(body.get("hints", [])),
        "link": _text(body.get("link"), "link").strip(),
        "webhook": webhook(body.get("webhook")),
        "max_workers": inputs.as_int(body.get("max_workers"), "max_workers", PREFIX, minimum=1),
        "mem_limit": _memory(body.get("mem_limit")),
        "max_cpus": _cpus(body.get("max_cpus")),
        "queue": _text(body.get("queue"), "queue") or "default",
        "log_ex": inputs.as_int(body.get("log_ex"), "log_ex", PREFIX, minimum=1),
        "max_attempts": inputs.as_int(body.get("max_attempts"), "max_attempts", PREFIX, minimum=1),
        "max_run_time": inputs.as_int(body.get("max_run_time"), "max_run_time", PREFIX, minimum=1),
        "type": _text(body.get("type"), "type") or "none",
        "cron_on": inputs.as_bool(body.get("cron_on", False), "cron_on", PREFIX),
    }
    fields.update(_cron(body.get("cron_schedule"), now, current_cron))
    _check(fields, settings)
    return fields


def name(value: Any) -> str | None:
    return _text(value, "name") or None


def state(value: Any) -> Any:
    """Any JSON value, within the size an actor item can hold."""
    if len(json.dumps(value)) > MAX_STATE_CHARS:
        raise BadRequest(f"Invalid actor state: larger than {MAX_STATE_CHARS} characters of JSON.")
    return value


def _check(fields: dict[str, Any], settings: Settings) -> None:
    if not fields["stateless"] and fields["max_workers"] is not None:
        raise BadRequest(f"{PREFIX}: stateful actors can only have 1 worker.")
    if fields["queue"] not in settings.pool_names:
        raise BadRequest("Invalid queue name.")
    if fields["type"] not in ACTOR_TYPES:
        raise BadRequest(f"{PREFIX}: type: must be one of {', '.join(ACTOR_TYPES)}.")
    if fields["use_container_uid"] and fields["run_as_executor"]:
        raise BadRequest("Cannot set both use_container_uid and run_as_executor as true")
    if fields["run_as_executor"]:
        raise BadRequest("run_as_executor isn't supported for your tenant")  # needs TAS; no tenant has it
    if fields["cron_on"] and not fields["cron_schedule"]:
        raise BadRequest(f"{PREFIX}: cron_on: a cron_schedule is required to turn cron on.")


def _image(value: Any, allowed: tuple[str, ...] = ()) -> str:
    raw = inputs.as_str(value, "image", PREFIX)
    image = raw.strip()
    if not image:
        raise BadRequest(f"{PREFIX}: image: Missing required parameter in the JSON body or the post body "
                         "or the query string")
    if len(raw) > images.MAX_REFERENCE_CHARS or any(c.isspace() for c in image):
        raise BadRequest(f"{PREFIX}: image: '{image[:100]}' is not a valid image reference.")
    problem = images.registry_problem(image, allowed)
    if problem:
        raise BadRequest(f"{PREFIX}: image: '{image[:100]}' {problem}.")
    return image


def _text(value: Any, field: str) -> str:
    text = inputs.as_str(value, field, PREFIX)
    if len(text) > MAX_TEXT:
        raise BadRequest(f"{PREFIX}: {field}: longer than {MAX_TEXT} characters.")
    return text


def _token(value: Any, settings: Settings, tenant: str | None) -> bool:
    """Abaco's ``token`` attribute; unset, the tenant's default (``ABACO_TENANT_DEFAULT_TOKEN``) or the global one."""
    if value is None or value == "":
        return settings.token_default(tenant) if tenant else settings.default_token
    return inputs.as_bool(value, "token", PREFIX)


def _environment(value: Any) -> dict[str, Any]:
    env = inputs.as_dict(value, "default_environment", PREFIX)
    if len(env) > MAX_ENV_VARIABLES or len(json.dumps(env)) > MAX_ENV_CHARS:
        raise BadRequest(f"{PREFIX}: default_environment: at most {MAX_ENV_VARIABLES} variables and "
                         f"{MAX_ENV_CHARS} characters of JSON.")
    for key, val in env.items():
        problem = envnames.default_variable_problem(key)
        if problem:
            raise BadRequest(f"{PREFIX}: default_environment: '{key[:100]}' {problem}.")
        if not isinstance(val, (str, int, float, bool, dict, list)):
            raise BadRequest(f"{PREFIX}: default_environment: invalid value for '{key}'.")
        if isinstance(val, str) and "\x00" in val:
            raise BadRequest(f"{PREFIX}: default_environment: invalid value for '{key}'.")
    return env


def _hints(value: Any) -> list[str]:
    if isinstance(value, list):
        value = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in value]
    hints = inputs.as_str_list(value, "hints", PREFIX)
    if len(hints) > MAX_HINTS:
        raise BadRequest(f"{PREFIX}: hints: at most {MAX_HINTS} hints.")
    for hint in hints:
        bad = next((c for c in HINT_FORBIDDEN if c in hint), None)
        if bad:
            raise BadRequest(f"{PREFIX}: Hints must be simple stings or numbers, no lists or dicts. "
                             f"Error character: {bad}")
        if len(hint) > MAX_TEXT:
            raise BadRequest(f"{PREFIX}: hints: a hint is longer than {MAX_TEXT} characters.")
    return hints


def webhook(value: Any) -> str:
    """An http(s) URL with a host, never an address in a private or link-local range."""
    raw = inputs.as_str(value, "webhook", PREFIX)
    url = raw.strip()
    if not url:
        return ""
    parsed = urllib.parse.urlsplit(url)
    if (parsed.scheme not in ("http", "https") or not parsed.hostname or len(raw) > MAX_URL
            or any(c.isspace() for c in url)):
        raise BadRequest(f"{PREFIX}: webhook: '{url[:200]}' is not a valid http(s) URL.")
    try:
        address = ipaddress.ip_address(parsed.hostname)
    except ValueError:
        return url
    if any(address in network for network in BLOCKED_NETWORKS):
        raise BadRequest(f"{PREFIX}: webhook: must not point to a private or link-local address.")
    return url


def _memory(value: Any) -> str | None:
    text = inputs.as_str(value, "mem_limit", PREFIX).strip()
    if not text:
        return None
    if len(text) > MAX_MEMORY_CHARS:
        raise BadRequest(f"{PREFIX}: mem_limit: longer than {MAX_MEMORY_CHARS} characters.")
    match = _MEMORY.match(text)
    if match is None:
        raise BadRequest(f"{PREFIX}: mem_limit: '{text}' is not a memory size (for example 512m or 2g).")
    if int(match["n"]) * _MEMORY_UNITS[match["unit"].lower()] < MIN_MEMORY_BYTES:
        raise BadRequest(f"{PREFIX}: mem_limit: must be at least 6m.")
    return text.lower()


def _cpus(value: Any) -> int | None:
    cpus = inputs.as_int(value, "max_cpus", PREFIX, minimum=1)
    if cpus is not None and cpus < MIN_NANO_CPUS:
        raise BadRequest(f"{PREFIX}: max_cpus is in nanoCPUs (1000000000 = 1 CPU); the minimum is "
                         f"{MIN_NANO_CPUS}.")
    return cpus


def _cron(value: Any, now: dt.datetime | None, current: tuple[str | None, str | None]) -> dict[str, Any]:
    raw = inputs.as_str(value, "cron_schedule", PREFIX)
    if len(raw) > cron.MAX_SCHEDULE_CHARS:
        raise BadRequest(f"{PREFIX}: cron_schedule: longer than {cron.MAX_SCHEDULE_CHARS} characters.")
    text = raw.strip()
    if not text:
        return {"cron_schedule": None, "cron_next_ex": None}
    if current[0] == text and current[1]:
        return {"cron_schedule": text, "cron_next_ex": current[1]}
    schedule = cron.parse(text, now)
    return {"cron_schedule": text, "cron_next_ex": cron.next_ex(schedule)}
