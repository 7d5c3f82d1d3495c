"""The storage contract of decoded events and quarantined messages (DESIGN.md section 4).

Every stage that writes or reads ``events/`` or ``quarantine/`` objects uses these Arrow schemas, so the columns are
defined exactly once. Adding a nullable column is backward compatible; renaming or retyping one needs a new
``EVENTS_FORMAT_VERSION``.
"""

from __future__ import annotations

import sys
from datetime import datetime

import pyarrow as pa


class _NoPandas:
    """An import finder that refuses ``pandas`` (installed on ``sys.meta_path`` for one call only)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used by the event table")


def _skip_pandas_probe() -> None:
    """Let pyarrow conclude pandas is absent, unless something already imported it.

    pyarrow's first ``pa.array`` call on Python objects in a process imports pandas (1.4-2.2 s, 12-17% of a
    20k-message drain) only to ask whether the values are pandas objects; nothing here ever passes pandas objects.
    With the import of ``pandas`` refused once, the probe records "no pandas" and does not try again for that
    question; an explicit conversion (``Table.to_pandas``) still imports pandas as usual afterwards.
    """
    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, _NoPandas)  # type: ignore[arg-type]
    try:
        pa.array([], pa.int8())
    finally:
        sys.meta_path.remove(_NoPandas)  # type: ignore[arg-type]


_skip_pandas_probe()

EVENTS_FORMAT_VERSION = 1

_TS = pa.timestamp("us", tz="UTC")

EVENT_SCHEMA = pa.schema(
    [
        # where the row came from
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("publisher_format", pa.string(), nullable=False),
        pa.field("payload_type", pa.string(), nullable=False),
        pa.field("payload", pa.binary(), nullable=False),
        pa.field("received_at", _TS, nullable=False),
        pa.field("sent_at", _TS),
        # which execution it belongs to
        pa.field("event_kind", pa.string(), nullable=False),
        pa.field("project", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("execution_name", pa.string(), nullable=False),
        pa.field("phase", pa.string(), nullable=False),
        pa.field("occurred_at", _TS),
        pa.field("reported_at", _TS),
        pa.field("producer_id", pa.string()),
        # node identity and hierarchy
        pa.field("node_id", pa.string()),
        pa.field("spec_node_id", pa.string()),
        pa.field("node_name", pa.string()),
        pa.field("parent_node_id", pa.string()),
        pa.field("retry_group", pa.string()),
        pa.field("is_parent", pa.bool_()),
        pa.field("is_dynamic", pa.bool_()),
        pa.field("is_array", pa.bool_()),
        pa.field("is_in_dynamic_chain", pa.bool_()),
        # task identity: target_entity on node events, task_id on task events
        pa.field("entity_type", pa.string()),
        pa.field("entity_project", pa.string()),
        pa.field("entity_domain", pa.string()),
        pa.field("entity_name", pa.string()),
        pa.field("entity_version", pa.string()),
        pa.field("task_type", pa.string()),
        pa.field("retry_attempt", pa.int32()),
        pa.field("phase_version", pa.int32()),
        pa.field("generated_name", pa.string()),
        # data
        pa.field("input_uri", pa.string()),
        pa.field("output_uri", pa.string()),
        pa.field("has_input_data", pa.bool_()),
        pa.field("has_output_data", pa.bool_()),
        # errors
        pa.field("error_code", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("error_kind", pa.string()),
        # cache
        pa.field("cache_status", pa.string()),
        pa.field("cache_source_execution", pa.string()),
        # links to other executions and launch plans
        pa.field("child_execution_project", pa.string()),
        pa.field("child_execution_domain", pa.string()),
        pa.field("child_execution_name", pa.string()),
        pa.field("launch_plan_name", pa.string()),
        pa.field("launch_plan_version", pa.string()),
        # who launched the execution and its labels (cloudEvents v2 enrichment only)
        pa.field("principal", pa.string()),
        pa.field("labels", pa.map_(pa.string(), pa.string())),
        # what grouping reads from the payload, derived once at decode time (``event_decoding.payload_fields``);
        # ``has_payload_fields`` is null in batches written before these columns: grouping then derives them from
        # ``payload`` itself, once per row
        pa.field("has_payload_fields", pa.bool_()),
        pa.field("log_uris", pa.list_(pa.string())),  # task events: the distinct log URIs, sorted
        pa.field("input_data", pa.binary()),  # inline inputs: the serialized LiteralMap (deterministic)
        pa.field("output_data", pa.binary()),  # inline outputs: the serialized LiteralMap (deterministic)
        pa.field("output_interface", pa.binary()),  # cloudEvents v2 enrichment: the serialized TypedInterface
    ],
    metadata={b"flytelineage.events.format_version": str(EVENTS_FORMAT_VERSION).encode()},
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("body", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("received_at", _TS, nullable=False),
        pa.field("sent_at", _TS),
    ],
    metadata={b"flytelineage.quarantine.format_version": str(EVENTS_FORMAT_VERSION).encode()},
)

EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)

_INT32_RANGE = (-(2**31), 2**31 - 1)
_MICROS_RANGE = (-62_135_596_800_000_000, 253_402_300_799_999_999)  # 0001-01-01 .. 9999-12-31, as datetime allows
_ARROW_ROW_ERRORS = (pa.ArrowException, UnicodeError, OverflowError, TypeError, ValueError)


def events_to_table(rows: list[dict[str, object]]) -> pa.Table:
    """Build an Arrow table with ``EVENT_SCHEMA`` from decoded event rows (missing keys become nulls).

    Timestamp values may be datetimes or epoch microseconds (the decoder emits the latter: it is much cheaper).
    """
    columns = {name: [row.get(name) for row in rows] for name in EVENT_COLUMNS}
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


def event_row_problem(row: dict[str, object]) -> str | None:
    """Why ``row`` cannot be stored under ``EVENT_SCHEMA`` (the first offending column and value), or None.

    The decoder trusts protobuf's own ranges, which are wider than the table's (a uint32 ``retry_attempt`` does not
    fit the int32 column); a value outside the column type would make the whole batch unwritable.
    """
    for schema_field in EVENT_SCHEMA:
        value = row.get(schema_field.name)
        if value is None:
            if not schema_field.nullable:
                return f"column {schema_field.name} is required but missing"
            continue
        problem = _value_problem(schema_field.type, value)
        if problem is not None:
            return f"column {schema_field.name} ({schema_field.type}): {problem}"
    return None


def _value_problem(arrow_type: pa.DataType, value: object) -> str | None:
    if pa.types.is_int32(arrow_type):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{type(value).__name__} is not an integer"
        low, high = _INT32_RANGE
        return None if low <= value <= high else f"{value} is outside the int32 range"
    if pa.types.is_string(arrow_type):
        if not isinstance(value, str):
            return f"{type(value).__name__} is not a string"
        return _utf8_problem(value)
    if pa.types.is_binary(arrow_type):
        return None if isinstance(value, bytes) else f"{type(value).__name__} is not bytes"
    if pa.types.is_boolean(arrow_type):
        return None if isinstance(value, bool) else f"{type(value).__name__} is not a boolean"
    if pa.types.is_timestamp(arrow_type):
        return _timestamp_problem(value)
    return None


def _utf8_problem(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid UTF-8 ({exc.reason} at character {exc.start})"
    return None


def _timestamp_problem(value: object) -> str | None:
    if isinstance(value, datetime):
        return None if value.tzinfo is not None else "datetime without a time zone"
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{type(value).__name__} is not a timestamp"
    low, high = _MICROS_RANGE
    return None if low <= value <= high else f"{value} microseconds is outside the representable time range"


def storable_events_table(rows: list[dict[str, object]]) -> tuple[pa.Table, list[tuple[dict[str, object], str]]]:
    """The table of the rows that fit ``EVENT_SCHEMA`` and the rejected rows with their reason.

    The whole batch is converted at once first (the common case costs nothing extra); only when that fails is every
    row checked on its own, so one bad value costs one row, not the batch.
    """
    try:
        return events_to_table(rows), []
    except _ARROW_ROW_ERRORS:
        pass
    good: list[dict[str, object]] = []
    rejected: list[tuple[dict[str, object], str]] = []
    for row in rows:
        problem = event_row_problem(row) or _conversion_problem(row)
        if problem is None:
            good.append(row)
        else:
            rejected.append((row, problem))
    return events_to_table(good), rejected


def _conversion_problem(row: dict[str, object]) -> str | None:
    """The Arrow error of converting ``row`` alone (a guard for anything ``event_row_problem`` does not know)."""
    try:
        events_to_table([row])
    except _ARROW_ROW_ERRORS as exc:
        return f"not storable: {type(exc).__name__}: {exc}"
    return None


def quarantine_to_table(rows: list[dict[str, object]]) -> pa.Table:
    """Build an Arrow table with ``QUARANTINE_SCHEMA`` from quarantine rows."""
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def table_to_parquet_bytes(table: pa.Table) -> bytes:
    """Serialize a table to Parquet bytes (zstd), the format of every stored batch."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def parquet_bytes_to_table(data: bytes) -> pa.Table:
    """Read a stored batch back into an Arrow table (``ParquetFile``: ``read_table`` would load pyarrow.dataset,
    which imports pandas)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(pa.BufferReader(data)).read()
