"""Abaco's search language over displayed records (reference §1.12). Pure logic, no storage.

Query parameters: ``search`` (any of the words, anywhere, case-insensitive; may repeat), ``exactsearch``
(the phrase must appear; may repeat), ``skip`` and ``limit`` (default 100), and field filters
``field=value`` or ``field.<op>=value`` with ``op`` one of ``OPERATORS``; fields may be nested with dots
(``final_state.ExitCode``, ``_links.owner``). Values are coerced as Abaco does: ``true``/``false``,
``none``, loose ISO-8601 times for time fields, numbers, JSON lists (single or double quotes), else text.

DynamoDB has no full-text index, so the service loads the tenant-scoped records and this module filters,
ranks and pages them (the reference's mapping hint for search).

``like`` patterns are regular expressions, as Mongo's ``$regex`` in Abaco, but run on RE2 (google-re2), whose
time is linear in the text: Python's backtracking engine took ~40 s on ``(a+)+$`` over 30 characters.
Backreferences and lookaround, which RE2 cannot run in linear time, are a 400. Every value, pattern and
count of parameters is capped, so one request's cost is bounded by the records it reads.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.naming import to_snake
from chalicelib.domain.paging import MAX_PAGE_LIMIT, MAX_SKIP

_DECIMAL = re.compile(r"[+-]?[0-9]+")
DEFAULT_LIMIT = 100  # Abaco's code default (its docs say 10)
OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "like", "nlike", "between")
MAX_PATTERN_CHARS = 256  # a like/nlike pattern; RE2 compiles it to a bounded automaton
MAX_VALUE_CHARS = 1_024  # any other search value or word
MAX_KEY_CHARS = 256  # a field path with its operator
MAX_PARAMETERS = 32  # conditions, words and phrases of one request together
NOT_FILTERS = frozenset({"search", "exactsearch", "skip", "limit", "cursor", "x-nonce"})
# Fields whose values are times (Abaco's list, plus finish_time which it displays as a time too).
TIME_FIELDS = frozenset({"start_time", "finish_time", "message_received_time", "last_execution_time",
                         "last_update_time", "StartedAt", "FinishedAt", "create_time",
                         "last_health_check_time", "last_use_time"})
_TIME = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})(?:T(?:(?P<h>\d{2})(?::(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6})\d*)?)?)?)?)?)?)?(?P<tz>Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    op: str
    value: Any
    raw: str


@dataclass(frozen=True)
class Query:
    conditions: tuple[Condition, ...] = ()
    terms: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    skip: int = 0
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None  # where the previous page stopped (``_metadata.next_cursor``)


def is_search(params: Mapping[str, Any]) -> bool:
    """Abaco turns a collection GET into a search when any parameter other than x-nonce is present."""
    return any(key != "x-nonce" for key in params)


def parse_time(text: str) -> dt.datetime:
    """Loose ISO-8601 (``2020``, ``2020-04``, ``...T20:15``, fractions, ``Z`` or offsets) to naive UTC."""
    match = _TIME.match(text.strip())
    if match is None:
        raise BadRequest("Inputted datetime was in an incorrect format. Please refer to docs and follow ISO 8601 "
                         f"formatting. e.g. '2020-05-01T14:45:41.591Z' (received '{text}')")
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k not in ("f", "tz")}
    micro = int((match["f"] or "0").ljust(6, "0"))
    try:
        value = dt.datetime(parts["y"], parts.get("mo", 1), parts.get("d", 1), parts.get("h", 0),
                            parts.get("mi", 0), parts.get("s", 0), micro)
    except ValueError as exc:
        raise BadRequest(f"Inputted datetime '{text}' is not a valid date.") from exc
    return value - _offset(match["tz"])


def _offset(tz: str | None) -> dt.timedelta:
    if not tz or tz == "Z":
        return dt.timedelta(0)
    digits = tz[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return delta if tz[0] == "+" else -delta


def parse_query(params: Mapping[str, str | Sequence[str]]) -> Query:
    """Query parameters (each a value or a list of values) to a Query; bad values are a 400."""
    conditions: list[Condition] = []
    terms: list[str] = []
    phrases: list[str] = []
    paging = {"skip": 0, "limit": DEFAULT_LIMIT}
    cursor: str | None = None
    for key, given in params.items():
        values = [given] if isinstance(given, str) else list(given)
        _check_sizes(key, values)
        if key == "search":
            terms.extend(word.lower() for value in values for word in value.split())
        elif key == "exactsearch":
            phrases.extend(value.lower() for value in values if value)
        elif key in paging:
            paging[key] = _non_negative(key, values[-1])
        elif key == "cursor":
            cursor = values[-1] or None
        elif key not in NOT_FILTERS:
            conditions.extend(_condition(key, value) for value in values)
    if len(conditions) + len(terms) + len(phrases) > MAX_PARAMETERS:
        raise BadRequest(f"A search takes at most {MAX_PARAMETERS} conditions, words and phrases together.")
    limit = min(paging["limit"], MAX_PAGE_LIMIT)  # clamped: one request never pages the whole tenant
    if paging["skip"] > MAX_SKIP:
        raise BadRequest(f"skip may be at most {MAX_SKIP}; follow _metadata.next (the cursor) to page further.")
    return Query(tuple(conditions), tuple(terms), tuple(phrases), paging["skip"], limit, cursor)


def _check_sizes(key: str, values: list[str]) -> None:
    if len(key) > MAX_KEY_CHARS:
        raise BadRequest(f"Search field '{key[:64]}...' is longer than {MAX_KEY_CHARS} characters.")
    cap = MAX_PATTERN_CHARS if key.endswith((".like", ".nlike")) else MAX_VALUE_CHARS
    if len(values) > MAX_PARAMETERS or any(len(value) > cap for value in values):
        raise BadRequest(f"Search parameter '{key[:64]}' takes at most {MAX_PARAMETERS} values of at most {cap} "
                         "characters.")


def _non_negative(key: str, value: str) -> int:
    if not _DECIMAL.fullmatch(value.strip()):  # int() would also take "1_000" and non-ASCII digits
        raise BadRequest(f'Inputted "{key}" parameter must be an int. Received: {value}')
    number = int(value.strip())
    if number < 0:
        raise BadRequest(f'Inputted "{key}" must be positive. Received: {value}')
    return number


def _condition(key: str, raw: str) -> Condition:
    segments = key.split(".")
    op = "eq"
    if len(segments) > 1 and segments[-1] in OPERATORS:
        op = segments.pop()
    if not all(segments):
        raise BadRequest(f"Invalid search field '{key}'.")
    segments[0] = to_snake(segments[0])
    is_time = segments[-1] in TIME_FIELDS
    return Condition(tuple(segments), op, _coerce_for(op, raw, is_time), raw)


def _coerce_for(op: str, raw: str, is_time: bool) -> Any:
    if op == "between":
        low, sep, high = raw.partition(",")
        if not sep:
            raise BadRequest("Between must have two variables separated by a comma. Ex. io.between=20,40")
        return (_bound(low, is_time), _bound(high, is_time))
    if op in ("like", "nlike"):
        return _pattern(raw, op)
    if op in ("in", "nin"):
        parsed = _json(raw)
        items = parsed if isinstance(parsed, list) else [p.strip() for p in raw.split(",")]
        return [parse_time(i) if is_time and isinstance(i, str) else i for i in items]
    return coerce(raw, is_time)


def _pattern(raw: str, op: str) -> Any:
    """A linear-time matcher (RE2) for a user's pattern; what RE2 cannot compile is a 400."""
    options = re2.Options()
    options.max_mem = 1 << 20  # 1 MiB of automaton per pattern (RE2's default is 8 MiB)
    options.log_errors = False
    try:
        return re2.compile(raw, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        reason = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise BadRequest(f"Invalid regular expression '{raw}' for .{op} (backreferences and lookaround are not "
                         f"supported): {reason}") from exc


def _bound(text: str, is_time: bool) -> Any:
    if is_time:
        return parse_time(text)
    try:
        return float(text)
    except ValueError as exc:
        raise BadRequest("The values given to .between should be either float or ISO 8601 datetime.") from exc


def coerce(raw: str, is_time: bool = False) -> Any:
    """Abaco's value coercion for one query value."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    if is_time:
        return parse_time(raw)
    try:
        return float(raw)
    except ValueError:
        pass
    parsed = _json(raw)
    return raw if parsed is None else parsed


def _json(raw: str) -> Any:
    for text in (raw.replace("'", '"'), raw.replace('"', "'")):
        try:
            return json.loads(text)
        except ValueError:
            continue
    return None


# --- evaluation --------------------------------------------------------------------------------------

def _candidates(record: Any, path: tuple[str, ...]) -> list[Any]:
    """The values at ``path``; lists fan out (a list field matches on itself or any element)."""
    current = [record]
    for segment in path:
        nxt: list[Any] = []
        for value in current:
            items = value if isinstance(value, list) else [value]
            nxt.extend(item[segment] for item in items if isinstance(item, dict) and segment in item)
        current = nxt
    out: list[Any] = []
    for value in current:
        out.append(value)
        if isinstance(value, list):
            out.extend(value)
    return out


def _comparable(candidate: Any, target: Any) -> Any:
    """``candidate`` in the target's kind, or None when they cannot be compared (Mongo's type brackets)."""
    if isinstance(target, dt.datetime):
        if isinstance(candidate, str):
            try:
                return parse_time(candidate)
            except BadRequest:
                return None
        return None
    if isinstance(target, bool) or isinstance(candidate, bool):
        return candidate if isinstance(target, bool) and isinstance(candidate, bool) else None
    if isinstance(target, (int, float)):
        return candidate if isinstance(candidate, (int, float)) else None
    return candidate if type(candidate) is type(target) else None


def _equals(candidates: list[Any], target: Any, raw: str) -> bool:
    if target is None:
        return not candidates or any(c is None for c in candidates)
    for candidate in candidates:
        value = _comparable(candidate, target)
        if value is not None and value == target:
            return True
        if isinstance(candidate, str) and candidate == raw:  # "123" as an id, not a number
            return True
    return False


def _ordered(candidates: list[Any], target: Any, test: Any) -> bool:
    for candidate in candidates:
        value = _comparable(candidate, target)
        if value is not None and not isinstance(value, (list, dict)) and test(value, target):
            return True
    return False


def matches(record: Mapping[str, Any], condition: Condition) -> bool:
    candidates = _candidates(record, condition.path)
    op, target, raw = condition.op, condition.value, condition.raw
    if op == "eq":
        return _equals(candidates, target, raw)
    if op == "neq":
        return not _equals(candidates, target, raw)
    if op in ("in", "nin"):
        found = any(_equals(candidates, item, str(item)) for item in target)
        return found if op == "in" else not found
    if op in ("like", "nlike"):
        found = any(isinstance(c, str) and target.search(c) for c in candidates)
        return found if op == "like" else not found
    if op == "between":
        low, high = target
        return _ordered(candidates, low, lambda v, t: v >= t) and _ordered(candidates, high, lambda v, t: v <= t)
    tests = {"gt": lambda v, t: v > t, "gte": lambda v, t: v >= t, "lt": lambda v, t: v < t,
             "lte": lambda v, t: v <= t}
    return _ordered(candidates, target, tests[op])


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_text(v) for v in value.values())  # values only, as a Mongo text index
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _score(record: Mapping[str, Any], query: Query) -> int | None:
    """None when the record fails the text search; otherwise its relevance (term occurrences)."""
    if not query.terms and not query.phrases:
        return 0
    blob = _text(record).lower()
    if not all(phrase in blob for phrase in query.phrases):
        return None
    if not query.terms:
        return len(query.phrases)
    score = sum(blob.count(term) for term in query.terms)
    return score or None


def run(records: Iterable[Mapping[str, Any]], query: Query) -> dict[str, Any]:
    """Filter, rank (stable: ties keep the given order) and page; Abaco's result shape."""
    hits: list[tuple[int, int, Mapping[str, Any]]] = []
    for position, record in enumerate(records):
        if not all(matches(record, c) for c in query.conditions):
            continue
        score = _score(record, query)
        if score is not None:
            hits.append((-score, position, record))
    hits.sort(key=lambda hit: (hit[0], hit[1]))
    page = [record for _, _, record in hits[query.skip: query.skip + query.limit]]
    return {"_metadata": {"total_count": len(hits), "records_skipped": query.skip,
                          "record_limit": query.limit, "count_returned": len(page)},
            "search": page}
