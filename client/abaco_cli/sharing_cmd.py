"""``abaco workers | aliases | nonces | permissions | configs | state | search``."""
from __future__ import annotations

from typing import Annotated, Any

import typer

from abaco_cli import output
from abaco_cli.actors_cmd import ActorArg, parse_json_arg
from abaco_cli.context import JsonOpt, api, parse_pairs, want_json

workers_app = typer.Typer(help="An actor's workers: list, show, add, stop.", no_args_is_help=True)
aliases_app = typer.Typer(help="Aliases: stable names for actors.", no_args_is_help=True)
nonces_app = typer.Typer(help="Nonces: revocable keys to use one actor or alias.", no_args_is_help=True)
permissions_app = typer.Typer(help="Who may read, execute or update an actor, alias or config.",
                              no_args_is_help=True)
configs_app = typer.Typer(help="Configs and secrets delivered to actors in _actor_configs.", no_args_is_help=True)
state_app = typer.Typer(help="A stateful actor's state.", no_args_is_help=True)

AliasArg = Annotated[str, typer.Argument(help="Alias name.")]
ConfigArg = Annotated[str, typer.Argument(help="Config name.")]
OnAlias = Annotated[bool, typer.Option("--alias", help="The target is an alias (not an actor id).")]
Level = Annotated[str, typer.Option("--level", "-l", help="NONE, READ, EXECUTE or UPDATE.")]


def _show(ctx: typer.Context, as_json: bool, value: Any, columns: tuple[str, ...] = (), empty: str = "") -> None:
    """JSON, a table (lists), a FIELD/VALUE table (objects) or the text of a message."""
    if want_json(ctx, as_json):
        output.emit_json(value)
    elif isinstance(value, list):
        output.table(value, columns, empty=empty or "nothing to show")
    elif isinstance(value, dict):
        output.fields(value, columns)
    else:
        output.plain(str(value))


# --- workers ------------------------------------------------------------------------------------------

WORKER_COLUMNS = ("id", "status", "image", "host_id", "create_time", "last_execution_time")


@workers_app.command("list")
def workers_list(ctx: typer.Context, actor: ActorArg, as_json: JsonOpt = False) -> None:
    """The actor's workers and their status."""
    _show(ctx, as_json, api(ctx).list_workers(actor), WORKER_COLUMNS, "no workers")


@workers_app.command("show")
def workers_show(ctx: typer.Context, actor: ActorArg, worker: str, as_json: JsonOpt = False) -> None:
    _show(ctx, as_json, api(ctx).get_worker(actor, worker), WORKER_COLUMNS)


@workers_app.command("add")
def workers_add(ctx: typer.Context, actor: ActorArg,
                num: Annotated[int, typer.Option("--num", help="Ensure at least this many workers.")] = 1,
                as_json: JsonOpt = False) -> None:
    """Ensure at least NUM workers (admin)."""
    _show(ctx, as_json, api(ctx).manage_worker_pool_size(actor, num))


@workers_app.command("delete")
def workers_delete(ctx: typer.Context, actor: ActorArg, worker: str, as_json: JsonOpt = False) -> None:
    """Stop one worker."""
    _show(ctx, as_json, api(ctx).delete_worker(actor, worker))


# --- aliases ------------------------------------------------------------------------------------------

ALIAS_COLUMNS = ("alias", "actor_id", "owner")


@aliases_app.command("list")
def aliases_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    _show(ctx, as_json, api(ctx).list_aliases(), ALIAS_COLUMNS, "no aliases")


@aliases_app.command("create")
def aliases_create(ctx: typer.Context, alias: AliasArg, actor: ActorArg, as_json: JsonOpt = False) -> None:
    """Name ACTOR with ALIAS (use the alias wherever an actor id goes)."""
    _show(ctx, as_json, api(ctx).create_alias(alias, actor), ALIAS_COLUMNS)


@aliases_app.command("show")
def aliases_show(ctx: typer.Context, alias: AliasArg, as_json: JsonOpt = False) -> None:
    _show(ctx, as_json, api(ctx).get_alias(alias), ALIAS_COLUMNS)


