"""Table tests for ``literal_datasets``: finding datasets in LiteralMaps, batched reads, footers and problems."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flyteidl.core import literals_pb2, types_pb2

from flytelineage.domain.lineage_model import SchemaField
from flytelineage.domain.literal_datasets import (
    TAIL_BYTES,
    FoundDataset,
    LiteralBudget,
    LiteralRef,
    find_datasets,
    needs_footer,
    normalize_location,
    read_footer_schemas,
    read_literal_maps,
)
from flytelineage.domain.read_limits import DEFAULT_LIMITS
from flytelineage.testing import flyte_literals as lit
from flytelineage.testing.in_memory_objects import InMemoryObjectReader

S = types_pb2.SimpleType
INT = lit.simple_type(S.INTEGER)


def _map(**values: literals_pb2.Literal) -> literals_pb2.LiteralMap:
    return lit.literal_map_of(values)


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (lit.int_literal(1), []),
        (
            lit.structured_dataset_literal("s3://b/sd", {"a": INT}),
            [
                FoundDataset(
                    "v", "structured_dataset", "s3://b/sd", "parquet", (SchemaField("a", "int64"),), "literal_type"
                )
            ],
        ),
        (
            lit.structured_dataset_literal("s3://b/sd"),
            [FoundDataset("v", "structured_dataset", "s3://b/sd", "parquet")],
        ),
        (
            lit.schema_literal("s3://b/s", {"a": 2}),
            [FoundDataset("v", "schema", "s3://b/s", "parquet", (SchemaField("a", "string"),), "literal_type")],
        ),
        (lit.blob_literal("s3://b/f.csv", "csv", multipart=False), [FoundDataset("v", "blob", "s3://b/f.csv", "csv")]),
        (lit.blob_literal("s3://b/dir", "", multipart=True), [FoundDataset("v", "multipart_blob", "s3://b/dir", "")]),
        (
            lit.collection_literal([lit.blob_literal("s3://b/x", "", multipart=False), lit.int_literal(3)]),
            [FoundDataset("v", "blob", "s3://b/x", element="0")],
        ),
        (
            lit.map_literal(
                {"z": lit.structured_dataset_literal("s3://b/z"), "a": lit.structured_dataset_literal("s3://b/a")}
            ),
            [
                FoundDataset("v.a", "structured_dataset", "s3://b/a", "parquet"),
                FoundDataset("v.z", "structured_dataset", "s3://b/z", "parquet"),
            ],
        ),
    ],
)
def test_find_datasets(literal: literals_pb2.Literal, expected: list[FoundDataset]) -> None:
    assert find_datasets(_map(v=literal)) == expected


def test_declared_interface_supplies_missing_columns() -> None:
    declared = types_pb2.LiteralType(
        collection_type=types_pb2.LiteralType(structured_dataset_type=lit.structured_dataset_type({"a": INT}))
    )
    found = find_datasets(
        _map(v=lit.collection_literal([lit.structured_dataset_literal("s3://b/sd")])), {"v": declared}
    )
    assert found[0].fields == (SchemaField("a", "int64"),) and found[0].schema_source == "literal_type"


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        (FoundDataset("v", "structured_dataset", "s3://b/sd", "parquet"), True),
        (FoundDataset("v", "structured_dataset", "s3://b/sd", "csv"), False),
        # the footer is read even when columns are declared (issue 10.3)
        (FoundDataset("v", "structured_dataset", "s3://b/sd", "", (SchemaField("a", "int64"),)), True),
        (FoundDataset("v", "schema", "s3://b/s", "parquet"), True),
        (FoundDataset("v", "multipart_blob", "s3://b/d", ""), True),
        (FoundDataset("v", "blob", "s3://b/f", ""), True),  # a plain FlyteFile may be Parquet (issue 10.6)
        (FoundDataset("v", "blob", "s3://b/f.parquet", "parquet"), True),
    ],
)
def test_needs_footer(dataset: FoundDataset, expected: bool) -> None:
    assert needs_footer(dataset) is expected


def test_read_literal_maps_reads_once_and_records_problems() -> None:
    good = _map(v=lit.int_literal(1)).SerializeToString()
    reader = InMemoryObjectReader({"s3://ok/in.pb": good, "s3://ok/bad.pb": b"\xff\xff\xff"})
    refs = [
        LiteralRef("s3://ok/in.pb"),
        LiteralRef("s3://ok/in.pb"),
        LiteralRef("s3://ok/missing.pb"),
        LiteralRef("s3://ok/bad.pb"),
        LiteralRef("s3://nope/in.pb"),
        LiteralRef("inline://e/outputs", data=good),
    ]
    outcome = read_literal_maps(refs, reader, read_buckets=["ok"])
    assert sorted(outcome.maps) == ["inline://e/outputs", "s3://ok/in.pb"]
    assert set(outcome.problems) == {"s3://ok/missing.pb", "s3://ok/bad.pb", "s3://nope/in.pb"}
    assert "read_buckets" in outcome.problems["s3://nope/in.pb"]
    # one ranged read of at most max_literal_bytes + 1 bytes each: a larger object is never downloaded whole
    wanted = ("s3://ok/bad.pb", "s3://ok/in.pb", "s3://ok/missing.pb")
    assert reader.calls == [("read_heads", wanted, DEFAULT_LIMITS.max_literal_bytes + 1)]


def test_offloaded_literals_are_read_and_inlined() -> None:
    inner = lit.structured_dataset_literal("s3://b/sd", {"a": INT})
    offloaded, payload = lit.offloaded_literal("s3://b/o1_offloaded_metadata.pb", inner)
    lost, _ = lit.offloaded_literal("s3://b/lost.pb", inner)
    reader = InMemoryObjectReader(
        {"s3://b/out.pb": _map(o1=offloaded, o2=lost).SerializeToString(), "s3://b/o1_offloaded_metadata.pb": payload}
    )
    outcome = read_literal_maps([LiteralRef("s3://b/out.pb")], reader)
    budget = LiteralBudget()
    found = find_datasets(outcome.maps["s3://b/out.pb"], read=outcome, budget=budget)
    assert [(d.variable, d.uri) for d in found] == [("o1", "s3://b/sd")]
    assert budget.problems == {"offloaded literal s3://b/lost.pb could not be read: no object s3://b/lost.pb"}


def test_footer_schemas_use_the_first_sorted_file_and_read_more_when_needed() -> None:
    small = _parquet(pa.table({"a": [1], "b": ["x"]}))
    wide = _parquet(pa.table({f"a_rather_long_column_name_{i:04d}": [1.0] for i in range(2000)}))
    assert len(wide) > TAIL_BYTES
    reader = InMemoryObjectReader(
        {
            "s3://b/sd/00001": b"not read",
            "s3://b/sd/00000": small,
            "s3://b/sd/_SUCCESS": b"",
            "s3://b/wide.parquet": wide,
            "s3://b/empty/_SUCCESS": b"",
        }
    )
    datasets = [
        FoundDataset("v", "structured_dataset", "s3://b/sd", "parquet"),
        FoundDataset("w", "blob", "s3://b/wide.parquet", "parquet"),
        FoundDataset("x", "structured_dataset", "s3://b/empty", "parquet"),
        FoundDataset("y", "structured_dataset", "s3://b/none", "parquet"),
        FoundDataset("z", "structured_dataset", "s3://other/sd", "parquet"),
    ]
    outcome = read_footer_schemas(datasets, reader, read_buckets=["b"])
    assert outcome.fields["s3://b/sd"] == (SchemaField("a", "int64"), SchemaField("b", "string"))
    assert len(outcome.fields["s3://b/wide.parquet"]) == 2000
    assert set(outcome.problems) == {"s3://b/empty", "s3://b/none", "s3://other/sd"}
    probes = [c for c in reader.calls if c[0] == "read_tails" and c[2] == 1]
    assert probes == [("read_tails", ("s3://b/none",), 1)]  # nothing listed under it: is it one object?
    tails = [c for c in reader.calls if c[0] == "read_tails" and c[2] != 1]
    assert tails[0] == ("read_tails", ("s3://b/sd/00000", "s3://b/wide.parquet"), TAIL_BYTES)
    assert tails[1][1] == ("s3://b/wide.parquet",) and tails[1][2] > TAIL_BYTES
    assert not [c for c in reader.calls if any(u.startswith("s3://other/") for u in c[1])]  # never requested


def test_reader_exceptions_become_problems() -> None:
    class Failing(InMemoryObjectReader):
        def read_tails(self, file_uris, nbytes):  # type: ignore[no-untyped-def]
            return {u: PermissionError("denied") for u in file_uris}

    reader = Failing({"s3://b/sd/00000": b"x"})
    outcome = read_footer_schemas([FoundDataset("v", "structured_dataset", "s3://b/sd", "")], reader)
    assert "denied" in outcome.problems["s3://b/sd"]


# ---- issue 10: what flytekit 1.16 really writes ---------------------------------------------------------------------

SD_TYPE = types_pb2.LiteralType(structured_dataset_type=lit.structured_dataset_type({"a": INT}))


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        # point 1: Optional[pd.DataFrame] holding a frame, Union[FlyteFile, str] holding a file, and None
        (
            lit.union_literal(lit.structured_dataset_literal("s3://b/sd")),
            [("v", "", "structured_dataset", "s3://b/sd", "parquet")],
        ),
        (
            lit.union_literal(lit.blob_literal("s3://b/f.csv", "csv", multipart=False)),
            [("v", "", "blob", "s3://b/f.csv", "csv")],
        ),
        (lit.union_literal(lit.str_literal("x")), []),
        (
            lit.collection_literal([lit.union_literal(lit.structured_dataset_literal("s3://b/x"))]),
            [("v", "0", "structured_dataset", "s3://b/x", "parquet")],
        ),
        # point 2: dataclass / pydantic values as msgpack binary, and the older generic Struct
        (
            lit.msgpack_literal({"n": 1, "frame": lit.sd_value("s3://b/sd"), "f": lit.file_value("s3://b/f.txt")}),
            [("v.f", "", "blob", "s3://b/f.txt", ""), ("v.frame", "", "structured_dataset", "s3://b/sd", "parquet")],
        ),
        (
            lit.msgpack_literal(
                {"inner": {"items": [lit.sd_value("s3://b/a", "csv"), {"d": lit.file_value("s3://b/d")}]}}
            ),
            [
                # a list field: its items are elements of one list dataset, a dict key stays in the path
                ("v.inner.items", "0", "structured_dataset", "s3://b/a", "csv"),
                ("v.inner.items.d", "1", "blob", "s3://b/d", ""),
            ],
        ),
        (lit.msgpack_literal({"path": "/tmp/local/file"}), []),
        (lit.msgpack_literal([1, 2, 3]), []),
        (
            lit.generic_literal({"frame": lit.sd_value("s3://b/g"), "x": [lit.file_value("s3://b/h")]}),
            [("v.frame", "", "structured_dataset", "s3://b/g", "parquet"), ("v.x", "0", "blob", "s3://b/h", "")],
        ),
    ],
)
def test_find_datasets_in_unions_and_dataclasses(
    literal: literals_pb2.Literal, expected: list[tuple[str, str, str, str, str]]
) -> None:
    found = find_datasets(_map(v=literal))
    assert [(d.variable, d.element, d.kind, d.uri, d.format) for d in found] == sorted(expected)


def _sd(uri: str) -> literals_pb2.Literal:
    return lit.structured_dataset_literal(uri)


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        # issue 10 point 8: list indices are elements of one list dataset (numeric order), map keys stay in the path
        (
            lit.collection_literal([_sd(f"s3://b/{i}") for i in range(11)]),
            [("v", str(i), f"s3://b/{i}") for i in range(11)],
        ),
        (
            lit.collection_literal(
                [lit.collection_literal([_sd("s3://b/a"), _sd("s3://b/b")]), lit.collection_literal([_sd("s3://b/c")])]
            ),
            [("v", "0.0", "s3://b/a"), ("v", "0.1", "s3://b/b"), ("v", "1.0", "s3://b/c")],
        ),
        (
            lit.collection_literal(
                [
                    lit.map_literal({"train": _sd("s3://b/t0"), "test": _sd("s3://b/s0")}),
                    lit.map_literal({"train": _sd("s3://b/t1")}),
                ]
            ),
            [("v.test", "0", "s3://b/s0"), ("v.train", "0", "s3://b/t0"), ("v.train", "1", "s3://b/t1")],
        ),
        (
            lit.map_literal(
                {"eu": lit.collection_literal([_sd("s3://b/e0"), _sd("s3://b/e1")]), "us": _sd("s3://b/u")}
            ),
            [("v.eu", "0", "s3://b/e0"), ("v.eu", "1", "s3://b/e1"), ("v.us", "", "s3://b/u")],
        ),
        (
            lit.collection_literal(
                [lit.msgpack_literal({"parts": [lit.sd_value("s3://b/p0"), lit.sd_value("s3://b/p1")]})]
            ),
            [("v.parts", "0.0", "s3://b/p0"), ("v.parts", "0.1", "s3://b/p1")],
        ),
        (lit.collection_literal([]), []),
    ],
)
def test_collections_are_elements_of_one_path(
    literal: literals_pb2.Literal, expected: list[tuple[str, str, str]]
) -> None:
    assert [(d.variable, d.element, d.uri) for d in find_datasets(_map(v=literal))] == expected


def test_union_uses_the_stored_type_for_columns() -> None:
    found = find_datasets(_map(v=lit.union_literal(lit.structured_dataset_literal("s3://b/sd"), SD_TYPE)))
    assert found[0].fields == (SchemaField("a", "int64"),) and found[0].schema_source == "literal_type"


def test_corrupt_msgpack_is_not_a_crash() -> None:
    literal = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"\xc1\xff", tag="msgpack"))
    )
    assert find_datasets(_map(v=literal)) == []


PARQUET_AB = _parquet(pa.table({"a": [1], "b": ["x"]}))
AB = (SchemaField("a", "int64"), SchemaField("b", "string"))


@pytest.mark.parametrize(
    ("objects", "dataset", "fields", "layout", "problem"),
    [
        # point 5: a structured dataset whose URI is one object is a file, read as such
        (
            {"s3://b/x/data.parquet": PARQUET_AB},
            FoundDataset("v", "structured_dataset", "s3://b/x/data.parquet", "parquet"),
            AB,
            "file",
            None,
        ),
        (
            {"s3://b/x/part-0.parquet": PARQUET_AB},
            FoundDataset("v", "structured_dataset", "s3://b/x", "parquet"),
            AB,
            "directory",
            None,
        ),
        ({}, FoundDataset("v", "structured_dataset", "s3://b/gone", "parquet"), None, None, "could not be listed"),
        # a dataclass path: a file or a directory, decided by the data
        ({"s3://b/f": PARQUET_AB}, FoundDataset("v", "blob", "s3://b/f", "", layout="unknown"), AB, "file", None),
        (
            {"s3://b/d/1.csv": b"a,b\n1,2\n"},
            FoundDataset("v", "blob", "s3://b/d", "", layout="unknown"),
            None,
            "directory",
            None,
        ),
        # point 6: empty format; Parquet recognised by its magic, anything else is silently not Parquet
        ({"s3://b/plain": PARQUET_AB}, FoundDataset("v", "blob", "s3://b/plain", ""), AB, "file", None),
        ({"s3://b/t.txt": b"hello"}, FoundDataset("v", "blob", "s3://b/t.txt", ""), None, "file", None),
        (
            {"s3://b/csvs/a.csv": b"a\n1\n", "s3://b/csvs/b.csv": b"a\n2\n"},
            FoundDataset("v", "multipart_blob", "s3://b/csvs", ""),
            None,
            "directory",
            None,
        ),
        (
            {"s3://b/mixed/a.csv": b"a\n", "s3://b/mixed/z.parquet": PARQUET_AB},
            FoundDataset("v", "multipart_blob", "s3://b/mixed", ""),
            AB,
            "directory",
            None,
        ),
        # declared Parquet that is not: a problem
        (
            {"s3://b/f.parquet": b"hello"},
            FoundDataset("v", "blob", "s3://b/f.parquet", "parquet"),
            None,
            "file",
            "not a Parquet file",
        ),
        (
            {"s3://b/sd/0": b"hello"},
            FoundDataset("v", "structured_dataset", "s3://b/sd", ""),
            None,
            "directory",
            "not a Parquet file",
        ),
    ],
)
def test_layout_and_parquet_recognition(
    objects: dict[str, bytes],
    dataset: FoundDataset,
    fields: tuple[SchemaField, ...] | None,
    layout: str | None,
    problem: str | None,
) -> None:
    outcome = read_footer_schemas([dataset], InMemoryObjectReader(objects))
    assert outcome.fields.get(dataset.uri) == fields
    assert outcome.layouts.get(dataset.uri) == layout
    if problem is None:
        assert dataset.uri not in outcome.problems
    else:
        assert problem in outcome.problems[dataset.uri]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://b/x/", "s3://b/x"),
        ("s3://b/x", "s3://b/x"),
        ("s3://b/x//", "s3://b/x"),
        ("s3://b/", "s3://b"),
        ("/local/dir/", "/local/dir"),
        ("/", "/"),
    ],
)
def test_locations_are_normalized(uri: str, expected: str) -> None:
    assert normalize_location(uri) == expected
    assert find_datasets(_map(v=lit.structured_dataset_literal(uri)))[0].uri == expected
