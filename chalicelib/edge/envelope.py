"""Abaco's response envelope and the ``snake``/``camel`` case switch (reference §1.1)."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.naming import convert_keys, to_camel, to_snake  # noqa: F401 (re-exported)


def envelope(result: Any, message: str, version: str, status: str = "success") -> dict[str, Any]:
    return {"message": message, "result": result, "status": status, "version": version}
