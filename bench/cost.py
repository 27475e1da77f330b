"""``python -m bench.cost``: what a million executions cost in AWS (us-east-1), excluding EC2, request by request.

The requests one execution makes are counted on the wire of the local stack (``bench/cost_wire.py``,
``--measure``; the last measurement is ``bench/results/cost.json``) with their sizes, turned into billed
units (DynamoDB write units from the items each write changed, before and after, with the index entries
it changed and transactions twice: ``bench/item_size.py``; read units from the answer's size; SQS
requests; API Gateway and Lambda per API request) and priced with ``PRICES``. Three cases at
``--rate`` executions per second: idle (no traffic), case A (traffic on a few hundred actors, each with a
warm worker) and case B (the same traffic spread over 10,000 actors, every one keeping a worker whose
inbox long polls cost SQS requests while idle). Storage: executions kept ``execution_ex`` (30 days).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "cost.json"
SECONDS_PER_MONTH = 30 * 86_400

# Public on-demand prices, us-east-1 (AWS pricing pages, checked 2026): USD.
PRICES = {
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit (price cut of November 2024)
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
    "dynamodb_gb_month": 0.25,  # standard table class storage
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk, after the first million
    "rest_api_request": 3.50 / 1e6,  # API Gateway REST API, first 333 million a month
    "http_api_request": 1.00 / 1e6,  # API Gateway HTTP API (v2), first 300 million a month
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,  # x86
    "cloudwatch_put_metric": 0.01 / 1000,  # PutMetricData requests (the backlog metric)
}
LAMBDA_GB = 0.5  # the API function's memory (infrastructure/abaco_infra/config.py)
LAMBDA_SECONDS = 0.05  # billed duration of one API request (the bench's API suite: tens of ms)
EXECUTION_ITEM_KB = 2.0  # an execution record after its terminal write, when the measurement has no size
# DynamoDB stores 100 bytes of overhead per item and per index entry; a finished execution keeps its item
# and its keys-only time index entry (about 100 bytes of keys).
STORED_OVERHEAD_BYTES = 300
INBOX_POLLS_PER_MINUTE = 3  # one long poll of 20 s per idle worker
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READ_OPS = {"GetItem", "Query", "Scan", "BatchGetItem"}


@dataclass(frozen=True)
class Case:
    name: str
    rate: float  # executions per second
    actors: int  # actors with traffic, each keeping a warm worker that long-polls its inbox
    hosts: int  # runner hosts (each polls its pool's queues, heartbeats, renews duty leases)


def units(request: dict[str, Any]) -> dict[str, float]:
    """The billed units of one recorded request."""
    service, op = request["op"].split(".", 1)
    if service == "dynamodb" and "write_units" in request:  # priced from the items (bench/item_size.py)
        return {"dynamodb_write_unit": request["write_units"] + request["index_units"]}
    if service == "dynamodb" and op in WRITE_OPS:  # an older measurement: estimated from the wire bytes
        size_kb = max(request["request_bytes"], request["response_bytes"]) / 1024 / request["items"]
        per_item = max(1, math.ceil(size_kb))
        factor = 2 if op == "TransactWriteItems" else 1
        # An execution write also writes the small ``open`` index (its projected fields change), and its
        # creation the keys-only time index (chalicelib/wiring/resources.py).
        index = (1 + (op == "PutItem")) if request.get("executions") else 0
        return {"dynamodb_write_unit": factor * per_item * request["items"] + index}
    if service == "dynamodb" and op in READ_OPS:
        read = max(1, math.ceil(request["response_bytes"] / 4096))
        return {"dynamodb_read_unit": read * (1 if request["consistent"] else 0.5)}
    if service in ("sqs", "query"):
        return {"sqs_request": max(1, math.ceil(request["request_bytes"] / 65_536))}
    if service == "monitoring" or "PutMetricData" in op:
        return {"cloudwatch_put_metric": 1}
    return {}


def per_execution(measured: dict[str, Any], api: str, api_requests: float) -> dict[str, float]:
    """USD per execution by price line: the measured AWS requests and the API requests in front."""
    totals: dict[str, float] = {}
    for request in measured["requests"]:
        for line, amount in units(request).items():
            totals[line] = totals.get(line, 0.0) + amount / measured["executions"]
    totals[f"{api}_api_request"] = api_requests
    totals["lambda_request"] = api_requests
    totals["lambda_gb_second"] = api_requests * LAMBDA_GB * LAMBDA_SECONDS
    return {line: amount * PRICES[line] for line, amount in totals.items()}


def idle_per_month(measured: dict[str, Any], case: Case) -> dict[str, float]:
    """USD a month the system costs with no traffic: each host's own polls and writes, and each warm
    worker's inbox long polls."""
    host: dict[str, float] = {}
    for request in measured["idle_requests"]:
        if request["inbox"]:
            continue  # counted per worker below
        for line, amount in units(request).items():
            host[line] = host.get(line, 0.0) + amount / measured["idle_minutes"]
    minutes = SECONDS_PER_MONTH / 60
    out = {line: per_minute * minutes * case.hosts * PRICES[line] for line, per_minute in host.items()}
    out["sqs_request"] = out.get("sqs_request", 0.0) + \
        case.actors * INBOX_POLLS_PER_MINUTE * minutes * PRICES["sqs_request"]
    return out


