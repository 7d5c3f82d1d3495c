"""Faults injected into a real drain on moto_server: S3 put failures, S3 5xx, SQS receive and delete throttling.

Every test proves the same two things on real outcomes (the objects in the bucket, the messages left in the queue):
nothing is lost (a following run stores every message sent) and nothing is deleted before it is stored (the queue
still holds exactly the messages whose object was not written).

Faults are injected into the real boto3 clients of the real hooks, two ways:
- a ``before-call`` handler answering with an error response: the call fails once, with no botocore retry, as when
  the retries are exhausted or the error is not retryable;
- a ``before-send`` handler answering the HTTP request with an error status: the response goes through botocore's
  own retry layer, as a real throttled or failing endpoint would.
SQS throttling is injected by wrapping the SQS hook's client (the brief of issue 7).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from flytelineage.engine.drain_loop import DrainLoop, DrainReport, DrainSettings
from flytelineage.errors import QueueError
from flytelineage.hooks.sqs_batch_hook import SqsBatchHook
from tests.event_bodies import MALFORMED_BODIES, node_event_body
from tests.sqs_s3_helpers import all_message_ids, queue_depth, send_batches, stored_rows

pytestmark = pytest.mark.integration

INGEST = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)
PREFIX = "fl"
VISIBILITY = 3
FAST = DrainSettings(receivers=1, wait_seconds=0, flush_messages=10, flush_seconds=1, visibility_timeout=VISIBILITY)


# ---- fault injection ----------------------------------------------------------------------------------------------


class _Body:
    """The raw stream of a fake HTTP response (what ``AWSResponse.content`` reads)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def http_error(status: int, body: bytes, content_type: str = "application/xml") -> AWSResponse:
    """An HTTP response a ``before-send`` handler returns instead of sending the request."""
    return AWSResponse("https://fault.invalid/", status, {"Content-Type": content_type}, _Body(body))


