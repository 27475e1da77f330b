"""Abaco's response envelope and the ``snake``/``camel`` case switch (reference §1.1).

The case switch is applied here only, once per response (``cased``), as the view declares which keys of
its result are field names (``Keys``): the result's own (the default), none (a permissions listing,
whose keys are user names), or also those of the records under some keys (a search's records, an
executions summary's items). The services never convert; Abaco's rules stay visible at the view.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.naming import convert_keys, to_camel, to_snake  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Keys:
    """Which keys of a result follow the case switch. Nested dicts not named here never do (Abaco
    converts only a model's own fields: ``default_environment``'s keys stay as the user wrote them)."""

    top: bool = True  # the result's own keys (each item's, for a list)
    nested: tuple[str, ...] = ()  # and those of the record(s) under these keys


FIELDS = Keys()
DATA = Keys(top=False)  # keys are data (user names) or fixed names: never converted


def nested(*keys: str) -> Keys:
    return Keys(nested=keys)


SEARCH = nested("_metadata", "search")  # a search result: its metadata and each record found


def cased(value: Any, case: str, keys: Keys = FIELDS) -> Any:
    """``value`` with the keys ``keys`` names in ``case`` (``snake`` leaves everything as it is)."""
    if case != "camel" or not (keys.top or keys.nested):
        return value
    if isinstance(value, list):
        return [cased(item, case, keys) for item in value]
    if not isinstance(value, dict):
        return value
    out = {to_camel(k) if keys.top else k: v for k, v in value.items()}
    for key in keys.nested:
        name = to_camel(key) if keys.top else key
        if name in out:
            out[name] = cased(out[name], case, FIELDS)
    return out


def envelope(result: Any, message: str, version: str, status: str = "success") -> dict[str, Any]:
    return {"message": message, "result": result, "status": status, "version": version}
