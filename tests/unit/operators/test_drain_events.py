"""DrainEventsOperator: what it skips, which ingest time it uses, its settings, and a real execute on moto_server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from flytelineage.engine.drain_loop import DrainSettings
from flytelineage.operators.drain_events import DrainEventsOperator, FlyteEventsToS3Operator
from flytelineage.testing.malformed_bodies import MALFORMED_BODIES
from tests.event_bodies import node_event_body

END = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)


def _operator(**kwargs: Any) -> DrainEventsOperator:
    return DrainEventsOperator(task_id="drain_events", sqs_queue="q", bucket="b", aws_conn_id=None, **kwargs)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"data_interval_end": END, "dag_run": SimpleNamespace(run_after=None)}, END),
        ({"data_interval_end": None, "dag_run": SimpleNamespace(run_after=END)}, END),
        ({"dag_run": SimpleNamespace(run_after=None, logical_date=END)}, END),
    ],
)
def test_ingest_time_is_the_interval_end_else_run_after(context: dict[str, Any], expected: datetime) -> None:
    assert DrainEventsOperator._ingest_time(context) == expected  # type: ignore[arg-type]


def test_a_run_without_interval_end_or_run_after_has_no_ingest_time() -> None:
    with pytest.raises(ValueError, match="neither a data interval end nor run_after"):
        DrainEventsOperator._ingest_time({"dag_run": SimpleNamespace(run_after=None)})  # type: ignore[arg-type]


def test_backfill_runs_skip_the_drain() -> None:
    context = {"data_interval_end": END, "dag_run": SimpleNamespace(run_type="backfill", run_after=END)}
    with pytest.raises(AirflowSkipException, match=r"\(backfill\)"):
        _operator().execute(context)  # type: ignore[arg-type]


REPLAY = {"replay_start": "2026-11-20T00:00:00+00:00", "replay_end": "2026-11-21T00:00:00+00:00"}


@pytest.mark.parametrize(
    ("params", "run_type", "kind"),
    [
        ({"dry_run": True}, "manual", "dry run"),
        (REPLAY, "manual", "replay"),
        ({"dry_run": True, **REPLAY}, "manual", "dry run"),
        ({}, "backfill", "backfill"),
        ({"dry_run": False}, "backfill", "backfill"),
    ],
)
def test_switched_off_drain_skips(params: dict[str, Any], run_type: str, kind: str) -> None:
    """Dry runs, replays and backfills read only what is stored: the run's mode switches the drain off."""
    context = {"data_interval_end": END, "dag_run": SimpleNamespace(run_type=run_type, run_after=END), "params": params}
    with pytest.raises(AirflowSkipException, match=f"switched off for this run \\({kind}\\)"):
        _operator().execute(context)  # type: ignore[arg-type]


def test_old_class_name_is_the_same_operator() -> None:
    assert FlyteEventsToS3Operator is DrainEventsOperator


def test_explicit_arguments_override_the_variable_and_defaults_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variable = {"sqs_queue": "from-variable", "bucket": "vb", "receivers": 2, "flush_seconds": 30}
    monkeypatch.setenv("AIRFLOW_VAR_FLYTE_LINEAGE", json.dumps(variable))
    operator = DrainEventsOperator(task_id="drain_events", sqs_queue="q", max_messages=7, raw_format="cloudevents")
    settings = operator.lineage_settings()
    assert (settings.sqs_queue, settings.bucket, settings.prefix) == ("q", "vb", "flyte-lineage")
    assert DrainSettings.from_settings(settings) == DrainSettings(
        max_messages=7, receivers=2, flush_seconds=30, raw_format="cloudevents"
    )
    assert operator.aws_conn_id == "aws_default"


def test_drain_settings_defaults_are_the_variable_defaults() -> None:
    from flytelineage.domain.lineage_settings import settings_from_dict

    assert DrainSettings() == DrainSettings.from_settings(settings_from_dict({"sqs_queue": "q", "bucket": "b"}))
    assert DrainSettings() == DrainSettings(
        max_messages=100_000,
        max_seconds=240.0,
        receivers=4,
        wait_seconds=1,
        visibility_timeout=300,
        flush_messages=5_000,
        flush_seconds=60.0,
        raw_format=None,
    )


def test_the_drain_needs_a_queue_and_a_bucket() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="sqs_queue"):
        DrainEventsOperator(task_id="drain_events", bucket="b").execute({"data_interval_end": END})  # type: ignore[arg-type]


@pytest.mark.integration
def test_execute_drains_a_queue_into_the_bucket(sqs_client, s3_client, bucket, unique_name) -> None:  # type: ignore[no-untyped-def]
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    bodies = [node_event_body("e1", f"n{i}") for i in range(25)] + MALFORMED_BODIES[:2]
    for i in range(0, len(bodies), 10):
        sqs_client.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        )
    operator = DrainEventsOperator(
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
