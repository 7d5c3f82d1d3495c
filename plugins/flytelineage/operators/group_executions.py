"""``GroupExecutionsOperator``: rebuild the completed workflow executions of a data interval (``group_executions``).

For the interval ``(start, end]`` it reads the event batches the drain stored with an ingest stamp in that range,
merges them with the grouping state the previous interval left (events of executions still open, keys of executions
already emitted), splits out the executions that are complete at ``end``, resolves their datasets (LiteralMaps and
Parquet footers, read concurrently, each URI once) and writes:

- ``executions/interval=<start>_<end>/shard-NNNNN.jsonl.gz``: the resolved executions, ``shard_size`` per shard;
- ``state/interval_end=<stamp>/{pending,emitted}.parquet``: the state the next interval starts from;
- ``reports/interval_end=<stamp>/{late,expired}.parquet``: events that belong to no emitted execution, kept;
  ``rejected.parquet``: the events of executions that could not be built, with a ``reason`` column (one bad
  execution is left out and reported; the others are emitted).

Every key is a function of the interval, so a retry or a backfill of the same interval overwrites with the same
content. XCom: ``return_value`` is the list of shard keys the target tasks map over; ``summary`` holds the counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from flytelineage.domain import storage_keys

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook

STATE = "state"
EXECUTIONS = "executions"
REPORTS = "reports"


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


def _hours(start: datetime, end: datetime) -> list[datetime]:
    """Every hour whose partition may hold a batch stamped in ``(start, end]``."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while hour <= end:
        out.append(hour)
        hour += timedelta(hours=1)
    return out


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
    :param pending_max_days: events of executions with no terminal event for this long are reported as expired.
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

    def _batch_keys(self, s3: S3BulkReaderHook, after: str | None, end: datetime) -> list[str]:
        """Keys of the event batches stamped in ``(after, end]`` (``after`` None: every batch up to ``end``)."""
        high = storage_keys.stamp(end)
        if after is None:
            prefixes = [f"{self.prefix.strip('/')}/{storage_keys.EVENTS}/"]
        else:
            low = datetime.strptime(after, "%Y%m%dT%H%M%SZ").replace(tzinfo=end.tzinfo)
            prefixes = [storage_keys.partition_prefix(self.prefix, storage_keys.EVENTS, h) for h in _hours(low, end)]
        keys: list[str] = []
        for prefix in prefixes:
            for key in self._list(s3, prefix):
                stamp = storage_keys.batch_stamp_of(key)
                if stamp is not None and (after is None or after < stamp) and stamp <= high:
                    keys.append(key)
        return sorted(keys)

    def _state_inside(self, s3: S3BulkReaderHook, start: datetime, end: datetime) -> str | None:
        """The stamp of the newest complete state strictly inside ``(start, end)``: one a manual run left.

        Only the hours of the interval are listed (state keys start with their stamp), so this costs a listing or two.
        """
        low, high = storage_keys.stamp(start), storage_keys.stamp(end)
        stamps = {
            key.split("/")[-2].removeprefix("interval_end=")
            for hour in _hours(start, end)
            for key in self._list(s3, f"{self.prefix.strip('/')}/{STATE}/interval_end={hour.strftime('%Y%m%dT%H')}")
            if key.endswith("/emitted.parquet")  # written last: its presence means the state is complete
        }
        inside = sorted(s for s in stamps if low < s < high)
        return inside[-1] if inside else None

    def _read_state(
        self, s3: S3BulkReaderHook, start: datetime, end: datetime, *, follow_inside: bool
    ) -> tuple[Any, str | None]:
        """The newest state written before ``end`` (at ``start`` or earlier, or by a manual run inside the interval)
        and its stamp; (empty state, None) when there is none.

        Normally that is the state of the interval ending at ``start``. A manual run inside the interval left a newer
        one: continuing from it, this run neither re-reads nor re-emits what that run emitted, and a manual run
        continues from the scheduled chain's newest state the same way. Replays and backfills (``follow_inside``
        False) start from the interval's start, so they re-derive everything stamped inside it. When an earlier run
        failed, the newest state is older, and the caller then reads every batch stamped after it, so no batch is
        skipped.
        """
        from flytelineage.domain.execution_grouping import GroupingState

        inside = self._state_inside(s3, start, end) if follow_inside else None
        if inside is not None:
            tables = self._state_tables(s3, inside)
            if tables is not None:
                self.log.info("A newer grouping state (%s) lies inside this interval: continuing from it", inside)
                return GroupingState(pending=tables["pending"], emitted=tables["emitted"]), inside
        stamp = storage_keys.stamp(start)
        direct = self._state_tables(s3, stamp)  # the usual case: one GET each, no listing
        if direct is not None:
            return GroupingState(pending=direct["pending"], emitted=direct["emitted"]), stamp
        candidates = [
            k.split("/")[-2].removeprefix("interval_end=")
            for k in self._list(s3, f"{self.prefix.strip('/')}/{STATE}/")
            if k.endswith("/emitted.parquet")  # written last: its presence means the state is complete
        ]
        earlier = sorted(c for c in candidates if c < stamp)
        if not earlier:
            self.log.info("No grouping state at or before %s: reading every stored batch up to the interval end", stamp)
            return GroupingState.empty(), None
        self.log.warning(
            "No grouping state for %s (a run failed or was skipped?): resuming from %s", stamp, earlier[-1]
        )
        tables = self._state_tables(s3, earlier[-1])
        if tables is None:
            raise RuntimeError(f"grouping state {earlier[-1]} is listed but cannot be read")
        return GroupingState(pending=tables["pending"], emitted=tables["emitted"]), earlier[-1]

    def _state_tables(self, s3: S3BulkReaderHook, stamp: str) -> dict[str, Any] | None:
        """The pending and emitted tables written at ``stamp``; None when either is missing."""
        from flytelineage.domain.event_table import parquet_bytes_to_table

        base = f"s3://{self.bucket}/{self.prefix.strip('/')}/{STATE}/interval_end={stamp}/"
        uris = {name: f"{base}{name}.parquet" for name in ("pending", "emitted")}
        read = s3.read_objects(list(uris.values()))
        if any(isinstance(read[uri], Exception) for uri in uris.values()):
            return None
        return {name: parquet_bytes_to_table(read[uri]) for name, uri in uris.items()}  # type: ignore[arg-type]

    def _put(self, s3: S3BulkReaderHook, key: str, data: bytes) -> None:
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"write s3://{self.bucket}/{key}", conn_id=self.aws_conn_id):
            s3.load_bytes(data, key=key, bucket_name=self.bucket, replace=True)

    def _list(self, s3: S3BulkReaderHook, prefix: str) -> list[str]:
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"list s3://{self.bucket}/{prefix}", conn_id=self.aws_conn_id):
            return list(s3.list_keys(bucket_name=self.bucket, prefix=prefix) or [])

    # ---- execute -------------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> list[str]:
        """Group, resolve and persist the interval's completed executions; return the shard keys."""
        from flytelineage.domain.event_table import EVENT_SCHEMA, parquet_bytes_to_table, table_to_parquet_bytes
        from flytelineage.domain.execution_grouping import rejected_rows, split_ready
        from flytelineage.domain.execution_lineage import RejectedExecution, resolve_executions
        from flytelineage.errors import StorageError
        from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook
        from flytelineage.operators.drain_events import is_backfill
        from flytelineage.operators.fail_fast import failing_fast
        from flytelineage.operators.shard_io import as_bool, as_str_list

        _return_freed_memory_early()
        start, end = interval_of(context, self.replay_start, self.replay_end)
        s3 = S3BulkReaderHook(aws_conn_id=self.aws_conn_id, concurrency=int(self.read_concurrency))
        replay = bool(self.replay_start or self.replay_end)
        state, state_stamp = self._read_state(s3, start, end, follow_inside=not (replay or is_backfill(context)))
        batch_keys = self._batch_keys(s3, state_stamp, end)
        batches = s3.read_objects([f"s3://{self.bucket}/{k}" for k in batch_keys])
        tables = []
        for uri, data in batches.items():
            if isinstance(data, Exception):
                with failing_fast(f"read event batch {uri}", conn_id=self.aws_conn_id):
                    raise StorageError(f"cannot read event batch {uri}: {data}") from data
            tables.append(parquet_bytes_to_table(data))
        new_rows = sum(t.num_rows for t in tables)
        split = split_ready(
            state,
            tables or [EVENT_SCHEMA.empty_table()],  # a list lets split_ready free each batch once merged
            as_of=end,
            settle=timedelta(seconds=int(self.settle_seconds)),
            max_pending_age=timedelta(days=int(self.pending_max_days)),
        )
        read_buckets = as_str_list(self.read_buckets)
        reader = S3BulkReaderHook(
            aws_conn_id=self.aws_conn_id,
            concurrency=int(self.read_concurrency),
            allowed_buckets=read_buckets,
        )
        rejected: list[RejectedExecution] = []
        executions = resolve_executions(
            split.ready, reader, read_buckets=read_buckets, link_events=split.state.pending, rejected=rejected
        )
        shard_keys = self._write_shards(s3, start, end, executions)
        if as_bool(self.persist_state):
            self._put(s3, self._key(STATE, end, "pending.parquet"), table_to_parquet_bytes(split.state.pending))
            self._put(s3, self._key(STATE, end, "emitted.parquet"), table_to_parquet_bytes(split.state.emitted))
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
            "state_from": state_stamp,
            "batches": len(batch_keys),
            "new_events": new_rows,
            "executions": len(executions),
            "pending_events": split.state.pending.num_rows,
            "late_events": split.late.num_rows,
            "expired_events": split.expired.num_rows,
            "rejected_executions": len(rejected),
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
            key = (
                f"{self.prefix.strip('/')}/{EXECUTIONS}/interval={storage_keys.stamp(start)}_{storage_keys.stamp(end)}"
                f"/shard-{number:05d}.jsonl.gz"
            )
            self._put(s3, key, executions_to_jsonl_gz(executions[first : first + size]))
            keys.append(key)
        return keys
