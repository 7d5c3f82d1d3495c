"""Rebuild one workflow execution's nodes and attempts from its event rows (already deduplicated and ordered).

Rules (flyte-events.md section 3):

- A node is every distinct ``node_id`` seen on node or task events. Task identity comes from the node events'
  ``target_entity`` (present even for cache hits, which have no task events), else from the task events' ``task_id``.
- Hierarchy comes from ``parent_node_id`` and ``retry_group`` only, never from parsing node ids.
- ``kind``: ``start``/``end`` by ``spec_node_id``, or by the node id itself when no event carries a ``spec_node_id``
  (deployments on ``EventVersion`` 0 report the template id as the node id and set no ``spec_node_id``);
  ``launch_plan`` when a node event links a child execution (or the target is a launch plan); ``array`` by
  ``is_array``; ``dynamic`` by ``is_dynamic``, or a task node with children in a dynamic chain (the large
  DYNAMIC_RUNNING event may be lost); ``subworkflow`` by ``is_parent`` or children without a task identity; ``task``
  when a task identity exists; ``branch`` otherwise (a node with no task, no flags).
- Array nodes (map tasks) carry no ``target_entity``: their task is the one their ``container_array`` task events
  name, else the task their children name (``ArrayNode.EventVersion`` 1 passes subnode events through), else a task
  named after the node itself (``node_name``, ``spec_node_id`` or node id; type ``container_array``), so the map still
  gets a job and names its outputs when those events were lost (a large map's task events can exceed the SNS limit).
- cloudEvents v2 drops a node's SUCCEEDED event when FlyteAdmin cannot look up the task of its latest task execution
  (tasks inside dynamic workflows may be unregistered). For every node kind, a node whose own events carry no outputs
  takes them (and its inputs) from its last SUCCEEDED task event, and under cloudEvents v2 a node whose last node event
  is not terminal but whose last task attempt SUCCEEDED is taken as SUCCEEDED (it ends at its last event or its
  children's); other publishers never drop it, so there it stays a "no terminal event" problem.
- Attempts come from task events grouped by ``retry_attempt``; the first task event of each attempt is never
  published, so ``started_at`` is the first *published* event of the attempt. Result: SUCCEEDED -> SUCCESS; a failed
  attempt with a later attempt -> UP_FOR_RETRY; otherwise the attempt's or node's failure -> FAILURE. Nodes without
  task events (cache hits, recovered, start/end, subworkflow, launch plan, branch) get one attempt from their node
  events.
- Log URIs, inline LiteralMaps and the cloudEvents v2 interface come from the columns the decoder derived from the
  payload (``event_decoding.payload_fields``); rows of batches written before those columns get them from their
  stored payload, decoded at most once per row per ``build_graph``.
- Launch-plan children: the parent's node carries ``child_execution``. The child's ``parent_execution`` is found
  through ``parent_links`` over whatever events the caller passes (the ready table plus the pending state); when
  the parent's linking node event is in neither, the child is emitted without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from flyteidl.core import interface_pb2, types_pb2

from flytelineage.domain.event_decoding import CLOUDEVENTS_V2, stored_payload_fields
from flytelineage.domain.lineage_model import TERMINAL_WORKFLOW_PHASES, Attempt, ExecutionId, NodeRun, TaskRef
from flytelineage.domain.literal_datasets import LiteralRef

Row = Mapping[str, Any]

NODE_TERMINAL = frozenset({"SUCCEEDED", "RECOVERED", "SKIPPED", "FAILED", "TIMED_OUT", "ABORTED"})
TASK_TERMINAL = frozenset({"SUCCEEDED", "RETRYABLE_FAILED", "FAILED", "ABORTED"})
_NODE_RESULT = {
    "SUCCEEDED": "SUCCESS",
    "RECOVERED": "SUCCESS",
    "SKIPPED": "SKIPPED",
    "FAILED": "FAILURE",
    "TIMED_OUT": "FAILURE",
    "ABORTED": "FAILURE",
}
_START, _END = "start-node", "end-node"
_V2_PAYLOAD_PREFIX = "flyteidl.event.CloudEvent"
#: phases whose cloudEvents v2 payload can carry an ``output_interface`` (node SUCCEEDED, terminal workflow)
_ENRICHED_PHASES = frozenset({"SUCCEEDED", "RECOVERED", *TERMINAL_WORKFLOW_PHASES})


@dataclass(frozen=True)
class NodeData:
    """Where a node's input and output LiteralMaps are, and its declared interface (cloudEvents v2 only)."""

    inputs: LiteralRef | None = None
    outputs: LiteralRef | None = None
    input_types: Mapping[str, types_pb2.LiteralType] = field(default_factory=dict)
    output_types: Mapping[str, types_pb2.LiteralType] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionGraph:
    """One execution's nodes (without datasets and edges yet) and where its data lives."""

    id: ExecutionId
    phase: str
    started_at: datetime | None
    ended_at: datetime | None
    launch_plan_name: str | None
    launch_plan_version: str | None
    error_code: str | None
    error_message: str | None
    nodes: tuple[NodeRun, ...]
    node_data: Mapping[str, NodeData]
    inputs: LiteralRef | None
    outputs: LiteralRef | None
    output_types: Mapping[str, types_pb2.LiteralType]
    problems: tuple[str, ...] = ()
    principal: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


