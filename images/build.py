"""Build the sample actor images locally and offline: ``python -m images.build``.

No registry is reachable, so every image is built ``FROM scratch`` (or from another sample
image) out of host files. Each image carries a label with a hash of everything that went into
it; an image whose label already matches is left alone, so a run with nothing changed only
costs the hashing (well under a few seconds) and ``make test`` can call this every time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
import tempfile
import time
from typing import BinaryIO

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound

from images.layout import Layout, LayoutError
from images.specs import SPECS, ImageSpec

HASH_LABEL = "org.abaco.build-hash"
BUILD_FORMAT = "1"  # bump to force a rebuild when the build process changes (e.g. tar layout)
DOCKER_TIMEOUT = 600


class ImageBuildFailed(Exception):
    """One image could not be built; the message says which and why."""


def build_hash(spec: ImageSpec, layout: Layout, base_hash: str) -> str:
    """Hash of the build inputs: Dockerfile, every file of the layout, and the base image's hash."""
    hasher = hashlib.sha256()
    for part in (BUILD_FORMAT, spec.name, base_hash, spec.dockerfile(), layout.digest()):
        hasher.update(part.encode() + b"\0")
    return hasher.hexdigest()


def existing_hash(client: docker.DockerClient, name: str) -> str | None:
    """The build hash recorded on the local image ``name``, or None if absent/unlabelled."""
    try:
        image = client.images.get(name)
    except ImageNotFound:
        return None
    return (image.labels or {}).get(HASH_LABEL)


def write_context(context: BinaryIO, spec: ImageSpec, layout: Layout) -> None:
    """Write ``Dockerfile`` + ``rootfs/`` as a tar archive (the build context) to ``context``."""
    with tarfile.open(fileobj=context, mode="w") as archive:
        dockerfile = spec.dockerfile().encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mode = len(dockerfile), 0o644
        archive.addfile(info, io.BytesIO(dockerfile))
        root = tarfile.TarInfo("rootfs")
        root.type, root.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(root)
        layout.write_tar(archive, "rootfs")
    context.seek(0)


def build_image(client: docker.DockerClient, spec: ImageSpec, layout: Layout, digest: str,
                nocache: bool = False) -> None:
    """Run ``docker build`` on the generated context, tagging and labelling the result."""
    with tempfile.TemporaryFile(prefix="abaco-image-", suffix=".tar") as context:
        write_context(context, spec, layout)
        try:
            client.images.build(
                fileobj=context, custom_context=True, tag=spec.name, labels={HASH_LABEL: digest},
                rm=True, forcerm=True, pull=False, network_mode="none", nocache=nocache,
            )
        except BuildError as exc:
            tail = "".join(str(item.get("stream") or item.get("error") or "")
                           for item in list(exc.build_log)[-10:])
            raise ImageBuildFailed(f"docker build of {spec.name} failed: {exc.msg}\n{tail}") from exc
        except APIError as exc:
            raise ImageBuildFailed(f"docker build of {spec.name} failed: {exc}") from exc


def prune_superseded(client: docker.DockerClient) -> None:
    """Remove old, now untagged versions of our images so rebuilds do not pile up."""
    try:
        client.images.prune(filters={"dangling": True, "label": HASH_LABEL})
    except DockerException as exc:  # cleanup is best effort
        print(f"images: could not prune old images: {exc}", file=sys.stderr)


def process(client: docker.DockerClient, spec: ImageSpec, base_hash: str,
            force: bool) -> tuple[str, bool]:
    """Build ``spec`` if its inputs changed; print one status line; return (hash, built)."""
    started = time.monotonic()
    try:
        layout, warnings = spec.make_layout()
    except (LayoutError, OSError) as exc:
        raise ImageBuildFailed(f"cannot assemble {spec.name}: {exc}") from exc
    digest = build_hash(spec, layout, base_hash)
    if spec.base != "scratch" and existing_hash(client, spec.base) is None:
        # Without this check docker build would try to pull the base from a registry.
        raise ImageBuildFailed(f"base image {spec.base} of {spec.name} is not built")
    built = force or existing_hash(client, spec.name) != digest
    if not built:
        status = "up to date"
    else:
        build_image(client, spec, layout, digest, nocache=force)
        status = "built"
        for warning in warnings:
            print(f"images: {spec.name}: {warning}", file=sys.stderr)
    size = client.images.get(spec.name).attrs.get("Size", 0)
    elapsed = time.monotonic() - started
    print(f"{spec.name:26} {status:10} {size / 1e6:7.1f} MB  {elapsed:5.1f}s", flush=True)
    return digest, built


def selected(names: list[str]) -> list[ImageSpec]:
    """The specs to process: all, or the named ones plus the images they are built FROM."""
    if not names:
        return SPECS
    wanted = set(names)
    unknown = wanted - {spec.name for spec in SPECS}
    if unknown:
        raise ImageBuildFailed(f"unknown image(s): {', '.join(sorted(unknown))}")
    for spec in reversed(SPECS):
        if spec.name in wanted and spec.base != "scratch":
            wanted.add(spec.base)
    return [spec for spec in SPECS if spec.name in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images.build", description=__doc__)
    parser.add_argument("images", nargs="*", help="image names (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date, without the build cache")
    args = parser.parse_args(argv)
    started = time.monotonic()
    built_any = False
    try:
        client = docker.from_env(timeout=DOCKER_TIMEOUT)
        client.ping()
        hashes: dict[str, str] = {}
        for spec in selected(args.images):
            hashes[spec.name], built = process(client, spec, hashes.get(spec.base, ""), args.force)
            built_any = built_any or built
        if built_any:
            prune_superseded(client)
    except ImageBuildFailed as exc:
        print(f"images.build: error: {exc}", file=sys.stderr)
        return 1
    except DockerException as exc:
        print(f"images.build: error: Docker error: {exc} "
              "(is the engine running? see scripts/ensure-docker.sh)", file=sys.stderr)
        return 1
    print(f"images: done in {time.monotonic() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
