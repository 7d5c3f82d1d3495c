"""Table tests for ``arrow_schema_fields``: Flyte literal types and Parquet footers to ``SchemaField`` trees."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flyteidl.core import types_pb2

from flytelineage.domain.arrow_schema_fields import (
    NeedMoreBytes,
    declared_mismatches,
    field_from_arrow,
    field_from_literal_type,
    fields_from_schema_type,
    first_data_file,
    parse_parquet_tail,
)
from flytelineage.domain.lineage_model import SchemaField
from flytelineage.errors import DatasetReadError
from flytelineage.testing import flyte_literals as lit

S = types_pb2.SimpleType


@pytest.mark.parametrize(
    ("simple", "expected"),
    [
        (S.INTEGER, "int64"),
        (S.FLOAT, "double"),
        (S.STRING, "string"),
        (S.BOOLEAN, "bool"),
        (S.DATETIME, "timestamp[us]"),  # naive, as flytekit writes a declared datetime
        (S.DURATION, "duration[us]"),
        (S.BINARY, "binary"),
        (S.STRUCT, "unknown"),
    ],
)
def test_simple_types_map_to_arrow_names(simple: int, expected: str) -> None:
    assert field_from_literal_type("c", lit.simple_type(simple)) == SchemaField("c", expected)


def test_nested_literal_types_become_children() -> None:
    nested = types_pb2.LiteralType(structured_dataset_type=lit.structured_dataset_type({"x": lit.simple_type(S.FLOAT)}))
    assert field_from_literal_type("l", lit.list_type(lit.simple_type(S.INTEGER))) == SchemaField(
        "l", "list", children=(SchemaField("item", "int64"),)
    )
    assert field_from_literal_type("m", lit.map_type(lit.simple_type(S.STRING))) == SchemaField(
        "m", "map", children=(SchemaField("key", "string", nullable=False), SchemaField("value", "string"))
    )
    assert field_from_literal_type("s", nested) == SchemaField("s", "struct", children=(SchemaField("x", "double"),))


def test_legacy_schema_columns() -> None:
    schema = lit.schema_literal("s3://b/s", {"a": 0, "b": 4}).scalar.schema.type
    assert fields_from_schema_type(schema) == (SchemaField("a", "int64"), SchemaField("b", "timestamp[us]"))


@pytest.mark.parametrize(
    ("arrow_type", "type_name", "children"),
    [
        (pa.int32(), "int32", ()),
        (pa.decimal128(12, 2), "decimal128(12, 2)", ()),
        (pa.date32(), "date32[day]", ()),
        (pa.timestamp("ms"), "timestamp[ms]", ()),
        (pa.dictionary(pa.int8(), pa.string()), "string", ()),
        (pa.list_(pa.int64()), "list", (SchemaField("item", "int64"),)),
        (pa.large_list(pa.string()), "large_list", (SchemaField("item", "string"),)),
        (pa.list_(pa.field("element", pa.int8())), "list", (SchemaField("item", "int8"),)),
        (pa.struct([("a", pa.bool_())]), "struct", (SchemaField("a", "bool"),)),
        (
            pa.map_(pa.string(), pa.list_(pa.int16())),
            "map",
            (
                SchemaField("key", "string", nullable=False),
                SchemaField("value", "list", children=(SchemaField("item", "int16"),)),
            ),
        ),
    ],
)
def test_arrow_fields(arrow_type: pa.DataType, type_name: str, children: tuple[SchemaField, ...]) -> None:
    assert field_from_arrow(pa.field("f", arrow_type)) == SchemaField("f", type_name, True, children)


def _parquet(columns: int) -> bytes:
    table = pa.table({f"column_with_a_long_name_{i:05d}": [1] for i in range(columns)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_parse_tail_of_a_whole_small_file() -> None:
    schema = parse_parquet_tail(_parquet(3), is_whole_file=True)
    assert isinstance(schema, pa.Schema) and len(schema) == 3


def test_parse_tail_asks_for_more_when_the_footer_does_not_fit() -> None:
    data = _parquet(400)
    tail = data[-1024:]
    need = parse_parquet_tail(tail, is_whole_file=False)
    assert isinstance(need, NeedMoreBytes) and 1024 < need.nbytes <= len(data)
    schema = parse_parquet_tail(data[-need.nbytes :], is_whole_file=False)
    assert isinstance(schema, pa.Schema) and len(schema) == 400


@pytest.mark.parametrize(
    ("tail", "whole"),
    [
        (b"not parquet at all", True),
        (b"PAR1", True),
        (b"\xff\xff\x00\x00PAR1", True),
        (b"garbage!" * 4 + b"\x10\x00\x00\x00PAR1", False),
    ],
)
def test_corrupt_tails_raise_dataset_read_error(tail: bytes, whole: bool) -> None:
    with pytest.raises(DatasetReadError):
        parse_parquet_tail(tail, is_whole_file=whole)


def test_first_data_file_is_the_first_sorted_non_marker() -> None:
    files = ["s3://b/d/part-2.parquet", "s3://b/d/_SUCCESS", "s3://b/d/.part-0.crc", "s3://b/d/part-1.parquet"]
    assert first_data_file(files) == "s3://b/d/part-1.parquet"
    assert first_data_file(["s3://b/d/_SUCCESS"]) is None


@pytest.mark.parametrize(
    ("declared", "actual", "expected"),
    [
        # issue 10.3: a subset of the file's columns is a legitimate declaration
        ([SchemaField("a", "int64")], [SchemaField("a", "int64"), SchemaField("b", "string")], []),
        # width, unit and zone are not a mismatch (declared datetime vs naive timestamp[ns] from an old writer)
        (
            [SchemaField("t", "timestamp[us]"), SchemaField("s", "string"), SchemaField("i", "int64")],
            [SchemaField("t", "timestamp[ns]"), SchemaField("s", "large_string"), SchemaField("i", "int32")],
            [],
        ),
        ([SchemaField("zz", "int64")], [SchemaField("a", "int64")], ["column 'zz' is not in the file"]),
        (
            [SchemaField("a", "double")],
            [SchemaField("a", "string")],
            ["column 'a' is declared double but the file has string"],
        ),
    ],
)
def test_declared_mismatches(declared: list[SchemaField], actual: list[SchemaField], expected: list[str]) -> None:
    assert declared_mismatches(declared, actual) == expected
