"""``abaco roles``: the Tapis v3 roles the platform grants in the caller's tenant (admin only).

Tapis v3 tokens and actor tokens carry no roles; theirs come from these grants (or ABACO_ROLE_GRANTS),
read on every request, so a revocation holds from the next request on.
"""
from __future__ import annotations

from typing import Annotated, Any

import typer

from abaco_cli import output
from abaco_cli.context import JsonOpt, api, want_json

roles_app = typer.Typer(help="Granted roles (abaco_admin, abaco_privileged, abaco_limited): show, grant, revoke.",
                        no_args_is_help=True)
UserArg = Annotated[str, typer.Argument(help="User name in the caller's tenant.")]
COLUMNS = ("username", "tenant", "roles", "source", "granted_by", "granted_at")


def _show(ctx: typer.Context, as_json: bool, grant: dict[str, Any]) -> None:
    if want_json(ctx, as_json):
        output.emit_json(grant)
    else:
        output.fields({**grant, "roles": ",".join(grant.get("roles") or []) or "-"}, COLUMNS)


@roles_app.command("show")
def roles_show(ctx: typer.Context, user: UserArg, as_json: JsonOpt = False) -> None:
    """USER's granted roles and where they come from (api, settings or none)."""
    _show(ctx, as_json, api(ctx).get_roles(user))


@roles_app.command("grant")
def roles_grant(ctx: typer.Context, user: UserArg,
                roles: Annotated[list[str], typer.Argument(help="Role names, e.g. abaco_admin.")],
                as_json: JsonOpt = False) -> None:
    """Replace USER's granted roles with ROLES."""
    _show(ctx, as_json, api(ctx).grant_roles(user, roles))


@roles_app.command("revoke")
def roles_revoke(ctx: typer.Context, user: UserArg, as_json: JsonOpt = False) -> None:
    """Take every granted role from USER (from the next request on)."""
    _show(ctx, as_json, api(ctx).revoke_roles(user))
