"""Paged collections: one page of any collection, read a window at a time (issue 16: no request reads a
whole collection). A source yields (record, position) pairs from a store position on; a page applies the
search language's filters (``chalicelib/domain/query.py``), ``skip``, ``limit`` and the opaque ``cursor``,
and answers in one envelope for every paged list and search:
``{_metadata: {total_count, records_skipped, record_limit, count_returned, next_cursor, next}, search}``.
A request reads at most ``SCAN_BUDGET`` records (a few DynamoDB pages) whatever the collection's size;
``total_count`` counts the matches of that window (exact when one window holds the whole collection).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from chalicelib.domain import query as language
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.paging import decode_cursor, encode_cursor
from chalicelib.wiring.backend import Backend

SCAN_BUDGET = 2_000  # records one request reads at most (a few DynamoDB pages)
LIST_LIMIT = 1000  # records a list without paging parameters returns at most (Abaco's list shapes)
Params = Mapping[str, str | Sequence[str]]
Row = tuple[dict[str, Any] | None, dict[str, Any] | None]  # a displayed record and its position


def page(backend: Backend, params: Params, rows: Callable[[dict[str, Any] | None], Iterator[Row]], link: str,
         budget: int = SCAN_BUDGET, created: str | None = None, query: language.Query | None = None) -> dict[str, Any]:
    """One page of a collection read a window at a time: ``rows(start)`` yields (record, position) from a
    store position on (a position of None: not a place to stop; a record of None: read, nothing to show);
    filters, ``skip``, ``limit`` and ``cursor`` as in a search. Every paged list answers with this:
    ``{_metadata: {total_count, records_skipped, record_limit, count_returned, next_cursor, next}, search}``."""
    query = query or language.parse_query(params)
    state = decode_cursor(query.cursor) or {}
    start, offset = state.get("s"), _offset(state) + query.skip
    records, end = _window(rows(start), query, budget)
    if created:  # creation order within the window, as the whole-tenant lists were
        records.sort(key=lambda record: str(record.get(created) or ""))
    result = language.run(records, replace(query, conditions=(), skip=offset))
    served = offset + result["_metadata"]["count_returned"]
    following = None
    if served < result["_metadata"]["total_count"]:
        following = {"s": start, "o": served}  # the same window again, further on
    elif end is not None:
        following = {"s": end, "o": 0}  # the next window
    result["_metadata"]["records_skipped"] = query.skip
    cursor = encode_cursor(following)
    result["_metadata"]["next_cursor"] = cursor
    result["_metadata"]["next"] = _next_link(backend, link, params, cursor)
    return result  # the view converts the metadata and each record in camel mode (keys=SEARCH)


def _offset(state: dict[str, Any]) -> int:
    offset = state.get("o", 0)
    if not isinstance(offset, int) or offset < 0:
        raise BadRequest("cursor is not valid; use the value of _metadata.next_cursor.")
    return offset


def _window(rows: Iterable[Row], query: language.Query, budget: int) -> tuple[list[dict[str, Any]], Any]:
    """The matching records among the next ``budget`` read (a window: the same start reads the same
    window again), and the position after the last one read (None when the source ended)."""
    matches: list[dict[str, Any]] = []
    for read, (record, position) in enumerate(rows, start=1):
        if record is not None and all(language.matches(record, c) for c in query.conditions):
            matches.append(record)
        if read >= budget and position is not None:
            return matches, position
    return matches, None


def _next_link(backend: Backend, path: str, params: Params, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    kept = [(k, v) for k, values in params.items() if k not in ("cursor", "skip")
            for v in ([values] if isinstance(values, str) else values)]
    return f"{backend.settings.api_server.rstrip('/')}{path}?{urlencode([*kept, ('cursor', cursor)])}"
