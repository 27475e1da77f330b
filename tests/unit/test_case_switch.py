"""The snake/camel switch applied once, at the edge (chalicelib/edge/envelope.py ``cased``), as each view
declares which keys of its result are field names."""
from __future__ import annotations

from chalicelib.edge.envelope import DATA, FIELDS, SEARCH, cased, nested


def test_a_results_own_keys_follow_the_switch_and_nested_dicts_do_not() -> None:
    actor = {"max_workers": 2, "default_environment": {"snake_key": "v"}, "_links": {"self_link": "x"}}
    assert cased(actor, "camel") == {"maxWorkers": 2, "defaultEnvironment": {"snake_key": "v"},
                                     "_links": {"self_link": "x"}}
    assert cased([actor], "camel", FIELDS)[0]["maxWorkers"] == 2
    assert cased(actor, "snake") is actor


def test_keys_that_are_data_are_never_converted() -> None:
    grants = {"some_user": "READ", "other_user": "UPDATE"}
    assert cased(grants, "camel", DATA) == grants


def test_declared_records_are_converted_with_the_result() -> None:
    found = {"_metadata": {"total_count": 1}, "search": [{"max_workers": 2, "default_environment": {"a_b": 1}}]}
    assert cased(found, "camel", SEARCH) == {"_metadata": {"totalCount": 1},
                                             "search": [{"maxWorkers": 2, "defaultEnvironment": {"a_b": 1}}]}
    summary = {"total_executions": 1, "executions": [{"finish_time": None}]}
    assert cased(summary, "camel", nested("executions")) == {"totalExecutions": 1,
                                                              "executions": [{"finishTime": None}]}
    admin = [{"image_name": "i", "workers": [{"last_health_check_time": "t"}]}]
    assert cased(admin, "camel", nested("workers")) == [{"imageName": "i", "workers": [{"lastHealthCheckTime": "t"}]}]