def build_graph(execution_id: ExecutionId, rows: Sequence[Row]) -> ExecutionGraph:
    """Reconstruct nodes and attempts of one execution from its rows (as ordered by ``order_events``)."""
    rows = [_with_payload_fields(r) for r in rows]
    workflow_rows = [r for r in rows if r["event_kind"] == "workflow"]
    node_rows: dict[str, list[Row]] = {}
    task_rows: dict[str, list[Row]] = {}
    for row in rows:
        if row["event_kind"] == "node":
            node_rows.setdefault(row["node_id"], []).append(row)
        elif row["event_kind"] == "task":
            task_rows.setdefault(row["node_id"], []).append(row)
    children = _children_by_parent(node_rows)
    problems: list[str] = []
    nodes: list[NodeRun] = []
    node_data: dict[str, NodeData] = {}
    for node_id in sorted(set(node_rows) | set(task_rows)):
        own_rows, own_tasks = node_rows.get(node_id, []), task_rows.get(node_id, [])
        node = build_node(node_id, own_rows, own_tasks, children.get(node_id, []))
        if node.phase not in NODE_TERMINAL:
            problems.append(f"node {node_id} has no terminal event (last phase {node.phase})")
        nodes.append(node)
        node_data[node_id] = _node_data(node, own_rows, own_tasks)
    terminal = _last_terminal(workflow_rows)
    start = next((n for n in nodes if n.kind == "start" and n.parent_node_id is None), None)
    return ExecutionGraph(
        id=execution_id,
        phase=terminal["phase"] if terminal else (workflow_rows[-1]["phase"] if workflow_rows else "UNDEFINED"),
        started_at=_min_time(workflow_rows) or _min_time(rows),
        ended_at=terminal["occurred_at"] if terminal else None,
        launch_plan_name=_first(rows, "launch_plan_name"),
        launch_plan_version=_first(rows, "launch_plan_version"),
        error_code=terminal["error_code"] if terminal else None,
        error_message=terminal["error_message"] if terminal else None,
        nodes=tuple(nodes),
        node_data=node_data,
        inputs=node_data[start.node_id].outputs if start else None,
        outputs=_output_ref(terminal) if terminal else None,
        output_types=_interface(terminal, "outputs") if terminal else {},
        problems=tuple(problems),
        principal=_first(rows, "principal"),
        labels=tuple(sorted(_first(rows, "labels") or ())),
    )


def build_node(node_id: str, node_rows: Sequence[Row], task_rows: Sequence[Row], child_rows: Sequence[Row]) -> NodeRun:
    """One ``NodeRun`` (no datasets yet) from the node's own events, its task events and its children's events."""
    last = node_rows[-1] if node_rows else None
    task = _task_ref(node_rows, task_rows)
    kind = node_kind(node_rows, task, bool(task_rows), child_rows)
    if kind == "array" and task is None:
        task = _array_task_ref(node_id, node_rows, task_rows, child_rows)
    phase = last["phase"] if last else _phase_from_tasks(task_rows)
    inferred = _success_dropped_by_v2(phase, node_rows, task_rows)
    if inferred:
        phase = "SUCCEEDED"
    attempts = build_attempts(task_rows, node_rows, phase)
    result = _NODE_RESULT.get(phase) or (attempts[-1].result if attempts else "FAILURE")
    error_row = next((r for r in reversed(node_rows) if r.get("error_code")), None)
    if inferred:
        ended_at = _max_time([*node_rows, *task_rows, *child_rows])
    elif last and phase in NODE_TERMINAL:
        ended_at = last["occurred_at"]
    else:
        ended_at = attempts[-1].ended_at if attempts else None
    return NodeRun(
        node_id=node_id,
        kind=kind,
        phase=phase,
        result=result,
        spec_node_id=_first(node_rows, "spec_node_id") or "",
        node_name=_first(node_rows, "node_name") or "",
        parent_node_id=_first(node_rows, "parent_node_id"),
        retry_group=_first(node_rows, "retry_group"),
        task=task,
        started_at=_min_time([*node_rows, *task_rows]),
        ended_at=ended_at,
        cache_status=_last(node_rows, "cache_status"),
        cache_source_execution=_cache_source(node_rows),
        attempts=attempts,
        child_execution=_child_execution(node_rows),
        error_code=error_row["error_code"] if error_row else None,
        error_message=error_row.get("error_message") if error_row else None,
    )


