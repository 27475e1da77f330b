"""The dashboard's series: buckets, percentiles and windows (chalicelib/services/insights.py), pure logic."""
from __future__ import annotations

import pytest

from chalicelib.domain import stats
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Execution, ExecutionStatus
from chalicelib.services import insights

NOW = 1_800_000_000.0  # a round minute: 2027-01-15T08:00:00Z


def execution(i: int, queued: float, status: ExecutionStatus = ExecutionStatus.COMPLETE,
              wait: float = 0.05, run: float = 0.2) -> Execution:
    phases = {"queued": queued, "claimed": queued + wait}
    if status in (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR):
        phases.update(started=queued + wait + 0.01, exited=queued + wait + 0.01 + run)
    return Execution(tenant="T", actor_id="a", id=f"e{i}", executor="u", status=status, phases=phases, cpu=i, io=1)


def test_percentile_is_nearest_rank_and_none_without_values() -> None:
    assert insights.percentile([], 0.5) is None
    assert insights.percentile([5.0], 0.99) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert insights.percentile(values, 0.5) == 50.0
    assert insights.percentile(values, 0.95) == 95.0
    assert insights.percentile(values, 0.99) == 99.0


def test_an_hour_is_sixty_minute_buckets_ending_with_the_current_minute() -> None:
    start, span, step = insights._bounds("hour", NOW + 10)
    assert (span, step) == (3600, 60)
    assert start + span == NOW + 60  # the bucket holding "now" is the last one
    rows = insights.series([], start, span, step)
    assert len(rows) == 60 and all(r["total"] == 0 and r["p50"] is None for r in rows)


def test_executions_land_in_their_minute_with_counts_and_percentiles() -> None:
    start, span, step = insights._bounds("hour", NOW)
    found = [execution(1, NOW - 30, run=0.1), execution(2, NOW - 20, run=0.3),
             execution(3, NOW - 10, ExecutionStatus.ERROR, run=0.5), execution(4, NOW + 5, ExecutionStatus.RUNNING),
             execution(5, start - 1)]  # before the window: not counted
    rows = insights.series(found, start, span, step)
    minute = rows[-2]  # [NOW - 60, NOW)
    assert minute["counts"]["COMPLETE"] == 2 and minute["counts"]["ERROR"] == 1 and minute["total"] == 3
    assert minute["p50"] == pytest.approx(300.0) and minute["p99"] == pytest.approx(500.0)
    assert minute["wait_p50"] == pytest.approx(50.0)
    assert rows[-1]["counts"]["RUNNING"] == 1 and rows[-1]["p50"] is None  # running: no run time yet
    assert sum(r["total"] for r in rows) == 4


def test_a_day_is_half_hours_and_an_unknown_window_is_a_400() -> None:
    assert insights.window_of("day") == (86_400, 1800)
    assert insights.window_of(None) == (3600, 60)
    with pytest.raises(BadRequest, match="window must be one of hour, day"):
        insights.window_of("week")


def test_summary_counts_every_status_and_totals_cpu() -> None:
    found = [execution(i, NOW - i) for i in range(1, 5)] + [execution(9, NOW, ExecutionStatus.ERROR)]
    summary = insights.summary(found)
    assert summary["executions"] == 5 and summary["counts"]["ERROR"] == 1 and summary["counts"]["SUBMITTED"] == 0
    assert summary["cpu"] == 1 + 2 + 3 + 4 + 9 and summary["p50"] == pytest.approx(200.0)


def test_received_time_falls_back_to_the_message_time_without_phases() -> None:
    bare = Execution(tenant="T", actor_id="a", id="e", executor="u",
                     message_received_time="2027-01-15T08:00:00.000000Z")
    assert insights.received_at(bare) == NOW
    assert insights.duration_ms(bare) is None and insights.queue_wait_ms(bare) is None


def test_the_stats_models_name_every_field_the_service_builds() -> None:
    """The answers go through an allow-list (chalicelib/domain/stats.py): a field the service adds and the
    model does not name would vanish from the API, so every built row must survive the model unchanged."""
    start, span, step = insights._bounds("hour", NOW)
    found = [execution(1, NOW - 30), execution(2, NOW - 20, status=ExecutionStatus.ERROR),
             execution(3, NOW - 10, status=ExecutionStatus.RUNNING)]
    for model, built in ((stats.Summary, insights.summary(found)),
                         *((stats.Bucket, row) for row in insights.series(found, start, span, step)),
                         *((stats.RecentExecution, insights.recent_row(e)) for e in found)):
        assert model.model_validate(built).model_dump(mode="json") == built, model.__name__
