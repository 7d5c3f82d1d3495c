"""Builders for `flyteidl.core` literals and literal types, as flytekit writes them into inputs.pb / outputs.pb.

Only the shapes a lineage consumer has to understand are covered: primitives, structured datasets (with and without
annotated columns), legacy schemas, blobs (single file and multipart directory), collections, maps and offloaded
literals. `literal_type_of` infers the `LiteralType` of a literal, used for `offloaded_metadata.inferred_type` and for
the task/workflow interfaces that cloudEvents v2 attaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

SIMPLE = types_pb2.SimpleType
SCHEMA_COLUMN = types_pb2.SchemaType.SchemaColumn.SchemaColumnType


def simple_type(kind: int) -> types_pb2.LiteralType:
    """A `LiteralType` of the given `SimpleType` (e.g. `SIMPLE.INTEGER`)."""
    return types_pb2.LiteralType(simple=kind)  # type: ignore[arg-type]


def list_type(item: types_pb2.LiteralType) -> types_pb2.LiteralType:
    """A collection `LiteralType`."""
    return types_pb2.LiteralType(collection_type=item)


def map_type(value: types_pb2.LiteralType) -> types_pb2.LiteralType:
    """A map (string keys) `LiteralType`."""
    return types_pb2.LiteralType(map_value_type=value)


def int_literal(value: int) -> literals_pb2.Literal:
    """An integer literal."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def str_literal(value: str) -> literals_pb2.Literal:
    """A string literal."""
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))


def structured_dataset_type(
    columns: Mapping[str, types_pb2.LiteralType] | None = None, file_format: str = "parquet"
) -> types_pb2.StructuredDatasetType:
    """A `StructuredDatasetType`; `columns` empty or None is what an unannotated `pd.DataFrame` gives."""
    sd_type = types_pb2.StructuredDatasetType(format=file_format)
    for name, literal_type in (columns or {}).items():
        sd_type.columns.add(name=name, literal_type=literal_type)
    return sd_type


_SD_METADATA_CACHE: dict[tuple[tuple[str, bytes], ...], literals_pb2.StructuredDatasetMetadata] = {}


def _sd_metadata(
    columns: Mapping[str, types_pb2.LiteralType] | None, file_format: str
) -> literals_pb2.StructuredDatasetMetadata:
    key = (("", file_format.encode()), *((name, t.SerializeToString()) for name, t in (columns or {}).items()))
    found = _SD_METADATA_CACHE.get(key)
    if found is None:
        found = literals_pb2.StructuredDatasetMetadata(
            structured_dataset_type=structured_dataset_type(columns, file_format)
        )
        _SD_METADATA_CACHE[key] = found
    return found


def structured_dataset_literal(
    uri: str, columns: Mapping[str, types_pb2.LiteralType] | None = None, file_format: str = "parquet"
) -> literals_pb2.Literal:
    """A structured dataset literal whose `uri` is the directory prefix holding the data files."""
    literal = literals_pb2.Literal()
    dataset = literal.scalar.structured_dataset
    dataset.uri = uri
    # The metadata for a given column set is built once; CopyFrom is far cheaper than rebuilding it.
    dataset.metadata.CopyFrom(_sd_metadata(columns, file_format))
    return literal


def schema_literal(uri: str, columns: Mapping[str, int]) -> literals_pb2.Literal:
    """A legacy `FlyteSchema` literal; `columns` maps names to `SCHEMA_COLUMN` values."""
    schema_type = types_pb2.SchemaType()
    for name, column_type in columns.items():
        schema_type.columns.add(name=name, type=column_type)  # type: ignore[arg-type]
    schema = literals_pb2.Schema(uri=uri, type=schema_type)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(schema=schema))


def blob_literal(uri: str, file_format: str, *, multipart: bool) -> literals_pb2.Literal:
    """A blob literal: `FlyteFile` (single) or `FlyteDirectory` (multipart)."""
    dimensionality = types_pb2.BlobType.MULTIPART if multipart else types_pb2.BlobType.SINGLE
    blob_type = types_pb2.BlobType(format=file_format, dimensionality=dimensionality)
    blob = literals_pb2.Blob(metadata=literals_pb2.BlobMetadata(type=blob_type), uri=uri)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob))


def collection_literal(items: list[literals_pb2.Literal]) -> literals_pb2.Literal:
    """A collection (`List[...]`) literal."""
    return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))


def map_literal(items: Mapping[str, literals_pb2.Literal]) -> literals_pb2.Literal:
    """A map (`Dict[str, ...]`) literal."""
    literal_map = literals_pb2.LiteralMap()
    for key, value in items.items():
        literal_map.literals[key].CopyFrom(value)
    return literals_pb2.Literal(map=literal_map)