def node_kind(node_rows: Sequence[Row], task: TaskRef | None, has_task_events: bool, child_rows: Sequence[Row]) -> str:
    """The node's kind from flags and links (see the module docstring), never from its id."""
    spec = _first(node_rows, "spec_node_id")
    if spec is None:
        # EventVersion 0: no spec_node_id, and the node id is the template id
        spec = next((r["node_id"] for r in node_rows if r.get("node_id") in (_START, _END)), None)
    if spec in (_START, _END):
        return "start" if spec == _START else "end"
    if _child_execution(node_rows) is not None or _first(node_rows, "entity_type") == "LAUNCH_PLAN":
        return "launch_plan"
    if _any(node_rows, "is_array"):
        return "array"
    has_task = task is not None or has_task_events
    if _any(node_rows, "is_dynamic") or (has_task and _any(child_rows, "is_in_dynamic_chain")):
        return "dynamic"
    if _any(node_rows, "is_parent") or (child_rows and not has_task):
        return "subworkflow"
    return "task" if has_task else "branch"


def build_attempts(task_rows: Sequence[Row], node_rows: Sequence[Row], node_phase: str) -> tuple[Attempt, ...]:
    """Attempts from task events by ``retry_attempt``; one attempt from the node events when there are none."""
    if not task_rows:
        return (_node_attempt(node_rows, node_phase),) if node_rows else ()
    by_attempt: dict[int, list[Row]] = {}
    for row in task_rows:
        by_attempt.setdefault(int(row["retry_attempt"] or 0), []).append(row)
    numbers = sorted(by_attempt)
    return tuple(_task_attempt(n, by_attempt[n], has_later=n != numbers[-1], node_phase=node_phase) for n in numbers)


def _task_attempt(number: int, rows: Sequence[Row], *, has_later: bool, node_phase: str) -> Attempt:
    last = rows[-1]
    phase = last["phase"]
    if phase == "SUCCEEDED":
        result = "SUCCESS"
    elif has_later:
        result = "UP_FOR_RETRY"
    elif phase in TASK_TERMINAL:
        result = "FAILURE"
    else:
        result = _NODE_RESULT.get(node_phase, "FAILURE")
    error_row = next((r for r in reversed(rows) if r.get("error_code")), None)
    return Attempt(
        number=number + 1,
        phase=phase,
        result=result,
        started_at=_min_time(rows),
        ended_at=last["occurred_at"] if phase in TASK_TERMINAL else None,
        error_code=error_row["error_code"] if error_row else None,
        error_message=error_row.get("error_message") if error_row else None,
        error_kind=error_row.get("error_kind") if error_row else None,
        log_uris=_log_uris(rows),
    )


def _node_attempt(node_rows: Sequence[Row], node_phase: str) -> Attempt:
    last = node_rows[-1]
    error_row = next((r for r in reversed(node_rows) if r.get("error_code")), None)
    return Attempt(
        number=1,
        phase=node_phase,
        result=_NODE_RESULT.get(node_phase, "FAILURE"),
        started_at=_min_time(node_rows),
        ended_at=last["occurred_at"] if node_phase in NODE_TERMINAL else None,
        error_code=error_row["error_code"] if error_row else None,
        error_message=error_row.get("error_message") if error_row else None,
        error_kind=error_row.get("error_kind") if error_row else None,
    )


