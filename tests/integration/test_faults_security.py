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

from flytelineage.domain import storage_keys
from flytelineage.domain.cloudevent_proto import CloudEvent
from flytelineage.domain.event_decoding import SqsMessage, decode_messages, loggable_reason
from flytelineage.domain.event_table import events_to_table, table_to_parquet_bytes
from flytelineage.domain.execution_store import executions_from_jsonl_gz
from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook
from flytelineage.testing.flyte_event_generator import generate, write_objects
from tests.event_bodies import node_event_body
from tests.integration.test_faults_drain import Drain
from tests.sqs_s3_helpers import queue_depth, send_batches, stored_rows
from tests.unit.operators.test_group_executions import _group

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


def test_grouping_never_sends_a_request_outside_read_buckets(
    s3_client: Any, bucket: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read_buckets is the domain's rule (the reader hook reads what it is given): grouping an execution whose
    LiteralMaps and datasets are in a bucket outside read_buckets asks the reader for none of them and sends no
    request there; the execution is still emitted, with the refusals as problems."""
    other = f"{unique_name}-other"
    s3_client.create_bucket(Bucket=other)
    run = generate("linear", name="elsewhere", bucket=other, seed=3)
    write_objects(s3_client, run.objects)
    stamp_time = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)
    rows = decode_messages([SqsMessage(m.message_id, m.body) for m in run.messages], received_at=stamp_time).events
    key = storage_keys.batch_key("fl", storage_keys.EVENTS, stamp_time, storage_keys.batch_digest(["elsewhere"]))
    s3_client.put_object(Bucket=bucket, Key=key, Body=table_to_parquet_bytes(events_to_table(rows)))

    asked: list[str] = []
    sent: list[str] = []
    for method in ("read_objects", "read_tails", "list_files"):
        original = getattr(S3BulkReaderHook, method)

        def recording(self: Any, uris: Any, *args: Any, _original: Any = original) -> Any:
            asked.extend(uris)
            return _original(self, uris, *args)

        monkeypatch.setattr(S3BulkReaderHook, method, recording)
    get_conn = S3BulkReaderHook.get_conn
    hooked: set[int] = set()

    def recording_conn(self: Any) -> Any:
        client = get_conn(self)
        if id(client) not in hooked:
            hooked.add(id(client))
            client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
        return client

    monkeypatch.setattr(S3BulkReaderHook, "get_conn", recording_conn)

    keys, summary = _group(bucket, stamp_time.replace(minute=0), stamp_time, read_buckets=[bucket])

    assert summary["executions"] == 1 and summary["batches"] == 1
    data = s3_client.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    (execution,) = executions_from_jsonl_gz(data)
    assert execution.id.name == "elsewhere"
    assert execution.problems and all("not in read_buckets" in p for p in execution.problems)
    assert asked and all(u.startswith(f"s3://{bucket}/") for u in asked)  # the batch: the only read
    assert sent and not any(other in u for u in sent)
