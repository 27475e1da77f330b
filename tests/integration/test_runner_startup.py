"""A runner refuses to serve, in one line, when it could not run containers or reach AWS (issue 15).

The AWS condition reproduced: ``PrivateTmp=true`` in the runner's systemd unit gave the runner a /tmp the
Docker engine does not see, so every bind mount (hosts file, results socket, binary payload) came up as an
empty directory. Here the runner runs in its own mount namespace with a private tmpfs on /tmp (``unshare -m``,
what systemd does for PrivateTmp), against the real Docker engine. And a runner started by hand beside
``make run`` without ``AWS_ENDPOINT_URL`` finds the local emulator, or names the variable to set.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import emulator
from local.launcher import ROOT, Stack
from tests.conftest import start_stack, wait_for

pytestmark = pytest.mark.docker


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs t /tmp"],
                           capture_output=True, check=False)
    return probe.returncode == 0


needs_unshare = pytest.mark.skipif(not _unshare_works(), reason="needs unshare -m (CAP_SYS_ADMIN) to make a "
                                   "private /tmp as systemd's PrivateTmp does")


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """An emulator with this module's tables and queues (and an API, unused): no runner of its own."""
    stack = start_stack(tmp_path_factory.mktemp("startup"), runners=0)
    yield stack
    stack.stop()


class Runner:
    """``python -m runners`` as a child process, its log in a file (JSON lines on stderr)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def in_private_tmp() -> list[str]:
    """The runner in a new mount namespace whose /tmp is an empty private tmpfs (as PrivateTmp=true). A
    checkout under /tmp (a CI clone, say) is bound back into the namespace, or the runner's code would go."""
    steps = ["mount -t tmpfs abaco-private-tmp /tmp"]
    root = ROOT.resolve()
    if root.is_relative_to("/tmp"):
        keep = shlex.quote(f"/run/abaco-test-checkout-{os.getpid()}")
        steps = [f"mkdir -p {keep}", f"mount --bind {shlex.quote(str(root))} {keep}", *steps,
                 f"mkdir -p {shlex.quote(str(root))}", f"mount --bind {keep} {shlex.quote(str(root))}"]
    inner = " && ".join([*steps, f"exec {shlex.quote(sys.executable)} -m runners"])
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", inner]


def refusal(runner: Runner) -> str:
    """The one line a refusing runner logs, once it has exited with code 2."""
    wait_for(lambda: runner.proc.poll() is not None, 120, what="the runner to exit")
    assert runner.proc.returncode == 2, runner.text()
    lines = [line for line in runner.text().splitlines() if "runner cannot serve" in line]
    assert len(lines) == 1, runner.text()
    return lines[0]


@needs_unshare
def test_self_test_refuses_a_work_dir_in_a_private_tmp(tables: Stack, tmp_path: Path) -> None:
    work_dir = f"/tmp/abaco-private-{os.getpid()}"
    runner = Runner(in_private_tmp(), {**tables.env, "ABACO_RUNNER_WORK_DIR": work_dir}, tmp_path / "r.log")
    try:
        line = refusal(runner)
    finally:
        runner.stop()
        shutil.rmtree(work_dir, ignore_errors=True)  # what the engine created in the real /tmp
    assert "start-up self-test" in line and "ABACO_RUNNER_WORK_DIR" in line and "PrivateTmp" in line, line
    assert "serving pools" not in runner.text()  # it never took work


@needs_unshare
def test_self_test_passes_with_the_work_dir_outside_the_private_tmp(tables: Stack, tmp_path: Path) -> None:
    """The fix on the hosts: /var/lib/abaco (StateDirectory) instead of /tmp; here a directory under /var/tmp."""
    work_dir = tempfile.mkdtemp(prefix="abaco-state-", dir="/var/tmp")
    runner = Runner(in_private_tmp(), {**tables.env, "ABACO_RUNNER_WORK_DIR": work_dir}, tmp_path / "r.log")
    try:
        wait_for(lambda: "serving pools" in runner.text() or runner.proc.poll() is not None, 120,
                 what="the runner to serve")
        assert "start-up checks passed" in runner.text(), runner.text()
        assert runner.proc.poll() is None, runner.text()
    finally:
        runner.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    assert runner.proc.returncode == 0, runner.text()


def by_hand(tables: Stack, tmp_path: Path, emulator_port: int) -> dict[str, str]:
    """What a new user's shell has: the project's settings, but no AWS endpoint and no AWS credentials."""
    env = {k: v for k, v in tables.env.items() if not k.startswith("AWS_")}
    env.update({"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "ABACO_EMULATOR_PORT": str(emulator_port)})
    return env


def test_runner_started_by_hand_finds_the_local_emulator(tables: Stack, tmp_path: Path) -> None:
    port = int(tables.env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    runner = Runner([sys.executable, "-m", "runners"], by_hand(tables, tmp_path, port), tmp_path / "r.log")
    try:
        wait_for(lambda: "serving pools" in runner.text() or runner.proc.poll() is not None, 120,
                 what="the runner to serve")
        assert runner.proc.poll() is None, runner.text()
        assert f"the local emulator at http://127.0.0.1:{port}" in runner.text()
        assert "Unable to locate credentials" not in runner.text()
    finally:
        runner.stop()


def test_runner_started_by_hand_without_an_emulator_names_what_to_set(tables: Stack, tmp_path: Path) -> None:
    closed = emulator.free_port()  # nothing listens there
    runner = Runner([sys.executable, "-m", "runners"], by_hand(tables, tmp_path, closed), tmp_path / "r.log")
    try:
        line = refusal(runner)
    finally:
        runner.stop()
    assert f"127.0.0.1:{closed}" in line and "AWS_ENDPOINT_URL" in line and "ABACO_EMULATOR_PORT" in line, line
    assert "Unable to locate credentials" not in runner.text()
