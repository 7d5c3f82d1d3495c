"""Select the workflow executions that are complete, across runs, from stored event rows (``EVENT_SCHEMA``).

Contract (pure, vectorized with pyarrow; no clock: ``as_of`` is the data interval end passed in by the caller):

- An execution is **ready** when it has a terminal workflow event (SUCCEEDED, FAILED, ABORTED, TIMED_OUT) that was
  received at least ``settle`` before ``as_of``. ``received_at`` (our ingest time) is used rather than
  ``occurred_at`` because the settle window absorbs delivery lateness (SNS/SQS reordering, cloudEvents goroutines),
  and ``received_at`` is set by the drain, so it is monotonic per run and immune to producer clock skew.
- All events of a ready execution are returned together, deduplicated by ``event_id`` (a content hash; the copy
  with the smallest ``(received_at, message_id)`` is kept so the choice does not depend on input order) and sorted by
  event semantics: kind, node, retry attempt, phase rank within the kind, ``phase_version``, then ``occurred_at`` and
  ``event_id`` as tie breakers. Arrival order never matters: any permutation or duplication of the input gives the
  same ready table, byte for byte.

Cross-run state (``GroupingState``), persisted by the operator as two small Parquet objects per interval and read
back by the next run, so an execution whose events span many runs is rebuilt whole without rescanning history:

- ``pending``: ``EVENT_SCHEMA`` rows of executions seen but not yet ready (no terminal event yet, or inside the
  settle window). Each run calls ``split_ready(state, new_events, ...)`` with the previous state and only the new
  interval's events.
- ``emitted``: one row per execution already returned as ready (``EMITTED_SCHEMA``), kept for ``remember`` after its
  emission. Events of those executions that arrive later (a node event delayed past the settle window) are returned
  in ``late`` so the operator reports them; they are not re-emitted, because the rest of the execution is gone.
- ``expired``: pending events of executions without a terminal event whose newest event was received more than
  ``max_pending_age`` before ``as_of`` (lost terminal event, admin crash, or late events of an execution emitted so
  long ago that its ``emitted`` row was forgotten). They leave the state and are returned for reporting.

Every input row ends in exactly one of ``ready``, ``state.pending``, ``late`` or ``expired`` (after dedup), so nothing
is dropped silently. ``iter_execution_slices`` cuts a ready table into one slice per execution without copying.

Cost: one sort of a narrow helper table (dense integer ranks replace the execution and node strings) and one gather
per column of the wide rows. Passing ``new_events`` as a list of tables hands them over, so each input column is
freed while the outputs are built (bench/group.py: about 1M events in 11-18 s on 2 cores; peak RSS about 1.7 GiB
with Arrow's jemalloc pool and ``pa.jemalloc_set_decay_ms(0)``, about 2.0-2.3 GiB with the default mimalloc pool,
which keeps freed pages).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flytelineage.domain.event_table import EVENT_SCHEMA
from flytelineage.domain.lineage_model import TERMINAL_WORKFLOW_PHASES, ExecutionId

_TS = pa.timestamp("us", tz="UTC")

EMITTED_SCHEMA = pa.schema(
    [
        pa.field("project", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),
        pa.field("execution_name", pa.string(), nullable=False),
        pa.field("emitted_as_of", _TS, nullable=False),
    ]
)

#: Phase order within one event kind: the rank of a phase is its position. Terminal phases come last.
PHASE_ORDER: dict[str, tuple[str, ...]] = {
    "workflow": (
        "UNDEFINED",
        "QUEUED",
        "RUNNING",
        "SUCCEEDING",
        "FAILING",
        "ABORTING",
        "SUCCEEDED",
        "FAILED",
        "TIMED_OUT",
        "ABORTED",
    ),
    "node": (
        "UNDEFINED",
        "QUEUED",
        "RUNNING",
        "DYNAMIC_RUNNING",
        "FAILING",
        "SUCCEEDED",
        "RECOVERED",
        "SKIPPED",
        "FAILED",
        "TIMED_OUT",
        "ABORTED",
    ),
    "task": (
        "UNDEFINED",
        "QUEUED",
        "WAITING_FOR_RESOURCES",
        "INITIALIZING",
        "RUNNING",
        "SUCCEEDED",
        "RETRYABLE_FAILED",
        "FAILED",
        "ABORTED",
    ),
}
_KIND_ORDER = ("workflow", "node", "task")
_NARROW_COLUMNS = (
    "project",
    "domain",
    "execution_name",
    "event_kind",
    "phase",
    "node_id",
    "retry_attempt",
    "phase_version",
    "occurred_at",
    "event_id",
    "received_at",
    "message_id",
)
_UNKNOWN_RANK = 99
_SEP = "\x1f"
# Key parts are escaped so a separator inside a name cannot merge two executions or break the split ("%" first).
_ESCAPES = (("%", "%25"), (_SEP, "%1F"))
_UNESCAPE = re.compile("%(25|1F)")
_UNESCAPED = {"25": "%", "1F": _SEP}
_ID_PARTS = (("project", "project"), ("domain", "domain"), ("execution_name", "name"))


@dataclass(frozen=True)
class GroupingState:
    """What one run hands to the next: events of unfinished executions and keys of recently emitted ones."""

    pending: pa.Table
    emitted: pa.Table

    @classmethod
    def empty(cls) -> GroupingState:
        """The state before the first run."""
        return cls(pending=EVENT_SCHEMA.empty_table(), emitted=EMITTED_SCHEMA.empty_table())


@dataclass(frozen=True)
class SplitResult:
    """The outcome of one grouping run (see the module docstring for what each part holds)."""

    ready: pa.Table
    state: GroupingState
    late: pa.Table
    expired: pa.Table

    @property
    def ready_executions(self) -> list[ExecutionId]:
        """The executions in ``ready``, in output order."""
        return [eid for eid, _ in iter_execution_slices(self.ready)]


def split_ready(
    state: GroupingState | None,
    new_events: pa.Table | list[pa.Table],
    *,
    as_of: datetime,
    settle: timedelta,
    max_pending_age: timedelta = timedelta(days=7),
    remember: timedelta = timedelta(days=7),
) -> SplitResult:
    """Merge ``new_events`` into the previous ``state`` and split out the executions that are complete at ``as_of``.

    ``new_events`` may be any subset or superset of columns of ``EVENT_SCHEMA`` in any order; it is conformed first.
    It may be a list of tables (e.g. one per stored Parquet object): the list is then emptied, so that, if the
    caller keeps no other reference, each input column is released as soon as the outputs have taken their rows
    from it, and peak memory stays near one copy of the events instead of two.
    """
    state = state or GroupingState.empty()
    parts = new_events if isinstance(new_events, list) else [new_events]
    events = pa.concat_tables([conform_events(state.pending), *(conform_events(p) for p in parts)])
    if isinstance(new_events, list):
        new_events.clear()
    del parts, new_events
    # Decide on a narrow copy (no payload) and take each output from ``events`` once: one copy of the wide rows.
    order = semantic_order(events)
    narrow = events.select(list(_NARROW_COLUMNS)).take(order)
    unique = _first_of_each_event(narrow.column("event_id"))
    order, narrow = order.filter(unique), narrow.filter(unique)
    keys = _execution_keys(narrow)
    emitted = _forget_old(state.emitted, as_of - remember)
    late_mask = pc.is_in(keys, value_set=_execution_keys(emitted))
    ready_keys = _ready_keys(narrow, keys, as_of - settle)
    ready_mask = pc.and_(pc.is_in(keys, value_set=ready_keys), pc.invert(late_mask))
    rest_mask = pc.invert(pc.or_(ready_mask, late_mask))
    expired_mask = pc.and_(rest_mask, _stale_mask(narrow, keys, rest_mask, as_of - max_pending_age))
    pending_mask = pc.and_(rest_mask, pc.invert(expired_mask))
    newly_emitted = _emitted_rows(pc.filter(keys, ready_mask), as_of)
    masks = (ready_mask, pending_mask, late_mask, expired_mask)
    holder = [events]
    del events  # _take_releasing now holds the only reference of this frame
    ready, pending, late, expired = _take_releasing(holder, [order.filter(m) for m in masks])
    return SplitResult(
        ready=ready,
        state=GroupingState(pending=pending, emitted=_sort_emitted(pa.concat_tables([emitted, newly_emitted]))),
        late=late,
        expired=expired,
    )


def _take_releasing(holder: list[pa.Table], selections: list[pa.Array]) -> list[pa.Table]:
    """Take each selection of rows from the table in ``holder`` (emptied), one column at a time.

    Each input column is made contiguous (gathering from many chunks concatenates them anyway, and is slower) and
    its chunked original is dropped before the gather, so at most one column exists twice at any moment.
    """
    events = holder.pop()
    schema = events.schema
    columns: list[pa.ChunkedArray | None] = list(events.columns)
    del events
    outputs: list[list[pa.Array | pa.ChunkedArray]] = [[] for _ in selections]
    for index in range(len(columns)):
        column = columns[index]
        columns[index] = None
        assert column is not None
        contiguous = column.combine_chunks() if column.num_chunks > 1 else column
        del column
        for output, selection in zip(outputs, selections, strict=True):
            output.append(contiguous.take(selection))
        del contiguous
    return [pa.Table.from_arrays(output, schema=schema) for output in outputs]


def conform_events(table: pa.Table) -> pa.Table:
    """Cast a table to ``EVENT_SCHEMA`` column order and types; missing nullable columns become nulls."""
    if table.schema.equals(EVENT_SCHEMA, check_metadata=False):
        return table.replace_schema_metadata(EVENT_SCHEMA.metadata)
    columns = []
    for field in EVENT_SCHEMA:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def dedupe_events(events: pa.Table) -> pa.Table:
    """Keep one row per ``event_id``: the one received first (ties: smallest ``message_id``)."""
    if events.num_rows == 0:
        return events
    order = pc.sort_indices(
        events,
        sort_keys=[("event_id", "ascending"), ("received_at", "ascending"), ("message_id", "ascending")],
    )
    return events.take(pc.filter(order, _first_of_each_event(events.column("event_id").take(order))))


def order_events(events: pa.Table) -> pa.Table:
    """Sort events by execution, then by event semantics (never by arrival); see the module docstring."""
    return events.take(semantic_order(events)) if events.num_rows else events


def semantic_order(events: pa.Table) -> pa.Array:
    """Row indices sorting ``events`` by execution and event semantics.

    Copies of one event end up adjacent, the first received first (content fields, then ``event_id``,
    ``received_at``, ``message_id``). Strings compared on every step (execution, node) are replaced by their dense
    ranks first: sorting integers is several times faster and gives the same order.
    """
    helper = pa.table(
        {
            "execution": pc.rank(_execution_keys(events), sort_keys="ascending", tiebreaker="dense"),
            "kind_rank": _kind_rank(events),
            "node": pc.rank(pc.fill_null(events.column("node_id"), ""), sort_keys="ascending", tiebreaker="dense"),
            "retry_attempt": events.column("retry_attempt"),
            "phase_rank": phase_ranks(events),
            "phase_version": events.column("phase_version"),
            "occurred_at": events.column("occurred_at"),
            "event_id": events.column("event_id"),
            "received_at": events.column("received_at"),
            "message_id": events.column("message_id"),
        }
    )
    return pc.sort_indices(helper, sort_keys=[(name, "ascending", "at_start") for name in helper.column_names])


def _first_of_each_event(event_ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A mask of the first row of each run of equal ids (the ids are sorted, so copies are adjacent)."""
    ids = event_ids.to_numpy(zero_copy_only=False)
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    return pa.array(first)


