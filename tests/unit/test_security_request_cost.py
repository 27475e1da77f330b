"""Bounded cost of user-supplied patterns and schedules: pure logic."""
from __future__ import annotations

import pytest

from chalicelib.domain import cron, query
from chalicelib.domain.errors import BadRequest


def test_like_runs_on_a_linear_time_engine_with_mongo_like_regex_semantics() -> None:
    parsed = query.parse_query({"name.like": "(a+)+$"})
    records = [{"name": "a" * 5000 + "b"}, {"name": "xaa"}]
    assert query.run(records, parsed)["search"] == [{"name": "xaa"}]
    assert query.run([{"name": "Alpha"}], query.parse_query({"name.like": "(?i)^alp"}))["search"]


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "(?<!a)b", "a" * (query.MAX_PATTERN_CHARS + 1)])
def test_patterns_re2_cannot_run_linearly_or_too_long_are_refused(pattern: str) -> None:
    with pytest.raises(BadRequest):
        query.parse_query({"name.like": pattern})


def test_search_values_and_counts_are_capped() -> None:
    with pytest.raises(BadRequest, match="at most"):
        query.parse_query({"exactsearch": "x" * (query.MAX_VALUE_CHARS + 1)})
    with pytest.raises(BadRequest, match="at most"):
        query.parse_query({f"f{i}": "x" for i in range(query.MAX_PARAMETERS + 1)})
    with pytest.raises(BadRequest, match="longer than"):
        query.parse_query({"f" * (query.MAX_KEY_CHARS + 1): "x"})


def test_cron_parses_without_a_regex_and_caps_its_length() -> None:
    schedule = cron.parse("now + 2 hours")
    assert (schedule.count, schedule.unit) == (2, "hour")
    with pytest.raises(BadRequest, match="longer than"):
        cron.parse("now" + " " * cron.MAX_SCHEDULE_CHARS + "+ 1 hour")
    for bad in ("now 1 hour", "+ 1 hour", "now + 1", "now + 1 hour extra", "now + x hour"):
        with pytest.raises(BadRequest):
            cron.parse(bad)
