"""Container isolation decisions (reliability plan §3.2, §3.3): pure logic, no Docker."""
from __future__ import annotations

import datetime as dt

from chalicelib.adapters.storage.roles import Seen
from chalicelib.domain.models import Actor, Execution, utcnow
from chalicelib.services import roles
from chalicelib.wiring.settings import Settings
from runners.host import runtime_check
from runners.pipeline import engine, hardening, image_check, privileged
from runners.pipeline.hardening import container_spec


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


def test_containers_without_a_network_get_the_hosts_file_docker_would_write(tmp_path) -> None:
    spec = _spec(Settings(runner_work_dir=str(tmp_path)))
    assert spec.network_mode == "none" and spec.hosts_file == str(tmp_path / hardening.HOSTS_FILE)
    local = Settings(container_network="host", AWS_ENDPOINT_URL="http://127.0.0.1:4566")  # host: local only
    assert _spec(local).hosts_file is None  # the host's own /etc/hosts
    path = str(tmp_path / "sub" / "hosts")
    assert engine.ensure_hosts_file(path) == path and engine.ensure_hosts_file(path) == path
    assert (tmp_path / "sub" / "hosts").read_text() == engine.NO_NETWORK_HOSTS
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["hosts"]  # no partial file left behind


# --- the image pre-check ----------------------------------------------------------------------------

def test_a_working_directory_under_proc_is_refused_however_it_is_spelled() -> None:
    for workdir in ("/proc/self/fd/7", "/proc", "/x/../proc/1/cwd", "proc/self/fd/8", "//proc/self/fd/9"):
        reason = image_check.refusal({"WorkingDir": workdir}, "10000:10000", False)
        assert reason and reason.startswith("image rejected: ") and "CVE-2024-21626" in reason, workdir
    for workdir in ("", "/", "/procedures", "/app/proc", "/work/dir"):
        assert image_check.refusal({"WorkingDir": workdir}, "10000:10000", False) is None, workdir


def test_a_root_image_user_is_refused_only_when_the_container_would_run_as_it_without_permission() -> None:
    for image_user in ("", "root", "0", "0:0", "root:wheel", " 0 "):
        config = {"User": image_user}
        assert "runs as root" in (image_check.refusal(config, None, False) or ""), image_user
        assert "runs as root" in (image_check.refusal(config, "", False) or ""), image_user  # empty setting
        assert image_check.refusal(config, "10000:10000", False) is None  # the runner's uid wins
        assert image_check.refusal(config, None, True) is None  # use_container_uid / privileged
    assert image_check.refusal({"User": "1000:1000"}, None, False) is None
    assert image_check.refusal({"User": "app"}, None, False) is None


def test_an_oversized_image_environment_is_refused() -> None:
    assert image_check.refusal({"Env": ["A=" + "x" * 200_000]}, "1:1", False) == (
        "image rejected: its ENV 'A' is longer than the kernel's 131072 bytes")
    many = [f"V{i}=" + "x" * 60_000 for i in range(5)]
    assert "its ENV holds" in (image_check.refusal({"Env": many}, "1:1", False) or "")
    assert image_check.refusal({"Env": many[:4]}, "1:1", False) is None
    assert image_check.refusal({"Env": None, "WorkingDir": None, "User": None}, "1:1", False) is None


def test_the_actors_fields_decide_the_user_and_whether_root_is_allowed() -> None:
    root_image = {"User": "root"}
    ordinary = Actor(tenant="T", id="a", image="i", owner="o")
    assert hardening.image_refusal(root_image, ordinary, Settings()) is None  # runs as 10000:10000
    assert hardening.image_refusal(root_image, ordinary, Settings(container_user=""))
    own_uid = Actor(tenant="T", id="a", image="i", owner="o", use_container_uid=True)
    assert hardening.image_refusal(root_image, own_uid, Settings(container_user="")) is None


# --- the runtime check ------------------------------------------------------------------------------

def test_runc_versions_parse_with_release_candidates_and_distribution_suffixes() -> None:
    assert runtime_check.parse("1.1.5+ds1") == (1, 1, 5, runtime_check.RELEASE)
    assert runtime_check.parse("1.0.0-rc7") == runtime_check.parse("1.0-rc7") == (1, 0, 0, 7)
    assert runtime_check.parse("1.4.0-rc.3") == (1, 4, 0, 3)
    assert runtime_check.parse("v1.2.8") == (1, 2, 8, runtime_check.RELEASE)
    assert runtime_check.parse("1.0.0-rc6") < runtime_check.parse("1.0.0-rc7") < runtime_check.parse("1.0.0")
    assert runtime_check.parse("unknown") is None


def _cves(version: str, build: str = "") -> set[str]:
    return {w.split("fix of ")[1].split(" ")[0] for w in runtime_check.runc_warnings(version, build)}


