"""Where one execution's CPU goes: ``python -m bench.hotpath [--executions N] [--out DIR]``.

Starts the emulator, the API and one runner, each under ``bench.sampler`` (a sampling profiler over all
threads), sends ``N`` messages one after another to a warm-start no-op actor, stops everything and writes,
per process, the collapsed stacks (``<name>.folded``: the input of flame graph tools such as speedscope or
flamegraph.pl) and a summary (``<name>.txt``: samples by function, self and inclusive, the repository's
code and the libraries apart). The API here is served by werkzeug's threaded server instead of gunicorn
(the sampler cannot follow gunicorn's fork); the application object is the same.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.system import BASE_ENV, ApiClient, Observer
from chalicelib.wiring.settings import Settings
from local import emulator

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "profiles"
POOL = "default"
TOP = 40


def serve_api(port: int) -> None:
    from werkzeug.serving import run_simple

    from local.wsgi import application

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple("127.0.0.1", port, application(), threaded=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=40)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--serve-api", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_api:
        serve_api(args.serve_api)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="abaco-hotpath-"))
    emulator_port, api_port = emulator.free_port(), emulator.free_port()
    prefix = f"abaco-h{secrets.token_hex(3)}"
    env = {**os.environ, **BASE_ENV, "ABACO_RESOURCE_PREFIX": prefix, "ABACO_POOLS": POOL,
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{emulator_port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "MOTO_ALLOW_NONEXISTENT_REGION": "true",
           "ABACO_API_SERVER": f"http://127.0.0.1:{api_port}", "ABACO_API_PORT": str(api_port)}
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(name: str, *module: str) -> None:
        with open(work / f"{name}.log", "ab") as log:
            procs[name] = subprocess.Popen([sys.executable, "-m", "bench.sampler", str(work / f"{name}.folded"),
                                            "-m", *module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)

    try:
        spawn("emulator", "local.moto_app", "-H", "127.0.0.1", "-p", str(emulator_port))
        emulator.wait_ready(env["AWS_ENDPOINT_URL"], procs["emulator"])
        subprocess.run([sys.executable, "-m", "local.bootstrap"], cwd=ROOT, env=env, check=True)
        spawn("api", "bench.hotpath", "--serve-api", str(api_port))
        spawn("runner", "runners")
        _drive(env, api_port, args.executions)
    finally:
        for name in ("runner", "api", "emulator"):
            if name in procs:
                procs[name].send_signal(signal.SIGTERM)
                procs[name].wait(60)
    for name in ("api", "runner", "emulator"):
        folded = (work / f"{name}.folded").read_text()
        (args.out / f"{name}.folded").write_text(folded)
        (args.out / f"{name}.txt").write_text(summary(folded, name, args.executions))
        print(f"wrote {args.out / name}.folded and .txt")
    return 0


def _drive(env: dict[str, str], api_port: int, executions: int) -> None:
    client = ApiClient(f"http://127.0.0.1:{api_port}")
    deadline = time.monotonic() + 60
    while True:
        try:
            client.request("GET", "/actors")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    settings = Settings.model_validate({"AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"],
                                        "resource_prefix": env["ABACO_RESOURCE_PREFIX"], "pools": POOL})
    observer = Observer(settings)
    actor_id = client.create_actor(POOL)
    client.wait_ready([actor_id])
    for _ in range(executions):
        execution_id = client.send(actor_id)
        observer.wait_terminal(actor_id, execution_id, interval=0.25)
        time.sleep(0.3)  # the next container pre-started: its cost is this execution's
    client.close()


def summary(folded: str, name: str, executions: int) -> str:
    """Samples by function, self and inclusive (pure; unit tested)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        frames, _, count = line.rpartition(" ")
        names = frames.split(";")
        total += int(count)
        own[names[-1]] += int(count)
        for frame in set(names):
            inclusive[frame] += int(count)
    per = total / 1000 / max(executions, 1)
    lines = [f"# {name}: {total / 1000:.0f} ms of CPU sampled, {per:.1f} ms per execution over {executions} "
             "(start-up included; weights in CPU microseconds)", "",
             "## Self", *[f"{c:9d} {c * 100 / max(total, 1):5.1f}%  {f}" for f, c in own.most_common(TOP)], "",
             "## Inclusive, this repository's code",
             *[f"{c:9d} {c * 100 / max(total, 1):5.1f}%  {f}" for f, c in inclusive.most_common()
               if _ours(f)][:TOP]]
    return "\n".join(lines) + "\n"


def _ours(frame: str) -> bool:
    return any(f"({part}" in frame for part in ("chalicelib/", "runners/", "local/", "app.py"))


if __name__ == "__main__":
    sys.exit(main())
