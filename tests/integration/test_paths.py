"""The three spellings of every route and merged slashes, over HTTP (``chalicelib/edge/paths.py``).

``/actors/...`` (Abaco v2), ``/v3/actors/...`` (tapipy) and ``/actors/v2/...`` (agavepy) name the same
route; ``v2`` is a reserved alias word so the last can never mean an actor; repeated slashes are merged as
nginx did in front of Abaco, for small bodies and for large binary messages streamed to S3 alike; a result
is served to a request without ``Accept``.
"""
from __future__ import annotations

import hashlib
import os

from tests.conftest import Api
from tests.integration.conftest import error, tenant_api
from tests.integration.probe import probe_image, report  # noqa: F401 (the probe image fixture)

IMAGE = "abacosamples/test"


def test_the_agave_spelling_serves_the_same_routes(api_only: Api) -> None:
    api = tenant_api(api_only, "PATHS-V2")
    actor = api.ok("POST", "/actors/v2", json={"image": IMAGE, "name": "spelled"})
    assert api.ok("GET", f"/actors/v2/{actor['id']}")["name"] == "spelled"
    assert [a["id"] for a in api.ok("GET", "/actors/v2")] == [actor["id"]]
    assert api.ok("POST", "/actors/v2/aliases", json={"alias": "spelled-alias", "actor_id": actor["id"]})
    assert api.ok("GET", "/actors/v2/aliases/spelled-alias")["actor_id"] == actor["id"]
    assert api.ok("GET", "/actors/aliases/spelled-alias")["actor_id"] == actor["id"]
    assert api.ok("GET", f"/actors/v2/{actor['id']}/permissions") == {"anonymous": "UPDATE"}
    assert "paths" in api.call("GET", "/actors/v2/openapi.json").json()
    wrong = api.call("PATCH", f"/actors/v2/{actor['id']}")
    error(wrong, 405)
    assert set(wrong.headers["Allow"].split(",")) == {"GET", "PUT", "DELETE", "OPTIONS"}
    assert "reserved word" in error(api.call("POST", "/actors/v2/aliases",
                                             json={"alias": "v2", "actor_id": actor["id"]}), 400)
    api.ok("DELETE", f"/actors/v2/{actor['id']}")
    error(api.call("GET", f"/actors/{actor['id']}"), 404)


def test_repeated_slashes_are_merged(api_only: Api) -> None:
    api = tenant_api(api_only, "PATHS-SLASHES")
    actor = api.ok("POST", "//actors", json={"image": IMAGE})
    assert api.ok("GET", f"/v3//actors///{actor['id']}")["id"] == actor["id"]
    assert api.ok("GET", f"/actors/v2//{actor['id']}//permissions") == {"anonymous": "UPDATE"}
    assert api.ok("POST", f"/actors/{actor['id']}//messages", json={"message": "x"})["msg"] == "x"
    error(api.call("GET", "/actors//no//such//route"), 404)
    api.ok("DELETE", f"//actors/{actor['id']}/")


def test_binary_messages_on_merged_paths_and_results_without_accept(api: Api, probe_image: str) -> None:  # noqa: F811
    actor = api.create_actor(image=probe_image, default_environment={"PROBE_RESULTS": '["r-one", "r-two"]'})
    small, large = os.urandom(4096), os.urandom(3_000_000)  # the large one is streamed to S3 (local/upload.py)
    sent = [api.ok("POST", path, data=body, headers={"Content-Type": "application/octet-stream"})
            for path, body in ((f"/v3/actors/{actor['id']}//messages", small),
                               (f"/actors/v2/{actor['id']}/messages", large))]
    for message, body in zip(sent, (small, large), strict=True):
        assert api.wait_execution(actor["id"], message["execution_id"])["status"] == "COMPLETE"
        seen = report(api.logs(actor["id"], message["execution_id"]))
        assert (seen["binary"]["size"], seen["binary"]["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    results = f"/actors/v2/{actor['id']}/executions/{sent[0]['execution_id']}/results"
    bare = api.call("GET", results, headers={"Accept": None})  # requests then sends no Accept at all
    assert bare.status_code == 200 and bare.content == b"r-one"
    assert bare.headers["Content-Type"] == "application/octet-stream"
    assert api.call("GET", results, headers={"Accept": "application/octet-stream"}).content == b"r-two"
    api.call("DELETE", f"/actors/{actor['id']}")
