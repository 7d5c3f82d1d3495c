"""Security faults: secrets in message bodies and in the AWS connection never reach the logs; read_buckets holds.

The drain runs on moto_server against bodies that carry a marker string in every place a decoder reason could
quote (Subject, envelope Type, CloudEvent type, protobuf JSON values); the captured logs must never contain it, while
the quarantine rows must (so the test proves the marker went through the code that logs reasons).
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from flytelineage.domain.cloudevent_proto import CloudEvent
from flytelineage.domain.event_decoding import loggable_reason
from flytelineage.hooks.s3_bulk_reader_hook import BucketNotAllowedError, S3BulkReaderHook
from tests.event_bodies import node_event_body
from tests.integration.test_faults_drain import Drain
from tests.sqs_s3_helpers import queue_depth, send_batches, stored_rows

pytestmark = pytest.mark.integration

MARKER = "SEKRIT-4f1c9e7a-do-not-log"
NODE = "flyteidl.admin.NodeExecutionEventRequest"
TASK = "flyteidl.admin.TaskExecutionEventRequest"


def envelope(subject: str, message: str, **extra: str) -> str:
    """An SNS notification body."""
    return json.dumps({"Type": "Notification", "Subject": subject, "Message": message, **extra})


def cloud_event(ce_type: str, data: bytes) -> str:
    """A base64 protobuf CloudEvent carrying ``data`` as binary data."""
    event = CloudEvent(id="1", source="test", spec_version="1.0", type=ce_type)
    event.binary_data = data
    return base64.b64encode(event.SerializeToString()).decode()


def task_request_json(event: dict[str, Any]) -> bytes:
    return json.dumps({"event": event}).encode()


MARKED_BODIES = [
    MARKER,
    "{" + MARKER,
    json.dumps({"Type": MARKER}),
    envelope(f"flyteidl.admin.{MARKER}", "AAAA"),
    envelope(NODE, MARKER),
    envelope(NODE, cloud_event(f"com.flyte.resource.{MARKER}", b"{}")),
    envelope(TASK, cloud_event(f"com.flyte.resource.{TASK}", task_request_json({"retryAttempt": MARKER}))),
    envelope(TASK, cloud_event(f"com.flyte.resource.{TASK}", task_request_json({"occurredAt": MARKER}))),
    envelope(TASK, cloud_event(f"com.flyte.resource.{TASK}", task_request_json({"customInfo": MARKER}))),
    envelope(
        TASK, cloud_event(f"com.flyte.resource.{TASK}", task_request_json({"metadata": {"externalResources": MARKER}}))
    ),
    envelope(TASK, cloud_event(f"com.flyte.resource.{TASK}", MARKER.encode())),
    json.dumps({"Type": "Notification", "Subject": NODE, "Message": "AAAA", "Signature": MARKER}),
]
"""Undecodable bodies holding the marker where a reason might quote it."""


def test_loggable_reason_elides_body_text_but_keeps_protocol_names() -> None:
    body = envelope(f"flyteidl.admin.{MARKER}", "AAAA")
    assert loggable_reason(f"unknown Subject 'flyteidl.admin.{MARKER}': not a FlyteAdmin event type", body) == (
        "unknown Subject '<elided>': not a FlyteAdmin event type"
    )
    reason = f"Message is not a valid {NODE} protobuf"
    assert loggable_reason(reason, envelope(NODE, "x")) == reason
    assert len(loggable_reason("y" * 5000, "")) <= 303


def test_marker_in_bodies_never_reaches_the_logs(
    sqs_client: Any, s3_client: Any, bucket: str, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    valid = [node_event_body(f"e-{MARKER}"[:30], f"n{i}") for i in range(5)]  # marker in a valid event's name too
    ids = send_batches(sqs_client, url, valid + MARKED_BODIES)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="flytelineage")

    report = Drain(url, bucket).run()

    assert report.quarantined == len(MARKED_BODIES) and report.deleted == len(ids)
    assert queue_depth(sqs_client, url) == 0
    rows = stored_rows(s3_client, bucket, "fl/quarantine/")
    assert sorted(r["body"] for r in rows) == sorted(MARKED_BODIES)
    assert any(MARKER[:12] in r["reason"] for r in rows)  # the decoder does quote bodies: the drain must not log that
    quarantine_logs = [r for r in caplog.records if "quarantined SQS message" in r.getMessage()]
    assert len(quarantine_logs) == len(MARKED_BODIES)
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert MARKER[:12] not in logged


def test_aws_secret_key_of_the_connection_is_never_logged(
    sqs_client: Any,
    bucket: str,
    unique_name: str,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The drain operator with a connection holding a marker secret key, every logger at DEBUG (botocore included)."""
    from flytelineage.operators.drain_events import DrainEventsOperator

    secret = f"aws-secret-{MARKER}"
    conn = {
        "conn_type": "aws",
        "login": "AKIAFAULTSTESTKEY01",
        "password": secret,
        "extra": {"region_name": "us-east-1", "endpoint_url": moto_endpoint},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FAULTS_AWS", json.dumps(conn))
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    send_batches(sqs_client, url, [node_event_body("e1", f"n{i}") for i in range(12)])
    caplog.set_level(logging.DEBUG)

    operator = DrainEventsOperator(
        task_id="drain_events",
        sqs_queue=unique_name,
        bucket=bucket,
        prefix="fl",
        aws_conn_id="faults_aws",
        wait_seconds=0,
    )
    summary = operator.execute(context={"data_interval_end": datetime(2026, 11, 21, 12, tzinfo=UTC)})  # type: ignore[arg-type]

    assert summary["deleted"] == 12 and queue_depth(sqs_client, url) == 0
    assert any("AKIAFAULTSTESTKEY01" in r.getMessage() for r in caplog.records)  # botocore logged the signed calls
    assert secret not in caplog.text and MARKER not in caplog.text


def test_bulk_reader_never_sends_a_request_outside_read_buckets(s3_client: Any, bucket: str, unique_name: str) -> None:
    other = f"{unique_name}-other"
    s3_client.create_bucket(Bucket=other)
    for name in (bucket, other):
        s3_client.put_object(Bucket=name, Key="dir/part-0.parquet", Body=b"PAR1data")
    hook = S3BulkReaderHook(aws_conn_id=None, allowed_buckets=[bucket])
    sent: list[str] = []
    hook.get_conn().meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))

    objects = hook.read_objects([f"s3://{bucket}/dir/part-0.parquet", f"s3://{other}/dir/part-0.parquet"])
    tails = hook.read_tails([f"s3://{other}/dir/part-0.parquet"], 4)
    listing = hook.list_files([f"s3://{other}/dir", f"s3://{bucket}/dir"])

    assert objects[f"s3://{bucket}/dir/part-0.parquet"] == b"PAR1data"
    assert listing[f"s3://{bucket}/dir"] == [f"s3://{bucket}/dir/part-0.parquet"]
    for denied in (
        objects[f"s3://{other}/dir/part-0.parquet"],
        tails[f"s3://{other}/dir/part-0.parquet"],
        listing[f"s3://{other}/dir"],
    ):
        assert isinstance(denied, BucketNotAllowedError)
    assert len(sent) == 2 and not any(other in u for u in sent)
