"""Glue Data Catalog tables for the datasets of completed Flyte executions (pure: builds ``TableInput`` dicts).

Naming (DESIGN.md section 5, a stable contract):

- database ``flyte_<project>_<domain>``, or the ``glue_database`` override, normalized;
- table ``<task name>_<output name>``, normalized;
- normalizing lowercases, then replaces every character outside ``[a-z0-9_]`` with ``_``
  (``app.wf.Extract`` + ``o0`` -> ``app_wf_extract_o0``).

Names then satisfy Glue's pattern and Athena's rules (lowercase, letters, digits and underscores, 1 to 255 bytes).
A short stable hash (``_`` + the first 8 hex digits of SHA-256 of the original text) is appended, replacing the end
of the name, in three cases only, so ordinary names stay exactly as the contract says:

- the normalized name would be longer than 255 characters (it is cut to make room for the hash);
- the original contains non-ASCII characters (``cafe`` and ``cafè`` would otherwise both end in ``caf_``), or the
  variable path holds an escaped character (``table_name``);
- within one plan, two different datasets get the same database and table name (``a.b`` + ``c`` and ``a_b`` + ``c``):
  every member of that group takes the hash of its dataset's logical name instead.

The last rule depends on what a plan contains; the first two never do.

Which datasets get a table: outputs of nodes that ran a task, succeeded and were not cache hits (a cache hit's data
belongs to the run that produced it). When several executions of a plan produce the same table, the most recent
execution wins, so the table points at the newest data. Locations: structured datasets, legacy schemas and
multipart blobs use their URI as a directory; a single-file blob uses the directory that holds the file (Flyte
writes each output under its own prefix, so that directory normally holds only that file). Data is never copied.

Formats: Parquet (structured datasets and schemas with format ``parquet`` or none, which is Flyte's default;
``FlyteFile[parquet]`` / ``FlyteDirectory[parquet]``; plain blobs whose data was recognised as Parquet by its footer)
needs known columns. CSV (structured datasets and blobs with format ``csv``) gets a text table only when the header
line of its data was read (``schema_source`` ``csv_header``): its names are the columns, all ``string``, and the
table skips that line; a CSV whose header could not be read is skipped, never registered with no columns. Blobs with
format ``json`` get a text table, with columns when they are known.
Everything else is skipped with a reason for the caller to log.

List datasets (one per list output, e.g. a map task's gathered outputs; ``Dataset.elements``) get one table
partitioned by ``element`` (a ``string`` partition key: the element's list indices, ``0``, ``1``... or ``0.1`` for a
list of lists), with one partition per element at the element's location (its directory; a single file: the
directory holding it), each with the table's storage descriptor. The table location is the elements' common
directory (for a map task, whose sub-task outputs Flyte spreads over sharded prefixes, often the raw-output root):
engines read the partitions' locations, never the table's. ``GlueTable.partitions`` is the complete set: the
target replaces the partitions of the previous run with it (an index the new run does not have is deleted), also
when table versions are kept (Glue does not version partitions). A list is skipped, with the reason, when its
elements hold different columns (the ``element_schemas`` property: one table has one schema; DataHub and
OpenLineage still describe it with the first element's columns), when two elements share one location, when a
column is named ``element``, or when any element's location is refused (``location_policy``).

Arrow to Hive types: see ``arrow_to_hive``.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flytelineage.domain.lineage_model import (
    ELEMENT_SCHEMAS,
    ELEMENT_SCHEMAS_DIFFER,
    Dataset,
    Execution,
    NodeRun,
    SchemaField,
)
from flytelineage.domain.location_policy import location_problem
from flytelineage.errors import TargetError

MAX_NAME_LENGTH = 255
"""Glue and Athena accept database, table and column names of 1 to 255 bytes."""

HASH_LENGTH = 8
MAX_COMMENT_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 2048
GLUE_NAME_PATTERN = re.compile(r"[a-z0-9_]{1,255}")
"""Every database and table name this module returns matches this (a subset of Glue's pattern)."""

DATABASE_DESCRIPTION = "Datasets produced by Flyte tasks, registered by flytelineage (data stays where Flyte wrote it)."

_INVALID_CHARS = re.compile(r"[^a-z0-9_]")
_HIVE_FIELD_NAME = re.compile(r"[a-z0-9_]+")


class GlueTypeError(TargetError):
    """An Arrow type has no Hive equivalent usable by Glue and Athena; the dataset is skipped."""


PARTITION_KEY = "element"
"""The partition key of a list dataset's table: the element's list indices (``string``)."""


@dataclass(frozen=True)
class GlueTable:
    """One table to register: the database, the table name and the Glue ``TableInput`` (``Name`` included).

    ``partitions`` are the Glue ``PartitionInput`` dicts of a list dataset's table, one per element, in list order
    (the whole set: partitions the table has beyond them are removed); empty for every other table.
    """

    database: str
    name: str
    table_input: dict[str, Any]
    partitions: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, order=True)
