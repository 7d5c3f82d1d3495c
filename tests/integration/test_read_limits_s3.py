"""The size limits against S3 (moto_server) through ``S3BulkReaderHook``: an oversized LiteralMap, offloaded literal
or footer is a problem, and the bytes S3 sends (each GetObject response's Content-Length) stay within the limit."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flytelineage.domain.literal_datasets import (
    TAIL_BYTES,
    FoundDataset,
    LiteralBudget,
    LiteralRef,
    find_datasets,
    read_footer_schemas,
    read_literal_maps,
)
from flytelineage.domain.read_limits import ReadLimits
from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook
from flytelineage.testing import flyte_literals as lit
from flytelineage.testing import literal_bombs as bombs
from flytelineage.testing.flyte_event_generator import write_objects

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024


def _hook_counting_bytes() -> tuple[S3BulkReaderHook, list[int]]:
    """A bulk reader whose client records the Content-Length of every GetObject response."""
    hook = S3BulkReaderHook(aws_conn_id=None, concurrency=4)
    sent: list[int] = []

    def record(http_response: Any, **_: Any) -> None:
        sent.append(int(http_response.headers.get("Content-Length", 0)))

    hook.get_conn().meta.events.register("after-call.s3.GetObject", record)
    return hook, sent


def test_oversized_literal_maps_and_offloaded_literals_are_never_downloaded(s3_client, bucket: str) -> None:  # type: ignore[no-untyped-def]
    base = f"s3://{bucket}"
    large = bombs.large_offloaded(f"{base}/x", size=3 * LIMIT)
    (large_uri,) = large.objects
    good = lit.literal_map_of({"a": lit.structured_dataset_literal(f"{base}/good"), "z": large.literal})
    objects = {
        f"{base}/good/outputs.pb": good.SerializeToString(),
        f"{base}/big/outputs.pb": b"\n" * (4 * LIMIT),
        **large.objects,
    }
    write_objects(s3_client, objects)
    hook, sent = _hook_counting_bytes()
    limits = ReadLimits(max_literal_bytes=LIMIT)

    read = read_literal_maps(
        [LiteralRef(f"{base}/good/outputs.pb"), LiteralRef(f"{base}/big/outputs.pb")], hook, limits=limits
    )

    too_large = "not read: larger than max_literal_bytes (65536 bytes)"
    assert read.problems == {
        f"{base}/big/outputs.pb": f"LiteralMap {base}/big/outputs.pb {too_large}",
        large_uri: f"offloaded literal {large_uri} {too_large}",
    }
    budget = LiteralBudget(limits)
    found = find_datasets(read.maps[f"{base}/good/outputs.pb"], read=read, budget=budget)
    assert [(d.variable, d.uri) for d in found] == [("a", f"{base}/good")]
    assert budget.problems == {read.problems[large_uri]}
    assert len(sent) == 3 and max(sent) == LIMIT + 1  # S3 sent at most the limit + 1 byte of each


def test_a_footer_claiming_4_gib_is_not_requested(s3_client, bucket: str) -> None:  # type: ignore[no-untyped-def]
    base = f"s3://{bucket}"
    bomb = bombs.huge_footer(f"{base}/x")
    (bomb_uri,) = bomb.objects
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1], "b": ["x"]}), buffer)
    write_objects(s3_client, {**bomb.objects, f"{base}/good/part-0.parquet": buffer.getvalue()})
    hook, sent = _hook_counting_bytes()
    datasets = [
        FoundDataset("a", "structured_dataset", f"{base}/good", "parquet"),
        FoundDataset("z", "blob", bomb_uri, "parquet"),
    ]

    outcome = read_footer_schemas(datasets, hook)

    assert outcome.problems == {
        bomb_uri: f"Parquet file {bomb_uri}: its footer claims 4294967295 bytes, more than max_footer_bytes "
        "(16777216); not read"
    }
    assert [f.name for f in outcome.fields[f"{base}/good"]] == ["a", "b"]
    assert len(sent) == 2 and max(sent) <= TAIL_BYTES  # one tail each, no second read
