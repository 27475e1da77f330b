"""Quotas and the other low-severity findings: results per execution, actor and worker caps, a default run
time, image references, the platform-admin hosts view, unverified token text kept out of logs."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from chalicelib.domain import images
from chalicelib.domain.errors import BadRequest, Unauthenticated
from chalicelib.domain.models import Actor, Worker, WorkerStatus
from chalicelib.identity import auth
from chalicelib.services import quotas
from chalicelib.services.workers import _tenant_of_worker
from chalicelib.wiring.settings import Settings
from runners.pipeline.pull_checks import PullChecks
from runners.pipeline.results import ResultsCollector
from tests import jwt_keys
from tests.unit.test_results_collector import MemoryResults


def test_results_over_the_count_or_byte_quota_are_dropped_and_counted(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        store = MemoryResults()
        collector = ResultsCollector(sock, store, "a#e", 1, 60, max_count=3, max_bytes=10)  # type: ignore[arg-type]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            for payload in (b"1234", b"5678", b"abc", b"x"):  # the third would make 11 bytes
                sender.sendto(payload, path)
        assert collector.finish() == 3
        assert collector.dropped == 1 and collector.stored_bytes == 9
        assert sorted(d for _, _, d in store.items) == [b"1234", b"5678", b"x"]


def test_containers_stop_after_a_day_by_default() -> None:
    assert Settings().max_run_time == 86_400


class _Backend:
    """The one attribute ``quotas.workers_left`` reads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def test_worker_caps_count_live_workers_of_the_tenant_and_of_the_owner() -> None:
    settings = Settings(max_workers_per_tenant=4, max_workers_per_user=2)
    actor = Actor(tenant="T", id="a1", image="i", owner="ann")
    live = [Worker(tenant="T", actor_id="a1", id="w1", owner="ann"),
            Worker(tenant="T", actor_id="b1", id="w2", owner="bob"),
            Worker(tenant="U", actor_id="c1", id="w3", owner="ann"),  # another tenant's ann
            Worker(tenant="T", actor_id="a1", id="w4", owner="ann", status=WorkerStatus.SHUTDOWN_REQUESTED)]
    assert quotas.workers_left(_Backend(settings), actor, live) == 1  # type: ignore[arg-type]
    live.append(Worker(tenant="T", actor_id="a2", id="w5", owner="ann"))
    assert quotas.workers_left(_Backend(settings), actor, live) == 0  # type: ignore[arg-type]
    assert quotas.workers_left(_Backend(Settings(max_workers_per_tenant=0, max_workers_per_user=0)),  # type: ignore[arg-type]
                               actor, live) > 1000


@pytest.mark.parametrize(("image", "refused"), [
    ("abacosamples/test", False), ("docker.io/library/python:3.12", False), ("ghcr.io/org/img@sha256:ab", False),
    ("registry.example.org:5000/team/img:1", False), ("localhost/img", True), ("localhost:5000/img", True),
    ("127.0.0.1:5000/img", True), ("169.254.169.254/latest", True), ("10.0.0.5/img", True),
    ("[::1]:5000/img", True), ("foo.localhost/img", True), ("internal:5000/img", True),
])
def test_image_references_naming_the_hosts_network_are_refused(image: str, refused: bool) -> None:
    assert (images.registry_problem(image) is not None) is refused


def test_each_tenant_pull_checks_an_image_once_per_runner() -> None:
    checks = PullChecks()
    assert checks.needed("A", "img")
    checks.passed("A", "img")
    assert not checks.needed("A", "img") and checks.needed("B", "img")


def test_host_worker_entries_belong_to_their_exact_tenant() -> None:
    assert _tenant_of_worker("A_x1y2/w1") == "A"
    assert _tenant_of_worker("A_B_x1y2/w1") == "A_B"  # a prefix test gave tenant A this worker


def test_a_tokens_unverified_tenant_never_reaches_the_log_reason(tmp_path: Path) -> None:
    keys = tmp_path / "tenant-keys.json"
    keys.write_text(json.dumps({"t1": jwt_keys.key_pair("tenant-one")[1]}))
    config = Settings(jwt_tenant_keys_file=str(keys), access_control="jwt")
    forged = jwt_keys.sign(jwt_keys.bearer_claims("mallory", "EVIL\nFAKE LOG LINE"), key_name="tenant-one")
    with pytest.raises(Unauthenticated) as refused:
        auth.identify({"Authorization": f"Bearer {forged}"}, config)
    assert "EVIL" not in refused.value.reason and "FAKE" not in refused.value.reason


class _Actors:
    def __init__(self, actors: list[Actor]) -> None:
        self._actors = actors

    def list(self, tenant: str) -> list[Actor]:
        return [a for a in self._actors if a.tenant == tenant]

    def count(self, tenant: str, owner: str | None = None) -> int:
        return sum(1 for a in self.list(tenant) if owner is None or a.owner == owner)


class _ActorBackend(_Backend):
    def __init__(self, settings: Settings, actors: list[Actor]) -> None:
        super().__init__(settings)
        self.actors = _Actors(actors)


def test_actor_caps_per_owner_and_per_tenant() -> None:
    settings = Settings(max_actors_per_user=2, max_actors_per_tenant=3)
    actors = [Actor(tenant="T", id=f"a{i}", image="i", owner=owner) for i, owner in enumerate(["ann", "ann", "bob"])]
    with pytest.raises(BadRequest, match="ABACO_MAX_ACTORS_PER_TENANT"):
        quotas.check_new_actor(_ActorBackend(settings, actors), "T", "cy")  # type: ignore[arg-type]
    with pytest.raises(BadRequest, match="ABACO_MAX_ACTORS_PER_USER"):
        quotas.check_new_actor(_ActorBackend(settings, actors[:2]), "T", "ann")  # type: ignore[arg-type]
    quotas.check_new_actor(_ActorBackend(settings, actors[:2]), "T", "bob")  # type: ignore[arg-type]
    quotas.check_new_actor(_ActorBackend(settings, actors), "U", "ann")  # type: ignore[arg-type]