class SkippedDataset:
    """A dataset that gets no table, and why (for the operator's log)."""

    dataset_key: str
    execution: str
    reason: str


@dataclass(frozen=True)
class GluePlan:
    """The tables to register for some executions and the datasets skipped, both in a stable order."""

    tables: tuple[GlueTable, ...]
    skipped: tuple[SkippedDataset, ...]

    @property
    def databases(self) -> tuple[str, ...]:
        """The distinct databases the tables live in, sorted."""
        return tuple(sorted({t.database for t in self.tables}))


# ---- names ---------------------------------------------------------------------------------------------------------


def stable_hash(original: str) -> str:
    """The short hash appended to disambiguate a name: first 8 hex digits of SHA-256 of the UTF-8 text."""
    return hashlib.sha256(original.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def with_hash(name: str, original: str) -> str:
    """``name`` cut to leave room for ``_<hash of original>``, so the result is at most 255 characters."""
    return f"{name[: MAX_NAME_LENGTH - HASH_LENGTH - 1]}_{stable_hash(original)}"


def normalize_name(text: str, *, original: str | None = None, hashed: bool = False) -> str:
    """Lowercase ``text`` and map characters outside ``[a-z0-9_]`` to ``_``; hash when long or non-ASCII.

    ``original`` is what the hash is computed from (default ``text``); callers pass the unjoined parts so that the
    hash identifies them exactly; ``hashed`` asks for the hash whatever the text.
    """
    source = text if original is None else original
    name = _INVALID_CHARS.sub("_", text.lower()) or "_"
    if hashed or len(name) > MAX_NAME_LENGTH or not text.isascii():
        return with_hash(name, source)
    return name


def database_name(project: str, domain: str, override: str | None = None) -> str:
    """The Glue database for a Flyte project and domain: ``flyte_<project>_<domain>`` or the override, normalized.

    An empty override counts as no override.
    """
    if override:
        return normalize_name(override)
    return normalize_name(f"flyte_{project}_{domain}", original=f"flyte\x1f{project}\x1f{domain}")


def table_name(task_name: str, output_name: str) -> str:
    """The Glue table for output ``output_name`` of task ``task_name``: ``<task>_<output>``, normalized.

    ``output_name`` is a variable path (``urn_names.variable_path``); one holding an escaped character (a ``%``: a
    map key or field name with ``.``, ``%``, ``:``, ``,`` ...) is hashed too, since the ``_`` its escape becomes
    could come from another path (key ``x.y`` is ``o1.x%2Ey``, ``o1_x_2ey`` unhashed; a map ``x`` holding ``y`` is
    ``o1_x_y``).
    """
    text, original = f"{task_name}_{output_name}", f"{task_name}\x1f{output_name}"
    return normalize_name(text, original=original, hashed="%" in output_name)


# ---- types ---------------------------------------------------------------------------------------------------------

_PRIMITIVES = {
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    # Unsigned ints widen to the next signed type; uint64 stays bigint (values above 2**63-1 are out of range).
    "uint8": "smallint",
    "uint16": "int",
    "uint32": "bigint",
    "uint64": "bigint",
    "halffloat": "float",
    "float": "float",
    "double": "double",
    "bool": "boolean",
    "string": "string",
    "large_string": "string",
    "string_view": "string",
    "binary": "binary",
    "large_binary": "binary",
    "binary_view": "binary",
    "date32[day]": "date",
    "date64[ms]": "date",
    "null": "string",
}
_LIST_TYPES = frozenset({"list", "large_list", "fixed_size_list", "list_view", "large_list_view"})
_DECIMAL = re.compile(r"decimal(?:32|64|128|256)\((\d+), (\d+)\)")
_DICTIONARY_VALUES = re.compile(r"dictionary<values=([^,]+), indices=")
_HIVE_MAX_DECIMAL_PRECISION = 38


def arrow_to_hive(field: SchemaField) -> str:
    """The Hive type (as Glue stores it) of a column whose Arrow type is ``field``.

    Integers map to the Hive integer of the same width (unsigned ones to the next wider signed type), floats to
    ``float``/``double``, all string and binary variants to ``string``/``binary``, dates to ``date``, timestamps of
    any unit and zone to ``timestamp``, ``decimalN(p, s)`` to ``decimal(p,s)`` (p <= 38), dictionaries to their value
    type, lists to ``array<...>``, structs to ``struct<name:type,...>``, maps to ``map<k,v>``, recursively.
    Documented choices: ``time32`` -> ``int`` and ``time64`` -> ``bigint`` (units since midnight), ``duration`` ->
    ``bigint`` (a count of its unit; Hive has no time-of-day or duration type that reads Parquet), ``null`` ->
    ``string`` (always NULL). ``column_comment`` states the unit for those.

    Raises ``GlueTypeError`` for types Hive cannot express (intervals, extension types, decimals wider than 38
    digits, struct field names outside ``[a-z0-9_]`` after lowercasing).
    """
    kind = field.type
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind.startswith(("timestamp[", "fixed_size_binary[")):
        return "timestamp" if kind.startswith("timestamp[") else "binary"
    if kind.startswith("time32["):
        return "int"
    if kind.startswith(("time64[", "duration[")):
        return "bigint"
    if match := _DECIMAL.fullmatch(kind):
        return _decimal(field, int(match[1]), int(match[2]))
    if match := _DICTIONARY_VALUES.match(kind):
        return arrow_to_hive(SchemaField(name=field.name, type=match[1]))
    return _nested(field)


def _decimal(field: SchemaField, precision: int, scale: int) -> str:
    if precision > _HIVE_MAX_DECIMAL_PRECISION:
        raise GlueTypeError(
            f"column {field.name!r} is {field.type}: Hive decimals hold at most 38 digits. "
            "Cast it to decimal128 or string in the task to get a Glue table."
        )
    return f"decimal({precision},{scale})"


def _nested(field: SchemaField) -> str:
    base = field.type.split("<", 1)[0]
    children = field.children
    if base in _LIST_TYPES and len(children) == 1:
        return f"array<{arrow_to_hive(children[0])}>"
    if base == "map" and len(children) == 2:
        key, value = sorted(children, key=lambda c: c.name != "key")
        return f"map<{arrow_to_hive(key)},{arrow_to_hive(value)}>"
    if base == "struct" and children:
        return "struct<" + ",".join(f"{_struct_field_name(c)}:{arrow_to_hive(c)}" for c in children) + ">"
    raise GlueTypeError(
        f"column {field.name!r} has Arrow type {field.type!r} with {len(children)} child field(s), which has no "
        "Hive equivalent. Convert it to a supported type in the task to get a Glue table."
    )


def _struct_field_name(field: SchemaField) -> str:
    name = field.name.lower()
    if not _HIVE_FIELD_NAME.fullmatch(name):
        raise GlueTypeError(
            f"struct field {field.name!r} cannot appear in a Hive type (only letters, digits and '_'). "
            "Rename the field in the task to get a Glue table."
        )
    return name


def column_comment(field: SchemaField) -> str:
    """The Glue column comment: the Arrow type, plus the unit for types stored as plain integers."""
    kind = field.type
    if kind.startswith(("time32[", "time64[")):
        return f"arrow {kind}: {kind[7:-1]} since midnight"
    if kind.startswith("duration["):
        return f"arrow {kind}: count of {kind[9:-1]}"
    return f"arrow {kind}"


def glue_columns(fields: Iterable[SchemaField]) -> list[dict[str, str]]:
    """Glue ``Columns`` for a schema; names are lowercased (Parquet and JSON readers match names case-insensitively).

    Raises ``GlueTypeError`` when a type is unsupported or two names differ only in case.
    """
    columns: list[dict[str, str]] = []
    seen: set[str] = set()
    for field in fields:
        name = field.name.lower()
        if not 0 < len(name.encode("utf-8")) <= MAX_NAME_LENGTH:
            raise GlueTypeError(
                f"column name {field.name[:40]!r}... must be 1 to 255 bytes in Glue. "
                "Rename the column in the task to get a Glue table."
            )
        if name in seen:
            raise GlueTypeError(
                f"two columns are named {name!r} once lowercased; Athena column names are case-insensitive. "
                "Rename one of them in the task to get a Glue table."
            )
        seen.add(name)
        comment = column_comment(field)[:MAX_COMMENT_LENGTH]
        columns.append({"Name": name, "Type": arrow_to_hive(field), "Comment": comment})
    return columns


# ---- storage formats -----------------------------------------------------------------------------------------------

_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_STORAGE: dict[str, dict[str, Any]] = {
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "Parameters": {"serialization.format": "1"},
        },
    },
    "csv": {
        "InputFormat": _TEXT_INPUT,
        "OutputFormat": _TEXT_OUTPUT,
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            "Parameters": {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
        },
    },
    "json": {
        "InputFormat": _TEXT_INPUT,
        "OutputFormat": _TEXT_OUTPUT,
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe", "Parameters": {}},
    },
}
# Flyte's CSV writers (pandas) put a header line first.
_EXTRA_TABLE_PARAMETERS = {"csv": {"skip.header.line.count": "1"}}
_TABULAR_KINDS = frozenset({"structured_dataset", "schema"})
_BLOB_KINDS = frozenset({"blob", "multipart_blob"})


