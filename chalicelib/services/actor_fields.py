"""Validating an actor description (POST and PUT bodies, reference §1.3) into Actor fields. Pure logic.

Every optional field takes its default when absent, which is what makes PUT a full replacement. Errors
are 400s whose message starts with Abaco's "Invalid actor description" and names the field. The bodies
are the models ``ActorInput`` and ``ActorUpdate`` (chalicelib/domain/bodies.py): each field's rule below
sits beside its JSON Schema, and the OpenAPI document is generated from them.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar, Self

from pydantic import ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from chalicelib.domain import bodies, cron, envnames, images, inputs
from chalicelib.domain.errors import BadRequest
from chalicelib.wiring.settings import Settings

PREFIX = "Invalid actor description"
ACTOR_TYPES = ("none", "bin", "json")
HINT_FORBIDDEN = "\"'{}[]"  # Abaco: hints must be simple strings, no lists or dicts
MAX_HINTS = 50
MAX_TEXT = 4_096  # description, name, hint
MAX_URL = 2_048  # webhook
# mem_limit's significant digits per unit: every size stays below Docker's int64 bytes (about 9.2e18), and
# int() never sees a long digit string (itself a ValueError past 4,300 digits). Leading zeros are free.
MEMORY_DIGITS = {"": 18, "b": 18, "k": 15, "m": 12, "g": 9}
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
    return ActorFields.of(body, settings=settings, now=now, current_cron=current_cron, tenant=tenant).fields()


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
    match = _MEMORY.match(text)
    if match is None:
        raise BadRequest(f"{PREFIX}: mem_limit: '{text[:40]}' is not a memory size (for example 512m or 2g).")
    unit, significant = match["unit"].lower(), match["n"].lstrip("0")
    if len(significant) > MEMORY_DIGITS[unit]:
        raise BadRequest(f"{PREFIX}: mem_limit: more than {MEMORY_DIGITS[unit]} digits before '{unit or 'b'}'.")
    if int(significant or "0") * _MEMORY_UNITS[unit] < MIN_MEMORY_BYTES:
        raise BadRequest(f"{PREFIX}: mem_limit: must be at least 6m.")
    return significant + unit  # leading zeros dropped: what is stored stays short


def _cpus(value: Any) -> int | None:
    cpus = inputs.as_int(value, "max_cpus", PREFIX, minimum=1)
    if cpus is not None and cpus < MIN_NANO_CPUS:
        raise BadRequest(f"{PREFIX}: max_cpus is in nanoCPUs (1000000000 = 1 CPU); the minimum is "
                         f"{MIN_NANO_CPUS}.")
    return cpus


def _cron_text(value: Any) -> str | None:
    """The schedule as sent (its syntax and start are checked with the clock, by ``ActorFields``)."""
    raw = inputs.as_str(value, "cron_schedule", PREFIX)
    if len(raw) > cron.MAX_SCHEDULE_CHARS:
        raise BadRequest(f"{PREFIX}: cron_schedule: longer than {cron.MAX_SCHEDULE_CHARS} characters.")
    return raw.strip() or None


def _given_state(value: Any) -> Any:
    """An initial state given with the description (any JSON value; form text is parsed as JSON if it can be)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    return state(value)


# --- the actor description as a model: each field's rule (above) beside its JSON Schema ------------

def _rule(check: Callable[[Any], Any]) -> bodies.Rule:
    return lambda value, _info: check(value)


def _named(check: Callable[[Any, str], Any]) -> bodies.Rule:
    return lambda value, info: check(value, str(info.field_name))


_HINT = {"type": "string", "maxLength": MAX_TEXT,
         "pattern": "^[^" + HINT_FORBIDDEN.replace("[", "\\[").replace("]", "\\]") + "]*$"}
_MEMORY_PATTERN = "|".join(
    rf"^\s*0*({bodies.at_least(-(-MIN_MEMORY_BYTES // factor), MEMORY_DIGITS[name])}){unit}\s*$"
    for factor, name, unit in ((1, "b", "[bB]?"), (1024, "k", "[kK]"), (1024 ** 2, "m", "[mM]"),
                               (1024 ** 3, "g", "[gG]")))
MEMORY = {"type": "string", "pattern": _MEMORY_PATTERN + r"|^\s*$", "nullable": True,  # blank: no limit
          "description": f"bytes, or k, m or g; at least {MIN_MEMORY_BYTES // 1024 ** 2}m (Docker's minimum)"}
CRON = (r"^\s*(" + bodies.case_free("now") + r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{1,2})\s*\+\s*"
        rf"\+?0*([1-9][0-9]{{0,3}}|10000)\s+({'|'.join(cron.UNITS)})\s*$")
Text = bodies.checked(str, _named(_text), bodies.text_schema(MAX_TEXT))
Image = bodies.checked(str, lambda v, info: _image(v, bodies.context(info, "settings").allowed_registry_list), {
    "type": "string", "minLength": 1, "maxLength": images.MAX_REFERENCE_CHARS, "pattern": r"^\s*\S+\s*$",
    "description": "Docker image (required)"})
