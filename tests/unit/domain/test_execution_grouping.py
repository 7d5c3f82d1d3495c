"""Table tests for ``execution_grouping``: readiness, dedup, order, cross-run state, late and expired events."""

from __future__ import annotations

import random
from datetime import timedelta

import pyarrow as pa
import pytest

from flytelineage.domain.event_table import EVENT_SCHEMA
from flytelineage.domain.execution_grouping import (
    GroupingState,
    conform_events,
    dedupe_events,
    iter_execution_slices,
    order_events,
    split_ready,
)
from flytelineage.domain.lineage_model import ExecutionId
from tests.unit.domain.event_rows import at, row, table

SETTLE = timedelta(minutes=10)


def _linear(execution: str = "e1", received: float = 0, terminal: str | None = "SUCCEEDED") -> list[dict]:
    rows = [
        row("workflow", "RUNNING", execution=execution, occurred=0, received=received),
        row("node", "QUEUED", execution=execution, node_id="n0", occurred=1, received=received),
        row(
            "task",
            "RUNNING",
            execution=execution,
            node_id="n0",
            retry_attempt=0,
            phase_version=0,
            occurred=2,
            received=received,
        ),
        row(
            "task",
            "SUCCEEDED",
            execution=execution,
            node_id="n0",
            retry_attempt=0,
            phase_version=0,
            occurred=3,
            received=received,
        ),
        row("node", "SUCCEEDED", execution=execution, node_id="n0", occurred=4, received=received),
    ]
    if terminal:
        rows.append(row("workflow", terminal, execution=execution, occurred=5, received=received))
    return rows


def _names(t: pa.Table) -> list[str]:
    return sorted(set(t.column("execution_name").to_pylist()))


@pytest.mark.parametrize(
    ("terminal", "as_of", "expected_ready"),
    [
        ("SUCCEEDED", 600, ["e1"]),  # exactly settled
        ("SUCCEEDED", 599, []),  # still inside the settle window
        ("FAILED", 3600, ["e1"]),
        ("ABORTED", 3600, ["e1"]),
        ("TIMED_OUT", 3600, ["e1"]),
        (None, 3600, []),  # no terminal event: stays pending
    ],
)
def test_ready_needs_a_settled_terminal_event(terminal: str | None, as_of: float, expected_ready: list[str]) -> None:
    result = split_ready(None, table(_linear(terminal=terminal)), as_of=at(as_of), settle=SETTLE)
    assert _names(result.ready) == expected_ready
    assert _names(result.state.pending) == ([] if expected_ready else ["e1"])
    assert result.late.num_rows == 0 and result.expired.num_rows == 0


def test_every_row_lands_in_exactly_one_output() -> None:
    rows = _linear("a") + _linear("b", terminal=None) + _linear("c", received=3000)
    result = split_ready(None, table(rows), as_of=at(3000), settle=SETTLE)
    assert _names(result.ready) == ["a"]
    assert _names(result.state.pending) == ["b", "c"]
    total = result.ready.num_rows + result.state.pending.num_rows + result.late.num_rows + result.expired.num_rows
    assert total == len(rows)


def test_duplicates_are_removed_by_event_id_keeping_the_first_received() -> None:
    rows = _linear()
    again = [dict(r, received_at=at(5), message_id="redelivered") for r in rows]
    result = split_ready(None, table(again + rows), as_of=at(3600), settle=SETTLE)
    assert result.ready.num_rows == len(rows)
    assert "redelivered" not in result.ready.column("message_id").to_pylist()


def test_output_is_identical_for_any_permutation_and_duplication() -> None:
    rows = _linear("a") + _linear("b") + _linear("c", terminal=None)
    expected = split_ready(None, table(rows), as_of=at(3600), settle=SETTLE)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = rows + rng.sample(rows, 5)
        rng.shuffle(shuffled)
        got = split_ready(None, table(shuffled), as_of=at(3600), settle=SETTLE)
        assert got.ready.equals(expected.ready)
        assert got.state.pending.equals(expected.state.pending)
        assert got.state.emitted.equals(expected.state.emitted)


