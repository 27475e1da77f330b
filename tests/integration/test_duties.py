"""The periodic duties and the runner hosts' settings path, against the session's moto server over HTTP:
the backlog metric the runner groups scale on, what one pass of a duty reads (counted on the wire by
``bench/proxy.py``), and the SSM parameters a runner host starts with."""
from __future__ import annotations

import importlib.util
import secrets
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from bench.proxy import CountingProxy
from chalicelib.adapters.cloudwatch import Metrics
from chalicelib.adapters.storage.executions import open_shard
from chalicelib.domain.models import Execution, Host, HostStatus
from chalicelib.domain.queue_messages import StartWorkerCommand
from chalicelib.services import backlog, health
from chalicelib.wiring import resources
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import bootstrap
from local.launcher import Stack
from runners.duties import autoscaler, reconciler

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def _client(stack: Stack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture()
def private_backend(stack: Stack) -> Backend:
    """Tables and queues under a prefix of their own on the session emulator: no runner serves them, so the
    queue depths stay what the test made them."""
    settings = Settings(AWS_ENDPOINT_URL=stack.env["AWS_ENDPOINT_URL"], AWS_DEFAULT_REGION=REGION,
                        resource_prefix=f"abaco-bl{secrets.token_hex(3)}", pools="default,gpu")
    bootstrap.bootstrap(settings)
    return Backend.from_settings(settings)


def _open_executions(backend: Backend, pool: str, count: int) -> None:
    for _ in range(count):
        backend.executions.create(Execution(tenant="T", actor_id="a", id=f"e{secrets.token_hex(4)}", executor="u",
                                            open_pool=pool))


def test_backlog_per_pool_counts_open_executions_and_waiting_commands(
        stack: Stack, private_backend: Backend) -> None:
    backend = private_backend
    assert backlog.measure(backend) == {"default": 0, "gpu": 0, "privileged": 0}  # every pool, even idle
    _open_executions(backend, "default", 3)
    _open_executions(backend, "gpu", 1)
    backend.executions.create(Execution(tenant="T", actor_id="a", id="done", executor="u"))  # terminal: no pool
    command = StartWorkerCommand(tenant="T", actor_id="x", worker_id="w", image="i", revision=1)
    backend.queues.send_command("gpu", command)
    backend.queues.send_command("privileged", command)
    assert backlog.measure(backend) == {"default": 3, "gpu": 2, "privileged": 1}

    published = backlog.publish(backend, Metrics(backend.settings))
    assert published == {"default": 3, "gpu": 2, "privileged": 1}
    cloudwatch = _client(stack, "cloudwatch")
    listed = cloudwatch.list_metrics(Namespace=resources.METRICS_NAMESPACE, MetricName=resources.BACKLOG_METRIC,
                                     Dimensions=[{"Name": "Prefix", "Value": backend.settings.resource_prefix}])
    pools = {d["Value"] for m in listed["Metrics"] for d in m["Dimensions"] if d["Name"] == "Pool"}
    assert pools == {"default", "gpu", "privileged"}


def test_health_gauges_name_stale_hosts_and_the_oldest_open_execution(stack: Stack, private_backend: Backend) -> None:
    """What the stale-heartbeat and oldest-open-execution alarms watch (services/health.py)."""
    backend = private_backend
    fresh = backend.hosts.put(Host(id="fresh", hostname="h", pid=1, pools=["default"]))
    backend.hosts.put(Host(id="hung", hostname="h", pid=2, pools=["default"]))
    backend.hosts.put(Host(id="gone", hostname="h", pid=3, pools=["default"], status=HostStatus.STOPPED))
    backend.executions.create(Execution(tenant="T", actor_id="a", id="old", executor="u", open_pool="gpu",
                                        message_received_time="2026-01-01T00:00:00.000000Z"))
    later = fresh.heartbeat_at + health.STALE_HOST_SECONDS + 1  # no heartbeat since: every live record is stale
    found = health.measure(backend, now=later)
    assert found.stale_hosts == 2  # fresh and hung; the STOPPED record is not a failure
    assert health.measure(backend).stale_hosts == 0
    assert found.oldest_open_seconds["default"] == 0.0 and found.oldest_open_seconds["gpu"] > 86_400
    backlog.publish(backend, Metrics(backend.settings))
    listed = _client(stack, "cloudwatch").list_metrics(Namespace=resources.METRICS_NAMESPACE)["Metrics"]
    names = {(m["MetricName"], tuple(sorted(d["Value"] for d in m["Dimensions"]))) for m in listed}
    prefix = backend.settings.resource_prefix
    assert (resources.STALE_HOSTS_METRIC, (prefix,)) in names
    assert (resources.OLDEST_OPEN_METRIC, tuple(sorted((prefix, "gpu")))) in names


@pytest.fixture()
def counted(stack: Stack) -> Iterator[tuple[Backend, CountingProxy]]:
    """A private backend of the default pools (``default`` and ``privileged``) whose AWS requests pass
    through a counting proxy to the session emulator; its tables and queues are made without it."""
    prefix = f"abaco-ic{secrets.token_hex(3)}"
    settings = Settings(AWS_ENDPOINT_URL=stack.env["AWS_ENDPOINT_URL"], AWS_DEFAULT_REGION=REGION,
                        resource_prefix=prefix)
    bootstrap.bootstrap(settings)
    proxy = CountingProxy(urllib.parse.urlsplit(settings.aws_endpoint_url).port or 0).start()
    try:
        yield Backend.from_settings(Settings(AWS_ENDPOINT_URL=proxy.url, AWS_DEFAULT_REGION=REGION,
                                             resource_prefix=prefix)), proxy
    finally:
        proxy.stop()


def _requests_of(proxy: CountingProxy, action: Callable[[], object]) -> Counter[str]:
    """The requests ``action()`` made, by operation and table."""
    before = proxy.detailed_snapshot()
    action()
    return proxy.detailed_snapshot() - before


def test_an_idle_autoscaler_pass_is_one_request_and_an_idle_reconciler_pass_three(
        counted: tuple[Backend, CountingProxy]) -> None:
    """The open executions of every pool come from one Scan of the sparse index (a Query per pool and shard
    made it 16 requests with the 2 default pools and 8 shards); the reconciler's two others are its sweep
    of dead workers (the workers and hosts tables)."""
    backend, proxy = counted
    table = resources.EXECUTIONS.physical(backend.settings.resource_prefix)
    assert backend.settings.open_index_shards == 8 and len(backend.settings.all_pools) == 2
    assert _requests_of(proxy, lambda: autoscaler.run_once(backend, time.time())) == \
        Counter({f"dynamodb.Scan {table}": 1})
    tables = {name: d.physical(backend.settings.resource_prefix)
              for name, d in (("workers", resources.WORKERS), ("hosts", resources.HOSTS))}
    assert _requests_of(proxy, lambda: reconciler.run_once(backend, time.time())) == \
        Counter({f"dynamodb.Scan {table}": 1, f"dynamodb.Scan {tables['workers']}": 1,
                 f"dynamodb.Scan {tables['hosts']}": 1})


def test_one_scan_finds_the_open_executions_of_every_pool_and_shard(counted: tuple[Backend, CountingProxy]) -> None:
    backend, proxy = counted
    shards = backend.settings.open_index_shards
    wanted: dict[str, set[str]] = {"default": set(), "privileged": set()}
    for pool, count in (("default", 20), ("privileged", 6), ("retired", 3)):  # "retired": no longer configured
        for _ in range(count):
            execution = Execution(tenant="T", actor_id=f"a-{pool}", id=f"e{secrets.token_hex(4)}",
                                  executor="u", open_pool=pool)
            backend.executions.create(execution)
            wanted.get(pool, set()).add(execution.id)
    backend.executions.create(Execution(tenant="T", actor_id="a", id="done", executor="u"))  # terminal: no pool
    assert len({open_shard("default", e, shards) for e in wanted["default"]}) > 1  # several shards written
    found: dict[str, set[str]] = {}

    def read() -> None:
        for pool, execution in backend.executions.open_executions(backend.settings.all_pools):
            assert execution.open_pool == pool  # the pool without its shard
            found.setdefault(pool, set()).add(execution.id)

    table = resources.EXECUTIONS.physical(backend.settings.resource_prefix)
    assert _requests_of(proxy, read) == Counter({f"dynamodb.Scan {table}": 1})
    assert found == wanted
    assert backlog.measure(backend) == {"default": 20, "privileged": 6}
    published = _requests_of(proxy, lambda: backlog.publish(backend, Metrics(backend.settings)))
    assert published[f"dynamodb.Scan {table}"] == 1  # the backlog and the gauges share one read


def test_inbox_is_tagged_with_the_pool_that_runs_the_actor(private_backend: Backend) -> None:
    queues = private_backend.queues
    queues.create_inbox("T", "tagged", "gpu")
    assert queues.inbox_pool("T", "tagged") == "gpu"
    queues.set_inbox_pool("T", "tagged", "default")
    assert queues.inbox_pool("T", "tagged") == "default"


def _runner_env() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runner_env", ROOT / "infrastructure" / "host" / "runner_env.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_host_reads_every_abaco_setting_of_its_pool_from_ssm(stack: Stack) -> None:
    ssm = _client(stack, "ssm")
    path = f"/abaco-t{secrets.token_hex(3)}/runner/default"
    wanted = {f"ABACO_SETTING_{i}": str(i) for i in range(12)}  # more than one page (10 per call)
    for name, value in wanted.items():
        ssm.put_parameter(Name=f"{path}/{name}", Value=value, Type="String")
    ssm.put_parameter(Name=f"{path}/PATH", Value="/evil", Type="String")  # not a setting: never exported
    ssm.put_parameter(Name=f"{path}-other/ABACO_RUNNER_POOL", Value="gpu", Type="String")  # another pool
    assert _runner_env().fetch(ssm, path) == wanted
