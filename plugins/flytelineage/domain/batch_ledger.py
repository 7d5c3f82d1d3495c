"""Which stored event batches the grouping state already holds: the ledger that replaces trusting interval stamps.

Contract (pure; no clock: the compaction horizon is passed in by the caller):

- A batch is **seen** when its key is in ``keys`` or its ingest stamp (``storage_keys.batch_stamp_of``) is at or
  before ``watermark``. Grouping reads every listed batch that is not seen, whatever its stamp, as long as the stamp
  is at or before the run's end; the keys it read are then added. So a batch written behind the state (a late or
  cleared drain run stamping an interval grouping already passed) is read by the next run, and a batch is read into
  one chain of states exactly once.
- ``compacted(horizon)`` keeps the ledger bounded: keys stamped at or before ``horizon`` are dropped and the watermark
  moves up to ``horizon``. It is only sound once every batch stamped at or before ``horizon`` that exists has been
  read, which holds right after a run read all unseen batches up to its end (the horizon lies before that end).
  A batch stamped at or before the watermark that appears later is not grouped by the chain (a replay covers it).
- A state written before the ledger existed has none: ``covering(stamp)`` treats every batch stamped at or before
  that state's stamp as seen, which is what the stamp-based listing assumed.

Stored as one Parquet object (``LEDGER_SCHEMA``: one ``key`` per row) next to the grouping state; the watermark and
a format version ride in the schema metadata, and an unknown version is refused with a message saying what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from flytelineage.domain import storage_keys

FORMAT_VERSION = "1"
LEDGER_SCHEMA = pa.schema([pa.field("key", pa.string(), nullable=False)])
_WATERMARK = b"flyte_lineage.watermark"
_VERSION = b"flyte_lineage.ledger_format_version"


class LedgerFormatError(ValueError):
    """A stored ledger this version cannot read."""


@dataclass(frozen=True)
class BatchLedger:
    """The batch keys a grouping state holds, and the stamp at or before which every batch counts as held."""

    keys: frozenset[str] = frozenset()
    watermark: str | None = None

    @classmethod
    def empty(cls) -> BatchLedger:
        """The ledger of the first run: nothing seen."""
        return cls()

    @classmethod
    def covering(cls, stamp: str | None) -> BatchLedger:
        """The ledger of a state written before ledgers existed: every batch stamped at or before ``stamp``."""
        return cls(watermark=stamp)

    def has_seen(self, key: str) -> bool:
        """True if the batch at ``key`` is already in the state (by key or under the watermark)."""
        if key in self.keys:
            return True
        key_stamp = storage_keys.batch_stamp_of(key)
        return self.watermark is not None and key_stamp is not None and key_stamp <= self.watermark

    def unseen(self, keys: Iterable[str], up_to: str) -> list[str]:
        """The batch keys among ``keys`` not seen yet and stamped at or before ``up_to``, sorted, without repeats.

        Keys that are not batch objects (no stamp) are ignored.
        """
        out = set()
        for key in keys:
            key_stamp = storage_keys.batch_stamp_of(key)
            if key_stamp is not None and key_stamp <= up_to and not self.has_seen(key):
                out.add(key)
        return sorted(out)

    def with_batches(self, keys: Iterable[str]) -> BatchLedger:
        """This ledger plus ``keys`` (those already under the watermark are not stored again)."""
        added = {k for k in keys if not self.has_seen(k)}
        return BatchLedger(keys=self.keys | added, watermark=self.watermark)

    def compacted(self, horizon: str) -> BatchLedger:
        """Summarize the keys stamped at or before ``horizon`` by the watermark (see the module contract)."""
        watermark = horizon if self.watermark is None or horizon > self.watermark else self.watermark
        kept = frozenset(k for k in self.keys if (storage_keys.batch_stamp_of(k) or "") > watermark)
        return BatchLedger(keys=kept, watermark=watermark)


def ledger_to_table(ledger: BatchLedger) -> pa.Table:
    """The stored form of a ledger (keys sorted, so equal ledgers give equal bytes)."""
    metadata = {_VERSION: FORMAT_VERSION.encode()}
    if ledger.watermark is not None:
        metadata[_WATERMARK] = ledger.watermark.encode()
    table = pa.table({"key": pa.array(sorted(ledger.keys), pa.string())}, schema=LEDGER_SCHEMA)
    return table.replace_schema_metadata(metadata)


def ledger_from_table(table: pa.Table) -> BatchLedger:
    """Read a stored ledger back; refuse a format this version does not know."""
    metadata = table.schema.metadata or {}
    version = metadata.get(_VERSION, b"").decode()
    if version != FORMAT_VERSION:
        raise LedgerFormatError(
            f"batch ledger format version {version or '(none)'!r} is not {FORMAT_VERSION!r}: upgrade flyte-lineage to "
            "the version that wrote it, or delete the state so grouping starts over from the stored batches"
        )
    watermark = metadata.get(_WATERMARK)
    keys = frozenset(str(k) for k in table.column("key").to_pylist()) if table.num_rows else frozenset()
    return BatchLedger(keys=keys, watermark=watermark.decode() if watermark is not None else None)
