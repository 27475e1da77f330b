"""Paged collections (chalicelib/services/paged.py): windows end only where a source can resume, records
a caller may not see still count as read, and a walk by cursor returns each record once."""
from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.services import paged
from chalicelib.wiring.settings import Settings

BACKEND: Any = SimpleNamespace(settings=Settings(api_server="http://h"))


def source(count: int, hidden: frozenset[int] | set[int] = frozenset(), stops: int = 1) -> Any:
    """Records 0..count-1 with a position on every ``stops``-th; ``hidden`` ones are read but not shown;
    ``reads`` counts the records each call read."""
    reads: list[int] = []

    def rows(start: dict[str, Any] | None) -> Iterator[paged.Row]:
        first = 0 if start is None else start["i"] + 1
        reads.append(0)
        for i in range(first, count):
            reads[-1] += 1
            position = {"i": i} if (i + 1) % stops == 0 or i == count - 1 else None
            yield (None if i in hidden else {"n": i, "create_time": f"{i:05d}"}), position

    rows.reads = reads  # type: ignore[attr-defined]
    return rows


def walk(rows: Any, limit: int, budget: int) -> list[int]:
    seen: list[int] = []
    params: dict[str, str] = {"limit": str(limit)}
    for _ in range(1000):
        page = paged.page(BACKEND, params, rows, "/things", budget=budget, created="create_time")
        seen += [r["n"] for r in page["search"]]
        if page["_metadata"]["next_cursor"] is None:
            assert page["_metadata"]["next"] is None
            return seen
        assert page["_metadata"]["next"].startswith("http://h/things?limit=")
        params = {"limit": str(limit), "cursor": page["_metadata"]["next_cursor"]}
    raise AssertionError("no end")


@pytest.mark.parametrize(("count", "limit", "budget"), [(0, 5, 10), (7, 3, 10), (95, 10, 20), (95, 7, 13)])
def test_a_walk_returns_every_record_once(count: int, limit: int, budget: int) -> None:
    assert walk(source(count), limit, budget) == list(range(count))


def test_hidden_records_count_as_read_so_a_window_stays_bounded() -> None:
    rows = source(100, hidden=set(range(100)) - {97})
    seen = walk(rows, 10, budget=20)
    assert seen == [97]
    assert max(rows.reads) <= 20  # no request read past its budget looking for something to show


def test_a_window_ends_only_where_the_source_can_resume() -> None:
    rows = source(30, stops=7)  # positions on every 7th record only (as a group of actors' workers)
    assert walk(rows, 100, budget=1) == list(range(30))
    assert rows.reads[0] == 7  # the first window read up to the first place it can resume


def test_skip_limit_and_filters_apply_within_a_window() -> None:
    page = paged.page(BACKEND, {"limit": "2", "skip": "3"}, source(10), "/things")
    assert [r["n"] for r in page["search"]] == [3, 4] and page["_metadata"]["records_skipped"] == 3
    page = paged.page(BACKEND, {"n.gte": "8"}, source(10), "/things")
    assert [r["n"] for r in page["search"]] == [8, 9] and page["_metadata"]["total_count"] == 2


@pytest.mark.parametrize("params", [{"cursor": "!!"}, {"limit": "x"}, {"skip": "-1"}, {"skip": "10001"}])
def test_bad_paging_parameters_are_a_400(params: dict[str, str]) -> None:
    with pytest.raises(BadRequest):
        paged.page(BACKEND, params, source(3), "/things")