def storage_format(dataset: Dataset) -> str:
    """``parquet``, ``csv`` or ``json`` for a dataset Glue can describe; raises ``GlueTypeError`` with the reason."""
    fmt = dataset.format.lower()
    if dataset.kind in _TABULAR_KINDS and fmt in ("", "parquet"):
        if not dataset.fields:
            raise GlueTypeError(
                "Parquet dataset with no known columns (no literal type annotation and no footer read); "
                "annotate the output's columns in the task to get a Glue table."
            )
        return "parquet"
    if dataset.kind in _BLOB_KINDS and (fmt == "parquet" or (not fmt and dataset.schema_source == "parquet_footer")):
        # FlyteFile[parquet] / FlyteDirectory[parquet], or a plain one whose data turned out to be Parquet
        if not dataset.fields:
            raise GlueTypeError(
                f"Parquet {dataset.kind} whose footer could not be read (see the execution's problems); "
                "no columns to register."
            )
        return "parquet"
    if dataset.kind in _TABULAR_KINDS | _BLOB_KINDS and fmt == "csv":
        # the table skips the first line (``skip.header.line.count``): only a header that was read names the columns
        if not dataset.fields or dataset.schema_source != "csv_header":
            raise GlueTypeError(
                f"CSV {dataset.kind} whose header line could not be read (see the execution's problems); "
                "no columns to register."
            )
        return fmt
    if dataset.kind in _TABULAR_KINDS | _BLOB_KINDS and fmt == "json":
        return fmt
    raise GlueTypeError(
        f"{dataset.kind} with format {dataset.format or '(none)'!r} has no Glue table format; only Parquet "
        "structured datasets and csv/json blobs are registered. Declare the format on the output to register it."
    )


