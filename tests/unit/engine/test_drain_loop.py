"""DrainLoop against an in-memory queue and clock: batch limits, delete retries, stale receipt handles, waits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from flytelineage.engine.drain_loop import (
    DELETE_BACKOFF_SECONDS,
    DELETE_RETRIES,
    BatchQueue,
    Clock,
    DrainLoop,
    DrainSettings,
)
from flytelineage.errors import QueueError
from flytelineage.hooks.sqs_batch_hook import SQS_BATCH_LIMIT, ReceivedMessage
from tests.event_bodies import node_event_body


class FakeQueue:
    """Serves ``bodies`` once each; ``fail`` maps a receipt handle to the error code its deletes return."""

    batch_limit = SQS_BATCH_LIMIT

    def __init__(self, bodies: list[str], fail: dict[str, list[str]] | None = None) -> None:
        self.waiting = [ReceivedMessage(f"m{i}", b, f"h{i}", None) for i, b in enumerate(bodies)]
        self.fail = fail or {}
        self.deleted: list[str] = []
        self.delete_calls: list[list[str]] = []

    def receive(self, queue_url: str, *, max_messages: int = 10, wait_seconds: int = 1, visibility_timeout: int):  # type: ignore[no-untyped-def]
        assert max_messages <= SQS_BATCH_LIMIT
        got, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return got

    def delete_batch(self, queue_url: str, receipt_handles: Sequence[str]) -> list[dict[str, Any]]:
        assert 0 < len(receipt_handles) <= SQS_BATCH_LIMIT
        self.delete_calls.append(list(receipt_handles))
        failed = []
        for i, handle in enumerate(receipt_handles):
            codes = self.fail.get(handle)
            if codes:
                failed.append({"Id": str(i), "Code": codes.pop(0), "Message": "injected"})
            else:
                self.deleted.append(handle)
        return failed

    def change_visibility_batch(self, queue_url: str, receipt_handles: Sequence[str], visibility_timeout: int):  # type: ignore[no-untyped-def]
        return []


def _run(queue: FakeQueue, clock: Clock | None = None) -> Any:
    written: dict[str, bytes] = {}
    drain = DrainLoop(
        queue,
        "q",
        written.__setitem__,
        prefix="p",
        ingest_time=datetime(2026, 11, 21, tzinfo=UTC),
        settings=DrainSettings(receivers=2, wait_seconds=0, flush_messages=25),
        **({"clock": clock} if clock else {}),
    )
    return drain.run(), written


def test_batches_never_exceed_ten_and_everything_is_deleted_after_writing() -> None:
    queue = FakeQueue([node_event_body("e", f"n{i}") for i in range(57)])
    report, written = _run(queue)
    assert report.received == report.deleted == 57 and report.delete_failures == 0
    assert sorted(queue.deleted) == sorted(f"h{i}" for i in range(57))
    assert all(len(call) <= SQS_BATCH_LIMIT for call in queue.delete_calls)
    assert written and all(k.startswith("p/events/") for k in written)


def test_throttled_entries_are_retried_but_stale_handles_are_not() -> None:
    fail = {"h3": ["ThrottlingException"], "h7": ["ReceiptHandleIsInvalid"]}
    queue = FakeQueue([node_event_body("e", f"n{i}") for i in range(12)], fail)
    report, _ = _run(queue)
    assert "h3" in queue.deleted and "h7" not in queue.deleted
    assert sum(call.count("h3") for call in queue.delete_calls) == 2  # one retry
    assert sum(call.count("h7") for call in queue.delete_calls) == 1  # never retried
    assert (report.deleted, report.delete_failures) == (11, 1)


def test_entries_failing_every_retry_are_counted_not_lost() -> None:
    fail = {"h0": ["InternalError"] * 5}
    queue = FakeQueue([node_event_body("e", f"n{i}") for i in range(3)], fail)
    report, written = _run(queue)
    assert (report.deleted, report.delete_failures) == (2, 1)
    assert sum(call.count("h0") for call in queue.delete_calls) == 3
    assert written  # the message stays stored; its redelivery is deduplicated by event_id


def test_lone_surrogates_are_quarantined_escaped_and_the_rest_stored() -> None:
    from flytelineage.domain.event_table import parquet_bytes_to_table

    bodies = [
        node_event_body("e", "n0"),
        '{"Type": "Notification", "Subject": "\ud800"}',
        "\udfff",
        node_event_body("e", "n1"),
    ]
    queue = FakeQueue(bodies)
    report, written = _run(queue)
    assert (report.received, report.deleted, report.events, report.quarantined) == (4, 4, 2, 2)
    [quarantine_key] = [k for k in written if k.startswith("p/quarantine/")]
    rows = parquet_bytes_to_table(written[quarantine_key]).to_pylist()
    assert sorted(r["body"] for r in rows) == sorted(['{"Type": "Notification", "Subject": "\\ud800"}', "\\udfff"])
    assert all("stored backslash-escaped" in r["reason"] for r in rows)


class FakeClock:
    """A monotonic clock that only moves when the loop sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FailingDeletes(FakeQueue):
    """DeleteMessageBatch fails as a whole ``failures`` times (a throttled or unreachable endpoint), then works."""

    def __init__(self, bodies: list[str], failures: int) -> None:
        super().__init__(bodies)
        self.failures = failures

    def delete_batch(self, queue_url: str, receipt_handles: Sequence[str]) -> list[dict[str, Any]]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("injected")
        return super().delete_batch(queue_url, receipt_handles)


def test_delete_backoff_waits_on_the_loops_clock_never_on_time_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called: every wait of the loop goes through its clock")

    monkeypatch.setattr(time, "sleep", no_sleep)
    clock = FakeClock()
    queue = FailingDeletes([node_event_body("e", f"n{i}") for i in range(3)], failures=2)
    report, written = _run(queue, clock)
    assert clock.sleeps == [DELETE_BACKOFF_SECONDS, DELETE_BACKOFF_SECONDS * 2]
    assert (report.deleted, report.delete_failures) == (3, 0) and written


def test_a_delete_failing_every_retry_raises_after_the_clock_backoffs() -> None:
    clock = FakeClock()
    queue = FailingDeletes([node_event_body("e", "n0")], failures=DELETE_RETRIES)
    with pytest.raises(QueueError, match=f"failed {DELETE_RETRIES} times"):
        _run(queue, clock)
    assert clock.sleeps == [DELETE_BACKOFF_SECONDS * 2**i for i in range(DELETE_RETRIES - 1)]


def test_the_queue_hook_and_the_fakes_satisfy_the_loops_protocols() -> None:
    from flytelineage.engine.drain_loop import SYSTEM_CLOCK
    from flytelineage.hooks.sqs_batch_hook import SqsBatchHook

    queues: list[BatchQueue] = [FakeQueue([]), SqsBatchHook(aws_conn_id=None)]
    clocks: list[Clock] = [FakeClock(), SYSTEM_CLOCK]
    assert [q.batch_limit for q in queues] == [SQS_BATCH_LIMIT, SQS_BATCH_LIMIT]
    assert all(callable(c.sleep) and callable(c.monotonic) for c in clocks)
