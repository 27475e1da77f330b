"""The ``abaco`` command: every call of the Abaco API from the shell.

Configuration: ``--url``/``--token`` (and friends) beat ``ABACO_URL``/``ABACO_TOKEN``, which beat the profile
file ``~/.abaco/config`` (``abaco profile set``). Exit codes are listed in ``abaco_cli.output`` and the user
guide; ``abaco --install-completion`` installs shell completion.
"""
from __future__ import annotations

import sys
from typing import Annotated

import typer
from abaco_sdk import AbacoError, config

from abaco_cli import actors_cmd, output, roles_cmd, run_cmd, sharing_cmd
from abaco_cli.context import JsonOpt, State, config_path_text, state, want_json

HELP = """Abaco actors from the shell: register an actor, send it messages, follow its executions.

Exit codes: 0 ok, 2 usage or configuration, 3 not found, 4 refused by the API (invalid or not """ \
       """authorized), 5 execution ended in ERROR, 6 timed out waiting, 7 API unreachable or failing."""

app = typer.Typer(name="abaco", help=HELP, no_args_is_help=True, add_completion=True,
                  context_settings={"help_option_names": ["-h", "--help"]}, pretty_exceptions_enable=False)
profile_app = typer.Typer(help="Saved connection settings (~/.abaco/config).", no_args_is_help=True)

app.add_typer(actors_cmd.app, name="actors")
app.command("send")(run_cmd.send)
app.add_typer(run_cmd.executions_app, name="executions")
app.command("logs")(run_cmd.logs)
app.add_typer(sharing_cmd.workers_app, name="workers")
app.add_typer(sharing_cmd.aliases_app, name="aliases")
app.add_typer(sharing_cmd.nonces_app, name="nonces")
app.add_typer(sharing_cmd.permissions_app, name="permissions")
app.add_typer(sharing_cmd.configs_app, name="configs")
app.add_typer(sharing_cmd.state_app, name="state")
app.command("search")(sharing_cmd.search)
app.add_typer(roles_cmd.roles_app, name="roles")
app.add_typer(profile_app, name="profile")


@app.callback()
def main_options(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option("--url", help="API base URL (env ABACO_URL).")] = None,
    token: Annotated[str | None, typer.Option("--token", help="JWT or access token (env ABACO_TOKEN).")] = None,
    jwt_header: Annotated[str | None, typer.Option("--jwt-header", help="Send the token in this header, e.g. "
                                                   "X-Jwt-Assertion-DEV-DEVELOP (env ABACO_JWT_HEADER).")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Tenant header (env ABACO_TENANT).")] = None,
    nonce: Annotated[str | None, typer.Option("--nonce", help="Authenticate with a nonce (env ABACO_NONCE).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Profile of ~/.abaco/config "
                                                "(env ABACO_PROFILE).")] = None,
    as_json: JsonOpt = False,
) -> None:
    ctx.obj = State(profile=profile, json=as_json,
                    overrides={"url": url, "token": token, "jwt_header": jwt_header, "tenant": tenant,
                               "nonce": nonce})


@profile_app.command("set")
def profile_set(ctx: typer.Context,
                name: Annotated[str, typer.Option("--name", help="Profile name.")] = config.DEFAULT_PROFILE) -> None:
    """Save --url/--token/--jwt-header/--tenant/--nonce (given before 'profile') as a profile."""
    current = state(ctx)
    existing = config.read_profile(name) if config.config_path().exists() else config.Profile()
    merged = existing.merged(**current.overrides)
    path = config.write_profile(merged, name)
    output.plain(f"saved profile '{name}' in {path}")


@profile_app.command("show")
def profile_show(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The settings the CLI would use now (credentials masked)."""
    current = state(ctx)
    resolved = config.resolve(current.profile, **current.overrides)
    shown = {"config_file": config_path_text(), "url": resolved.url, "tenant": resolved.tenant,
             "jwt_header": resolved.jwt_header, "token": "***" if resolved.token else None,
             "nonce": "***" if resolved.nonce else None}
    if want_json(ctx, as_json):
        output.emit_json(shown)
    else:
        output.fields(shown, list(shown))


def main() -> None:
    """Console entry point: SDK errors become a one-line message and a documented exit code."""
    try:
        app()
    except AbacoError as exc:
        output.error(exc)
        sys.exit(output.exit_code_for(exc))
    except KeyboardInterrupt:
        output.err.print("abaco: interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
