"""Abaco's cron schedules (reference §4.7). Pure logic: parsing, validation and slot arithmetic.

A schedule reads ``"YYYY-MM-DD HH + N unit"`` (UTC, hour granularity); the start may be ``now`` and the
unit is hour(s), day(s), week(s) or month(s) (calendar months). The API validates a schedule and
computes ``cron_next_ex``; the cron duty uses ``advance`` and ``catch_up`` to fire it.

``cron_next_ex`` is kept in Abaco's own form, ``"YYYY-M-D H"`` (no zero padding), because clients read it.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from chalicelib.domain.errors import BadRequest

UNITS = ("hour", "hours", "day", "days", "week", "weeks", "month", "months")
MAX_INCREMENT = 10_000  # keeps slot arithmetic inside datetime's range (10,000 months is 833 years)
MAX_SCHEDULE_CHARS = 64  # "2026-12-31 23 + 10000 months" is 28; a cap keeps parsing cheap on any input
_START = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})[ T](?P<h>\d{1,2})$")


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the first slot and the step between slots."""

    start: dt.datetime  # naive UTC, on the hour
    count: int
    unit: str  # singular: hour, day, week or month


def now_hour(now: dt.datetime | None = None) -> dt.datetime:
    """The current UTC time truncated to the hour, naive (the unit all slots are compared in)."""
    current = now or dt.datetime.now(dt.UTC)
    if current.tzinfo is not None:
        current = current.astimezone(dt.UTC).replace(tzinfo=None)
    return current.replace(minute=0, second=0, microsecond=0)


def parse(text: str, now: dt.datetime | None = None) -> Schedule:
    """Validate a schedule with Abaco's messages; a start before the current hour is refused."""
    start_text, count_text, unit = _split(text)
    if unit not in UNITS:
        raise BadRequest(f"{unit} is an invalid unit of time")
    count = _count(count_text)
    current = now_hour(now)
    if start_text.lower() == "now":
        return Schedule(current, count, unit.rstrip("s"))
    start = parse_slot(start_text, what="starting date")
    if start < current:
        raise BadRequest(f"The starting datetime is old. The current UTC time is {current}")
    return Schedule(start, count, unit.rstrip("s"))


def _split(text: object) -> tuple[str, str, str]:
    """``start + count unit`` split at the first ``+`` with str methods (linear; the regex this replaces
    backtracked quadratically on long input), within ``MAX_SCHEDULE_CHARS``."""
    if not isinstance(text, str):
        raise BadRequest("The cron is not in the correct format")
    if len(text) > MAX_SCHEDULE_CHARS:
        raise BadRequest(f"The cron schedule is longer than {MAX_SCHEDULE_CHARS} characters")
    start, plus, rest = text.partition("+")
    words = rest.split()
    if not plus or not start.strip() or len(words) != 2:
        raise BadRequest("The cron is not in the correct format")
    return start.strip(), words[0], words[1]


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError as exc:
        raise BadRequest(f"The cron increment {text} is not a whole number") from exc
    if count < 1 or count > MAX_INCREMENT:
        raise BadRequest(f"The cron increment must be between 1 and {MAX_INCREMENT}")
    return count


def parse_slot(text: str, what: str = "cron_next_ex") -> dt.datetime:
    """``"YYYY-M-D H"`` (padded or not) to a naive UTC datetime."""
    match = _START.match(text.strip())
    if match is None:
        raise BadRequest(f"The {what} {text} is not in the correct format")
    try:
        return dt.datetime(int(match["y"]), int(match["m"]), int(match["d"]), int(match["h"]))
    except ValueError as exc:
        raise BadRequest(f"The {what} {text} is not a valid date") from exc


def format_slot(slot: dt.datetime) -> str:
    """Abaco's ``cron_next_ex`` form: ``2024-5-1 9``."""
    return f"{slot.year}-{slot.month}-{slot.day} {slot.hour}"


def advance(slot: dt.datetime, schedule: Schedule) -> dt.datetime:
    """The slot after ``slot``; months are calendar months (Jan 31 + 1 month = Feb 28 or 29)."""
    if schedule.unit == "hour":
        return slot + dt.timedelta(hours=schedule.count)
    if schedule.unit == "day":
        return slot + dt.timedelta(days=schedule.count)
    if schedule.unit == "week":
        return slot + dt.timedelta(weeks=schedule.count)
    return _add_months(slot, schedule.count)


def _add_months(slot: dt.datetime, months: int) -> dt.datetime:
    index = slot.month - 1 + months
    year, month = slot.year + index // 12, index % 12 + 1
    day = min(slot.day, calendar.monthrange(year, month)[1])
    return slot.replace(year=year, month=month, day=day)


def catch_up(slot: dt.datetime, schedule: Schedule, now: dt.datetime | None = None) -> dt.datetime:
    """The first slot at or after the current hour (a schedule missed while cron was down runs once)."""
    current = now_hour(now)
    if slot >= current:
        return slot
    if schedule.unit in ("hour", "day", "week"):
        step = advance(slot, schedule) - slot
        missed = (current - slot) // step
        slot = slot + step * missed
    while slot < current:
        slot = advance(slot, schedule)
    return slot


def next_ex(schedule: Schedule) -> str:
    """The ``cron_next_ex`` value stored with a newly validated schedule: its first slot."""
    return format_slot(schedule.start)