@aliases_app.command("update")
def aliases_update(ctx: typer.Context, alias: AliasArg, actor: ActorArg, as_json: JsonOpt = False) -> None:
    """Point ALIAS at another actor."""
    _show(ctx, as_json, api(ctx).update_actor_alias(alias, actor), ALIAS_COLUMNS)


@aliases_app.command("delete")
def aliases_delete(ctx: typer.Context, alias: AliasArg, as_json: JsonOpt = False) -> None:
    _show(ctx, as_json, api(ctx).delete_alias(alias))


# --- nonces -------------------------------------------------------------------------------------------

NONCE_COLUMNS = ("id", "handle", "level", "max_uses", "remaining_uses", "current_uses", "description", "last_use_time")


@nonces_app.command("list")
def nonces_list(ctx: typer.Context, target: ActorArg, alias: OnAlias = False, as_json: JsonOpt = False) -> None:
    """Nonces of an actor (or of an alias with --alias)."""
    nonces = api(ctx).list_alias_nonces(target) if alias else api(ctx).list_nonces(target)
    _show(ctx, as_json, nonces, NONCE_COLUMNS, "no nonces")


@nonces_app.command("create")
def nonces_create(ctx: typer.Context, target: ActorArg, level: Level = "EXECUTE",
                  max_uses: Annotated[int, typer.Option("--max-uses", help="-1 for unlimited.")] = -1,
                  description: Annotated[str, typer.Option("--description", "-d")] = "",
                  alias: OnAlias = False, as_json: JsonOpt = False) -> None:
    """Create a nonce; prints its id (pass it as ?x-nonce=ID, or ABACO_NONCE for the CLI)."""
    client = api(ctx)
    nonce = (client.create_alias_nonce(target, level, max_uses, description) if alias
             else client.create_nonce(target, level, max_uses, description))
    if want_json(ctx, as_json):
        output.emit_json(nonce)
    else:
        output.plain(nonce["id"])


@nonces_app.command("show")
def nonces_show(ctx: typer.Context, target: ActorArg, nonce: str, alias: OnAlias = False,
                as_json: JsonOpt = False) -> None:
    record = api(ctx).get_alias_nonce(target, nonce) if alias else api(ctx).get_nonce(target, nonce)
    _show(ctx, as_json, record, NONCE_COLUMNS)


@nonces_app.command("delete")
def nonces_delete(ctx: typer.Context, target: ActorArg, nonce: str, alias: OnAlias = False,
                  as_json: JsonOpt = False) -> None:
    message = api(ctx).delete_alias_nonce(target, nonce) if alias else api(ctx).delete_nonce(target, nonce)
    _show(ctx, as_json, message)


# --- permissions --------------------------------------------------------------------------------------

OnConfig = Annotated[bool, typer.Option("--config", help="The target is a config name.")]


def _permissions_target(alias: bool, config: bool) -> str:
    if alias and config:
        raise typer.BadParameter("give --alias or --config, not both")
    return "alias" if alias else "config" if config else "actor"


@permissions_app.command("show")
def permissions_show(ctx: typer.Context, target: ActorArg, alias: OnAlias = False, config: OnConfig = False,
                     as_json: JsonOpt = False) -> None:
    """Who has which level on an actor (or alias, or config)."""
    client = api(ctx)
    kind = _permissions_target(alias, config)
    perms = {"actor": client.get_permissions, "alias": client.get_alias_permissions,
             "config": client.get_config_permissions}[kind](target)
    if want_json(ctx, as_json):
        output.emit_json(perms)
    else:
        output.table([{"user": user, "level": level} for user, level in sorted(perms.items())], ("user", "level"),
                     empty="no permissions")


@permissions_app.command("grant")
def permissions_grant(ctx: typer.Context, target: ActorArg, user: Annotated[str, typer.Argument(
        help="User name; ABACO_WORLD for everyone.")], level: Annotated[str, typer.Argument(
        help="NONE (revoke), READ, EXECUTE or UPDATE.")], alias: OnAlias = False, config: OnConfig = False,
        as_json: JsonOpt = False) -> None:
    """Give USER the LEVEL on an actor (or alias, or config)."""
    client = api(ctx)
    kind = _permissions_target(alias, config)
    perms = {"actor": client.update_permissions, "alias": client.update_alias_permissions,
             "config": client.update_config_permissions}[kind](target, user, level)
    if want_json(ctx, as_json):
        output.emit_json(perms)
    else:
        output.table([{"user": u, "level": lv} for u, lv in sorted(perms.items())], ("user", "level"))


