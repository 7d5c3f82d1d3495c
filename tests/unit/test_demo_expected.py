"""The exact counts of ``tests/demo_expected.py``, derived in process from what ``demo.seed`` sends (no emulator).

``demo.seed`` runs against recording fake S3/SQS clients, so the input is the one the DAG tests seed; the messages
are then decoded, grouped (everything settled) and resolved with the pure domain functions, and handed to the
targets' pure builders (DataHub proposals, the Glue plan, OpenLineage events with Glue symlinks).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.serde import Serde

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table
from flytelineage.domain.execution_grouping import split_ready
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.glue_tables import plan_glue_tables
from flytelineage.domain.lineage_model import Execution, execution_from_dict
from flytelineage.domain.openlineage_events import build_shard_events, glue_symlinks
from flytelineage.testing.flyte_event_generator import scenario_names
from include import demo
from tests import demo_expected as expected

RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class _RecordingClient:
    """Just enough of a boto3 S3 + SQS client for ``demo.seed`` (boto3's argument names): it records what it gets."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.bodies: list[str] = []

    def create_bucket(self, Bucket: str) -> None:
        pass

    def create_queue(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"fake://{QueueName}"}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[f"s3://{Bucket}/{Key}"] = Body

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.bodies.extend(e["MessageBody"] for e in Entries)
        return {"Successful": Entries, "Failed": []}


class _DictReader:
    """An object reader over the recorded objects (whole objects, prefixes as directories, tails)."""

    def __init__(self, objects: Mapping[str, bytes]) -> None:
        self.objects = objects

    def _get(self, uri: str) -> bytes | Exception:
        return self.objects[uri] if uri in self.objects else FileNotFoundError(uri)

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        return {uri: self._get(uri) for uri in uris}

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Sequence[str] | Exception]:
        result: dict[str, Sequence[str] | Exception] = {}
        for uri in dir_uris:
            prefix = uri.rstrip("/") + "/"
            keys = sorted(k for k in self.objects if k.startswith(prefix))
            result[uri] = keys or FileNotFoundError(prefix)
        return result

    def read_tails(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        result: dict[str, bytes | Exception] = {}
        for uri in file_uris:
            value = self._get(uri)
            result[uri] = value[-nbytes:] if isinstance(value, bytes) else value
        return result

    def read_heads(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        result: dict[str, bytes | Exception] = {}
        for uri in file_uris:
            value = self._get(uri)
            result[uri] = value[:nbytes] if isinstance(value, bytes) else value
        return result


@functools.cache
def _seeded() -> tuple[dict[str, int], _RecordingClient]:
    client = _RecordingClient()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "boto_client", lambda stack, service: client)
        seeded = demo.seed(demo.Stack(endpoint_url="fake://", home=Path("/nonexistent")))
    return seeded, client


@functools.cache
def _executions() -> tuple[Execution, ...]:
    _, client = _seeded()
    messages = [SqsMessage(f"m{i}", body) for i, body in enumerate(client.bodies)]
    decoded = decode_messages(messages, received_at=RECEIVED)
    split = split_ready(None, events_to_table(decoded.events), as_of=RECEIVED + timedelta(days=1), settle=timedelta(0))
    assert split.state.pending.num_rows == 0
    return tuple(resolve_executions(split.ready, _DictReader(client.objects), link_events=split.state.pending))


def test_messages_and_events() -> None:
    seeded, client = _seeded()
    assert seeded["executions"] == expected.SEEDED_EXECUTIONS
    assert (seeded["messages"], seeded["malformed"]) == (len(client.bodies), expected.MALFORMED)
    assert len(client.bodies) == expected.MESSAGES
    decoded = decode_messages([SqsMessage(f"m{i}", b) for i, b in enumerate(client.bodies)], received_at=RECEIVED)
    assert len(decoded.quarantine) == expected.MALFORMED
    assert len(decoded.events) == expected.EVENTS_DELIVERED
    assert len({e["event_id"] for e in decoded.events}) == expected.DISTINCT_EVENTS


def test_executions() -> None:
    executions = _executions()
    assert len(executions) == expected.EXECUTIONS
    assert Counter(e.phase for e in executions) == {"SUCCEEDED": 14, "FAILED": 1, "ABORTED": 1}


def test_datahub_entities() -> None:
    urns = {m.entityUrn for e in _executions() for m in build_mcps(e, flyte_console_url="http://localhost:30080")}
    urns.add("urn:li:dataPlatform:flyte")  # push_datahub's platform description
    assert dict(Counter(str(urn).split(":")[2] for urn in urns)) == expected.DATAHUB_ENTITIES


def test_glue_tables() -> None:
    plan = plan_glue_tables(_executions(), database_override=None, read_buckets=[demo.DATA_BUCKET])
    assert (len(plan.tables), len(plan.skipped)) == (expected.GLUE_TABLES, expected.GLUE_SKIPPED)


def test_openlineage_events() -> None:
    executions = _executions()
    glue = glue_symlinks(executions, region=demo.REGION, account_id="123456789012")
    events = [json.loads(Serde.to_json(e)) for e in build_shard_events(executions, glue=glue)]
    runs: dict[str, list[str]] = {}
    for event in events:
        runs.setdefault(event["run"]["runId"], []).append(event["eventType"])
    linked = {
        (d["namespace"], d["name"])
        for e in events
        for d in [*e.get("inputs", []), *e.get("outputs", [])]
        if "symlinks" in d.get("facets", {})
    }
    assert dict(Counter(e["eventType"] for e in events)) == expected.OPENLINEAGE_EVENTS
    assert len(runs) == expected.OPENLINEAGE_RUNS and all(len(types) == 2 for types in runs.values())
    assert len({(e["job"]["namespace"], e["job"]["name"]) for e in events}) == expected.OPENLINEAGE_JOBS
    assert len(linked) == expected.OPENLINEAGE_LINKED_TO_GLUE


def test_format_independent_counts_match_the_reviewed_goldens() -> None:
    """Run instances, datasets and OpenLineage events do not depend on the publisher format: the reviewed goldens of
    every scenario (external format) give the same numbers as the demo's mix of formats."""
    golden = Path(__file__).resolve().parents[1] / "golden"
    urns: set[str] = set()
    event_types: Counter[str] = Counter()
    for scenario in scenario_names():
        for data in json.loads((golden / "executions" / f"{scenario}.json").read_text()):
            urns.update(str(m.entityUrn) for m in build_mcps(execution_from_dict(data)))
        event_types.update(
            e["eventType"] for e in json.loads((golden / "openlineage" / f"{scenario}.json").read_text())
        )
    types = Counter(urn.split(":")[2] for urn in urns)
    assert types["dataProcessInstance"] == expected.DATAHUB_ENTITIES["dataProcessInstance"]
    assert types["dataset"] == expected.DATAHUB_ENTITIES["dataset"]
    assert dict(event_types) == expected.OPENLINEAGE_EVENTS
