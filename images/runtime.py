"""Root file systems assembled from host files: busybox-static, and a copied Python 3.11.

No registry is reachable, so base images cannot be pulled; instead the build copies a static
busybox and the host's own Python interpreter (with the shared libraries ``ldd`` reports) into
layouts that are then built ``FROM scratch``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from images.layout import Layout, LayoutError

BUSYBOX_CANDIDATES = ("/usr/bin/busybox", "/bin/busybox")
PREFERRED_PYTHON = "/usr/bin/python3.11"  # Debian's: precompiled stdlib, no libpython.so

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\n"

# Stdlib directories an actor never needs (tests, GUIs, installers, 2to3, build config).
STDLIB_SKIP = frozenset({
    "test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
    "site-packages", "dist-packages", "__phello__",
})
# Extension modules that only exist for CPython's own test suite.
DYNLOAD_SKIP = re.compile(r"^(_test|_xx|xx)")
# Loaded with dlopen (not visible to ldd): glibc needs libgcc_s for pthread_exit/cancellation.
DLOPEN_LIBS = ("libgcc_s.so.1",)


# ------------------------------------------------------------------------------------ busybox


def find_busybox() -> str:
    """Return the path of a statically linked busybox, installing busybox-static if absent."""
    path = _existing_busybox()
    if path is None:
        _apt_install("busybox-static")
        path = _existing_busybox()
    if path is None:
        raise LayoutError("busybox not found and `apt-get install busybox-static` did not help")
    if not _is_static(path):
        raise LayoutError(f"{path} is dynamically linked; install busybox-static")
    return path


def _existing_busybox() -> str | None:
    for path in BUSYBOX_CANDIDATES:
        if os.path.isfile(path):
            return path
    return shutil.which("busybox")


def _apt_install(package: str) -> None:
    """Install a Debian package; refresh the package lists once if the first try fails."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    print(f"images: installing {package} with apt-get", file=sys.stderr)
    if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(cmd, env=env, capture_output=True, check=False)


