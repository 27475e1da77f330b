"""Configs and links bind the actor an alias named when they were written, over HTTP
against the real stack: re-pointing or re-creating the alias later hands neither a config's secret nor a
link's events to the alias's new actor."""
from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.conftest import Api, wait_for
from tests.integration.conftest import tenant_api

pytestmark = pytest.mark.docker
QUIET = {"_abaco_test_sleep": "0"}


def _run(api: Any, actor: str) -> str:
    """One message; the finished execution's logs."""
    sent = api.ok("POST", f"/actors/{actor}/messages", data={"message": "go"})

    def done() -> dict[str, Any] | None:
        found = api.ok("GET", f"/actors/{actor}/executions/{sent['execution_id']}")
        return found if found["status"] in ("COMPLETE", "ERROR") else None

    assert wait_for(done, 90, what="the execution")["status"] == "COMPLETE"
    return str(api.ok("GET", f"/actors/{actor}/executions/{sent['execution_id']}/logs")["logs"])


def test_a_config_secret_stays_with_the_actor_its_alias_named(api: Api) -> None:
    t = tenant_api(api, "SEC-ALIAS-CONFIG")
    victim = t.ok("POST", "/actors", json={"image": "abacosamples/test", "default_environment": QUIET})["id"]
    other = t.ok("POST", "/actors", json={"image": "abacosamples/test", "default_environment": QUIET})["id"]
    alias, secret = f"vault-{secrets.token_hex(3)}", f"s3cr3t-{secrets.token_hex(6)}"
    t.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": victim})
    config = t.ok("POST", "/actors/configs", json={"name": f"cfg-{secrets.token_hex(3)}", "value": secret,
                                                   "is_secret": True, "actors": alias})
    assert config["actors"] == alias  # shown as given
    assert secret in _run(t, victim)
    t.ok("PUT", f"/actors/aliases/{alias}", json={"actor_id": other})  # re-pointed
    assert secret not in _run(t, other)
    t.ok("DELETE", f"/actors/aliases/{alias}")
    t.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": other})  # re-created
    assert secret not in _run(t, other)
    assert secret in _run(t, victim)


def test_a_links_events_stay_with_the_actor_its_alias_named(api: Api) -> None:
    t = tenant_api(api, "SEC-ALIAS-LINK")
    linked = t.ok("POST", "/actors", json={"image": "abacosamples/test", "default_environment": QUIET})["id"]
    other = t.ok("POST", "/actors", json={"image": "abacosamples/test", "default_environment": QUIET})["id"]
    alias = f"hop-{secrets.token_hex(3)}"
    t.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": linked})
    source = t.ok("POST", "/actors", json={"image": "abacosamples/noop", "link": alias})
    assert source["link"] == alias and "link_id" not in source
    t.ok("PUT", f"/actors/aliases/{alias}", json={"actor_id": other})
    sent = t.ok("POST", f"/actors/{source['id']}/messages", data={"message": "go"})
    wait_for(lambda: t.ok("GET", f"/actors/{source['id']}/executions/{sent['execution_id']}")["status"]
             == "COMPLETE", 90, what="the source's execution")

    def events_on(actor: str) -> list[dict[str, Any]]:
        return list(t.ok("GET", f"/actors/{actor}/executions")["executions"])

    # ACTOR_READY and EXECUTION_COMPLETE (EXECUTION_STARTED is opt-in: services/events.py)
    wait_for(lambda: len(events_on(linked)) >= 2, 60, what="the source's two events on the linked actor")
    executors = {t.ok("GET", f"/actors/{linked}/executions/{e['id']}")["executor"] for e in events_on(linked)}
    assert executors == {"Abaco Event"}
    assert events_on(other) == []
