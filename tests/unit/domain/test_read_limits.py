"""The hard limits of dataset resolution (``read_limits.ReadLimits``) on crafted LiteralMaps, footers and datasets.

Each row puts a bomb (``testing/literal_bombs.py``) in variable ``z_bomb`` beside a good dataset in ``a_good`` and
checks the exact problems, that the good dataset is still found, and what was read. The last tests run two whole
executions through ``resolve_executions``, one carrying the bomb: the other must come out exactly as without it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flyteidl.core import literals_pb2

from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table
from flytelineage.domain.execution_grouping import split_ready
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.lineage_model import Execution
from flytelineage.domain.literal_datasets import (
    TAIL_BYTES,
    FoundDataset,
    LiteralBudget,
    LiteralRef,
    MapToSearch,
    capped_reads,
    find_datasets,
    read_footer_schemas,
    read_literal_maps,
    search_literal_maps,
)
from flytelineage.domain.read_limits import DEFAULT_LIMITS, ReadLimits
from flytelineage.testing import flyte_literals as lit
from flytelineage.testing import literal_bombs as bombs
from flytelineage.testing.flyte_event_generator import generate
from flytelineage.testing.in_memory_objects import InMemoryObjectReader

MAP = "s3://b/run/outputs.pb"
BASE = "s3://b/x"
GOOD = "s3://b/good"
GOOD_FOUND = ("a_good", GOOD)


def _search(bomb: bombs.Bomb, limits: ReadLimits) -> tuple[list[tuple[str, str]], set[str], InMemoryObjectReader]:
    """Read ``MAP`` (``a_good`` + ``z_bomb``) and search it with one execution's budget: found, problems, reader."""
    literal_map = lit.literal_map_of({"a_good": lit.structured_dataset_literal(GOOD), "z_bomb": bomb.literal})
    reader = InMemoryObjectReader({MAP: literal_map.SerializeToString(), **bomb.objects})
    read = read_literal_maps([LiteralRef(MAP)], reader, limits=limits)
    assert set(read.maps) == {MAP}
    budget = LiteralBudget(limits)
    found = find_datasets(read.maps[MAP], read=read, budget=budget, where=f"LiteralMap {MAP}")
    return [(d.variable, d.uri) for d in found], budget.problems, reader


def _offloaded_reads(reader: InMemoryObjectReader) -> list[str]:
    return [uri for method, uris, _ in reader.calls if method == "read_heads" for uri in uris if uri != MAP]


def test_a_literal_referring_to_itself_is_one_cycle_problem_and_one_read() -> None:
    bomb = bombs.self_reference(BASE, n=20)  # copied in place 4 levels deep, this was 20^4 literals
    (uri,) = bomb.objects
    found, problems, reader = _search(bomb, DEFAULT_LIMITS)
    assert found == [GOOD_FOUND]
    assert problems == {f"offloaded literal {uri} refers back to itself ({uri} -> {uri}): not followed"}
    assert _offloaded_reads(reader) == [uri]
    # linear: a_good, the reference, its list and the list's 20 references are each walked once
    literal_map = lit.literal_map_of({"a_good": lit.structured_dataset_literal(GOOD), "z_bomb": bomb.literal})
    read = read_literal_maps([LiteralRef("inline://e/outputs", literal_map.SerializeToString())], reader)
    budget = LiteralBudget()
    find_datasets(read.maps["inline://e/outputs"], read=read, budget=budget)
    assert budget.walked == 1 + 1 + 1 + 20


def test_a_cycle_through_two_literals_is_followed_once_around() -> None:
    bomb = bombs.cycle(BASE)
    a, b = f"{BASE}/a_offloaded_metadata.pb", f"{BASE}/b_offloaded_metadata.pb"
    found, problems, reader = _search(bomb, DEFAULT_LIMITS)
    assert found == [GOOD_FOUND, ("z_bomb", f"{BASE}/in_b")]  # what B holds besides the cycle is found
    assert problems == {f"offloaded literal {a} refers back to itself ({a} -> {b} -> {a}): not followed"}
    assert sorted(_offloaded_reads(reader)) == [a, b]