def phase_ranks(events: pa.Table) -> pa.Array:
    """The rank of each row's phase within its event kind (``PHASE_ORDER``); unknown phases rank last."""
    vocabulary = [f"{kind}{_SEP}{phase}" for kind in _KIND_ORDER for phase in PHASE_ORDER[kind]]
    ranks = [rank for kind in _KIND_ORDER for rank in range(len(PHASE_ORDER[kind]))]
    joined = pc.binary_join_element_wise(events.column("event_kind"), events.column("phase"), _SEP)
    index = pc.index_in(joined, value_set=pa.array(vocabulary))
    return pc.fill_null(pc.take(pa.array(ranks, pa.int32()), index), _UNKNOWN_RANK)


def iter_execution_slices(events: pa.Table) -> Iterator[tuple[ExecutionId, pa.Table]]:
    """Yield ``(execution id, its rows)`` for a table sorted by ``order_events`` (zero-copy slices)."""
    if events.num_rows == 0:
        return
    keys = _execution_keys(events).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    bounds = [*starts.tolist(), len(keys)]
    for start, end in itertools.pairwise(bounds):
        project, domain, name = split_execution_key(str(keys[start]))
        yield ExecutionId(project, domain, name), events.slice(start, end - start)


def rejected_rows(events: pa.Table, reasons: dict[ExecutionId, str]) -> pa.Table:
    """The rows of ``events`` that belong to the executions in ``reasons``, with a ``reason`` column (a report)."""
    ids = list(reasons)
    wanted = pa.table({name: pa.array([getattr(i, attr) for i in ids], pa.string()) for name, attr in _ID_PARTS})
    wanted_keys = _execution_keys(wanted)
    keys = _execution_keys(events)
    mask = pc.is_in(keys, value_set=wanted_keys)
    by_key = dict(zip(wanted_keys.to_pylist(), (reasons[i] for i in ids), strict=True))
    rows = events.filter(mask)
    row_reasons = [by_key[k] for k in pc.filter(keys, mask).to_pylist()]
    return rows.append_column("reason", pa.array(row_reasons, pa.string()))


