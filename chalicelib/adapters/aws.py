"""Lazily created AWS clients, shared per process (boto3 clients are thread-safe; resources are not)."""
from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.wiring.settings import Settings

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, str | None, str], Any] = {}

# The long poll is 20 s (SQS maximum); the read timeout must exceed it (SQS developer guide). Other
# services answer in milliseconds: short timeouts let a cut-off runner notice quickly (reliability plan T10:
# connect 2 s, read 25 s) instead of blocking a thread for minutes.
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=25,
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=64,
)
_SHORT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=64,
)
_SINGLE_TRY = Config(retries={"max_attempts": 1, "mode": "standard"})  # the first try only
_LONG_POLLING = {"sqs"}
# S3: Signature Version 4 for presigned URLs too (botocore may still presign with SigV2, which newer regions
# refuse), and path-style addressing against an emulator (no bucket.host DNS names on 127.0.0.1).
_S3_CONFIG = Config(signature_version="s3v4")
_S3_EMULATOR_CONFIG = Config(signature_version="s3v4", s3={"addressing_style": "path"})


def client(service: str, settings: Settings) -> Any:
    """The process-wide client for ``service`` against the configured endpoint."""
    key = (service, settings.aws_endpoint_url, settings.aws_region)
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = _make(service, settings)
        return _CLIENTS[key]


def single_try_client(service: str, settings: Settings) -> Any:
    """A process-wide client that sends each request once: for a write that must not apply twice, whose
    caller decides what may be sent again (``chalicelib/adapters/storage/totals.py``)."""
    key = (f"{service}:once", settings.aws_endpoint_url, settings.aws_region)
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = _make(service, settings, _SINGLE_TRY)
        return _CLIENTS[key]


def _make(service: str, settings: Settings, extra: Config | None = None) -> Any:
    config = _CLIENT_CONFIG if service in _LONG_POLLING else _SHORT_CONFIG
    if extra is not None:
        config = config.merge(extra)
    if service == "s3":
        config = config.merge(_S3_EMULATOR_CONFIG if settings.aws_endpoint_url else _S3_CONFIG)
    kwargs: dict[str, Any] = {"region_name": settings.aws_region, "config": config}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
        # An emulator accepts any credentials; never fall through to an instance-metadata lookup.
        kwargs.setdefault("aws_access_key_id", os.environ.get("AWS_ACCESS_KEY_ID", "testing"))
        kwargs.setdefault("aws_secret_access_key", os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    return boto3.session.Session().client(service, **kwargs)
