"""``RegisterGlueOperator``: register the datasets of one ``executions/`` shard as Glue tables (``register_glue``).

It reads the shard from S3, plans one table per dataset produced by successful, non-cached task nodes
(``flytelineage.domain.glue_tables``), makes sure the databases exist and upserts every table. A table that already
matches is not written, so a retry or a backfill of the same interval changes nothing. Datasets Glue cannot describe
are logged with the reason. The returned XCom is a small dict of counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from flytelineage.operators.shard_io import as_bool, shard_executions

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.domain.glue_tables import GluePlan


class RegisterGlueOperator(BaseOperator):
    """Create or update Glue Data Catalog tables for the datasets in one shard of resolved executions.

    :param shard_key: S3 key of the gzip JSON Lines shard written by ``group_executions``; empty skips the task.
    :param bucket: bucket holding the shard.
    :param aws_conn_id: Amazon connection used for S3 and Glue.
    :param glue_database: put every table in this database instead of ``flyte_<project>_<domain>``.
    :param glue_versioning: keep the previous table definition as a Glue table version on each change.
    :param glue_max_versions: with versioning, keep at most this many versions per table (oldest deleted first).
    """

    template_fields = (
        "shard_key",
        "bucket",
        "aws_conn_id",
        "glue_database",
        "glue_versioning",
        "glue_max_versions",
        "enabled",
    )
    ui_color = "#f3e8fd"

    def __init__(
        self,
        *,
        shard_key: str,
        bucket: str,
        aws_conn_id: str | None = "aws_default",
        glue_database: str | None = None,
        glue_versioning: bool = False,
        glue_max_versions: int | None = None,
        enabled: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shard_key = shard_key
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id
        self.glue_database = glue_database
        self.glue_versioning = glue_versioning
        self.glue_max_versions = glue_max_versions
        self.enabled = enabled

    def execute(self, context: Context) -> dict[str, int]:
        """Register the shard's tables and return counts: created, updated, unchanged, skipped, databases."""
        from flytelineage.domain.glue_tables import plan_glue_tables
        from flytelineage.operators.fail_fast import failing_fast

        executions = shard_executions(
            enabled=self.enabled,
            shard_key=self.shard_key,
            aws_conn_id=self.aws_conn_id,
            bucket=self.bucket,
            target="glue",
            action="register in Glue",
        )
        plan = plan_glue_tables(executions, database_override=self.glue_database or None)
        for skipped in plan.skipped:
            self.log.warning(
                "No Glue table for %s (execution %s): %s", skipped.dataset_key, skipped.execution, skipped.reason
            )
        with failing_fast(f"register the Glue tables of shard {self.shard_key}", conn_id=self.aws_conn_id):
            counts = self._register(plan)
        self.log.info("Glue registration of %d execution(s) from %s: %s", len(executions), self.shard_key, counts)
        return counts

    def _register(self, plan: GluePlan) -> dict[str, int]:
        from flytelineage.domain.glue_tables import DATABASE_DESCRIPTION
        from flytelineage.hooks.glue_catalog_hook import GlueTablesHook

        hook = GlueTablesHook(aws_conn_id=self.aws_conn_id)
        versioning, max_versions = as_bool(self.glue_versioning), _as_optional_int(self.glue_max_versions)
        counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": len(plan.skipped)}
        for database in plan.databases:
            hook.ensure_database(database, DATABASE_DESCRIPTION)
        for table in plan.tables:
            result = hook.upsert_table(
                table.database, table.table_input, versioning=versioning, max_versions=max_versions
            )
            counts[result] += 1
        return {**counts, "databases": len(plan.databases)}


def _as_optional_int(value: object) -> int | None:
    """A templated optional count: None, empty or ``None`` mean unset."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None", "null")):
        return None
    return int(str(value))
