"""Which container runtime a runner host uses, and whether it still has known container breakouts.

Logged once at runner start (reliability plan §3.2, T15): the Docker engine's, containerd's and runc's
versions, and a warning per known runc breakout whose fix the installed runc lacks. The comparison is pure
logic (unit-tested). Distributions backport fixes without changing the upstream version, so a table names
the distribution builds known to carry a fix (their changelogs say so); any other build older than the
fixed release is reported as vulnerable, with that caveat in the warning.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from runners.pipeline.engine import DockerEngine, EngineError

LOG = logging.getLogger("abaco.runner")
RELEASE = 10**6  # sorts a release after every one of its release candidates


@dataclass(frozen=True)
class Breakout:
    cve: str
    fixed_in: tuple[str, ...]  # the first fixed release of each maintained branch
    what: str


BREAKOUTS = (
    Breakout("CVE-2019-5736", ("1.0.0-rc7",), "overwrites the host runc binary from a root container"),
    Breakout("CVE-2024-21626", ("1.1.12",), "leaked host fd as working directory (WORKDIR /proc/self/fd/N)"),
    # The November 2025 trio (masked paths, /dev/console and procfs write redirection): fixed per branch.
    Breakout("CVE-2025-31133", ("1.2.8", "1.3.3", "1.4.0-rc.3"), "maskedPaths bind-mount race"),
    Breakout("CVE-2025-52565", ("1.2.8", "1.3.3", "1.4.0-rc.3"), "/dev/console bind-mount race"),
    Breakout("CVE-2025-52881", ("1.2.8", "1.3.3", "1.4.0-rc.3"), "procfs write redirection (LSM bypass)"),
)
# Distribution builds that carry a fix under an older upstream version (full package version).
BACKPORTS: dict[str, frozenset[str]] = {
    "1.1.5+ds1-1+deb12u1": frozenset({"CVE-2024-21626"}),  # Debian 12, DSA-5624-1 (February 2024)
}
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-rc\.?(\d+))?")


def parse(version: str) -> tuple[int, int, int, int] | None:
    """``1.1.5+ds1`` -> (1, 1, 5, RELEASE); ``1.0.0-rc7`` and ``1.0-rc7`` -> (1, 0, 0, 7); None if unknown."""
    match = _VERSION.match(version.strip())
    if not match:
        return None
    major, minor, patch, rc = match.groups()
    return int(major), int(minor), int(patch or 0), int(rc) if rc is not None else RELEASE


def is_fixed(version: tuple[int, int, int, int], fixed_in: tuple[str, ...]) -> bool:
    """Fixed when at or past the newest fixed release, or past the fix of its own branch (major.minor)."""
    fixes = [f for f in (parse(v) for v in fixed_in) if f is not None]
    if version >= max(fixes):
        return True
    return any(f[:2] == version[:2] and version >= f for f in fixes)


def runc_warnings(version: str, build: str = "") -> list[str]:
    """One warning per known breakout the runc ``version`` (package ``build``) is not fixed for."""
    parsed = parse(version)
    if parsed is None:
        return [f"cannot tell which breakouts runc {version!r} is fixed for: not a version number"]
    backported = BACKPORTS.get(build, frozenset()) | BACKPORTS.get(version, frozenset())
    return [f"runc {build or version} predates the fix of {b.cve} ({b.what}; fixed in {', '.join(b.fixed_in)}) "
            "unless the distribution backported it"
            for b in BREAKOUTS if b.cve not in backported and not is_fixed(parsed, b.fixed_in)]


def components(version_info: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``docker version``'s components by lower-case name: {"runc": {"version": ..., "build": ...}}."""
    out = {}
    for item in version_info.get("Components") or []:
        details = item.get("Details") or {}
        out[str(item.get("Name", "")).lower()] = {"version": str(item.get("Version", "")),
                                                  "build": str(details.get("GitCommit", ""))}
    return out


def report(version_info: dict[str, Any]) -> list[str]:
    """Log the runtime's versions (one structured line) and a warning per unfixed breakout; returns them."""
    found = components(version_info)
    runc = found.get("runc", {})
    named = {f"{name}_version": found.get(name, {}).get("build") or found.get(name, {}).get("version") or "?"
             for name in ("engine", "containerd", "runc")}
    LOG.info("container runtime: docker %s, containerd %s, runc %s", named["engine_version"],
             named["containerd_version"], named["runc_version"], extra=named)
    warnings = (runc_warnings(runc["version"], runc.get("build", "")) if runc.get("version")
                else ["the Docker engine does not report its runc version: cannot check for known breakouts"])
    for warning in warnings:
        LOG.warning("container runtime: %s", warning)
    return warnings


def check(engine: DockerEngine) -> None:
    """Name the container runtime of ``engine`` in the log and warn about known breakouts it is not fixed
    for; an engine that cannot say is a warning, never a reason not to serve."""
    try:
        report(engine.version_info())
    except EngineError as exc:
        LOG.warning("container runtime: %s", exc)