def table_location(dataset: Dataset) -> str:
    """The directory URI a table reads (always ending in ``/``): the URI, or the parent of a single file (a
    single-file blob, or a structured dataset whose URI turned out to be one object); for a list dataset, the
    ``common_directory`` of its elements."""
    if dataset.is_list:
        return _directory(common_directory([uri for _, uri in dataset.elements]))
    return element_location(dataset, dataset.uri)


def common_directory(uris: Sequence[str]) -> str:
    """The longest directory holding every location of ``uris`` (a list's table location): the common prefix, by
    path component, of their parent directories (``s3://b/x/1/a`` and ``s3://b/x/2/b`` give ``s3://b/x``; one
    location gives its parent).

    Locations in different buckets share no directory: the first location's parent is returned.
    """
    parents = [_parent_parts(uri) for uri in uris]
    first = parents[0]
    if any(p[:3] != first[:3] for p in parents):  # "s3:", "", bucket
        return "/".join(first)
    length = min(_shared_length(first, other) for other in parents)
    return "/".join(first[: max(length, 3)])


def _parent_parts(uri: str) -> list[str]:
    parts = uri.rstrip("/").split("/")
    return parts[:-1] if len(parts) > 3 else parts


def _shared_length(a: Sequence[str], b: Sequence[str]) -> int:
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


