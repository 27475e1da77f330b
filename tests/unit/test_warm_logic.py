"""Pure logic of warm start: the shim's control message, Docker's environment order, the pool's bounds,
what a warm container may serve, the timing fields counted from dispatch."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.domain.models import Actor, Execution, parse_time
from chalicelib.wiring.settings import Settings
from runners.pipeline import cgroups, finalise, shim, warm, warm_container
from runners.pipeline.delivery import BINARY_PATH, RESULTS_PATH
from runners.pipeline.engine import LABEL_ACTOR, LABEL_EXECUTION, LABEL_RUNNER, LABEL_TENANT, ContainerSpec, ExitState

BUSYBOX = shutil.which("busybox") or "/usr/bin/busybox"
needs_busybox = pytest.mark.skipif(not shim.is_static_elf(BUSYBOX), reason="no static busybox on this host")
DUMP_ENV = [sys.executable, "-c", "import json, os; print(json.dumps(list(os.environ.items())))"]


def _run_shim(entries: list[shim.Entry], argv: list[str], shim_env: dict[str, str]) -> list[list[str]]:
    """Source the control message with the real busybox shell, as the shim does in a container."""
    script = shim.control_message(entries, argv).replace(shim.SHIM_BINARY.encode(), BUSYBOX.encode())
    out = subprocess.run([BUSYBOX, "sh", "-c", ". /dev/stdin"], input=script, capture_output=True, env=shim_env,
                         check=True, timeout=30)
    return json.loads(out.stdout)


def _awkward(rng: random.Random) -> str:
    alphabet = [chr(c) for c in range(1, 0x250)] + list("'\"\\$`!*?[]{}()~#&;|<>\n\t =") + ["é", "中", "🚀", "\u2028"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))


@needs_busybox
def test_any_text_survives_the_control_channel_in_order() -> None:
    rng = random.Random(9)
    env = {f"V{i}": _awkward(rng) for i in range(200)}
    env["MSG"] = "x" * 100_000 + "'\n'"  # larger than a pipe's buffer
    entries = shim.docker_environment(env, ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"])
    seen = _run_shim(entries, DUMP_ENV, {"HOSTNAME": "abc123", "HOME": "/home/x", "NOISE": "from the shim"})
    assert seen == [["PATH", "/usr/bin:/bin"], ["HOSTNAME", "abc123"], *([k, v] for k, v in env.items()),
                    ["LANG", "C.UTF-8"], ["HOME", "/home/x"]]


@needs_busybox
def test_arguments_are_passed_verbatim() -> None:
    argv = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))", "a b", "'", "$HOME", "-i", ""]
    out = subprocess.run([BUSYBOX, "sh", "-c", ". /dev/stdin"], capture_output=True, check=True, timeout=30,
                         input=shim.control_message([], argv).replace(shim.SHIM_BINARY.encode(), BUSYBOX.encode()))
    assert json.loads(out.stdout) == ["a b", "'", "$HOME", "-i", ""]


def test_docker_environment_follows_the_daemons_rules() -> None:
    # Image variables come after the execution's; the daemon's PATH and HOSTNAME lead; HOME is last.
    entries = shim.docker_environment({"A": "1", "LANG": "mine"}, ["PATH=/img", "LANG=C", "B=2"])
    assert entries == [shim.Entry("PATH", "/img"), shim.Entry("HOSTNAME", None), shim.Entry("A", "1"),
                       shim.Entry("LANG", "mine"), shim.Entry("B", "2"), shim.Entry("HOME", None)]
    # No PATH in the image: Docker's default. A HOME set by the image or the message is kept in place.
    entries = shim.docker_environment({"HOME": "/h"}, ["X=1"])
    assert entries == [shim.Entry("PATH", shim.DEFAULT_PATH), shim.Entry("HOSTNAME", None),
                       shim.Entry("HOME", "/h"), shim.Entry("X", "1")]
    # An empty HOME is replaced by runc with the passwd entry's, in place.
    assert shim.docker_environment({"HOME": ""}, [])[2] == shim.Entry("HOME", None)
    with pytest.raises(shim.NotWarmable):
        shim.docker_environment({"HOME": ""}, ["HOME=/from/image"])
    # Explicit HOSTNAME wins over the container's.
    assert shim.docker_environment({"HOSTNAME": "mine"}, [])[1] == shim.Entry("HOSTNAME", "mine")


def test_program_is_entrypoint_then_cmd() -> None:
    assert shim.program({"Entrypoint": ["/e", "-x"], "Cmd": ["c"]}) == ["/e", "-x", "c"]
    assert shim.program({"Entrypoint": None, "Cmd": ["python3", "a.py"]}) == ["python3", "a.py"]
    for config in ({}, {"Entrypoint": [], "Cmd": None}, {"Cmd": ["a=b"]}):
        with pytest.raises(shim.NotWarmable):
            shim.program(config)


def test_control_message_refuses_what_cannot_travel() -> None:
    with pytest.raises(shim.NotWarmable):
        shim.control_message([shim.Entry("A", "nul\0")], ["p"])
    with pytest.raises(shim.NotWarmable):
        shim.control_message([shim.Entry("A", "\ud800")], ["p"])
    with pytest.raises(shim.NotWarmable):
        shim.control_message([shim.Entry("A", "x" * shim.MAX_CONTROL_BYTES)], ["p"])


def test_static_elf_check() -> None:
    assert not shim.is_static_elf(sys.executable) or "static" in sys.executable
    assert not shim.is_static_elf(__file__)
    assert not shim.is_static_elf("/nonexistent")


def test_pool_bounds_per_host_and_per_actor() -> None:
    pool = warm.WarmPool(per_host=3, per_actor=2)
    assert pool.reserve("a") and pool.reserve("a")
    assert not pool.reserve("a")  # per actor
    assert pool.reserve("b")
    assert not pool.reserve("c")  # per host
    pool.release("a")
    assert pool.waiting() == 2 and pool.waiting("a") == 1
    assert pool.reserve("c")
    for key in ("a", "b", "c", "c"):
        pool.release(key)
    assert pool.waiting() == 0


def _spec(**kw: object) -> ContainerSpec:
    base: dict = {"image": "img", "environment": {"MSG": "m"}, "mem_limit": "512m", "user": "10000:10000",
                  "labels": {LABEL_RUNNER: "r", LABEL_ACTOR: "A", LABEL_TENANT: "T", LABEL_EXECUTION: "E"},
                  "binds": {"/w/results.sock": {"bind": RESULTS_PATH, "mode": "rw"}}}
    base.update(kw)
    return ContainerSpec(**base)


def test_shape_ignores_what_changes_per_execution() -> None:
    one = warm.shape_of(_spec())
    other = warm.shape_of(_spec(environment={"MSG": "other"}, labels={**_spec().labels, LABEL_EXECUTION: "E2"},
                                binds={"/w2/results.sock": {"bind": RESULTS_PATH, "mode": "rw"}}))
    assert one == other and one.environment == {} and LABEL_EXECUTION not in one.labels
    assert warm.shape_of(_spec(mem_limit="1g")) != one  # a new limit needs a new container
    assert warm.shape_of(_spec(user="1:1")) != one


def test_what_a_warm_container_may_serve() -> None:
    actor = Actor(tenant="T", id="A", image="img", owner="o")
    assert warm.eligible(_spec(), actor)
    assert not warm.eligible(_spec(), actor.model_copy(update={"hints": ["cold"]}))
    binary = {**_spec().binds, "/w/payload": {"bind": BINARY_PATH, "mode": "ro"}}
    assert not warm.eligible(_spec(binds=binary), actor)


def test_source_is_cold_when_turned_off() -> None:
    settings = Settings(warm_start=False)

    class NoEngine:  # never called: the cold source only keeps it
        pass

    source = warm.source_for(settings, NoEngine(), warm.WarmPool(1, 1), None, Path("/tmp"))  # type: ignore[arg-type]
    assert not isinstance(source, warm.WarmSource)
    source = warm.source_for(Settings(warm_shim=__file__), NoEngine(), warm.WarmPool(1, 1), None,  # type: ignore[arg-type]
                             Path("/tmp"))
    assert not isinstance(source, warm.WarmSource)


def test_dispatched_labels_are_read_back_for_the_reaper(tmp_path: Path) -> None:
    assert warm_container.dispatched_labels({}) == {}
    assert warm_container.dispatched_labels({warm_container.LABEL_WARM_DIR: str(tmp_path)}) == {}  # never dispatched
    (tmp_path / warm_container.DISPATCH_NOTE).write_text(json.dumps({LABEL_EXECUTION: "E", LABEL_ACTOR: "A"}))
    noted = warm_container.dispatched_labels({warm_container.LABEL_WARM_DIR: str(tmp_path)})
    assert noted == {LABEL_EXECUTION: "E", LABEL_ACTOR: "A"}


class _Stats:
    def __init__(self, cpu: int) -> None:
        self.cpu = cpu

    def finish(self, timeout: float = 0.0) -> tuple[int, int]:
        return self.cpu, 7


def test_runtime_cpu_and_started_at_count_from_dispatch() -> None:
    actor = Actor(tenant="T", id="A", image="img", owner="o")
    execution = Execution(tenant="T", actor_id="A", id="E", executor="u", start_time="2030-01-01T00:00:00Z")
    state = ExitState(0, {"StartedAt": "2030-01-01T00:00:00.000000000Z",
                          "FinishedAt": "2030-01-01T00:01:02.500000000Z", "ExitCode": 0})
    dispatched = parse_time("2030-01-01T00:01:00Z").timestamp()  # type: ignore[union-attr]
    fields, _ = finalise.result_fields(actor, execution, state, _Stats(5_000_000), None, Settings(),
                                       dispatched_at=dispatched, cpu_baseline=1_000_000)
    assert fields["runtime"] == 2 and fields["cpu"] == 4_000_000 and fields["io"] == 7
    assert parse_time(fields["final_state"]["StartedAt"]).timestamp() == dispatched  # type: ignore[union-attr]
    cold, _ = finalise.result_fields(actor, execution, state, _Stats(5_000_000), None, Settings())
    assert cold["runtime"] == 62 and cold["cpu"] == 5_000_000
    assert cold["final_state"]["StartedAt"] == state.state["StartedAt"]


def test_cgroup_cpu_of_this_process_when_the_host_has_cgroups() -> None:
    reader = cgroups.cpu_reader(os.getpid())
    if reader is None:
        pytest.skip("no cgroup cpu accounting visible here")
    first = reader()
    sum(range(2_000_000))  # burn a little CPU
    assert reader() > first >= 0
