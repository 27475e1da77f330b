"""Whether any container of an image may start for an actor: the one question a worker asks before READY.

In order: the reference must name a real registry (``chalicelib/domain/images.py``: no localhost or IP
literals); the image must be on the host, pulled with retries when it is not (``runners/pipeline/pulls.py``),
and pulled again once per tenant when another tenant loaded it (``runners/pipeline/pull_checks.py``);
and its own config must pass the pre-check (``runners/pipeline/image_check.py`` through ``hardening``).
A registry that keeps failing raises ``pulls.TransientPullError``: the caller leaves the actor alone.
"""
from __future__ import annotations

from chalicelib.domain import images
from chalicelib.domain.models import Actor
from chalicelib.wiring.settings import Settings
from runners.pipeline import hardening, pull_checks, pulls
from runners.pipeline.engine import DockerEngine, EngineError


def problem(engine: DockerEngine, image: str, actor: Actor, settings: Settings) -> str | None:
    """Why no container of ``image`` may start for ``actor`` (missing, or ``image rejected: ...`` by the
    pre-check, reliability plan §3.2); None when it may."""
    refused = images.registry_problem(image, settings.allowed_registry_list)
    if refused:
        return f"image {image} {refused}"
    verify = settings.pull_images and pull_checks.CHECKS.needed(actor.tenant, image)
    try:
        engine.ensure_image(image, pull=settings.pull_images, verify=verify, retries=settings.pull_retries,
                            backoff=settings.pull_backoff_seconds)
        found = hardening.image_refusal(engine.image_config(image), actor, settings)
    except (EngineError, pulls.ImageMissing) as exc:
        return str(exc)
    if verify:
        pull_checks.CHECKS.passed(actor.tenant, image)
    return found