def parent_links(events: pa.Table | None) -> dict[ExecutionId, tuple[ExecutionId, str]]:
    """Child execution -> (parent execution, parent node id), from node events that link a launch-plan child."""
    if events is None or events.num_rows == 0 or "child_execution_name" not in events.column_names:
        return {}
    columns = ["project", "domain", "execution_name", "node_id", "child_execution_project"]
    columns += ["child_execution_domain", "child_execution_name"]
    linked = events.filter(pc.is_valid(events.column("child_execution_name"))).select(columns)
    links: dict[ExecutionId, tuple[ExecutionId, str]] = {}
    for row in sorted(linked.to_pylist(), key=lambda r: (r["project"], r["domain"], r["execution_name"], r["node_id"])):
        child = ExecutionId(
            row["child_execution_project"] or row["project"],
            row["child_execution_domain"] or row["domain"],
            row["child_execution_name"],
        )
        links.setdefault(child, (ExecutionId(row["project"], row["domain"], row["execution_name"]), row["node_id"]))
    return links


# ---- data locations -------------------------------------------------------------------------------------------------


def _node_data(node: NodeRun, node_rows: Sequence[Row], task_rows: Sequence[Row]) -> NodeData:
    inputs = _input_ref(node_rows) or _input_ref(task_rows)
    succeeded = [r for r in node_rows if r["phase"] in ("SUCCEEDED", "RECOVERED")]
    outputs = _output_ref(succeeded[-1]) if succeeded else None
    if outputs is None:
        # The node's SUCCEEDED event was lost or dropped (cloudEvents v2, unregistered task), whatever the node kind:
        # the last successful task attempt reports the same outputs.pb (for a dynamic node, the one its end-node
        # writes; for an array node, the gathered collection).
        done = [r for r in task_rows if r["phase"] == "SUCCEEDED"]
        outputs = _output_ref(done[-1]) if done else None
    enriched = succeeded[-1] if succeeded else None
    return NodeData(
        inputs=inputs,
        outputs=outputs,
        input_types=_interface(enriched, "inputs") if enriched else {},
        output_types=_interface(enriched, "outputs") if enriched else {},
    )


def _input_ref(rows: Sequence[Row]) -> LiteralRef | None:
    for row in rows:
        if row.get("input_uri"):
            return LiteralRef(row["input_uri"])
    for row in rows:
        if row.get("has_input_data"):
            return _inline_ref(row, "input_data", "inputs")
    return None


def _output_ref(row: Row) -> LiteralRef | None:
    if row.get("output_uri"):
        return LiteralRef(row["output_uri"])
    if row.get("has_output_data"):
        return _inline_ref(row, "output_data", "outputs")
    return None


def _inline_ref(row: Row, field_name: str, label: str) -> LiteralRef | None:
    data = _payload_fields(row).get(field_name)
    if data is None:
        return None
    return LiteralRef(uri=f"inline://{row['event_id']}/{label}", data=data)


def _interface(row: Row, side: str) -> dict[str, types_pb2.LiteralType]:
    """Declared variable types from a cloudEvents v2 ``output_interface`` (which holds inputs and outputs)."""
    if not row.get("has_payload_fields") and not str(row.get("payload_type", "")).startswith(_V2_PAYLOAD_PREFIX):
        return {}  # only cloudEvents v2 payloads carry an interface: nothing to decode
    data = _payload_fields(row).get("output_interface")
    if data is None:
        return {}
    variables = getattr(interface_pb2.TypedInterface.FromString(data), side).variables
    return {name: variables[name].type for name in sorted(variables)}


def _log_uris(rows: Sequence[Row]) -> tuple[str, ...]:
    uris: set[str] = set()
    for row in rows:
        uris.update(_payload_fields(row).get("log_uris") or ())
    return tuple(sorted(uris))


def _payload_fields(row: Row) -> Row:
    """The row itself when it carries the payload-derived columns, else those fields from its stored payload."""
    return row if row.get("has_payload_fields") else stored_payload_fields(row)


def _with_payload_fields(row: Row) -> Row:
    """``row`` with the payload-derived columns filled from its payload when it was stored without them and grouping
    may read them (task events, inline data, cloudEvents v2 enrichment): the one decode of that row."""
    if row.get("has_payload_fields"):
        return row
    needs = row["event_kind"] == "task" or row.get("has_input_data") or row.get("has_output_data")
    if not needs and str(row.get("payload_type", "")).startswith(_V2_PAYLOAD_PREFIX):
        needs = row["phase"] in _ENRICHED_PHASES
    return {**row, **stored_payload_fields(row)} if needs else row


