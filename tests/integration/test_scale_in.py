"""Safe scale-in (issue 15): a real runner host with the lifecycle watcher (``runners/host/lifecycle.py``)
against the emulator's Auto Scaling API and the real Docker engine.

* While a container runs the instance is protected from scale-in, and unprotected once idle (read back from
  the emulator's Auto Scaling group).
* A termination notice drains the host: it takes no new work, the running execution finishes (COMPLETE,
  one attempt), and only then is the lifecycle action completed.
* A Spot notice's short budget hands the running execution back, not charged as an attempt.

The notices themselves come from the instance metadata service on AWS (``ImdsNotices``), which a test cannot
reach; here they are raised by the test through the same ``Notices`` interface. The hook and the mixed
Spot/on-demand policy are checked in the synthesised template (``tests/integration/test_infrastructure.py``).
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.domain.models import ExecutionStatus
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local.launcher import Stack
from runners.host.daemon import RunnerHost
from runners.host.lifecycle import Lifecycle, Notice
from tests.conftest import TEST_ENV, Api, start_stack, wait_for

pytestmark = pytest.mark.docker
REGION = "us-east-1"
GROUP = "abaco-test-runners-default"


class RaisedNotices:
    """The test raises the notice the metadata service would give."""

    def __init__(self) -> None:
        self.notice: Notice | None = None

    def poll(self) -> Notice | None:
        return self.notice


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("scale-in"), runners=0)
    yield stack
    stack.stop()


def autoscaling(stack: Stack) -> Any:
    return boto3.client("autoscaling", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture()
def instance(stack: Stack) -> str:
    """One instance in an Auto Scaling group of the emulator, with the drain hook the stack defines."""
    keys = {"endpoint_url": stack.env["AWS_ENDPOINT_URL"], "region_name": REGION, "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing"}
    ec2 = boto3.client("ec2", **keys)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    name = f"{GROUP}-{threading.get_ident()}-{len(ec2.describe_launch_templates()['LaunchTemplates'])}"
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image,
                                                                             "InstanceType": "t3.large"})
    groups = autoscaling(stack)
    groups.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, MaxSize=2, DesiredCapacity=1,
                                     LaunchTemplate={"LaunchTemplateName": name}, AvailabilityZones=["us-east-1a"])
    groups.put_lifecycle_hook(AutoScalingGroupName=name, LifecycleHookName="abaco-drain",
                              LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING", HeartbeatTimeout=300)
    (member,) = groups.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]
    return f"{name}/{member['InstanceId']}"


def protected(stack: Stack, instance: str) -> bool:
    (found,) = autoscaling(stack).describe_auto_scaling_instances(
        InstanceIds=[instance.split("/")[1]])["AutoScalingInstances"]
    return bool(found["ProtectedFromScaleIn"])


@pytest.fixture()
def work_dir() -> Iterator[Path]:
    """Short: results socket paths stop at 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="abs-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def runner(stack: Stack, tmp: Path, instance: str, notices: RaisedNotices) -> tuple[RunnerHost, Lifecycle]:
    """A runner host in this process (the daemon python -m runners starts), with the watcher polling fast."""
    env = {k.removeprefix("ABACO_").lower(): v for k, v in {**TEST_ENV, **stack.env}.items()
           if k.startswith("ABACO_") and k not in ("ABACO_API_WORKERS", "ABACO_EMULATOR_PORT")}
    settings = Settings(AWS_ENDPOINT_URL=stack.env["AWS_ENDPOINT_URL"], AWS_DEFAULT_REGION=REGION,
                        **{**env, "runner_work_dir": str(tmp), "shutdown_grace_seconds": 300})
    host = RunnerHost(Backend.from_settings(settings))
    group, instance_id = instance.split("/")
    watcher = Lifecycle(host, autoscaling(stack), group, instance_id, notices, drain_seconds=600)
    threading.Thread(target=host.run, name="runner", daemon=True).start()
    threading.Thread(target=watcher.watch, kwargs={"poll_seconds": 0.2}, name="lifecycle", daemon=True).start()
    return host, watcher


def start_sleeper(api: Api, seconds: int) -> tuple[str, str]:
    actor = api.create_actor(image="abacosamples/sleep_loop")
    wait_for(lambda: api.ok("GET", f"/actors/{actor['id']}")["status"] == "READY", 90, what="actor READY")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages", params={"_abaco_sleep_iterations": str(seconds)},
                  data={"message": "sleep"})
    return actor["id"], sent["execution_id"]


def status(api: Api, actor_id: str, execution_id: str) -> dict[str, Any]:
    return api.ok("GET", f"/actors/{actor_id}/executions/{execution_id}")


def test_a_termination_notice_drains_the_running_execution_then_completes_the_hook(
        stack: Stack, instance: str, work_dir: Path) -> None:
    api, notices = Api(stack.api_url), RaisedNotices()
    host, watcher = runner(stack, work_dir, instance, notices)
    try:
        actor_id, execution_id = start_sleeper(api, 6)
        wait_for(lambda: status(api, actor_id, execution_id)["status"] == "RUNNING", 90, what="RUNNING")
        wait_for(lambda: protected(stack, instance), 30, what="scale-in protection while a container runs")
        notices.notice = Notice("terminating", float("inf"))
        wait_for(watcher.completed.is_set, 120, what="the drain to complete the lifecycle action")
        done = status(api, actor_id, execution_id)
        assert done["status"] == ExecutionStatus.COMPLETE.value  # finished before the hook was completed
        assert host.stopped()
    finally:
        host.stop.set()
        host.kill.set()


def test_protection_is_dropped_when_idle_and_a_spot_hand_back_is_not_charged(
        stack: Stack, instance: str, work_dir: Path) -> None:
    api, notices = Api(stack.api_url), RaisedNotices()
    host, watcher = runner(stack, work_dir, instance, notices)
    try:
        wait_for(lambda: watcher.protected is False and not protected(stack, instance), 30,
                 what="an idle host unprotected")
        actor_id, execution_id = start_sleeper(api, 120)
        wait_for(lambda: status(api, actor_id, execution_id)["status"] == "RUNNING", 90, what="RUNNING")
        notices.notice = Notice("spot", 1.0)  # the budget is over before the container is
        wait_for(watcher.completed.is_set, 120, what="the Spot drain")
        handed = status(api, actor_id, execution_id)
        assert handed["status"] == ExecutionStatus.SUBMITTED.value  # back in the queue for another host
        tenant = stack.env.get("ABACO_TENANT", "DEV-DEVELOP")
        record = host.backend.executions.find(f"{tenant}_{actor_id}", execution_id)
        assert record is not None and record.charged == 0 and record.attempt == 1, record
    finally:
        host.stop.set()
        host.kill.set()
