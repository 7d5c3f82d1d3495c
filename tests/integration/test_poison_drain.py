"""Poison messages through a real queue on moto_server: each is quarantined with its reason, the good messages around
it are stored, every message is deleted, and a second run finds nothing to redo (0 blocked, 0 lost, no duplicates).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from flytelineage.engine.drain_loop import DrainSettings
from flytelineage.testing.poison_bodies import poison_bodies
from tests.event_bodies import node_event_body
from tests.integration.test_faults_drain import PREFIX, Drain, queue  # noqa: F401 - the queue fixture
from tests.sqs_s3_helpers import queue_depth, send_batches, stored_rows, stored_tables

pytestmark = pytest.mark.integration

# Visibility long enough that a slow shared machine never sees a message come back within the test.
SETTINGS = DrainSettings(receivers=1, wait_seconds=0, flush_messages=10, flush_seconds=1, visibility_timeout=120)
EXPECTED_REASON = {
    "retry_attempt 2**31": "column retry_attempt (int32): 2147483648 is outside the int32 range",
    "retry_attempt 2**32-1": "column retry_attempt (int32): 4294967295 is outside the int32 range",
    "phase_version 2**31": "column phase_version (int32): 2147483648 is outside the int32 range",
    "nanos out of range": "occurred_at nanos 2000000000 is outside 0..999999999",
    "negative nanos": "occurred_at nanos -5 is outside 0..999999999",
    "nested JSON field in a valid envelope": "RecursionError",
    "nested JSON body": "body is not an SNS JSON envelope",
    "nested JSON as the SNS Message": "RecursionError",
}


def test_poison_is_quarantined_and_the_messages_behind_it_flow(
    sqs_client: Any,
    s3_client: Any,
    bucket: str,
    queue: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    good_before = send_batches(sqs_client, queue, [node_event_body("good", f"a{i}") for i in range(50)])
    poison_ids = {}
    for name, body in poison_bodies():  # one per call: the nested bodies are ~200 KB each
        poison_ids[sqs_client.send_message(QueueUrl=queue, MessageBody=body)["MessageId"]] = name
    good_after = send_batches(sqs_client, queue, [node_event_body("good", f"b{i}") for i in range(50)])

    with caplog.at_level(logging.WARNING, logger="flytelineage.engine.drain_loop"):
        report = Drain(queue, bucket, SETTINGS).run()

    assert queue_depth(sqs_client, queue) == 0
    assert (report.received, report.deleted, report.delete_failures) == (108, 108, 0)
    events = stored_rows(s3_client, bucket, f"{PREFIX}/events/")
    assert sorted(r["message_id"] for r in events) == sorted(good_before + good_after)
    quarantined = {r["message_id"]: r for r in stored_rows(s3_client, bucket, f"{PREFIX}/quarantine/")}
    assert set(quarantined) == set(poison_ids)
    for message_id, name in poison_ids.items():
        assert EXPECTED_REASON[name] in quarantined[message_id]["reason"], name
        assert len(quarantined[message_id]["body"]) > 200
    logged = [r.getMessage() for r in caplog.records if "quarantined SQS message" in r.getMessage()]
    assert len(logged) == len(poison_ids)

    objects = set(stored_tables(s3_client, bucket, f"{PREFIX}/"))
    rerun = Drain(queue, bucket, SETTINGS).run()
    assert (rerun.received, rerun.events, rerun.quarantined) == (0, 0, 0)
    assert set(stored_tables(s3_client, bucket, f"{PREFIX}/")) == objects
