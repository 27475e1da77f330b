"""Objects for T26's fuzzer to find: without them almost every generated identifier is a 404 and the
operations under ``/actors/{actor_id}`` are never exercised past the lookup.

``seed`` creates them over HTTP as the fuzzing principal; ``config_toml`` hands their identifiers to
Schemathesis as dictionaries, drawn for a path parameter with ``SEED_PROBABILITY`` (the rest stays
generated). Several actors, because the fuzzer deletes some of them along the way.
"""
from __future__ import annotations

import json
from typing import Any

import requests

ACTORS = 4
SEED_PROBABILITY = 0.8
IMAGE = "abacosamples/fuzz-never-built"  # no runner serves the fuzz stack; nothing is ever pulled


class Seeder:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base + path, timeout=30, **kwargs)
        assert response.status_code == 200, f"seeding {method} {path}: {response.status_code} {response.text}"
        return response.json()["result"]


def seed(base: str, token: str, tag: str) -> dict[str, list[str]]:
    """Path parameter name -> identifiers that exist for the principal of ``token`` (names start with
    ``tag``: aliases and configs are unique in the tenant)."""
    api = Seeder(base, token)
    found: dict[str, list[str]] = {name: [] for name in
                                   ("actor_id", "alias", "config_name", "execution_id", "nonce_id", "worker_id")}
    for index in range(ACTORS):
        actor = api.ok("POST", "/actors", json={"image": IMAGE, "name": f"{tag}-{index}",
                                                "stateless": index % 2 == 0})
        alias = api.ok("POST", "/actors/aliases", json={"alias": f"{tag}-alias-{index}", "actor_id": actor["id"]})
        found["actor_id"] += [actor["id"], alias["alias"]]
        found["alias"].append(alias["alias"])
        api.ok("POST", f"/actors/{actor['id']}/messages", json={"message": "seed"})
        api.ok("POST", f"/actors/{actor['id']}/executions", json={"runtime": 1, "cpu": 1, "io": 1})
        found["execution_id"] += api.ok("GET", f"/actors/{actor['id']}/executions")["ids"]
        found["nonce_id"].append(api.ok("POST", f"/actors/{actor['id']}/nonces", json={"level": "READ"})["handle"])
        found["nonce_id"].append(api.ok("POST", f"/actors/aliases/{alias['alias']}/nonces",
                                        json={"level": "READ"})["handle"])
        found["worker_id"] += [w["id"] for w in api.ok("GET", f"/actors/{actor['id']}/workers")]
        config = api.ok("POST", "/actors/configs", json={"name": f"{tag}-config-{index}", "value": "v",
                                                          "is_secret": index % 2 == 0, "actors": actor["id"]})
        found["config_name"].append(config["name"])
    return {name: values for name, values in found.items() if values}


# Schemathesis' default statuses for "invalid data was rejected", plus the ones that reject by size:
# 413 (body), 414 (request line: the HTTP front end answers) and 431 (headers).
REJECTIONS = ("400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429", "431",
              "5xx")


def config_toml(seeds: dict[str, list[str]], fail_on: tuple[str, ...]) -> str:
    """A schemathesis.toml: warnings that fail the run, the statuses that reject invalid data, and the
    seeds as path parameter dictionaries."""
    lines = ["[warnings]", f"fail-on = {json.dumps(list(fail_on))}", "",
             "[checks.negative_data_rejection]", f"expected-statuses = {json.dumps(list(REJECTIONS))}", ""]
    for name, values in seeds.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    if seeds:
        lines.append("[parameters]")
        lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = {SEED_PROBABILITY} }}' for name in seeds]
    return "\n".join(lines) + "\n"
