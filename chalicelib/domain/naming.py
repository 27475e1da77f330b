"""Field-name case: Abaco's ``snake``/``camel`` switch (reference §1.1), one definition for every layer."""
from __future__ import annotations

import re
from typing import Any

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def to_camel(key: str) -> str:
    """``default_environment`` -> ``defaultEnvironment``; leading underscores (``_links``) are kept."""
    stripped = key.lstrip("_")
    prefix = key[: len(key) - len(stripped)]
    return prefix + _CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), stripped)


def to_snake(key: str) -> str:
    """``defaultEnvironment`` -> ``default_environment``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), key)


def convert_keys(value: Any, case: str) -> Any:
    """Top-level keys of a model (or of each model in a list) follow the case; nested dicts do not."""
    if case != "camel":
        return value
    if isinstance(value, list):
        return [convert_keys(item, case) for item in value]
    if isinstance(value, dict):
        return {to_camel(k): v for k, v in value.items()}
    return value
