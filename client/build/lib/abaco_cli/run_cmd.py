"""``abaco send``, ``abaco executions list | show | stop | result`` and ``abaco logs [--follow]``."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from abaco_cli import output
from abaco_cli.actors_cmd import ActorArg, parse_json_arg
from abaco_cli.context import JsonOpt, api, parse_pairs, want_json

executions_app = typer.Typer(help="List and inspect executions, stop one, fetch its results.",
                             no_args_is_help=True)

ExecArg = Annotated[str, typer.Argument(help="Execution id.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds to wait before giving up (exit 6).")]
EXECUTION_ORDER = ("id", "actor_id", "status", "status_message", "exit_code", "executor", "worker_id",
                   "message_received_time", "start_time", "finish_time", "runtime", "cpu", "io", "attempt")
EXECUTION_COLUMNS = ("id", "status", "message_received_time", "start_time", "finish_time")


def send(ctx: typer.Context, actor: ActorArg,
         message: Annotated[str | None, typer.Argument(help="Text message (MSG). Omit to read stdin.")] = None,
         data: Annotated[str | None, typer.Option("--data", "-d", help="A JSON message (application/json).")] = None,
         file: Annotated[Path | None, typer.Option("--file", "-f", help="Send this file as a binary message "
                                                                        "('-' for stdin).", allow_dash=True)] = None,
         env: Annotated[list[str] | None, typer.Option("--env", "-e", help="Container variable KEY=VALUE "
                                                                            "(repeat).")] = None,
         sync: Annotated[bool, typer.Option("--sync", help="Wait in the API; print the logs or the binary "
                                                           "result.")] = False,
         wait: Annotated[bool, typer.Option("--wait", "-w", help="Show a live status, then print the "
                                                                 "logs.")] = False,
         strict: Annotated[bool, typer.Option("--strict", help="With --wait: a non-zero container exit code "
                                                               "exits 5.")] = False,
         out_file: Annotated[Path | None, typer.Option("--output", "-o", help="With --sync: write the response "
                                                                              "here.")] = None,
         timeout: Timeout = 300.0, as_json: JsonOpt = False) -> None:
    """Send a message; prints the execution id (--wait: the logs; exits 0 when it completes)."""
    client = api(ctx)
    environment = parse_pairs(env)
    if sum(x is not None for x in (message, data, file)) > 1:
        raise typer.BadParameter("give one of MESSAGE, --data or --file")
    if file is not None:
        payload: Any = sys.stdin.buffer.read() if str(file) == "-" else file
        sent = client.send_binary_message(actor, payload, environment=environment, synchronous=sync)
    elif data is not None:
        sent = client.send_json_message(actor, parse_json_arg(data, "--data"), environment, synchronous=sync)
    else:
        text = message if message is not None else _stdin_text()
        sent = client.send_message(actor, message=text, environment=environment, synchronous=sync)
    if sync:
        _print_sync(sent, out_file)
        return
    if wait:
        raise typer.Exit(_wait_and_show(ctx, actor, sent["execution_id"], timeout, strict, want_json(ctx, as_json)))
    if want_json(ctx, as_json):
        output.emit_json(sent)
    else:
        output.plain(sent["execution_id"])


def _stdin_text() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise typer.BadParameter("give a MESSAGE, --data, --file, or pipe the message on stdin")
    return sys.stdin.read()


def _print_sync(body: Any, out_file: Path | None) -> None:
    if isinstance(body, bytes):
        if out_file is not None:
            out_file.write_bytes(body)
        else:
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
        return
    text = body if isinstance(body, str) else str(body)
    if out_file is not None:
        out_file.write_text(text)
    else:
        output.plain(text)


def _wait_and_show(ctx: typer.Context, actor: str, execution_id: str, timeout: float, strict: bool,
                   as_json: bool) -> int:
    """A live status line on stderr while it runs, then the logs on stdout; the exit code tells the outcome."""
    client = api(ctx)
    started = time.monotonic()
    with output.err.status(f"execution {execution_id}: SUBMITTED") as status:
        def update(execution: Any) -> None:
            status.update(f"execution {execution_id}: {execution.get_field('status')} "
                          f"({time.monotonic() - started:.1f} s)")

        execution = client.wait_for_execution(actor, execution_id, timeout=timeout, on_update=update)
    logs = client.get_execution_logs(actor, execution_id).get_field("logs") or ""
    if as_json:
        output.emit_json({**execution, "logs": logs})
    else:
        output.plain(logs)
        output.err.print(_summary(execution), markup=False)
    return outcome_code(execution, strict)


def _summary(execution: Any) -> str:
    text = (f"execution {execution.get_field('id')} {execution.get_field('status')}: exit code "
            f"{execution.get_field('exit_code')}, runtime {execution.get_field('runtime')} s")
    message = execution.get_field("status_message")
    return f"{text} ({message})" if message else text


def outcome_code(execution: Any, strict: bool) -> int:
    """0 for COMPLETE; 5 for ERROR, or for a non-zero container exit code with --strict."""
    if execution.get_field("status") != "COMPLETE":
        return output.EXIT_EXECUTION_FAILED
    if strict and execution.get_field("exit_code") not in (0, None):
        return output.EXIT_EXECUTION_FAILED
    return output.EXIT_OK


def logs(ctx: typer.Context, actor: ActorArg, execution: ExecArg,
         follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream while the container runs.")] = False,
         timeout: Annotated[float | None, typer.Option("--timeout", help="With --follow: give up after this many "
                                                                         "seconds (exit 6).")] = None,
         as_json: JsonOpt = False) -> None:
    """Print an execution's logs; --follow streams them until it finishes (exit 5 if it ended in ERROR)."""
    client = api(ctx)
    if not follow:
        record = client.get_execution_logs(actor, execution)
        if want_json(ctx, as_json):
            output.emit_json(record)
        else:
            sys.stdout.write(record.get_field("logs") or "")
            sys.stdout.flush()
        return
    for chunk in client.follow_logs(actor, execution, timeout=timeout):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    final = client.get_execution(actor, execution)
    raise typer.Exit(outcome_code(final, strict=False))


