"""DynamoDB's billed size of an item and the write units of one write, for ``python -m bench.cost``.

The bytes on the wire overstate an item (type tags, quotes, escapes) and say nothing of what a write
replaces: an UpdateItem is billed by the larger of the item before and after it, whatever the request
says, and each global secondary index whose entry the write changes is written too. So the recording
proxy of ``bench/cost_wire.py`` reads each written item before and after the write (straight from the
emulator, not counted) and this module prices the difference with DynamoDB's sizing rules ("Item sizes and
formats" in the DynamoDB developer guide): attribute names and values in UTF-8, a number about one byte
per two significant digits plus one, one byte for a boolean or null, three bytes plus one per element for
a list or a map. The index definitions are the code's own (``chalicelib/wiring/resources.py``).
"""
from __future__ import annotations

import math
from typing import Any

from chalicelib.wiring.resources import TABLES, TableDef

Item = dict[str, Any]
WRITE_UNIT_BYTES = 1024


def value_size(value: dict[str, Any]) -> int:
    """The billed size of one typed attribute value (``{"S": ...}``, ``{"N": ...}``, ...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").strip("0")
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data) * 3 // 4  # base64 on the wire
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: element}) for element in data)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Item | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def table_of(physical: str) -> TableDef | None:
    """The definition of a physical table name (``{prefix}-{name}``)."""
    return next((t for t in TABLES if physical.endswith(f"-{t.name}")), None)


def key_of(table: TableDef, item: Item) -> Item:
    return {k: item[k] for k in (table.pk, table.sk) if k and k in item}


def _index_entry(table: TableDef, index: tuple[str, str, str | None], item: Item | None) -> Item | None:
    """The entry ``item`` has in ``index`` (None when it lacks the index key: a sparse index)."""
    name, ipk, isk = index
    if item is None or ipk not in item or (isk and isk not in item):
        return None
    projected = dict(table.projections).get(name)
    if projected is None:
        return dict(item)  # ALL
    keep = {table.pk, table.sk, ipk, isk, *projected} - {None}
    return {k: v for k, v in item.items() if k in keep}


def index_units(table: TableDef, before: Item | None, after: Item | None) -> int:
    """Write units of the table's indexes for one write from ``before`` to ``after``."""
    total = 0
    for index in table.indexes:
        old, new = _index_entry(table, index, before), _index_entry(table, index, after)
        if old == new:
            continue
        if old is None or new is None:
            total += units(item_size(old or new))
        elif any(old.get(k) != new.get(k) for k in index[1:] if k):
            total += units(item_size(old)) + units(item_size(new))  # the key moved: a delete and a put
        else:
            total += units(max(item_size(old), item_size(new)))
    return total


def write_units(table: TableDef | None, before: Item | None, after: Item | None,
                transactional: bool = False) -> dict[str, int]:
    """The table's and its indexes' write units for one write; a transaction bills the table twice (the
    index entries follow as ordinary writes)."""
    table_units = units(max(item_size(before), item_size(after))) * (2 if transactional else 1)
    return {"table": table_units, "index": index_units(table, before, after) if table else 0}
