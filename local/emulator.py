"""The embedded AWS emulator: moto's server mode over HTTP on 127.0.0.1 (LocalStack's port 4566)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

DEFAULT_PORT = 4566
READY_TIMEOUT = 30.0


def start(port: int = DEFAULT_PORT, log_path: str | None = None) -> subprocess.Popen[bytes]:
    """Start moto's server (with atomic DynamoDB, ``local.moto_app``) on loopback; wait until it answers."""
    if port_open(port):
        raise RuntimeError(f"something already listens on 127.0.0.1:{port}")
    env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true")
    argv = [sys.executable, "-m", "local.moto_app", "-H", "127.0.0.1", "-p", str(port)]
    if log_path:
        with open(log_path, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    else:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    wait_ready(f"http://127.0.0.1:{port}", proc)
    return proc


def wait_ready(endpoint: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the emulator at {endpoint} did not answer within {timeout} s")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
