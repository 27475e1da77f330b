"""Cron schedules: Abaco's format, its messages, and the slot arithmetic the cron duty relies on."""
from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain import cron
from chalicelib.domain.errors import BadRequest

NOW = dt.datetime(2024, 5, 10, 14, 37, tzinfo=dt.UTC)


def test_now_start_is_the_current_hour() -> None:
    schedule = cron.parse("now + 1 hour", NOW)
    assert schedule == cron.Schedule(dt.datetime(2024, 5, 10, 14), 1, "hour")
    assert cron.next_ex(schedule) == "2024-5-10 14"


@pytest.mark.parametrize("text, unit, count", [
    ("2024-05-10 14 + 2 hours", "hour", 2), ("2024-5-11 0 + 1 day", "day", 1),
    ("2025-01-01 09 + 3 weeks", "week", 3), ("2024-12-31 23 + 1 months", "month", 1),
    ("Now + 5 days", "day", 5), ("  2024-05-10 15   +   4  hours ", "hour", 4),
])
def test_valid_schedules(text: str, unit: str, count: int) -> None:
    schedule = cron.parse(text, NOW)
    assert (schedule.unit, schedule.count) == (unit, count)


@pytest.mark.parametrize("text, message", [
    ("tomorrow", "The cron is not in the correct format"),
    ("2024-05-10 14 + 1", "The cron is not in the correct format"),
    ("2024-05-10 14 + 1 fortnight", "fortnight is an invalid unit of time"),
    ("2024-05-10 + 1 hour", "is not in the correct format"),
    ("2024-13-01 10 + 1 hour", "is not a valid date"),
    ("2024-05-10 14 + x hours", "not a whole number"),
    ("2024-05-10 14 + 0 hours", "between 1 and"),
    ("2024-05-10 14 + -3 hours", "between 1 and"),
])
def test_invalid_schedules_are_400s_with_abacos_messages(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        cron.parse(text, NOW)
    assert message in str(err.value)


def test_a_start_before_the_current_hour_mentions_the_current_utc_time() -> None:
    with pytest.raises(BadRequest) as err:
        cron.parse("2024-05-10 13 + 1 hour", NOW)
    assert "The starting datetime is old. The current UTC time is 2024-05-10 14:00:00" in str(err.value)
    assert cron.parse("2024-05-10 14 + 1 hour", NOW).start == dt.datetime(2024, 5, 10, 14)  # same hour is fine


def test_advance_by_each_unit_with_calendar_months() -> None:
    start = dt.datetime(2024, 1, 31, 10)
    assert cron.advance(start, cron.Schedule(start, 5, "hour")) == dt.datetime(2024, 1, 31, 15)
    assert cron.advance(start, cron.Schedule(start, 2, "day")) == dt.datetime(2024, 2, 2, 10)
    assert cron.advance(start, cron.Schedule(start, 1, "week")) == dt.datetime(2024, 2, 7, 10)
    assert cron.advance(start, cron.Schedule(start, 1, "month")) == dt.datetime(2024, 2, 29, 10)
    assert cron.advance(start, cron.Schedule(start, 13, "month")) == dt.datetime(2025, 2, 28, 10)


def test_catch_up_jumps_to_the_first_slot_not_in_the_past() -> None:
    schedule = cron.Schedule(dt.datetime(2024, 5, 1, 0), 6, "hour")
    assert cron.catch_up(dt.datetime(2024, 5, 1, 0), schedule, NOW) == dt.datetime(2024, 5, 10, 18)
    assert cron.catch_up(dt.datetime(2024, 5, 10, 14), schedule, NOW) == dt.datetime(2024, 5, 10, 14)
    monthly = cron.Schedule(dt.datetime(2023, 1, 10, 14), 1, "month")
    assert cron.catch_up(dt.datetime(2023, 1, 10, 14), monthly, NOW) == dt.datetime(2024, 5, 10, 14)
    future = dt.datetime(2030, 1, 1, 0)
    assert cron.catch_up(future, schedule, NOW) == future


def test_slots_round_trip_in_abacos_unpadded_form() -> None:
    slot = dt.datetime(2024, 3, 4, 5)
    assert cron.format_slot(slot) == "2024-3-4 5"
    assert cron.parse_slot("2024-3-4 5") == slot == cron.parse_slot("2024-03-04 05")
