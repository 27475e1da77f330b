"""``make run``: the embedded emulator, the tables and queues, the API and one runner, in the foreground.

Ctrl-C stops everything (runner first, so running executions can finish). The test suite starts the same
``Stack`` on free ports.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from local import emulator

ROOT = Path(__file__).resolve().parent.parent
API_READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


@dataclass
class Stack:
    """The processes of one local system. ``env`` is what every child sees (ABACO_*, AWS_*)."""

    api_port: int = 8000
    emulator_port: int = emulator.DEFAULT_PORT
    log_dir: Path = ROOT / ".run"
    extra_env: dict[str, str] = field(default_factory=dict)
    runners: int = 1
    console: bool = False  # API and runner output to the terminal (make run) or to files (tests)
    own_emulator: bool = False  # always start a private emulator, ignoring AWS_ENDPOINT_URL (tests)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> Stack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update(self.extra_env)
        self.env.setdefault("AWS_ACCESS_KEY_ID", "testing")
        self.env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        self.env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        if self.own_emulator:
            self.env.pop("AWS_ENDPOINT_URL", None)
        if not self.env.get("AWS_ENDPOINT_URL"):
            self.procs["emulator"] = emulator.start(self.emulator_port, str(self.log_dir / "emulator.log"))
            self.env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{self.emulator_port}"
        self.env.setdefault("ABACO_API_PORT", str(self.api_port))
        self.env.setdefault("ABACO_API_SERVER", f"http://127.0.0.1:{self.api_port}")
        self._run_checked([sys.executable, "-m", "local.bootstrap"])
        self.procs["api"] = self._spawn("api", [
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.api_port}", "--worker-class", "gthread",
            "--workers", self.env.get("ABACO_API_WORKERS", "2"), "--threads", "16", "--timeout", "120",
            "--graceful-timeout", "5", "--log-level", "warning", "--limit-request-field_size",
            str(self._header_limit()), "local.wsgi:application()"])
        for index in range(self.runners):
            self.add_runner(f"runner{index}")
        self._wait_api()
        return self

    def _header_limit(self) -> int:
        """gunicorn's per-header cap (8190 by default) sits just above the API's own header budget, so a
        big token reaches the API (a 401) while one enormous header is still refused early."""
        from chalicelib.wiring.settings import DEFAULT_MAX_HEADER_BYTES

        return int(self.env.get("ABACO_MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES)) + 1024

    def add_runner(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = self._spawn(name, [sys.executable, "-m", "runners"], env)
        self.procs[name] = proc
        return proc

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def stop(self) -> None:
        """Runners first (they finish what runs), then the API, then the emulator."""
        runners = [n for n in self.procs if n.startswith("runner")]
        for group in (runners, ["api"], ["emulator"]):  # the processes of a group stop together
            procs = [p for p in (self.procs.pop(name, None) for name in group) if p is not None]
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)  # once: a runner's second signal kills its containers
            for proc in procs:
                _await_exit(proc)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        child_env = {**self.env, **(env or {})}
        if self.console:
            return subprocess.Popen(argv, cwd=ROOT, env=child_env, start_new_session=True)
        with open(self.log_dir / f"{name}.log", "ab") as out:  # the child keeps its own descriptor
            return subprocess.Popen(argv, cwd=ROOT, env=child_env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def _run_checked(self, argv: list[str]) -> None:
        subprocess.run(argv, cwd=ROOT, env=self.env, check=True)

    def _wait_api(self) -> None:
        deadline = time.monotonic() + API_READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.procs["api"].poll() is not None:
                raise RuntimeError(f"the API exited; see {self.log_dir / 'api.log'}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/actors", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # any answer (a 401 in jwt mode) means the API is serving
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the API did not answer on {self.api_url} within {API_READY_TIMEOUT} s")


def _await_exit(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a signalled process; killed after STOP_TIMEOUT."""
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def main() -> int:
    if not os.environ.get("ABACO_ACCESS_CONTROL"):
        # The settings default to jwt; a local `make run` without a key is for development, so say so.
        os.environ["ABACO_ACCESS_CONTROL"] = "none"
    port = int(os.environ.get("ABACO_API_PORT", "8000"))
    emulator_port = int(os.environ.get("ABACO_EMULATOR_PORT", str(emulator.DEFAULT_PORT)))
    stack = Stack(api_port=port, emulator_port=emulator_port, console=True)
    stopping = {"now": False}

    def on_signal(_signum: int, _frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        _announce(stack)
        while not stopping["now"]:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    print(f"abaco: {name} exited with code {proc.returncode}; stopping", flush=True)
                    stopping["now"] = True
            time.sleep(0.5)
    finally:
        print("abaco: stopping the runner, the API and the emulator ...", flush=True)
        stack.stop()
        print("abaco: stopped.", flush=True)
    return 0


NONE_WARNING = """
  !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
  !!  ACCESS CONTROL IS OFF (ABACO_ACCESS_CONTROL=none): LOCAL DEVELOPMENT ONLY.               !!
  !!  Every caller is the administrator "anonymous"; no token is checked. Never expose this     !!
  !!  port. Set ABACO_ACCESS_CONTROL=jwt and ABACO_JWT_PUBLIC_KEY(_FILE) to require JWTs.       !!
  !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def _announce(stack: Stack) -> None:
    access = stack.env.get("ABACO_ACCESS_CONTROL", "jwt")
    lines = [
        "",
        "Abaco on AWS is running locally:",
        f"  API             {stack.api_url}   (try: curl {stack.api_url}/actors)",
        f"  AWS emulator    {stack.env['AWS_ENDPOINT_URL']}   (moto server: DynamoDB, SQS, S3)",
        f"  runner          1 host, pools {stack.env.get('ABACO_RUNNER_POOL', 'default')}, Docker engine "
        f"{stack.env.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}",
        f"  logs            {stack.log_dir}/",
        f"  access control  {access}" + ("   (LOCAL DEVELOPMENT ONLY: every caller is an admin)"
                                          if access == "none" else ""),
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)
    if access == "none":
        print(NONE_WARNING, flush=True)


if __name__ == "__main__":
    sys.exit(main())
