"""Image pulls that survive a registry's bad minute (issue 15): only "no such image" is the actor's fault.

Docker Hub answers 429 when its pull rate limit is reached, registries have 5xx minutes, and networks time
out; the engine reports all of them as a failed pull. Putting the actor in ERROR for any of them (as every
failed pull did) turned a registry's hiccup into an outage the owner had to repair by hand. Here:

* a missing image or tag, or a repository we may not read, is permanent: the actor goes to ERROR, as before;
* anything else (429, 5xx, timeouts, connection errors) is retried with exponential backoff
  (``ABACO_PULL_RETRIES`` attempts after the first, ``ABACO_PULL_BACKOFF_SECONDS`` doubling); when the
  registry is still failing the worker gives up this start *without* touching the actor, and the actor's
  next message (or the autoscaler) asks for a worker again.

``classify`` is pure logic over the engine's error text and HTTP status; ``pull`` loops over one engine.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("abaco.runner")
MAX_BACKOFF_SECONDS = 60.0
# What the Docker engine says when the image really is not there (or not ours to read): never retried.
MISSING = ("manifest unknown", "not found", "no such image", "repository does not exist",
           "pull access denied", "name unknown", "invalid reference format", "unauthorized")
TRANSIENT_STATUS = (408, 425, 429, 500, 502, 503, 504)


class TransientPullError(Exception):
    """The registry did not deliver the image, for reasons that are not the image's: try again later."""


class ImageMissing(Exception):
    """The image (or tag) does not exist, or may not be read: the actor cannot run."""


def classify(status: int | None, text: str) -> str:
    """``missing`` or ``transient`` for a failed pull (``status``: the engine's HTTP status, if any)."""
    lowered = text.lower()
    if status == 404 or any(fragment in lowered for fragment in MISSING):
        return "missing"
    return "transient"


def pull(attempt: Callable[[], Any], describe: Callable[[Exception], tuple[int | None, str]], image: str,
         retries: int, backoff: float, sleep: Callable[[float], None] = time.sleep) -> None:
    """Call ``attempt`` (one pull) until it succeeds, a missing image is reported, or ``retries`` more
    attempts failed transiently; ``describe`` turns an error into (status, text) for ``classify``."""
    delay = backoff
    for number in range(retries + 1):
        try:
            attempt()
            return
        except Exception as exc:  # classified below; anything unknown counts as transient
            status, text = describe(exc)
            if classify(status, text) == "missing":  # the engine's text to our log only (docs/security.md)
                LOG.warning("pull of %s: no such image: %s", image, text[:500])
                raise ImageMissing(f"image {image} does not exist or may not be pulled") from exc
            if number == retries:
                LOG.warning("pull of %s failed %d times: %s", image, retries + 1, text[:500])
                raise TransientPullError(f"image {image} could not be pulled after {retries + 1} attempts "
                                         "(the registry may be rate limiting or failing)") from exc
            LOG.warning("pulling %s failed (%s); retrying in %.1f s", image, text[:200], delay)
            sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
