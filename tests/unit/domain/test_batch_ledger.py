"""The batch ledger: which stored batches a grouping state holds, by key or under the watermark (tables)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flytelineage.domain.batch_ledger import BatchLedger, LedgerFormatError, ledger_from_table, ledger_to_table


def _key(stamp: str, digest: str = "d0") -> str:
    return f"fl/events/ingest_date=2026-11-21/ingest_hour={stamp[9:11]}/batch-{stamp}-{digest}.parquet"


A, B, C, D = (_key(s) for s in ("20261121T120000Z", "20261121T121000Z", "20261121T122000Z", "20261121T123000Z"))
B2 = _key("20261121T121000Z", "d1")  # a second batch with the same stamp (a cleared drain run)


@pytest.mark.parametrize(
    ("ledger", "listed", "up_to", "expected"),
    [
        (BatchLedger.empty(), [C, A, B], "20261121T122000Z", [A, B, C]),
        (BatchLedger.empty(), [A, B, C, D], "20261121T121000Z", [A, B]),  # stamped after the run's end: later
        (BatchLedger(keys=frozenset({A, B})), [A, B, B2, C], "20261121T123000Z", [B2, C]),  # late batch behind
        (BatchLedger.covering("20261121T121000Z"), [A, B, B2, C], "20261121T123000Z", [C]),  # a pre-ledger state
        (BatchLedger(frozenset({C}), "20261121T121000Z"), [A, B, C, D], "20261121T123000Z", [D]),
        (BatchLedger.empty(), [A, A, "fl/events/ingest_date=x/other.json"], "20261121T123000Z", [A]),
    ],
)
def test_unseen(ledger: BatchLedger, listed: list[str], up_to: str, expected: list[str]) -> None:
    assert ledger.unseen(listed, up_to) == expected


@pytest.mark.parametrize(
    ("ledger", "horizon", "expected"),
    [
        (BatchLedger(frozenset({A, B, C})), "20261121T121000Z", BatchLedger(frozenset({C}), "20261121T121000Z")),
        (
            BatchLedger(frozenset({C}), "20261121T122000Z"),
            "20261121T120000Z",
            BatchLedger(frozenset(), "20261121T122000Z"),
        ),
        (BatchLedger.empty(), "20261121T120000Z", BatchLedger(frozenset(), "20261121T120000Z")),
    ],
)
def test_compacted_summarizes_old_keys_by_the_watermark(
    ledger: BatchLedger, horizon: str, expected: BatchLedger
) -> None:
    compacted = ledger.compacted(horizon)
    assert compacted == expected
    assert all(compacted.has_seen(k) for k in ledger.keys)  # compaction never makes a read batch unseen


def test_with_batches_adds_only_what_is_not_covered() -> None:
    ledger = BatchLedger(frozenset({C}), "20261121T121000Z").with_batches([A, B2, D])
    assert ledger == BatchLedger(frozenset({C, D}), "20261121T121000Z")


@pytest.mark.parametrize(
    "ledger", [BatchLedger.empty(), BatchLedger(frozenset({B, A})), BatchLedger(frozenset({C}), "20261121T121000Z")]
)
def test_round_trip(ledger: BatchLedger) -> None:
    table = ledger_to_table(ledger)
    assert ledger_from_table(table) == ledger
    assert table.column("key").to_pylist() == sorted(ledger.keys)


def test_an_unknown_format_is_refused_with_what_to_do() -> None:
    with pytest.raises(LedgerFormatError, match="upgrade flyte-lineage"):
        ledger_from_table(pa.table({"key": pa.array([A])}))
