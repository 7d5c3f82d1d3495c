"""``DrainEventsOperator``: drain FlyteAdmin events from SQS into Parquet batches on S3 (the ``drain_events`` task).

Messages are deleted only after the Parquet object holding them (or their quarantine row) is written. The objects
land under ``<prefix>/events/`` and ``<prefix>/quarantine/`` in hive partitions of the run's ingest time
(``domain.run_interval.ingest_time``: its data interval end), with keys that a retry of the same run reproduces. The
loop itself is ``flytelineage.engine.drain_loop`` (no Airflow); this operator reads the settings, decides from the
run's mode whether to drain at all, and gives the loop the Amazon provider's hooks. The returned XCom is a small
dict of counts. ``FlyteEventsToS3Operator`` is the class's former name, kept as an alias.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from flytelineage.hooks.sqs_batch_hook import SqsBatchHook
from flytelineage.operators.lineage_operator import NOT_GIVEN, LineageOperator, given

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Context


class DrainEventsOperator(LineageOperator):
    """Drain an SQS queue of FlyteAdmin events into Parquet batches on S3, deleting each message once stored.

    Every argument but ``task_id`` is optional: each is the settings key of the same name (README configuration
    reference), given here over the ``flyte_lineage`` Variable. The drain is skipped in replays, backfills and dry
    runs (``RunMode.skip_reason("drain")``): those read only what is stored.

    :param sqs_queue: queue name or URL.
    :param bucket: bucket of the stored batches.
    :param prefix: key prefix of the stored batches.
    :param max_messages: stop after receiving this many messages.
    :param max_seconds: stop receiving after this many seconds.
    :param receivers: concurrent ReceiveMessage loops.
    :param wait_seconds: long-polling wait of each ReceiveMessage (an empty receive ends a receiver).
    :param visibility_timeout: visibility timeout requested on receive, extended for batches held for long.
    :param flush_messages: messages per Parquet object.
    :param flush_seconds: flush a batch once its oldest message waited this long.
    :param raw_format: what a raw-delivery body holds (``cloudevents`` or ``external:<workflow|node|task>``);
        None when the subscription delivers SNS envelopes (recommended).
    """

    aws_hook_class = SqsBatchHook  # type: ignore[assignment]
    required_settings: ClassVar[tuple[str, ...]] = ("sqs_queue", "bucket")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        sqs_queue: str = NOT_GIVEN,
        bucket: str = NOT_GIVEN,
        prefix: str = NOT_GIVEN,
        max_messages: int = NOT_GIVEN,
        max_seconds: int = NOT_GIVEN,
        receivers: int = NOT_GIVEN,
        wait_seconds: int = NOT_GIVEN,
        visibility_timeout: int = NOT_GIVEN,
        flush_messages: int = NOT_GIVEN,
        flush_seconds: int = NOT_GIVEN,
        raw_format: str | None = NOT_GIVEN,
        **kwargs: Any,
    ) -> None:
        overrides = given(
            sqs_queue=sqs_queue,
            bucket=bucket,
            prefix=prefix,
            max_messages=max_messages,
            max_seconds=max_seconds,
            receivers=receivers,
            wait_seconds=wait_seconds,
            visibility_timeout=visibility_timeout,
            flush_messages=flush_messages,
            flush_seconds=flush_seconds,
            raw_format=raw_format,
        )
        super().__init__(overrides=overrides, **kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        """Run the drain for this run's ingest time and return its counts."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow.sdk.exceptions import AirflowSkipException

        from flytelineage.engine.drain_loop import DrainLoop, DrainSettings
        from flytelineage.operators.fail_fast import failing_fast

        settings = self.lineage_settings()
        skip = self.run_mode(context, settings).skip_reason("drain")
        if skip:
            raise AirflowSkipException(skip)
        drain_settings = DrainSettings.from_settings(settings)
        bucket, prefix = settings.bucket, settings.prefix
        sqs = cast(SqsBatchHook, self.hook)
        s3 = S3Hook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify, config=self.botocore_config
        )
        with failing_fast(f"find SQS queue {settings.sqs_queue!r}", conn_id=self.aws_conn_id):
            queue_url = sqs.queue_url(settings.sqs_queue)

        def write(key: str, data: bytes) -> None:
            with failing_fast(f"write s3://{bucket}/{key}", conn_id=self.aws_conn_id):
                s3.load_bytes(data, key=key, bucket_name=bucket, replace=True)

        ingest_time = self._ingest_time(context)
        self.log.info("Draining %s into s3://%s/%s at ingest time %s", queue_url, bucket, prefix, ingest_time)
        drain = DrainLoop(sqs, queue_url, write, prefix=prefix, ingest_time=ingest_time, settings=drain_settings)
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

    @staticmethod
    def _ingest_time(context: Context) -> datetime:
        """The run's ingest time (``run_interval.ingest_time``) from the context: its data interval end, else its
        ``run_after`` (the logical date on runs that have no ``run_after``)."""
        from flytelineage.domain.run_interval import ingest_time

        dag_run = context.get("dag_run")
        run_after = getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None)
        return ingest_time(context.get("data_interval_end"), run_after)


FlyteEventsToS3Operator = DrainEventsOperator
"""The former name of ``DrainEventsOperator`` (DAGs written against it keep working)."""