def _is_static(path: str) -> bool:
    """An ELF file without a PT_INTERP program header needs no loader or libraries."""
    with open(path, "rb") as handle:
        data = handle.read(1 << 16)
    if data[:4] != b"\x7fELF" or data[4] != 2:  # only 64-bit ELF is expected here
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        start = phoff + i * phentsize
        if int.from_bytes(data[start:start + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def applets(busybox: str) -> list[str]:
    """Names of the commands this busybox provides (each becomes a symlink)."""
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({name for name in out.split() if name and "/" not in name})


def add_base_system(layout: Layout, busybox: str, bin_dir: str = "/bin") -> None:
    """Busybox as /bin/sh plus its applets, users, and the usual top-level directories."""
    layout.add_file(f"{bin_dir}/busybox", busybox, 0o755)
    for name in applets(busybox):
        if layout.norm(f"{bin_dir}/{name}") not in layout.entries:
            layout.add_symlink(f"{bin_dir}/{name}", "busybox")
    layout.add_bytes("/etc/passwd", PASSWD.encode())
    layout.add_bytes("/etc/group", GROUP.encode())
    for path in ("/dev", "/proc", "/sys", "/home", "/var", "/usr", "/etc"):
        layout.add_dir(path)
    # A fallback interpreter may live under /root (pyenv); then /root must stay traversable.
    used = any(rel.startswith("root/") for rel in layout.entries)
    layout.add_dir("/root", 0o755 if used else 0o700)
    layout.add_dir("/tmp", 0o1777)


# ------------------------------------------------------------------------------------- python


@dataclass(frozen=True)
class PythonInstall:
    """Where the pieces of a host Python installation live."""

    executable: str  # real path of the interpreter binary
    stdlib: str  # directory of os.py
    dynload: str  # directory of the extension modules
    site: str  # site-packages directory this interpreter adds to sys.path
    version: str  # "3.11"


def find_python() -> PythonInstall:
    """Prefer Debian's python3.11, else the base installation of the running interpreter."""
    candidates = [PREFERRED_PYTHON]
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates.append(os.path.join(sys.base_prefix, "bin", f"python{ver}"))
    for exe in candidates:
        if os.path.isfile(exe) and os.access(exe, os.X_OK):
            return _describe(exe)
    raise LayoutError(f"no Python interpreter found (tried {', '.join(candidates)})")


def _describe(exe: str) -> PythonInstall:
    """Ask the interpreter itself for its paths (-I: ignore the environment and user site)."""
    code = (
        "import json, site, sys, sysconfig, os;"
        "print(json.dumps({'stdlib': sysconfig.get_path('stdlib'),"
        " 'dynload': os.path.dirname(__import__('_ssl').__file__),"
        " 'site': site.getsitepackages()[0],"
        " 'version': '%d.%d' % sys.version_info[:2]}))"
    )
    out = subprocess.run([exe, "-I", "-c", code], check=True, capture_output=True, text=True)
    info = json.loads(out.stdout)
    return PythonInstall(os.path.realpath(exe), info["stdlib"], info["dynload"], info["site"],
                         info["version"])


def ldd(paths: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """Map each ELF file to (library paths it loads, names ldd could not find)."""
    result: dict[str, tuple[list[str], list[str]]] = {}
    for path in paths:  # one call per file: ldd's multi-file output is ambiguous on errors
        proc = subprocess.run(["ldd", path], capture_output=True, text=True, check=False)
        found: list[str] = []
        missing: list[str] = []
        for raw in proc.stdout.splitlines():
            line = raw.strip()
            if "=> not found" in line:
                missing.append(line.split()[0])
            elif "=>" in line:
                target = line.split("=>", 1)[1].split("(")[0].strip()
                if target.startswith("/"):
                    found.append(target)
            elif line.startswith("/"):  # the dynamic loader itself
                found.append(line.split()[0])
        result[path] = (found, missing)
    return result


def _stdlib_files(py: PythonInstall) -> list[tuple[str, str]]:
    """(image path, host path) for the stdlib: sources plus the plain (non -O) bytecode.

    Debian precompiles its stdlib; shipping those .pyc files saves every actor start from
    recompiling imports (the root file system is read-only at run time).
    """
    files: list[tuple[str, str]] = []
    tag = f"cpython-{py.version.replace('.', '')}.pyc"
    for root, dirs, names in os.walk(py.stdlib):
        rel = os.path.relpath(root, py.stdlib)
        dirs[:] = sorted(d for d in dirs if d not in STDLIB_SKIP and not d.startswith("config-"))
        in_cache = os.path.basename(root) == "__pycache__"
        for name in sorted(names):
            if in_cache and not name.endswith(tag):
                continue  # .opt-1/.opt-2 variants and other versions
            if name.endswith((".pyc", ".pyo")) and not in_cache:
                continue
            files.append((os.path.normpath(os.path.join(py.stdlib, rel, name)),
                          os.path.join(root, name)))
    return files


def add_python(layout: Layout, py: PythonInstall) -> list[str]:
    """Copy interpreter, stdlib, extension modules and their libraries; return warnings."""
    warnings: list[str] = []
    layout.add_file(py.executable, py.executable, 0o755)
    exe_dir, exe_name = os.path.split(py.executable)
    for alias in ("python3", "python"):
        if alias != exe_name:
            target = exe_name if layout.norm(exe_dir) == "usr/bin" else py.executable
            layout.add_symlink(f"/usr/bin/{alias}", target)
    extensions: list[str] = []
    for image_path, host_path in _stdlib_files(py):
        if os.path.dirname(host_path) == py.dynload and host_path.endswith(".so"):
            if DYNLOAD_SKIP.match(os.path.basename(host_path)):
                continue
            extensions.append(host_path)
        layout.add_file(image_path, host_path)
    all_libs: list[str] = []
    for elf, (libs, missing) in ldd([py.executable, *extensions]).items():
        if missing and elf != py.executable:
            del layout.entries[layout.norm(elf)]
            warnings.append(f"left out {os.path.basename(elf)}: missing {', '.join(missing)}")
            continue
        if missing:
            raise LayoutError(f"{elf} needs libraries that are not installed: {missing}")
        all_libs.extend(libs)
    for lib in sorted(set(all_libs)):
        layout.add_host_path(lib)
    _add_dlopen_libs(layout, all_libs)
    layout.add_dir(py.site)
    return warnings


def _add_dlopen_libs(layout: Layout, libs: list[str]) -> None:
    """Add libraries glibc opens at run time, looked up next to the copied libc."""
    libc_dirs = {os.path.dirname(lib) for lib in libs if os.path.basename(lib) == "libc.so.6"}
    for name in DLOPEN_LIBS:
        for directory in sorted(libc_dirs):
            if os.path.exists(os.path.join(directory, name)):
                layout.add_host_path(os.path.join(directory, name))
                break


def add_ca_bundle(layout: Layout) -> str | None:
    """Copy the host's CA bundle so actors can call an HTTPS API server; return its path."""
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.isfile(bundle):
        return None
    layout.add_file(bundle, bundle, 0o644)
    return bundle


def add_package(layout: Layout, site: str, module_file: str) -> None:
    """Copy an importable package (given its ``__init__.py``) and any dist-info into ``site``."""
    pkg_dir = os.path.dirname(os.path.realpath(module_file))
    name = os.path.basename(pkg_dir)
    layout.add_tree(f"{site}/{name}", pkg_dir)
    parent = os.path.dirname(pkg_dir)
    for entry in sorted(os.listdir(parent)):
        if entry.startswith(f"{name}-") and entry.endswith(".dist-info"):
            layout.add_tree(f"{site}/{entry}", os.path.join(parent, entry))
