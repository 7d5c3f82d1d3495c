"""Grouping poison through the real operators on moto_server: an execution whose rows break grouping or building is
isolated (a report row with the reason) and every other execution is emitted, in this interval and the next ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flytelineage.domain import storage_keys
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table, parquet_bytes_to_table, table_to_parquet_bytes
from flytelineage.domain.execution_store import executions_from_jsonl_gz
from flytelineage.engine.drain_loop import DrainSettings
from flytelineage.testing.flyte_event_generator import generate, write_objects
from tests.integration.test_faults_drain import INGEST, PREFIX, Drain, queue  # noqa: F401 - the queue fixture
from tests.sqs_s3_helpers import queue_depth, send_batches
from tests.unit.operators.test_group_executions import _group

pytestmark = pytest.mark.integration

SETTINGS = DrainSettings(receivers=1, wait_seconds=0, flush_messages=50, flush_seconds=1, visibility_timeout=120)
SEP_NAMES = [("p\x1fq", "d", "e1"), ("p", "d\x1fx", "e2"), ("p", "d", "a\x1fb"), ("p", "d", "a"), ("p", "d%1F", "a")]
"""Separators in every part, plus names that would collide with them if keys were not escaped."""


def _emitted(s3_client: Any, bucket: str, keys: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for key in keys:
        data = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        out.extend((e.id.project, e.id.domain, e.id.name) for e in executions_from_jsonl_gz(data))
    return sorted(out)


def test_separators_in_names_through_sqs_are_grouped_exactly(
    sqs_client: Any,
    s3_client: Any,
    bucket: str,
    queue: str,  # noqa: F811
) -> None:
    runs = [
        generate("linear", project=p, domain=d, name=n, bucket=bucket, seed=i) for i, (p, d, n) in enumerate(SEP_NAMES)
    ]
    for run in runs:
        write_objects(s3_client, run.objects)
        send_batches(sqs_client, queue, run.bodies())
    Drain(queue, bucket, SETTINGS).run()
    assert queue_depth(sqs_client, queue) == 0

    keys, summary = _group(bucket, INGEST - timedelta(minutes=10), INGEST)
    assert _emitted(s3_client, bucket, keys) == sorted(SEP_NAMES)
    assert summary["rejected_executions"] == 0


T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=10)
BEYOND_DATETIME = 253_402_300_801_000_000
"""Epoch microseconds after 9999-12-31: an Arrow timestamp holds it, a Python datetime cannot (stored by a decoder
that checked seconds but not nanos)."""


def _store(s3_client: Any, bucket: str, rows: list[dict[str, Any]], stamp_time: datetime) -> None:
    digest = storage_keys.batch_digest(r["message_id"] for r in rows)
    key = storage_keys.batch_key(PREFIX, storage_keys.EVENTS, stamp_time, digest)
    s3_client.put_object(Bucket=bucket, Key=key, Body=table_to_parquet_bytes(events_to_table(rows)))


def _rows(s3_client: Any, bucket: str, name: str, stamp_time: datetime, seed: int) -> list[dict[str, Any]]:
    run = generate("linear", name=name, bucket=bucket, seed=seed)
    write_objects(s3_client, run.objects)
    return decode_messages([SqsMessage(m.message_id, m.body) for m in run.messages], received_at=stamp_time).events


def test_an_execution_that_cannot_be_built_is_reported_and_the_rest_flow(s3_client: Any, bucket: str) -> None:
    bad = _rows(s3_client, bucket, "badtime", T0 + STEP, 1)
    node_rows = [r for r in bad if r["event_kind"] == "node"]
    node_rows[0]["occurred_at"] = BEYOND_DATETIME
    _store(s3_client, bucket, bad + _rows(s3_client, bucket, "good1", T0 + STEP, 2), T0 + STEP)
    keys, summary = _group(bucket, T0, T0 + STEP)
    assert [n for _, _, n in _emitted(s3_client, bucket, keys)] == ["good1"]
    assert summary["rejected_executions"] == 1
    stamp = storage_keys.stamp(T0 + STEP)
    report = s3_client.get_object(Bucket=bucket, Key=f"{PREFIX}/reports/interval_end={stamp}/rejected.parquet")
    rejected = parquet_bytes_to_table(report["Body"].read())
    assert set(rejected.column("execution_name").to_pylist()) == {"badtime"}
    assert rejected.num_rows == len(bad)
    assert set(rejected.column("reason").to_pylist()) == {
        "cannot build the execution: OverflowError: date value out of range"
    }

    _store(s3_client, bucket, _rows(s3_client, bucket, "good2", T0 + 2 * STEP, 3), T0 + 2 * STEP)
    keys, summary = _group(bucket, T0 + STEP, T0 + 2 * STEP)
    assert [n for _, _, n in _emitted(s3_client, bucket, keys)] == ["good2"]
    assert summary["rejected_executions"] == 0