def month(measured: dict[str, Any], case: Case, api: str, api_requests: float) -> dict[str, Any]:
    executions = case.rate * SECONDS_PER_MONTH
    traffic = {line: usd * executions for line, usd in per_execution(measured, api, api_requests).items()}
    idle = idle_per_month(measured, case)
    item_kb = (measured.get("execution_item_bytes", EXECUTION_ITEM_KB * 1024) + STORED_OVERHEAD_BYTES) / 1024
    storage = executions * item_kb / 1024 / 1024 * PRICES["dynamodb_gb_month"]  # 30 days kept
    total = sum(traffic.values()) + sum(idle.values()) + storage
    return {"case": case.name, "executions_per_month": executions, "traffic_usd": round(sum(traffic.values()), 2),
            "idle_usd": round(sum(idle.values()), 2), "storage_usd": round(storage, 2),
            "total_usd_per_month": round(total, 2),
            "usd_per_million_executions": round(total / executions * 1e6, 2) if executions else None,
            "by_line": {k: round(v, 2) for k, v in sorted({**traffic, **_prefixed(idle)}.items())}}


def _prefixed(idle: dict[str, float]) -> dict[str, float]:
    return {f"idle {line}": usd for line, usd in idle.items()}


def cases(rate: float, hosts: int) -> list[Case]:
    return [Case("idle", 0.0, 0, 2), Case("A: 300 busy actors", rate, 300, hosts),
            Case("B: spread over 10,000 actors", rate, 10_000, hosts)]


def requests_per_execution(measured: dict[str, Any]) -> dict[str, float]:
    return {op: round(n / measured["executions"], 2) for op, n in measured["by_operation"].items()}


def dump(measured: dict[str, Any]) -> str:
    """The measurement as JSON with one recorded request a line (a readable diff, a small file)."""
    head = {k: v for k, v in measured.items() if k not in ("requests", "idle_requests")}
    lines = [json.dumps(head)[:-1] + ","]
    for key in ("requests", "idle_requests"):
        rows = ",\n  ".join(json.dumps(r, separators=(",", ":")) for r in measured[key])
        lines.append(f' "{key}": [\n  {rows}\n ],')
    return "\n".join(lines).rstrip(",") + "\n}\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true",
                        help="count the requests on the wire of a local stack first (Docker; about two minutes) "
                             "and save them to bench/results/cost.json")
    parser.add_argument("--executions", type=int, default=20, help="executions measured (with --measure)")
    parser.add_argument("--spacing", type=float, default=None,
                        help="seconds between the measured messages to one actor (with --measure; default: case A's, "
                             "300 actors / rate)")
    parser.add_argument("--rate", type=float, default=100.0, help="executions per second (default 100)")
    parser.add_argument("--hosts", type=int, default=20, help="runner hosts at that rate (default 20)")
    parser.add_argument("--api", choices=("http", "rest"), default="http",
                        help="API Gateway flavour priced (http: the HTTP API the stack deploys by default; "
                             "rest: Chalice's REST API, -c api=rest)")
    parser.add_argument("--api-requests", type=float, default=1.0,
                        help="API requests per execution (the POST; add the client's polls)")
    parser.add_argument("--json", action="store_true", help="print the model as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.measure:
        from bench import cost_wire

        spacing = args.spacing if args.spacing is not None else 300 / args.rate
        measured = cost_wire.measure(args.executions, spacing=spacing)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(dump(measured))
    elif not RESULTS.exists():
        print(f"no measurement at {RESULTS}: run with --measure", file=sys.stderr)
        return 2
    measured = json.loads(RESULTS.read_text())
    model = {"measured_at": measured["measured_at"], "requests_per_execution": requests_per_execution(measured),
             "cases": [month(measured, case, args.api, args.api_requests) for case in cases(args.rate, args.hosts)]}
    if args.json:
        print(json.dumps(model, indent=1))
        return 0
    spacing = measured.get("spacing_seconds")
    pace = f", a message every {spacing:g} s" if spacing else ""
    print(f"AWS requests per execution (measured {model['measured_at']}{pace}): "
          f"{sum(model['requests_per_execution'].values()):.1f}  {model['requests_per_execution']}")
    print(f"{'case':32} {'USD/month':>11} {'traffic':>10} {'idle':>9} {'storage':>9} {'USD per 1M':>11}")
    for row in model["cases"]:
        per_million = "-" if row["usd_per_million_executions"] is None else f"{row['usd_per_million_executions']:.2f}"
        print(f"{row['case']:32} {row['total_usd_per_month']:11.2f} {row['traffic_usd']:10.2f} "
              f"{row['idle_usd']:9.2f} {row['storage_usd']:9.2f} {per_million:>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
