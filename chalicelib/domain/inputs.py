"""Coercion of request values (form strings or JSON values) with Abaco's error messages."""
from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.domain.errors import BadRequest

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
# int() also takes "1_000" and non-ASCII digits; an integer field takes decimal digits only (with
# spaces around as str.strip() sees them; int() itself would refuse \x1c-\x1f).
_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def as_bool(value: Any, field: str, prefix: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadRequest(f"{prefix}: {field}: '{value}' is not a valid boolean value.")


def as_int(value: Any, field: str, prefix: str, minimum: int | None = None) -> int | None:
    if value is None or value == "":
        return None
    invalid = BadRequest(f"{prefix}: {field}: '{value}' is not a valid integer.")
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise invalid  # int() would take True as 1 and truncate 2.5 to 2
    if isinstance(value, str):
        if not _INT_TEXT.fullmatch(value.strip()):
            raise invalid
        value = value.strip()
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise invalid from exc
    if minimum is not None and number < minimum:
        raise BadRequest(f"{prefix}: {field} must be at least {minimum}.")
    return number


def as_dict(value: Any, field: str, prefix: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError as exc:
            raise BadRequest(f"{prefix}: {field}: '{value}' is not a valid JSON object.") from exc
    if not isinstance(value, dict):
        raise BadRequest(f"{prefix}: {field}: '{value}' is not a valid JSON object.")
    return value


def as_str_list(value: Any, field: str, prefix: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise BadRequest(f"{prefix}: {field}: '{value}' is not a valid list.") from exc
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{prefix}: {field}: must be a list of strings.")
    return value


def as_str(value: Any, field: str, prefix: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise BadRequest(f"{prefix}: {field}: '{value}' is not a valid string.")
    return str(value)
