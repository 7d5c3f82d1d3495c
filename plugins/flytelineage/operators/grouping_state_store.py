"""``GroupingStateStore``: what ``group_executions`` reads from and writes to S3, behind one small interface.

The store owns the I/O of grouping (the keys come from ``domain/storage_keys.py``, the formats from the domain):

- the **grouping states** (``state/interval_end=<stamp>/{pending,ledger,emitted}.parquet``): list the complete ones,
  plan which one a run continues from, read one, write one with ``emitted`` last (its presence marks it complete);
- the **event batches** the ledger has not seen (``events/``), read concurrently;
- the **executions shards** of an interval (``executions/interval=<start>_<end>/shard-NNNNN.jsonl.gz``) and the
  **reports** (``reports/interval_end=<stamp>/<name>.parquet``).

Every S3 call goes through ``failing_fast``, so a missing bucket or a denied request fails the task once with the
action and the connection named; an object that is listed but cannot be read raises ``StorageError``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flytelineage.domain import storage_keys

if TYPE_CHECKING:
    import pyarrow as pa

    from flytelineage.domain.batch_ledger import BatchLedger
    from flytelineage.domain.execution_grouping import GroupingState
    from flytelineage.domain.lineage_model import Execution
    from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook


@dataclass(frozen=True)
class Plan:
    """Where a run starts: ``base`` (the state it continues from, None for none), ``newest`` (the newest complete
    state when it looked) and ``superseded_by`` (the newest state stamped after this run's end, if any)."""

    base: str | None
    newest: str | None
    superseded_by: str | None


def is_missing(error: Exception) -> bool:
    """True for a read that failed because the object does not exist (not for throttling or access errors)."""
    response = getattr(error, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    return code in ("NoSuchKey", "404", "NotFound")


class GroupingStateStore:
    """The grouping's objects under ``s3://<bucket>/<prefix>/``, read and written through one S3 hook.

    :param s3: the S3 hook (only its ``load_bytes``, ``list_keys`` and ``read_objects`` are used).
    :param bucket: the bucket of the stored batches. :param prefix: their key prefix.
    :param conn_id: the Amazon connection, named in error messages.
    :param log: where to log (the operator's task log; this module's logger by default).
    """

    def __init__(
        self,
        s3: S3BulkReaderHook,
        *,
        bucket: str,
        prefix: str,
        conn_id: str | None = None,
        log: Any = None,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.conn_id = conn_id
        self.log = log or logging.getLogger(__name__)

    # ---- plain S3 ----------------------------------------------------------------------------------------------

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _put(self, key: str, data: bytes) -> None:
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"write {self._uri(key)}", conn_id=self.conn_id):
            self.s3.load_bytes(data, key=key, bucket_name=self.bucket, replace=True)

    def _list(self, prefix: str, start_after: str | None = None) -> list[str]:
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast(f"list {self._uri(prefix)}", conn_id=self.conn_id):
            return list(self.s3.list_keys(bucket_name=self.bucket, prefix=prefix, start_after_key=start_after) or [])

    # ---- grouping states ---------------------------------------------------------------------------------------

    def complete_states(self, since: str | None = None) -> list[str]:
        """Stamps of the complete grouping states stamped at or after ``since`` (None: all), sorted."""
        root = storage_keys.area_prefix(self.prefix, storage_keys.STATE)
        start_after = storage_keys.state_listing_from(self.prefix, since) if since else None
        stamps = {storage_keys.complete_state_stamp_of(k) for k in self._list(root, start_after)}
        return sorted(s for s in stamps if s is not None and (since is None or s >= since))

    def plan(self, start: datetime, end: datetime, *, chain: bool) -> Plan:
        """Pick the state a run of ``(start, end]`` continues from (see ``Plan``): with ``chain`` (scheduled and
        manual runs) the newest complete state before ``end``, so a manual run inside the interval is continued and
        never re-emitted; without (replays, backfills) the newest at or before ``start``, so the run re-derives its
        whole interval."""
        low, high = storage_keys.stamp(start), storage_keys.stamp(end)
        states = self.complete_states(low)
        newer = [s for s in states if s > high]
        candidates = [s for s in states if (s < high if chain else s <= low)]
        if not candidates:
            earlier = [s for s in self.complete_states(None) if s < low]
            if earlier:
                self.log.warning(
                    "No grouping state at or after %s (a run failed or was skipped?): from %s", low, earlier[-1]
                )
            candidates = earlier[-1:]
        base = candidates[-1] if candidates else None
        return Plan(base=base, newest=states[-1] if states else base, superseded_by=newer[-1] if newer else None)

    def read_state(self, base: str | None) -> tuple[GroupingState, BatchLedger]:
        """The grouping state and batch ledger written at ``base`` (empty ones for None)."""
        from flytelineage.domain.batch_ledger import BatchLedger, ledger_from_table
        from flytelineage.domain.event_table import parquet_bytes_to_table
        from flytelineage.domain.execution_grouping import GroupingState
        from flytelineage.errors import StorageError

        if base is None:
            self.log.info("No grouping state: reading every stored batch up to the interval end")
            return GroupingState.empty(), BatchLedger.empty()
        uris = {
            part: self._uri(storage_keys.state_part_key(self.prefix, base, part)) for part in storage_keys.STATE_PARTS
        }
        read = self.s3.read_objects(list(uris.values()))
        tables: dict[str, Any] = {}
        for part, uri in uris.items():
            data = read[uri]
            if isinstance(data, bytes):
                tables[part] = parquet_bytes_to_table(data)
            elif part != "ledger" or not is_missing(data):  # states written before the ledger existed have none
                raise StorageError(f"grouping state {base} is listed but cannot be read: {data}") from data
        state = GroupingState(pending=tables["pending"], emitted=tables["emitted"])
        if "ledger" not in tables:  # a state written before the ledger: its batches were selected by stamp
            self.log.info("Grouping state %s has no batch ledger: batches stamped up to it count as read", base)
            return state, BatchLedger.covering(base)
        return state, ledger_from_table(tables["ledger"])

    def write_state(self, end: datetime, state: GroupingState, ledger: BatchLedger) -> None:
        """Write the state of the interval ending at ``end``: ``pending``, ``ledger``, then ``emitted`` (last: it
        marks the state complete, so a run stopped half-way leaves no state a later run would continue from)."""
        from flytelineage.domain.batch_ledger import ledger_to_table
        from flytelineage.domain.event_table import table_to_parquet_bytes

        tables = {"pending": state.pending, "ledger": ledger_to_table(ledger), "emitted": state.emitted}
        end_stamp = storage_keys.stamp(end)
        for part in storage_keys.STATE_PARTS:
            self._put(storage_keys.state_part_key(self.prefix, end_stamp, part), table_to_parquet_bytes(tables[part]))

    # ---- event batches -----------------------------------------------------------------------------------------

    def unseen_batches(self, ledger: BatchLedger, end: datetime) -> list[str]:
        """Keys of the stored batches stamped at or before ``end`` that ``ledger`` has not seen (any older stamp)."""
        root = storage_keys.area_prefix(self.prefix, storage_keys.EVENTS)
        start_after = storage_keys.batch_listing_from(self.prefix, storage_keys.EVENTS, ledger.watermark)
        return ledger.unseen(self._list(root, start_after), storage_keys.stamp(end))

    def read_batches(self, keys: Sequence[str]) -> list[pa.Table]:
        """The event tables of the batches at ``keys``; one that cannot be read fails the task (``StorageError``)."""
        from flytelineage.domain.event_table import parquet_bytes_to_table
        from flytelineage.errors import StorageError
        from flytelineage.operators.fail_fast import failing_fast

        batches = self.s3.read_objects([self._uri(k) for k in keys])
        tables = []
        for uri, data in batches.items():
            if isinstance(data, Exception):
                with failing_fast(f"read event batch {uri}", conn_id=self.conn_id):
                    raise StorageError(f"cannot read event batch {uri}: {data}") from data
            tables.append(parquet_bytes_to_table(data))
        return tables

    # ---- shards and reports ------------------------------------------------------------------------------------

    def write_shards(
        self, start: datetime, end: datetime, executions: Sequence[Execution], *, shard_size: int
    ) -> list[str]:
        """Write the executions of ``(start, end]`` as shards of ``shard_size``; return their keys in order."""
        from flytelineage.domain.execution_store import executions_to_jsonl_gz

        size = max(1, shard_size)
        keys = []
        for number, first in enumerate(range(0, len(executions), size)):
            key = storage_keys.shard_key(self.prefix, start, end, number)
            self._put(key, executions_to_jsonl_gz(list(executions[first : first + size])))
            keys.append(key)
        return keys

    def interval_shards(self, start: datetime, end: datetime) -> list[str]:
        """The shards an earlier run of this same interval wrote, in order."""
        listed = self._list(storage_keys.shard_folder(self.prefix, start, end))
        return sorted(k for k in listed if storage_keys.parse_shard_key(k) is not None)

    def write_report(self, end: datetime, name: str, table: pa.Table) -> str:
        """Write one report table (``late``, ``expired``, ``rejected``) of the interval ending at ``end``."""
        from flytelineage.domain.event_table import table_to_parquet_bytes

        key = storage_keys.report_key(self.prefix, end, f"{name}.parquet")
        self._put(key, table_to_parquet_bytes(table))
        return key
