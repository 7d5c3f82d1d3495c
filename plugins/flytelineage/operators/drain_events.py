"""``FlyteEventsToS3Operator``: drain FlyteAdmin events from SQS into Parquet batches on S3 (the ``drain_events`` task).

Messages are deleted only after the Parquet object holding them (or their quarantine row) is written. The objects
land under ``<prefix>/events/`` and ``<prefix>/quarantine/`` in hive partitions of the run's ingest time (its data
interval end), with keys that a retry of the same run reproduces. The returned XCom is a small dict of counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from flytelineage.operators.shard_io import as_bool

if TYPE_CHECKING:
    from airflow.sdk import Context


def ingest_time_of(context: Context) -> datetime:
    """The run's ingest time: its data interval end, else (manual runs without an interval) its ``run_after``."""
    end = context.get("data_interval_end")
    if end is not None:
        return end
    dag_run = context["dag_run"]
    run_after = getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None)
    if run_after is None:
        raise ValueError("the DAG run has neither a data interval end nor run_after")
    return run_after  # type: ignore[no-any-return]


def is_backfill(context: Context) -> bool:
    """True for a run that ``airflow backfill create`` made."""
    return str(getattr(context.get("dag_run"), "run_type", "") or "").lower().endswith("backfill")


class FlyteEventsToS3Operator(BaseOperator):
    """Drain an SQS queue of FlyteAdmin events into Parquet batches on S3, deleting each message once stored.

    :param sqs_queue: queue name or URL.
    :param bucket: bucket of the stored batches.
    :param prefix: key prefix of the stored batches.
    :param aws_conn_id: Amazon connection (endpoint from its ``endpoint_url`` extra or ``AWS_ENDPOINT_URL``).
    :param max_messages: stop after receiving this many messages.
    :param max_seconds: stop receiving after this many seconds.
    :param receivers: concurrent ReceiveMessage loops.
    :param wait_seconds: long-polling wait of each ReceiveMessage (an empty receive ends a receiver).
    :param visibility_timeout: visibility timeout requested on receive, extended for batches held for long.
    :param flush_messages: messages per Parquet object.
    :param flush_seconds: flush a batch once its oldest message waited this long.
    :param raw_format: what a raw-delivery body holds (``cloudevents`` or ``external:<workflow|node|task>``);
        None when the subscription delivers SNS envelopes (recommended).
    :param enabled: False skips the task (replays and dry runs read only what is stored).
    """

    template_fields = (
        "sqs_queue",
        "bucket",
        "prefix",
        "aws_conn_id",
        "max_messages",
        "max_seconds",
        "receivers",
        "wait_seconds",
        "visibility_timeout",
        "flush_messages",
        "flush_seconds",
        "raw_format",
        "enabled",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        sqs_queue: str,
        bucket: str,
        prefix: str = "flyte-lineage",
        aws_conn_id: str | None = "aws_default",
        max_messages: int = 100_000,
        max_seconds: float = 240.0,
        receivers: int = 4,
        wait_seconds: int = 1,
        visibility_timeout: int = 300,
        flush_messages: int = 5_000,
        flush_seconds: float = 60.0,
        raw_format: str | None = None,
        enabled: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sqs_queue = sqs_queue
        self.bucket = bucket
        self.prefix = prefix
        self.aws_conn_id = aws_conn_id
        self.max_messages = max_messages
        self.max_seconds = max_seconds
        self.receivers = receivers
        self.wait_seconds = wait_seconds
        self.visibility_timeout = visibility_timeout
        self.flush_messages = flush_messages
        self.flush_seconds = flush_seconds
        self.raw_format = raw_format
        self.enabled = enabled

    def execute(self, context: Context) -> dict[str, Any]:
        """Run the drain for this run's ingest time and return its counts."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.sdk.exceptions import AirflowSkipException

        from flytelineage.hooks.sqs_batch_hook import SqsBatchHook
        from flytelineage.operators.event_drain import DrainSettings, EventDrain
        from flytelineage.operators.fail_fast import failing_fast

        if not as_bool(self.enabled):
            raise AirflowSkipException("Drain switched off for this run (replay or dry run).")
        if is_backfill(context):
            raise AirflowSkipException("Backfill run: lineage is re-derived from the stored batches; no drain.")
        settings = DrainSettings(
            max_messages=int(self.max_messages),
            max_seconds=float(self.max_seconds),
            receivers=int(self.receivers),
            wait_seconds=int(self.wait_seconds),
            visibility_timeout=int(self.visibility_timeout),
            flush_messages=int(self.flush_messages),
            flush_seconds=float(self.flush_seconds),
            raw_format=self.raw_format or None,
        )
        sqs = SqsBatchHook(aws_conn_id=self.aws_conn_id)
        s3 = S3Hook(aws_conn_id=self.aws_conn_id)
        with failing_fast(f"find SQS queue {self.sqs_queue!r}", conn_id=self.aws_conn_id):
            queue_url = sqs.queue_url(self.sqs_queue)

        def write(key: str, data: bytes) -> None:
            with failing_fast(f"write s3://{self.bucket}/{key}", conn_id=self.aws_conn_id):
                s3.load_bytes(data, key=key, bucket_name=self.bucket, replace=True)

        ingest_time = ingest_time_of(context)
        self.log.info("Draining %s into s3://%s/%s at ingest time %s", queue_url, self.bucket, self.prefix, ingest_time)
        drain = EventDrain(sqs, queue_url, write, prefix=self.prefix, ingest_time=ingest_time, settings=settings)
        with failing_fast(f"drain SQS queue {queue_url}", conn_id=self.aws_conn_id):
            report = drain.run()
        summary = report.as_dict()
        self.log.info(
            "Drained %d messages: %d events, %d quarantined, %d deleted, %d delete failures; API calls %s",
            report.received,
            report.events,
            report.quarantined,
            report.deleted,
            report.delete_failures,
            summary["api_calls"],
        )
        return summary
