"""The container engine behind a small interface (``Engine``); the real one talks to the Docker engine.

Nothing else in the runner imports ``docker``; the per-message steps see only ``Engine``, so the model
tests drive them with an in-memory engine (``tests/fake_engine.py``). Hardening defaults follow the
reliability plan §3.2.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from urllib3._collections import RecentlyUsedContainer

from runners.pipeline import pulls

# A slow or restarting engine surfaces as requests' timeouts and connection errors, not the SDK's own:
# removing and listing translate both (a runner died at start-up reaping orphans on a wedged engine).
SLOW_ENGINE_ERRORS = (DockerException, requests.exceptions.RequestException)
LABEL_RUNNER = "org.abaco.runner"
LABEL_EXECUTION = "org.abaco.execution"
LABEL_ACTOR = "org.abaco.actor"
LABEL_ATTEMPT = "org.abaco.attempt"
LABEL_TENANT = "org.abaco.tenant"
LABEL_WARM = "org.abaco.warm"  # a pre-started container waiting for its message (value: the actor's dbid)
LOG_MAX_SIZE = "10m"  # json-file cap per container (reliability plan §3.2)
NOFILE = 1024  # OpenWhisk's nofile ulimit
HOSTS_PATH = "/etc/hosts"
# What Docker writes into /etc/hosts of a container on the "none" network (no address, so no own name).
NO_NETWORK_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                    "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
LOG = logging.getLogger("abaco.runner")
# Idle engine connections kept per client: the URLs one execution repeats (wait, inspect) stay pooled.
ENGINE_IDLE_POOLS = 4


class EngineError(Exception):
    """The engine could not do what was asked (image missing, create or start failed, engine down)."""


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    environment: dict[str, str]
    labels: dict[str, str]
    network_mode: str = "none"
    mem_limit: str | None = None
    nano_cpus: int | None = None
    pids_limit: int = 256
    user: str | None = None
    privileged: bool = False
    binds: dict[str, dict[str, str]] = field(default_factory=dict)
    read_only: bool = False  # a read-only root filesystem (ABACO_CONTAINER_READ_ONLY)
    tmpfs: dict[str, str] = field(default_factory=dict)  # path -> mount options (the writable scratch space)
    hosts_file: str | None = None  # with network "none": the host file mounted at /etc/hosts (see create)
    name: str | None = None
    entrypoint: list[str] | None = None  # None: the image's own (a warm container runs the entry shim)
    command: list[str] | None = None


@dataclass(frozen=True)
class ExitState:
    exit_code: int
    state: dict[str, Any]


class Engine(Protocol):
    """What running one execution's container needs from an engine (``DockerEngine`` has more: images,
    listing by label, its version, for the worker, the warm pool and the host)."""

    def create(self, spec: ContainerSpec) -> str: ...

    def attach_output(self, cid: str) -> Iterator[bytes]: ...

    def start(self, cid: str) -> None: ...

    def stats(self, cid: str) -> Iterator[dict[str, Any]]: ...

    def wait(self, cid: str, timeout: float) -> bool: ...

    def signal(self, cid: str, signum: str) -> None: ...

    def inspect_state(self, cid: str) -> ExitState: ...

    def remove(self, cid: str) -> None: ...


class DockerEngine:
    """One engine client per worker thread; the Docker SDK client is not shared across threads."""

    def __init__(self, base_url: str | None = None) -> None:
        try:
            self._client = docker.DockerClient(base_url=base_url) if base_url else docker.from_env()
        except DockerException as exc:
            raise EngineError(f"cannot reach the Docker engine: {exc}") from exc
        self._api = self._client.api
        _bound_idle_connections(self._api)
        if str(self._api.base_url).startswith("http+docker://"):  # the engine's Unix socket: no proxy applies
            # requests otherwise scans the whole environment for proxy settings on every engine call (a
            # dozen per execution; 9% of the runner's CPU in bench/results/profiles/)
            self._api.trust_env = False
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return str(self._api.base_url)

    def ensure_image(self, image: str, pull: bool = False, verify: bool = False, retries: int = 0,
                     backoff: float = 1.0) -> None:
        """The image must be present locally; with ``pull``, pull it when it is not, and with ``verify`` pull
        even when it is (a registry check: ``runners/pipeline/pull_checks.py``). A missing image raises
        ``pulls.ImageMissing``; a registry still failing after ``retries`` more tries (with backoff)
        ``pulls.TransientPullError`` (``runners/pipeline/pulls.py``). Errors name the image only: the
        engine's own text (registry addresses, auth answers) goes to the runner's log, never into the
        actor's status that its users read."""
        present = True
        try:
            self._client.images.get(image)
        except ImageNotFound:
            present = False
        except DockerException as exc:
            LOG.warning("cannot inspect image %s: %s", image, exc)
            raise EngineError(f"image {image} could not be inspected on this runner host") from exc
        if present and not verify:
            return
        if not pull:
            raise EngineError(f"image {image} is not available on this runner host (pulling is disabled: "
                              "ABACO_PULL_IMAGES=false)")
        pulls.pull(lambda: self._client.images.pull(image), _pull_error, image, retries, backoff)

    def has_image(self, image: str) -> bool:
        try:
            self._client.images.get(image)
            return True
        except ImageNotFound:
            return False
        except DockerException as exc:
            LOG.warning("cannot inspect image %s: %s", image, exc)
            raise EngineError(f"image {image} could not be inspected on this runner host") from exc

    def import_rootfs(self, tar: bytes, repository: str, tag: str) -> None:
        """An image whose root file system is ``tar`` (``docker import``): no registry involved."""
        try:
            self._api.import_image_from_data(tar, repository=repository, tag=tag)
        except DockerException as exc:
            raise EngineError(f"could not import image {repository}:{tag}: {exc}") from exc

    def network(self, name: str) -> dict[str, Any] | None:
        """``docker network inspect`` of the network with exactly this name, or None."""
        try:
            found = [n for n in self._api.networks(names=[name]) if n.get("Name") == name]
            return dict(self._api.inspect_network(found[0]["Id"])) if found else None
        except DockerException as exc:
            raise EngineError(f"cannot inspect network {name}: {exc}") from exc

    def create_network(self, name: str, options: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
        """A bridge network (IPv4 only) with these driver options; returns its inspection."""
        try:
            created = self._api.create_network(name, driver="bridge", options=options, labels=labels,
                                               enable_ipv6=False, check_duplicate=True)
            return dict(self._api.inspect_network(created["Id"]))
        except DockerException as exc:
            raise EngineError(f"cannot create network {name}: {exc}") from exc

    def image_config(self, image: str) -> dict[str, Any]:
        """The image's ``Config`` (Entrypoint, Cmd, Env, WorkingDir, User): what a cold start would run."""
        try:
            return dict(self._api.inspect_image(image).get("Config") or {})
        except DockerException as exc:
            raise EngineError(f"cannot inspect image {image}: {exc}") from exc

    def version_info(self) -> dict[str, Any]:
        """``docker version``: the engine and its components (containerd, runc) with their versions."""
        try:
            return dict(self._api.version())
        except DockerException as exc:
            raise EngineError(f"cannot read the engine's version: {exc}") from exc

    def create(self, spec: ContainerSpec) -> str:
        """A created container. On the "none" network the container gets Docker's ``NetworkDisabled``:
        no libnetwork sandbox or endpoint at all, only its own loopback. That is the same isolation, about
        half the start time here, and it keeps containers out of a libnetwork lock-order deadlock of
        Debian's Docker 20.10 (moby/moby#46661: a container's exit cleanup racing the controller's
        endpoint watch wedges the daemon under churn). Docker then writes no /etc/hosts, so the runner
        mounts one with the lines Docker would have written (read-only)."""
        disabled = spec.network_mode == "none"
        binds = dict(spec.binds)
        if disabled and spec.hosts_file:
            binds[ensure_hosts_file(spec.hosts_file)] = {"bind": HOSTS_PATH, "mode": "ro"}
        host_config = self._api.create_host_config(
            network_mode=spec.network_mode,
            cap_drop=[] if spec.privileged else ["ALL"],
            security_opt=[] if spec.privileged else ["no-new-privileges:true"],
            privileged=spec.privileged,
            pids_limit=spec.pids_limit,
            mem_limit=spec.mem_limit,
            memswap_limit=spec.mem_limit,
            nano_cpus=spec.nano_cpus,
            binds=binds or None,
            read_only=spec.read_only,
            tmpfs=spec.tmpfs or None,
            ulimits=[docker.types.Ulimit(name="nofile", soft=NOFILE, hard=NOFILE)],
            log_config=docker.types.LogConfig(type="json-file", config={"max-size": LOG_MAX_SIZE}),
        )
        try:
            created = self._api.create_container(
                image=spec.image, environment=spec.environment, labels=spec.labels, user=spec.user or "",
                host_config=host_config, name=spec.name, detach=True, entrypoint=spec.entrypoint,
                command=spec.command, network_disabled=disabled)
        except DockerException as exc:
            raise EngineError(f"could not create a container from {spec.image}: {exc}") from exc
        return str(created["Id"])

    def start(self, cid: str) -> None:
        try:
            self._api.start(cid)
        except DockerException as exc:
            raise EngineError(f"could not start container {cid[:12]}: {exc}") from exc

    def attach_output(self, cid: str) -> OutputStream:
        """stdout and stderr as they come, until the container exits. Attach *before* start: a log
        stream opened on a created container ends at once, and attaching later can miss early output.
        The caller closes it (``close_output``) when the execution is over."""
        return OutputStream(self._api.attach(cid, stdout=True, stderr=True, stream=True, logs=True))

    def stats(self, cid: str) -> Iterator[dict[str, Any]]:
        return self._api.stats(cid, stream=True, decode=True)

    def wait(self, cid: str, timeout: float) -> bool:
        """True when the container has exited, False if still running after ``timeout`` seconds."""
        try:
            self._api.wait(cid, timeout=timeout)
            return True
        except Exception as exc:  # requests' ReadTimeout / ConnectionError surface as different types
            if _is_timeout(exc):
                return False
            raise EngineError(f"waiting on container {cid[:12]} failed: {exc}") from exc

    def inspect_state(self, cid: str) -> ExitState:
        try:
            state = self._api.inspect_container(cid)["State"]
        except DockerException as exc:
            raise EngineError(f"cannot inspect container {cid[:12]}: {exc}") from exc
        return ExitState(exit_code=int(state.get("ExitCode", -1)), state=state)

    def stop(self, cid: str, grace_seconds: int = 5) -> None:
        try:
            self._api.stop(cid, timeout=grace_seconds)
        except NotFound:
            pass
        except DockerException as exc:
            raise EngineError(f"cannot stop container {cid[:12]}: {exc}") from exc

    def signal(self, cid: str, signum: str) -> None:
        """Send a signal without waiting (``stop`` blocks for its grace period)."""
        try:
            self._api.kill(cid, signal=signum)
        except NotFound:
            pass
        except DockerException as exc:
            if "is not running" not in str(exc):
                raise EngineError(f"cannot signal container {cid[:12]}: {exc}") from exc

    def remove(self, cid: str) -> None:
        try:
            self._api.remove_container(cid, force=True)
        except NotFound:
            pass
        except SLOW_ENGINE_ERRORS as exc:
            if not isinstance(exc, APIError) or "already in progress" not in str(exc):
                raise EngineError(f"cannot remove container {cid[:12]}: {exc}") from exc

    def labelled(self, label: str, value: str | None = None) -> list[dict[str, Any]]:
        """Containers (running or not) that carry ``label`` (with ``value``, when given)."""
        selector = label if value is None else f"{label}={value}"
        try:
            return list(self._api.containers(all=True, filters={"label": selector}))
        except SLOW_ENGINE_ERRORS as exc:
            raise EngineError(f"cannot list containers labelled {selector}: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _pull_error(exc: Exception) -> tuple[int | None, str]:
    """The HTTP status and the engine's explanation of a failed pull (requests' timeouts have neither)."""
    if isinstance(exc, APIError):
        return exc.status_code, str(exc.explanation or exc)
    return None, f"{type(exc).__name__}: {exc}"


def ensure_hosts_file(path: str) -> str:
    """Write ``NO_NETWORK_HOSTS`` to ``path`` once (atomically: concurrent workers may race here)."""
    target = Path(path)
    try:
        if target.read_text() == NO_NETWORK_HOSTS:
            return path
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
    partial.write_text(NO_NETWORK_HOSTS)
    os.chmod(partial, 0o644)
    os.replace(partial, target)
    return path


class OutputStream:
    """A container's attach stream that gives its connection back when closed.

    The SDK's stream keeps the hijacked connection in a reference cycle (its socket holds the response,
    which holds the socket), so without an explicit close each execution left one descriptor and one
    engine connection open until Python's cyclic garbage collector happened to run: the soak test
    (T28) saw the runner's descriptors drift by dozens between quiet points. ``close`` shuts the socket
    down (a reader blocked on it returns) and closes the response, which releases the descriptor."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._closed = False

    def __iter__(self) -> OutputStream:
        return self

    def __next__(self) -> bytes:
        return next(self._stream)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for close in (getattr(self._stream, "close", None),
                      getattr(getattr(self._stream, "_response", None), "close", None)):
            if close is None:
                continue
            try:
                close()
            except (OSError, ValueError, DockerException) as exc:  # already closed by the other end
                LOG.debug("closing an attach stream: %s", exc)


def _bound_idle_connections(api: docker.APIClient) -> None:
    """Keep at most ENGINE_IDLE_POOLS idle connections per client.

    The SDK's Unix-socket adapter keys its connection pools by the full URL, and every container has its
    own URLs, so a client kept an idle connection for each of the last 25 URLs it used (its
    ``num_pools`` argument is ignored for Unix sockets). With two clients per worker that is 50 engine
    connections and descriptors per slot, enough to exhaust a runner's ``ulimit -n`` of 1024 at 20 slots;
    the soak test (T28) saw the descriptors climb by dozens over a few hundred executions. An evicted
    pool is closed (the SDK's own dispose function), so the bound is real."""
    adapter = api.get_adapter(api.base_url)
    pools = getattr(adapter, "pools", None)
    if not isinstance(pools, RecentlyUsedContainer):  # another transport (TCP, SSH): its own pooling
        return
    adapter.pools = RecentlyUsedContainer(ENGINE_IDLE_POOLS, dispose_func=lambda pool: pool.close())
    pools.clear()  # closes the pools opened so far (the version negotiation's)


def close_output(stream: Iterator[bytes] | None) -> None:
    """Close a container's output stream if it can be closed (engine fakes in tests hand out plain
    iterators); closing twice is harmless."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def _is_timeout(exc: Exception) -> bool:
    name = type(exc).__name__
    text = str(exc)
    return "Timeout" in name or "timed out" in text or "Read timed out" in text
