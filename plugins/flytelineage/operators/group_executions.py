"""``GroupExecutionsOperator``: rebuild the completed workflow executions of a data interval (``group_executions``).

A run continues from the newest complete grouping state before its interval end (events of executions still open,
keys of executions already emitted, and the **batch ledger**: the keys of the batches already grouped), reads every
stored batch the ledger has not seen and that is stamped at or before ``end``, whatever its stamp, splits out the
executions that are complete at ``end``, resolves their datasets (LiteralMaps and Parquet footers, read
concurrently, each URI once) and writes:

- ``executions/interval=<start>_<end>/shard-NNNNN.jsonl.gz``: the resolved executions, ``shard_size`` per shard;
- ``state/interval_end=<stamp>/{pending,ledger,emitted}.parquet``: the state the next run starts from
  (``emitted`` is written last and marks the state complete);
- ``reports/interval_end=<stamp>/{late,expired}.parquet``: events that belong to no emitted execution, kept;
  ``rejected.parquet``: the events of executions that could not be built, with a ``reason`` column (one bad
  execution is left out and reported; the others are emitted).

Re-runs (the rule, documented in the README under "Re-runs"):

- A batch written behind the state (a late drain, or a cleared drain run stamping an interval grouping passed) is
  not in the ledger, so the next run reads it; a batch is read once into the chain of states.
- A scheduled or manual run whose interval end lies before the newest state (a cleared old run) writes no state and
  emits nothing new: it returns the shards its interval wrote before, so its target tasks re-send the same output,
  and leaves what was stored since to the next run after the newest state. The chain of states never forks.
- A retry of the newest run groups again from the state before it and overwrites its own output.
- Replays and backfills start from the newest state at or before their interval start (they re-derive the whole
  interval); a backfill writes the state only when no newer state exists.
- Just before writing, the run looks at the states again; if another run wrote one meanwhile, it groups again from
  it (or yields, as above). This narrows the window of two overlapping runs to their final writes, it does not close
  it: two runs writing their states at the same moment could both emit an execution, never lose one (the ledger
  makes the next run read any batch the surviving state lacks).

What a run does comes from its ``RunMode`` (``LineageOperator.run_mode``): a replay window (params
``replay_start``/``replay_end``) replaces the data interval (``domain/run_interval.grouping_interval``); replays and
backfills do not chain; replays and dry runs write no state. The reads and writes go through
``GroupingStateStore`` (``operators/grouping_state_store.py``), the keys come from ``domain/storage_keys.py``.

XCom: ``return_value`` is the list of shard keys the target tasks map over; ``summary`` holds the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flytelineage.domain import storage_keys
from flytelineage.operators.lineage_operator import NOT_GIVEN, LineageOperator, given

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.domain.lineage_settings import LineageSettings
    from flytelineage.domain.run_params import RunMode
    from flytelineage.operators.grouping_state_store import GroupingStateStore, Plan

_PLAN_ATTEMPTS = 3


@dataclass(frozen=True)
class _Outcome:
    """What one grouping pass produced, before anything is written."""

    split: Any
    executions: list[Any]
    rejected: list[Any]
    ledger: Any
    batch_keys: list[str]
    new_rows: int


def interval_of(context: Context, mode: RunMode) -> tuple[datetime, datetime]:
    """The interval to group (``run_interval.grouping_interval``) from the run's context and mode: the replay
    window, else the data interval, else the hour before ``run_after`` (manual runs without an interval)."""
    from flytelineage.domain.run_interval import grouping_interval

    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None)
    return grouping_interval(
        context.get("data_interval_start"), context.get("data_interval_end"), run_after, mode.replay
    )


def _return_freed_memory_early() -> None:
    """Use Arrow's jemalloc pool with immediate page return, when the build has it.

    Grouping frees each input batch while building its outputs; the default allocator keeps freed pages, which made
    the 1M-event benchmark peak above 2 GiB, while jemalloc with decay 0 stayed near 1.7 GiB (bench/group.py).
    """
    import pyarrow as pa

    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, AttributeError):
        pass


class GroupExecutionsOperator(LineageOperator):
    """Rebuild the completed Flyte executions of a data interval from the stored event batches.

    Settings come from the ``flyte_lineage`` Variable (``LineageOperator``); these arguments override them:

    :param bucket: bucket of the stored batches. :param prefix: their key prefix.
    :param settle_seconds: an execution is emitted once its terminal event was received this long before the
        interval end.
    :param pending_max_days: events of executions with no terminal event for this long are reported as expired;
        also the horizon of the batch ledger: batches stamped this long before the interval end are summarized by
        its watermark (a batch stamped that far back and stored later is not grouped; replay its window).
    :param shard_size: executions per shard (each target task instance handles one shard).
    :param read_buckets: buckets LiteralMaps and dataset footers may be read from (empty = any).
    :param read_concurrency: concurrent S3 reads.
    :param max_literal_bytes: largest LiteralMap or offloaded literal read (bytes).
    :param max_literals: literals walked per execution while searching for datasets.
    :param max_literal_depth: nesting levels per variable (collections, maps, unions, offloaded literals).
    :param max_footer_bytes: longest Parquet footer read (bytes).
    :param max_dataset_reads: datasets per execution whose data is listed or read for a schema.
        Each limit reached is a problem on its execution (``domain/read_limits.py``); the others go on.
    :param replay_start: with ``replay_end``, group this window (ISO 8601 with zone) instead of the run's interval;
        run params (over the run's own ``replay_start``/``replay_end`` params). A replay writes no state.
    :param replay_end: end of the replay window.
    """

    required_settings = ("bucket",)
    ui_color = "#fdf3e8"

    def __init__(
        self,
        *,
        bucket: str = NOT_GIVEN,
        prefix: str = NOT_GIVEN,
        settle_seconds: int = NOT_GIVEN,
        pending_max_days: int = NOT_GIVEN,
        shard_size: int = NOT_GIVEN,
        read_buckets: list[str] | tuple[str, ...] = NOT_GIVEN,
        read_concurrency: int = NOT_GIVEN,
        max_literal_bytes: int = NOT_GIVEN,
        max_literals: int = NOT_GIVEN,
        max_literal_depth: int = NOT_GIVEN,
        max_footer_bytes: int = NOT_GIVEN,
        max_dataset_reads: int = NOT_GIVEN,
        replay_start: str | None = NOT_GIVEN,
        replay_end: str | None = NOT_GIVEN,
        **kwargs: Any,
    ) -> None:
        overrides = given(
            bucket=bucket,
            prefix=prefix,
            settle_seconds=settle_seconds,
            pending_max_days=pending_max_days,
            shard_size=shard_size,
            read_buckets=read_buckets,
            read_concurrency=read_concurrency,
            max_literal_bytes=max_literal_bytes,
            max_literals=max_literals,
            max_literal_depth=max_literal_depth,
            max_footer_bytes=max_footer_bytes,
            max_dataset_reads=max_dataset_reads,
        )
        run_params = given(replay_start=replay_start, replay_end=replay_end)
        super().__init__(overrides=overrides, run_params=run_params, **kwargs)

    def _store(self, settings: LineageSettings) -> GroupingStateStore:
        """The grouping's S3 objects, through one bulk reader on this task's Amazon connection."""
        from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook
        from flytelineage.operators.grouping_state_store import GroupingStateStore

        s3 = S3BulkReaderHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
            concurrency=settings.read_concurrency,
        )
        return GroupingStateStore(
            s3, bucket=settings.bucket, prefix=settings.prefix, conn_id=self.aws_conn_id, log=self.log
        )

    # ---- execute -------------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> list[str]:
        """Group, resolve and persist the interval's completed executions; return the shard keys."""
        from flytelineage.errors import StorageError

        settings = self.lineage_settings()
        mode = self.run_mode(context, settings)
        _return_freed_memory_early()
        start, end = interval_of(context, mode)
        store = self._store(settings)
        for _ in range(_PLAN_ATTEMPTS):
            plan = store.plan(start, end, chain=mode.chains)
            if mode.chains and plan.superseded_by is not None:
                return self._yield_to(store, context, start, end, plan)
            outcome = self._group(store, settings, end, plan)
            persist = mode.persists_state and plan.superseded_by is None
            if persist and store.plan(start, end, chain=mode.chains) != plan:
                # another run wrote a state while this one grouped: group again from the new newest state
                self.log.warning("The grouping state changed while this run grouped (an overlapping run): again")
                continue
            return self._finish(store, settings, context, start, end, plan, outcome, persist=persist)
        raise StorageError(
            f"the grouping state kept changing during {_PLAN_ATTEMPTS} attempts (overlapping runs): retry later"
        )

    def _yield_to(
        self, store: GroupingStateStore, context: Context, start: datetime, end: datetime, plan: Plan
    ) -> list[str]:
        """A re-run of an interval the chain has passed: change no state, hand on the shards it wrote before."""
        shards = store.interval_shards(start, end)
        self.log.warning(
            "A newer grouping state (%s) exists: this re-run of %s writes no state and emits nothing new; batches "
            "stored since are grouped by the next run after %s. Re-publishing this interval's %d earlier shards.",
            plan.superseded_by,
            storage_keys.stamp(end),
            plan.superseded_by,
            len(shards),
        )
        summary = {
            "interval": [start.isoformat(), end.isoformat()],
            "state_from": None,
            "superseded_by": plan.superseded_by,
            "batches": 0,
            "new_events": 0,
            "executions": 0,
            "republished_shards": len(shards),
            "shards": shards,
        }
        context["ti"].xcom_push(key="summary", value=summary)
        return shards

    def _group(self, store: GroupingStateStore, settings: LineageSettings, end: datetime, plan: Plan) -> _Outcome:
        """Read the state and every unseen batch, split the ready executions and resolve their datasets."""
        from flytelineage.domain.event_table import EVENT_SCHEMA
        from flytelineage.domain.execution_grouping import split_ready
        from flytelineage.domain.execution_lineage import RejectedExecution, resolve_executions
        from flytelineage.operators.fail_fast import TransientReadsRaise

        state, ledger = store.read_state(plan.base)
        batch_keys = store.unseen_batches(ledger, end)
        tables = store.read_batches(batch_keys)
        new_rows = sum(t.num_rows for t in tables)
        max_age = timedelta(days=settings.pending_max_days)
        split = split_ready(
            state,
            tables or [EVENT_SCHEMA.empty_table()],  # a list lets split_ready free each batch once merged
            as_of=end,
            settle=timedelta(seconds=settings.settle_seconds),
            max_pending_age=max_age,
        )
        rejected: list[RejectedExecution] = []
        # the domain applies read_buckets before asking the reader: a URI outside them is never requested
        executions = resolve_executions(
            split.ready,
            TransientReadsRaise(store.s3),  # a throttled read retries the task instead of thinning the lineage
            read_buckets=settings.read_buckets,
            link_events=split.state.pending,
            rejected=rejected,
            limits=settings.read_limits(),  # each limit reached is a problem on its execution, never an OOM
        )
        # keys stamped before the pending horizon are summarized: their events could only be reported by now
        ledger = ledger.with_batches(batch_keys).compacted(storage_keys.stamp(end - max_age))
        return _Outcome(split, executions, rejected, ledger, batch_keys, new_rows)

    def _finish(
        self,
        store: GroupingStateStore,
        settings: LineageSettings,
        context: Context,
        start: datetime,
        end: datetime,
        plan: Plan,
        outcome: _Outcome,
        *,
        persist: bool,
    ) -> list[str]:
        """Write the shards, then the state (``emitted`` last: it marks the state complete), then the reports."""
        from flytelineage.domain.execution_grouping import rejected_rows

        split, executions, rejected = outcome.split, outcome.executions, outcome.rejected
        shard_keys = store.write_shards(start, end, executions, shard_size=settings.shard_size)
        if persist:
            store.write_state(end, split.state, outcome.ledger)
        elif plan.superseded_by is not None:
            self.log.info("A newer grouping state (%s) exists: this run leaves the state alone", plan.superseded_by)
        else:
            self.log.info(
                "This run (replay or dry run) writes no grouping state: the state of %s is left as it was", end
            )
        reports = storage_keys.REPORTS
        for failure in rejected:
            self.log.warning("%s left out (its events are kept under %s/): %s", failure.id.key, reports, failure.reason)
        rejected_table = rejected_rows(split.ready, {r.id: r.reason for r in rejected})
        for name, table in (("late", split.late), ("expired", split.expired), ("rejected", rejected_table)):
            if table.num_rows:
                self.log.warning("%d %s events kept under %s/", table.num_rows, name, reports)
                store.write_report(end, name, table)
        for execution in executions:
            for problem in execution.problems:
                self.log.warning("%s: %s", execution.id.key, problem)
        summary = {
            "interval": [start.isoformat(), end.isoformat()],
            "state_from": plan.base,
            "batches": len(outcome.batch_keys),
            "new_events": outcome.new_rows,
            "executions": len(executions),
            "pending_events": split.state.pending.num_rows,
            "late_events": split.late.num_rows,
            "expired_events": split.expired.num_rows,
            "rejected_executions": len(rejected),
            "ledger_keys": len(outcome.ledger.keys),
            "ledger_watermark": outcome.ledger.watermark,
            "shards": shard_keys,
        }
        self.log.info("Grouped: %s", summary)
        context["ti"].xcom_push(key="summary", value=summary)
        return shard_keys
