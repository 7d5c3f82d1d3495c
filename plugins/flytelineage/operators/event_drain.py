"""The drain loop: SQS messages -> decoded Parquet batches on S3 -> delete, never the other way round.

Several receiver threads long-poll the queue (ten messages a call) into a hand-off queue; the calling thread decodes,
buffers, and flushes a batch when it holds ``flush_messages`` messages, when its oldest message has waited
``flush_seconds``, or when the receivers are done. A flush writes the events object and, if any message could not be
decoded, the quarantine object, and only then deletes the batch's messages, ten per call, retrying failed entries.
If a write fails the messages are not deleted: they become visible again and a later run stores them (duplicates are
removed downstream by ``event_id``). Messages held longer than half their visibility timeout get it extended.

Failures are loud: a failed write is logged and re-raised; a receive error (after botocore's own retries) stops the
receivers, the messages already received are stored and deleted, then ``QueueError`` is raised; a DeleteMessageBatch
call that keeps failing as a whole raises ``QueueError`` (its messages are stored, so their redelivery is harmless).
Quarantine reasons are logged with any text copied from the message body elided (the quarantine row keeps both).

This module is Airflow-free so the operator, the tests and the benchmarks drive the same code; the queue and the
object store are passed in (``SqsBatchHook`` and an ``ObjectWriter``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flytelineage.domain import storage_keys
from flytelineage.errors import QueueError
from flytelineage.hooks.sqs_batch_hook import SQS_BATCH_LIMIT, ReceivedMessage

log = logging.getLogger(__name__)

DELETE_RETRIES = 3
DELETE_BACKOFF_SECONDS = 0.2
"""Wait before retrying a DeleteMessageBatch call that failed as a whole (doubled on each retry)."""
MAX_LOGGED_REASON_CHARS = 300
_BODY_ECHO_MIN_CHARS = 8
_KNOWN_NAMES = frozenset(
    name
    for kind in ("Workflow", "Node", "Task")
    for name in (
        f"flyteidl.admin.{kind}ExecutionEventRequest",
        f"com.flyte.resource.flyteidl.admin.{kind}ExecutionEventRequest",
        f"cloudevents.{kind}Execution",
        f"com.flyte.resource.cloudevents.{kind}Execution",
        f"flyteidl.event.CloudEvent{kind}Execution",
    )
) | {"Notification"}
"""Protocol names a reason may repeat from the body without leaking anything (SNS Subjects, protobuf types)."""
_TOKEN = re.compile(r"[^\s'\"`,;:()\[\]{}<>]+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{12,}")
_MAX_BASE64_RUNS = 16


def loggable_reason(reason: str, body: str) -> str:
    """``reason`` safe for logs: tokens of eight or more characters found in ``body`` (or in the base64 payload it
    carries) are elided, protocol names excepted, then the text is cut to ``MAX_LOGGED_REASON_CHARS``.

    Decoder reasons may quote parts of the message (an unknown Subject, a value protobuf could not parse); the body
    can hold anything a publisher put there, so logs never repeat it. The quarantine row keeps the full reason.
    """

    haystack = _body_texts(body)

    def elide(match: re.Match[str]) -> str:
        token = match.group(0)
        if len(token) < _BODY_ECHO_MIN_CHARS or token in _KNOWN_NAMES or token not in haystack:
            return token
        return "<elided>"

    safe = _TOKEN.sub(elide, reason)
    if len(safe) > MAX_LOGGED_REASON_CHARS:
        safe = safe[:MAX_LOGGED_REASON_CHARS] + "..."
    return safe


def _body_texts(body: str) -> str:
    """The body and the text of every base64 run in it (the SNS ``Message`` or a raw body).

    The body is never parsed as JSON here: it was quarantined, perhaps because parsing it fails (a deeply nested
    document exhausts the recursion limit), and logging must not fail where decoding did.
    """
    texts = [body]
    for run in _BASE64_RUN.findall(body)[:_MAX_BASE64_RUNS]:
        with contextlib.suppress(binascii.Error, ValueError):
            texts.append(base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8", "replace"))
    return "\n".join(texts)


def _safe_log_reason(reason: str, body: str) -> str:
    """``loggable_reason`` that cannot raise (a log line must never stop a flush between its write and delete)."""
    try:
        return loggable_reason(reason, body)
    except Exception as exc:  # the full reason is in the quarantine row; the log only points at it
        return f"<reason withheld from the log: {type(exc).__name__}>"


class BatchQueue(Protocol):
    """The queue operations the drain needs (implemented by ``SqsBatchHook``)."""

    def receive(
        self, queue_url: str, *, max_messages: int = ..., wait_seconds: int = ..., visibility_timeout: int
    ) -> list[ReceivedMessage]: ...

    def delete_batch(self, queue_url: str, receipt_handles: Sequence[str]) -> list[dict[str, Any]]: ...

    def change_visibility_batch(
        self, queue_url: str, receipt_handles: Sequence[str], visibility_timeout: int
    ) -> list[dict[str, Any]]: ...


ObjectWriter = Callable[[str, bytes], None]
"""Writes ``bytes`` at an S3 key of the configured bucket, overwriting; raises on failure."""


@dataclass(frozen=True)
class DrainSettings:
    """Budgets and knobs of one drain run."""

    max_messages: int = 100_000
    max_seconds: float = 240.0
    receivers: int = 4
    wait_seconds: int = 1
    visibility_timeout: int = 300
    flush_messages: int = 5_000
    flush_seconds: float = 60.0
    raw_format: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.receivers <= 32:
            raise ValueError(f"receivers must be between 1 and 32, not {self.receivers}")
        if not 0 <= self.wait_seconds <= 20:
            raise ValueError(f"wait_seconds must be between 0 and 20 (SQS long polling), not {self.wait_seconds}")
        if self.flush_seconds > self.visibility_timeout / 3:
            raise ValueError(
                f"flush_seconds ({self.flush_seconds}) must be at most a third of visibility_timeout "
                f"({self.visibility_timeout}) so messages are stored and deleted before they reappear"
            )


@dataclass
class DrainReport:
    """Counts of one drain run, returned through XCom (small by design)."""

    received: int = 0
    events: int = 0
    quarantined: int = 0
    deleted: int = 0
    delete_failures: int = 0
    visibility_extensions: int = 0
    api_calls: dict[str, int] = field(default_factory=lambda: {"receive": 0, "delete": 0, "visibility": 0})
    objects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serializable summary (object keys beyond the first few are counted, not listed)."""
        return {
            "received": self.received,
            "events": self.events,
            "quarantined": self.quarantined,
            "deleted": self.deleted,
            "delete_failures": self.delete_failures,
            "visibility_extensions": self.visibility_extensions,
            "api_calls": dict(self.api_calls),
            "objects": len(self.objects),
            "first_objects": self.objects[:5],
        }


