"""The request-level cost model (``python -m bench.cost``): billed units from recorded requests, and the
cases priced from the committed measurement (bench/results/cost.json)."""
from __future__ import annotations

import json

import pytest

from bench import cost


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
    assert cost.main(["--json", "--api", "http"]) == 0
    http = json.loads(capsys.readouterr().out)["cases"][1]
    assert http["usd_per_million_executions"] == pytest.approx(a["usd_per_million_executions"] - 2.5, abs=0.05)
