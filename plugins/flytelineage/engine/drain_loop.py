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
Quarantine reasons are logged through ``event_decoding.loggable_reason`` (text copied from the body elided; the
quarantine row keeps both).

Everything the loop touches is passed in: the queue (``BatchQueue``, which the Amazon provider based
``SqsBatchHook`` satisfies), the object store (``ObjectWriter``) and the clock (``Clock``). Every timed decision and
every pause goes through the clock: the run's deadline, a batch's age, the visibility extension and the backoff
between DeleteMessageBatch retries. The only other waits are for the receiver threads themselves (the hand-off
queue, bounded by the time until the oldest batch is due, and the final join).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flytelineage.domain import storage_keys
from flytelineage.domain.lineage_settings import LineageSettings
from flytelineage.errors import QueueError

log = logging.getLogger(__name__)

DELETE_RETRIES = 3
DELETE_BACKOFF_SECONDS = 0.2
"""Wait before retrying a DeleteMessageBatch call that failed as a whole (doubled on each retry)."""
HANDOFF_POLL_SECONDS = 0.5
"""Longest wait for received messages before the loop looks again whether the held batch is due."""


# ---- what the loop is given ---------------------------------------------------------------------------------------


class QueueMessage(Protocol):
    """One received message (``SqsBatchHook``'s ``ReceivedMessage``): id, body, receipt handle, send time."""

    @property
    def message_id(self) -> str: ...

    @property
    def body(self) -> str: ...

    @property
    def receipt_handle(self) -> str: ...

    @property
    def sent_at(self) -> datetime | None: ...


class BatchQueue(Protocol):
    """The queue operations the loop needs (``SqsBatchHook`` has them). A batch call takes 1 to ``batch_limit``
    entries; the delete and visibility calls return the failed entries (``Id`` is the index as a string)."""

    @property
    def batch_limit(self) -> int: ...

    def receive(
        self, queue_url: str, *, max_messages: int = ..., wait_seconds: int = ..., visibility_timeout: int
    ) -> Sequence[QueueMessage]: ...

    def delete_batch(self, queue_url: str, receipt_handles: Sequence[str]) -> list[dict[str, Any]]: ...

    def change_visibility_batch(
        self, queue_url: str, receipt_handles: Sequence[str], visibility_timeout: int
    ) -> list[dict[str, Any]]: ...


class ObjectWriter(Protocol):
    """Writes ``data`` at ``key`` of the configured bucket, overwriting; raises on failure."""

    def __call__(self, key: str, data: bytes, /) -> None: ...


class Clock(Protocol):
    """The loop's time: a monotonic reading in seconds and a pause of the calling thread."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The process's monotonic clock and real sleeps (the default)."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


# ---- settings and report ------------------------------------------------------------------------------------------

_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(LineageSettings) if f.default is not dataclasses.MISSING
}
"""The one set of defaults: those of the ``flyte_lineage`` Variable's keys."""


