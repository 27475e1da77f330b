"""Where AWS is for a process started by hand: the configured endpoint, real credentials, or the local emulator.

``make run`` (``local/launcher.py``) sets ``AWS_ENDPOINT_URL`` and the emulator's test credentials for the
processes it starts; a runner started by hand beside it (``.venv/bin/python -m runners``, as the README
suggests) had neither and logged "Unable to locate credentials" on every poll. ``resolve`` runs before the
settings are read: with no endpoint and no credentials it looks for the local emulator on
127.0.0.1:``ABACO_EMULATOR_PORT`` (4566) and, when one answers, points the process at it with the emulator's
test credentials; otherwise it returns one line naming the variable to set.

Credentials are looked up without the instance-metadata provider (which would send a request to
169.254.169.254); a runner host in AWS (started by ``infrastructure/host/runner_env.py``, which sets
``ABACO_SSM_PATH``) keeps the SDK's full chain, instance role included.
"""
from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from dataclasses import dataclass

import botocore.session

EMULATOR_HOST = "127.0.0.1"
DEFAULT_EMULATOR_PORT = 4566  # local/emulator.py's default (LocalStack's port)
PROBE_TIMEOUT_S = 1.0
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # local/launcher.py's
AWS_HOST_MARKER = "ABACO_SSM_PATH"  # set on runner hosts in AWS (infrastructure/host/user-data.sh)


@dataclass(frozen=True)
class Resolution:
    """What ``resolve`` decided: ``problem`` is one line when the process cannot reach any AWS."""

    where: str
    problem: str | None = None


def emulator_port(env: MutableMapping[str, str]) -> int:
    try:
        return int(env.get("ABACO_EMULATOR_PORT") or DEFAULT_EMULATOR_PORT)
    except ValueError:
        return DEFAULT_EMULATOR_PORT


def emulator_answers(endpoint: str) -> bool:
    """The moto server answers ``/moto-api/`` (what ``local.emulator.wait_ready`` waits for)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=PROBE_TIMEOUT_S):  # loopback only
            return True
    except urllib.error.HTTPError:
        return True  # something HTTP answers there: take it for the emulator, its calls will say otherwise
    except OSError:
        return False


def has_credentials() -> bool:
    """Credentials from the process environment, the shared files, SSO or a container provider: never from
    instance metadata (a request to a link-local address)."""
    session = botocore.session.Session()
    resolver = session.get_component("credential_provider")
    resolver.remove("iam-role")
    try:
        return resolver.load_credentials() is not None
    except Exception:  # a broken profile: no usable credentials either way
        return False


def resolve(env: MutableMapping[str, str] = os.environ) -> Resolution:
    """Point ``env`` at the local emulator when nothing else is configured; never overrides a setting.
    (The SDK reads credentials from the process environment, so ``env`` is ``os.environ`` outside tests.)"""
    if env.get("AWS_ENDPOINT_URL"):
        return Resolution(f"the endpoint {env['AWS_ENDPOINT_URL']} (AWS_ENDPOINT_URL)")
    if has_credentials():
        return Resolution("AWS with the configured credentials")
    if env.get(AWS_HOST_MARKER):
        return Resolution("AWS with the instance role")
    port = emulator_port(env)
    endpoint = f"http://{EMULATOR_HOST}:{port}"
    if emulator_answers(endpoint):
        env["AWS_ENDPOINT_URL"] = endpoint
        for name, value in TEST_CREDENTIALS.items():
            env.setdefault(name, value)
        return Resolution(f"the local emulator at {endpoint} (found: AWS_ENDPOINT_URL was unset)")
    return Resolution("nowhere", problem=(
        f"no AWS endpoint, no AWS credentials and no local emulator on {EMULATOR_HOST}:{port}: start `make run` "
        f"(or set ABACO_EMULATOR_PORT to its emulator's port), or set AWS_ENDPOINT_URL=http://127.0.0.1:<port> "
        "for an emulator elsewhere, or AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID) for real AWS"))