def test_events_are_ordered_by_semantics_not_arrival() -> None:
    rows = [
        row("task", "SUCCEEDED", node_id="n0", retry_attempt=1, phase_version=0, occurred=1, received=0),
        row("task", "RUNNING", node_id="n0", retry_attempt=1, phase_version=2, occurred=9, received=1),
        row("task", "RUNNING", node_id="n0", retry_attempt=1, phase_version=1, occurred=9, received=2),
        row("task", "FAILED", node_id="n0", retry_attempt=0, phase_version=0, occurred=0, received=3),
        row("node", "SUCCEEDED", node_id="n0", occurred=0, received=4),
        row("node", "QUEUED", node_id="n0", occurred=5, received=5),
        row("workflow", "SUCCEEDED", occurred=0, received=6),
        row("workflow", "RUNNING", occurred=7, received=7),
    ]
    ordered = order_events(table(rows))
    got = list(
        zip(
            ordered.column("event_kind").to_pylist(),
            ordered.column("phase").to_pylist(),
            ordered.column("retry_attempt").to_pylist(),
            ordered.column("phase_version").to_pylist(),
            strict=True,
        )
    )
    assert got == [
        ("workflow", "RUNNING", None, None),
        ("workflow", "SUCCEEDED", None, None),
        ("node", "QUEUED", None, None),
        ("node", "SUCCEEDED", None, None),
        ("task", "FAILED", 0, 0),
        ("task", "RUNNING", 1, 1),
        ("task", "RUNNING", 1, 2),
        ("task", "SUCCEEDED", 1, 0),
    ]


def test_pending_events_are_carried_to_the_next_run() -> None:
    rows = _linear()
    first = split_ready(None, table(rows[:3]), as_of=at(100), settle=SETTLE)
    assert first.ready.num_rows == 0 and first.state.pending.num_rows == 3
    second = split_ready(first.state, table(rows[3:]), as_of=at(3600), settle=SETTLE)
    assert second.ready.num_rows == len(rows)
    assert second.state.pending.num_rows == 0
    assert second.state.emitted.to_pylist()[0]["execution_name"] == "e1"


def test_events_of_an_emitted_execution_are_returned_as_late() -> None:
    rows = _linear()
    first = split_ready(None, table(rows[:-2] + rows[-1:]), as_of=at(3600), settle=SETTLE)
    assert _names(first.ready) == ["e1"]
    late_row = dict(rows[-2], received_at=at(4000))
    second = split_ready(first.state, table([late_row]), as_of=at(7200), settle=SETTLE)
    assert second.ready.num_rows == 0 and second.state.pending.num_rows == 0
    assert second.late.column("event_id").to_pylist() == [late_row["event_id"]]


def test_orphans_expire_after_max_pending_age_and_are_reported() -> None:
    rows = _linear(terminal=None)
    kept = split_ready(None, table(rows), as_of=at(86400), settle=SETTLE, max_pending_age=timedelta(days=2))
    assert kept.state.pending.num_rows == len(rows) and kept.expired.num_rows == 0
    gone = split_ready(kept.state, table([]), as_of=at(3 * 86400), settle=SETTLE, max_pending_age=timedelta(days=2))
    assert gone.state.pending.num_rows == 0
    assert gone.expired.num_rows == len(rows)


def test_emitted_keys_are_forgotten_after_remember() -> None:
    first = split_ready(None, table(_linear()), as_of=at(3600), settle=SETTLE, remember=timedelta(days=1))
    later = split_ready(first.state, table([]), as_of=at(3 * 86400), settle=SETTLE, remember=timedelta(days=1))
    assert later.state.emitted.num_rows == 0


def test_conform_fills_missing_columns_and_reorders() -> None:
    rows = _linear()
    partial = table(rows).select(
        [
            "phase",
            "event_id",
            "message_id",
            "event_kind",
            "project",
            "domain",
            "execution_name",
            "received_at",
            "payload",
            "payload_type",
            "publisher_format",
        ]
    )
    conformed = conform_events(partial)
    assert conformed.schema.names == EVENT_SCHEMA.names
    assert conformed.column("node_id").null_count == len(rows)


def test_dedupe_of_empty_and_slices() -> None:
    assert dedupe_events(EVENT_SCHEMA.empty_table()).num_rows == 0
    ordered = order_events(table(_linear("b") + _linear("a")))
    slices = list(iter_execution_slices(ordered))
    assert [eid for eid, _ in slices] == [ExecutionId("p", "d", "a"), ExecutionId("p", "d", "b")]
    assert [t.num_rows for _, t in slices] == [6, 6]
    assert GroupingState.empty().pending.num_rows == 0
