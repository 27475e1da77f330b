"""The search language: every operator, coercion, nested fields, text search, paging, bad input."""
from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain import query as search
from chalicelib.domain.errors import BadRequest

RECORDS = [
    {"id": "a1", "image": "abacosamples/test", "stateless": True, "revision": 1, "hints": ["sync", "x"],
     "create_time": "2020-04-29T20:15:00.000000Z", "name": "first actor", "max_workers": None,
     "_links": {"owner": "http://h/profiles/v2/alice"}, "final_state": {"ExitCode": 0,
                                                                       "StartedAt": "2020-04-29T20:15:01.5Z"}},
    {"id": "b2", "image": "abacosamples/wc", "stateless": False, "revision": 3, "hints": [],
     "create_time": "2021-01-01T00:00:00.000000Z", "name": "Second", "max_workers": 2,
     "_links": {"owner": "http://h/profiles/v2/bob"}, "final_state": {"ExitCode": 1,
                                                                     "StartedAt": "2021-01-01T00:00:05Z"}},
    {"id": "123", "image": "busybox", "stateless": True, "revision": 2, "hints": ["x"],
     "create_time": "2022-06-15T12:00:00.000000Z", "name": "third test", "max_workers": 5,
     "_links": {"owner": "http://h/profiles/v2/alice"}, "final_state": {}},
]


def ids(params: dict) -> list[str]:
    return [r["id"] for r in search.run(RECORDS, search.parse_query(params))["search"]]


@pytest.mark.parametrize("params, expected", [
    ({"image": "busybox"}, ["123"]),
    ({"image.eq": "busybox"}, ["123"]),
    ({"image.neq": "busybox"}, ["a1", "b2"]),
    ({"revision.gt": "1"}, ["b2", "123"]),
    ({"revision.gte": "2"}, ["b2", "123"]),
    ({"revision.lt": "3"}, ["a1", "123"]),
    ({"revision.lte": "1"}, ["a1"]),
    ({"revision.in": "[1, 3]"}, ["a1", "b2"]),
    ({"image.in": "['busybox', 'abacosamples/wc']"}, ["b2", "123"]),
    ({"revision.nin": "[1,3]"}, ["123"]),
    ({"image.like": "abaco.*test"}, ["a1"]),
    ({"image.nlike": "^abaco"}, ["123"]),
    ({"revision.between": "2,3"}, ["b2", "123"]),
    ({"stateless": "false"}, ["b2"]),
    ({"stateless": "TRUE"}, ["a1", "123"]),
    ({"max_workers": "none"}, ["a1"]),
    ({"max_workers.neq": "None"}, ["b2", "123"]),
    ({"hints": "sync"}, ["a1"]),
    ({"hints": "x"}, ["a1", "123"]),
    ({"id": "123"}, ["123"]),  # numeric-looking text still matches a text field
    ({"revision": "2"}, ["123"]),
    ({"_links.owner.like": "alice$"}, ["a1", "123"]),
    ({"final_state.ExitCode": "1"}, ["b2"]),
    ({"no_such_field": "x"}, []),
    ({"no_such_field.neq": "x"}, ["a1", "b2", "123"]),
])
def test_operators(params: dict, expected: list[str]) -> None:
    assert ids(params) == expected


@pytest.mark.parametrize("params, expected", [
    ({"create_time.gt": "2021"}, ["123"]),
    ({"create_time.gte": "2021-01-01"}, ["b2", "123"]),
    ({"create_time.lt": "2020-04-29T20:16"}, ["a1"]),
    ({"create_time.lte": "2020-04-29T20"}, []),
    ({"create_time.between": "2020-04,2021-01-01T00:00:00Z"}, ["a1", "b2"]),
    ({"create_time": "2022-06-15T14:00:00+02:00"}, ["123"]),
    ({"create_time.gte": "2022-06-15T07:00:00-05:00"}, ["123"]),
    ({"final_state.StartedAt.gt": "2020-04-29T20:15:01.4Z"}, ["a1", "b2"]),
    ({"createTime.gt": "2021-06"}, ["123"]),  # camelCase field names are accepted
])
def test_times_are_compared_as_times(params: dict, expected: list[str]) -> None:
    assert ids(params) == expected


def test_text_search_is_any_word_ranked_and_exactsearch_needs_the_phrase() -> None:
    assert ids({"search": "wc"}) == ["b2"]
    assert ids({"search": ["busybox", "NOPE"]}) == ["123"]
    assert ids({"search": "test third"}) == ["123", "a1"]  # two hits rank above one
    assert ids({"search": "max"}) == []  # field names are not searched, only values
    assert ids({"exactsearch": "first actor"}) == ["a1"]
    assert ids({"exactsearch": "actor first"}) == []
    assert ids({"search": "alice", "exactsearch": "third"}) == ["123"]


def test_skip_limit_and_metadata() -> None:
    result = search.run(RECORDS, search.parse_query({"skip": "1", "limit": "1"}))
    assert result["_metadata"] == {"total_count": 3, "records_skipped": 1, "record_limit": 1, "count_returned": 1}
    assert [r["id"] for r in result["search"]] == ["b2"]
    default = search.run(RECORDS, search.parse_query({}))["_metadata"]
    assert default["record_limit"] == 100 and default["count_returned"] == 3


@pytest.mark.parametrize("params, message", [
    ({"limit": "ten"}, 'Inputted "limit" parameter must be an int'),
    ({"skip": "-1"}, 'Inputted "skip" must be positive'),
    ({"revision.between": "2"}, "Between must have two variables"),
    ({"revision.between": "a,b"}, "should be either float or ISO 8601"),
    ({"create_time.gt": "yesterday"}, "incorrect format"),
    ({"create_time.gt": "2020-13"}, "not a valid date"),
    ({"image.like": "("}, "Invalid regular expression"),
    ({".eq": "x"}, "Invalid search field"),
])
def test_bad_queries_are_400s(params: dict, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        search.parse_query(params)
    assert message in str(err.value)


def test_x_nonce_is_not_a_filter_and_is_search_ignores_it() -> None:
    assert ids({"x-nonce": "TACC_abc"}) == ["a1", "b2", "123"]
    assert not search.is_search({"x-nonce": "n"})
    assert search.is_search({"limit": "5"})


def test_coercion() -> None:
    assert search.coerce("3.5") == 3.5
    assert search.coerce("['a', 'b']") == ["a", "b"]
    assert search.coerce('{"k": 1}') == {"k": 1}
    assert search.coerce("plain text") == "plain text"
    assert search.coerce("2020-04-29T20:15:01.591Z", is_time=True) == dt.datetime(2020, 4, 29, 20, 15, 1, 591000)
    assert search.parse_time("2020-04-29T") == dt.datetime(2020, 4, 29)
    assert search.parse_time("2020-04-29T20:15:00.123456789Z") == dt.datetime(2020, 4, 29, 20, 15, 0, 123456)
