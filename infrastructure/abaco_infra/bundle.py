"""The runner hosts' code bundle: the project's own packages and pinned requirements, shipped as an S3 asset.

Its content hash is the runner version: a change of code or pins changes the asset key, hence the launch
template's user data, hence a new launch template version, which starts an instance refresh.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chalicelib", "runners")  # what ``python -m runners`` imports
HOST_FILES = ROOT / "infrastructure" / "host"
# Beyond requirements.txt, the runner needs the Docker SDK and what it pulls in; their pins come from
# requirements-dev.txt so the hosts run exactly the versions the tests ran.
RUNNER_EXTRAS = ("docker", "requests", "urllib3", "charset-normalizer", "idna", "certifi",
                 "aws-xray-sdk", "wrapt", "prometheus-client")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "tests")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = line
    return pins


def runner_requirements(root: Path = ROOT) -> list[str]:
    """requirements.txt plus the runner extras pinned in requirements-dev.txt (absent extras are skipped)."""
    base = list(_pins(root / "requirements.txt").values())
    dev = _pins(root / "requirements-dev.txt")
    return base + [dev[name] for name in RUNNER_EXTRAS if name in dev]


def stage(target: Path, root: Path = ROOT) -> Path:
    """Write the bundle directory (CDK zips it when it publishes the asset)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for package in PACKAGES:
        shutil.copytree(root / package, target / package, ignore=_IGNORE)
    shutil.copytree(HOST_FILES, target / "host", ignore=_IGNORE)
    (target / "requirements-runner.txt").write_text("\n".join(runner_requirements(root)) + "\n")
    return target