@executions_app.command("list")
def list_executions(ctx: typer.Context, actor: ActorArg, as_json: JsonOpt = False) -> None:
    """The actor's executions, oldest first, with totals."""
    summary = api(ctx).list_executions(actor)
    if want_json(ctx, as_json):
        output.emit_json(summary)
        return
    output.table(summary.get_field("executions") or [], EXECUTION_COLUMNS, empty="no executions")
    output.err.print(f"{summary.get_field('total_executions')} executions, runtime "
                     f"{summary.get_field('total_runtime')} s, cpu {summary.get_field('total_cpu')}, "
                     f"io {summary.get_field('total_io')}", markup=False)


@executions_app.command("show")
def show_execution(ctx: typer.Context, actor: ActorArg, execution: ExecArg, as_json: JsonOpt = False) -> None:
    """One execution: status, exit code, timings, resource use."""
    record = api(ctx).get_execution(actor, execution)
    if want_json(ctx, as_json):
        output.emit_json(record)
    else:
        output.fields(record, EXECUTION_ORDER)


@executions_app.command("wait")
def wait_execution(ctx: typer.Context, actor: ActorArg, execution: ExecArg, timeout: Timeout = 300.0,
                   strict: Annotated[bool, typer.Option("--strict", help="Non-zero exit code exits 5.")] = False,
                   as_json: JsonOpt = False) -> None:
    """Wait for an execution to finish, then print its logs (exit codes as for send --wait)."""
    raise typer.Exit(_wait_and_show(ctx, actor, execution, timeout, strict, want_json(ctx, as_json)))


@executions_app.command("stop")
def stop_execution(ctx: typer.Context, actor: ActorArg, execution: ExecArg, as_json: JsonOpt = False) -> None:
    """Force-quit a RUNNING execution."""
    message = api(ctx).delete_execution(actor, execution)
    output.emit_json({"message": message}) if want_json(ctx, as_json) else output.plain(message)


@executions_app.command("result")
def result(ctx: typer.Context, actor: ActorArg, execution: ExecArg,
           out_file: Annotated[Path | None, typer.Option("--output", "-o", help="Write the result here.")] = None,
           ) -> None:
    """Fetch the next binary result (raw bytes to stdout or --output; nothing when there is none)."""
    data = api(ctx).get_execution_result(actor, execution)
    if out_file is not None:
        out_file.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


