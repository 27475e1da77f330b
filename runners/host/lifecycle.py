"""Safe scale-in on AWS: scale-in protection while executions run, and a drain before the host goes away.

The runner host's Auto Scaling group (``infrastructure/abaco_infra/runners.py``) has a terminating lifecycle
hook, runs Spot and on-demand hosts in a mixed-instances policy, and scales in on the backlog. A host that
is chosen for termination would otherwise lose what it runs. So, on every host in AWS (``ABACO_ASG_NAME``
set), a watcher thread:

* keeps the host *protected from scale-in* while any container runs, and unprotected when idle, so the
  group picks idle hosts when it shrinks;
* on a termination notice (the lifecycle hook's ``Terminated`` target state, or a Spot interruption
  notice) starts the drain: the host takes no more work and hands prefetched messages back; running
  executions finish (each within its ``max_run_time``, which the worker enforces) up to the drain budget
  (``ABACO_DRAIN_SECONDS``; for Spot, the two minutes' notice); what is still running then is handed back
  without being charged as an attempt. The lifecycle action gets a heartbeat meanwhile and is completed
  once the host stopped, so the instance terminates only then.

Notices come from the instance metadata service in AWS (``ImdsNotices``); the protection and the lifecycle
calls go to the Auto Scaling API. Both sit behind small interfaces so the tests drive the same loop with the
emulator's Auto Scaling API.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

LOG = logging.getLogger("abaco.runner")
POLL_SECONDS = 5.0  # IMDS reads are local and free; a Spot notice leaves two minutes
HOOK_HEARTBEAT_SECONDS = 60.0  # well inside the hook's heartbeat timeout (infrastructure: 300 s)
SPOT_MARGIN_SECONDS = 20.0  # stop a Spot host's drain this long before the interruption time
IMDS = "http://169.254.169.254/latest"  # the instance metadata service (AWS hosts only)
HOOK_NAME = "abaco-drain"  # the terminating lifecycle hook's name (infrastructure/abaco_infra/runners.py)


@dataclass(frozen=True)
class Notice:
    kind: str  # "terminating" (lifecycle hook: complete it when drained) or "spot" (no hook to complete)
    drain_seconds: float  # how long running executions may still run


class Notices(Protocol):
    def poll(self) -> Notice | None: ...


class Host(Protocol):
    """What the watcher needs of ``runners.host.daemon.RunnerHost``."""

    stop: threading.Event
    grace_seconds: float

    def running(self) -> int: ...

    def begin_shutdown(self) -> None: ...

    def stopped(self) -> bool: ...


class Lifecycle:
    def __init__(self, host: Host, autoscaling: Any, group: str, instance_id: str, notices: Notices,
                 drain_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.host, self.autoscaling, self.group, self.instance_id = host, autoscaling, group, instance_id
        self.notices, self.drain_seconds, self.clock = notices, drain_seconds, clock
        self.protected: bool | None = None
        self.completed = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Lifecycle:
        self._thread = threading.Thread(target=self.watch, name="lifecycle", daemon=True)
        self._thread.start()
        return self

    def watch(self, poll_seconds: float = POLL_SECONDS) -> None:
        """Protect while busy; on a notice, drain and complete the hook. Returns when the host stopped."""
        while not self.host.stop.is_set():
            self.protect(self.host.running() > 0)
            notice = self._poll()
            if notice is not None:
                self.drain(notice)
                return
            self.host.stop.wait(poll_seconds)

    def _poll(self) -> Notice | None:
        try:
            return self.notices.poll()
        except OSError as exc:  # the metadata service did not answer: try again next round
            LOG.warning("lifecycle: cannot read termination notices: %s", exc)
            return None

    def protect(self, busy: bool) -> None:
        """Scale-in protection follows the host's running containers (one call per change)."""
        if busy == self.protected:
            return
        try:
            self.autoscaling.set_instance_protection(InstanceIds=[self.instance_id], AutoScalingGroupName=self.group,
                                                     ProtectedFromScaleIn=busy)
            self.protected = busy
        except Exception as exc:  # an SDK error must not end the watcher; retried next round
            LOG.warning("lifecycle: scale-in protection %s: %s", "on" if busy else "off", exc)

    def drain(self, notice: Notice) -> None:
        budget = min(notice.drain_seconds, self.drain_seconds)
        LOG.info("lifecycle: %s notice; draining (running executions get up to %.0f s)", notice.kind, budget)
        self.host.grace_seconds = budget
        self.host.begin_shutdown()
        last_beat = self.clock()
        while not self.host.stopped():
            if notice.kind == "terminating" and self.clock() - last_beat >= HOOK_HEARTBEAT_SECONDS:
                self._call("record_lifecycle_action_heartbeat")
                last_beat = self.clock()
            time.sleep(0.5)
        if notice.kind == "terminating":
            self._call("complete_lifecycle_action", LifecycleActionResult="CONTINUE")
        self.completed.set()
        LOG.info("lifecycle: drained; the instance may go")

    def _call(self, operation: str, **extra: str) -> None:
        try:
            getattr(self.autoscaling, operation)(AutoScalingGroupName=self.group, LifecycleHookName=HOOK_NAME,
                                                 InstanceId=self.instance_id, **extra)
        except Exception as exc:  # the hook's own timeout completes it anyway
            LOG.warning("lifecycle: %s: %s", operation, exc)


class ImdsNotices:
    """Termination notices from the instance metadata service (IMDSv2): the Auto Scaling target lifecycle
    state ``Terminated`` (the lifecycle hook holds the instance in Terminating:Wait meanwhile) and the Spot
    ``instance-action``. Only constructed on AWS hosts."""

    def __init__(self, spot_drain_seconds: float = 120.0 - SPOT_MARGIN_SECONDS) -> None:
        self.spot_drain_seconds = spot_drain_seconds

    def _get(self, path: str) -> str | None:
        token_request = urllib.request.Request(f"{IMDS}/api/token", method="PUT",
                                               headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(token_request, timeout=2) as response:
            token = response.read().decode()
        request = urllib.request.Request(f"{IMDS}/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return str(response.read().decode())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def instance_id(self) -> str:
        return self._get("instance-id") or ""

    def poll(self) -> Notice | None:
        if (self._get("autoscaling/target-lifecycle-state") or "").strip() == "Terminated":
            return Notice("terminating", float("inf"))
        action = self._get("spot/instance-action")
        if action and json.loads(action).get("action") in ("terminate", "stop", "hibernate"):
            return Notice("spot", self.spot_drain_seconds)
        return None
