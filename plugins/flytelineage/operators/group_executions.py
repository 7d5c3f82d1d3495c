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

XCom: ``return_value`` is the list of shard keys the target tasks map over; ``summary`` holds the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from flytelineage.domain import storage_keys

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook

EXECUTIONS = storage_keys.EXECUTIONS
REPORTS = storage_keys.REPORTS
_STATE_PARTS = ("pending", "ledger", "emitted")
_PLAN_ATTEMPTS = 3


@dataclass(frozen=True)
class _Plan:
    """Where a run starts: ``base`` (the state it continues from, None for none), ``newest`` (the newest complete
    state when it looked) and ``superseded_by`` (the newest state stamped after this run's end, if any)."""

    base: str | None
    newest: str | None
    superseded_by: str | None


@dataclass(frozen=True)
class _Outcome:
    """What one grouping pass produced, before anything is written."""

    split: Any
    executions: list[Any]
    rejected: list[Any]
    ledger: Any
    batch_keys: list[str]
    new_rows: int


def interval_of(
    context: Context, replay_start: str | datetime | None = None, replay_end: str | datetime | None = None
) -> tuple[datetime, datetime]:
    """The interval to group: an explicit replay window, else the run's data interval, else the hour before
    ``run_after`` (manual runs without an interval). Invalid replay bounds fail the task once (no retry)."""
    from flytelineage.domain.run_params import param_problems, parse_bound
    from flytelineage.operators.drain_events import ingest_time_of
    from flytelineage.operators.fail_fast import fail_on_bad_params

    if replay_start or replay_end:
        fail_on_bad_params(param_problems({"replay_start": replay_start, "replay_end": replay_end}))
        low, high = parse_bound("replay_start", replay_start, []), parse_bound("replay_end", replay_end, [])
        assert low is not None and high is not None  # checked just above
        return low, high
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and end > start:
        return start, end
    run_end = ingest_time_of(context)
    return run_end - timedelta(hours=1), run_end


