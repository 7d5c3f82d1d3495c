"""Dataset schemas as ``lineage_model.SchemaField`` trees, from Flyte literal types or from Parquet footers.

Two sources, in order of preference (flyte-events.md section 4):

- the literal type's columns (``StructuredDatasetType.columns`` or the legacy ``SchemaType.columns``), present only
  when the task signature annotated them; mapped to Arrow-like type names (INTEGER -> ``int64``, FLOAT ->
  ``double``, STRING -> ``string``, BOOLEAN -> ``bool``, DATETIME -> ``timestamp[us]`` (naive: what flytekit's
  pandas/pyarrow encoders write for a declared ``datetime``), DURATION ->
  ``duration[us]``, collections -> ``list``, string-keyed maps -> ``map``, nested structured dataset types ->
  ``struct``);
- the Parquet footer of the data file: only the last bytes of the file are read, never row data.
  ``parse_parquet_tail`` tells the caller how many bytes it needs when the first tail read was too short.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from flyteidl.core import types_pb2

from flytelineage.domain.lineage_model import SchemaField
from flytelineage.errors import DatasetReadError

PARQUET_MAGIC = b"PAR1"
_TRAILER = 8  # 4-byte little-endian footer length + magic

_SIMPLE_TO_ARROW = {
    types_pb2.SimpleType.INTEGER: "int64",
    types_pb2.SimpleType.FLOAT: "double",
    types_pb2.SimpleType.STRING: "string",
    types_pb2.SimpleType.BOOLEAN: "bool",
    types_pb2.SimpleType.DATETIME: "timestamp[us]",
    types_pb2.SimpleType.DURATION: "duration[us]",
    types_pb2.SimpleType.BINARY: "binary",
    types_pb2.SimpleType.NONE: "null",
}
_SCHEMA_COLUMN_TO_ARROW = {
    types_pb2.SchemaType.SchemaColumn.INTEGER: "int64",
    types_pb2.SchemaType.SchemaColumn.FLOAT: "double",
    types_pb2.SchemaType.SchemaColumn.STRING: "string",
    types_pb2.SchemaType.SchemaColumn.BOOLEAN: "bool",
    types_pb2.SchemaType.SchemaColumn.DATETIME: "timestamp[us]",
    types_pb2.SchemaType.SchemaColumn.DURATION: "duration[us]",
}


# ---- from Flyte literal types ---------------------------------------------------------------------------------------


def fields_from_structured_dataset_type(sd_type: types_pb2.StructuredDatasetType) -> tuple[SchemaField, ...]:
    """Columns of an annotated structured dataset type (empty when the type carries none)."""
    return tuple(field_from_literal_type(col.name, col.literal_type) for col in sd_type.columns)


def fields_from_schema_type(schema_type: types_pb2.SchemaType) -> tuple[SchemaField, ...]:
    """Columns of a legacy ``FlyteSchema`` type."""
    return tuple(
        SchemaField(name=col.name, type=_SCHEMA_COLUMN_TO_ARROW.get(col.type, "unknown")) for col in schema_type.columns
    )


def fields_from_literal_type(literal_type: types_pb2.LiteralType) -> tuple[SchemaField, ...]:
    """Columns carried by a dataset-valued ``LiteralType`` (structured dataset or schema), else empty."""
    which = literal_type.WhichOneof("type")
    if which == "structured_dataset_type":
        return fields_from_structured_dataset_type(literal_type.structured_dataset_type)
    if which == "schema":
        return fields_from_schema_type(literal_type.schema)
    return ()


def field_from_literal_type(name: str, literal_type: types_pb2.LiteralType) -> SchemaField:
    """One column whose type is a Flyte ``LiteralType``, nested types as children."""
    which = literal_type.WhichOneof("type")
    if which == "simple":
        return SchemaField(name=name, type=_SIMPLE_TO_ARROW.get(literal_type.simple, "unknown"))
    if which == "collection_type":
        return SchemaField(name, "list", children=(field_from_literal_type("item", literal_type.collection_type),))
    if which == "map_value_type":
        key = SchemaField("key", "string", nullable=False)
        return SchemaField(name, "map", children=(key, field_from_literal_type("value", literal_type.map_value_type)))
    if which == "structured_dataset_type":
        return SchemaField(
            name, "struct", children=fields_from_structured_dataset_type(literal_type.structured_dataset_type)
        )
    if which == "schema":
        return SchemaField(name, "struct", children=fields_from_schema_type(literal_type.schema))
    if which == "enum_type":
        return SchemaField(name=name, type="string")
    if which == "blob":
        return SchemaField(name=name, type="string")
    return SchemaField(name=name, type="unknown")


def describe_fields(fields: Iterable[SchemaField]) -> str:
    """``name: type, ...``: declared columns kept as a documentation property when the footer is the schema."""
    return ", ".join(f"{f.name}: {f.type}" for f in fields)


def _family(type_name: str) -> str:
    """A coarse type family, so that a declaration and a file agree when only width, unit or zone differ."""
    name = type_name.split("[", 1)[0].split("(", 1)[0]
    for prefix, family in (
        ("large_string", "string"),
        ("string", "string"),
        ("utf8", "string"),
        ("large_list", "list"),
        ("int", "int"),
        ("uint", "int"),
        ("float", "float"),
        ("double", "float"),
        ("halffloat", "float"),
        ("timestamp", "timestamp"),
        ("duration", "duration"),
        ("date", "date"),
        ("decimal", "decimal"),
        ("binary", "binary"),
        ("large_binary", "binary"),
    ):
        if name.startswith(prefix):
            return family
    return name


def declared_mismatches(declared: Iterable[SchemaField], actual: Iterable[SchemaField]) -> list[str]:
    """How declared columns disagree with the file's: missing columns and type families that differ.

    Columns in the file that were not declared are not a mismatch: flytekit writes the whole frame and an
    annotation naming a subset of columns is a common, legitimate declaration.
    """
    in_file = {f.name: f for f in actual}
    problems = []
    for column in declared:
        found = in_file.get(column.name)
        if found is None:
            problems.append(f"column {column.name!r} is not in the file")
        elif _family(found.type) != _family(column.type) and column.type != "unknown":
            problems.append(f"column {column.name!r} is declared {column.type} but the file has {found.type}")
    return problems


# ---- from Arrow schemas and Parquet footers -------------------------------------------------------------------------


def fields_from_arrow_schema(schema: pa.Schema) -> tuple[SchemaField, ...]:
    """Convert a pyarrow schema (e.g. from a Parquet footer) to ``SchemaField`` trees."""
    return tuple(field_from_arrow(f) for f in schema)


def field_from_arrow(arrow_field: pa.Field) -> SchemaField:
    """Convert one pyarrow field; nested list/struct/map types keep their element fields as children."""
    return SchemaField(
        name=arrow_field.name,
        type=_type_name(arrow_field.type),
        nullable=arrow_field.nullable,
        children=_children(arrow_field.type),
    )


def _type_name(arrow_type: pa.DataType) -> str:
    if pa.types.is_large_list(arrow_type):
        return "large_list"
    if pa.types.is_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type) or pa.types.is_list_view(arrow_type):
        return "list"
    if pa.types.is_struct(arrow_type):
        return "struct"
    if pa.types.is_map(arrow_type):
        return "map"
    if pa.types.is_dictionary(arrow_type):
        return _type_name(arrow_type.value_type)
    return str(arrow_type)


def _children(arrow_type: pa.DataType) -> tuple[SchemaField, ...]:
    if pa.types.is_map(arrow_type):
        return (_renamed(arrow_type.key_field, "key"), _renamed(arrow_type.item_field, "value"))
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
        or pa.types.is_list_view(arrow_type)
    ):
        return (_renamed(arrow_type.value_field, "item"),)
    if pa.types.is_struct(arrow_type):
        return tuple(field_from_arrow(arrow_type.field(i)) for i in range(arrow_type.num_fields))
    if pa.types.is_dictionary(arrow_type):
        return _children(arrow_type.value_type)
    return ()


def _renamed(arrow_field: pa.Field, name: str) -> SchemaField:
    """Element fields get the model's fixed names (``item``, ``key``, ``value``) whatever the writer called them."""
    return SchemaField(name, _type_name(arrow_field.type), arrow_field.nullable, _children(arrow_field.type))