Token = bodies.checked(bool, lambda v, i: _token(v, bodies.context(i, "settings"), bodies.context(i, "tenant")),
                       {**bodies.BOOLISH, "nullable": True, "description": "null: the instance default"})
Environment = bodies.checked(dict[str, Any], _rule(_environment), None)  # JSON Schema 3.0 cannot say its names
Hints = bodies.checked(list[str], _rule(_hints), {
    "oneOf": [{"type": "array", "maxItems": MAX_HINTS, "items": {"oneOf": [_HINT, {"type": "number"}]}},
              {"type": "string", "pattern": r"^[^\[\]\"'{}]*$"}],
    "description": "tags; `sync` keeps a worker warm, `execution_started_events` also sends "
                   "EXECUTION_STARTED events to the link and webhook"})
Link = bodies.checked(str, lambda v, _i: _text(v, "link").strip(), bodies.text_schema(
    MAX_TEXT, description="an actor id or alias of the tenant on which the caller has EXECUTE"))
Webhook = bodies.checked(str, _rule(webhook), {
    "nullable": True, "type": "string", "maxLength": MAX_URL,
    "pattern": r"^\s*(https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[!-~]*)?)?\s*$",
    "description": "an http(s) URL; never a private or link-local address"})
Memory = bodies.checked(str | None, _rule(_memory), MEMORY)
Cpus = bodies.checked(int | None, _rule(_cpus), {**bodies.integer_schema(MIN_NANO_CPUS),
                                                 "description": "nanoCPUs, at least 0.01 CPU"})
# The pools a deployment has are known when the document is served: chalicelib/edge/openapi adds the enum.
Queue = bodies.checked(str, lambda v, _i: _text(v, "queue") or "default", {"nullable": True, "type": "string"})
ActorType = bodies.checked(str, lambda v, _i: _text(v, "type") or "none",
                           {"nullable": True, "type": "string", "enum": ["", *ACTOR_TYPES]})
CronText = bodies.checked(str | None, _rule(_cron_text), {
    "nullable": True, "type": "string", "pattern": CRON, "example": "2030-01-01 05 + 1 day",
    "description": "UTC; the start may not be past"})
CronOn = bodies.checked(bool, bodies.bool_rule, {**bodies.BOOLISH, "description": "needs a cron_schedule"})
NotSupported = bodies.checked(bool, bodies.bool_rule, bodies.FALSE_ONLY)
State = bodies.checked(Any, _rule(_given_state), {})
MaxWorkers = bodies.optional_int(1, "stateless actors only")
LogEx = bodies.optional_int(1, "seconds")
MaxAttempts = bodies.optional_int(1, "runs of one message after runner losses")
MaxRunTime = bodies.optional_int(1, "seconds before the container is stopped")
Name = bodies.checked(str | None, _rule(name), bodies.text_schema(MAX_TEXT))


class ActorFields(bodies.Body):
    """What POST and PUT share; the order of the fields is the order their rules run in (Abaco's)."""

    model_config = ConfigDict(json_schema_extra={"description": (
        "Also default_environment: an object (or its JSON text) of variables, names not empty, without '=' or NUL "
        "and not a name Abaco sets (MSG, _actor_configs, _abaco_actor_id, ...); OpenAPI 3.0 cannot constrain "
        "property names.")})
    PREFIX: ClassVar[str] = PREFIX
    image: Image
    description: Text = ""
    stateless: bodies.Boolish = True
    privileged: bodies.Boolish = False
    use_container_uid: bodies.Boolish = False
    run_as_executor: NotSupported = False
    token: Token = Field(default=None, validate_default=True)
    default_environment: Environment = Field(default_factory=dict)
    hints: Hints = Field(default_factory=list)
    link: Link = ""
    webhook: Webhook = ""
    max_workers: MaxWorkers = None
    mem_limit: Memory = None
    max_cpus: Cpus = None
    queue: Queue = "default"
    log_ex: LogEx = None
    max_attempts: MaxAttempts = None
    max_run_time: MaxRunTime = None
    type: ActorType = "none"
    cron_on: CronOn = False
    cron_schedule: CronText = None
    state: State = Field(default_factory=dict)
    _next_ex: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _derived(self, info: ValidationInfo) -> Self:
        current = bodies.context(info, "current_cron") or (None, None)
        if self.cron_schedule and current[0] == self.cron_schedule and current[1]:
            self._next_ex = current[1]  # a resent schedule keeps its clock
        elif self.cron_schedule:
            self._next_ex = cron.next_ex(cron.parse(self.cron_schedule, bodies.context(info, "now")))
        _check(self.fields(), bodies.context(info, "settings"))
        return self

    def fields(self) -> dict[str, Any]:
        """The actor's fields this description sets (``name``, ``state`` and ``force`` are the caller's)."""
        return {**self.model_dump(exclude={"name", "state", "force"}), "cron_next_ex": self._next_ex}


class ActorInput(ActorFields):
    name: Name = None


class ActorUpdate(ActorFields):
    force: bodies.Boolish = False
