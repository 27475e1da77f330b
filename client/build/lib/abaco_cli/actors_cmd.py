"""``abaco actors create | list | show | update | delete``."""
from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from abaco_cli import output
from abaco_cli.context import JsonOpt, api, complete_actor_id, parse_pairs, want_json

app = typer.Typer(help="Register, list, show, update and delete actors.", no_args_is_help=True)

ActorArg = Annotated[str, typer.Argument(help="Actor id or alias.", autocompletion=complete_actor_id)]
ACTOR_ORDER = ("id", "name", "image", "status", "status_message", "owner", "stateless", "description",
               "default_environment", "hints", "max_workers", "mem_limit", "max_cpus", "token", "link", "webhook",
               "queue", "log_ex", "cron_schedule", "cron_on", "cron_next_ex", "revision", "create_time",
               "last_update_time")
LIST_COLUMNS = ("id", "name", "image", "status", "owner", "last_update_time")


def _fields(name: str | None, description: str | None, stateful: bool | None, env: list[str] | None,
            hints: list[str] | None, max_workers: int | None, mem_limit: str | None, max_cpus: int | None,
            token: bool | None, cron_schedule: str | None, cron_on: bool | None, log_ex: int | None,
            link: str | None, webhook: str | None, queue: str | None, privileged: bool | None,
            use_container_uid: bool | None) -> dict[str, Any]:
    """The actor description from the options, leaving out what was not given."""
    fields: dict[str, Any] = {
        "name": name, "description": description, "max_workers": max_workers, "mem_limit": mem_limit,
        "max_cpus": max_cpus, "token": token, "cron_schedule": cron_schedule, "cron_on": cron_on, "log_ex": log_ex,
        "link": link, "webhook": webhook, "queue": queue, "privileged": privileged,
        "use_container_uid": use_container_uid,
    }
    if stateful is not None:
        fields["stateless"] = not stateful
    if env:
        fields["default_environment"] = parse_pairs(env)
    if hints:
        fields["hints"] = hints
    return {k: v for k, v in fields.items() if v is not None}


# Options shared by create and update (typer needs them spelled out on each command).
Name = Annotated[str | None, typer.Option("--name", "-n", help="A human-readable name.")]
Description = Annotated[str | None, typer.Option("--description", "-d", help="What the actor does.")]
Stateful = Annotated[bool | None, typer.Option("--stateful/--stateless", help="Keep state between executions "
                                                                               "(one worker).")]
Env = Annotated[list[str] | None, typer.Option("--env", "-e", help="Default environment KEY=VALUE (repeat).")]
Hints = Annotated[list[str] | None, typer.Option("--hint", help="A hint such as 'sync' (repeat).")]
MaxWorkers = Annotated[int | None, typer.Option("--max-workers", help="Most workers (stateless actors).")]
MemLimit = Annotated[str | None, typer.Option("--mem-limit", help="Container memory limit, e.g. 256m.")]
MaxCpus = Annotated[int | None, typer.Option("--max-cpus", help="Container CPU limit in nano-CPUs.")]
Token = Annotated[bool | None, typer.Option("--token/--no-token", help="Inject an API token into executions.")]
Cron = Annotated[str | None, typer.Option("--cron-schedule", help="'YYYY-MM-DD HH + N hour|day|week|month' "
                                                                  "(or 'now + 1 hour').")]
CronOn = Annotated[bool | None, typer.Option("--cron-on/--cron-off", help="Switch the cron schedule.")]
LogEx = Annotated[int | None, typer.Option("--log-ex", help="Seconds to keep execution logs.")]
Link = Annotated[str | None, typer.Option("--link", help="Actor (id or alias) that receives this actor's "
                                                         "events.")]
Webhook = Annotated[str | None, typer.Option("--webhook", help="URL that receives this actor's events.")]
Queue = Annotated[str | None, typer.Option("--queue", help="Runner pool (privileged).")]
Privileged = Annotated[bool | None, typer.Option("--privileged/--unprivileged", help="Privileged container "
                                                                                    "(admin).")]
