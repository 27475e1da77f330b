"""The image pre-check (reliability plan §3.2, T15): what an image's own config may not ask for. Pure logic.

The runner inspects an actor's image (``docker image inspect``) before it starts any container of it and
refuses, with ``image rejected: ...`` as the actor's status message (as for a missing image):

* a ``WorkingDir`` under ``/proc``: the CVE-2024-21626 vector (``WORKDIR /proc/self/fd/N`` reaches a
  host file descriptor leaked by runc < 1.1.12). The path is normalised first (``/x/../proc``); a symlink
  inside the image pointing there cannot be seen from the config (the runc fix covers it);
* a root ``User`` when the container would really run as that user (no uid:gid given by the runner, i.e.
  ``use_container_uid`` or an empty ``ABACO_CONTAINER_USER``) and the actor may not run as root (only
  ``use_container_uid`` and privileged actors may: both are set by admins or the privileged role). A
  named user other than ``root`` cannot be resolved without reading the image's ``/etc/passwd``;
* an ``Env`` that alone nears the kernel's limits: one string over MAX_ARG_STRLEN, or more than
  MAX_IMAGE_ENV_BYTES in all (the execution's own variables, ``MSG`` up to 128 KiB, need the room).
"""
from __future__ import annotations

import posixpath
from typing import Any

from runners.pipeline.environment import MAX_ENV_STRING

PREFIX = "image rejected: "
MAX_IMAGE_ENV_BYTES = 262_144  # an eighth of the usual 2 MiB ARG_MAX for argv + environ together
FORBIDDEN_WORKDIRS = ("/proc",)
ROOT_USERS = ("", "0", "root")


def refusal(config: dict[str, Any], user: str | None, root_allowed: bool) -> str | None:
    """Why an image with this ``Config`` must not run (None when it may). ``user`` is the uid:gid the
    runner gives the container (None or empty: the image's own ``User``)."""
    for check in (_workdir(config), _user(config, user, root_allowed), _env(config)):
        if check:
            return PREFIX + check
    return None


def _workdir(config: dict[str, Any]) -> str | None:
    workdir = str(config.get("WorkingDir") or "")
    if not workdir:
        return None
    normal = posixpath.normpath(posixpath.join("/", workdir)).replace("//", "/")
    for forbidden in FORBIDDEN_WORKDIRS:
        if normal == forbidden or normal.startswith(forbidden + "/"):
            return (f"its WorkingDir {workdir!r} is under {forbidden} (the CVE-2024-21626 escape: "
                    "a working directory on a leaked host file descriptor)")
    return None


def is_root(user: str) -> bool:
    """``root``, ``0``, ``0:...``, ``root:...`` or empty (Docker runs an image without USER as root)."""
    return user.strip().split(":", 1)[0] in ROOT_USERS


def _user(config: dict[str, Any], user: str | None, root_allowed: bool) -> str | None:
    if user or root_allowed:
        return None
    image_user = str(config.get("User") or "")
    if is_root(image_user):
        shown = image_user or "unset (root)"
        return (f"it runs as root (User {shown}) and this actor may not run as the image's user "
                "(only use_container_uid or privileged actors may, set by an admin or privileged user)")
    return None


def _env(config: dict[str, Any]) -> str | None:
    entries = [str(e) for e in (config.get("Env") or [])]
    for entry in entries:
        if len(entry.encode()) + 1 > MAX_ENV_STRING:
            return f"its ENV {entry.split('=', 1)[0][:64]!r} is longer than the kernel's {MAX_ENV_STRING} bytes"
    total = sum(len(e.encode()) + 1 for e in entries)
    if total > MAX_IMAGE_ENV_BYTES:
        return f"its ENV holds {total} bytes (at most {MAX_IMAGE_ENV_BYTES})"
    return None
