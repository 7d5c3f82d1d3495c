"""flyte_lineage: FlyteAdmin execution events (SNS -> SQS) to lineage in DataHub and tables in the Glue Data Catalog.

``drain_events`` stores the queue's events as Parquet batches on S3 (deleting each message only once stored);
``group_executions`` rebuilds the executions completed in the data interval; ``push_datahub``, ``register_glue`` and
``push_openlineage`` (target ``openlineage``, off by default) map over the resulting shards in parallel. Backfill
runs skip the drain and re-derive lineage from stored batches.

Manual runs take params: ``replay_start``/``replay_end`` re-derive a past window from the stored batches (no
drain), ``targets`` overrides the Variable's targets, ``dry_run`` drains nothing and sends nothing (grouping only,
its shards can be inspected on S3). Replays and dry runs leave the grouping state of the scheduled runs untouched.
A manual run without params drains, then groups what was stored since the newest grouping state (never re-emitting
what an earlier run emitted); only a replay emits again.

Wiring only: behaviour comes from the ``flyte_lineage`` Variable (read and validated by each task when it starts),
what a run does from its params and run type (one rule, ``run_params.run_mode``), endpoints and secrets from the
Amazon, DataHub and OpenLineage connections. Nothing heavy is imported here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, DeltaDataIntervalTimetable, Param

from flytelineage.domain.run_params import REPLAY_BOUND_SCHEMA, TARGETS_SCHEMA
from flytelineage.operators.drain_events import DrainEventsOperator
from flytelineage.operators.group_executions import GroupExecutionsOperator
from flytelineage.operators.push_datahub import PushDataHubOperator
from flytelineage.operators.push_openlineage import PushOpenLineageOperator
from flytelineage.operators.register_glue import RegisterGlueOperator

with DAG(
    dag_id="flyte_lineage",
    description="FlyteAdmin events -> S3 batches -> executions -> DataHub and Glue",
    # Contiguous data intervals: a bare timedelta gives point intervals in Airflow 3, so runs would not tile time.
    schedule=DeltaDataIntervalTimetable(timedelta(minutes=10)),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["flyte", "lineage", "datahub", "glue", "openlineage"],
    default_args={
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=20),
    },
    params={
        "replay_start": Param(None, **REPLAY_BOUND_SCHEMA, description="replay from (ISO 8601 with offset)"),
        "replay_end": Param(None, **REPLAY_BOUND_SCHEMA, description="replay until (ISO 8601 with offset)"),
        "targets": Param(None, **TARGETS_SCHEMA, description="override the Variable's targets"),
        "dry_run": Param(False, type="boolean", description="drain nothing, send nothing: group only"),
    },
    doc_md=__doc__,
) as dag:
    drain_events = DrainEventsOperator(task_id="drain_events")
    group_executions = GroupExecutionsOperator(task_id="group_executions", trigger_rule="none_failed")
    push_datahub = PushDataHubOperator.partial(task_id="push_datahub").expand(shard_key=group_executions.output)
    register_glue = RegisterGlueOperator.partial(task_id="register_glue").expand(shard_key=group_executions.output)
    push_openlineage = PushOpenLineageOperator.partial(task_id="push_openlineage").expand(
        shard_key=group_executions.output
    )

    drain_events >> group_executions
