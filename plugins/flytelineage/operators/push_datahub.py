"""``PushDataHubOperator``: send the lineage of one ``executions/`` shard to DataHub (task ``push_datahub``).

It reads the shard (``ShardTargetOperator``), builds the DataHub proposals of every execution
(``flytelineage.domain.datahub_mcps``) and emits them through ``DataHubEmitterHook``, after the ``dataPlatformInfo``
of the Flyte platform (once per run) and followed by each execution's ownership PATCH proposals
(``datahub_ownership``: add the launching user, never replace). Proposals are per-aspect upserts with timestamps
from the events, so a retry or a backfill of the same interval rewrites the same metadata. Any proposal the target
rejects fails the task after the whole batch was attempted. The returned XCom is a small dict of counts.

Before sending, ``datahub_push.prepare_push`` drops repeats within the push and the static aspects (flow and job
info, dataset properties and schemas, statuses, browse paths) whose digest the state object
``<prefix>/state/datahub-digests/<conn id>.json.gz`` says were sent unchanged within ``digest_ttl_hours``; run events
and DataProcessInstance aspects are always sent. The state is updated after a successful push with a conditional
write (S3 ``If-Match``), merged again when a parallel mapped task wrote it first. Replays and backfill runs
(``RunMode.full_resend``) send everything and record it; ``digest_ttl_hours=0`` turns skipping off. The TTL is
wall-clock time since the aspect was sent, so an entity deleted in DataHub is sent again within one TTL.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from flytelineage.operators.lineage_operator import NOT_GIVEN, given
from flytelineage.operators.shard_target import ShardTargetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.domain.datahub_push import DigestEntries
    from flytelineage.domain.lineage_model import Execution
    from flytelineage.domain.lineage_settings import LineageSettings
    from flytelineage.domain.run_params import RunMode
    from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook

log = logging.getLogger(__name__)

STATE_WRITE_ATTEMPTS = 5


class PushDataHubOperator(ShardTargetOperator):
    """Emit DataFlow, DataJob, Dataset and DataProcessInstance metadata for one shard of resolved executions.

    Every argument but ``shard_key`` is a setting of the same name (``flyte_lineage`` Variable) given explicitly,
    over the Variable's; ``digest_ttl_hours`` is ``datahub_digest_ttl_hours``.

    :param shard_key: S3 key of the gzip JSON Lines shard written by ``group_executions``; empty skips the task.
    :param bucket: bucket holding the shard (and the digest state).
    :param datahub_conn_id: DataHub connection (``datahub-rest``, ``-kafka``, ``-file`` or ``-lite``); when it does
        not exist, DataHub Lite at ``$AIRFLOW_HOME/datahub/lite.db``.
    :param env: DataHub fabric of the dataset urns; its lowercase is the DataFlow cluster.
    :param datasets_only: emit only dataset aspects (no flows, jobs or run history).
    :param flyte_console_url: base URL of the Flyte console, to link each run to its execution or node page.
    :param service_principals: principals that are machines (never owners), see ``datahub_ownership``.
    :param platform_display_name: display name of ``urn:li:dataPlatform:flyte``.
    :param platform_type: its DataHub ``PlatformType``. :param platform_delimiter: its dataset name delimiter.
    :param platform_logo_url: its logo (none: DataHub's generic icon).
    :param prefix: key prefix of the digest state object.
    :param digest_ttl_hours: how long a sent static aspect is not sent again unchanged (0: always send everything).

    The Amazon connection (``aws_conn_id``, ``region_name``, ``verify``, ``botocore_config``) reads the shard and the
    digest state. Replays and backfills (``RunMode.full_resend``) send every proposal, then record them.
    """

    target = "datahub"
    action = "push to DataHub"
    ui_color = "#e8f0fd"

    def __init__(
        self,
        *,
        bucket: str = NOT_GIVEN,
        datahub_conn_id: str = NOT_GIVEN,
        env: str = NOT_GIVEN,
        datasets_only: bool = NOT_GIVEN,
        flyte_console_url: str | None = NOT_GIVEN,
        service_principals: list[str] | tuple[str, ...] = NOT_GIVEN,
        platform_display_name: str = NOT_GIVEN,
        platform_type: str = NOT_GIVEN,
        platform_delimiter: str = NOT_GIVEN,
        platform_logo_url: str | None = NOT_GIVEN,
        prefix: str = NOT_GIVEN,
        digest_ttl_hours: int = NOT_GIVEN,
        **kwargs: Any,
    ) -> None:
        overrides = given(
            bucket=bucket,
            datahub_conn_id=datahub_conn_id,
            env=env,
            datasets_only=datasets_only,
            flyte_console_url=flyte_console_url,
            service_principals=service_principals,
            platform_display_name=platform_display_name,
            platform_type=platform_type,
            platform_delimiter=platform_delimiter,
            platform_logo_url=platform_logo_url,
            prefix=prefix,
            datahub_digest_ttl_hours=digest_ttl_hours,
        )
        super().__init__(overrides=overrides, **kwargs)

    def send(
        self, executions: list[Execution], settings: LineageSettings, mode: RunMode, context: Context
    ) -> dict[str, int]:
        """Emit the shard's lineage; return counts of executions, proposals and distinct entities."""
        from flytelineage.domain.datahub_mcps import build_mcps
        from flytelineage.domain.datahub_ownership import ownership_patches
        from flytelineage.domain.datahub_push import prepare_push
        from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
        from flytelineage.operators.fail_fast import failing_fast

        mcps: list[Any] = [] if settings.datasets_only else [_platform_info(settings)]
        for execution in executions:
            built = build_mcps(
                execution,
                env=settings.env,
                datasets_only=settings.datasets_only,
                flyte_console_url=settings.flyte_console_url or None,
            )
            mcps.extend(built)
            mcps.extend(ownership_patches(execution, built, settings.service_principals))
        digests = _DigestState(self, settings, mode)
        prepared = prepare_push(mcps, digests.trusted())
        hook = DataHubEmitterHook(datahub_conn_id=settings.datahub_conn_id)
        try:
            with failing_fast(f"push to the DataHub connection {settings.datahub_conn_id!r}"):
                report = hook.emit_all(prepared.proposals)
        finally:
            hook.close()
        digests.record(prepared.emitted)
        counts = {
            "executions": len(executions),
            "mcps": report.proposals,
            "entities": len({mcp.entityUrn for mcp in mcps}),
            "built": prepared.built,
            "duplicates": prepared.duplicates,
            "unchanged": prepared.unchanged,
        }
        self.log.info("Pushed %s from %s to %s", counts, self.shard_key, report.target)
        return counts


def _platform_info(settings: LineageSettings) -> Any:
    from flytelineage.domain.datahub_platform import platform_info_mcp

    return platform_info_mcp(
        display_name=settings.platform_display_name,
        platform_type=settings.platform_type,
        delimiter=settings.platform_delimiter,
        logo_url=settings.platform_logo_url or None,
    )


class _DigestState:
    """The digest state object of the push's DataHub connection: read before the push, merged into after it."""

    def __init__(self, operator: ShardTargetOperator, settings: LineageSettings, mode: RunMode) -> None:
        from flytelineage.domain import storage_keys

        self.ttl_hours = settings.datahub_digest_ttl_hours
        self.full = mode.full_resend
        self.bucket = settings.bucket
        self.key = storage_keys.datahub_digests_key(settings.prefix, settings.datahub_conn_id)
        self.s3: S3BulkReaderHook = operator.s3
        self.now = int(time.time())  # the TTL is about real time since a send, not about the data interval
        self.entries: DigestEntries = {}
        self.etag: str | None = None

    def trusted(self) -> dict[str, str]:
        """The digests the push may skip by (none for a replay, a backfill, or with the TTL at 0)."""
        from flytelineage.domain.datahub_push import live_digests

        if self.ttl_hours <= 0:
            return {}
        self.entries, self.etag = self._read()
        if self.full:
            log.info("Full re-send (replay or backfill): every proposal is sent, the digests are then recorded")
            return {}
        return live_digests(self.entries, self.now, self.ttl_hours)

    def record(self, emitted: dict[str, str]) -> None:
        """Merge what the push sent into the state, with a conditional write (re-read and retried on a conflict)."""
        from botocore.exceptions import ClientError

        from flytelineage.domain.datahub_push import digests_to_bytes, merged_digests

        if self.ttl_hours <= 0:
            return
        for attempt in range(STATE_WRITE_ATTEMPTS):
            body = digests_to_bytes(merged_digests(self.entries, emitted, self.now, self.ttl_hours))
            condition = {"IfMatch": self.etag} if self.etag else {"IfNoneMatch": "*"}
            try:
                self.s3.get_conn().put_object(Bucket=self.bucket, Key=self.key, Body=body, **condition)
                return
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "")
                if code not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                    raise
                log.info(
                    "Digest state s3://%s/%s changed meanwhile (attempt %d): merging again",
                    self.bucket,
                    self.key,
                    attempt + 1,
                )
                self.entries, self.etag = self._read()
        log.warning(
            "Digest state s3://%s/%s kept changing; not updated this time (the next push re-sends what it lacks)",
            self.bucket,
            self.key,
        )

    def _read(self) -> tuple[DigestEntries, str | None]:
        from botocore.exceptions import ClientError

        from flytelineage.domain.datahub_push import DigestStateError, digests_from_bytes

        try:
            found = self.s3.get_conn().get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return {}, None
            raise
        etag = found["ETag"]
        try:
            return digests_from_bytes(found["Body"].read()), etag
        except DigestStateError as e:
            log.warning("Digest state s3://%s/%s unreadable (%s): sending everything", self.bucket, self.key, e)
            return {}, etag
