"""The S3 key grammar as tables: inputs -> keys, keys -> parsed parts, and the round trips between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from flytelineage.domain import storage_keys as sk

T = datetime(2026, 11, 21, 12, 10, 5, tzinfo=UTC)
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))

# ---- stamps ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "stamp"),
    [
        (T, "20261121T121005Z"),
        (datetime(2026, 11, 21, 13, 10, 5, tzinfo=CET), "20261121T121005Z"),  # written in UTC
        (datetime(2027, 1, 1, 0, 30, tzinfo=CET), "20261231T233000Z"),  # across the year
        (datetime(2026, 11, 21, 12, 10, 5, 999_999, tzinfo=UTC), "20261121T121005Z"),  # whole seconds
    ],
)
def test_stamp(moment: datetime, stamp: str) -> None:
    assert sk.stamp(moment) == stamp
    assert sk.parse_stamp(stamp) == moment.replace(microsecond=0)
    assert sk.stamp(sk.parse_stamp(stamp)) == stamp


@pytest.mark.parametrize("bad", ["", "20261121T1210Z", "2026-11-21T12:10:05Z", "20261121T121005", "x20261121T121005Z"])
def test_parse_stamp_refuses_other_text(bad: str) -> None:
    with pytest.raises(ValueError):
        sk.parse_stamp(bad)


# ---- areas and batches ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "area", "expected"),
    [
        ("flyte-lineage", sk.EVENTS, "flyte-lineage/events/"),
        ("/teams/data/lineage/", sk.STATE, "teams/data/lineage/state/"),
        ("fl", sk.EXECUTIONS, "fl/executions/"),
        ("fl", sk.REPORTS, "fl/reports/"),
        ("", sk.EVENTS, "/events/"),  # an empty prefix keeps the leading slash every key has had
    ],
)
def test_area_prefix(prefix: str, area: str, expected: str) -> None:
    assert sk.area_prefix(prefix, area) == expected


@pytest.mark.parametrize(
    ("prefix", "area", "when", "digest", "expected"),
    [
        (
            "fl",
            sk.EVENTS,
            T,
            "abc",
            "fl/events/ingest_date=2026-11-21/ingest_hour=12/batch-20261121T121005Z-abc.parquet",
        ),
        (
            "/fl/",
            sk.QUARANTINE,
            datetime(2027, 1, 1, 0, 30, tzinfo=CET),
            "d1",
            "fl/quarantine/ingest_date=2026-12-31/ingest_hour=23/batch-20261231T233000Z-d1.parquet",
        ),
    ],
)
def test_batch_key_and_back(prefix: str, area: str, when: datetime, digest: str, expected: str) -> None:
    key = sk.batch_key(prefix, area, when, digest)
    assert key == expected
    assert key.startswith(sk.partition_prefix(prefix, area, when))
    assert sk.batch_stamp_of(key) == sk.stamp(when)
    assert sk.batch_time_of(key) == when.replace(microsecond=0)


@pytest.mark.parametrize(
    ("key", "stamp", "time"),
    [
        ("fl/events/ingest_date=2026-11-21/ingest_hour=12/batch-20261121T121005Z-abc.parquet", "20261121T121005Z", T),
        ("fl/events/ingest_date=2026-11-21/ingest_hour=12/batch-20261121T121005Z.parquet", None, None),
        ("fl/events/ingest_date=2026-11-21/ingest_hour=12/notes.txt", None, None),
        ("fl/events/ingest_date=2026-11-21/ingest_hour=12/batch-yesterday-abc.parquet", "yesterday", None),
        ("fl/state/interval_end=20261121T121005Z/emitted.parquet", None, None),
    ],
)
def test_batch_stamp_of(key: str, stamp: str | None, time: datetime | None) -> None:
    assert sk.batch_stamp_of(key) == stamp
    assert sk.batch_time_of(key) == time


def test_batch_listing_from_starts_at_the_watermarks_hour() -> None:
    assert sk.batch_listing_from("fl", sk.EVENTS, None) is None
    start_after = sk.batch_listing_from("fl", sk.EVENTS, "20261121T121005Z")
    assert start_after == "fl/events/ingest_date=2026-11-21/ingest_hour=12"
    assert sk.batch_key("fl", sk.EVENTS, T, "a") > start_after  # the watermark's own batches are listed
    assert sk.batch_key("fl", sk.EVENTS, T - timedelta(hours=1), "a") < start_after


# ---- grouping state and reports -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "part", "expected"),
    [
        ("fl", "pending", "fl/state/interval_end=20261121T121005Z/pending.parquet"),
        ("fl", "ledger", "fl/state/interval_end=20261121T121005Z/ledger.parquet"),
        ("/a/b/", "emitted", "a/b/state/interval_end=20261121T121005Z/emitted.parquet"),
    ],
)
def test_state_part_key_and_back(prefix: str, part: str, expected: str) -> None:
    key = sk.state_part_key(prefix, "20261121T121005Z", part)
    assert key == expected == sk.state_key(prefix, "20261121T121005Z", f"{part}.parquet")
    assert sk.interval_end_of(key) == "20261121T121005Z"
    assert sk.complete_state_stamp_of(key) == ("20261121T121005Z" if part == "emitted" else None)
    assert key > sk.state_listing_from(prefix, "20261121T121005Z")
    assert key < sk.state_listing_from(prefix, "20261121T121006Z")


def test_state_parts_end_with_the_completion_mark() -> None:
    assert sk.STATE_PARTS[-1] + ".parquet" == sk.STATE_COMPLETE_MARK
    with pytest.raises(ValueError, match="not a grouping state part"):
        sk.state_part_key("fl", "20261121T121005Z", "late")


@pytest.mark.parametrize(
    ("key", "stamp"),
    [
        ("fl/state/interval_end=20261121T121005Z/emitted.parquet", "20261121T121005Z"),
        ("/state/interval_end=20261121T121005Z/emitted.parquet", "20261121T121005Z"),
        ("fl/state/interval_end=20261121T121005Z/pending.parquet", None),
        ("fl/state/interval_end=garbage/emitted.parquet", None),
        ("fl/state/datahub-digests/emitted.parquet", None),
        ("fl/state/glue_pending/0123.json", None),
        ("interval_end=20261121T121005Z/emitted.parquet", None),
    ],
)
def test_complete_state_stamp_of(key: str, stamp: str | None) -> None:
    assert sk.complete_state_stamp_of(key) == stamp


@pytest.mark.parametrize(
    ("prefix", "name", "expected"),
    [
        ("fl", "late.parquet", "fl/reports/interval_end=20261121T121005Z/late.parquet"),
        ("/fl/", "rejected.parquet", "fl/reports/interval_end=20261121T121005Z/rejected.parquet"),
    ],
)
def test_report_key_and_back(prefix: str, name: str, expected: str) -> None:
    key = sk.report_key(prefix, T, name)
    assert key == expected == sk.interval_end_key(prefix, sk.REPORTS, sk.stamp(T), name)
    assert sk.interval_end_of(key) == sk.stamp(T)


# ---- executions shards ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "number", "expected"),
    [
        ("fl", 0, "fl/executions/interval=20261121T120000Z_20261121T121005Z/shard-00000.jsonl.gz"),
        ("/teams/data/", 12, "teams/data/executions/interval=20261121T120000Z_20261121T121005Z/shard-00012.jsonl.gz"),
        ("", 3, "/executions/interval=20261121T120000Z_20261121T121005Z/shard-00003.jsonl.gz"),
        ("fl", 123_456, "fl/executions/interval=20261121T120000Z_20261121T121005Z/shard-123456.jsonl.gz"),
    ],
)
def test_shard_key_and_back(prefix: str, number: int, expected: str) -> None:
    key = sk.shard_key(prefix, START, T, number)
    assert key == expected
    assert key.startswith(sk.shard_folder(prefix, START, T)) and key.startswith(sk.executions_prefix(prefix))
    assert sk.parse_shard_key(key) == sk.ShardKeyParts(prefix=prefix.strip("/"), start=START, end=T, number=number)
    assert sk.shard_interval_end(key) == T
    assert sk.prefix_of_shard_key(key) == prefix.strip("/")


@pytest.mark.parametrize(
    "key",
    [
        "fl/executions/interval=20261121T120000Z_20261121T121005Z/shard-00000.json",
        "fl/executions/interval=20261121T120000Z/shard-00000.jsonl.gz",
        "fl/executions/interval=20261121T120000Z_20261121T121005Z/part-00000.jsonl.gz",
        "fl/executions/interval=20261121T120000Z_20261121T121005Z/x/shard-00000.jsonl.gz",
        "fl/execution/interval=20261121T120000Z_20261121T121005Z/shard-00000.jsonl.gz",
        "fl/state/interval_end=20261121T121005Z/pending.parquet",
        "fl/retention/ledger.json",
    ],
)
def test_parse_shard_key_refuses_other_keys(key: str) -> None:
    assert sk.parse_shard_key(key) is None and sk.shard_interval_end(key) is None


def test_a_prefix_that_contains_executions_parses_to_itself() -> None:
    key = sk.shard_key("a/executions/b", START, T, 1)
    assert sk.parse_shard_key(key) == sk.ShardKeyParts(prefix="a/executions/b", start=START, end=T, number=1)


# ---- other state ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("flyte-lineage", "flyte-lineage/retention/ledger.json"), ("/fl/", "fl/retention/ledger.json")],
)
def test_retention_ledger_key(prefix: str, expected: str) -> None:
    assert sk.retention_ledger_key(prefix) == expected
