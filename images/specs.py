"""The sample images: what goes into each one and how it starts.

Each image is a base (``scratch`` or another sample image), a ``Layout`` copied to ``/`` and a
little configuration (environment, command). The names match TACC's ``abacosamples/*`` images
so actor definitions written for Abaco work unchanged.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from images import runtime
from images.layout import Layout, LayoutError

ACTORS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "actors")
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTAINERLIB = os.path.join(REPO_DIR, "containerlib", "agavepy", "__init__.py")

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PY_CMD = ["python3", "-c", "from agavepy.actors import get_context; print(get_context())"]


@dataclass(frozen=True)
class ImageSpec:
    """How to build one image. ``make_layout`` returns the files plus any warnings."""

    name: str
    base: str
    make_layout: Callable[[], tuple[Layout, list[str]]]
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def dockerfile(self) -> str:
        """The Dockerfile placed next to ``rootfs/`` in the build context."""
        lines = [f"FROM {self.base}", "COPY rootfs/ /"]
        lines += [f"ENV {key}={json.dumps(value)}" for key, value in sorted(self.env.items())]
        lines.append(f"CMD {json.dumps(self.cmd)}")
        return "\n".join(lines) + "\n"


@functools.cache
def _busybox() -> str:
    return runtime.find_busybox()


def _busybox_layout() -> tuple[Layout, list[str]]:
    layout = Layout()
    runtime.add_base_system(layout, _busybox())
    return layout, []


def _test_layout() -> tuple[Layout, list[str]]:
    layout, warnings = _busybox_layout()
    layout.add_file("/test.sh", os.path.join(ACTORS_DIR, "test.sh"), 0o755)
    return layout, warnings


def _py3_base_layout() -> tuple[Layout, list[str]]:
    """Host Python + libraries + busybox, agavepy and cloudpickle on the default sys.path."""
    py = runtime.find_python()
    layout = Layout(merged_usr=True)
    warnings = runtime.add_python(layout, py)
    runtime.add_base_system(layout, _busybox())
    runtime.add_ca_bundle(layout)
    runtime.add_package(layout, py.site, CONTAINERLIB)
    runtime.add_package(layout, py.site, _cloudpickle_init())
    return layout, warnings


def _cloudpickle_init() -> str:
    """cloudpickle from the build's virtualenv (it is pure Python, so any 3.11 can use it)."""
    try:
        import cloudpickle
    except ImportError as exc:
        raise LayoutError("cloudpickle is not installed in this environment (run make venv)") from exc
    return cloudpickle.__file__


def _script_layout(script: str) -> Callable[[], tuple[Layout, list[str]]]:
    def make() -> tuple[Layout, list[str]]:
        layout = Layout()
        layout.add_file(f"/{script}", os.path.join(ACTORS_DIR, script), 0o755)
        return layout, []

    return make


PY_ENV = {
    "PATH": PATH,
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",  # the root file system is read-only for actors
    "PYTHONUNBUFFERED": "1",  # the worker streams logs while the actor runs
    "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
}

# Bases first: an image is built after the image it is FROM.
SPECS: list[ImageSpec] = [
    ImageSpec("abacosamples/test", "scratch", _test_layout, ["/bin/sh", "/test.sh"], {"PATH": PATH}),
    ImageSpec("abacosamples/noop", "scratch", _busybox_layout, ["/bin/true"], {"PATH": PATH}),
    ImageSpec("abacosamples/py3_base", "scratch", _py3_base_layout, PY_CMD, PY_ENV),
    ImageSpec("abacosamples/wc", "abacosamples/py3_base", _script_layout("wc.py"),
              ["python3", "/wc.py"]),
    ImageSpec("abacosamples/sleep_loop", "abacosamples/py3_base", _script_layout("sleep_loop.py"),
              ["python3", "/sleep_loop.py"]),
]
