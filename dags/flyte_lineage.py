"""flyte_lineage: FlyteAdmin execution events (SNS -> SQS) to lineage in DataHub and tables in the Glue Data Catalog.

Wiring only: behaviour comes from the ``flyte_lineage`` Variable (rendered when each task starts, through the
``cfg`` macro), endpoints and secrets from the Amazon and DataHub connections. Nothing heavy is imported here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from flytelineage.operators.drain_events import FlyteEventsToS3Operator
from flytelineage.operators.lineage_config import lineage_setting

with DAG(
    dag_id="flyte_lineage",
    description="FlyteAdmin events -> S3 batches -> executions -> DataHub and Glue",
    schedule=timedelta(minutes=10),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["flyte", "lineage", "datahub", "glue"],
    user_defined_macros={"cfg": lineage_setting},
    render_template_as_native_obj=True,
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=20),
    },
    doc_md=__doc__,
) as dag:
    drain_events = FlyteEventsToS3Operator(
        task_id="drain_events",
        sqs_queue="{{ cfg('sqs_queue') }}",
        bucket="{{ cfg('bucket') }}",
        prefix="{{ cfg('prefix') }}",
        aws_conn_id="{{ cfg('aws_conn_id') }}",
        max_messages="{{ cfg('max_messages') }}",
        max_seconds="{{ cfg('max_seconds') }}",
        receivers="{{ cfg('receivers') }}",
        wait_seconds="{{ cfg('wait_seconds') }}",
        visibility_timeout="{{ cfg('visibility_timeout') }}",
        flush_messages="{{ cfg('flush_messages') }}",
        flush_seconds="{{ cfg('flush_seconds') }}",
        raw_format="{{ cfg('raw_format') }}",
    )
