"""Actor descriptions: defaults (PUT is full replacement), limits, webhooks, and link cycles."""
from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.services import actor_fields
from chalicelib.services.actors import has_cycle
from chalicelib.wiring.settings import Settings

SETTINGS = Settings(pools="default,gpu")
NOW = dt.datetime(2030, 1, 1, 12, 30, tzinfo=dt.UTC)


def test_absent_fields_take_their_defaults() -> None:
    fields = actor_fields.parse({"image": "img"}, SETTINGS, NOW)
    assert fields == {**fields, "description": "", "stateless": True, "hints": [], "default_environment": {},
                      "token": False, "queue": "default", "max_workers": None, "cron_schedule": None,
                      "cron_next_ex": None, "cron_on": False, "type": "none", "webhook": "", "link": ""}
    assert actor_fields.parse({"image": "img"}, Settings(default_token=True), NOW)["token"] is True


def test_strings_from_forms_are_coerced() -> None:
    fields = actor_fields.parse({"image": "img", "stateless": "False", "log_ex": "30", "hints": "a, b",
                                 "max_cpus": "1000000000", "mem_limit": "2G", "queue": "gpu"}, SETTINGS, NOW)
    assert (fields["stateless"], fields["log_ex"], fields["hints"]) == (False, 30, ["a", "b"])
    with pytest.raises(BadRequest, match="stateful actors can only have 1 worker"):
        actor_fields.parse({"image": "img", "stateless": "false", "max_workers": "3"}, SETTINGS, NOW)
    assert fields["max_cpus"] == 1_000_000_000 and fields["mem_limit"] == "2g" and fields["queue"] == "gpu"


def test_cron_is_parsed_and_a_resent_schedule_keeps_its_clock() -> None:
    fields = actor_fields.parse({"image": "img", "cron_schedule": "2030-01-01 12 + 1 day"}, SETTINGS, NOW)
    assert fields["cron_next_ex"] == "2030-1-1 12"
    later = NOW + dt.timedelta(days=3)
    kept = actor_fields.parse({"image": "img", "cron_schedule": "2030-01-01 12 + 1 day"}, SETTINGS, later,
                              current_cron=("2030-01-01 12 + 1 day", "2030-1-4 12"))
    assert kept["cron_next_ex"] == "2030-1-4 12"
    with pytest.raises(BadRequest, match="current UTC time"):
        actor_fields.parse({"image": "img", "cron_schedule": "2030-01-01 12 + 1 day"}, SETTINGS, later)


@pytest.mark.parametrize("url, ok", [
    ("https://example.org/hook?a=1", True), ("http://127.0.0.1:9000/h", True), ("http://[::1]/h", True),
    ("http://hooks.internal/x", True), ("", True),
    ("ftp://example.org", False), ("https://", False), ("https://exa mple.org", False), ("javascript:alert(1)", False),
    ("http://10.0.0.5/", False), ("http://172.20.1.1/", False), ("http://192.168.1.1/", False),
    ("http://169.254.169.254/latest/meta-data", False), ("http://[fe80::1]/", False),
])
def test_webhooks(url: str, ok: bool) -> None:
    if ok:
        assert actor_fields.webhook(url) == url
    else:
        with pytest.raises(BadRequest, match="webhook"):
            actor_fields.webhook(url)


@pytest.mark.parametrize("links, cycle", [
    ({}, False),
    ({"a": "b"}, False),
    ({"a": "b", "b": "c", "c": "d"}, False),
    ({"a": "b", "b": "a"}, True),
    ({"a": "b", "b": "c", "c": "a"}, True),
    ({"x": "a", "a": "b", "b": "c", "c": "b"}, True),
    ({"a": "c", "b": "c", "c": "d"}, False),  # two actors linking to one is fine
])
def test_link_cycles(links: dict[str, str], cycle: bool) -> None:
    assert has_cycle(links) is cycle


@pytest.mark.parametrize(("given", "stored"), [("2G", "2g"), (" 0006M ", "6m"), ("0" * 5000 + "8192k", "8192k"),
                                               ("6291456", "6291456"), ("999999999g", "999999999g")])
def test_memory_is_stored_without_leading_zeros(given: str, stored: str) -> None:
    assert actor_fields._memory(given) == stored


@pytest.mark.parametrize("given", ["1000000000g", "9" * 5000, "1" * 19])
def test_memory_past_docker_int64_is_a_clear_400(given: str) -> None:
    with pytest.raises(BadRequest, match="mem_limit: more than"):
        actor_fields._memory(given)
