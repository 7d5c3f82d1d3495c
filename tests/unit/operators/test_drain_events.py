"""FlyteEventsToS3Operator: what it skips, which ingest time it uses, and a real execute against moto_server."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from flytelineage.operators.drain_events import FlyteEventsToS3Operator, ingest_time_of
from flytelineage.testing.malformed_bodies import MALFORMED_BODIES
from tests.event_bodies import node_event_body

END = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)


def _operator(**kwargs: Any) -> FlyteEventsToS3Operator:
    return FlyteEventsToS3Operator(task_id="drain_events", sqs_queue="q", bucket="b", aws_conn_id=None, **kwargs)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"data_interval_end": END, "dag_run": SimpleNamespace(run_after=None)}, END),
        ({"data_interval_end": None, "dag_run": SimpleNamespace(run_after=END)}, END),
        ({"dag_run": SimpleNamespace(run_after=None, logical_date=END)}, END),
    ],
)
def test_ingest_time_is_the_interval_end_else_run_after(context: dict[str, Any], expected: datetime) -> None:
    assert ingest_time_of(context) == expected  # type: ignore[arg-type]


def test_backfill_runs_skip_the_drain() -> None:
    context = {"data_interval_end": END, "dag_run": SimpleNamespace(run_type="backfill", run_after=END)}
    with pytest.raises(AirflowSkipException, match="Backfill"):
        _operator().execute(context)  # type: ignore[arg-type]


@pytest.mark.parametrize("enabled", [False, "False", "false"])
def test_switched_off_drain_skips(enabled: object) -> None:
    context = {"data_interval_end": END, "dag_run": SimpleNamespace(run_type="manual", run_after=END)}
    with pytest.raises(AirflowSkipException, match="switched off"):
        _operator(enabled=enabled).execute(context)  # type: ignore[arg-type]


@pytest.mark.integration
def test_execute_drains_a_queue_into_the_bucket(sqs_client, s3_client, bucket, unique_name) -> None:  # type: ignore[no-untyped-def]
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    bodies = [node_event_body("e1", f"n{i}") for i in range(25)] + MALFORMED_BODIES[:2]
    for i in range(0, len(bodies), 10):
        sqs_client.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        )
    operator = FlyteEventsToS3Operator(
        task_id="drain_events", sqs_queue=unique_name, bucket=bucket, prefix="fl", aws_conn_id=None, wait_seconds=0
    )
    context = {"data_interval_end": END, "dag_run": SimpleNamespace(run_type="scheduled", run_after=END)}
    summary = operator.execute(context)  # type: ignore[arg-type]
    # 27 messages, each received once (the visibility timeout, 300 s, outlasts the test, so none comes back): the 25
    # node events are stored, the 2 malformed bodies quarantined, all 27 deleted; one flush writes one object each
    assert (summary["received"], summary["events"], summary["quarantined"]) == (len(bodies), 25, 2) == (27, 25, 2)
    assert (summary["deleted"], summary["delete_failures"], summary["objects"]) == (27, 0, 2)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket, Prefix="fl/")["Contents"]]
    assert any(k.startswith("fl/events/ingest_date=2026-11-21/ingest_hour=12/batch-20261121T121000Z-") for k in keys)
    assert any(k.startswith("fl/quarantine/ingest_date=2026-11-21/ingest_hour=12/") for k in keys)
    assert len(keys) == 2, keys
