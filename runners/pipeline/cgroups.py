"""A container's CPU and memory counters, read from its cgroup files on the runner host.

A warm container has run its shim before the message arrives; the execution's ``cpu`` must not count that,
so the runner reads the container's cumulative CPU at dispatch (the counter Docker's stats report, so the
two subtract exactly) and subtracts it. Reading a file costs microseconds; a one-shot ``docker stats``
costs a second or more (architecture, facts measured). Works with cgroup v1 and v2, whatever the mount
layout, by following ``/proc/<pid>/cgroup`` and the host's mount table.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(root, mount point, fs type, super options) of each cgroup mount of this process's namespace."""
    found = []
    for line in (PROC / "self" / "mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or not tail[0].startswith("cgroup"):
            continue
        found.append((fields[3], fields[4], tail[0], set(tail[2].split(","))))
    return found


def cgroup_dir(pid: int, controller: str) -> Path | None:
    """The directory of ``pid``'s cgroup for ``controller`` (v1), or of its unified cgroup (v2)."""
    try:
        lines = (PROC / str(pid) / "cgroup").read_text().splitlines()
        mounts = _mounts()
    except OSError:
        return None
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        v2 = hierarchy == "0" and controllers == ""
        if not v2 and controller not in controllers.split(","):
            continue
        for root, point, fstype, options in mounts:
            if (fstype == "cgroup2") if v2 else (fstype == "cgroup" and controller in options):
                relative = os.path.relpath(path, root)
                if not relative.startswith(".."):
                    candidate = Path(point) / relative
                    if candidate.is_dir():
                        return candidate
    return None


def cpu_reader(pid: int) -> Callable[[], int] | None:
    """A cheap reader of the container's cumulative CPU in nanoseconds, or None when none is found."""
    v1 = cgroup_dir(pid, "cpuacct")
    if v1 is not None and (v1 / "cpuacct.usage").is_file():
        path = v1 / "cpuacct.usage"
        return lambda: int(path.read_text())
    v2 = cgroup_dir(pid, "cpu")
    if v2 is not None and (v2 / "cpu.stat").is_file():
        stat = v2 / "cpu.stat"
        return lambda: _usage_usec(stat.read_text()) * 1000
    return None


def _usage_usec(text: str) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "usage_usec":
            return int(value)
    return 0


def memory_bytes(pid: int) -> int | None:
    """The container's charged memory (what ``docker stats`` shows before it subtracts the page cache)."""
    directory = cgroup_dir(pid, "memory")
    if directory is None:
        return None
    for name in ("memory.usage_in_bytes", "memory.current"):
        if (directory / name).is_file():
            return int((directory / name).read_text())
    return None