@dataclass(frozen=True)
class DrainSettings:
    """Budgets and knobs of one drain run (the drain keys of ``LineageSettings``, with its defaults)."""

    max_messages: int = _DEFAULTS["max_messages"]
    max_seconds: float = _DEFAULTS["max_seconds"]
    receivers: int = _DEFAULTS["receivers"]
    wait_seconds: int = _DEFAULTS["wait_seconds"]
    visibility_timeout: int = _DEFAULTS["visibility_timeout"]
    flush_messages: int = _DEFAULTS["flush_messages"]
    flush_seconds: float = _DEFAULTS["flush_seconds"]
    raw_format: str | None = _DEFAULTS["raw_format"]

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

    @classmethod
    def from_settings(cls, settings: LineageSettings) -> DrainSettings:
        """The drain keys of validated settings."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})


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


def _safe_log_reason(reason: str, body: str) -> str:
    """``loggable_reason`` that cannot raise (a log line must never stop a flush between its write and delete)."""
    from flytelineage.domain.event_decoding import loggable_reason

    try:
        return loggable_reason(reason, body)
    except Exception as exc:  # the full reason is in the quarantine row; the log only points at it
        return f"<reason withheld from the log: {type(exc).__name__}>"


@dataclass
class _Held:
    message: QueueMessage
    received_mono: float


# ---- the loop -----------------------------------------------------------------------------------------------------


class DrainLoop:
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
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._write = write
        self._prefix = prefix
        self._ingest_time = ingest_time
        self._settings = settings
        self._clock = clock
        self._batch_limit = sqs.batch_limit
        self._handoff: queue.Queue[list[_Held] | None] = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._taken = 0
        self._receive_errors: list[BaseException] = []
        self.report = DrainReport()

    # ---- receiving ----------------------------------------------------------------------------------------------

    def _claim(self) -> int:
        """Reserve up to one batch of the run's budget for one receive call (0 = budget spent)."""
        with self._lock:
            room = min(self._batch_limit, self._settings.max_messages - self._taken)
            if room > 0:
                self._taken += room
            return max(room, 0)

    def _release(self, unused: int) -> None:
        with self._lock:
            self._taken -= unused

    def _receiver(self, deadline: float) -> None:
        try:
            while not self._stop.is_set() and self._clock.monotonic() < deadline:
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
                now = self._clock.monotonic()
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

        deadline = self._clock.monotonic() + self._settings.max_seconds
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
                    item = self._handoff.get(timeout=self._handoff_timeout(held))
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

    def _age(self, held: list[_Held]) -> float:
        """Seconds the oldest held message has waited, on the loop's clock."""
        return self._clock.monotonic() - held[0].received_mono

    def _handoff_timeout(self, held: list[_Held]) -> float:
        """How long to wait for received messages: until the held batch is due, at most ``HANDOFF_POLL_SECONDS``."""
        if not held:
            return HANDOFF_POLL_SECONDS
        return min(HANDOFF_POLL_SECONDS, max(0.0, self._settings.flush_seconds - self._age(held)))

    def _due(self, held: list[_Held]) -> bool:
        if len(held) >= self._settings.flush_messages:
            return True
        return self._age(held) >= self._settings.flush_seconds

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
        size = self._batch_limit
        return [handles[i : i + size] for i in range(0, len(handles), size)]

    def _delete(self, held: list[_Held]) -> None:
        workers = max(1, self._settings.receivers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqs-delete") as pool:
            outcomes = list(pool.map(self._delete_chunk, self._chunks(held)))
        for deleted, failed in outcomes:
            self.report.deleted += deleted
            self.report.delete_failures += failed

    def _delete_chunk(self, handles: list[str]) -> tuple[int, int]:
        """Delete one batch of stored messages; return (deleted, not deleted). Entries that failed are retried,
        except stale receipt handles (the message was redelivered meanwhile), which stay invalid."""
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
        """One DeleteMessageBatch call; a call failing as a whole is retried after a backoff on the loop's clock,
        then raises ``QueueError``."""
        try:
            return self._sqs.delete_batch(self._queue_url, handles)
        except Exception as exc:
            if attempt + 1 >= DELETE_RETRIES:
                raise QueueError(
                    f"DeleteMessageBatch on {self._queue_url} failed {DELETE_RETRIES} times: {type(exc).__name__}: "
                    f"{exc}. Its {len(handles)} message(s) are stored, so they are redelivered and stored again, "
                    "then deduplicated by event_id."
                ) from exc
            self._clock.sleep(DELETE_BACKOFF_SECONDS * 2**attempt)
            return [{"Id": str(i), "Code": type(exc).__name__, "Message": str(exc)} for i in range(len(handles))]

    def _extend_visibility_if_old(self, held: list[_Held]) -> None:
        if self._age(held) < self._settings.visibility_timeout / 2:
            return
        for chunk in self._chunks(held):
            failed = self._sqs.change_visibility_batch(self._queue_url, chunk, self._settings.visibility_timeout)
            self.report.api_calls["visibility"] += 1
            self.report.visibility_extensions += len(chunk) - len(failed)