@dataclass
class _Held:
    message: ReceivedMessage
    received_mono: float


class EventDrain:
    """Drain one queue into one bucket/prefix for one ingest time. Call ``run()`` once."""

    def __init__(
        self,
        sqs: BatchQueue,
        queue_url: str,
        write: ObjectWriter,
        *,
        prefix: str,
        ingest_time: datetime,
        settings: DrainSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._write = write
        self._prefix = prefix
        self._ingest_time = ingest_time
        self._settings = settings
        self._clock = clock
        self._handoff: queue.Queue[list[_Held] | None] = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._taken = 0
        self._receive_errors: list[BaseException] = []
        self.report = DrainReport()

    # ---- receiving ----------------------------------------------------------------------------------------------

    def _claim(self) -> int:
        """Reserve up to ten messages of the run's budget for one receive call (0 = budget spent)."""
        with self._lock:
            room = min(SQS_BATCH_LIMIT, self._settings.max_messages - self._taken)
            if room > 0:
                self._taken += room
            return max(room, 0)

    def _release(self, unused: int) -> None:
        with self._lock:
            self._taken -= unused

    def _receiver(self, deadline: float) -> None:
        try:
            while not self._stop.is_set() and self._clock() < deadline:
                want = self._claim()
                if want == 0:
                    return
                got = self._sqs.receive(
                    self._queue_url,
                    max_messages=want,
                    wait_seconds=self._settings.wait_seconds,
                    visibility_timeout=self._settings.visibility_timeout,
                )
                with self._lock:
                    self.report.api_calls["receive"] += 1
                self._release(want - len(got))
                if not got:
                    return
                now = self._clock()
                self._handoff.put([_Held(m, now) for m in got])
        except Exception as exc:  # re-raised by run() once what was received is stored
            with self._lock:
                self._receive_errors.append(exc)
            self._stop.set()
        finally:
            self._handoff.put(None)

    # ---- the loop -----------------------------------------------------------------------------------------------

    def run(self) -> DrainReport:
        """Drain until the queue is empty (every receiver saw an empty receive) or a budget is reached."""
        from flytelineage.domain.event_decoding import SqsMessage, decode_messages

        deadline = self._clock() + self._settings.max_seconds
        threads = [
            threading.Thread(target=self._receiver, args=(deadline,), name=f"sqs-receiver-{i}", daemon=True)
            for i in range(self._settings.receivers)
        ]
        for t in threads:
            t.start()
        held: list[_Held] = []
        events: list[dict[str, Any]] = []
        quarantine: list[dict[str, Any]] = []
        running = len(threads)
        try:
            while running:
                try:
                    item = self._handoff.get(timeout=0.5)
                except queue.Empty:
                    item = []
                if item is None:
                    running -= 1
                    continue
                if item:
                    self.report.received += len(item)
                    held.extend(item)
                    result = decode_messages(
                        [SqsMessage(h.message.message_id, h.message.body, h.message.sent_at) for h in item],
                        received_at=self._ingest_time,
                        raw_format=self._settings.raw_format,
                    )
                    events.extend(result.events)
                    quarantine.extend(result.quarantine)
                if held and self._due(held):
                    self._flush(held, events, quarantine)
                    held, events, quarantine = [], [], []
            if held:
                self._flush(held, events, quarantine)
        finally:
            self._stop.set()
            for t in threads:
                t.join(timeout=self._settings.wait_seconds + 30)
        if self._receive_errors:
            first = self._receive_errors[0]
            raise QueueError(
                f"ReceiveMessage on {self._queue_url} failed ({len(self._receive_errors)} receiver(s) stopped): "
                f"{type(first).__name__}: {first}. The {self.report.received} message(s) received before were "
                "stored and deleted; the rest stay in the queue for the next run."
            ) from first
        return self.report

    def _due(self, held: list[_Held]) -> bool:
        if len(held) >= self._settings.flush_messages:
            return True
        return self._clock() - held[0].received_mono >= self._settings.flush_seconds

    # ---- flushing -----------------------------------------------------------------------------------------------

    def _flush(self, held: list[_Held], events: list[dict[str, Any]], quarantine: list[dict[str, Any]]) -> None:
        from flytelineage.domain.event_table import quarantine_to_table, storable_events_table, table_to_parquet_bytes

        self._extend_visibility_if_old(held)
        digest = storage_keys.batch_digest(h.message.message_id for h in held)
        table, rejected = storable_events_table(events) if events else (None, [])
        quarantine = quarantine + self._unstorable(held, rejected)
        if table is not None and table.num_rows:
            key = storage_keys.batch_key(self._prefix, storage_keys.EVENTS, self._ingest_time, digest)
            self._store(key, table_to_parquet_bytes(table), len(held))
        quarantine_key = storage_keys.batch_key(self._prefix, storage_keys.QUARANTINE, self._ingest_time, digest)
        if quarantine:
            self._store(quarantine_key, table_to_parquet_bytes(quarantine_to_table(quarantine)), len(held))
        self.report.events += table.num_rows if table is not None else 0
        self.report.quarantined += len(quarantine)
        self._delete(held)
        for row in quarantine:
            log.warning(
                "quarantined SQS message %s (full reason and body in %s): %s",
                row["message_id"],
                quarantine_key,
                _safe_log_reason(row["reason"], row["body"]),
            )

    def _unstorable(self, held: list[_Held], rejected: list[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
        """Quarantine rows for decoded events whose values do not fit the event table (with the message body)."""
        from flytelineage.domain.event_decoding import SqsMessage, quarantine_row

        if not rejected:
            return []
        by_id = {h.message.message_id: h.message for h in held}
        rows = []
        for event, problem in rejected:
            message = by_id[str(event["message_id"])]
            reason = f"decoded {event.get('event_kind')} event cannot be stored: {problem}"
            rows.append(
                quarantine_row(SqsMessage(message.message_id, message.body, message.sent_at), reason, self._ingest_time)
            )
        return rows

    def _store(self, key: str, data: bytes, messages: int) -> None:
        try:
            self._write(key, data)
        except Exception as exc:
            log.error(
                "Could not write %s (%s: %s). None of the %d message(s) of this batch was deleted; they reappear in "
                "the queue and the next run stores them.",
                key,
                type(exc).__name__,
                exc,
                messages,
            )
            raise
        self.report.objects.append(key)

    def _chunks(self, held: list[_Held]) -> list[list[str]]:
        handles = [h.message.receipt_handle for h in held]
        return [handles[i : i + SQS_BATCH_LIMIT] for i in range(0, len(handles), SQS_BATCH_LIMIT)]

    def _delete(self, held: list[_Held]) -> None:
        workers = max(1, self._settings.receivers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqs-delete") as pool:
            outcomes = list(pool.map(self._delete_chunk, self._chunks(held)))
        for deleted, failed in outcomes:
            self.report.deleted += deleted
            self.report.delete_failures += failed

    def _delete_chunk(self, handles: list[str]) -> tuple[int, int]:
        """Delete up to ten stored messages; return (deleted, not deleted). Entries that failed are retried, except
        stale receipt handles (the message was redelivered meanwhile), which stay invalid."""
        pending = handles
        not_deleted = 0
        for attempt in range(DELETE_RETRIES):
            failed = self._delete_call(pending, attempt)
            with self._lock:
                self.report.api_calls["delete"] += 1
            if not failed:
                break
            log.warning(
                "DeleteMessageBatch failed for %d of its entries (attempt %d): %s",
                len(failed),
                attempt + 1,
                "; ".join(f"{f.get('Code')}: {(f.get('Message') or '')[:120]}" for f in failed[:3]),
            )
            retryable = [f for f in failed if f.get("Code") != "ReceiptHandleIsInvalid"]
            not_deleted += len(failed) - len(retryable)
            pending = [pending[int(f["Id"])] for f in retryable]
            if not pending:
                break
        else:
            not_deleted += len(pending)
        # Messages not deleted stay stored; they are redelivered, stored again, then deduplicated by event_id.
        return len(handles) - not_deleted, not_deleted

    def _delete_call(self, handles: list[str], attempt: int) -> list[dict[str, Any]]:
        """One DeleteMessageBatch call; a call failing as a whole is retried, then raises ``QueueError``."""
        try:
            return self._sqs.delete_batch(self._queue_url, handles)
        except Exception as exc:
            if attempt + 1 >= DELETE_RETRIES:
                raise QueueError(
                    f"DeleteMessageBatch on {self._queue_url} failed {DELETE_RETRIES} times: {type(exc).__name__}: "
                    f"{exc}. Its {len(handles)} message(s) are stored, so they are redelivered and stored again, "
                    "then deduplicated by event_id."
                ) from exc
            time.sleep(DELETE_BACKOFF_SECONDS * 2**attempt)
            return [{"Id": str(i), "Code": type(exc).__name__, "Message": str(exc)} for i in range(len(handles))]

    def _extend_visibility_if_old(self, held: list[_Held]) -> None:
        oldest_age = self._clock() - held[0].received_mono
        if oldest_age < self._settings.visibility_timeout / 2:
            return
        for chunk in self._chunks(held):
            failed = self._sqs.change_visibility_batch(self._queue_url, chunk, self._settings.visibility_timeout)
            self.report.api_calls["visibility"] += 1
            self.report.visibility_extensions += len(chunk) - len(failed)
