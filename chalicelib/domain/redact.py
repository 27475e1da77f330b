"""A safety net for logs: credentials that slip into a log line are masked before it is written.

Callers never log secrets on purpose (configs, tokens, nonces); this catches the accidents (an exception
text quoting a header, a URL with ``x-nonce``), per reliability plan §4.6.
"""
from __future__ import annotations

import logging
import re

MASK = "[REDACTED]"
_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),  # a JWT (base64url JSON header)
    re.compile(r"(?i)(bearer\s+)\S+"),
    re.compile(r"(?i)(x-nonce=)[^&\s'\"]+"),
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}_[0-9a-f]{64}"),  # a nonce secret
    re.compile(r"(?i)(x-jwt-assertion-[a-z0-9._-]+['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with credentials masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
