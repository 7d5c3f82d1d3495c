"""Grouping reads the payload-derived event columns, decoding no stored payload; older batches group identically.

The decoder stores what grouping needs from the payload (task log URIs, inline LiteralMaps, the cloudEvents v2
interface) as nullable columns. Batches written before those columns have them null: grouping then derives the same
fields from the stored payload, at most once per row.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from flyteidl.admin import event_pb2 as admin_events
from flyteidl.core import interface_pb2, literals_pb2

from flytelineage.domain import event_decoding
from flytelineage.domain.event_decoding import (
    CLOUDEVENTS_V2,
    SqsMessage,
    decode_messages,
    payload_fields,
    stored_payload_fields,
)
from flytelineage.domain.event_table import EVENT_SCHEMA, events_to_table
from flytelineage.domain.execution_grouping import split_ready
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.lineage_model import Execution
from flytelineage.testing.flyte_event_generator import GeneratedExecution, generate, scenario_names
from flytelineage.testing.in_memory_objects import InMemoryObjectReader

START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
RECEIVED = START + timedelta(hours=1)
AS_OF = START + timedelta(days=1)
SETTLE = timedelta(minutes=10)
FORMATS = ["external", "cloudevents_v1", CLOUDEVENTS_V2]
DERIVED = ["has_payload_fields", "log_uris", "input_data", "output_data", "output_interface"]


def _run(scenario: str, publisher_format: str) -> tuple[GeneratedExecution, list[dict[str, Any]]]:
    run = generate(scenario, publisher_format=publisher_format, seed=3, start=START)
    decoded = decode_messages([SqsMessage(m.message_id, m.body) for m in run.messages], received_at=RECEIVED)
    assert decoded.quarantine == []
    return run, decoded.events


def _legacy(table: pa.Table) -> pa.Table:
    """The same batch as a decoder before the payload-derived columns wrote it."""
    return table.drop_columns(DERIVED)


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[bytes]:
    """Counts ``decode_payload`` calls per stored payload (one stored row per payload once deduplicated)."""
    calls: Counter[bytes] = Counter()
    original = event_decoding.decode_payload

    def counting(payload_type: str, payload: bytes) -> Any:
        calls[payload] += 1
        return original(payload_type, payload)

    monkeypatch.setattr(event_decoding, "decode_payload", counting)
    return calls


def _resolve(table: pa.Table, run: GeneratedExecution) -> list[Execution]:
    result = split_ready(None, table, as_of=AS_OF, settle=SETTLE)
    assert result.state.pending.num_rows == 0
    return resolve_executions(result.ready, InMemoryObjectReader(run.objects), link_events=result.state.pending)


# ---- the decoder fills the columns ------------------------------------------------------------------------------


@pytest.mark.parametrize("publisher_format", FORMATS)
@pytest.mark.parametrize("scenario", ["linear_inline", "map", "dynamic_unregistered", "cache_hit"])
def test_columns_hold_what_the_payload_holds(scenario: str, publisher_format: str) -> None:
    run, rows = _run(scenario, publisher_format)
    for message, row in zip(run.messages, rows, strict=True):
        event = message.event
        assert row["has_payload_fields"] is True
        if message.kind == "task":
            assert row["log_uris"] == sorted({log.uri for log in event.logs if log.uri})
        else:
            assert row.get("log_uris") is None
        for name in ("input_data", "output_data"):
            has = name in event.DESCRIPTOR.fields_by_name and event.HasField(name)
            assert (row.get(name) is not None) == has
            if has:
                assert literals_pb2.LiteralMap.FromString(row[name]) == getattr(event, name)
        # the row's own columns equal what older batches derive from the stored payload
        derived = stored_payload_fields(row)
        assert {k: row.get(k) for k in DERIVED} == {k: derived.get(k) for k in DERIVED}
    interfaces = [r for r in rows if r.get("output_interface") is not None]
    assert bool(interfaces) == (publisher_format == CLOUDEVENTS_V2)
    for row in interfaces:
        interface = interface_pb2.TypedInterface.FromString(row["output_interface"])
        assert interface.outputs.variables or interface.inputs.variables
    events_to_table(rows)  # every row fits the storage schema


def test_inline_and_log_examples() -> None:
    _, rows = _run("linear_inline", "external")
    task = next(r for r in rows if r["event_kind"] == "task" and r["phase"] == "SUCCEEDED")
    assert task["log_uris"] and all(u.startswith("https://logs.example.com/") for u in task["log_uris"])
    assert literals_pb2.LiteralMap.FromString(task["output_data"]).literals
    workflow = next(r for r in rows if r["event_kind"] == "workflow" and r["phase"] == "SUCCEEDED")
    assert workflow.get("input_data") is None and workflow["output_data"]


def test_undecodable_stored_payload_derives_nothing() -> None:
    row = {"payload_type": "flyteidl.event.Unknown", "payload": b"x", "event_kind": "task"}
    assert stored_payload_fields(row) == {"has_payload_fields": True}
    request = admin_events.WorkflowExecutionEventRequest()
    assert payload_fields("workflow", request, request.event) == {"has_payload_fields": True}


# ---- grouping decodes no payload, and older batches group identically ---------------------------------------------


@pytest.mark.parametrize("publisher_format", FORMATS)
@pytest.mark.parametrize("scenario", scenario_names())
def test_older_batches_group_identically_decoding_each_row_at_most_once(
    scenario: str, publisher_format: str, decode_calls: Counter[bytes]
) -> None:
    run, rows = _run(scenario, publisher_format)
    table = events_to_table(rows)
    current = _resolve(table, run)
    assert sum(decode_calls.values()) == 0  # every field grouping needs is a column: no payload decoded
    legacy = _resolve(_legacy(table), run)
    assert legacy == current
    assert decode_calls and max(decode_calls.values()) == 1  # the fallback decodes a row at most once
    assert len(decode_calls) <= table.num_rows


def test_a_pending_old_batch_merged_with_a_new_one_groups_like_the_new_one(decode_calls: Counter[bytes]) -> None:
    run, rows = _run("dynamic_unregistered", CLOUDEVENTS_V2)
    table = events_to_table(rows)
    half = table.num_rows // 2
    old, new = _legacy(table.slice(0, half)), table.slice(half)
    # the old half arrived first (the workflow is not complete yet in it) and waits in the pending state
    first = split_ready(None, old, as_of=AS_OF, settle=SETTLE)
    assert first.ready.num_rows == 0 and first.state.pending.num_rows == half
    assert first.state.pending.schema.equals(EVENT_SCHEMA, check_metadata=False)
    second = split_ready(first.state, new, as_of=AS_OF, settle=SETTLE)
    mixed = resolve_executions(second.ready, InMemoryObjectReader(run.objects), link_events=second.state.pending)
    assert mixed == _resolve(table, run)
    assert max(decode_calls.values()) == 1