def test_old_runc_releases_are_flagged_for_each_breakout_they_lack() -> None:
    late_2025 = {"CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"}
    assert _cves("1.0.0-rc6") == {"CVE-2019-5736", "CVE-2024-21626"} | late_2025
    assert _cves("1.0.0-rc7") == {"CVE-2024-21626"} | late_2025
    assert _cves("1.1.11") == {"CVE-2024-21626"} | late_2025
    assert _cves("1.1.12") == late_2025
    assert _cves("1.2.7") == late_2025 and _cves("1.2.8") == set()
    assert _cves("1.3.2") == late_2025 and _cves("1.3.3") == set()
    assert _cves("1.4.0-rc.2") == late_2025 and _cves("1.4.0-rc.3") == _cves("1.4.0") == set()
    assert runtime_check.runc_warnings("nonsense")[0].startswith("cannot tell")


def test_a_distribution_backport_counts_as_fixed() -> None:
    """This machine's runc: Debian 12's 1.1.5 with the CVE-2024-21626 fix backported (DSA-5624-1)."""
    assert _cves("1.1.5+ds1", "1.1.5+ds1-1+deb12u1") == {"CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"}
    assert "CVE-2024-21626" in _cves("1.1.5+ds1", "1.1.5+ds1-1")


def test_the_runtime_report_reads_docker_versions_components() -> None:
    info = {"Components": [{"Name": "Engine", "Version": "20.10.24"},
                           {"Name": "runc", "Version": "1.1.12", "Details": {"GitCommit": ""}}]}
    assert runtime_check.components(info)["runc"] == {"version": "1.1.12", "build": ""}
    assert len(runtime_check.report(info)) == 3
    assert runtime_check.report({"Components": []})[0].startswith("the Docker engine does not report")


# --- privileged gates ---------------------------------------------------------------------------------

def test_a_nonce_acts_with_at_most_the_user_role() -> None:
    assert roles.nonce_roles(("admin",)) == ("user",)
    assert roles.nonce_roles(["privileged", "user"]) == ("user",)
    assert roles.nonce_roles(("user",)) == ("user",)
    assert roles.nonce_roles(("limited",)) == ("limited",)
    assert roles.nonce_roles(()) == ()


def test_only_admin_or_privileged_roles_may_own_a_privileged_actor_at_run_time() -> None:
    actor = Actor(tenant="T", id="a", image="i", owner="pat", privileged=True)
    now = utcnow()
    assert privileged.owner_refusal(actor, Seen(("privileged",), now)) is None
    assert privileged.owner_refusal(actor, Seen(("admin",), now)) is None
    assert privileged.owner_refusal(actor, Seen(("user",), now)) == (
        "privileged actor refused: its owner pat no longer holds the privileged or admin role (roles: user)")
    assert "roles: none recorded" in (privileged.owner_refusal(actor, None) or "")
    ordinary = Actor(tenant="T", id="a", image="i", owner="pat")
    assert privileged.owner_refusal(ordinary, None) is None


def test_with_a_maximum_age_the_owners_role_must_have_been_seen_recently() -> None:
    actor = Actor(tenant="T", id="a", image="i", owner="pat", privileged=True)
    seen = Seen(("privileged",), "2026-01-01T00:00:00.000000Z")
    later = dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.UTC)  # an hour later
    assert privileged.owner_refusal(actor, seen, max_age=0, now=later) is None  # no limit by default
    assert privileged.owner_refusal(actor, seen, max_age=3600, now=later) is None
    refused = privileged.owner_refusal(actor, seen, max_age=3599, now=later) or ""
    assert "last seen 3600 s ago (ABACO_PRIVILEGED_ROLE_MAX_AGE=3599)" in refused
    assert privileged.owner_refusal(actor, Seen(("privileged",), ""), max_age=60)  # no time: too old


def test_every_privileged_run_is_one_structured_audit_line() -> None:
    import io
    import json
    import logging

    from chalicelib.wiring.logconfig import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("runner"))
    privileged.AUDIT.addHandler(handler)
    level = privileged.AUDIT.level
    privileged.AUDIT.setLevel(logging.INFO)
    try:
        actor = Actor(tenant="T", id="a1", image="img", owner="pat", privileged=True)
        execution = Execution(tenant="T", actor_id="a1", id="e1", executor="pat")
        privileged.audit(actor, execution, "runner-1", "w-1", None)
        privileged.audit(actor, execution, "runner-1", "w-1", "no role")
    finally:
        privileged.AUDIT.removeHandler(handler)
        privileged.AUDIT.setLevel(level)
    allowed, refused = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: allowed[k] for k in ("audit", "tenant", "actor_id", "owner", "execution_id", "allowed")} == {
        "audit": "privileged_run", "tenant": "T", "actor_id": "a1", "owner": "pat", "execution_id": "e1",
        "allowed": True}
    assert (refused["level"], refused["allowed"]) == ("WARNING", False)


def test_the_role_age_limit_is_off_or_well_above_the_apis_refresh() -> None:
    import pydantic
    import pytest

    assert Settings().privileged_role_max_age == 0
    assert Settings(privileged_role_max_age=3600).privileged_role_max_age == 3600
    with pytest.raises(pydantic.ValidationError):
        Settings(privileged_role_max_age=30)
