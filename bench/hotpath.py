"""Where one execution's CPU goes: ``python -m bench.hotpath [--executions N] [--out DIR]``.

Starts the emulator, the API and one runner, each under ``bench.sampler`` (a sampling profiler over all
threads, CPU time), sends ``N`` messages one after another to a warm-start no-op actor, stops everything
and writes, per process, the merged profile (``<name>.prof``: pstats format, for snakeviz or flameprof's
flame graph) and a summary (``<name>.txt``: CPU ms per execution by function, own time and with callees,
the repository's code apart). Start-up is included (imports, bootstrap), so read the per-request
functions. The API here is served by werkzeug's threaded server instead of gunicorn (the profiler cannot
follow gunicorn's fork); the application object is the same.
"""
from __future__ import annotations

import argparse
import os
import pstats
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
    parser.add_argument("--emulator-module", default="local.moto_app",
                        help="the emulator's module (a former version, to profile before and after)")
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
            procs[name] = subprocess.Popen([sys.executable, "-m", "bench.sampler", str(work / f"{name}.prof"),
                                            "-m", *module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)

    try:
        spawn("emulator", args.emulator_module, "-H", "127.0.0.1", "-p", str(emulator_port))
        emulator.wait_ready(env["AWS_ENDPOINT_URL"], procs["emulator"])
        subprocess.run([sys.executable, "-m", "local.bootstrap"], cwd=ROOT, env=env, check=True)
        spawn("api", "bench.hotpath", "--serve-api", str(api_port))
        spawn("runner", "runners")
        _drive(env, api_port, args.executions)
    finally:
        for name in ("runner", "api", "emulator"):
            if name in procs:
                procs[name].send_signal(signal.SIGTERM)
                procs[name].wait(600)  # merging the threads' profiles takes a while
    for name in ("api", "runner", "emulator"):
        shutil.copyfile(work / f"{name}.prof", args.out / f"{name}.prof")
        table = pstats.Stats(str(work / f"{name}.prof")).stats  # type: ignore[attr-defined]
        (args.out / f"{name}.txt").write_text(summary(table, name, args.executions))
        print(f"wrote {args.out / name}.prof and .txt")
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


Table = dict[tuple[str, int, str], tuple[Any, ...]]  # pstats: (file, line, function) -> (cc, nc, tt, ct, ...)


def summary(table: Table, name: str, executions: int) -> str:
    """CPU milliseconds per execution by function, own and with callees (pure; unit tested)."""
    per = 1000 / max(executions, 1)
    total = sum(row[2] for row in table.values())

    def label(key: tuple[str, int, str]) -> str:
        path = key[0].removeprefix(str(ROOT) + "/")
        for marker in ("site-packages/", "/lib/python3.11/"):
            path = path.split(marker, 1)[-1]
        return f"{key[2]} ({path}:{key[1]})"

    own = sorted(table.items(), key=lambda item: -item[1][2])[:TOP]
    ours = sorted(((k, v) for k, v in table.items() if _ours(k[0])), key=lambda item: -item[1][3])[:TOP]
    lines = [f"# {name}: {total * 1000:.0f} ms of CPU in all, {total * per:.1f} ms per execution over {executions} "
             "(start-up included)", "", "## Own time, CPU ms per execution (calls per execution)",
             *[f"{v[2] * per:8.2f}  {v[1] / max(executions, 1):8.1f}  {label(k)}" for k, v in own], "",
             "## This repository's functions with their callees, CPU ms per execution (calls per execution)",
             *[f"{v[3] * per:8.2f}  {v[1] / max(executions, 1):8.1f}  {label(k)}" for k, v in ours]]
    return "\n".join(lines) + "\n"


def _ours(path: str) -> bool:
    return path.startswith(str(ROOT)) and "/.venv/" not in path and "/bench/" not in path


if __name__ == "__main__":
    sys.exit(main())
