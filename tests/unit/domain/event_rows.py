"""Hand-built ``EVENT_SCHEMA`` rows for the grouping and reconstruction table tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from flytelineage.domain.event_table import events_to_table

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def row(
    kind: str,
    phase: str,
    *,
    execution: str = "e1",
    node_id: str | None = None,
    occurred: float = 0,
    received: float = 0,
    message_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One event row; ``event_id`` hashes the event content, so the same event received twice shares it."""
    content = {
        "event_kind": kind,
        "phase": phase,
        "project": "p",
        "domain": "d",
        "execution_name": execution,
        "node_id": node_id,
        "occurred_at": at(occurred),
        **fields,
    }
    event_id = hashlib.sha256(repr(sorted(content.items(), key=lambda kv: kv[0])).encode()).hexdigest()[:32]
    return {
        "message_id": message_id or f"m-{event_id[:8]}-{received}",
        "event_id": event_id,
        "publisher_format": "external",
        "payload_type": f"flyteidl.admin.{kind.capitalize()}ExecutionEventRequest",
        "payload": b"",
        "received_at": at(received),
        **content,
    }


def table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an ``EVENT_SCHEMA`` table."""
    return events_to_table(rows)
