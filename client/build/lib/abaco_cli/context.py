"""The state every command shares: the resolved profile, the SDK client, and the ``--json`` switch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from abaco_sdk import Abaco, config

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (the API's result) instead of a table.")]


@dataclass
class State:
    """Global options given before the command (``abaco --url ... actors list``)."""

    profile: str | None = None
    overrides: dict[str, str | None] = field(default_factory=dict)
    json: bool = False
    _client: Abaco | None = None

    def client(self) -> Abaco:
        if self._client is None:
            self._client = Abaco(profile=self.profile, base_url=self.overrides.get("url"),
                                 access_token=self.overrides.get("token"),
                                 jwt_header=self.overrides.get("jwt_header"), tenant=self.overrides.get("tenant"),
                                 nonce=self.overrides.get("nonce"))
        return self._client


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def api(ctx: typer.Context) -> Any:
    """The SDK's ``actors`` namespace for this invocation."""
    return state(ctx).client().actors


def want_json(ctx: typer.Context, flag: bool) -> bool:
    """``--json`` given on the command or before it."""
    return flag or state(ctx).json


def parse_pairs(pairs: list[str] | None, what: str = "KEY=VALUE") -> dict[str, str]:
    """``["A=1", "B=x=y"]`` -> ``{"A": "1", "B": "x=y"}``; a pair without ``=`` is a usage error."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected {what}, got {pair!r}")
        result[key] = value
    return result


def complete_actor_id(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of actor ids (and names as help), from the configured API; silent on any failure."""
    try:
        actors = state(ctx).client().actors.list_actors()
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [a.get("id", "") for a in actors if str(a.get("id", "")).startswith(incomplete)]


def config_path_text() -> str:
    return str(config.config_path())
