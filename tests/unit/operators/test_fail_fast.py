"""Which failures fail once and which are retried, and what the message names, on tables and on moto_server."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from flytelineage.errors import ConfigurationError, QueueError
from flytelineage.operators.fail_fast import RetryableAwsError, TransientReadsRaise, failing_fast, is_transient

END = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} happened"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "AnyOperation",
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("NoSuchBucket", 404), False),
        (_client_error("AWS.SimpleQueueService.NonExistentQueue", 400), False),
        (_client_error("AccessDenied", 403), False),
        (_client_error("EntityNotFoundException", 400), False),
        (_client_error("ThrottlingException", 400), True),
        (_client_error("SlowDown", 503), True),
        (_client_error("Anything", 500), True),
        (_client_error("TooManyRequests", 429), True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
        (NoCredentialsError(), False),
    ],
)
def test_is_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_deterministic_aws_error_fails_once_naming_action_and_connection() -> None:
    with pytest.raises(AirflowFailException) as caught, failing_fast("list s3://b/p/", conn_id="aws_prod"):
        raise _client_error("NoSuchBucket", 404)
    assert str(caught.value).startswith("Could not list s3://b/p/ through connection 'aws_prod': NoSuchBucket")


def test_transient_aws_error_is_retried_with_the_same_names() -> None:
    with pytest.raises(RetryableAwsError, match=r"write s3://b/k through connection 'c' \(SlowDown"):  # noqa: SIM117
        with failing_fast("write s3://b/k", conn_id="c"):
            raise _client_error("SlowDown", 503)


def test_a_wrapping_error_keeps_its_message_and_is_classified_by_its_cause() -> None:
    with pytest.raises(AirflowFailException, match="ReceiveMessage on q failed"), failing_fast("drain q", conn_id="c"):
        raise QueueError("ReceiveMessage on q failed") from _client_error("AccessDenied", 403)


def test_configuration_errors_fail_and_other_errors_pass_through() -> None:
    with pytest.raises(AirflowFailException, match="Could not render: bad Variable"), failing_fast("render"):
        raise ConfigurationError("bad Variable")
    with pytest.raises(KeyError), failing_fast("anything"):
        raise KeyError("not ours to judge")
    with pytest.raises(AirflowSkipException), failing_fast("anything"):
        raise AirflowSkipException("nothing to do")


@pytest.mark.integration
def test_missing_queue_fails_once_naming_queue_and_connection(moto_endpoint: str, bucket: str) -> None:
    from flytelineage.operators.drain_events import DrainEventsOperator

    operator = DrainEventsOperator(task_id="drain_events", sqs_queue="no-such-queue", bucket=bucket)
    context = {"data_interval_end": END, "dag_run": SimpleNamespace(run_type="scheduled", run_after=END)}
    with pytest.raises(AirflowFailException) as caught:
        operator.execute(context)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "find SQS queue 'no-such-queue' through connection 'aws_default'" in message
    assert "NonExistentQueue" in message or "QueueDoesNotExist" in message


@pytest.mark.integration
def test_missing_bucket_fails_once_naming_bucket_and_connection(moto_endpoint: str, unique_name: str) -> None:
    from flytelineage.operators.group_executions import GroupExecutionsOperator

    operator = GroupExecutionsOperator(task_id="group_executions", bucket=unique_name, prefix="fl")
    context: dict[str, Any] = {
        "data_interval_start": END.replace(minute=0),
        "data_interval_end": END,
        "ti": SimpleNamespace(xcom_push=lambda **_: None),
    }
    with pytest.raises(AirflowFailException) as caught:
        operator.execute(context)  # type: ignore[arg-type]
    assert f"list s3://{unique_name}/fl/" in str(caught.value)
    assert "through connection 'aws_default': NoSuchBucket" in str(caught.value)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("yesterday", "2026-11-21T13:00:00+00:00", "replay_start must be an ISO 8601 date-time"),
        ("2026-11-21T00:00:00+00:00", None, "replay_start is set but replay_end is not"),
    ],
)
def test_bad_replay_bounds_fail_once(start: str, end: str | None, expected: str) -> None:
    from flytelineage.operators.group_executions import GroupExecutionsOperator

    operator = GroupExecutionsOperator(task_id="g", bucket="b", replay_start=start, replay_end=end, aws_conn_id=None)
    with pytest.raises(AirflowFailException, match=expected):
        operator.execute({"ti": None})  # type: ignore[arg-type]


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


class _Reader:
    """Answers every URI with the value given for it (bytes, a listing or an exception), for each reader method."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def _answer(self, uris: Any, *_: Any) -> dict[str, Any]:
        return {u: self.answers[u] for u in uris}

    read_objects = list_files = read_tails = read_heads = _answer


METHODS = [("read_objects", ()), ("list_files", ()), ("read_tails", (8,)), ("read_heads", (8,))]


@pytest.mark.parametrize(("method", "extra"), METHODS, ids=[m for m, _ in METHODS])
@pytest.mark.parametrize(
    "error",
    [_client_error("SlowDown", 503), _client_error("ThrottlingException", 400), _client_error("InternalError", 500)],
    ids=["slowdown", "throttling", "internal"],
)
def test_a_transient_read_failure_fails_the_task_for_a_retry(
    method: str, extra: tuple[Any, ...], error: Exception
) -> None:
    reader = TransientReadsRaise(_Reader({"s3://b/ok": b"x", "s3://b/slow": error}))
    with pytest.raises(RetryableAwsError, match="s3://b/slow") as raised:
        getattr(reader, method)(["s3://b/ok", "s3://b/slow"], *extra)
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(("method", "extra"), METHODS, ids=[m for m, _ in METHODS])
def test_a_deterministic_read_failure_stays_a_value_the_domain_records(method: str, extra: tuple[Any, ...]) -> None:
    missing, denied = _client_error("NoSuchKey", 404), _client_error("AccessDenied", 403)
    answers = {"s3://b/ok": b"x", "s3://b/missing": missing, "s3://b/denied": denied, "s3://b/bad": ValueError("x")}
    results = getattr(TransientReadsRaise(_Reader(answers)), method)(sorted(answers), *extra)
    assert results == answers


def test_an_aws_error_quoting_a_registered_secret_fails_without_it_or_its_cause() -> None:
    """An endpoint that quotes the request in its error sends the session token back; the task's error is cut."""
    import traceback
    import uuid

    from flytelineage.hooks.connection_secrets import register_secrets

    token = f"token-{uuid.uuid4().hex}"
    register_secrets([token])
    echoed = ClientError(
        {
            "Error": {"Code": "AccessDenied", "Message": f"you sent {token}"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "GetObject",
    )
    with pytest.raises(AirflowFailException) as failed, failing_fast("read s3://b/k", conn_id="aws_default"):
        raise echoed
    assert "AccessDenied: you sent ***" in str(failed.value) and "'aws_default'" in str(failed.value)
    assert token not in "".join(traceback.format_exception(failed.value))
    with pytest.raises(RetryableAwsError) as retried, failing_fast("register tables"):
        try:
            raise echoed
        except ClientError as e:
            raise RetryableAwsError("3 tables still failing") from e  # an inner block's own error
    assert str(retried.value) == "3 tables still failing"
    assert token not in "".join(traceback.format_exception(retried.value))
    with pytest.raises(AirflowFailException) as plain, failing_fast("read s3://b/k"):
        raise _client_error("NoSuchKey", 404)
    assert isinstance(plain.value.__cause__, ClientError)  # no secret: the cause stays for the traceback
