"""``PushDataHubOperator``: send the lineage of one ``executions/`` shard to DataHub (task ``push_datahub``).

It reads the shard from S3, builds the DataHub proposals of every execution (``flytelineage.domain.datahub_mcps``)
and emits them through ``DataHubEmitterHook``, after the ``dataPlatformInfo`` of the Flyte platform (once per run) and
followed by each execution's ownership PATCH proposals (``datahub_ownership``: add the launching user, never replace).
Proposals are per-aspect upserts with timestamps from the events, so a retry or a backfill of the same interval
rewrites the same metadata. Any proposal the target rejects fails the task
after the whole batch was attempted. The returned XCom is a small dict of counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from flytelineage.operators.shard_io import as_bool, as_str_list, shard_executions

if TYPE_CHECKING:
    from airflow.sdk import Context


class PushDataHubOperator(BaseOperator):
    """Emit DataFlow, DataJob, Dataset and DataProcessInstance metadata for one shard of resolved executions.

    :param shard_key: S3 key of the gzip JSON Lines shard written by ``group_executions``; empty skips the task.
    :param bucket: bucket holding the shard.
    :param aws_conn_id: Amazon connection used to read the shard.
    :param datahub_conn_id: DataHub connection (``datahub-rest``, ``-kafka``, ``-file`` or ``-lite``); when it does
        not exist, DataHub Lite at ``$AIRFLOW_HOME/datahub/lite.db``.
    :param env: DataHub fabric of the dataset urns; its lowercase is the DataFlow cluster.
    :param datasets_only: emit only dataset aspects (no flows, jobs or run history).
    :param flyte_console_url: base URL of the Flyte console, to link each run to its execution or node page.
    :param service_principals: principals that are machines (never owners), see ``datahub_ownership``.
    :param platform_display_name: display name of ``urn:li:dataPlatform:flyte``.
    :param platform_type: its DataHub ``PlatformType``. :param platform_delimiter: its dataset name delimiter.
    :param platform_logo_url: its logo (none: DataHub's generic icon).
    """

    template_fields = (
        "shard_key",
        "bucket",
        "aws_conn_id",
        "datahub_conn_id",
        "env",
        "datasets_only",
        "flyte_console_url",
        "service_principals",
        "platform_display_name",
        "platform_type",
        "platform_delimiter",
        "platform_logo_url",
        "enabled",
    )
    ui_color = "#e8f0fd"

    def __init__(
        self,
        *,
        shard_key: str,
        bucket: str,
        aws_conn_id: str | None = "aws_default",
        datahub_conn_id: str = "datahub_default",
        env: str = "PROD",
        datasets_only: bool = False,
        flyte_console_url: str | None = None,
        service_principals: list[str] | tuple[str, ...] = ("flytepropeller",),
        platform_display_name: str = "Flyte",
        platform_type: str = "OTHERS",
        platform_delimiter: str = ".",
        platform_logo_url: str | None = None,
        enabled: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shard_key = shard_key
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id
        self.datahub_conn_id = datahub_conn_id
        self.env = env
        self.datasets_only = datasets_only
        self.flyte_console_url = flyte_console_url
        self.service_principals = service_principals
        self.platform_display_name = platform_display_name
        self.platform_type = platform_type
        self.platform_delimiter = platform_delimiter
        self.platform_logo_url = platform_logo_url
        self.enabled = enabled

    def execute(self, context: Context) -> dict[str, int]:
        """Emit the shard's lineage; return counts of executions, proposals and distinct entities."""
        from flytelineage.domain.datahub_mcps import build_mcps
        from flytelineage.domain.datahub_ownership import ownership_patches
        from flytelineage.domain.datahub_push import prepare_push
        from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
        from flytelineage.operators.fail_fast import failing_fast

        executions = shard_executions(
            enabled=self.enabled,
            shard_key=self.shard_key,
            aws_conn_id=self.aws_conn_id,
            bucket=self.bucket,
            target="datahub",
            action="push to DataHub",
        )
        datasets_only = as_bool(self.datasets_only)
        mcps: list[Any] = [] if datasets_only else [self._platform_info()]
        for execution in executions:
            built = build_mcps(
                execution,
                env=self.env or "PROD",
                datasets_only=datasets_only,
                flyte_console_url=self.flyte_console_url or None,
            )
            mcps.extend(built)
            mcps.extend(ownership_patches(execution, built, as_str_list(self.service_principals)))
        prepared = prepare_push(mcps)
        hook = DataHubEmitterHook(datahub_conn_id=self.datahub_conn_id)
        try:
            with failing_fast(f"push to the DataHub connection {self.datahub_conn_id!r}"):
                report = hook.emit_all(prepared.proposals)
        finally:
            hook.close()
        counts = {
            "executions": len(executions),
            "mcps": report.proposals,
            "entities": len({mcp.entityUrn for mcp in mcps}),
            "built": prepared.built,
            "duplicates": prepared.duplicates,
        }
        self.log.info("Pushed %s from %s to %s", counts, self.shard_key, report.target)
        return counts

    def _platform_info(self) -> Any:
        from flytelineage.domain.datahub_platform import platform_info_mcp

        return platform_info_mcp(
            display_name=self.platform_display_name or "Flyte",
            platform_type=self.platform_type or "OTHERS",
            delimiter=self.platform_delimiter or ".",
            logo_url=self.platform_logo_url or None,
        )