def test_a_fan_out_is_read_once_per_object_and_walked_up_to_max_literals() -> None:
    bomb = bombs.fan_out(BASE, n=10, levels=4)  # the leaf is reached 10^4 times
    limits = ReadLimits(max_literals=5_000)
    found, problems, reader = _search(bomb, limits)
    assert problems == {
        f"LiteralMap {MAP}: more than max_literals (5000) literals in the execution's LiteralMaps; the search for "
        "datasets stopped in variable 'z_bomb'"
    }
    assert found[0] == GOOD_FOUND
    leaves = found[1:]
    assert {uri for _, uri in leaves} == {f"{BASE}/leaf"} and 0 < len(leaves) < 5_000 // 2
    assert sorted(_offloaded_reads(reader)) == sorted(bomb.objects)  # 5 objects, each read once


def test_the_fan_out_within_max_literals_finds_every_use() -> None:
    found, problems, _ = _search(bombs.fan_out(BASE, n=3, levels=3), DEFAULT_LIMITS)
    assert problems == set()
    assert len(found) == 1 + 3**3 and found[1] == ("z_bomb", f"{BASE}/leaf")


def test_depth_reached_through_offloaded_literals_stops_the_walk_and_the_reads() -> None:
    bomb = bombs.deep_chain(BASE, hops=40, nesting=10)
    found, problems, reader = _search(bomb, DEFAULT_LIMITS)
    assert found == [GOOD_FOUND]
    assert problems == {
        f"LiteralMap {MAP}: variable 'z_bomb' nests deeper than max_literal_depth (64): not searched below level 64"
    }
    # object k is reached at depth 2 + 11k: objects 0..5 are within 64 levels, the 34 others are never read
    assert _offloaded_reads(reader) == [f"{BASE}/deep{i}_offloaded_metadata.pb" for i in range(6)]


def test_a_chain_within_max_literal_depth_is_followed_to_the_end() -> None:
    found, problems, _ = _search(bombs.deep_chain(BASE, hops=3, nesting=2), DEFAULT_LIMITS)
    assert problems == set()
    assert found == [GOOD_FOUND, ("z_bomb", f"{BASE}/bottom")]


@pytest.mark.parametrize(
    ("what", "limit", "expected"),
    [
        ("LiteralMap", 1_024, {MAP: f"LiteralMap {MAP} not read: larger than max_literal_bytes (1024 bytes)"}),
        ("LiteralMap", 1_000_000, {}),
    ],
)
def test_literal_maps_larger_than_the_limit_are_not_read(what: str, limit: int, expected: dict[str, str]) -> None:
    padding = lit.str_literal("p" * 2_000)
    big = lit.literal_map_of({"a_good": lit.structured_dataset_literal(GOOD), "pad": padding}).SerializeToString()
    small = lit.literal_map_of({"v": lit.structured_dataset_literal(GOOD)}).SerializeToString()
    reader = InMemoryObjectReader({MAP: big, "s3://b/small.pb": small})
    inline = LiteralRef("inline://e/outputs", data=big)
    read = read_literal_maps([LiteralRef(MAP), LiteralRef("s3://b/small.pb"), inline], reader, limits=ReadLimits(limit))
    inline_problem = {
        "inline://e/outputs": f"{what} inline://e/outputs not read: larger than max_literal_bytes (1024 bytes)"
    }
    assert read.problems == ({**expected, **inline_problem} if expected else {})
    assert sorted(read.maps) == sorted(["s3://b/small.pb", *([] if expected else [MAP, "inline://e/outputs"])])
    # a ranged read of limit + 1 bytes: the object is never downloaded whole
    assert reader.calls == [("read_heads", (MAP, "s3://b/small.pb"), limit + 1)]


def test_an_offloaded_literal_larger_than_the_limit_is_a_problem_where_it_is_used() -> None:
    bomb = bombs.large_offloaded(BASE, size=5_000)
    (uri,) = bomb.objects
    found, problems, reader = _search(bomb, ReadLimits(max_literal_bytes=4_096))
    assert found == [GOOD_FOUND]
    assert problems == {f"offloaded literal {uri} not read: larger than max_literal_bytes (4096 bytes)"}
    assert [c[2] for c in reader.calls] == [4_097, 4_097]


def _to_search(key: str, literal: literals_pb2.Literal) -> MapToSearch[str]:
    return MapToSearch(key, lit.literal_map_of({"v": literal}), {}, f"LiteralMap {key}")


