"""Decoding every publisher format and event kind the generator produces, and re-decoding the payload column."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flytelineage.domain.event_decoding import (
    CLOUDEVENTS_V1,
    CLOUDEVENTS_V2,
    EXTERNAL,
    SqsMessage,
    decode_messages,
    decode_payload,
    raw_event_of,
)
from flytelineage.domain.event_table import events_to_table
from flytelineage.testing.flyte_event_generator import generate, scenario_names

RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FORMATS = [EXTERNAL, CLOUDEVENTS_V1, CLOUDEVENTS_V2]


def _decode(scenario: str, publisher_format: str, raw: bool = False):  # type: ignore[no-untyped-def]
    run = generate(scenario, publisher_format=publisher_format, raw=raw, seed=3, with_objects=False)
    messages = [SqsMessage(m.message_id, m.body) for m in run.messages]
    raw_format = "cloudevents" if raw else None
    return run, decode_messages(messages, received_at=RECEIVED, raw_format=raw_format)


@pytest.mark.parametrize("publisher_format", FORMATS)
@pytest.mark.parametrize("scenario", scenario_names())
def test_every_scenario_and_format_decodes(scenario: str, publisher_format: str) -> None:
    run, result = _decode(scenario, publisher_format)
    assert result.quarantine == []
    assert len(result.events) == len(run.messages)
    for message, row in zip(run.messages, result.events, strict=True):
        assert row["message_id"] == message.message_id
        assert row["event_kind"] == message.kind
        assert row["publisher_format"] == publisher_format
        assert (row["project"], row["domain"], row["execution_name"]) == message.execution
        # the payload column re-decodes to the very event that was published
        assert raw_event_of(decode_payload(row["payload_type"], row["payload"])) == message.event
    events_to_table(result.events)  # every row fits the storage schema


@pytest.mark.parametrize("scenario", ["linear", "cache_hit", "map"])
def test_the_same_event_has_the_same_event_id_in_every_format(scenario: str) -> None:
    ids = {fmt: [r["event_id"] for r in _decode(scenario, fmt)[1].events] for fmt in FORMATS}
    assert ids[EXTERNAL] == ids[CLOUDEVENTS_V1] == ids[CLOUDEVENTS_V2]
    assert len(set(ids[EXTERNAL])) == len(ids[EXTERNAL])


def test_raw_cloudevents_delivery_decodes_with_configured_format() -> None:
    run, result = _decode("retry", CLOUDEVENTS_V2, raw=True)
    assert result.quarantine == [] and len(result.events) == len(run.messages)
    assert {r["publisher_format"] for r in result.events} == {CLOUDEVENTS_V2}


def test_node_and_task_fields_are_flattened() -> None:
    _, result = _decode("cache_hit", EXTERNAL)
    hits = [r for r in result.events if r.get("cache_status") == "CACHE_HIT"]
    assert hits, "the cache-hit scenario publishes a CACHE_HIT node event"
    hit = hits[0]
    assert hit["event_kind"] == "node" and hit["phase"] == "SUCCEEDED"
    assert hit["entity_type"] == "TASK" and hit["entity_name"]
    assert hit["cache_source_execution"] and hit["output_uri"].endswith("/data/0/outputs.pb")
    _, retry = _decode("retry", EXTERNAL)
    failed = [r for r in retry.events if r["event_kind"] == "task" and r["phase"] == "FAILED"]
    assert failed and failed[0]["retry_attempt"] == 0 and failed[0]["error_code"]
    assert {r["retry_attempt"] for r in retry.events if r["event_kind"] == "task"} >= {0, 1}


def test_cloudevents_v2_carries_the_launch_plan() -> None:
    _, result = _decode("linear", CLOUDEVENTS_V2)
    terminal = [r for r in result.events if r["event_kind"] == "workflow" and r["phase"] == "SUCCEEDED"]
    assert terminal and terminal[0]["launch_plan_name"]
