"""What container an execution gets, and whether this runner may run it (reliability plan §3.2, §3.3).

Pure logic, so the security properties are checked by unit tests and by inspecting real containers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from chalicelib.domain.models import Actor, Execution
from runners.pipeline import delivery, image_check, network
from runners.pipeline.engine import (
    LABEL_ACTOR,
    LABEL_ATTEMPT,
    LABEL_EXECUTION,
    LABEL_RUNNER,
    LABEL_TENANT,
    ContainerSpec,
)

DOCKER_SOCKET = "/var/run/docker.sock"
HOSTS_FILE = "hosts"  # under the runner's work root, beside the per-worker directories
SCRATCH_PATH = "/tmp"  # the one writable directory of a read-only container
SCRATCH_OPTIONS = "rw,noexec,nosuid"  # no programs or set-uid files from the scratch space (reliability plan §3.2)


def privilege_refusal(actor: Actor, runner_privileged: bool) -> str | None:
    """Why this runner must not run ``actor`` (None when it may): privileged actors need a runner flagged
    ``ABACO_RUNNER_PRIVILEGED``, whatever pool their command came through."""
    if actor.privileged and not runner_privileged:
        return "privileged actors run only on a runner with ABACO_RUNNER_PRIVILEGED=true"
    return None


def container_spec(actor: Actor, execution: Execution, env: dict[str, str], settings: Any,
                   runner_id: str, binds: dict[str, dict[str, str]] | None = None) -> ContainerSpec:
    """The container of one execution: hardened unless the actor is privileged.

    The user is the actor's uid:gid, else the configured non-root default; only ``use_container_uid``
    (which only admins and the privileged role may set) keeps the image's own user. The Docker socket
    is mounted for privileged actors only (as Abaco does), never for anyone else; ``binds`` are the
    runner's own per-execution mounts (results socket, binary message), which never name the socket.
    """
    user = container_user(actor, settings)
    binds = {k: v for k, v in (binds or {}).items() if v.get("bind") != DOCKER_SOCKET}
    if actor.privileged:
        binds[docker_socket(settings.docker_url)] = {"bind": DOCKER_SOCKET, "mode": "rw"}
    return ContainerSpec(
        image=actor.image, environment=env, network_mode=network.network_mode(settings),
        mem_limit=actor.mem_limit or settings.mem_limit,
        nano_cpus=actor.max_cpus or settings.max_cpus, pids_limit=settings.pids_limit, user=user,
        privileged=actor.privileged, binds=binds, **_filesystem(actor, settings),
        hosts_file=str(hosts_file(settings)) if settings.container_network == "none" else None,
        labels={LABEL_RUNNER: runner_id, LABEL_EXECUTION: execution.id, LABEL_ACTOR: actor.id,
                LABEL_ATTEMPT: str(execution.attempt), LABEL_TENANT: actor.tenant})


def hosts_file(settings: Any) -> Path:
    """The runner host's one /etc/hosts for containers without a network (``engine.ensure_hosts_file``)."""
    return delivery.work_root(settings.runner_work_dir) / HOSTS_FILE


def container_user(actor: Actor, settings: Any) -> str | None:
    """The uid:gid a container runs as; None (or empty ``ABACO_CONTAINER_USER``) means the image's own."""
    if actor.use_container_uid:
        return None
    return f"{actor.uid}:{actor.gid or actor.uid}" if actor.uid else settings.container_user


def may_run_as_root(actor: Actor) -> bool:
    """Only ``use_container_uid`` and privileged actors (fields only admins and the privileged role set)."""
    return actor.use_container_uid or actor.privileged


def image_refusal(config: dict[str, Any], actor: Actor, settings: Any) -> str | None:
    """The image pre-check (``runners.pipeline.image_check``) for this actor's container."""
    return image_check.refusal(config, container_user(actor, settings), may_run_as_root(actor))


def _filesystem(actor: Actor, settings: Any) -> dict[str, Any]:
    """A read-only root with a tmpfs on /tmp (``ABACO_CONTAINER_READ_ONLY``); privileged actors keep
    Abaco's writable root, as they keep the other defaults Abaco gave them."""
    if actor.privileged or not settings.container_read_only:
        return {}
    return {"read_only": True,
            "tmpfs": {SCRATCH_PATH: f"{SCRATCH_OPTIONS},size={settings.container_tmpfs_size}"}}


def docker_socket(docker_url: str | None) -> str:
    if docker_url and docker_url.startswith("unix://"):
        return docker_url[len("unix://"):]
    return DOCKER_SOCKET
