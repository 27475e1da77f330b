"""GET an execution with ``wait``: one request that answers when the execution ends (what the SDK's
``wait_for_execution`` and ``abaco executions wait`` use), instead of the client polling on an interval."""
from __future__ import annotations

from tests.conftest import Api
from tests.integration.probe import new_actor, probe_image  # noqa: F401  (fixtures)


def test_a_wait_answers_once_the_execution_is_complete(api: Api, new_actor) -> None:  # noqa: F811
    actor = new_actor(image="abacosamples/noop")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages", data={"message": "wait for me"})
    done = api.ok("GET", f"/actors/{actor['id']}/executions/{sent['execution_id']}?wait=25")
    assert done["status"] == "COMPLETE" and done["exit_code"] == 0 and done["id"] == sent["execution_id"]


def test_a_wait_on_a_running_execution_ends_at_its_deadline(api: Api, new_actor, probe_image: str) -> None:  # noqa: F811
    actor = new_actor(image=probe_image, max_workers=1)
    sent = api.ok("POST", f"/actors/{actor['id']}/messages?PROBE_SLEEP=60", data={"message": "slow"})
    seen = api.ok("GET", f"/actors/{actor['id']}/executions/{sent['execution_id']}?wait=0.5")
    assert seen["status"] in ("SUBMITTED", "RUNNING")  # as it is when the wait ends, not an error
    api.call("DELETE", f"/actors/{actor['id']}/executions/{sent['execution_id']}")


def test_a_wait_on_an_unknown_execution_or_a_bad_wait_is_refused(api: Api, new_actor) -> None:  # noqa: F811
    actor = new_actor(image="abacosamples/noop")
    missing = api.call("GET", f"/actors/{actor['id']}/executions/nosuchexecution?wait=20")
    assert missing.status_code == 404 and missing.json()["status"] == "error"
    sent = api.ok("POST", f"/actors/{actor['id']}/messages", data={"message": "m"})
    for bad in ("-1", "soon"):
        refused = api.call("GET", f"/actors/{actor['id']}/executions/{sent['execution_id']}?wait={bad}")
        body = refused.json()
        assert refused.status_code == 400 and body["status"] == "error" and body["result"] is None
        assert "wait must be a number" in body["message"]