def error_response(operation: str, code: str, status: int = 503) -> tuple[AWSResponse, dict[str, Any]]:
    """The ``(http, parsed)`` pair a ``before-call`` handler returns: the call fails with ``code``, no retry."""
    parsed = {
        "Error": {"Code": code, "Message": f"injected {code} on {operation}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return http_error(status, b""), parsed


class CallFaults:
    """Fail chosen calls of one operation of a boto3 client: ``fail(n)`` is asked with the 1-based call number."""

    def __init__(self, client: Any, operation: str, code: str, fail: Callable[[int], bool]) -> None:
        self.operation, self.code, self.fail = operation, code, fail
        self.calls = 0
        self.failed = 0
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-call.{service}.{operation}", self._handler)

    def _handler(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        self.calls += 1
        if not self.fail(self.calls):
            return None
        self.failed += 1
        return error_response(self.operation, self.code)


class SendFaults:
    """Answer the first ``times`` HTTP sends of one operation with an error status (botocore retries them)."""

    def __init__(self, client: Any, operation: str, response: Callable[[], AWSResponse], times: int) -> None:
        self.operation, self.response, self.times = operation, response, times
        self.sends = 0
        self.injected = 0
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-send.{service}.{operation}", self._handler)

    def _handler(self, **_: Any) -> AWSResponse | None:
        self.sends += 1
        if self.injected >= self.times:
            return None
        self.injected += 1
        return self.response()


def s3_slow_down() -> AWSResponse:
    """S3's answer when a prefix is throttled (503 SlowDown), which botocore retries."""
    return http_error(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")


class ThrottledSqs:
    """Wraps an SQS client: the calls of ``operation`` for which ``fail(n)`` holds raise a throttling ClientError."""

    def __init__(self, client: Any, operation: str, code: str, fail: Callable[[int], bool]) -> None:
        self._client, self._operation, self._code, self._fail = client, operation, code, fail
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name != self._operation:
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self._fail(self.calls):
                raise ClientError(
                    {"Error": {"Code": self._code, "Message": "Rate exceeded"}, "ResponseMetadata": {}},
                    "".join(part.title() for part in name.split("_")),
                )
            return attribute(**kwargs)

        return call


# ---- queue and bucket helpers --------------------------------------------------------------------------------------


def stored_ids(s3_client: Any, bucket: str) -> set[str]:
    """Message ids held by every events and quarantine object under the prefix."""
    return all_message_ids(s3_client, bucket, f"{PREFIX}/")


def event_ids(s3_client: Any, bucket: str) -> set[str]:
    """Distinct ``event_id`` values of the stored events."""
    return {row["event_id"] for row in stored_rows(s3_client, bucket, f"{PREFIX}/events/")}


class Drain:
    """Real hooks (``SqsBatchHook``, ``S3Hook``) on the emulator, their clients exposed for fault injection."""

    def __init__(self, url: str, bucket: str, settings: DrainSettings = FAST) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        self.url, self.bucket, self.settings = url, bucket, settings
        self.sqs = SqsBatchHook(aws_conn_id=None)
        self.s3 = S3Hook(aws_conn_id=None)
        self.s3_client = self.s3.get_conn()
        self.sqs_client = self.sqs.get_conn()

    def wrap_sqs(self, wrapper: Any) -> None:
        """Route every SQS call of the hook through ``wrapper``."""
        self.sqs.get_conn = lambda: wrapper  # type: ignore[method-assign]

    def run(self) -> DrainReport:
        """One drain run (raises what the drain raises)."""

        def write(key: str, data: bytes) -> None:
            self.s3.load_bytes(data, key=key, bucket_name=self.bucket, replace=True)

        drain = DrainLoop(self.sqs, self.url, write, prefix=PREFIX, ingest_time=INGEST, settings=self.settings)
        return drain.run()


@pytest.fixture
def queue(sqs_client: Any, unique_name: str) -> str:
    """A fresh queue whose default visibility matches the drain's (so an undeleted message reappears soon)."""
    return str(
        sqs_client.create_queue(QueueName=unique_name, Attributes={"VisibilityTimeout": str(VISIBILITY)})["QueueUrl"]
    )


def bodies(count: int, execution: str = "e1") -> list[str]:
    """``count`` valid node-event bodies plus three undecodable ones."""
    return [node_event_body(execution, f"n{i}") for i in range(count)] + MALFORMED_BODIES[:3]


def assert_clean_rerun_stores_everything(
    sqs_client: Any, s3_client: Any, url: str, bucket: str, ids: list[str]
) -> None:
    """After the visibility timeout, a fault-free run leaves the queue empty with every message stored."""
    time.sleep(VISIBILITY + 0.5)
    report = Drain(url, bucket).run()
    assert report.delete_failures == 0
    assert queue_depth(sqs_client, url) == 0
    assert stored_ids(s3_client, bucket) == set(ids)


# ---- S3 ------------------------------------------------------------------------------------------------------------


def test_failed_nth_put_deletes_only_what_was_written(sqs_client: Any, s3_client: Any, bucket: str, queue: str) -> None:
    ids = send_batches(sqs_client, queue, bodies(37))
    drain = Drain(queue, bucket)
    faults = CallFaults(drain.s3_client, "PutObject", "InternalError", fail=lambda n: n == 3)

    with pytest.raises(ClientError, match="InternalError"):
        drain.run()

    assert faults.failed == 1
    written = stored_ids(s3_client, bucket)
    assert written and written < set(ids)  # some batches were stored before the failure, not all
    # exactly the stored messages were deleted: the queue still holds every message whose object was not written
    assert queue_depth(sqs_client, queue) == len(ids) - len(written)
    assert_clean_rerun_stores_everything(sqs_client, s3_client, queue, bucket, ids)


def test_quarantine_put_failure_keeps_the_batch_events_undeleted(
    sqs_client: Any, s3_client: Any, bucket: str, queue: str
) -> None:
    """The events object of a batch is written, its quarantine object is not: no message of the batch is deleted."""
    ids = send_batches(sqs_client, queue, bodies(5))  # one batch: five events and three undecodable bodies
    drain = Drain(
        queue, bucket, DrainSettings(receivers=1, wait_seconds=0, flush_seconds=1, visibility_timeout=VISIBILITY)
    )
    faults = CallFaults(drain.s3_client, "PutObject", "AccessDenied", fail=lambda n: n == 2)

    with pytest.raises(ClientError, match="AccessDenied"):
        drain.run()

    assert faults.calls == 2
    assert len(stored_ids(s3_client, bucket)) == 5  # the events object exists...
    assert queue_depth(sqs_client, queue) == len(ids)  # ...but its messages wait for their quarantine rows
    assert_clean_rerun_stores_everything(sqs_client, s3_client, queue, bucket, ids)


def test_s3_slow_down_is_retried_by_botocore(sqs_client: Any, s3_client: Any, bucket: str, queue: str) -> None:
    ids = send_batches(sqs_client, queue, bodies(20))
    drain = Drain(queue, bucket)
    faults = SendFaults(drain.s3_client, "PutObject", s3_slow_down, times=2)

    report = drain.run()

    assert faults.injected == 2 and faults.sends == len(report.objects) + 2  # each 503 was answered by a retry
    assert report.deleted == len(ids) and queue_depth(sqs_client, queue) == 0
    assert stored_ids(s3_client, bucket) == set(ids)


def test_persistent_s3_slow_down_fails_with_the_aws_code_and_deletes_nothing(
    sqs_client: Any, s3_client: Any, bucket: str, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # keep botocore's backoff short; the behaviour is the same
    ids = send_batches(sqs_client, queue, bodies(12))
    drain = Drain(queue, bucket)
    faults = SendFaults(drain.s3_client, "PutObject", s3_slow_down, times=1_000)

    with pytest.raises(ClientError, match="SlowDown") as raised:
        drain.run()

    assert raised.value.response["Error"]["Code"] == "SlowDown"
    assert faults.sends == 2  # botocore tried twice (AWS_MAX_ATTEMPTS), then gave up
    assert stored_ids(s3_client, bucket) == set()
    assert queue_depth(sqs_client, queue) == len(ids)
    assert_clean_rerun_stores_everything(sqs_client, s3_client, queue, bucket, ids)


# ---- SQS -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ThrottlingException", "RequestThrottled"])
def test_receive_throttling_fails_the_run_after_storing_what_was_received(
    sqs_client: Any, s3_client: Any, bucket: str, queue: str, code: str
) -> None:
    ids = send_batches(sqs_client, queue, bodies(27))
    drain = Drain(
        queue, bucket, DrainSettings(receivers=1, wait_seconds=0, flush_seconds=1, visibility_timeout=VISIBILITY)
    )
    throttled = ThrottledSqs(drain.sqs_client, "receive_message", code, fail=lambda n: n >= 2)
    drain.wrap_sqs(throttled)

    with pytest.raises(QueueError, match=rf"ReceiveMessage .* failed .*{code}") as raised:
        drain.run()

    assert isinstance(raised.value.__cause__, ClientError)
    written = stored_ids(s3_client, bucket)
    assert len(written) == 10  # the first receive's ten messages were stored...
    assert queue_depth(sqs_client, queue) == len(ids) - 10  # ...and deleted; the rest wait in the queue
    assert_clean_rerun_stores_everything(sqs_client, s3_client, queue, bucket, ids)


def test_transient_delete_throttling_is_retried(sqs_client: Any, s3_client: Any, bucket: str, queue: str) -> None:
    ids = send_batches(sqs_client, queue, bodies(17))
    drain = Drain(queue, bucket)
    throttled = ThrottledSqs(drain.sqs_client, "delete_message_batch", "RequestThrottled", fail=lambda n: n == 1)
    drain.wrap_sqs(throttled)

    report = drain.run()

    assert report.deleted == len(ids) and report.delete_failures == 0
    assert report.api_calls["delete"] == throttled.calls == 3  # two chunks of ten, the first one twice
    assert queue_depth(sqs_client, queue) == 0
    assert stored_ids(s3_client, bucket) == set(ids)


def test_persistent_delete_throttling_fails_and_redelivery_collapses(
    sqs_client: Any, s3_client: Any, bucket: str, queue: str
) -> None:
    ids = send_batches(sqs_client, queue, bodies(15))
    drain = Drain(
        queue, bucket, DrainSettings(receivers=1, wait_seconds=0, flush_seconds=1, visibility_timeout=VISIBILITY)
    )
    drain.wrap_sqs(ThrottledSqs(drain.sqs_client, "delete_message_batch", "ThrottlingException", fail=lambda n: True))

    with pytest.raises(QueueError, match=r"DeleteMessageBatch .* failed 3 times: ClientError: .*ThrottlingException"):
        drain.run()

    first_events = event_ids(s3_client, bucket)
    assert stored_ids(s3_client, bucket) == set(ids)  # everything was stored before the delete was attempted
    assert queue_depth(sqs_client, queue) == len(ids)  # and nothing was deleted
    assert_clean_rerun_stores_everything(sqs_client, s3_client, queue, bucket, ids)
    assert event_ids(s3_client, bucket) == first_events  # the redelivered copies collapse by event_id