# ---- helpers --------------------------------------------------------------------------------------------------------


def _execution_keys(table: pa.Table) -> pa.Array:
    parts = [_escaped(table.column(name)) for name in ("project", "domain", "execution_name")]
    joined = pc.binary_join_element_wise(*parts, _SEP)
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _escaped(column: pa.ChunkedArray) -> pa.ChunkedArray:
    for plain, escaped in _ESCAPES:
        column = pc.replace_substring(column, plain, escaped)
    return column


def split_execution_key(key: str) -> tuple[str, str, str]:
    """``(project, domain, execution name)`` of a grouping key (the parts are escaped, so the split is exact)."""
    project, domain, name = (_UNESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], part) for part in key.split(_SEP))
    return project, domain, name


def _kind_rank(events: pa.Table) -> pa.Array:
    index = pc.index_in(events.column("event_kind"), value_set=pa.array(list(_KIND_ORDER)))
    return pc.fill_null(index, len(_KIND_ORDER))


def _ready_keys(events: pa.Table, keys: pa.Array, settled_before: datetime) -> pa.Array:
    terminal = pc.and_(
        pc.equal(events.column("event_kind"), "workflow"),
        pc.is_in(events.column("phase"), value_set=pa.array(sorted(TERMINAL_WORKFLOW_PHASES))),
    )
    settled = pc.less_equal(events.column("received_at"), pa.scalar(settled_before, _TS))
    return pc.unique(pc.filter(keys, pc.and_(terminal, settled)))


