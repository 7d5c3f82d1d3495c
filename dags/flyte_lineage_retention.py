"""flyte_lineage_retention: expire old run history (DataProcessInstances) from DataHub, once a day.

DataHub never deletes DataProcessInstances by itself. ``dpi_retention`` reads the ``executions/`` shards the
``flyte_lineage`` DAG wrote whose interval ended more than ``dpi_retention_days`` before this run, and soft-deletes
their instances through the DataHub connection (any sink: REST, Kafka, file, Lite); with
``dpi_retention_hard_delete`` and a ``datahub-rest`` connection it also hard-deletes them. At most
``dpi_retention_max_per_run`` instances per run; a ledger on S3 makes re-runs remove nothing more and lets the next
run continue where a bounded or failed one stopped. Flows, jobs and datasets are never deleted. Without
``dpi_retention_days`` the task skips: everything is kept.

A separate DAG (not a task of ``flyte_lineage``) so that its daily cadence, its own run history and a long
first clean-up never delay the 10-minute lineage runs. Wiring only; nothing heavy is imported here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, CronTriggerTimetable

from flytelineage.operators.datahub_retention import DataHubRetentionOperator

with DAG(
    dag_id="flyte_lineage_retention",
    description="Expire DataHub run history (DataProcessInstances) older than dpi_retention_days",
    schedule=CronTriggerTimetable("30 3 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["flyte", "lineage", "datahub", "retention"],
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
        "execution_timeout": timedelta(hours=1),
    },
    doc_md=__doc__,
) as dag:
    dpi_retention = DataHubRetentionOperator(task_id="dpi_retention")
