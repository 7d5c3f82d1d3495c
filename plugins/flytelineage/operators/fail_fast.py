"""Which failures a retry can fix, and the message an operator reads when one cannot.

Airflow retries every exception except ``AirflowFailException``. A missing Variable, a bad connection, invalid params
or an AWS answer such as ``NoSuchBucket`` or ``QueueDoesNotExist`` fail the same way on every try, so retrying them
only delays the next scheduled drain (``max_active_runs=1``). ``failing_fast`` turns those into one
``AirflowFailException`` whose message names what was being done (the queue, bucket, key or table) and the
connection used; throttling, 5xx answers, timeouts and dropped connections are re-raised as ``RetryableAwsError``
(same names in the message) so they keep their retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from flytelineage.errors import ConfigurationError, FlyteLineageError

E = TypeVar("E", bound=BaseException)

TRANSIENT_AWS_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "InternalServiceException",
        "InternalServiceError",
        "ExpiredToken",
        "ExpiredTokenException",
        "ConcurrentModificationException",
        "OperationTimeoutException",
    }
)
"""AWS error codes that a later try can succeed on; every other AWS error code is taken as deterministic."""


class RetryableAwsError(FlyteLineageError):
    """A transient AWS failure (throttling, 429/5xx, timeout, dropped connection): Airflow retries the task."""


_TRANSIENT_BOTOCORE = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError")


def _aws_cause(exc: BaseException) -> BaseException | None:
    """The botocore error in ``exc``'s chain (``raise ... from``), if any."""
    from botocore.exceptions import BotoCoreError, ClientError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ClientError | BotoCoreError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def is_transient(error: BaseException) -> bool:
    """True for a botocore error that a retry may fix: throttling, 429/5xx, timeouts, dropped connections."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code in TRANSIENT_AWS_CODES or status == 429 or status >= 500
    return any(cls.__name__ in _TRANSIENT_BOTOCORE for cls in type(error).__mro__)


def describe_aws_error(error: BaseException) -> str:
    """``Code: message`` of a ClientError, else the botocore error's class and text; secrets cut out (``redact``)."""
    from botocore.exceptions import ClientError

    from flytelineage.hooks.connection_secrets import redact

    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return redact(f"{info.get('Code', '?')}: {info.get('Message', '') or error}")
    return redact(f"{type(error).__name__}: {error}")


@contextlib.contextmanager
def failing_fast(action: str, *, conn_id: str | None = None) -> Iterator[None]:
    """Run the block; turn deterministic failures into one ``AirflowFailException`` naming ``action`` and the
    connection, and transient AWS errors into ``RetryableAwsError`` with the same names (Airflow retries those).

    ``action`` says what was being done, with its resource: ``"receive from SQS queue 'q'"``,
    ``"write s3://bucket/key"``. Errors that are neither configuration nor AWS errors pass through unchanged.
    """
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    via = f" through connection {conn_id!r}" if conn_id else " with boto3's default credentials (no connection)"
    try:
        yield
    except (AirflowFailException, RetryableAwsError) as e:
        raise _clean(e, e.__cause__) from _cause(e, e.__cause__)  # named by an inner block; its cause may quote one
    except AirflowException:
        raise  # already decided (skips, deferrals)
    except ConfigurationError as e:
        failed = AirflowFailException(f"Could not {action}: {e}")
        raise _clean(failed, e) from _cause(failed, e)
    except Exception as e:
        cause = _aws_cause(e)
        if cause is None:
            raise
        detail = describe_aws_error(cause) if e is cause else str(e)  # a wrapping error already names its resource
        error: Exception
        if is_transient(cause):
            error = RetryableAwsError(f"Could not {action}{via} ({detail}); a transient AWS error: retrying.")
        else:
            error = AirflowFailException(
                f"Could not {action}{via}: {detail}. A retry cannot fix this: check that the resource exists in the "
                "connection's account and region and that its credentials may use it."
            )
        raise _clean(error, e) from _cause(error, e)


def _quoting(error: BaseException, cause: BaseException | None) -> bool:
    from flytelineage.hooks.connection_secrets import quotes_secret

    return quotes_secret(error) or (cause is not None and quotes_secret(cause))


def _clean(error: E, cause: BaseException | None) -> E:
    """``error``, or when it or ``cause`` quotes a registered secret (``connection_secrets``) a copy of it with a
    redacted message, raised without its cause (``_cause``), whose text would carry the secret again."""
    from flytelineage.hooks.connection_secrets import redact

    return type(error)(redact(str(error))) if _quoting(error, cause) else error


def _cause(error: BaseException, cause: E | None) -> E | None:
    """The cause to raise ``_clean(error, cause)`` from: ``cause``, or None when either quotes a secret."""
    return None if _quoting(error, cause) else cause


def fail_on_bad_params(problems: list[str]) -> None:
    """Raise one ``AirflowFailException`` listing every problem of the run's params (nothing when there is none)."""
    from airflow.sdk.exceptions import AirflowFailException

    if problems:
        raise AirflowFailException(
            f"The run's params are invalid ({len(problems)} problem(s)): " + "; ".join(problems) + ". Trigger a "
            "new run with corrected params (see the DAG's documentation)."
        )


class TransientReadsRaise:
    """An ``ObjectReader`` (``domain.literal_datasets``) whose transient AWS failures fail the task.

    The domain records every unreadable object as a problem on its execution and moves on: right for a missing
    object or a refused bucket, which fail the same way on every try. A throttled or 5xx read is not such a fact:
    recorded as a problem, it would emit the execution once with wrong lineage (datasets without their producer or
    schema) and the grouping state would never emit it again. This wrapper raises ``RetryableAwsError`` for those
    instead, so Airflow retries the task and nothing is emitted until the objects can be read.
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, Any]:
        """The inner reader's ``read_objects``, raising on a transient failure."""
        return self._checked("read", self._reader.read_objects(uris))

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Any]:
        """The inner reader's ``list_files``, raising on a transient failure."""
        return self._checked("list", self._reader.list_files(dir_uris))

    def read_tails(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, Any]:
        """The inner reader's ``read_tails``, raising on a transient failure."""
        return self._checked("read the end of", self._reader.read_tails(file_uris, nbytes))

    def read_heads(self, uris: Sequence[str], nbytes: int) -> Mapping[str, Any]:
        """The inner reader's ``read_heads``, raising on a transient failure (LiteralMaps and offloaded literals are
        read this way too, bounded by ``max_literal_bytes``, so the message says only "read")."""
        return self._checked("read", self._reader.read_heads(uris, nbytes))

    @staticmethod
    def _checked(verb: str, results: Mapping[str, Any]) -> Mapping[str, Any]:
        for uri, value in results.items():
            if not isinstance(value, BaseException):
                continue
            cause = _aws_cause(value)
            if cause is not None and is_transient(cause):
                error = RetryableAwsError(
                    f"Could not {verb} {uri} ({describe_aws_error(cause)}): a transient AWS error, so the task is "
                    "retried rather than emitting executions with this object missing."
                )
                raise _clean(error, value) from _cause(error, value)
        return results
