"""The API shows an allow-list of an execution's and an actor's fields (chalicelib/domain/responses.py):
the protocol's bookkeeping never appears, and a field added to a domain model stays hidden until named."""
from __future__ import annotations

from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.responses import ActorResponse, ExecutionResponse
from chalicelib.services import actors, executions

BOOKKEEPING = {"tenant", "runner_id", "lease_expires_at", "enqueued", "created_ns", "content_type", "message_id",
               "charged", "open_pool", "inbox_message", "last_sent_at", "payload_key", "force_quit", "log_bytes",
               "results_stored"}


def test_an_execution_shows_abacos_fields_and_none_of_the_protocols() -> None:
    execution = Execution(tenant="T", actor_id="A", id="E", executor="u", runner_id="r1", open_pool="default",
                          inbox_message="{}", message_id="m", lease_expires_at=1.0, force_quit=True)
    shown = executions.display(execution)
    assert set(shown) == {*ExecutionResponse.model_fields, "_links"}
    assert not BOOKKEEPING & set(shown)
    assert set(Execution.model_fields) - set(ExecutionResponse.model_fields) == BOOKKEEPING


def test_an_actor_hides_its_tenant_version_and_start_failures() -> None:
    shown = actors.display(Actor(tenant="T", id="A", image="i", owner="o", start_failures=3, version=7))
    assert set(shown) == {*ActorResponse.model_fields, "_links"}
    assert set(Actor.model_fields) - set(ActorResponse.model_fields) == {"tenant", "api_server", "version",
                                                                          "start_failures", "link_id",
                                                                          "configs_known", "config_names"}


def test_a_field_added_to_the_model_is_not_shown_until_the_response_names_it() -> None:
    class Grown(Execution):
        secret_bookkeeping: str = "internal"

    grown = Grown(tenant="T", actor_id="A", id="E", executor="u")
    assert "secret_bookkeeping" not in executions.display(grown)


def test_the_documents_actor_and_execution_are_the_response_models() -> None:
    from chalicelib.edge.openapi.schemas import SCHEMAS

    for name, response in (("Actor", ActorResponse), ("Execution", ExecutionResponse)):
        assert set(SCHEMAS[name]["properties"]) == {*response.model_fields, "_links"}, name
    execution = SCHEMAS["Execution"]["properties"]
    assert execution["finish_time"] == {"type": "string", "nullable": True, "format": "date-time",
                                        "description": "ISO-8601 UTC"}  # OpenAPI 3.0: nullable, no null type
    assert execution["attempts"]["items"]["required"] == ["attempt", "runner_id", "reason"]  # inlined, no $ref


def test_a_worker_alias_and_config_show_their_allow_lists() -> None:
    from chalicelib.domain.models import ActorConfig, Alias, Worker
    from chalicelib.domain.responses import AliasResponse, ConfigResponse, WorkerResponse
    from chalicelib.edge.openapi.schemas import SCHEMAS
    from chalicelib.services import aliases, configs, workers

    worker = workers.display(Worker(tenant="T", actor_id="A", id="W", owner="o", woken=True, parked=True))
    assert set(worker) == {*WorkerResponse.model_fields, "_links"}
    assert set(Worker.model_fields) - set(WorkerResponse.model_fields) == {"owner", "woken", "parked"}
    alias = aliases.display(Alias(tenant="T", alias="al", actor_id="A", owner="o"))
    assert list(alias) == ["alias", "actor_id", "owner", "create_time", "_links"]
    config = configs.display(ActorConfig(tenant="T", name="c", value="v", is_secret=False, actors=["A", "al"],
                                         actor_ids=["A", "B"], owner="o"))
    assert config["actors"] == "A,al" and "actor_ids" not in config and "tenant" not in config
    for name, response in (("Worker", WorkerResponse), ("Alias", AliasResponse), ("Config", ConfigResponse)):
        assert set(response.model_fields) <= set(SCHEMAS[name]["properties"]), name


def test_a_worker_its_host_lists_shows_the_hosts_heartbeat_as_its_last_health_check() -> None:
    """Workers write no health check (runners/host/worker.py): the heartbeat of a host that lists the worker
    is when it was last seen alive; a worker its host does not list (parked, gone) keeps its record's time."""
    from chalicelib.domain.models import Host, Worker
    from chalicelib.services import workers

    worker = Worker(tenant="T", actor_id="A", id="W", owner="o", host_id="h",
                    last_health_check_time="2026-12-08T00:00:00.000000Z")
    beat = "2026-12-08T00:05:00.000000Z"
    listing = Host(id="h", hostname="x", pid=1, workers=["T_A/W"], last_heartbeat_time=beat)
    assert workers.display(worker, {"h": listing})["last_health_check_time"] == beat
    silent = listing.model_copy(update={"workers": []})
    assert workers.display(worker, {"h": silent})["last_health_check_time"] == "2026-12-08T00:00:00.000000Z"
