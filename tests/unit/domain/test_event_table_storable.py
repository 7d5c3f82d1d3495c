"""Every value of a decoded row is checked against the event table's column types before a batch is written."""

from __future__ import annotations

from typing import Any

import pytest

from flytelineage.domain.event_table import event_row_problem, storable_events_table
from tests.unit.domain.event_rows import row

CASES: list[tuple[dict[str, Any], str | None]] = [
    ({}, None),
    ({"retry_attempt": 2**31 - 1, "phase_version": -(2**31)}, None),
    ({"retry_attempt": 2**31}, "column retry_attempt (int32): 2147483648 is outside the int32 range"),
    ({"phase_version": 2**32 - 1}, "column phase_version (int32): 4294967295 is outside the int32 range"),
    ({"retry_attempt": True}, "column retry_attempt (int32): bool is not an integer"),
    ({"node_name": "a\ud800b"}, "column node_name (string): not valid UTF-8 (surrogates not allowed at character 1)"),
    ({"node_name": 7}, "column node_name (string): int is not a string"),
    ({"is_parent": 1}, "column is_parent (bool): int is not a boolean"),
    (
        {"occurred_at": 253_402_300_800_000_000},
        "column occurred_at (timestamp[us, tz=UTC]): "
        "253402300800000000 microseconds is outside the representable time range",
    ),
    ({"project": None}, "column project is required but missing"),
]


@pytest.mark.parametrize(("change", "expected"), CASES)
def test_event_row_problem(change: dict[str, Any], expected: str | None) -> None:
    good = row("task", "RUNNING", node_id="n0")
    assert event_row_problem({**good, **change}) == expected


def test_one_bad_row_costs_one_row_not_the_batch() -> None:
    rows = [row("task", "RUNNING", node_id=f"n{i}", message_id=f"m{i}") for i in range(5)]
    rows[2] = {**rows[2], "retry_attempt": 2**31}
    rows[4] = {**rows[4], "error_message": "\udc80"}
    table, rejected = storable_events_table(rows)
    assert table.column("message_id").to_pylist() == ["m0", "m1", "m3"]
    assert [(r["message_id"], problem.split(":")[0]) for r, problem in rejected] == [
        ("m2", "column retry_attempt (int32)"),
        ("m4", "column error_message (string)"),
    ]


def test_a_clean_batch_is_converted_whole() -> None:
    rows = [row("node", "RUNNING", node_id=f"n{i}", message_id=f"m{i}") for i in range(3)]
    table, rejected = storable_events_table(rows)
    assert (table.num_rows, rejected) == (3, [])