ContainerUid = Annotated[bool | None, typer.Option("--use-container-uid/--no-use-container-uid",
                                                   help="Run as the image's user.")]


@app.command("list")
def list_actors(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the actors you can read."""
    actors = api(ctx).list_actors()
    if want_json(ctx, as_json):
        output.emit_json(actors)
    else:
        output.table(actors, LIST_COLUMNS, empty="no actors")


@app.command("create")
def create(ctx: typer.Context, image: Annotated[str, typer.Argument(help="Docker image, e.g. abacosamples/test")],
           name: Name = None, description: Description = None, stateful: Stateful = None, env: Env = None,
           hint: Hints = None, max_workers: MaxWorkers = None, mem_limit: MemLimit = None, max_cpus: MaxCpus = None,
           token: Token = None, cron_schedule: Cron = None, cron_on: CronOn = None, log_ex: LogEx = None,
           link: Link = None, webhook: Webhook = None, queue: Queue = None, privileged: Privileged = None,
           use_container_uid: ContainerUid = None,
           wait: Annotated[bool, typer.Option("--wait", help="Return once the actor is READY.")] = False,
           as_json: JsonOpt = False) -> None:
    """Register an actor; prints its id (--json: the whole actor)."""
    fields = _fields(name, description, stateful, env, hint, max_workers, mem_limit, max_cpus, token,
                     cron_schedule, cron_on, log_ex, link, webhook, queue, privileged, use_container_uid)
    actor = api(ctx).create_actor(image=image, **fields)
    if wait:
        actor = api(ctx).wait_for_actor(actor["id"])
    if want_json(ctx, as_json):
        output.emit_json(actor)
    else:
        output.plain(actor["id"])


@app.command("show")
def show(ctx: typer.Context, actor: ActorArg, as_json: JsonOpt = False) -> None:
    """Show one actor."""
    record = api(ctx).get_actor(actor)
    if want_json(ctx, as_json):
        output.emit_json(record)
    else:
        output.fields(record, ACTOR_ORDER)


@app.command("update")
def update(ctx: typer.Context, actor: ActorArg,
           image: Annotated[str | None, typer.Option("--image", "-i", help="New image.")] = None,
           description: Description = None, stateful: Stateful = None, env: Env = None, hint: Hints = None,
           max_workers: MaxWorkers = None, mem_limit: MemLimit = None, max_cpus: MaxCpus = None, token: Token = None,
           cron_schedule: Cron = None, cron_on: CronOn = None, log_ex: LogEx = None, link: Link = None,
           webhook: Webhook = None, queue: Queue = None, privileged: Privileged = None,
           use_container_uid: ContainerUid = None,
           force: Annotated[bool, typer.Option("--force", help="Restart workers even if the image is "
                                                               "unchanged.")] = False,
           as_json: JsonOpt = False) -> None:
    """Change some fields and keep the others (Abaco's PUT replaces everything; the CLI merges first)."""
    changes = _fields(None, description, stateful, env, hint, max_workers, mem_limit, max_cpus, token,
                      cron_schedule, cron_on, log_ex, link, webhook, queue, privileged, use_container_uid)
    if image:
        changes["image"] = image
    if force:
        changes["force"] = True
    record = api(ctx).patch_actor(actor, **changes)
    if want_json(ctx, as_json):
        output.emit_json(record)
    else:
        output.plain(f"{record['id']} updated (revision {record.get_field('revision')}, "
                     f"status {record.get_field('status')})")


@app.command("delete")
def delete(ctx: typer.Context,
           actors: Annotated[list[str], typer.Argument(help="Actor ids or aliases.",
                                                       autocompletion=complete_actor_id)],
           as_json: JsonOpt = False) -> None:
    """Delete actors (their executions stay readable)."""
    messages = {actor: api(ctx).delete_actor(actor) for actor in actors}
    if want_json(ctx, as_json):
        output.emit_json(messages)
    else:
        for actor, message in messages.items():
            output.plain(f"{actor}: {message}")


def parse_json_arg(text: str, what: str) -> Any:
    """A JSON value from the command line; a clear usage error when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{what} is not valid JSON: {exc}") from exc