def element_location(dataset: Dataset, uri: str) -> str:
    """The directory holding the data at ``uri`` (a dataset's or one of its elements'), ending in ``/``: ``uri``
    itself, or its parent when the data is one file (``kind`` and ``layout`` are those of the elements)."""
    if dataset.kind == "blob" or dataset.layout == "file":
        uri = uri.rstrip("/").rsplit("/", 1)[0]
    return _directory(uri)


def _directory(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


# ---- plans ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    execution: Execution
    dataset: Dataset
    task: str
    output: str
    database: str
    table: str


def produced_datasets(execution: Execution) -> list[tuple[str, Dataset, str]]:
    """(task name, dataset, output variable) for outputs of successful, non-cached task nodes, in node order."""
    known = {d.key: d for d in execution.datasets}
    return [
        (node.task.name, known[use.dataset_key], use.variable)
        for node in execution.nodes
        if node.task is not None and _ran_successfully(node)
        for use in node.outputs
        if use.dataset_key in known
    ]


def _ran_successfully(node: NodeRun) -> bool:
    return node.phase == "SUCCEEDED" and not node.is_cache_hit


def _candidates(execution: Execution, database_override: str | None) -> list[_Candidate]:
    found: dict[str, _Candidate] = {}
    for node_task, dataset, variable in produced_datasets(execution):
        task = dataset.producer_task or node_task
        output = dataset.output_name or variable
        project = dataset.project or execution.id.project
        domain = dataset.domain or execution.id.domain
        database = database_name(project, domain, database_override)
        found[dataset.key] = _Candidate(execution, dataset, task, output, database, table_name(task, output))
    return [found[k] for k in sorted(found)]


def _recency(execution: Execution) -> tuple[datetime, str, str, str]:
    moment = execution.ended_at or execution.started_at or datetime.min.replace(tzinfo=UTC)
    return (moment, execution.id.project, execution.id.domain, execution.id.name)


def _disambiguate(candidates: list[_Candidate]) -> list[_Candidate]:
    """Give every dataset of a group sharing one (database, table) but with distinct logical names a hashed name."""
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in candidates:
        groups[(c.database, c.table)].add(c.dataset.name)
    return [
        _Candidate(c.execution, c.dataset, c.task, c.output, c.database, with_hash(c.table, c.dataset.name))
        if len(groups[(c.database, c.table)]) > 1
        else c
        for c in candidates
    ]


def plan_glue_tables(
    executions: Iterable[Execution], *, database_override: str | None = None, read_buckets: Collection[str] = ()
) -> GluePlan:
    """The tables to register for some executions (e.g. one shard), and the datasets skipped with reasons.

    Later executions (by end time, then id) override earlier ones that produce the same table. A dataset whose
    location ``location_policy`` refuses (not ``s3://``, or a bucket outside ``read_buckets`` when set) is skipped.
    """
    ordered = sorted(executions, key=_recency)
    candidates = _disambiguate([c for e in ordered for c in _candidates(e, database_override)])
    tables: dict[tuple[str, str], GlueTable] = {}
    skipped: set[SkippedDataset] = set()
    for c in candidates:
        if problem := _location_problem(c.dataset, read_buckets):
            skipped.add(SkippedDataset(c.dataset.key, c.execution.id.key, f"location not registered: {problem}"))
            continue
        try:
            tables[(c.database, c.table)] = _glue_table(c)
        except GlueTypeError as e:
            skipped.add(SkippedDataset(c.dataset.key, c.execution.id.key, str(e)))
    return GluePlan(tables=tuple(tables[k] for k in sorted(tables)), skipped=tuple(sorted(skipped)))


def _location_problem(dataset: Dataset, read_buckets: Collection[str]) -> str | None:
    """Why the table's location, or one of a list's element locations, may not be registered (None: all may)."""
    locations = [table_location(dataset), *(element_location(dataset, uri) for _, uri in dataset.elements)]
    for location in locations:
        if problem := location_problem(location, read_buckets):
            return problem
    return None


def build_table_inputs(execution: Execution, *, database_override: str | None = None) -> list[GlueTable]:
    """The tables to register for one execution (see ``plan_glue_tables`` for the skipped datasets)."""
    return list(plan_glue_tables([execution], database_override=database_override).tables)


def _glue_table(c: _Candidate) -> GlueTable:
    fmt = storage_format(c.dataset)
    storage = _STORAGE[fmt]
    descriptor = {
        "Columns": glue_columns(c.dataset.fields),
        "Location": table_location(c.dataset),
        "InputFormat": storage["InputFormat"],
        "OutputFormat": storage["OutputFormat"],
        "Compressed": False,
        "SerdeInfo": {
            "SerializationLibrary": storage["SerdeInfo"]["SerializationLibrary"],
            "Parameters": dict(storage["SerdeInfo"]["Parameters"]),
        },
    }
    partitions = _partitions(c.dataset, descriptor) if c.dataset.is_list else ()
    table_input = {
        "Name": c.table,
        "Description": _description(c),
        "TableType": "EXTERNAL_TABLE",
        "Parameters": _table_parameters(c, fmt),
        "StorageDescriptor": descriptor,
        "PartitionKeys": [_PARTITION_COLUMN] if c.dataset.is_list else [],
    }
    return GlueTable(database=c.database, name=c.table, table_input=table_input, partitions=partitions)


_PARTITION_COLUMN = {
    "Name": PARTITION_KEY,
    "Type": "string",
    "Comment": "list indices of the element (0, 1, ...; 0.1 for a list of lists)",
}


def _partitions(dataset: Dataset, descriptor: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """One ``PartitionInput`` per element of a list dataset: the table's storage descriptor at the element's
    location. Raises ``GlueTypeError`` when the list cannot be one partitioned table."""
    if dict(dataset.properties).get(ELEMENT_SCHEMAS) == ELEMENT_SCHEMAS_DIFFER:
        raise GlueTypeError(
            "list dataset whose elements hold different columns (see the execution's problems); one Glue table "
            "has one schema. Return elements with the same columns to get a table."
        )
    if any(column["Name"] == PARTITION_KEY for column in descriptor["Columns"]):
        raise GlueTypeError(
            f"list dataset with a column named {PARTITION_KEY!r}, the partition key of a list's table. Rename the "
            "column in the task to get a Glue table."
        )
    locations = [element_location(dataset, uri) for _, uri in dataset.elements]
    if len(set(locations)) < len(locations):
        raise GlueTypeError(
            "list dataset whose elements share a directory, so partitions would read each other's data. Write each "
            "element under its own prefix (Flyte's default) to get a Glue table."
        )
    return tuple(
        {
            "Values": [index],
            "StorageDescriptor": {**descriptor, "Location": location},
            "Parameters": {"flyte.element_uri": uri},
        }
        for (index, uri), location in zip(dataset.elements, locations, strict=True)
    )


def _description(c: _Candidate) -> str:
    text = f"Output {c.output!r} of Flyte task {c.task!r}; data stays at its Flyte location."
    return text[:MAX_DESCRIPTION_LENGTH]


def _table_parameters(c: _Candidate, fmt: str) -> dict[str, str]:
    return {
        "classification": fmt,
        "EXTERNAL": "TRUE",
        "flyte.project": c.dataset.project or c.execution.id.project,
        "flyte.domain": c.dataset.domain or c.execution.id.domain,
        "flyte.task": c.task,
        "flyte.output": c.output,
        "flyte.execution": c.execution.id.name,
        "flyte.dataset": c.dataset.name,
        "flyte.dataset_uri": c.dataset.uri,
        "flyte.schema_source": c.dataset.schema_source,
        **({"flyte.elements": str(len(c.dataset.elements))} if c.dataset.is_list else {}),
        **_EXTRA_TABLE_PARAMETERS.get(fmt, {}),
    }
