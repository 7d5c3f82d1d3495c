"""``RegisterGlueOperator``: register the datasets of one ``executions/`` shard as Glue tables (``register_glue``).

It reads the shard (``ShardTargetOperator``), plans one table per dataset produced by successful, non-cached task nodes
(``flytelineage.domain.glue_tables``), makes sure the databases exist and upserts every table. A table that already
matches is not written, so a retry or a backfill of the same interval changes nothing. The table of a list dataset
then gets exactly the partitions of the plan (``GlueTablesHook.sync_partitions``: those of an earlier run that are
not in this one are removed). Datasets Glue cannot describe are logged with the reason. The returned XCom is a small
dict of counts (``partitions``: partitions created, updated or deleted).

Failures are per table (documented in the README under "Glue under throttling"):

- A table failing on a transient AWS error (throttling, 5xx, timeouts, a writer that keeps changing it, after
  botocore's own retries) does not stop the others: the tables that failed are tried again in rounds, after the
  delays of ``retry_delays``.
- What still fails after the last round is kept in a pending list in S3 (``storage_keys.glue_pending_key``: the
  table inputs themselves, so no shard has to be read again) and the task fails with a retryable error. Airflow's
  retries of the task redo the shard; the first mapped instance of every later run retries every pending list left
  by other shards, so Glue converges without a manual replay. A pending table that a later shard plans again is
  written from the later definition only.
- A table Glue refuses for good (a deterministic error such as ``InvalidInputException`` or ``AccessDenied``) is a
  recorded problem: logged, counted and written to ``storage_keys.glue_problems_key``; it does not fail the task and is
  not retried.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from flytelineage.errors import TargetError
from flytelineage.hooks.glue_catalog_hook import GlueTablesHook
from flytelineage.operators.lineage_operator import NOT_GIVEN, given
from flytelineage.operators.shard_target import ShardTargetOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.domain.glue_tables import GluePlan
    from flytelineage.domain.lineage_model import Execution
    from flytelineage.domain.lineage_settings import LineageSettings
    from flytelineage.domain.run_params import RunMode


class RegisterGlueOperator(ShardTargetOperator):
    """Create or update Glue Data Catalog tables for the datasets in one shard of resolved executions.

    Every argument but ``shard_key`` is a setting of the same name (``flyte_lineage`` Variable) given explicitly,
    over the Variable's. The Glue client is the Amazon provider's (``aws_hook_class``): ``aws_conn_id``,
    ``region_name``, ``verify`` and ``botocore_config`` apply to it and to S3.

    :param shard_key: S3 key of the gzip JSON Lines shard written by ``group_executions``; empty skips the task.
    :param bucket: bucket holding the shard (and the pending and problem lists).
    :param glue_database: put every table in this database instead of ``flyte_<project>_<domain>``.
    :param glue_versioning: keep the previous table definition as a Glue table version on each change.
    :param glue_max_versions: with versioning, keep at most this many versions per table (oldest deleted first).
    :param read_buckets: buckets a table location may be in (empty = any ``s3://`` bucket); others are skipped.
    """

    target = "glue"
    action = "register in Glue"
    aws_hook_class = GlueTablesHook  # type: ignore[assignment]  # LineageOperator types it S3Hook: see glue_hook
    ui_color = "#f3e8fd"

    retry_delays: tuple[float, ...] = (1.0, 3.0, 8.0)
    """Seconds to wait before each further round over the tables that failed on transient errors (throttling)."""

    def __init__(
        self,
        *,
        bucket: str = NOT_GIVEN,
        glue_database: str | None = NOT_GIVEN,
        glue_versioning: bool = NOT_GIVEN,
        glue_max_versions: int | None = NOT_GIVEN,
        read_buckets: list[str] | tuple[str, ...] = NOT_GIVEN,
        **kwargs: Any,
    ) -> None:
        overrides = given(
            bucket=bucket,
            glue_database=glue_database,
            glue_versioning=glue_versioning,
            glue_max_versions=glue_max_versions,
            read_buckets=read_buckets,
        )
        super().__init__(overrides=overrides, **kwargs)

    @property
    def glue_hook(self) -> GlueTablesHook:
        """The Glue hook (``self.hook``, typed)."""
        return cast("GlueTablesHook", self.hook)

    def send(
        self, executions: list[Execution], settings: LineageSettings, mode: RunMode, context: Context
    ) -> dict[str, int]:
        """Register the shard's tables (and, in the first mapped instance, the tables earlier runs left pending);
        return counts: created, updated, unchanged, partitions, skipped, problems, pending, retried_pending,
        databases."""
        from flytelineage.domain.glue_tables import plan_glue_tables
        from flytelineage.operators.fail_fast import failing_fast

        plan = plan_glue_tables(
            executions, database_override=settings.glue_database or None, read_buckets=settings.read_buckets
        )
        for skipped in plan.skipped:
            self.log.warning(
                "No Glue table for %s (execution %s): %s", skipped.dataset_key, skipped.execution, skipped.reason
            )
        with failing_fast(f"register the Glue tables of shard {self.shard_key}", conn_id=self.aws_conn_id):
            counts = self._register(plan, settings, retry_pending=_is_first_instance(context))
        self.log.info("Glue registration of %d execution(s) from %s: %s", len(executions), self.shard_key, counts)
        return counts

    def _register(self, plan: GluePlan, settings: LineageSettings, *, retry_pending: bool) -> dict[str, int]:
        from flytelineage.domain import storage_keys
        from flytelineage.operators.fail_fast import RetryableAwsError

        bucket = settings.bucket
        own_key = storage_keys.glue_pending_key(self.shard_key)
        earlier = self._read_pending(bucket, exclude=own_key) if retry_pending else {}
        planned = {(t.database, t.name) for t in plan.tables}
        work = [_Work(t.database, t.name, t.table_input, own_key, 0, t.partitions) for t in plan.tables]
        for _, items in earlier.values():  # a table this shard plans again is written from the newer definition
            work.extend(i for i in items if (i.database, i.name) not in planned)
        counts, missing, problems = self._upsert_all(
            self.glue_hook, work, versioning=settings.glue_versioning, max_versions=settings.glue_max_versions
        )
        counts.update(
            skipped=len(plan.skipped),
            problems=len(problems),
            pending=len(missing),
            retried_pending=sum(len(items) for _, items in earlier.values()),
        )
        origins = {own_key: self.shard_key, **{key: origin for key, (origin, _) in earlier.items()}}
        by_key: dict[str, list[_Work]] = {key: [] for key in origins}
        for item, _ in missing:
            by_key[item.pending_key].append(replace(item, runs=item.runs + 1))
        for key, items in by_key.items():
            self._write_pending(bucket, key, origins[key], items)
        self._write_problems(bucket, storage_keys.glue_problems_key(self.shard_key), problems)
        if missing:
            shown = "; ".join(f"{i.database}.{i.name}: {e}" for i, e in missing[:3])
            raise RetryableAwsError(
                f"{len(missing)} Glue table(s) still failing on transient errors after {len(self.retry_delays) + 1} "
                f"rounds ({shown}{'; ...' if len(missing) > 3 else ''}); they are kept in the pending list and "
                "retried by this task's retries and by the next run"
            ) from missing[0][1]
        return counts

    def _upsert_all(
        self, hook: GlueTablesHook, work: list[_Work], *, versioning: bool, max_versions: int | None
    ) -> tuple[dict[str, int], list[tuple[_Work, TargetError]], list[dict[str, str]]]:
        """Upsert every table in rounds: a table failing on a transient error is tried again in the next round,
        after the round's delay; one failing on a deterministic error becomes a problem. Returns the counts, the
        tables still failing on transient errors (with the last error) and the problems."""
        from flytelineage.operators.fail_fast import is_transient

        counts = {"created": 0, "updated": 0, "unchanged": 0, "partitions": 0}
        databases: set[str] = set()
        problems: list[dict[str, str]] = []
        remaining = work
        failed: list[tuple[_Work, TargetError]] = []
        for round_number, delay in enumerate((*self.retry_delays, None), start=1):
            failed = []
            for item in remaining:
                try:
                    if item.database not in databases:
                        hook.ensure_database(item.database, _database_description())
                        databases.add(item.database)
                    counts[
                        hook.upsert_table(
                            item.database, item.table_input, versioning=versioning, max_versions=max_versions
                        )
                    ] += 1
                    if item.table_input.get("PartitionKeys"):  # a list dataset's table: its elements
                        counts["partitions"] += sum(
                            hook.sync_partitions(item.database, item.name, item.partitions).values()
                        )
                except TargetError as e:
                    cause = _aws_cause_of(e)
                    if cause is not None and is_transient(cause):
                        failed.append((item, e))
                        continue
                    self.log.warning("Glue table %s.%s is a problem, not retried: %s", item.database, item.name, e)
                    problems.append({"database": item.database, "table": item.name, "reason": str(e)})
            remaining = [item for item, _ in failed]
            if not remaining or delay is None:
                break
            self.log.warning(
                "%d Glue table(s) failed on transient errors in round %d; trying them again in %.1fs",
                len(remaining),
                round_number,
                delay,
            )
            time.sleep(delay)
        return {**counts, "databases": len(databases)}, failed, problems

    def _read_pending(self, bucket: str, *, exclude: str) -> dict[str, tuple[str, list[_Work]]]:
        """The pending lists earlier runs left (every shard's but this one's): key -> (shard key, tables)."""
        from flytelineage.domain import storage_keys

        prefix = storage_keys.glue_pending_prefix(storage_keys.prefix_of_shard_key(self.shard_key))
        out: dict[str, tuple[str, list[_Work]]] = {}
        for key in sorted(self.s3.list_keys(bucket_name=bucket, prefix=prefix) or []):
            if key == exclude or not key.endswith(".json"):
                continue
            document = json.loads(self.s3.read_key(key, bucket_name=bucket))
            items = [_Work(pending_key=key, **entry) for entry in document["tables"]]
            out[key] = (str(document.get("shard_key")), items)
            self.log.info("Retrying %d Glue table(s) left pending by shard %s", len(items), document.get("shard_key"))
        return out

    def _write_pending(self, bucket: str, key: str, origin: str, items: list[_Work]) -> None:
        """Keep ``items`` as the pending list at ``key``; remove the list when nothing is left."""
        if items:
            document = {
                "format_version": 1,
                "shard_key": origin,
                "tables": [
                    {
                        "database": i.database,
                        "name": i.name,
                        "table_input": i.table_input,
                        "runs": i.runs,
                        "partitions": list(i.partitions),
                    }
                    for i in sorted(items, key=lambda i: (i.database, i.name))
                ],
            }
            self.s3.load_string(json.dumps(document, sort_keys=True), key=key, bucket_name=bucket, replace=True)
        elif self.s3.check_for_key(key, bucket_name=bucket):
            self.s3.delete_objects(bucket=bucket, keys=[key])

    def _write_problems(self, bucket: str, key: str, problems: list[dict[str, str]]) -> None:
        """Record the tables Glue refused for good (overwritten by each try of the shard; removed when none)."""
        if problems:
            document = {"format_version": 1, "shard_key": self.shard_key, "problems": problems}
            self.s3.load_string(json.dumps(document, sort_keys=True), key=key, bucket_name=bucket, replace=True)
        elif self.s3.check_for_key(key, bucket_name=bucket):
            self.s3.delete_objects(bucket=bucket, keys=[key])


@dataclass(frozen=True)
class _Work:
    """One table to upsert, and the pending list it goes back to if it keeps failing (``runs``: runs that tried);
    ``partitions``: the complete partition set of a list dataset's table (absent from older pending lists)."""

    database: str
    name: str
    table_input: dict[str, Any]
    pending_key: str
    runs: int
    partitions: Sequence[dict[str, Any]] = ()


def _is_first_instance(context: Context) -> bool:
    """True in the first mapped instance (or an unmapped task): the one that retries earlier runs' pending tables,
    so the instances of one run never write the same pending list."""
    ti = context.get("ti") if hasattr(context, "get") else None
    index = getattr(ti, "map_index", -1)
    return index is None or int(index) <= 0


def _aws_cause_of(error: BaseException) -> BaseException | None:
    """The botocore error a ``TargetError`` was raised from, if any."""
    from botocore.exceptions import BotoCoreError, ClientError

    cause = error.__cause__
    while cause is not None and not isinstance(cause, ClientError | BotoCoreError):
        cause = cause.__cause__
    return cause


def _database_description() -> str:
    from flytelineage.domain.glue_tables import DATABASE_DESCRIPTION

    return DATABASE_DESCRIPTION
