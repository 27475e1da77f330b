"""The low-severity findings over HTTP against the real stack: image references that name the runner host's
network are refused, actor and worker caps per user and per tenant, and the runner hosts view is the
platform administrators' only."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.launcher import Stack
from tests.conftest import Api, start_stack
from tests.integration.conftest import error, tenant_api

CAPS = {"ABACO_MAX_ACTORS_PER_USER": "2", "ABACO_MAX_ACTORS_PER_TENANT": "3",
        "ABACO_MAX_WORKERS_PER_USER": "3", "ABACO_MAX_WORKERS_PER_TENANT": "4"}


@pytest.mark.parametrize("image", ["localhost:5000/x", "127.0.0.1/x", "169.254.169.254/latest", "10.1.2.3:5000/x",
                                   "[::1]:5000/x", "internal:5000/x"])
def test_images_from_the_runner_hosts_network_are_refused(api_only: Api, image: str) -> None:
    message = error(api_only.call("POST", "/actors", json={"image": image}), 400)
    assert "image" in message and "registry" in message


@pytest.fixture(scope="module")
def capped(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An API-only stack (workers stay REQUESTED, so they count as live) with small caps."""
    private = start_stack(tmp_path_factory.mktemp("caps"), env=CAPS, runners=0,
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    yield Api(private.api_url)
    private.stop()


def test_an_owner_over_the_actor_cap_is_refused(capped: Api) -> None:
    t = tenant_api(capped, "CAPS-ACTORS")  # none mode: one user ("anonymous"); a tenant per test
    for _ in range(2):
        t.ok("POST", "/actors", json={"image": "abacosamples/noop"})
    assert "ABACO_MAX_ACTORS_PER_USER" in error(t.call("POST", "/actors", json={"image": "abacosamples/noop"}), 400)


def test_worker_caps_bound_added_workers(capped: Api) -> None:
    t = tenant_api(capped, "CAPS-WORKERS")
    actor = t.ok("POST", "/actors", json={"image": "abacosamples/noop", "max_workers": 10})["id"]
    response = t.call("POST", f"/actors/{actor}/workers", json={"num": 8})
    assert response.status_code == 200, response.text
    assert "Scheduled 2 new worker(s)" in response.json()["message"]  # 1 from registration + 2: the cap of 3
    assert len(t.ok("GET", f"/actors/{actor}/workers")) == 3
    refused = error(t.call("POST", f"/actors/{actor}/workers", json={"num": 9}), 400)
    assert "ABACO_MAX_WORKERS_PER_USER" in refused


def test_the_hosts_view_is_for_platform_admins_only(client: Any) -> None:
    tenant_admin = client("root", tenant="TENANT-A", role="admin")
    assert tenant_admin.call("GET", "/actors/admin/hosts").status_code == 400
    platform_admin = client("root", tenant="DEV-DEVELOP", role="admin")
    hosts = platform_admin.ok("GET", "/actors/admin/hosts")["hosts"]
    assert hosts and all(w.startswith("DEV-DEVELOP_") for h in hosts for w in h["workers"])
