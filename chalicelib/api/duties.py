"""Periodic duties that run as scheduled Lambda functions (EventBridge rules from Chalice's SAM output).

Locally nothing schedules them; a test calls the functions directly against the emulator.
"""
from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.services import backlog
from chalicelib.wiring.backend import get_backend

BACKLOG_RATE_MINUTES = 1  # the scaling metric's period; target tracking needs one datum per minute

bp = Blueprint(__name__)


@bp.schedule(Rate(BACKLOG_RATE_MINUTES, unit=Rate.MINUTES), name="publish_backlog")
def publish_backlog(_event: Any) -> dict[str, int]:
    """Publish each pool's backlog (the custom metric the runner Auto Scaling groups track)."""
    return backlog.publish(get_backend())
