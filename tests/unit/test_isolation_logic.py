"""Container isolation decisions (reliability plan §3.2, §3.3): pure logic, no Docker."""
from __future__ import annotations

from chalicelib.models import Actor, Execution
from chalicelib.settings import Settings
from runners.hardening import container_spec


def _spec(settings: Settings | None = None, **actor_fields: object):
    actor = Actor(tenant="T", id="a1", image="abacosamples/test", owner="o", **actor_fields)  # type: ignore[arg-type]
    execution = Execution(tenant="T", actor_id="a1", id="e1", executor="o")
    return container_spec(actor, execution, {}, settings or Settings(), "runner-1")


def test_the_root_filesystem_is_read_only_with_a_tmpfs_scratch_by_default() -> None:
    spec = _spec()
    assert spec.read_only is True
    assert spec.tmpfs == {"/tmp": "rw,noexec,nosuid,size=64m"}
    sized = _spec(Settings(container_tmpfs_size="16m"))
    assert sized.tmpfs == {"/tmp": "rw,noexec,nosuid,size=16m"}


def test_an_instance_may_keep_abacos_writable_root_and_privileged_actors_keep_it() -> None:
    writable = _spec(Settings(container_read_only=False))
    assert writable.read_only is False and writable.tmpfs == {}
    privileged = _spec(privileged=True)
    assert privileged.read_only is False and privileged.tmpfs == {}