def test_a_bomb_in_one_literal_map_does_not_starve_the_others_of_the_execution() -> None:
    bomb = bombs.fan_out(BASE, n=10, levels=4)
    good = [_to_search(f"s3://b/{i}.pb", lit.structured_dataset_literal(f"{GOOD}/{i}")) for i in range(3)]
    maps = [_to_search("s3://b/bomb.pb", bomb.literal), *good]
    read = read_literal_maps([], InMemoryObjectReader({}))
    read.offloaded.update({uri: literals_pb2.Literal.FromString(data) for uri, data in bomb.objects.items()})
    found, problems = search_literal_maps(maps, read, ReadLimits(max_literals=5_000))
    assert problems == {
        "LiteralMap s3://b/bomb.pb: more than max_literals (5000) literals in the execution's LiteralMaps; the search "
        "for datasets stopped in variable 'v'"
    }
    assert [found[f"s3://b/{i}.pb"] for i in range(3)] == [
        [FoundDataset("v", "structured_dataset", f"{GOOD}/{i}", "parquet")] for i in range(3)
    ]
    # cut at its share (1,250) first, then searched again with all the others left: 5,000 less their 3 literals
    alone = LiteralBudget(ReadLimits(max_literals=5_000), allowance=5_000 - 3)
    assert found["s3://b/bomb.pb"] == find_datasets(maps[0].literal_map, read=read, budget=alone)
    assert alone.walked == 5_000 - 3 + 1 and len(found["s3://b/bomb.pb"]) > 2_000


# ---- footers and data reads -----------------------------------------------------------------------------------------


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("claimed", "max_footer", "problem"),
    [
        (
            0xFFFF_FFFF,
            DEFAULT_LIMITS.max_footer_bytes,
            "its footer claims 4294967295 bytes, more than max_footer_bytes (16777216); not read",
        ),
        (200_000, 100_000, "its footer claims 200000 bytes, more than max_footer_bytes (100000); not read"),
        # within the limit: the longer tail is read (the whole 100,000-byte file), and the claim is refuted
        (200_000, 300_000, "Parquet footer of 200000 bytes is longer than the file"),
    ],
)
def test_a_footer_longer_than_the_limit_is_never_requested(claimed: int, max_footer: int, problem: str) -> None:
    bomb = bombs.huge_footer(BASE, claimed=claimed, size=100_000)
    (uri,) = bomb.objects
    good_file = f"{GOOD}/00000"
    reader = InMemoryObjectReader({**bomb.objects, good_file: _parquet(pa.table({"a": [1]}))})
    datasets = [FoundDataset("a", "structured_dataset", GOOD, "parquet"), FoundDataset("z", "blob", uri, "parquet")]
    outcome = read_footer_schemas(datasets, reader, limits=ReadLimits(max_footer_bytes=max_footer))
    assert outcome.problems == {uri: f"Parquet file {uri}: {problem}"}
    assert [f.name for f in outcome.fields[GOOD]] == ["a"]
    tails = sorted(n for method, _, n in reader.calls if method == "read_tails" and n is not None)
    assert tails == ([TAIL_BYTES, claimed + 8] if claimed < max_footer else [TAIL_BYTES])


def test_dataset_reads_past_the_limit_are_one_problem_per_execution() -> None:
    many = find_datasets(lit.literal_map_of({"z": bombs.many_datasets(BASE, n=50).literal}))
    few = [FoundDataset("a", "structured_dataset", f"{GOOD}/{i}", "parquet") for i in range(3)]
    capped = capped_reads([many, few], limits=ReadLimits(max_dataset_reads=10))
    assert capped.problem == (
        "43 of the execution's 53 datasets to read were not listed or read for a schema (max_dataset_reads is 10); "
        f"they keep the columns of their literals: {BASE}/many/000007 and 42 more"
    )
    # dealt in turns, one per map: the small map is read whole, the large one gets the rest in its own order
    # (one list dataset z, its elements in list order: 0, 1, 2, ...)
    assert [(d.variable, d.element) for d in many[:4]] == [("z", "0"), ("z", "1"), ("z", "2"), ("z", "3")]
    assert capped.uris == frozenset(d.uri for d in many[7:])
    assert capped_reads([many, few], limits=ReadLimits(max_dataset_reads=53)).problem is None
    # outside read_buckets counts for nothing: those are refused, not read
    assert capped_reads([many, few], read_buckets=["other"], limits=ReadLimits(max_dataset_reads=0)).problem is None


