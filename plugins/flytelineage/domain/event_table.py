"""The storage contract of decoded events and quarantined messages (DESIGN.md section 4).

Every stage that writes or reads ``events/`` or ``quarantine/`` objects uses these Arrow schemas, so the columns are
defined exactly once. Adding a nullable column is backward compatible; renaming or retyping one needs a new
``EVENTS_FORMAT_VERSION``.
"""

from __future__ import annotations

import pyarrow as pa

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


def events_to_table(rows: list[dict[str, object]]) -> pa.Table:
    """Build an Arrow table with ``EVENT_SCHEMA`` from decoded event rows (missing keys become nulls).

    Timestamp values may be datetimes or epoch microseconds (the decoder emits the latter: it is much cheaper).
    """
    columns = {name: [row.get(name) for row in rows] for name in EVENT_COLUMNS}
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


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
    """Read a stored batch back into an Arrow table."""
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data))
