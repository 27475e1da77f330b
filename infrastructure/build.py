"""``make synth``: install the pinned CDK (Python library into .venv, npm CLI under infrastructure/), run
``cdk synth`` offline into ``infrastructure/cdk.out`` and ``cfn-lint`` on the templates; fail if either fails.

Offline means: a dummy account unless one is given, no context lookups, no notices, no version check, no
telemetry, and no instance-metadata credential probe (which would go to a link-local address). The tests
import the same functions (``ensure``, ``synth``, ``lint``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUIREMENTS = HERE / "requirements.txt"
CDK_BIN = HERE / "node_modules" / ".bin" / "cdk"
DEFAULT_OUT = HERE / "cdk.out"
SYNTH_TIMEOUT_S = 600
# cfn-lint rules we ignore, each with its reason:
#   W3005: CDK adds explicit DependsOn that are also implied by references; harmless.
LINT_IGNORE = ("W3005",)


def _stamp() -> Path:
    digest = hashlib.md5(REQUIREMENTS.read_bytes() + (HERE / "package-lock.json").read_bytes()).hexdigest()[:12]
    return Path(sys.prefix) / f".infra-installed-{digest}"


def cli_version_wanted() -> str:
    return json.loads((HERE / "package.json").read_text())["devDependencies"]["aws-cdk"]


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def ensure_node() -> bool:
    """Debian's nodejs and npm when they are missing and this is a Debian machine we may change (root, as
    ``.ci/run`` and ``scripts/ensure-docker.sh`` assume); True when node and npm are there afterwards."""
    if node_available():
        return True
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nodejs", "npm"]
    print("infrastructure: installing nodejs and npm with apt-get", file=sys.stderr, flush=True)
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=False)
    return node_available()


def ensure() -> None:
    """Install what is missing; a no-op (a stat or two) when both are already at the pinned versions."""
    if _stamp().exists() and CDK_BIN.exists():
        return
    if not ensure_node():
        raise RuntimeError("node and npm are needed for the CDK CLI (Debian: apt-get install nodejs npm)")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)
    for old in Path(sys.prefix).glob(".infra-installed-*"):
        old.unlink()
    _stamp().touch()


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CDK_")) or k in ("CDK_DEFAULT_ACCOUNT",)}
    env.update({
        "AWS_EC2_METADATA_DISABLED": "true",  # never probe 169.254.169.254 for credentials
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    })
    return env


def synth(out: Path = DEFAULT_OUT, context: dict[str, str] | None = None) -> float:
    """``cdk synth`` into ``out``; returns the seconds it took."""
    argv = [str(CDK_BIN), "synth", "--quiet", "--no-notices", "--no-version-reporting", "--no-lookups",
            "--output", str(out), "--app", f"{sys.executable} cdk_app.py"]
    for key, value in (context or {}).items():
        argv += ["--context", f"{key}={value}"]
    started = time.monotonic()
    result = subprocess.run(argv, check=False, cwd=HERE, env=offline_env(), capture_output=True, text=True,
                            timeout=SYNTH_TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"cdk synth failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return time.monotonic() - started


def templates(out: Path = DEFAULT_OUT) -> list[Path]:
    return sorted(out.glob("*.template.json"))


def lint(out: Path = DEFAULT_OUT) -> subprocess.CompletedProcess[str]:
    """cfn-lint on every synthesised template (warnings count as failures, except the ignored rules)."""
    files = templates(out)
    if not files:
        raise RuntimeError(f"no templates in {out}")
    argv = [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", *LINT_IGNORE, "--", *map(str, files)]
    return subprocess.run(argv, check=False, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deps", "synth"], nargs="?", default="synth")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="CDK context (every stage needs jwt_public_key, jwt_issuer and jwt_audience)")
    args = parser.parse_args(argv)
    ensure()
    if args.command == "deps":
        return 0
    seconds = synth(args.out, dict(item.split("=", 1) for item in args.context))
    sizes = ", ".join(f"{t.name} {t.stat().st_size / 1024:.0f} KiB" for t in templates(args.out))
    print(f"synth: {seconds:.1f} s into {args.out} ({sizes})")
    result = lint(args.out)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    print("cfn-lint: " + ("clean" if result.returncode == 0 else f"FAILED (exit {result.returncode})"))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
