"""How the CLI prints: rich tables for people, JSON for scripts, errors on stderr, documented exit codes."""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from abaco_sdk import errors
from rich import box
from rich.console import Console
from rich.table import Table

# Exit codes scripts can trust (documented in docs/user-guide.md, "Exit codes").
EXIT_OK = 0
EXIT_FAILURE = 1  # an unexpected failure of the CLI itself
EXIT_USAGE = 2  # bad arguments or configuration (no API URL, unknown profile, unreadable file)
EXIT_NOT_FOUND = 3  # the API answered 404: no such actor, execution, alias, nonce, config or worker
EXIT_REJECTED = 4  # the API refused the request: 400 (invalid or not authorized), 405, 409
EXIT_EXECUTION_FAILED = 5  # the execution ended in ERROR (or, with --strict, exited non-zero)
EXIT_TIMEOUT = 6  # a --wait or --follow gave up before the execution finished
EXIT_UNAVAILABLE = 7  # the API could not be reached, or kept failing (5xx, 429) after the retries

WIDE = 400  # columns for tables written to a pipe or file: never fold a field across lines there
ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$")

out = Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else WIDE)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def exit_code_for(exc: errors.AbacoError) -> int:
    """One table from SDK errors to exit codes."""
    if isinstance(exc, errors.ConfigError):
        return EXIT_USAGE
    if isinstance(exc, errors.NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, (errors.TransportError, errors.ServerError, errors.Throttled)):
        return EXIT_UNAVAILABLE
    if isinstance(exc, errors.WaitTimeout):
        return EXIT_TIMEOUT
    if isinstance(exc, errors.ApiError):
        return EXIT_REJECTED
    return EXIT_FAILURE


def error(exc: errors.AbacoError) -> None:
    """``abaco: error: <the API's message> (HTTP 404 on GET /actors/x)``."""
    detail = ""
    if exc.status_code:
        path = exc.url.split("://", 1)[-1].partition("/")[2].split("?")[0]
        detail = f" (HTTP {exc.status_code} on {exc.method} /{path})"
    err.print(f"abaco: error: {exc.message}{detail}", markup=False)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def plain(text: str) -> None:
    """Text exactly as given (ids, logs): no markup, no wrapping."""
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True) if value else ""
    text = str(value)
    match = ISO_TIME.match(text)
    return f"{match.group(1)} {match.group(2)}" if match else text


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], title: str | None = None,
          empty: str = "nothing to show") -> None:
    """A table of ``columns`` (snake names; camel keys are read too) or ``empty`` when there are no rows."""
    rows = list(rows)
    if not rows:
        err.print(empty, markup=False)
        return
    grid = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column.upper(), overflow="fold")
    for row in rows:
        grid.add_row(*(cell(_field(row, c)) for c in columns))
    out.print(grid)


def fields(record: dict[str, Any], order: Sequence[str] = ()) -> None:
    """One object as a two-column FIELD/VALUE table (known fields first, then the rest)."""
    grid = Table(show_header=False, show_edge=False, pad_edge=False)
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    keys = [k for k in order if _field(record, k) is not None] + sorted(
        k for k in record if k not in order and k != "_links")
    for key in dict.fromkeys(keys):
        grid.add_row(key, cell(_field(record, key)))
    out.print(grid)


def _field(row: dict[str, Any], name: str) -> Any:
    getter = getattr(row, "get_field", None)
    return getter(name) if getter else row.get(name)
