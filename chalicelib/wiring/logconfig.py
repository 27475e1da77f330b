"""Structured logs: one JSON object per line for the API and the runners (``ABACO_LOG_FORMAT``).

Only the formatted message and a few context fields are written; callers never log secrets (configs,
tokens, nonces), and ``chalicelib.domain.redact`` masks any credential that slips into a line anyway.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

from chalicelib.domain.redact import RedactingFilter

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component
        self.host = socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "component": self.component,
            "host": self.host,
            "pid": os.getpid(),
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():  # fields passed with ``extra={...}``
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_text or record.exc_info:
            out["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(component: str, log_format: str = "json", level: int = logging.INFO) -> None:
    """Route the root logger to stderr in the chosen format (idempotent)."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(component))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