# ---- small helpers --------------------------------------------------------------------------------------------------


def _children_by_parent(node_rows: Mapping[str, Sequence[Row]]) -> dict[str, list[Row]]:
    children: dict[str, list[Row]] = {}
    for rows in node_rows.values():
        parent = _first(rows, "parent_node_id")
        if parent:
            children.setdefault(parent, []).extend(rows)
    return children


def _task_ref(node_rows: Sequence[Row], task_rows: Sequence[Row]) -> TaskRef | None:
    task_type = _last(task_rows, "task_type") or ""
    for rows in (node_rows, task_rows):
        for row in rows:
            if row.get("entity_name") and row.get("entity_type") in (None, "TASK"):
                return TaskRef(
                    project=row.get("entity_project") or "",
                    domain=row.get("entity_domain") or "",
                    name=row["entity_name"],
                    version=row.get("entity_version") or "",
                    task_type=task_type,
                )
    return None


def _array_task_ref(
    node_id: str, node_rows: Sequence[Row], task_rows: Sequence[Row], child_rows: Sequence[Row]
) -> TaskRef:
    """The task of an array node without ``container_array`` task identity: its children's, else its own name."""
    from_children = _task_ref(child_rows, [])
    if from_children is not None:
        return from_children
    first = node_rows[0] if node_rows else task_rows[0]
    name = _first(node_rows, "node_name") or _first(node_rows, "spec_node_id") or node_id
    return TaskRef(
        project=first["project"],
        domain=first["domain"],
        name=name,
        task_type=_last(task_rows, "task_type") or "container_array",
    )


def _success_dropped_by_v2(phase: str, node_rows: Sequence[Row], task_rows: Sequence[Row]) -> bool:
    """True when cloudEvents v2 dropped this node's SUCCEEDED event (see the module docstring)."""
    if phase in NODE_TERMINAL or not node_rows or not task_rows:
        return False
    if not all(r.get("publisher_format") == CLOUDEVENTS_V2 for r in node_rows):
        return False
    last_attempt = max(int(r["retry_attempt"] or 0) for r in task_rows)
    attempt_rows = [r for r in task_rows if int(r["retry_attempt"] or 0) == last_attempt]
    return attempt_rows[-1]["phase"] == "SUCCEEDED"


def _phase_from_tasks(task_rows: Sequence[Row]) -> str:
    """Node phase when no node event was published at all: the last task phase, mapped to node terms."""
    if not task_rows:
        return "UNDEFINED"
    phase = task_rows[-1]["phase"]
    return {"SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "ABORTED": "ABORTED"}.get(phase, "RUNNING")


def _child_execution(node_rows: Sequence[Row]) -> ExecutionId | None:
    for row in node_rows:
        if row.get("child_execution_name"):
            return ExecutionId(
                row.get("child_execution_project") or row["project"],
                row.get("child_execution_domain") or row["domain"],
                row["child_execution_name"],
            )
    return None


def _last_terminal(workflow_rows: Sequence[Row]) -> Row | None:
    terminal = [r for r in workflow_rows if r["phase"] in TERMINAL_WORKFLOW_PHASES]
    return terminal[-1] if terminal else None


def _first(rows: Iterable[Row], key: str) -> Any:
    return next((r[key] for r in rows if r.get(key)), None)


def _last(rows: Sequence[Row], key: str) -> Any:
    return _first(reversed(rows), key)


def _any(rows: Iterable[Row], key: str) -> bool:
    return any(bool(r.get(key)) for r in rows)


def _min_time(rows: Iterable[Row]) -> datetime | None:
    times = [r["occurred_at"] for r in rows if r.get("occurred_at") is not None]
    return min(times) if times else None


def _max_time(rows: Iterable[Row]) -> datetime | None:
    times = [r["occurred_at"] for r in rows if r.get("occurred_at") is not None]
    return max(times) if times else None


__all__ = [
    "ExecutionGraph",
    "NodeData",
    "build_attempts",
    "build_graph",
    "build_node",
    "node_kind",
    "parent_links",
]


def _cache_source(node_rows: Sequence[Row]) -> str | None:
    """The execution that produced cached outputs; only meaningful for a cache hit (a put names this execution)."""
    if _last(node_rows, "cache_status") != "CACHE_HIT":
        return None
    return _last(node_rows, "cache_source_execution")
