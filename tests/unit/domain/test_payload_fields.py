"""Grouping reads the payload-derived event columns, decoding no stored payload; older batches group identically.

The decoder stores what grouping needs from the payload (task log URIs, inline LiteralMaps, the cloudEvents v2
interface) as nullable columns. Batches written before those columns have them null: grouping then derives the same
fields from the stored payload, at most once per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from flyteidl.admin import event_pb2 as admin_events
from flyteidl.core import interface_pb2, literals_pb2

from flytelineage.domain.event_decoding import (
    CLOUDEVENTS_V2,
    SqsMessage,
    counting_payload_decodes,
    decode_messages,
    decode_payload,
    payload_fields,
    stored_payload_fields,
)
from flytelineage.domain.event_table import (
    EVENT_SCHEMA,
    events_to_table,
    parquet_bytes_to_table,
    table_to_parquet_bytes,
)
from flytelineage.domain.execution_grouping import split_ready
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.lineage_model import Execution
from flytelineage.testing.flyte_event_generator import GeneratedExecution, generate, mixed_workload, scenario_names
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
def decode_calls() -> Iterator[Counter[bytes]]:
    """Counts ``decode_payload`` calls per stored payload (one stored row per payload once deduplicated)."""
    with counting_payload_decodes() as calls:
        yield calls


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


# ---- the count itself, and a realistic workload stored as the drain stores it -------------------------------------


def test_the_count_sees_every_caller_of_the_decoder() -> None:
    _, rows = _run("linear_inline", "external")
    row = rows[0]
    with counting_payload_decodes() as outer:
        decode_payload(row["payload_type"], row["payload"])  # a name bound in this module, not event_decoding's
        with counting_payload_decodes() as inner:
            stored_payload_fields(row)
        stored_payload_fields(row)
    assert inner == Counter({row["payload"]: 1})
    assert outer == Counter({row["payload"]: 3})
    decode_payload(row["payload_type"], row["payload"])  # outside any block: counted nowhere
    assert outer == Counter({row["payload"]: 3})


_WORKLOAD_AS_OF = START + timedelta(days=2)


def _workload_batches(publisher_format: str) -> tuple[list[pa.Table], dict[str, bytes]]:
    """A mixed workload (every scenario, shuffled, with redeliveries and exact duplicates), decoded into batches of
    100 messages as a drain flushes them, and the objects its events point at."""
    workload = mixed_workload(
        60,
        seed=5,
        start=START,
        publisher_format=publisher_format,
        with_objects=True,
        redelivery_rate=0.05,
        exact_duplicate_rate=0.02,
    )
    messages = [SqsMessage(m.message_id, m.body) for m in workload.messages]
    batches = []
    for first in range(0, len(messages), 100):
        decoded = decode_messages(messages[first : first + 100], received_at=RECEIVED)
        assert decoded.quarantine == []
        batches.append(events_to_table(decoded.events))
    objects = {uri: data for execution in workload.executions for uri, data in execution.objects.items()}
    return batches, objects


def _stored(table: pa.Table) -> pa.Table:
    """``table`` written to Parquet and read back as grouping reads a stored batch."""
    return parquet_bytes_to_table(table_to_parquet_bytes(table))


def _grouping_run(batches: list[pa.Table], objects: dict[str, bytes]) -> tuple[list[Execution], Counter[bytes]]:
    """One grouping run over stored batches (``split_ready`` then ``resolve_executions``), counting decoder calls."""
    with counting_payload_decodes() as calls:
        result = split_ready(None, [_stored(b) for b in batches], as_of=_WORKLOAD_AS_OF, settle=SETTLE)
        rejected: list[Any] = []
        executions = resolve_executions(
            result.ready, InMemoryObjectReader(objects), link_events=result.state.pending, rejected=rejected
        )
    assert rejected == []
    assert result.state.pending.num_rows == 0
    return executions, calls


@pytest.mark.parametrize("publisher_format", FORMATS)
def test_a_grouping_run_decodes_each_stored_row_at_most_once(publisher_format: str) -> None:
    batches, objects = _workload_batches(publisher_format)
    stored_rows = sum(b.num_rows for b in batches)
    distinct_rows = len(set(pa.concat_tables(batches).column("event_id").to_pylist()))
    assert distinct_rows < stored_rows  # the workload holds redelivered copies

    current, new_calls = _grouping_run(batches, objects)
    assert len(current) >= 60  # launch-plan children are executions of their own
    assert sum(new_calls.values()) == 0  # batches with the payload-derived columns: the decoder is never called

    old_batches = [_legacy(b) for b in batches]
    assert "has_payload_fields" not in _stored(old_batches[0]).column_names  # written before the columns existed
    legacy, old_calls = _grouping_run(old_batches, objects)
    assert legacy == current
    assert old_calls and max(old_calls.values()) == 1  # rows decoded, none twice
    assert sum(old_calls.values()) <= distinct_rows <= stored_rows

    # a run whose batches are half older, half newer (the upgrade) decodes only the older rows, once each
    mixed_batches = [_legacy(b) if i % 2 else b for i, b in enumerate(batches)]
    mixed, mixed_calls = _grouping_run(mixed_batches, objects)
    assert mixed == current
    assert mixed_calls and max(mixed_calls.values()) == 1
    old_payloads = {
        p for b in mixed_batches if "has_payload_fields" not in b.column_names for p in b["payload"].to_pylist()
    }
    assert set(mixed_calls) <= old_payloads
