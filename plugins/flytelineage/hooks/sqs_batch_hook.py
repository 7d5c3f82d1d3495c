"""A thin SQS hook for draining a queue in batches: receive, delete and extend visibility, 10 entries per call.

It extends the Amazon provider's ``SqsHook`` (so it honours the ``aws_default``-style connection, its
``endpoint_url`` extra and the standard ``AWS_ENDPOINT_URL`` variables) and knows nothing about what the messages
contain. Batch calls report per-entry failures; this hook returns them instead of raising, so the caller decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.sqs import SqsHook

SQS_BATCH_LIMIT = 10
"""The most entries one ReceiveMessage, DeleteMessageBatch or ChangeMessageVisibilityBatch call accepts."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One received message: its id, body, receipt handle, and SentTimestamp as a UTC datetime."""

    message_id: str
    body: str
    receipt_handle: str
    sent_at: datetime | None


class SqsBatchHook(SqsHook):
    """Receive, delete and change visibility of SQS messages in batches of at most ten."""

    batch_limit = SQS_BATCH_LIMIT

    def queue_url(self, queue: str) -> str:
        """Resolve a queue name to its URL; a value that already is a URL is returned unchanged."""
        if queue.startswith(("https://", "http://")):
            return queue
        return str(self.get_conn().get_queue_url(QueueName=queue)["QueueUrl"])

    def receive(
        self, queue_url: str, *, max_messages: int = SQS_BATCH_LIMIT, wait_seconds: int = 1, visibility_timeout: int
    ) -> list[ReceivedMessage]:
        """One ReceiveMessage call with long polling; returns the messages received (possibly none)."""
        response = self.get_conn().receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(max_messages, SQS_BATCH_LIMIT),
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        return [_received(m) for m in response.get("Messages", [])]

    def delete_batch(self, queue_url: str, receipt_handles: Sequence[str]) -> list[dict[str, Any]]:
        """Delete up to ten messages in one call; return the failed entries (``Id`` is the index as a string)."""
        entries = _entries(receipt_handles)
        response = self.get_conn().delete_message_batch(QueueUrl=queue_url, Entries=entries)
        return list(response.get("Failed", []))

    def change_visibility_batch(
        self, queue_url: str, receipt_handles: Sequence[str], visibility_timeout: int
    ) -> list[dict[str, Any]]:
        """Set the visibility timeout of up to ten in-flight messages; return the failed entries."""
        entries = [{**e, "VisibilityTimeout": visibility_timeout} for e in _entries(receipt_handles)]
        response = self.get_conn().change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        return list(response.get("Failed", []))


def _entries(receipt_handles: Sequence[str]) -> list[dict[str, Any]]:
    if not 0 < len(receipt_handles) <= SQS_BATCH_LIMIT:
        raise ValueError(f"an SQS batch call takes 1 to {SQS_BATCH_LIMIT} entries, not {len(receipt_handles)}")
    return [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(receipt_handles)]


def _received(message: dict[str, Any]) -> ReceivedMessage:
    sent = message.get("Attributes", {}).get("SentTimestamp")
    return ReceivedMessage(
        message_id=message["MessageId"],
        body=message.get("Body", ""),
        receipt_handle=message["ReceiptHandle"],
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
    )
