"""Issue 18's bench logic: the rounds of what the user waits for, the cost per execution, the headline keys
and README rows, the profile summary, and the API's wait schedule."""
from __future__ import annotations

from collections import Counter
from itertools import islice, pairwise

import pytest

from bench import execution_cost, hotpath, readme, report, sync
from chalicelib.domain.errors import BadRequest
from chalicelib.services import executions


def _round(scale: float) -> dict[str, list[float]]:
    return {"bare": [100.0, 110.0, 120.0], "sync": [v * scale for v in (90.0, 95.0, 100.0)],
            "sync_cold": [130.0, 140.0, 150.0], "async": [105.0, 110.0, 115.0], "accept": [8.0, 9.0, 10.0]}


def test_sync_summary_is_the_median_of_the_rounds_with_their_spread() -> None:
    data = sync.summarise([_round(1.0), _round(1.2), _round(0.9)],
                          [{"queued->dequeued": 10.0, "warm_hit": 1.0}, {"queued->dequeued": 14.0, "warm_hit": 0.0}])
    assert [r["sync_ratio_p50"] for r in data["rounds"]] == [round(95 / 110, 3), round(114 / 110, 3),
                                                              round(85.5 / 110, 3)]
    assert data["sync_ratio_p50"] == round(95 / 110, 3)  # the middle round, not a mean
    assert data["sync_ratio_p50_spread"] == [round(85.5 / 110, 3), round(114 / 110, 3)]
    assert data["sync_cold_ratio_p50"] == round(140 / 110, 3) and data["bare_p50_ms"] == 110.0
    assert data["accept_p50_ms"] == 9.0 and data["phases_ms"]["queued->dequeued"]["p50"] == 12.0
    assert data["warm_hit_rate"] == 0.5 and "warm_hit" not in data["phases_ms"]


def test_cost_per_execution_subtracts_the_quiet_windows_rate() -> None:
    zero = {"api": 0.0, "runner": 0.0, "emulator": 0.0}
    quiet = (Counter({"dynamodb.UpdateItem": 0, "sqs.ReceiveMessage": 0}), zero, 0.0)
    before = (Counter({"dynamodb.UpdateItem": 2, "sqs.ReceiveMessage": 4}), {**zero, "runner": 0.1, "emulator": 0.2},
              10.0)
    after = (Counter({"dynamodb.UpdateItem": 42, "sqs.ReceiveMessage": 24, "dynamodb.GetItem": 10}),
             {"api": 0.1, "runner": 0.5, "emulator": 1.2}, 20.0)  # 10 executions over 10 s
    got = execution_cost.per_execution(quiet, before, after, 10)
    assert got["requests_by_operation"] == {"dynamodb.GetItem": 1.0, "dynamodb.UpdateItem": 3.8,
                                            "sqs.ReceiveMessage": 1.6}
    assert got["requests_per_execution"] == 6.4
    assert got["cpu_ms_per_execution"] == {"api": 10.0, "runner": 30.0, "emulator": 80.0}
    assert got["our_cpu_ms_per_execution"] == 40.0 and got["background_requests_per_min"] == 36.0


def test_headline_and_readme_carry_the_users_wait_and_the_cost() -> None:
    suites = {"sync": sync.summarise([_round(1.0), _round(1.2), _round(0.9)], []),
              "cost": {"requests_per_execution": 14.5, "our_cpu_ms_per_execution": 30.0,
                       "cpu_ms_per_execution": {"api": 8.0, "runner": 22.0, "emulator": 41.0}},
              "throughput": {"ratio": 0.7, "ratio_spread": [0.6, 0.8]}}
    numbers = report.headline(suites)
    for key in ("sync_p50_ms", "sync_bare_p50_ms", "sync_ratio_p50", "sync_cold_ratio_p50", "api_accept_p50_ms",
                "our_cpu_ms_per_execution", "emulator_cpu_ms_per_execution", "aws_requests_per_execution",
                "throughput_ratio", "sync_ratio_p50_spread", "sync_cold_ratio_p50_spread", "throughput_ratio_spread"):
        assert numbers[key] is not None, key
    assert numbers["api_accept_p50_ms"] == 9.0 and numbers["emulator_cpu_ms_per_execution"] == 41.0
    verdicts = report.targets(numbers)
    assert verdicts["sync_ratio_p50"]["met"] is True and verdicts["sync_cold_ratio_p50"]["met"] is False
    assert verdicts["aws_requests_per_execution"]["met"] is False and verdicts["api_accept_p50_ms"]["met"] is True
    text = readme.table({**numbers, "targets": verdicts, "suites": suites, "label": "t", "machine": {},
                         "versions": {}, "load_average_end": None})
    assert "0.86x [0.78, 1.04]" in text and "API 8.0, runner 22.0" in text and "41.0 ms; 14.5" in text


def test_profile_summary_gives_cpu_ms_per_execution_and_our_functions_apart() -> None:
    ours = (str(hotpath.ROOT / "runners" / "pipeline" / "claim.py"), 10, "claim_message")
    theirs = ("/x/.venv/lib/python3.11/site-packages/botocore/endpoint.py", 5, "send")
    table = {ours: (2, 2, 0.004, 0.010, {}), theirs: (4, 4, 0.006, 0.006, {})}
    text = hotpath.summary(table, "runner", 2)
    assert "10 ms of CPU in all, 5.0 ms per execution" in text
    assert "    3.00       2.0  send (botocore/endpoint.py:5)" in text
    mine = text.split("## This repository's")[1]
    assert "    5.00       1.0  claim_message (runners/pipeline/claim.py:10)" in mine and "botocore" not in mine


def test_wait_parameter_counts_above_the_synchronous_timeout_as_it() -> None:
    assert executions.wait_parameter(None, 25) is None
    assert executions.wait_parameter("2.5", 25) == 2.5
    assert executions.wait_parameter("60", 25) == 25
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(BadRequest):
            executions.wait_parameter(bad, 25)


def test_waiting_reads_soon_then_ever_less_often_up_to_the_poll_interval() -> None:
    pauses = list(islice(executions.poll_pauses(), 40))
    assert pauses[0] == executions.SYNC_FIRST_POLL_SECONDS
    assert all(a <= b for a, b in pairwise(pauses))
    assert pauses[-1] == executions.SYNC_POLL_SECONDS