# ---- whole executions -----------------------------------------------------------------------------------------------

AS_OF = datetime(2024, 1, 3, tzinfo=UTC)
BUCKET = "flyte-data"


def _bomb_at(name: str) -> str:
    return f"s3://{BUCKET}/metadata/propeller/flytesnacks-development-{name}/n2/data/0/outputs.pb"


def _resolve(
    names: list[str], bomb: Callable[[str], bombs.Bomb] | None, limits: ReadLimits
) -> tuple[dict[str, Execution], InMemoryObjectReader]:
    """Two ``linear`` executions; the node n2 outputs of ``bombed`` get a ``z_bomb`` variable holding ``bomb``."""
    runs = [generate("linear", name=n, bucket=BUCKET, seed=5) for n in names]
    objects = {k: v for run in runs for k, v in run.objects.items()}
    if bomb is not None:
        crafted = bomb(f"s3://{BUCKET}/bombs")
        uri = _bomb_at("bombed")
        outputs = literals_pb2.LiteralMap.FromString(objects[uri])
        outputs.literals["z_bomb"].CopyFrom(crafted.literal)
        objects[uri] = outputs.SerializeToString()
        objects.update(crafted.objects)
    messages = [SqsMessage(m.message_id, m.body) for run in runs for m in run.messages]
    decoded = decode_messages(messages, received_at=AS_OF - timedelta(hours=1))
    split = split_ready(None, [events_to_table(decoded.events)], as_of=AS_OF, settle=timedelta(0))
    reader = InMemoryObjectReader(objects)
    executions = resolve_executions(split.ready, reader, link_events=split.state.pending, limits=limits)
    return {e.id.name: e for e in executions}, reader


SMALL = ReadLimits(max_literals=20_000, max_dataset_reads=40)
WHOLE = [
    ("self_reference", bombs.self_reference, SMALL, "refers back to itself"),
    ("cycle", bombs.cycle, SMALL, "refers back to itself"),
    ("fan_out", bombs.fan_out, SMALL, "more than max_literals (20000) literals"),
    ("deep_chain", bombs.deep_chain, SMALL, "nests deeper than max_literal_depth (64)"),
    ("many_datasets", lambda base: bombs.many_datasets(base, n=2_000), SMALL, "(max_dataset_reads is 40)"),
    ("huge_footer", bombs.huge_footer, SMALL, "more than max_footer_bytes (16777216); not read"),
]


@pytest.mark.parametrize(("name", "bomb", "limits", "problem"), WHOLE, ids=[w[0] for w in WHOLE])
def test_a_bomb_in_one_execution_is_a_problem_on_it_alone(
    name: str, bomb: Callable[[str], bombs.Bomb], limits: ReadLimits, problem: str
) -> None:
    clean, _ = _resolve(["bombed", "beside"], None, limits)
    hit, reader = _resolve(["bombed", "beside"], bomb, limits)
    assert hit["beside"] == clean["beside"]  # the other execution comes out exactly as without the bomb
    new_problems = set(hit["bombed"].problems) - set(clean["bombed"].problems)
    # the bombs' datasets have no files: each one read is "could not be listed", the limit is one problem
    missing = {p for p in new_problems if p.startswith(f"dataset s3://{BUCKET}/bombs/") and "could not be listed" in p}
    (limit_problem,) = new_problems - missing
    assert problem in limit_problem
    # every dataset of the execution without the bomb still resolves, with the same schema
    by_key = {d.key: d for d in hit["bombed"].datasets}
    assert all(by_key.get(d.key) == d for d in clean["bombed"].datasets)
    assert [n.node_id for n in hit["bombed"].nodes] == [n.node_id for n in clean["bombed"].nodes]
    listed = [u for method, uris, _ in reader.calls if method == "list_files" for u in uris]
    assert len(listed) == len(set(listed))  # each directory listed once per run
    bombed_dirs = [u for u in listed if "/bombs/" in u]
    assert len(bombed_dirs) <= limits.max_dataset_reads
