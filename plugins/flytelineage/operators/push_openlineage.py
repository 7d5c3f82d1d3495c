"""``PushOpenLineageOperator``: send the lineage of one ``executions/`` shard as OpenLineage run events.

It reads the shard (``ShardTargetOperator``), builds the START and terminal events of every workflow run and node
attempt (``flytelineage.domain.openlineage_events``) and emits them through ``OpenLineageHook`` (Marquez or any
OpenLineage HTTP backend, Amazon SageMaker Catalog / DataZone, or a JSON Lines file). Run ids and event contents
depend only on the shard, so a retry, a replay or a backfill re-sends identical events. When the run's targets
include Glue (or with ``glue_symlinks``) the datasets the Glue target registers link to their Glue tables (catalog
region and account from the Amazon connection). An event over the backend's size limit is shrunk by dropping its
largest optional facets, and the log says which. Any event the backend rejects fails the task after the whole shard
was tried. The returned XCom is a small dict of counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flytelineage.operators.lineage_operator import NOT_GIVEN, given
from flytelineage.operators.shard_target import ShardTargetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from openlineage.client.event_v2 import RunEvent

    from flytelineage.domain.lineage_model import Execution
    from flytelineage.domain.lineage_settings import LineageSettings
    from flytelineage.domain.openlineage_events import GlueSymlinks
    from flytelineage.domain.run_params import RunMode


class PushOpenLineageOperator(ShardTargetOperator):
    """Emit OpenLineage run events for one shard of resolved executions.

    Every argument but ``shard_key`` and ``glue_symlinks`` is a setting of the same name (``flyte_lineage``
    Variable) given explicitly, over the Variable's. The Amazon connection (``aws_conn_id``, ``region_name``,
    ``verify``, ``botocore_config``) reads the shard, locates the Glue catalog and (unless the OpenLineage
    connection names another) calls DataZone.

    :param shard_key: S3 key of the gzip JSON Lines shard written by ``group_executions``; empty skips the task.
    :param bucket: bucket holding the shard.
    :param openlineage_conn_id: OpenLineage connection (``openlineage-http``, ``amazon-datazone`` or
        ``openlineage-file``); when it does not exist, the file ``$AIRFLOW_HOME/openlineage/events.jsonl``.
    :param env: the cluster of the job namespace ``flyte://<env lowercased>`` (DataHub's fabric).
    :param glue_symlinks: link datasets to the Glue tables ``register_glue`` registers; None (the default): when
        the Glue target runs in this run (``RunMode.sends("glue")``).
    :param glue_database: the ``glue_database`` override the Glue target uses, so the links name the same tables.
    """

    target = "openlineage"
    action = "send to OpenLineage"
    template_fields: Sequence[str] = (*ShardTargetOperator.template_fields, "glue_symlinks")
    ui_color = "#e8fdf0"

    def __init__(
        self,
        *,
        bucket: str = NOT_GIVEN,
        openlineage_conn_id: str = NOT_GIVEN,
        env: str = NOT_GIVEN,
        glue_symlinks: bool | None = None,
        glue_database: str | None = NOT_GIVEN,
        **kwargs: Any,
    ) -> None:
        overrides = given(bucket=bucket, openlineage_conn_id=openlineage_conn_id, env=env, glue_database=glue_database)
        super().__init__(overrides=overrides, **kwargs)
        self.glue_symlinks = glue_symlinks

    def send(
        self, executions: list[Execution], settings: LineageSettings, mode: RunMode, context: Context
    ) -> dict[str, int]:
        """Emit the shard's events; return counts of executions, events, runs and shrunk events."""
        from flytelineage.domain.openlineage_events import build_shard_events
        from flytelineage.hooks.openlineage_hook import OpenLineageHook

        links = mode.sends("glue") if self.glue_symlinks is None else self.glue_symlinks
        glue = self._glue_symlinks(executions, settings) if links else None
        events = build_shard_events(executions, env=settings.env, glue=glue)
        hook = OpenLineageHook(openlineage_conn_id=settings.openlineage_conn_id, aws_conn_id=self.aws_conn_id)
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

    def _glue_symlinks(self, executions: list[Execution], settings: LineageSettings) -> GlueSymlinks:
        """The Glue plan of the shard, in the catalog (region, account) of the Amazon connection."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from flytelineage.domain.openlineage_events import glue_symlinks

        sts = AwsBaseHook(client_type="sts", **self._hook_parameters).get_conn()
        account = sts.get_caller_identity()["Account"]
        return glue_symlinks(
            executions,
            region=sts.meta.region_name,
            account_id=account,
            database_override=settings.glue_database or None,
            read_buckets=settings.read_buckets,
        )
