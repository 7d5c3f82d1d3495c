"""GroupExecutionsOperator on moto_server: state across runs, a failed run's batches are not skipped, replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flytelineage.domain import storage_keys
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table, table_to_parquet_bytes
from flytelineage.domain.execution_store import executions_from_jsonl_gz
from flytelineage.operators.group_executions import GroupExecutionsOperator
from flytelineage.testing.flyte_event_generator import generate, write_objects

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=10)


class _Ti:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def _store_batch(s3_client, bucket: str, scenario: str, name: str, stamp_time: datetime) -> None:  # type: ignore[no-untyped-def]
    run = generate(scenario, name=name, bucket=bucket, seed=len(name))
    write_objects(s3_client, run.objects)
    rows = decode_messages([SqsMessage(m.message_id, m.body) for m in run.messages], received_at=stamp_time).events
    digest = storage_keys.batch_digest(r["message_id"] for r in rows)
    key = storage_keys.batch_key("fl", storage_keys.EVENTS, stamp_time, digest)
    s3_client.put_object(Bucket=bucket, Key=key, Body=table_to_parquet_bytes(events_to_table(rows)))


def _group(
    bucket: str, start: datetime, end: datetime, params: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[list[str], dict[str, Any]]:
    operator = GroupExecutionsOperator(
        task_id="group_executions", bucket=bucket, prefix="fl", aws_conn_id=None, settle_seconds=0, **kwargs
    )
    ti = _Ti()
    context = {"data_interval_start": start, "data_interval_end": end, "ti": ti, "params": params or {}}
    keys = operator.execute(context)  # type: ignore[arg-type]
    return keys, ti.xcom["summary"]


def _names(s3_client, bucket: str, keys: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for key in keys:
        data = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        out.extend(e.id.name for e in executions_from_jsonl_gz(data))
    return sorted(out)


def _state_keys(s3_client, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix="fl/state/").get("Contents", [])
    return sorted(o["Key"] for o in listing)


def test_batches_of_a_failed_run_are_read_by_the_next_one(s3_client, bucket) -> None:  # type: ignore[no-untyped-def]
    _store_batch(s3_client, bucket, "linear", "first", T0 + STEP)
    keys, summary = _group(bucket, T0, T0 + STEP)
    assert _names(s3_client, bucket, keys) == ["first"] and summary["batches"] == 1

    _store_batch(s3_client, bucket, "retry", "second", T0 + 2 * STEP)  # its group_executions run "failed"
    _store_batch(s3_client, bucket, "cache_hit", "third", T0 + 3 * STEP)
    keys, summary = _group(bucket, T0 + 2 * STEP, T0 + 3 * STEP)
    assert _names(s3_client, bucket, keys) == ["second", "third"]
    assert summary["batches"] == 2


def test_replays_and_dry_runs_leave_the_state_alone(s3_client, bucket) -> None:  # type: ignore[no-untyped-def]
    _store_batch(s3_client, bucket, "linear", "first", T0 + STEP)
    _group(bucket, T0, T0 + STEP)
    before = _state_keys(s3_client, bucket)
    keys, _ = _group(bucket, T0, T0 + STEP, replay_start=T0.isoformat(), replay_end=(T0 + 2 * STEP).isoformat())
    assert _names(s3_client, bucket, keys) == ["first"]
    assert _state_keys(s3_client, bucket) == before
    assert all(f"interval={storage_keys.stamp(T0)}_{storage_keys.stamp(T0 + 2 * STEP)}/" in k for k in keys)

    # a dry run (the run's params) groups the next interval and leaves the state alone too
    _store_batch(s3_client, bucket, "retry", "second", T0 + 2 * STEP)
    keys, summary = _group(bucket, T0 + STEP, T0 + 2 * STEP, params={"dry_run": True})
    assert _names(s3_client, bucket, keys) == ["second"] and summary["state_from"] == storage_keys.stamp(T0 + STEP)
    assert _state_keys(s3_client, bucket) == before


def test_an_execution_is_emitted_once_across_runs(s3_client, bucket) -> None:  # type: ignore[no-untyped-def]
    _store_batch(s3_client, bucket, "failed", "once", T0 + STEP)
    first, _ = _group(bucket, T0, T0 + STEP)
    second, summary = _group(bucket, T0 + STEP, T0 + 2 * STEP)
    assert _names(s3_client, bucket, first) == ["once"]
    assert second == [] and summary["executions"] == 0


def test_read_buckets_given_as_an_argument_allow_the_bucket(s3_client, bucket) -> None:  # type: ignore[no-untyped-def]
    _store_batch(s3_client, bucket, "linear", "allowed", T0 + STEP)
    keys, _ = _group(bucket, T0, T0 + STEP, read_buckets=[bucket])
    assert _names(s3_client, bucket, keys) == ["allowed"]
    data = s3_client.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    (execution,) = executions_from_jsonl_gz(data)
    assert not [p for p in execution.problems if "not in read_buckets" in p or "not allowed" in p]


def test_the_limits_given_as_arguments_make_an_oversized_literal_map_a_problem(s3_client, bucket) -> None:  # type: ignore[no-untyped-def]
    _store_batch(s3_client, bucket, "linear", "limited", T0 + STEP)
    run = generate("linear", name="limited", bucket=bucket, seed=len("limited"))
    limit = 1_024  # the least max_literal_bytes accepted; every LiteralMap of the scenario is smaller
    assert max(len(v) for k, v in run.objects.items() if k.endswith(".pb")) < limit
    oversized = next(k for k in run.objects if k.endswith("/n1/data/0/outputs.pb"))
    bucket_name, key = oversized.removeprefix("s3://").split("/", 1)
    s3_client.put_object(Bucket=bucket_name, Key=key, Body=b"\n" * (limit + 1))

    keys, summary = _group(bucket, T0, T0 + STEP, max_literal_bytes=limit, max_dataset_reads=2)

    (execution,) = executions_from_jsonl_gz(s3_client.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert summary["executions"] == 1 and summary["rejected_executions"] == 0
    assert f"LiteralMap {oversized} not read: larger than max_literal_bytes ({limit} bytes)" in execution.problems
    assert [p for p in execution.problems if "(max_dataset_reads is 2)" in p]
    assert execution.datasets  # the other LiteralMaps are resolved