@dataclass(frozen=True)
class NeedMoreBytes:
    """The footer is longer than the tail that was read: read the last ``nbytes`` of the file instead."""

    nbytes: int

    @property
    def footer_bytes(self) -> int:
        """The footer length the file claims (``nbytes`` less the length field and the magic)."""
        return self.nbytes - _TRAILER


def is_parquet_tail(tail: bytes) -> bool:
    """True when the bytes end like a Parquet file (footer length + ``PAR1``): how Parquet is recognised, whatever
    format a blob declares."""
    return len(tail) >= _TRAILER and tail[-4:] == PARQUET_MAGIC


def parse_parquet_tail(tail: bytes, *, is_whole_file: bool) -> pa.Schema | NeedMoreBytes:
    """Parse the Arrow schema from the last bytes of a Parquet file.

    ``is_whole_file`` says the reader returned fewer bytes than requested, i.e. the file is shorter than the tail;
    a footer longer than such a tail means the file is corrupt. Raises ``DatasetReadError`` on corrupt data.
    """
    if len(tail) < _TRAILER or tail[-4:] != PARQUET_MAGIC:
        raise DatasetReadError("not a Parquet file (no PAR1 magic at the end)")
    (footer_len,) = struct.unpack("<I", tail[-_TRAILER:-4])
    needed = footer_len + _TRAILER
    if needed > len(tail):
        if is_whole_file:
            raise DatasetReadError(f"Parquet footer of {footer_len} bytes is longer than the file")
        return NeedMoreBytes(needed)
    # pyarrow only needs the footer; a leading magic makes the buffer look like a (data-less) Parquet file.
    buffer = PARQUET_MAGIC + tail[-needed:]
    try:
        return pq.read_schema(pa.BufferReader(buffer))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetReadError(f"corrupt Parquet footer: {exc}") from exc


def first_data_file(file_uris: Iterable[str]) -> str | None:
    """The data file whose footer stands for a multi-file dataset: the first in sorted order (the first named
    ``*.parquet`` / ``*.pq`` when there is one, so a directory mixing Parquet with other files is read right).

    Files whose base name starts with ``_`` or ``.`` (``_SUCCESS``, ``_metadata``, ``.crc``) are markers, not data.
    All files of one Flyte dataset are written by one task with one schema, so one footer is representative.
    """
    data = sorted(u for u in file_uris if not u.rstrip("/").rsplit("/", 1)[-1].startswith(("_", ".")))
    parquet = [u for u in data if u.lower().endswith((".parquet", ".pq"))]
    return (parquet or data)[0] if data else None
