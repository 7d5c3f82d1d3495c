"""Queue and bucket helpers of the drain tests: send bodies, read back what the drain stored, measure the queue."""

from __future__ import annotations

from typing import Any

from flytelineage.domain.event_table import parquet_bytes_to_table


def send_batches(sqs_client: Any, url: str, bodies: list[str]) -> list[str]:
    """Send ``bodies`` in batches of ten (asserting none is rejected); return their SQS message ids."""
    ids: list[str] = []
    for i in range(0, len(bodies), 10):
        entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        response = sqs_client.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed")
        ids.extend(r["MessageId"] for r in response["Successful"])
    return ids


def stored_tables(s3_client: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """Every Parquet object under ``prefix``, read back as a pyarrow table, by key (in listing order)."""
    tables: dict[str, Any] = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            data = s3_client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            tables[obj["Key"]] = parquet_bytes_to_table(data)
    return tables


def stored_message_ids(s3_client: Any, bucket: str, prefix: str) -> dict[str, list[str]]:
    """The ``message_id`` column of every object under ``prefix`` (events and quarantine rows both have one)."""
    return {
        key: table.column("message_id").to_pylist() for key, table in stored_tables(s3_client, bucket, prefix).items()
    }


def all_message_ids(s3_client: Any, bucket: str, prefix: str) -> set[str]:
    """Distinct message ids held by the objects under ``prefix``."""
    return {m for ids in stored_message_ids(s3_client, bucket, prefix).values() for m in ids}


def stored_rows(s3_client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """The rows of every object under ``prefix`` (e.g. ``fl/events/`` or ``fl/quarantine/``), as dicts."""
    return [row for table in stored_tables(s3_client, bucket, prefix).values() for row in table.to_pylist()]


def queue_depth(sqs_client: Any, url: str) -> int:
    """Visible plus in-flight (not visible) messages."""
    attributes = sqs_client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
