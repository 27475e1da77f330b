"""An in-memory description of an image's root file system, written out as a tar build context.

Images are assembled from host files without a registry, so we need exact control over what
lands in the image (modes, symlinks, ownership) and a cheap, deterministic fingerprint of it
to skip rebuilds. A ``Layout`` gives both: ``digest()`` hashes the content, ``write_tar()``
produces the context that ``docker build`` consumes.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Top-level directories that a merged-/usr system (Debian 12) makes symlinks into /usr.
MERGED_USR_DIRS = ("bin", "sbin", "lib", "lib64")


class LayoutError(Exception):
    """Raised when two inputs want the same path in conflicting ways, or a source is missing."""


@dataclass(frozen=True)
class Entry:
    """One path in the image: a regular file (from a host file or bytes), a dir or a symlink."""

    kind: str  # "file" | "dir" | "symlink"
    mode: int = 0o755
    source: str | None = None  # host path of a file's content
    data: bytes | None = None  # literal content of a generated file
    target: str | None = None  # symlink target


class Layout:
    """Paths (relative, no leading slash) mapped to entries."""

    def __init__(self, merged_usr: bool = False) -> None:
        self.entries: dict[str, Entry] = {}
        self.merged_usr = merged_usr
        if merged_usr:
            for name in MERGED_USR_DIRS:
                self.entries[name] = Entry("symlink", 0o777, target=f"usr/{name}")
                self.entries[f"usr/{name}"] = Entry("dir")

    # ----------------------------------------------------------------------------------- adding

    def norm(self, path: str) -> str:
        """Return the canonical relative path: no leading slash, /bin etc. folded into /usr."""
        rel = posixpath.normpath("/" + path).lstrip("/")
        if self.merged_usr:
            head, _, rest = rel.partition("/")
            if head in MERGED_USR_DIRS and rest:
                rel = f"usr/{head}/{rest}"
        return rel

    def _put(self, path: str, entry: Entry) -> None:
        rel = self.norm(path)
        old = self.entries.get(rel)
        if old is not None and old != entry:
            if old.kind == entry.kind == "dir":
                return
            raise LayoutError(f"/{rel} is added twice with different content")
        self.entries[rel] = entry

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        """Add an (empty) directory, e.g. /tmp with mode 1777."""
        rel = self.norm(path)
        if rel in self.entries and self.entries[rel].kind == "dir":
            self.entries[rel] = Entry("dir", mode)  # an explicit mode wins over an implied one
            return
        self._put(rel, Entry("dir", mode))

    def add_file(self, path: str, source: str, mode: int | None = None) -> None:
        """Add a host file's content. The mode is normalised so any uid can read (and exec)."""
        if not os.path.isfile(source):
            raise LayoutError(f"missing input file: {source}")
        if mode is None:
            mode = 0o755 if os.stat(source).st_mode & 0o111 else 0o644
        self._put(path, Entry("file", mode, source=os.path.realpath(source)))

    def add_bytes(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Add a generated file (passwd, scripts)."""
        self._put(path, Entry("file", mode, data=data))

    def add_symlink(self, path: str, target: str) -> None:
        """Add a symlink; the target is stored verbatim (relative or absolute)."""
        self._put(path, Entry("symlink", 0o777, target=target))

    def add_host_path(self, path: str) -> None:
        """Add a host file, reproducing the chain of symlinks that leads to it.

        Shared libraries are found through names like ``libz.so.1 -> libz.so.1.2.13`` and the
        loader through ``/lib64/ld-linux-x86-64.so.2 -> /lib/...``; the image needs the
        same names, not just the final file.
        """
        for _ in range(40):  # symlink loop guard
            rel = self.norm(path)
            if rel in self.entries:
                return
            if not os.path.islink(path):
                self.add_file(path, path)
                return
            target = os.readlink(path)
            self.add_symlink(path, target)
            path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        raise LayoutError(f"symlink loop at {path}")

    def add_tree(self, dest: str, source_dir: str, skip_dirs: frozenset = frozenset()) -> None:
        """Copy a host directory tree (following file symlinks, skipping __pycache__ and
        ``skip_dirs`` names)."""
        skip = skip_dirs | {"__pycache__"}
        for root, dirs, files in os.walk(source_dir):
            dirs[:] = sorted(d for d in dirs if d not in skip)
            rel_root = os.path.relpath(root, source_dir)
            for name in sorted(files):
                if name.endswith((".pyc", ".pyo")):
                    continue
                self.add_file(posixpath.join(dest, rel_root, name), os.path.join(root, name))

    # ------------------------------------------------------------------------------- output

    def _complete(self) -> dict[str, Entry]:
        """Entries plus every implied parent directory."""
        full = dict(self.entries)
        for rel in self.entries:
            parent = posixpath.dirname(rel)
            while parent:
                existing = full.get(parent)
                if existing is None:
                    full[parent] = Entry("dir")
                elif existing.kind != "dir":
                    raise LayoutError(f"/{parent} is a {existing.kind} but /{rel} is inside it")
                parent = posixpath.dirname(parent)
        return full

    def items(self) -> Iterator[tuple]:
        """(path, entry) pairs in tar order: every parent before its children."""
        return iter(sorted(self._complete().items()))

    def digest(self) -> str:
        """SHA-256 over paths, kinds, modes, link targets and file contents."""
        hasher = hashlib.sha256()
        for rel, entry in self.items():
            hasher.update(f"{rel}\0{entry.kind}\0{entry.mode:o}\0{entry.target or ''}\0".encode())
            if entry.kind == "file":
                hasher.update(_content_hash(entry).encode())
            hasher.update(b"\n")
        return hasher.hexdigest()

    def size(self) -> int:
        """Total bytes of file content (before compression), for reporting."""
        return sum(_content_size(e) for _, e in self.items() if e.kind == "file")

    def write_tar(self, archive: tarfile.TarFile, prefix: str) -> None:
        """Add every entry under ``prefix/`` to an open tar archive, owned by root."""
        for rel, entry in self.items():
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.mode, info.uid, info.gid = entry.mode, 0, 0
            info.uname = info.gname = "root"
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.target or ""
                archive.addfile(info)
            else:
                _add_file(archive, info, entry)


def _add_file(archive: tarfile.TarFile, info: tarfile.TarInfo, entry: Entry) -> None:
    """Write a file member, keeping the host mtime: stdlib .pyc files record their source's
    mtime, and a changed mtime would make Python ignore every cached bytecode file."""
    if entry.data is not None:
        info.size = len(entry.data)
        archive.addfile(info, io.BytesIO(entry.data))
        return
    assert entry.source is not None
    st = os.stat(entry.source)
    info.size, info.mtime = st.st_size, int(st.st_mtime)
    with open(entry.source, "rb") as handle:
        archive.addfile(info, handle)


_HASH_CACHE: dict[str, str] = {}


def _content_hash(entry: Entry) -> str:
    """SHA-256 of a file entry's content (cached per host path for this process)."""
    if entry.data is not None:
        return hashlib.sha256(entry.data).hexdigest()
    assert entry.source is not None
    cached = _HASH_CACHE.get(entry.source)
    if cached is None:
        with open(entry.source, "rb") as handle:
            cached = _HASH_CACHE[entry.source] = _file_digest(handle)
    return cached


def _file_digest(handle: BinaryIO) -> str:
    hasher = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        hasher.update(block)
    return hasher.hexdigest()


def _content_size(entry: Entry) -> int:
    if entry.data is not None:
        return len(entry.data)
    return os.path.getsize(entry.source or "")
