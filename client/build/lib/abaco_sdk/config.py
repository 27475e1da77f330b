"""Where the client finds its base URL and credentials: arguments, then the environment, then a profile.

The profile file is INI (``~/.abaco/config`` or ``$ABACO_CONFIG``), one section per profile::

    [default]
    url = http://127.0.0.1:8000
    token = eyJhbGciOi...          ; sent as "Authorization: Bearer <token>"
    jwt_header = X-Jwt-Assertion-DEV-DEVELOP   ; optional: send the token in this header instead (Abaco v2)
    tenant = DEV-DEVELOP           ; optional: the "tenant" header (access_control=none)
    nonce = DEV-DEVELOP_aBcD...    ; optional: authenticate with a nonce (?x-nonce=)

Environment variables override the profile: ``ABACO_URL``, ``ABACO_TOKEN``, ``ABACO_JWT_HEADER``,
``ABACO_TENANT``, ``ABACO_NONCE``; ``ABACO_PROFILE`` picks the section (default ``default``).
"""
from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from abaco_sdk.errors import ConfigError

DEFAULT_PROFILE = "default"
DEFAULT_CONFIG_PATH = Path("~/.abaco/config")
# Environment variable -> profile key.
ENV_KEYS = {"ABACO_URL": "url", "ABACO_TOKEN": "token", "ABACO_JWT_HEADER": "jwt_header",
            "ABACO_TENANT": "tenant", "ABACO_NONCE": "nonce"}


@dataclass(frozen=True)
class Profile:
    """Everything needed to reach and authenticate to one Abaco API."""

    url: str | None = None
    token: str | None = None
    jwt_header: str | None = None
    tenant: str | None = None
    nonce: str | None = None

    def merged(self, **overrides: str | None) -> Profile:
        """A copy where every override that is not None wins."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def __repr__(self) -> str:  # never print a credential in clear text
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in ("token", "nonce"):
            if shown[secret]:
                shown[secret] = "***"
        return f"Profile({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("ABACO_CONFIG") or DEFAULT_CONFIG_PATH).expanduser()


def read_profile(name: str | None = None, path: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> Profile:
    """The named profile from the file (an empty one when the file is absent), before the environment."""
    env = os.environ if environ is None else environ
    path = path or config_path(env)
    wanted = name or env.get("ABACO_PROFILE") or DEFAULT_PROFILE
    if not path.exists():
        if name and name != DEFAULT_PROFILE:
            raise ConfigError(f"profile '{name}' not found: {path} does not exist")
        return Profile()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not parser.has_section(wanted):
        if wanted == DEFAULT_PROFILE:
            return Profile()
        raise ConfigError(f"profile '{wanted}' not found in {path}")
    section = parser[wanted]
    known = {f.name for f in fields(Profile)}
    return Profile(**{k: v for k, v in section.items() if k in known and v != ""})


def resolve(profile: str | None = None, environ: Mapping[str, str] | None = None,
            **overrides: str | None) -> Profile:
    """Arguments beat environment variables, which beat the profile file."""
    env = os.environ if environ is None else environ
    base = read_profile(profile, environ=env)
    from_env = {key: env[var] for var, key in ENV_KEYS.items() if env.get(var)}
    return base.merged(**from_env).merged(**overrides)


def write_profile(profile: Profile, name: str = DEFAULT_PROFILE, path: Path | None = None) -> Path:
    """Save a profile (used by ``abaco config set``); the file is made readable by its owner only."""
    path = path or config_path()
    parser = configparser.ConfigParser(interpolation=None)
    if path.exists():
        parser.read(path, encoding="utf-8")
    parser[name] = {f.name: getattr(profile, f.name) for f in fields(profile) if getattr(profile, f.name)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        parser.write(out)
    return path
