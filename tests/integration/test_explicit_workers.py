"""An admin's ``POST /actors/{id}/workers {num}`` over HTTP (reference §1.7, §4.3): Abaco let an admin give
any actor more workers, a stateful one included; only scaling (from zero, the autoscaler) keeps a stateful
actor at one. The session stack runs without access control, so every caller is an admin."""
from __future__ import annotations

from typing import Any

from tests.conftest import Api, wait_for
from tests.integration.probe import new_actor  # noqa: F401  (fixture)


def _workers(api: Api, actor_id: str) -> list[dict[str, Any]]:
    return api.ok("GET", f"/actors/{actor_id}/workers")


def test_an_admin_gives_a_stateful_actor_two_workers(api: Api, new_actor) -> None:  # noqa: F811
    actor = new_actor(image="abacosamples/noop", stateless=False)
    aid = actor["id"]
    wait_for(lambda: len(_workers(api, aid)) == 1, 30, what="the registration's worker")
    response = api.call("POST", f"/actors/{aid}/workers", json={"num": 2})
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Scheduled 1 new worker(s) to start. Previously, there were 1 workers."
    workers = _workers(api, aid)
    assert len({w["id"] for w in workers}) == 2
    wait_for(lambda: sum(w["status"] in ("READY", "BUSY") for w in _workers(api, aid)) == 2, 60,
             what="two READY workers")  # runner hosts took both
    again = api.call("POST", f"/actors/{aid}/workers", json={"num": 2})
    assert again.json()["message"] == f"Actor {aid} already had 2 worker(s)."
    # a message still runs (on either worker), and scaling does not add a third
    sent = api.ok("POST", f"/actors/{aid}/messages", data={"message": "m"})
    assert api.wait_execution(aid, sent["execution_id"])["status"] == "COMPLETE"
    assert len(_workers(api, aid)) == 2