def _is_missing(error: Exception) -> bool:
    """True for a read that failed because the object does not exist (not for throttling or access errors)."""
    response = getattr(error, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    return code in ("NoSuchKey", "404", "NotFound")


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


class GroupExecutionsOperator(BaseOperator):
    """Rebuild the completed Flyte executions of a data interval from the stored event batches.

    :param bucket: bucket of the stored batches. :param prefix: their key prefix.
    :param aws_conn_id: Amazon connection.
    :param settle_seconds: an execution is emitted once its terminal event was received this long before the
        interval end.
    :param pending_max_days: events of executions with no terminal event for this long are reported as expired;
        also the horizon of the batch ledger: batches stamped this long before the interval end are summarized by
        its watermark (a batch stamped that far back and stored later is not grouped; replay its window).
    :param shard_size: executions per shard (each target task instance handles one shard).
    :param read_buckets: buckets LiteralMaps and dataset footers may be read from (empty = any).
    :param read_concurrency: concurrent S3 reads.
    :param replay_start: with ``replay_end``, group this window (ISO 8601 with zone) instead of the run's interval.
    :param replay_end: end of the replay window.
    :param persist_state: write the grouping state for the next interval (off for replays and dry runs, so they
        never change what the scheduled runs see).
    """

    template_fields = (
        "bucket",
        "prefix",
        "aws_conn_id",
        "settle_seconds",
        "pending_max_days",
        "shard_size",
        "read_buckets",
        "read_concurrency",
        "replay_start",
        "replay_end",
        "persist_state",
    )
    ui_color = "#fdf3e8"

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "flyte-lineage",
        aws_conn_id: str | None = "aws_default",
        settle_seconds: int = 300,
        pending_max_days: int = 7,
        shard_size: int = 200,
        read_buckets: list[str] | tuple[str, ...] = (),
        read_concurrency: int = 16,
        replay_start: str | None = None,
        replay_end: str | None = None,
        persist_state: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.prefix = prefix
        self.aws_conn_id = aws_conn_id
        self.settle_seconds = settle_seconds
        self.pending_max_days = pending_max_days
        self.shard_size = shard_size
        self.read_buckets = read_buckets
        self.read_concurrency = read_concurrency
        self.replay_start = replay_start
        self.replay_end = replay_end
        self.persist_state = persist_state

    # ---- S3 layout -----------------------------------------------------------------------------------------------

    def _key(self, area: str, end: datetime, name: str) -> str:
        return f"{self.prefix.strip('/')}/{area}/interval_end={storage_keys.stamp(end)}/{name}"

    def _complete_states(self, s3: S3BulkReaderHook, since: str | None) -> list[str]:
        """Stamps of the complete grouping states stamped at or after ``since`` (None: all), sorted."""
        root = f"{self.prefix.strip('/')}/{storage_keys.STATE}/"
        start_after = storage_keys.state_listing_from(self.prefix, since) if since else None
        stamps = {storage_keys.complete_state_stamp_of(k) for k in self._list(s3, root, start_after)}
        return sorted(s for s in stamps if s is not None and (since is None or s >= since))

    def _plan(self, s3: S3BulkReaderHook, start: datetime, end: datetime, *, chain: bool) -> _Plan:
        """Pick the state this run continues from (see ``_Plan``): the newest complete state before ``end`` for a
        scheduled or manual run (so a manual run inside the interval is continued, never re-emitted), the newest at
        or before ``start`` for a replay or backfill (so it re-derives its whole interval)."""
        low, high = storage_keys.stamp(start), storage_keys.stamp(end)
        states = self._complete_states(s3, low)
        newer = [s for s in states if s > high]
        candidates = [s for s in states if (s < high if chain else s <= low)]
        if not candidates:
            earlier = [s for s in self._complete_states(s3, None) if s < low]
            if earlier:
                self.log.warning(
                    "No grouping state at or after %s (a run failed or was skipped?): from %s", low, earlier[-1]
                )
            candidates = earlier[-1:]
        base = candidates[-1] if candidates else None
        return _Plan(base=base, newest=states[-1] if states else base, superseded_by=newer[-1] if newer else None)

    def _read_state(self, s3: S3BulkReaderHook, base: str | None) -> tuple[Any, Any]:
        """The grouping state and batch ledger written at ``base`` (empty ones for None)."""
        from flytelineage.domain.batch_ledger import BatchLedger, ledger_from_table
        from flytelineage.domain.event_table import parquet_bytes_to_table
        from flytelineage.domain.execution_grouping import GroupingState
        from flytelineage.errors import StorageError

        if base is None:
            self.log.info("No grouping state: reading every stored batch up to the interval end")
            return GroupingState.empty(), BatchLedger.empty()
        uris = {
            n: f"s3://{self.bucket}/{storage_keys.state_key(self.prefix, base, f'{n}.parquet')}" for n in _STATE_PARTS
        }
        read = s3.read_objects(list(uris.values()))
        tables: dict[str, Any] = {}
        for name, uri in uris.items():
            data = read[uri]
            if isinstance(data, bytes):
                tables[name] = parquet_bytes_to_table(data)
            elif name != "ledger" or not _is_missing(data):  # states written before the ledger existed have none
                raise StorageError(f"grouping state {base} is listed but cannot be read: {data}") from data
        state = GroupingState(pending=tables["pending"], emitted=tables["emitted"])
        if "ledger" not in tables:  # a state written before the ledger: its batches were selected by stamp
            self.log.info("Grouping state %s has no batch ledger: batches stamped up to it count as read", base)
            return state, BatchLedger.covering(base)
        return state, ledger_from_table(tables["ledger"])

    def _batch_keys(self, s3: S3BulkReaderHook, ledger: Any, end: datetime) -> list[str]:
        """Keys of the stored batches stamped at or before ``end`` that ``ledger`` has not seen (any older stamp)."""
        root = f"{self.prefix.strip('/')}/{storage_keys.EVENTS}/"
        start_after = storage_keys.batch_listing_from(self.prefix, storage_keys.EVENTS, ledger.watermark)
        keys: list[str] = ledger.unseen(self._list(s3, root, start_after), storage_keys.stamp(end))
        return keys

    def _put(self, s3: S3BulkReaderHook, key: str, data: bytes) -> None:
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"write s3://{self.bucket}/{key}", conn_id=self.aws_conn_id):
            s3.load_bytes(data, key=key, bucket_name=self.bucket, replace=True)

    def _list(self, s3: S3BulkReaderHook, prefix: str, start_after: str | None = None) -> list[str]:
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"list s3://{self.bucket}/{prefix}", conn_id=self.aws_conn_id):
            return list(s3.list_keys(bucket_name=self.bucket, prefix=prefix, start_after_key=start_after) or [])

    def _interval_shards(self, s3: S3BulkReaderHook, start: datetime, end: datetime) -> list[str]:
        """The shards an earlier run of this same interval wrote."""
        return sorted(k for k in self._list(s3, self._shard_prefix(start, end)) if k.endswith(".jsonl.gz"))

    def _shard_prefix(self, start: datetime, end: datetime) -> str:
        stamps = f"{storage_keys.stamp(start)}_{storage_keys.stamp(end)}"
        return f"{self.prefix.strip('/')}/{EXECUTIONS}/interval={stamps}/"

    # ---- execute -------------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> list[str]:
        """Group, resolve and persist the interval's completed executions; return the shard keys."""
        from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook
        from flytelineage.operators.drain_events import is_backfill
        from flytelineage.operators.shard_io import as_bool

        _return_freed_memory_early()
        start, end = interval_of(context, self.replay_start, self.replay_end)
        s3 = S3BulkReaderHook(aws_conn_id=self.aws_conn_id, concurrency=int(self.read_concurrency))
        chain = not (self.replay_start or self.replay_end or is_backfill(context))
        for _ in range(_PLAN_ATTEMPTS):
            plan = self._plan(s3, start, end, chain=chain)
            if chain and plan.superseded_by is not None:
                return self._yield_to(s3, context, start, end, plan)
            outcome = self._group(s3, start, end, plan)
            persist = as_bool(self.persist_state) and plan.superseded_by is None
            if persist and self._plan(s3, start, end, chain=chain) != plan:
                # another run wrote a state while this one grouped: group again from the new newest state
                self.log.warning("The grouping state changed while this run grouped (an overlapping run): again")
                continue
            return self._finish(s3, context, start, end, plan, outcome, persist=persist)
        raise RuntimeError(
            f"the grouping state kept changing during {_PLAN_ATTEMPTS} attempts (overlapping runs): retry later"
        )

    def _yield_to(
        self, s3: S3BulkReaderHook, context: Context, start: datetime, end: datetime, plan: _Plan
    ) -> list[str]:
        """A re-run of an interval the chain has passed: change no state, hand on the shards it wrote before."""
        shards = self._interval_shards(s3, start, end)
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

    def _group(self, s3: S3BulkReaderHook, start: datetime, end: datetime, plan: _Plan) -> _Outcome:
        """Read the state and every unseen batch, split the ready executions and resolve their datasets."""
        from flytelineage.domain.event_table import EVENT_SCHEMA, parquet_bytes_to_table
        from flytelineage.domain.execution_grouping import split_ready
        from flytelineage.domain.execution_lineage import RejectedExecution, resolve_executions
        from flytelineage.errors import StorageError
        from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook
        from flytelineage.operators.fail_fast import failing_fast
        from flytelineage.operators.shard_io import as_str_list

        state, ledger = self._read_state(s3, plan.base)
        batch_keys = self._batch_keys(s3, ledger, end)
        batches = s3.read_objects([f"s3://{self.bucket}/{k}" for k in batch_keys])
        tables = []
        for uri, data in batches.items():
            if isinstance(data, Exception):
                with failing_fast(f"read event batch {uri}", conn_id=self.aws_conn_id):
                    raise StorageError(f"cannot read event batch {uri}: {data}") from data
            tables.append(parquet_bytes_to_table(data))
        del batches
        new_rows = sum(t.num_rows for t in tables)
        max_age = timedelta(days=int(self.pending_max_days))
        split = split_ready(
            state,
            tables or [EVENT_SCHEMA.empty_table()],  # a list lets split_ready free each batch once merged
            as_of=end,
            settle=timedelta(seconds=int(self.settle_seconds)),
            max_pending_age=max_age,
        )
        read_buckets = as_str_list(self.read_buckets)
        reader = S3BulkReaderHook(
            aws_conn_id=self.aws_conn_id, concurrency=int(self.read_concurrency), allowed_buckets=read_buckets
        )
        rejected: list[RejectedExecution] = []
        executions = resolve_executions(
            split.ready, reader, read_buckets=read_buckets, link_events=split.state.pending, rejected=rejected
        )
        # keys stamped before the pending horizon are summarized: their events could only be reported by now
        ledger = ledger.with_batches(batch_keys).compacted(storage_keys.stamp(end - max_age))
        return _Outcome(split, executions, rejected, ledger, batch_keys, new_rows)

    def _finish(
        self,
        s3: S3BulkReaderHook,
        context: Context,
        start: datetime,
        end: datetime,
        plan: _Plan,
        outcome: _Outcome,
        *,
        persist: bool,
    ) -> list[str]:
        """Write the shards, then the state (``emitted`` last: it marks the state complete), then the reports."""
        from flytelineage.domain.batch_ledger import ledger_to_table
        from flytelineage.domain.event_table import table_to_parquet_bytes
        from flytelineage.domain.execution_grouping import rejected_rows

        split, executions, rejected = outcome.split, outcome.executions, outcome.rejected
        shard_keys = self._write_shards(s3, start, end, executions)
        if persist:
            for name, table in (
                ("pending", split.state.pending),
                ("ledger", ledger_to_table(outcome.ledger)),
                ("emitted", split.state.emitted),
            ):
                self._put(s3, self._key(storage_keys.STATE, end, f"{name}.parquet"), table_to_parquet_bytes(table))
        elif plan.superseded_by is not None:
            self.log.info("A newer grouping state (%s) exists: this run leaves the state alone", plan.superseded_by)
        else:
            self.log.info("persist_state is off (replay or dry run): the grouping state of %s is left as it was", end)
        for failure in rejected:
            self.log.warning("%s left out (its events are kept under %s/): %s", failure.id.key, REPORTS, failure.reason)
        rejected_table = rejected_rows(split.ready, {r.id: r.reason for r in rejected})
        for name, table in (("late", split.late), ("expired", split.expired), ("rejected", rejected_table)):
            if table.num_rows:
                self.log.warning("%d %s events kept under %s/", table.num_rows, name, REPORTS)
                self._put(s3, self._key(REPORTS, end, f"{name}.parquet"), table_to_parquet_bytes(table))
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

    def _write_shards(self, s3: S3BulkReaderHook, start: datetime, end: datetime, executions: list[Any]) -> list[str]:
        from flytelineage.domain.execution_store import executions_to_jsonl_gz

        size = max(1, int(self.shard_size))
        keys = []
        for number, first in enumerate(range(0, len(executions), size)):
            key = f"{self._shard_prefix(start, end)}shard-{number:05d}.jsonl.gz"
            self._put(s3, key, executions_to_jsonl_gz(executions[first : first + size]))
            keys.append(key)
        return keys
