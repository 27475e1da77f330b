"""The request-level cost model (``python -m bench.cost``): billed units from recorded requests, and the
cases priced from the committed measurement (bench/results/cost.json)."""
from __future__ import annotations

import json

import pytest

from bench import cost, item_size
from chalicelib.wiring import resources


def _request(op: str, request_bytes: int = 500, response_bytes: int = 0, **flags: object) -> dict:
    return {"op": op, "request_bytes": request_bytes, "response_bytes": response_bytes, "consistent": False,
            "index": False, "items": 1, "inbox": False, "executions": False, **flags}


def test_units_follow_item_sizes_transactions_indexes_and_consistency() -> None:
    assert cost.units(_request("dynamodb.PutItem", 2500)) == {"dynamodb_write_unit": 3}
    assert cost.units(_request("dynamodb.PutItem", 500, executions=True)) == {"dynamodb_write_unit": 3}  # + 2 indexes
    assert cost.units(_request("dynamodb.TransactWriteItems", 1800, items=2)) == {"dynamodb_write_unit": 4}
    assert cost.units(_request("dynamodb.GetItem", 100, 5000)) == {"dynamodb_read_unit": 1.0}
    assert cost.units(_request("dynamodb.GetItem", 100, 5000, consistent=True)) == {"dynamodb_read_unit": 2}
    assert cost.units(_request("sqs.SendMessage", 70_000)) == {"sqs_request": 2}  # 64 KB chunks


def test_the_help_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cost.main(["--help"])
    assert exited.value.code == 0 and "--measure" in capsys.readouterr().out


def test_spreading_traffic_over_10000_actors_costs_more_than_over_300(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--json"]) == 0
    model = json.loads(capsys.readouterr().out)
    idle, a, b = model["cases"]
    assert idle["traffic_usd"] == 0 and idle["total_usd_per_month"] > 0
    assert a["traffic_usd"] == b["traffic_usd"] and b["idle_usd"] > a["idle_usd"]  # idle inbox polls
    assert 0 < a["usd_per_million_executions"] < b["usd_per_million_executions"]
    assert cost.main(["--json", "--api", "rest"]) == 0  # the default prices the HTTP API the stack deploys
    rest = json.loads(capsys.readouterr().out)["cases"][1]
    assert rest["usd_per_million_executions"] == pytest.approx(a["usd_per_million_executions"] + 2.5, abs=0.05)


def test_the_committed_measurement_prices_every_write_from_its_items() -> None:
    measured = json.loads(cost.RESULTS.read_text())
    writes = [r for r in measured["requests"] if r["op"].split(".")[1] in cost.WRITE_OPS]
    assert writes and all("write_units" in r and "index_units" in r for r in writes)
    assert 0 < measured["execution_item_bytes"] <= item_size.WRITE_UNIT_BYTES  # a finished execution: 1 unit


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert item_size.item_size({"ab": {"S": "héllo"}}) == 2 + 6  # names and strings in UTF-8
    assert item_size.item_size({"n": {"N": "1796645081.437"}}) == 1 + 8  # 13 significant digits: 7 + 1
    assert item_size.item_size({"n": {"N": "100"}}) == 1 + 2  # trailing zeros do not count
    assert item_size.item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    assert item_size.item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size.item_size({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}) == 1 + 3 + (2 + 1) + (2 + 1)


def test_a_write_is_billed_by_the_larger_item_and_the_index_entries_it_changes() -> None:
    table = resources.EXECUTIONS
    keys = {"actor_dbid": {"S": "T_A"}, "execution_id": {"S": "e1"}}
    created = {**keys, "tenant": {"S": "T"}, "message_received_time": {"S": "t"}, "open_pool": {"S": "default#0"},
               "status": {"S": "SUBMITTED"}, "inbox_message": {"S": "x" * 1500}}
    # A put of 1.5 KB: 2 units, plus a new entry in the open index and one in the time index.
    assert item_size.write_units(table, None, created) == {"table": 2, "index": 2}
    claimed = {**created, "status": {"S": "RUNNING"}}  # a projected attribute changed: the open entry is rewritten
    assert item_size.write_units(table, created, claimed) == {"table": 2, "index": 1}
    finished = {k: v for k, v in claimed.items() if k not in ("open_pool", "inbox_message")}
    # Billed by the larger (before) item; the open entry is deleted; the keys-only time entry is untouched.
    assert item_size.write_units(table, claimed, finished, transactional=True) == {"table": 4, "index": 1}
    assert item_size.write_units(table, finished, finished) == {"table": 1, "index": 0}  # a failed condition


def test_units_use_the_priced_write_when_the_measurement_has_it() -> None:
    assert cost.units(_request("dynamodb.UpdateItem", 5000, write_units=1, index_units=1)) == {"dynamodb_write_unit": 2}
