"""Manual runs next to the scheduled chain: each groups what arrived since the newest state, none re-emits.

The behaviour (documented in docs/operations.md): a manual run without replay params drains, then groups what was
stored since the newest grouping state before it (the scheduled chain's or another manual run's) and writes its own
state; the next scheduled run continues from that state. Only a replay (``replay_start``/``replay_end``) or a
backfill re-emits what was emitted before.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from flytelineage.operators.group_executions import GroupExecutionsOperator
from tests.unit.operators.test_group_executions import STEP, T0, _names, _store_batch, _Ti

pytestmark = pytest.mark.integration

HALF = STEP / 2


def _run(bucket: str, run_type: str, **context: Any) -> tuple[list[str], dict[str, Any]]:
    params = {k: context.pop(k) for k in ("replay_start", "replay_end") if k in context}
    operator = GroupExecutionsOperator(
        task_id="group_executions", bucket=bucket, prefix="fl", aws_conn_id=None, settle_seconds=0, **params
    )
    ti = _Ti()
    run_after = context.pop("run_after", context.get("data_interval_end"))
    keys = operator.execute({**context, "ti": ti, "dag_run": SimpleNamespace(run_type=run_type, run_after=run_after)})  # type: ignore[arg-type]
    return keys, ti.xcom["summary"]


def test_manual_and_scheduled_runs_never_re_emit_and_a_replay_does(s3_client, bucket) -> None:  # type: ignore[no-untyped-def]
    _store_batch(s3_client, bucket, "linear", "a", T0 + STEP)
    keys, _ = _run(bucket, "scheduled", data_interval_start=T0, data_interval_end=T0 + STEP)
    assert _names(s3_client, bucket, keys) == ["a"]

    # a manual run half a step later: Airflow gives it the interval (end - 10 min, end], overlapping the last one
    _store_batch(s3_client, bucket, "retry", "b", T0 + STEP + HALF)
    keys, summary = _run(bucket, "manual", data_interval_start=T0 + HALF, data_interval_end=T0 + STEP + HALF)
    assert _names(s3_client, bucket, keys) == ["b"]  # not "a" again
    assert summary["state_from"] == "20261121T121000Z"

    # the next scheduled run continues from the manual run's state
    _store_batch(s3_client, bucket, "cache_hit", "c", T0 + 2 * STEP)
    keys, summary = _run(bucket, "scheduled", data_interval_start=T0 + STEP, data_interval_end=T0 + 2 * STEP)
    assert _names(s3_client, bucket, keys) == ["c"]  # not "b" again
    assert summary["state_from"] == "20261121T121500Z" and summary["batches"] == 1

    # a REST trigger without a logical date has no data interval: it still starts from the newest state
    keys, summary = _run(bucket, "manual", data_interval_start=None, data_interval_end=None, run_after=T0 + 3 * STEP)
    assert keys == [] and summary["state_from"] == "20261121T122000Z"

    # a replay is the explicit way to emit again
    window = {"replay_start": T0.isoformat(), "replay_end": (T0 + 3 * STEP).isoformat()}
    keys, _ = _run(
        bucket, "manual", data_interval_start=None, data_interval_end=None, run_after=T0 + 3 * STEP, **window
    )
    assert _names(s3_client, bucket, keys) == ["a", "b", "c"]


def test_a_backfill_re_derives_what_a_manual_run_inside_its_interval_emitted(s3_client, bucket) -> None:  # type: ignore[no-untyped-def]
    _store_batch(s3_client, bucket, "linear", "a", T0 + STEP)
    _run(bucket, "scheduled", data_interval_start=T0, data_interval_end=T0 + STEP)
    _store_batch(s3_client, bucket, "retry", "b", T0 + STEP + HALF)
    _run(bucket, "manual", data_interval_start=T0 + HALF, data_interval_end=T0 + STEP + HALF)
    _store_batch(s3_client, bucket, "cache_hit", "c", T0 + 2 * STEP)
    keys, _ = _run(bucket, "backfill", data_interval_start=T0 + STEP, data_interval_end=T0 + 2 * STEP)
    assert _names(s3_client, bucket, keys) == ["b", "c"]