def _stale_mask(events: pa.Table, keys: pa.Array, candidates: pa.Array, stale_before: datetime) -> pa.Array:
    """Rows whose execution's newest received event (among candidates) is older than ``stale_before``."""
    table = pa.table({"key": keys, "received_at": events.column("received_at")}).filter(candidates)
    if table.num_rows == 0:
        return pa.array(np.zeros(events.num_rows, dtype=bool))
    newest = table.group_by("key").aggregate([("received_at", "max")])
    stale = newest.filter(pc.less(newest.column("received_at_max"), pa.scalar(stale_before, _TS)))
    return pc.is_in(keys, value_set=stale.column("key"))


def _forget_old(emitted: pa.Table, forget_before: datetime) -> pa.Table:
    emitted = emitted.cast(EMITTED_SCHEMA)
    return emitted.filter(pc.greater_equal(emitted.column("emitted_as_of"), pa.scalar(forget_before, _TS)))


def _emitted_rows(ready_keys: pa.Array, as_of: datetime) -> pa.Table:
    unique = pc.unique(ready_keys).to_pylist()
    parts = [split_execution_key(str(k)) for k in unique]
    return pa.table(
        {
            "project": [p[0] for p in parts],
            "domain": [p[1] for p in parts],
            "execution_name": [p[2] for p in parts],
            "emitted_as_of": [as_of] * len(parts),
        },
        schema=EMITTED_SCHEMA,
    )


def _sort_emitted(emitted: pa.Table) -> pa.Table:
    """One row per execution (the latest emission), sorted, so the persisted state is deterministic."""
    if emitted.num_rows == 0:
        return emitted
    keys = _execution_keys(emitted)
    latest = (
        pa.table({"key": keys, "emitted_as_of": emitted.column("emitted_as_of")})
        .group_by("key")
        .aggregate([("emitted_as_of", "max")])
    )
    parts = [split_execution_key(str(k)) for k in latest.column("key").to_pylist()]
    table = pa.table(
        {
            "project": [p[0] for p in parts],
            "domain": [p[1] for p in parts],
            "execution_name": [p[2] for p in parts],
            "emitted_as_of": latest.column("emitted_as_of_max"),
        },
        schema=EMITTED_SCHEMA,
    )
    return table.sort_by([("project", "ascending"), ("domain", "ascending"), ("execution_name", "ascending")])
