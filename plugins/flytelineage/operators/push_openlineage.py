"""``PushOpenLineageOperator``: send the lineage of one ``executions/`` shard as OpenLineage run events.

It reads the shard from S3, builds the START and terminal events of every workflow run and node attempt
(``flytelineage.domain.openlineage_events``) and emits them through ``OpenLineageHook`` (Marquez or any OpenLineage
HTTP backend, Amazon SageMaker Catalog / DataZone, or a JSON Lines file). Run ids and event contents depend only on
the shard, so a retry, a replay or a backfill re-sends identical events. With ``glue_symlinks`` the datasets the Glue
target registers link to their Glue tables (catalog region and account from the Amazon connection). An event over
the backend's size limit is shrunk by dropping its largest optional facets, and the log says which. Any event the
backend rejects fails the task after the whole shard was tried. The returned XCom is a small dict of counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from flytelineage.operators.shard_io import as_bool, shard_executions

if TYPE_CHECKING:
    from airflow.sdk import Context
    from openlineage.client.event_v2 import RunEvent

    from flytelineage.domain.lineage_model import Execution
    from flytelineage.domain.openlineage_events import GlueSymlinks


class PushOpenLineageOperator(BaseOperator):
    """Emit OpenLineage run events for one shard of resolved executions.

    :param shard_key: S3 key of the gzip JSON Lines shard written by ``group_executions``; empty skips the task.
    :param bucket: bucket holding the shard.
    :param aws_conn_id: Amazon connection used to read the shard, to locate the Glue catalog and (unless the
        OpenLineage connection names another) to call DataZone.
    :param openlineage_conn_id: OpenLineage connection (``openlineage-http``, ``amazon-datazone`` or
        ``openlineage-file``); when it does not exist, the file ``$AIRFLOW_HOME/openlineage/events.jsonl``.
    :param env: the cluster of the job namespace ``flyte://<env lowercased>`` (DataHub's fabric).
    :param glue_symlinks: link datasets to the Glue tables ``register_glue`` registers (true when that target runs).
    :param glue_database: the ``glue_database`` override the Glue target uses, so the links name the same tables.
    """

    template_fields = (
        "shard_key",
        "bucket",
        "aws_conn_id",
        "openlineage_conn_id",
        "env",
        "glue_symlinks",
        "glue_database",
        "enabled",
    )
    ui_color = "#e8fdf0"

    def __init__(
        self,
        *,
        shard_key: str,
        bucket: str,
        aws_conn_id: str | None = "aws_default",
        openlineage_conn_id: str = "openlineage_default",
        env: str = "PROD",
        glue_symlinks: bool = False,
        glue_database: str | None = None,
        enabled: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shard_key = shard_key
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id
        self.openlineage_conn_id = openlineage_conn_id
        self.env = env
        self.glue_symlinks = glue_symlinks
        self.glue_database = glue_database
        self.enabled = enabled

    def execute(self, context: Context) -> dict[str, int]:
        """Emit the shard's events; return counts of executions, events, runs and shrunk events."""
        from flytelineage.domain.openlineage_events import build_shard_events
        from flytelineage.hooks.openlineage_hook import OpenLineageHook

        executions = shard_executions(
            enabled=self.enabled,
            shard_key=self.shard_key,
            aws_conn_id=self.aws_conn_id,
            bucket=self.bucket,
            target="openlineage",
            action="send to OpenLineage",
        )
        glue = self._glue_symlinks(executions) if as_bool(self.glue_symlinks) else None
        events = build_shard_events(executions, env=self.env or "PROD", glue=glue)
        hook = OpenLineageHook(openlineage_conn_id=self.openlineage_conn_id, aws_conn_id=self.aws_conn_id)
        try:
            events, shrunk = self._fit(events, hook.max_event_bytes)
            report = hook.emit_all(events)
        finally:
            hook.close()
        counts = {
            "executions": len(executions),
            "events": report.events,
            "runs": len({e.run.runId for e in events}),
            "shrunk": shrunk,
            "unchanged": report.unchanged,
        }
        self.log.info("Sent %s from %s to %s", counts, self.shard_key, report.target)
        return counts

    def _fit(self, events: list[RunEvent], max_bytes: int | None) -> tuple[list[RunEvent], int]:
        """The events within the backend's limit; every shrunk event is logged with the facets it lost."""
        from flytelineage.domain.openlineage_events import fit_event

        if max_bytes is None:
            return events, 0
        fitted, shrunk = [], 0
        for event in events:
            small, dropped = fit_event(event, max_bytes)
            if dropped:
                shrunk += 1
                self.log.warning(
                    "OpenLineage %s event of run %s (job %s) was over %d bytes; dropped %s",
                    event.eventType.value if event.eventType else "?",
                    event.run.runId,
                    event.job.name,
                    max_bytes,
                    ", ".join(dropped),
                )
            fitted.append(small)
        return fitted, shrunk

    def _glue_symlinks(self, executions: list[Execution]) -> GlueSymlinks:
        """The Glue plan of the shard, in the catalog (region, account) of the Amazon connection."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from flytelineage.domain.openlineage_events import glue_symlinks

        sts = AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="sts").get_conn()
        account = sts.get_caller_identity()["Account"]
        return glue_symlinks(
            executions,
            region=sts.meta.region_name,
            account_id=account,
            database_override=self.glue_database or None,
        )
