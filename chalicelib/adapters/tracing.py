"""X-Ray tracing (aws-xray-sdk) that follows a message from the API through SQS into the runner.

With ``ABACO_TRACING=true`` the API opens a segment per request (in Lambda, a subsegment of the function's
own segment), every boto3 call becomes a subsegment (``patch(["botocore"])``), and the trace header of the
request travels with the inbox message as SQS's ``AWSTraceHeader`` system attribute, so the message body
stays what it was. The runner opens its segment for that message under the same trace id, with the API's
entity as parent, and a subsegment per step (claim, container create, start, wait, finalise).

Segments go where the SDK sends them: the X-Ray daemon protocol over UDP to ``AWS_XRAY_DAEMON_ADDRESS``
(127.0.0.1:2000 by default; in AWS the CloudWatch agent or the X-Ray daemon listens there, and Lambda has its
own). Locally a test listens on a loopback port and reads the segments back. ``ABACO_TRACING_SAMPLE_ALL``
records every request (tests, debugging); otherwise the SDK's sampling rules decide at the API, and the
runner follows the API's decision carried in the header.

With tracing off (the default) nothing is imported and every helper here is a no-op.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from chalicelib.wiring.settings import Settings

LOG = logging.getLogger("abaco.tracing")
T = TypeVar("T")
DEFAULT_DAEMON = "127.0.0.1:2000"
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"on": False, "recorder": None, "service": None}


def configure(settings: Settings, service: str) -> bool:
    """Turn tracing on for this process when the settings ask for it (idempotent); True when on."""
    if not settings.tracing:
        return False
    if _STATE["on"]:  # every request asks: no lock once it is on
        return True
    with _LOCK:
        if _STATE["on"]:
            return True
        from aws_xray_sdk.core import patch, xray_recorder

        xray_recorder.configure(service=service, context_missing="IGNORE_ERROR",
                                sampling=not settings.tracing_sample_all,
                                daemon_address=os.environ.get("AWS_XRAY_DAEMON_ADDRESS", DEFAULT_DAEMON))
        patch(["botocore"])
        _STATE.update(on=True, recorder=xray_recorder, service=service)
        LOG.info("X-Ray tracing on for %s", service)
        return True


def enabled() -> bool:
    return bool(_STATE["on"])


def _in_lambda() -> bool:
    return bool(os.environ.get("LAMBDA_TASK_ROOT"))


def _parse(header: str | None) -> Any:
    if not header:
        return None
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    parsed = TraceHeader.from_header_str(header)
    return parsed if parsed.root else None


@contextmanager
def segment(name: str, header: str | None = None, **annotations: str | int | bool) -> Iterator[Any]:
    """A segment for one unit of work (an API request, a runner's message), continuing ``header``'s trace
    when given; in Lambda a subsegment of the invocation's segment. Yields None when tracing is off."""
    if not _STATE["on"]:
        yield None
        return
    recorder = _STATE["recorder"]
    if _in_lambda():
        with recorder.in_subsegment(name) as sub:
            _annotate(sub, annotations)
            yield sub
        return
    parent = _parse(header)
    sampled = None if parent is None or parent.sampled is None else bool(int(parent.sampled))
    opened = recorder.begin_segment(name=name, traceid=parent.root if parent else None,
                                    parent_id=parent.parent if parent else None, sampling=sampled)
    _annotate(opened, annotations)
    try:
        yield opened
    except Exception as exc:
        opened.add_exception(exc, [])
        raise
    finally:
        recorder.end_segment()


@contextmanager
def subsegment(name: str, **annotations: str | int | bool) -> Iterator[Any]:
    """A subsegment of whatever segment this thread has open; nothing when tracing is off or none is open."""
    if not _STATE["on"] or _STATE["recorder"].get_trace_entity() is None:
        yield None
        return
    with _STATE["recorder"].in_subsegment(name) as sub:
        _annotate(sub, annotations)
        yield sub


def traced(name: str, step: Callable[..., T], *args: Any) -> T:
    """``step(*args)`` inside a subsegment ``name`` (the runner's claim, create, start, wait, finalise)."""
    with subsegment(name):
        return step(*args)


def current_header() -> str | None:
    """The trace header that continues this thread's trace under its current entity (for SQS), or None."""
    if not _STATE["on"]:
        return None
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    entity = _STATE["recorder"].get_trace_entity()
    if entity is None:
        return None
    root = entity if getattr(entity, "parent_segment", None) is None else entity.parent_segment
    return TraceHeader(root=root.trace_id, parent=entity.id, sampled=int(bool(root.sampled))).to_header_str()


def http_meta(entity: Any, method: str, url: str, status: int | None = None) -> None:
    if entity is None:
        return
    entity.put_http_meta("method", method)
    entity.put_http_meta("url", url)
    if status is not None:
        entity.put_http_meta("status", status)
        if status >= 500:
            entity.add_fault_flag()
        elif status >= 400:
            entity.add_error_flag()


def _annotate(entity: Any, annotations: dict[str, str | int | bool]) -> None:
    if entity is None:
        return
    for key, value in annotations.items():
        entity.put_annotation(key, value)
