"""The entry shim of a warm container, and the control message that starts the actor in it. Pure logic.

A warm container runs a static busybox (bind-mounted read-only at ``/.abaco/busybox``) as its entrypoint:
``sh -c '. /.abaco/control'``. Sourcing the FIFO blocks until the runner writes the control message, a
one-command shell script::

    exec /.abaco/busybox env -i -- 'NAME=value' ... "HOSTNAME=$HOSTNAME" ... "HOME=$HOME" 'prog' 'arg' ...

Every value travels single-quoted, which carries any character an environment can hold (everything but
NUL: Docker's API cannot pass NUL either), newlines and quotes included. ``exec`` keeps the actor's
process as PID 1, and ``env -i`` gives it exactly the environment Docker would have given a cold
container, in Docker's order (``docker_environment``): the daemon's ``PATH`` and ``HOSTNAME``, the
execution's variables, the image's remaining ones, and ``HOME`` from the user's passwd entry last. The
values only the container knows (its ``HOSTNAME``, the user's ``HOME``) are expanded by the shim itself.
The working directory and the user are the image's (or the actor's), set by Docker at create time exactly
as for a cold container; the program is the image's configured entrypoint and command.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SHIM_DIR = "/.abaco"
SHIM_BINARY = f"{SHIM_DIR}/busybox"
CONTROL_PATH = f"{SHIM_DIR}/control"
ENTRYPOINT = [SHIM_BINARY]
COMMAND = ["sh", "-c", f". {CONTROL_PATH}"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Docker's default on Linux
PT_INTERP = 3  # ELF program header type naming the dynamic loader
MAX_CONTROL_BYTES = 1_048_576  # env's argv and the program's environ must both fit the kernel's ARG_MAX
# Names whose value comes from the container itself when the execution and the image do not set them.
FROM_CONTAINER = ("HOSTNAME", "HOME")


class NotWarmable(ValueError):
    """This execution cannot be started by the shim exactly as a cold start would; start it cold."""


@dataclass(frozen=True)
class Entry:
    """One environment entry in order: a literal value, or (``value is None``) the shim's own value."""

    name: str
    value: str | None


def quote(text: str) -> str:
    """POSIX single quoting: any text except NUL, newlines and multi-byte characters included."""
    if "\0" in text:
        raise NotWarmable("a NUL byte cannot travel in an environment or an argument")
    return "'" + text.replace("'", "'\\''") + "'"


def program(config: dict[str, Any]) -> list[str]:
    """What Docker would run for this image config: Entrypoint + Cmd (or Cmd alone)."""
    argv = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if not argv:
        raise NotWarmable("the image has no entrypoint or command")
    if "=" in argv[0]:
        raise NotWarmable("env would take a program name containing '=' for a variable")
    return [str(a) for a in argv]


def _pairs(entries: Sequence[str]) -> list[tuple[str, str]]:
    """``NAME=value`` strings split as Docker splits them (on the first ``=``)."""
    out = []
    for item in entries:
        name, _, value = item.partition("=")
        out.append((name, value))
    return out


def merged_config_env(execution_env: dict[str, str], image_env: Sequence[str]) -> list[tuple[str, str]]:
    """The container's ``Config.Env`` as Docker builds it at create: the given variables in order, then
    the image's variables that they do not override."""
    merged = list(execution_env.items())
    given = set(execution_env)
    merged.extend((k, v) for k, v in _pairs(image_env) if k not in given)
    return merged


def docker_environment(execution_env: dict[str, str], image_env: Sequence[str]) -> list[Entry]:
    """The environment a cold container's process gets, in order (Docker's ``CreateDaemonEnvironment``
    then runc's ``HOME``), with ``HOSTNAME`` and a passwd-derived ``HOME`` left to the shim."""
    entries: list[Entry] = [Entry("PATH", DEFAULT_PATH), Entry("HOSTNAME", None)]
    index = {e.name: i for i, e in enumerate(entries)}
    for name, value in merged_config_env(execution_env, image_env):
        if name in index:
            entries[index[name]] = Entry(name, value)
        else:
            index[name] = len(entries)
            entries.append(Entry(name, value))
    home = index.get("HOME")
    if home is None:
        entries.append(Entry("HOME", None))
    elif entries[home].value == "":  # runc replaces an empty HOME with the passwd entry's, in place
        if any(k == "HOME" and v for k, v in _pairs(image_env)):
            raise NotWarmable("an empty HOME over the image's HOME: only a cold start reproduces it")
        entries[home] = Entry("HOME", None)
    return entries


def _render_entry(entry: Entry) -> str:
    if entry.value is not None:
        return quote(f"{entry.name}={entry.value}")
    if entry.name not in FROM_CONTAINER:
        raise NotWarmable(f"no container value for {entry.name}")
    return f'"{entry.name}=${entry.name}"'


def control_message(entries: Sequence[Entry], argv: Sequence[str]) -> bytes:
    """The script the shim sources: one ``exec`` of busybox ``env`` with the environment and the program."""
    words = ["exec", SHIM_BINARY, "env", "-i", "--", *(_render_entry(e) for e in entries),
             *(quote(a) for a in argv)]
    try:
        message = (" ".join(words) + "\n").encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: Docker's JSON API would have mangled it too
        raise NotWarmable(f"not encodable: {exc.reason}") from exc
    if len(message) > MAX_CONTROL_BYTES:
        raise NotWarmable(f"control message of {len(message)} bytes")
    return message


def is_static_elf(path: str) -> bool:
    """Whether ``path`` is an ELF executable without a program interpreter: it runs in any image, even
    one without a C library (a dynamically linked busybox would not)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF":
                return False
            order = "<" if head[5] == 1 else ">"
            if head[4] == 2:  # 64-bit
                (offset,) = struct.unpack(order + "Q", head[32:40])
                size, count = struct.unpack(order + "HH", head[54:58])
            else:
                (offset,) = struct.unpack(order + "I", head[28:32])
                size, count = struct.unpack(order + "HH", head[42:46])
            handle.seek(offset)
            for _ in range(count):
                (kind,) = struct.unpack(order + "I", handle.read(size)[:4])
                if kind == PT_INTERP:
                    return False
    except (OSError, struct.error):
        return False
    return True
