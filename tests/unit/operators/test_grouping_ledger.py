"""Grouping reads every stored batch exactly once, whatever its stamp (the batch ledger), on moto_server.

The scenarios of issue 11: a drain write stamped with an interval grouping already passed, a cleared old run
executed again after the chain moved on, and two runs overlapping. In each, every execution is emitted exactly once
and equals the execution built from all its events at once, and every other event is in a late report.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from flytelineage.domain import storage_keys
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table, parquet_bytes_to_table, table_to_parquet_bytes
from flytelineage.domain.execution_store import executions_from_jsonl_gz
from flytelineage.domain.lineage_model import Execution
from flytelineage.operators.group_executions import GroupExecutionsOperator
from flytelineage.testing.flyte_event_generator import GeneratedMessage, generate, write_objects
from tests.unit.operators.test_group_executions import STEP, T0, _Ti

pytestmark = pytest.mark.integration

HALF = STEP / 2


def _messages(s3_client: Any, bucket: str, scenario: str, name: str, seed: int) -> list[GeneratedMessage]:
    run = generate(scenario, name=name, bucket=bucket, seed=seed)
    write_objects(s3_client, run.objects)
    return run.messages


def _store(
    s3_client: Any, bucket: str, messages: list[GeneratedMessage], stamp_time: datetime, prefix: str = "fl"
) -> str:
    """Store messages as one batch the way the drain does (received at, and stamped with, ``stamp_time``)."""
    rows = decode_messages([SqsMessage(m.message_id, m.body) for m in messages], received_at=stamp_time).events
    assert len(rows) == len(messages)
    key = storage_keys.batch_key(
        prefix, storage_keys.EVENTS, stamp_time, storage_keys.batch_digest(r["message_id"] for r in rows)
    )
    s3_client.put_object(Bucket=bucket, Key=key, Body=table_to_parquet_bytes(events_to_table(rows)))
    return key


def _group(
    bucket: str,
    start: datetime | None,
    end: datetime | None,
    *,
    prefix: str = "fl",
    run_type: str = "scheduled",
    operator_class: type[GroupExecutionsOperator] = GroupExecutionsOperator,
) -> tuple[list[str], dict[str, Any]]:
    operator = operator_class(
        task_id="group_executions", bucket=bucket, prefix=prefix, aws_conn_id=None, settle_seconds=0
    )
    ti = _Ti()
    context = {
        "data_interval_start": start,
        "data_interval_end": end,
        "ti": ti,
        "dag_run": SimpleNamespace(run_type=run_type, run_after=end),
    }
    keys = operator.execute(context)  # type: ignore[arg-type]
    return keys, ti.xcom["summary"]


def _executions(s3_client: Any, bucket: str, keys: list[str]) -> list[Execution]:
    out: list[Execution] = []
    for key in keys:
        out.extend(executions_from_jsonl_gz(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()))
    return out


def _reference(s3_client: Any, bucket: str, messages: list[GeneratedMessage], tag: str) -> Execution:
    """The execution built from all of ``messages`` stored in one batch (under a prefix of its own)."""
    prefix = f"ref-{tag}"
    _store(s3_client, bucket, messages, T0 + STEP, prefix)
    keys, _ = _group(bucket, T0, T0 + STEP, prefix=prefix)
    [execution] = _executions(s3_client, bucket, keys)
    return execution


def _reported_message_ids(s3_client: Any, bucket: str) -> set[str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix="fl/reports/").get("Contents", [])
    out: set[str] = set()
    for item in listing:
        table = parquet_bytes_to_table(s3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        out.update(table.column("message_id").to_pylist())
    return out


def _state_objects(s3_client: Any, bucket: str) -> dict[str, str]:
    listing = s3_client.list_objects_v2(Bucket=bucket, Prefix="fl/state/").get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listing}


def _first_events(
    messages: list[GeneratedMessage], count: int
) -> tuple[list[GeneratedMessage], list[GeneratedMessage]]:
    head, rest = messages[:count], messages[count:]
    assert all(m.kind != "workflow" or m is messages[0] for m in head)  # no terminal workflow event in the head
    return head, rest


def test_a_batch_stamped_behind_the_state_is_grouped_by_the_next_run(s3_client: Any, bucket: str) -> None:
    a = _messages(s3_client, bucket, "linear", "a", 1)
    a_kept, a_late = a[:5] + a[6:], [a[5]]  # one node event of ``a`` is only in the late batch
    _store(s3_client, bucket, a_kept, T0 + STEP)
    first, _ = _group(bucket, T0, T0 + STEP)
    second, _ = _group(bucket, T0 + STEP, T0 + 2 * STEP)
    assert [e.id.name for e in _executions(s3_client, bucket, first)] == ["a"] and second == []

    # a late drain write stamped T0+STEP, after grouping passed it: a whole execution, the first 2 events of
    # another (the rest arrives normally), and the held-back event of ``a`` (already emitted: a late report)
    whole = _messages(s3_client, bucket, "retry", "whole", 2)
    split = _messages(s3_client, bucket, "cache_hit", "split", 3)
    split_head, split_rest = _first_events(split, 2)
    _store(s3_client, bucket, whole + split_head + a_late, T0 + STEP)
    _store(s3_client, bucket, split_rest, T0 + 3 * STEP)

    keys, summary = _group(bucket, T0 + 2 * STEP, T0 + 3 * STEP)
    emitted = {e.id.name: e for e in _executions(s3_client, bucket, keys)}
    assert sorted(emitted) == ["split", "whole"] and summary["batches"] == 2
    assert emitted["split"] == _reference(s3_client, bucket, split, "split")  # with its first 2 events
    assert emitted["whole"] == _reference(s3_client, bucket, whole, "whole")
    assert _reported_message_ids(s3_client, bucket) == {a_late[0].message_id}
    assert summary["late_events"] == 1 and summary["pending_events"] == 0

    keys, summary = _group(bucket, T0 + 3 * STEP, T0 + 4 * STEP)
    assert keys == [] and summary["batches"] == 0 and summary["new_events"] == 0  # each batch read once


def test_a_cleared_old_run_writes_no_state_and_its_new_batches_reach_the_chain(s3_client: Any, bucket: str) -> None:
    chain: dict[int, list[str]] = {}
    for step, name in ((1, "a"), (2, "b"), (3, "c")):
        _store(s3_client, bucket, _messages(s3_client, bucket, "linear", name, step), T0 + step * STEP)
        chain[step], _ = _group(bucket, T0 + (step - 1) * STEP, T0 + step * STEP)
    state_before = _state_objects(s3_client, bucket)

    # the run of (T0, T0+STEP] is cleared: its drain stores what the queue holds now under the old stamp ...
    d = _messages(s3_client, bucket, "retry", "d", 4)
    e = _messages(s3_client, bucket, "failed", "e", 5)
    e_head, e_rest = _first_events(e, 2)
    _store(s3_client, bucket, d + e_head, T0 + STEP)
    # ... and its group_executions runs again: it hands on the shards it wrote before and changes no state
    keys, summary = _group(bucket, T0, T0 + STEP)
    assert keys == chain[1] and summary["superseded_by"] == storage_keys.stamp(T0 + 3 * STEP)
    assert _state_objects(s3_client, bucket) == state_before

    _store(s3_client, bucket, e_rest, T0 + 4 * STEP)
    fourth, summary = _group(bucket, T0 + 3 * STEP, T0 + 4 * STEP)
    emitted = {x.id.name: x for x in _executions(s3_client, bucket, fourth)}
    assert sorted(emitted) == ["d", "e"] and summary["state_from"] == storage_keys.stamp(T0 + 3 * STEP)
    assert emitted["e"] == _reference(s3_client, bucket, e, "e")
    assert emitted["d"] == _reference(s3_client, bucket, d, "d")
    fifth, summary = _group(bucket, T0 + 4 * STEP, T0 + 5 * STEP)
    assert fifth == [] and summary["batches"] == 0

    names = [x.id.name for step in (1, 2, 3) for x in _executions(s3_client, bucket, chain[step])] + sorted(emitted)
    assert sorted(names) == ["a", "b", "c", "d", "e"]  # each exactly once
    assert _reported_message_ids(s3_client, bucket) == set()


class _Overlapped(GroupExecutionsOperator):
    """Runs another grouping run, once, while this one is grouping (between its reads and its writes)."""

    interloper: Any = None

    def _group(self, *args: Any, **kwargs: Any) -> Any:
        outcome = super()._group(*args, **kwargs)
        interloper, type(self).interloper = type(self).interloper, None
        if interloper is not None:
            interloper()
        return outcome


@pytest.mark.parametrize(
    ("other_end", "expected_self", "expected_other"),
    [
        (T0 + HALF, ["b"], ["a"]),  # the other run ends inside this one's interval: this one continues from it
        (T0 + STEP + HALF, [], ["a", "b"]),  # the other run ends after this one: this one yields to it
    ],
)
def test_two_overlapping_runs_emit_each_execution_once(
    s3_client: Any, bucket: str, other_end: datetime, expected_self: list[str], expected_other: list[str]
) -> None:
    _store(s3_client, bucket, _messages(s3_client, bucket, "linear", "a", 1), T0 + HALF / 2)
    _store(s3_client, bucket, _messages(s3_client, bucket, "retry", "b", 2), T0 + STEP)
    other: dict[str, Any] = {}

    def run_other() -> None:
        other["keys"], other["summary"] = _group(bucket, other_end - STEP, other_end, run_type="manual")

    _Overlapped.interloper = run_other
    keys, summary = _group(bucket, T0, T0 + STEP, operator_class=_Overlapped)
    assert sorted(x.id.name for x in _executions(s3_client, bucket, keys)) == expected_self
    assert sorted(x.id.name for x in _executions(s3_client, bucket, other["keys"])) == expected_other

    after, summary = _group(bucket, T0 + 2 * STEP - HALF, T0 + 2 * STEP)
    assert after == [] and summary["batches"] == 0
    assert _reported_message_ids(s3_client, bucket) == set()