def offloaded_literal(uri: str, literal: literals_pb2.Literal) -> tuple[literals_pb2.Literal, bytes]:
    """Offload `literal` to `uri`: return the stub literal and the bytes (a serialized `core.Literal`) to store."""
    payload = literal.SerializeToString()
    metadata = literals_pb2.LiteralOffloadedMetadata(
        uri=uri, size_bytes=len(payload), inferred_type=literal_type_of(literal)
    )
    return literals_pb2.Literal(offloaded_metadata=metadata), payload


def literal_map_of(values: Mapping[str, literals_pb2.Literal]) -> literals_pb2.LiteralMap:
    """Build a `LiteralMap` (the content of an inputs.pb / outputs.pb) from named literals."""
    literal_map = literals_pb2.LiteralMap()
    for key, value in values.items():
        literal_map.literals[key].CopyFrom(value)
    return literal_map


def _scalar_type(scalar: literals_pb2.Scalar) -> types_pb2.LiteralType:
    kind = scalar.WhichOneof("value")
    if kind == "structured_dataset":
        return types_pb2.LiteralType(structured_dataset_type=scalar.structured_dataset.metadata.structured_dataset_type)
    if kind == "schema":
        return types_pb2.LiteralType(schema=scalar.schema.type)
    if kind == "blob":
        return types_pb2.LiteralType(blob=scalar.blob.metadata.type)
    if kind == "primitive":
        primitive_kind = scalar.primitive.WhichOneof("value")
        simple = {"integer": SIMPLE.INTEGER, "float_value": SIMPLE.FLOAT, "boolean": SIMPLE.BOOLEAN}
        return simple_type(simple.get(primitive_kind or "", SIMPLE.STRING))
    return simple_type(SIMPLE.NONE)


def literal_type_of(literal: literals_pb2.Literal) -> types_pb2.LiteralType:
    """Infer the `LiteralType` of a literal (first element decides for collections and maps)."""
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return _scalar_type(literal.scalar)
    if kind == "collection":
        items = literal.collection.literals
        return list_type(literal_type_of(items[0]) if items else simple_type(SIMPLE.NONE))
    if kind == "map":
        values = list(literal.map.literals.values())
        return map_type(literal_type_of(values[0]) if values else simple_type(SIMPLE.NONE))
    if kind == "offloaded_metadata":
        return literal.offloaded_metadata.inferred_type
    return simple_type(SIMPLE.NONE)


def typed_interface(
    inputs: Mapping[str, literals_pb2.Literal], outputs: Mapping[str, literals_pb2.Literal]
) -> interface_pb2.TypedInterface:
    """A `TypedInterface` whose variables carry the types of the given input and output literals."""
    interface = interface_pb2.TypedInterface()
    for name, literal in inputs.items():
        interface.inputs.variables[name].type.CopyFrom(literal_type_of(literal))
    for name, literal in outputs.items():
        interface.outputs.variables[name].type.CopyFrom(literal_type_of(literal))
    return interface


# ---- shapes added for what flytekit 1.16 really writes (issue 10) ---------------------------------------------------


def union_literal(
    value: literals_pb2.Literal, stored_type: types_pb2.LiteralType | None = None
) -> literals_pb2.Literal:
    """An ``Optional[...]`` / ``Union[...]`` value: flytekit wraps it with the type of the variant it stored."""
    union = literals_pb2.Union(value=value, type=stored_type or literal_type_of(value))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(union=union))


def sd_value(uri: str, file_format: str = "parquet") -> dict[str, str]:
    """A StructuredDataset field inside a dataclass / pydantic model, as flytekit serializes it."""
    return {"uri": uri, "file_format": file_format}


def file_value(path: str) -> dict[str, str]:
    """A FlyteFile / FlyteDirectory field inside a dataclass / pydantic model, as flytekit serializes it."""
    return {"path": path}


def msgpack_literal(value: Any) -> literals_pb2.Literal:
    """A dataclass or pydantic model as flytekit 1.14+ stores it: ``scalar.binary`` with tag ``msgpack``."""
    binary = literals_pb2.Binary(value=msgpack.packb(value), tag="msgpack")
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=binary))


def generic_literal(value: Mapping[str, Any]) -> literals_pb2.Literal:
    """A dataclass as older flytekit stores it: ``scalar.generic``, a protobuf ``Struct`` of its JSON form."""
    generic = struct_pb2.Struct()
    json_format.ParseDict(dict(value), generic)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=generic))
