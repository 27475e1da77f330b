"""Run each sample image directly through the Docker SDK, locked down the way actors run.

Containers get no network, no capabilities, a read-only root file system and (mostly) the
unprivileged uid 65534, so these tests also prove the images need none of those. The results
socket and binary-message file are provided exactly as the worker does: a Unix datagram socket
bound on the host and a regular file, bind-mounted at /_abaco_results.sock and
/_abaco_binary_data.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

docker = pytest.importorskip("docker")
pytestmark = pytest.mark.docker  # needs the Docker engine (marker declared in pytest.ini)

LABELS = {"org.abaco.test": "images"}
NOBODY = "65534:65534"
RESULTS = "/_abaco_results.sock"
BINARY = "/_abaco_binary_data"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A Docker client, with the sample images built (a no-op when they are up to date)."""
    try:
        dclient = docker.from_env(timeout=120)
        dclient.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"Docker engine not reachable: {exc}")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "images.build"], cwd=repo, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, f"images.build failed:\n{proc.stdout}{proc.stderr}"
    yield dclient
    for container in dclient.containers.list(all=True, filters={"label": "org.abaco.test=images"}):
        container.remove(force=True)
    dclient.close()


def run(client: Any, image: str, command: Any = None, env: dict | None = None,
        mounts: dict | None = None, user: str | None = NOBODY) -> tuple[int, str]:
    """Run a container to completion the way a worker would; return (exit code, logs)."""
    container = client.containers.run(
        image, command, detach=True, environment=env or {}, volumes=mounts or {}, user=user,
        network_mode="none", cap_drop=["ALL"], read_only=True, labels=LABELS,
    )
    try:
        status = container.wait(timeout=60)
        logs = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    return status["StatusCode"], logs


@pytest.fixture()
def results_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, dict]]:
    """A bound datagram socket and the volume spec mounting it at /_abaco_results.sock."""
    path = str(tmp_path / "results.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(path)
    os.chmod(path, 0o777)  # the actor runs as another uid
    sock.settimeout(10)
    yield sock, {path: {"bind": RESULTS, "mode": "rw"}}
    sock.close()


# ------------------------------------------------------------------------------------ busybox


def test_test_image_echoes_message_and_environment(client: Any) -> None:
    code, logs = run(client, "abacosamples/test",
                     env={"MSG": "hello", "_abaco_test_sleep": "0", "_abaco_actor_id": "A1"})
    assert code == 0, logs
    assert "Contents of MSG: hello" in logs
    assert "Environment:" in logs
    assert "MSG=hello" in logs.splitlines()
    assert "_abaco_actor_id=A1" in logs
    assert "Contents of root file system: " in logs and "test.sh" in logs
    assert "Checking for contents of mounts:" in logs


def test_test_image_runs_as_root_too(client: Any) -> None:
    code, logs = run(client, "abacosamples/test", env={"MSG": "x", "_abaco_test_sleep": "0"},
                     user=None)
    assert code == 0, logs
    assert "Contents of MSG: x" in logs


def test_noop_exits_zero(client: Any) -> None:
    assert run(client, "abacosamples/noop") == (0, "")


# ------------------------------------------------------------------------------------- python

CONTEXT_SCRIPT = """
import json
from agavepy.actors import get_context
ctx = get_context()
print(json.dumps({k: ctx[k] for k in ("raw_message", "message_dict", "state", "configs",
                                      "actor_id", "content_type", "environment")}))
print(ctx.message_dict["b"])
"""


def test_py3_base_context(client: Any) -> None:
    env = {"MSG": "{'a': 1, 'b': 'two'}", "_abaco_actor_state": "{'n': 1}",
           "_actor_configs": "{'c': 'v'}", "_abaco_actor_id": "A1",
           "_abaco_Content_Type": "application/json", "OWN": "x"}
    code, logs = run(client, "abacosamples/py3_base", ["python3", "-c", CONTEXT_SCRIPT], env)
    assert code == 0, logs
    first, second = logs.strip().splitlines()
    seen = json.loads(first)
    assert seen["raw_message"] == "{'a': 1, 'b': 'two'}"
    assert seen["message_dict"] == {"a": 1, "b": "two"}
    assert seen["state"] == {"n": 1} and seen["configs"] == {"c": "v"}
    assert (seen["actor_id"], seen["content_type"]) == ("A1", "application/json")
    assert seen["environment"]["OWN"] == "x"
    assert second == "two"


def test_py3_base_default_command(client: Any) -> None:
    code, logs = run(client, "abacosamples/py3_base", env={"MSG": "plain text"})
    assert code == 0, logs
    assert "'raw_message': 'plain text'" in logs


def test_py3_base_send_bytes_result(client: Any, results_socket: tuple) -> None:
    sock, mounts = results_socket
    script = ("from agavepy.actors import send_bytes_result\n"
              "send_bytes_result(b'first')\nsend_bytes_result(bytes(131072))\n")
    code, logs = run(client, "abacosamples/py3_base", ["python3", "-c", script], mounts=mounts)
    assert code == 0, logs
    assert sock.recv(200_000) == b"first"
    assert sock.recv(200_000) == bytes(131072)


def test_py3_base_send_python_result(client: Any, results_socket: tuple) -> None:
    sock, mounts = results_socket
    script = ("from agavepy.actors import send_python_result\n"
              "send_python_result({'square': lambda x: x * x, 'n': 7})\n")
    code, logs = run(client, "abacosamples/py3_base", ["python3", "-c", script], mounts=mounts)
    assert code == 0, logs
    result = cloudpickle.loads(sock.recv(200_000))
    assert result["n"] == 7 and result["square"](3) == 9


def test_py3_base_binary_message(client: Any, tmp_path: Path) -> None:
    payload = os.urandom(300_000)
    path = tmp_path / "binary"
    path.write_bytes(payload)
    path.chmod(0o644)
    script = ("import hashlib\nfrom agavepy.actors import get_binary_message\n"
              "data = get_binary_message()\nprint(len(data), hashlib.sha256(data).hexdigest())\n")
    code, logs = run(client, "abacosamples/py3_base", ["python3", "-c", script],
                     mounts={str(path): {"bind": BINARY, "mode": "ro"}})
    assert code == 0, logs
    assert logs.split() == [str(len(payload)), hashlib.sha256(payload).hexdigest()]


def test_py3_base_stdlib_extensions_load(client: Any) -> None:
    script = "import ssl, sqlite3, ctypes, lzma, bz2, zlib, hashlib, decimal, uuid, cloudpickle"
    code, logs = run(client, "abacosamples/py3_base", ["python3", "-c", script])
    assert (code, logs) == (0, "")


# ------------------------------------------------------------------------------ python actors


def test_wc_counts_words_and_sends_result(client: Any, results_socket: tuple) -> None:
    sock, mounts = results_socket
    code, logs = run(client, "abacosamples/wc", env={"MSG": "a b c"}, mounts=mounts)
    assert code == 0, logs
    assert "Number of words is: 3" in logs
    assert sock.recv(1024) == b"3"


def test_sleep_loop_iterations(client: Any) -> None:
    code, logs = run(client, "abacosamples/sleep_loop", env={"_abaco_sleep_iterations": "2"})
    assert code == 0, logs
    iterations = [line for line in logs.splitlines() if line.startswith("Iteration")]
    assert iterations == ["Iteration 1", "Iteration 2"]
