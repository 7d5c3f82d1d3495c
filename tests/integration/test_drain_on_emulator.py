"""The drain against moto_server: every message ends up stored (events or quarantine) before it is deleted."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from flytelineage.engine.drain_loop import DrainLoop, DrainSettings
from flytelineage.hooks.sqs_batch_hook import SqsBatchHook
from tests.event_bodies import MALFORMED_BODIES, node_event_body
from tests.sqs_s3_helpers import queue_depth, send_batches, stored_message_ids, stored_rows

INGEST = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)


class MotoSafeSqs(SqsBatchHook):
    """Serializes ReceiveMessage calls: moto's ``receive_message`` takes no lock, so two concurrent calls can both
    take the same visible messages and leave moto's in-flight bookkeeping inconsistent (seen as messages stuck
    "not visible" after every handle was deleted). Real SQS has no such race; the drain's threads still run
    concurrently, only the emulator call is serialized."""

    _lock = threading.Lock()

    def receive(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return super().receive(*args, **kwargs)


def _drain(url: str, bucket: str, settings: DrainSettings, write_hook=None) -> DrainLoop:  # type: ignore[no-untyped-def]
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook(aws_conn_id=None)

    def write(key: str, data: bytes) -> None:
        s3.load_bytes(data, key=key, bucket_name=bucket, replace=True)
        if write_hook is not None:
            write_hook(key)

    return DrainLoop(MotoSafeSqs(aws_conn_id=None), url, write, prefix="fl", ingest_time=INGEST, settings=settings)


@pytest.mark.integration
def test_every_message_is_stored_and_the_queue_ends_empty(sqs_client, s3_client, bucket, unique_name) -> None:  # type: ignore[no-untyped-def]
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    valid = [node_event_body(f"e{i % 7}", f"n{i}") for i in range(120)]
    duplicates = valid[:15]  # the same event delivered twice (SNS redelivery)
    ids = send_batches(sqs_client, url, valid + duplicates + MALFORMED_BODIES)

    report = _drain(url, bucket, DrainSettings(receivers=3, flush_messages=50, wait_seconds=0)).run()

    events = stored_message_ids(s3_client, bucket, "fl/events/")
    quarantine = stored_message_ids(s3_client, bucket, "fl/quarantine/")
    stored_events = [m for ids_ in events.values() for m in ids_]
    stored_quarantine = [m for ids_ in quarantine.values() for m in ids_]
    # SQS is at-least-once, so a message may be stored twice; none may be missing, and every stored one was sent.
    assert set(stored_events + stored_quarantine) == set(ids)
    assert len(set(stored_quarantine)) == len(MALFORMED_BODIES)
    assert report.received == report.deleted >= len(ids)
    assert report.delete_failures == 0
    assert queue_depth(sqs_client, url) == 0
    assert all("/ingest_date=2026-11-21/ingest_hour=12/" in k for k in [*events, *quarantine])
    # Redeliveries of one event share its event_id, so they collapse downstream.
    event_ids = [row["event_id"] for row in stored_rows(s3_client, bucket, "fl/events/")]
    assert len(event_ids) >= 135 and len(set(event_ids)) == 120


@pytest.mark.integration
def test_failure_between_write_and_delete_leaves_messages_in_the_queue(  # type: ignore[no-untyped-def]
    sqs_client, s3_client, bucket, unique_name
) -> None:
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    ids = send_batches(sqs_client, url, [node_event_body("e1", f"n{i}") for i in range(30)] + MALFORMED_BODIES[:3])

    def crash(key: str) -> None:
        raise RuntimeError(f"injected crash after writing {key}")

    settings = DrainSettings(receivers=2, flush_messages=1000, wait_seconds=0, visibility_timeout=10, flush_seconds=3)
    with pytest.raises(RuntimeError, match="injected crash"):
        _drain(url, bucket, settings, write_hook=crash).run()

    stored = [m for ids_ in stored_message_ids(s3_client, bucket, "fl/events/").values() for m in ids_]
    assert set(stored) <= set(ids) and stored  # the write happened...
    assert queue_depth(sqs_client, url) == len(ids)  # ...and nothing was deleted

    time.sleep(10.5)  # let the visibility timeout lapse, then a normal run stores and deletes everything
    report = _drain(url, bucket, DrainSettings(receivers=2, wait_seconds=0)).run()
    assert report.deleted >= len(ids)
    assert queue_depth(sqs_client, url) == 0
    events = stored_message_ids(s3_client, bucket, "fl/events/")
    quarantine = stored_message_ids(s3_client, bucket, "fl/quarantine/")
    everything = {m for ids_ in [*events.values(), *quarantine.values()] for m in ids_}
    assert everything == set(ids)


@pytest.mark.integration
def test_message_budget_is_respected(sqs_client, bucket, unique_name) -> None:  # type: ignore[no-untyped-def]
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    send_batches(sqs_client, url, [node_event_body("e1", f"n{i}") for i in range(45)])
    report = _drain(url, bucket, DrainSettings(receivers=2, wait_seconds=0, max_messages=23)).run()
    assert report.received == 23 == report.deleted
    assert queue_depth(sqs_client, url) == 45 - 23
