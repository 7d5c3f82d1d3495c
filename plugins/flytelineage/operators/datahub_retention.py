"""``DataHubRetentionOperator``: remove the DataProcessInstances of expired runs (task ``dpi_retention``).

It lists the ``executions/`` shards ``group_executions`` wrote, reads the retention ledger
(``<prefix>/retention/ledger.json``), and for each shard older than ``retention_days`` that the ledger does not mark
done (``flytelineage.domain.dpi_retention``) soft-deletes the shard's instances through ``DataHubEmitterHook`` (a
``status`` aspect with ``removed`` true, accepted by every sink). With ``hard_delete`` and a ``datahub-rest``
connection the same instances are then hard-deleted (every aspect, run events included). The ledger is written
after every shard, so a failed or stopped run resumes where it was; at most ``max_per_run`` instances are removed
per run. Flows, jobs and datasets are never touched. The XCom is a small dict of counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flytelineage.operators.lineage_operator import NOT_GIVEN, LineageOperator, given

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Context

    from flytelineage.domain.dpi_retention import Progress, ShardObject
    from flytelineage.domain.lineage_settings import LineageSettings
    from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook


class DataHubRetentionOperator(LineageOperator):
    """Soft-delete (and optionally hard-delete) the DataProcessInstances of runs older than ``retention_days``.

    Every argument is a setting (``flyte_lineage`` Variable) given explicitly, over the Variable's:
    ``retention_days``, ``max_per_run`` and ``hard_delete`` are ``dpi_retention_days``,
    ``dpi_retention_max_per_run`` and ``dpi_retention_hard_delete``. The task skips when run history is not pushed
    (``datahub`` not in ``targets``, or ``datasets_only``) or ``dpi_retention_days`` is not set
    (``dpi_retention.retention_skip_reason``).

    :param bucket: bucket of the executions shards and of the ledger. :param prefix: their key prefix.
    :param datahub_conn_id: DataHub connection the runs were pushed to (any sink).
    :param env: DataHub fabric the runs were pushed with (the instance urns depend on it).
    :param retention_days: keep runs whose interval ended less than this many days before the run's data interval
        end; None keeps everything and skips the task.
    :param max_per_run: at most this many instances removed per run; the rest follow on the next runs.
    :param hard_delete: also hard-delete the instances when the connection is ``datahub-rest``.
    """

    ui_color = "#fde8e8"

    def __init__(
        self,
        *,
        bucket: str = NOT_GIVEN,
        prefix: str = NOT_GIVEN,
        datahub_conn_id: str = NOT_GIVEN,
        env: str = NOT_GIVEN,
        retention_days: int | None = NOT_GIVEN,
        max_per_run: int = NOT_GIVEN,
        hard_delete: bool = NOT_GIVEN,
        **kwargs: Any,
    ) -> None:
        overrides = given(
            bucket=bucket,
            prefix=prefix,
            datahub_conn_id=datahub_conn_id,
            env=env,
            dpi_retention_days=retention_days,
            dpi_retention_max_per_run=max_per_run,
            dpi_retention_hard_delete=hard_delete,
        )
        super().__init__(overrides=overrides, **kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        """Remove the expired runs' instances within the budget; return the counts."""
        from airflow.sdk.exceptions import AirflowSkipException

        from flytelineage.domain import dpi_retention as plan
        from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
        from flytelineage.operators.fail_fast import failing_fast

        settings = self.lineage_settings()
        reason = plan.retention_skip_reason(settings)
        if reason is not None:
            raise AirflowSkipException(reason)
        assert settings.dpi_retention_days is not None  # retention_skip_reason checked it
        cutoff = plan.retention_cutoff(_as_of(context), settings.dpi_retention_days)
        s3 = self.hook
        listed = self._list_shards(s3, settings.bucket, plan.executions_prefix(settings.prefix))
        ledger_key = plan.ledger_key(settings.prefix)
        with failing_fast(f"read the retention ledger s3://{settings.bucket}/{ledger_key}", conn_id=self.aws_conn_id):
            ledger = plan.pruned(
                plan.ledger_from_bytes(self._get(s3, settings.bucket, ledger_key)), {o.key for o in listed}
            )
        due = plan.due_shards(listed, ledger, cutoff)
        hook = DataHubEmitterHook(datahub_conn_id=settings.datahub_conn_id)
        try:
            counts = self._expire(s3, hook, due, ledger, settings)
        finally:
            hook.close()
        counts.update(cutoff=cutoff.isoformat(), shards_listed=len(listed), shards_due=len(due))
        self.log.info("Run-history retention (runs ended before %s): %s", cutoff.isoformat(), counts)
        return counts

    def _expire(
        self,
        s3: S3Hook,
        hook: DataHubEmitterHook,
        due: list[ShardObject],
        ledger: dict[str, Progress],
        settings: LineageSettings,
    ) -> dict[str, Any]:
        """Handle the due shards in order until the budget is spent, recording progress after each shard."""
        from flytelineage.domain import dpi_retention as plan
        from flytelineage.domain.execution_store import executions_from_jsonl_gz
        from flytelineage.operators.fail_fast import failing_fast

        hard_mode = self._hard_delete_mode(hook, settings)
        hard = hard_mode == "on"
        budget = settings.dpi_retention_max_per_run
        removed = hard_deleted = shards_done = 0
        for shard in due:
            if budget <= 0:
                break
            data, etag = self._read(s3, settings.bucket, shard.key)
            urns = plan.shard_instance_urns(executions_from_jsonl_gz(data), settings.env)
            step = plan.plan_shard(urns, ledger.get(shard.key), etag, budget)
            if step.urns:
                with failing_fast(f"soft-delete run history in DataHub connection {settings.datahub_conn_id!r}"):
                    hook.emit_all(plan.removal_mcps(step.urns))
                if hard:
                    with failing_fast(f"hard-delete run history in DataHub connection {settings.datahub_conn_id!r}"):
                        hard_deleted += hook.hard_delete(step.urns)
            ledger[shard.key] = step.progress
            self._put(s3, settings.bucket, plan.ledger_key(settings.prefix), plan.ledger_to_bytes(ledger))
            removed += len(step.urns)
            budget -= len(step.urns)
            shards_done += int(step.progress.complete)
            self.log.info(
                "%s: removed %d instance(s), %d/%d done",
                shard.key,
                len(step.urns),
                step.progress.done,
                step.progress.total,
            )
        return {
            "hard_delete": hard_mode,
            "instances_soft_deleted": removed,
            "instances_hard_deleted": hard_deleted,
            "shards_completed": shards_done,
            "budget_left": max(0, budget),
        }

    def _hard_delete_mode(self, hook: DataHubEmitterHook, settings: LineageSettings) -> str:
        """``off`` (not asked), ``on``, or ``unsupported`` (asked, but the sink cannot: soft deletes only)."""
        if not settings.dpi_retention_hard_delete:
            return "off"
        if hook.supports_hard_delete():
            return "on"
        self.log.warning(
            "dpi_retention_hard_delete is set but connection %r is not datahub-rest: soft-deleting only.",
            settings.datahub_conn_id,
        )
        return "unsupported"

    # ---- S3 --------------------------------------------------------------------------------------------------------

    def _list_shards(self, s3: S3Hook, bucket: str, prefix: str) -> list[ShardObject]:
        from flytelineage.domain.dpi_retention import ShardObject
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"list s3://{bucket}/{prefix}", conn_id=self.aws_conn_id):
            return [ShardObject(o["Key"], o["ETag"]) for o in s3.iter_file_metadata(prefix, bucket_name=bucket)]

    def _read(self, s3: S3Hook, bucket: str, key: str) -> tuple[bytes, str]:
        """A shard's bytes and the ETag of the version read (recorded in the ledger)."""
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"read executions shard s3://{bucket}/{key}", conn_id=self.aws_conn_id):
            response = s3.get_conn().get_object(Bucket=bucket, Key=key)
            return bytes(response["Body"].read()), str(response["ETag"])

    def _get(self, s3: S3Hook, bucket: str, key: str) -> bytes | None:
        """An object's bytes, or None when it does not exist (no ledger yet)."""
        from botocore.exceptions import ClientError

        try:
            return bytes(s3.get_conn().get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def _put(self, s3: S3Hook, bucket: str, key: str, data: bytes) -> None:
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"write s3://{bucket}/{key}", conn_id=self.aws_conn_id):
            s3.load_bytes(data, key=key, bucket_name=bucket, replace=True)


def _as_of(context: Context) -> datetime:
    """The retention run's time: its data interval end, else (a manual run without one) its ``run_after``."""
    from flytelineage.domain.run_interval import ingest_time

    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None)
    return ingest_time(context.get("data_interval_end"), run_after)