# --- configs ------------------------------------------------------------------------------------------

CONFIG_COLUMNS = ("name", "value", "is_secret", "actors", "owner")
Actors = Annotated[str, typer.Option("--actors", "-a", help="Comma-separated actor ids and aliases.")]
Secret = Annotated[bool, typer.Option("--secret/--not-secret", help="Encrypt at rest, never shown.")]


@configs_app.command("list")
def configs_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    _show(ctx, as_json, api(ctx).list_configs(), CONFIG_COLUMNS, "no configs")


@configs_app.command("create")
def configs_create(ctx: typer.Context, name: ConfigArg, value: str, actors: Actors, secret: Secret = False,
                   as_json: JsonOpt = False) -> None:
    """Create a config (or a --secret) delivered to the listed actors."""
    _show(ctx, as_json, api(ctx).create_config(name, value, actors, secret), CONFIG_COLUMNS)


@configs_app.command("show")
def configs_show(ctx: typer.Context, name: ConfigArg, as_json: JsonOpt = False) -> None:
    _show(ctx, as_json, api(ctx).get_config(name), CONFIG_COLUMNS)


@configs_app.command("update")
def configs_update(ctx: typer.Context, name: ConfigArg, value: str, actors: Actors, secret: Secret = False,
                   as_json: JsonOpt = False) -> None:
    """Replace a config's value and actors."""
    _show(ctx, as_json, api(ctx).update_config(name, value, actors, secret), CONFIG_COLUMNS)


@configs_app.command("delete")
def configs_delete(ctx: typer.Context, name: ConfigArg, as_json: JsonOpt = False) -> None:
    _show(ctx, as_json, api(ctx).delete_config(name))


# --- state --------------------------------------------------------------------------------------------

@state_app.command("show")
def state_show(ctx: typer.Context, actor: ActorArg) -> None:
    """Print the actor's state as JSON."""
    output.emit_json(api(ctx).get_state(actor))


@state_app.command("set")
def state_set(ctx: typer.Context, actor: ActorArg,
              value: Annotated[str, typer.Argument(help="Any non-empty JSON value.")],
              as_json: JsonOpt = False) -> None:
    """Replace a stateful actor's state."""
    actor_record = api(ctx).update_state(actor, parse_json_arg(value, "the state"))
    if want_json(ctx, as_json):
        output.emit_json(actor_record)
    else:
        output.emit_json(actor_record.get_field("state"))


# --- search -------------------------------------------------------------------------------------------

SEARCH_COLUMNS = {"actors": ("id", "name", "image", "status", "owner"),
                  "executions": ("id", "actor_id", "status", "exit_code", "runtime", "start_time"),
                  "workers": ("id", "actor_id", "status", "last_execution_time"),
                  "logs": ("_id", "exec_id", "logs")}


def search(ctx: typer.Context,
           kind: Annotated[str, typer.Argument(help="actors, executions, workers or logs.")],
           filters: Annotated[list[str] | None, typer.Argument(help="FIELD=VALUE or FIELD.OP=VALUE (op: eq, neq, "
                                                                     "gt, gte, lt, lte, in, nin, like, between); "
                                                                     "search=TEXT for full text.")] = None,
           limit: Annotated[int, typer.Option("--limit", help="Most records to print.")] = 100,
           as_json: JsonOpt = False) -> None:
    """Search Abaco's records (all pages, up to --limit)."""
    if kind not in SEARCH_COLUMNS:
        raise typer.BadParameter(f"KIND must be one of {', '.join(SEARCH_COLUMNS)}")
    records = []
    for record in api(ctx).search(kind, parse_pairs(filters, "FIELD=VALUE")):
        records.append(record)
        if len(records) >= limit:
            break
    _show(ctx, as_json, records, SEARCH_COLUMNS[kind], "no matches")
