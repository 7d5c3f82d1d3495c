"""Table tests for ``execution_graph``: nodes, kinds, attempts, cache hits and parent links from event rows."""

from __future__ import annotations

from typing import Any

import pytest

from flytelineage.domain.execution_graph import build_attempts, build_graph, build_node, node_kind, parent_links
from flytelineage.domain.execution_grouping import order_events
from flytelineage.domain.lineage_model import ExecutionId, TaskRef
from tests.unit.domain.event_rows import at, row, table

EID = ExecutionId("p", "d", "e1")
TASK = {
    "entity_type": "TASK",
    "entity_project": "p",
    "entity_domain": "d",
    "entity_name": "app.wf.t1",
    "entity_version": "v1",
}


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return order_events(table(rows)).to_pylist()


def _task(phase: str, attempt: int, occurred: float, version: int = 0, **kw: Any) -> dict[str, Any]:
    return row(
        "task",
        phase,
        node_id="n0",
        retry_attempt=attempt,
        phase_version=version,
        occurred=occurred,
        task_type="python-task",
        **TASK,
        **kw,
    )


def test_cache_hit_is_one_successful_attempt_with_its_source() -> None:
    rows = _ordered(
        [
            row(
                "node",
                "SUCCEEDED",
                node_id="n0",
                occurred=5,
                cache_status="CACHE_HIT",
                cache_source_execution="p-d-old",
                output_uri="s3://b/n0/data/0/outputs.pb",
                **TASK,
            )
        ]
    )
    node = build_node("n0", rows, [], [])
    assert node.kind == "task" and node.result == "SUCCESS" and node.is_cache_hit
    assert node.cache_source_execution == "p-d-old"
    assert node.task == TaskRef("p", "d", "app.wf.t1", "v1")
    assert [(a.number, a.phase, a.result) for a in node.attempts] == [(1, "SUCCEEDED", "SUCCESS")]
    assert node.attempts[0].started_at == node.attempts[0].ended_at == at(5)


def test_retry_gives_up_for_retry_then_success() -> None:
    tasks = _ordered(
        [
            _task("SUCCEEDED", 1, 9),
            _task("RUNNING", 1, 8),
            _task("RUNNING", 0, 2, version=1),
            _task("FAILED", 0, 3, error_code="USER:ValueError", error_message="boom", error_kind="USER"),
            _task("RUNNING", 0, 1),
        ]
    )
    attempts = build_attempts(tasks, [], "SUCCEEDED")
    assert [(a.number, a.phase, a.result, a.error_code) for a in attempts] == [
        (1, "FAILED", "UP_FOR_RETRY", "USER:ValueError"),
        (2, "SUCCEEDED", "SUCCESS", None),
    ]
    assert (attempts[0].started_at, attempts[0].ended_at) == (at(1), at(3))
    assert (attempts[1].started_at, attempts[1].ended_at) == (at(8), at(9))


@pytest.mark.parametrize(
    ("task_phases", "node_phase", "expected"),
    [
        (["FAILED"], "FAILED", ["FAILURE"]),
        (["FAILED", "FAILED"], "FAILED", ["UP_FOR_RETRY", "FAILURE"]),
        (["ABORTED"], "ABORTED", ["FAILURE"]),
        (["RUNNING"], "ABORTED", ["FAILURE"]),  # the task's terminal event was lost
        (["RUNNING"], "SUCCEEDED", ["SUCCESS"]),
        (["RUNNING", "SUCCEEDED"], "SUCCEEDED", ["UP_FOR_RETRY", "SUCCESS"]),
    ],
)
def test_attempt_results(task_phases: list[str], node_phase: str, expected: list[str]) -> None:
    tasks = _ordered([_task(p, i, i) for i, p in enumerate(task_phases)])
    assert [a.result for a in build_attempts(tasks, [], node_phase)] == expected


def _node(phase: str = "SUCCEEDED", node_id: str = "n1", **kw: Any) -> dict[str, Any]:
    return row("node", phase, node_id=node_id, **kw)


@pytest.mark.parametrize(
    ("node_rows", "has_task_events", "children", "expected"),
    [
        ([_node(spec_node_id="start-node")], False, [], "start"),
        ([_node(spec_node_id="end-node")], False, [], "end"),
        ([_node(child_execution_name="f123")], False, [], "launch_plan"),
        ([_node(entity_type="LAUNCH_PLAN", entity_name="lp")], False, [], "launch_plan"),
        ([_node(is_array=True, **TASK)], True, [], "array"),
        ([_node(is_dynamic=True, is_parent=True, **TASK)], True, [], "dynamic"),
        ([_node(**TASK)], True, [_node(node_id="x", is_in_dynamic_chain=True)], "dynamic"),
        ([_node(is_parent=True)], False, [_node(node_id="x")], "subworkflow"),
        ([_node()], False, [_node(node_id="x")], "subworkflow"),
        ([_node(**TASK)], False, [], "task"),
        ([_node()], True, [], "task"),
        ([_node()], False, [], "branch"),
    ],
)
def test_node_kind(node_rows: list[dict], has_task_events: bool, children: list[dict], expected: str) -> None:
    task = TaskRef("p", "d", "t") if any(r.get("entity_type") == "TASK" for r in node_rows) else None
    assert node_kind(node_rows, task, has_task_events, children) == expected


def test_graph_uses_parent_links_not_ids_and_reports_unfinished_nodes() -> None:
    rows = _ordered(
        [
            row("workflow", "RUNNING", occurred=0),
            row("workflow", "FAILED", occurred=9, error_code="RetriesExhausted", error_message="x"),
            _node("QUEUED", "n1", is_parent=True, occurred=1),
            _node("SUCCEEDED", "fabcdefg", parent_node_id="n1", retry_group="0", spec_node_id="n0", occurred=2, **TASK),
            _node("RUNNING", "n2", occurred=3, **TASK),
            row("task", "SUCCEEDED", node_id="orphan", retry_attempt=0, phase_version=0, occurred=4, **TASK),
        ]
    )
    graph = build_graph(EID, rows)
    by_id = {n.node_id: n for n in graph.nodes}
    assert graph.phase == "FAILED" and graph.error_code == "RetriesExhausted"
    assert (graph.started_at, graph.ended_at) == (at(0), at(9))
    assert by_id["n1"].kind == "subworkflow"
    assert (by_id["fabcdefg"].parent_node_id, by_id["fabcdefg"].retry_group) == ("n1", "0")
    assert by_id["orphan"].phase == "SUCCEEDED" and by_id["orphan"].kind == "task"
    assert graph.problems == (
        "node n1 has no terminal event (last phase QUEUED)",
        "node n2 has no terminal event (last phase RUNNING)",
    )


def test_parent_links_from_launch_plan_nodes() -> None:
    rows = [
        _node("RUNNING", "n1", execution="parent", child_execution_name="child"),
        _node(
            "SUCCEEDED",
            "n1",
            execution="parent",
            child_execution_name="child",
            child_execution_project="q",
            child_execution_domain="d2",
        ),
        _node("SUCCEEDED", "n2", execution="parent"),
    ]
    links = parent_links(table(rows))
    assert links == {
        ExecutionId("p", "d", "child"): (ExecutionId("p", "d", "parent"), "n1"),
        ExecutionId("q", "d2", "child"): (ExecutionId("p", "d", "parent"), "n1"),
    }
    assert parent_links(None) == {}


# ---- event shapes of issue 10: v2 drops, array nodes without target_entity, EventVersion 0 --------------------------

V2 = {"publisher_format": "cloudevents_v2"}
OUT = "s3://b/m/n1/data/0/outputs.pb"
IN = "s3://b/m/n1/data/inputs.pb"


def _node_task(phase: str, occurred: float, *, attempt: int = 0, **kw: Any) -> dict[str, Any]:
    return row("task", phase, node_id="n1", retry_attempt=attempt, phase_version=0, occurred=occurred, **kw)


# (node flags, task fields): the node kinds whose SUCCEEDED event cloudEvents v2 drops for an unregistered task
_DROPPED_KINDS = [
    ("task", {**TASK}, {**TASK, "task_type": "python-task"}),
    ("dynamic", {"is_dynamic": True, "is_parent": True, "is_in_dynamic_chain": True, **TASK}, {**TASK}),
    ("array", {"is_array": True}, {**TASK, "task_type": "container_array"}),
]


@pytest.mark.parametrize(("kind", "node_fields", "task_fields"), _DROPPED_KINDS)
@pytest.mark.parametrize(
    ("publisher", "phase", "problems"),
    [
        ("cloudevents_v2", "SUCCEEDED", ()),
        ("external", "RUNNING", ("node n1 has no terminal event (last phase RUNNING)",)),
    ],
)
def test_node_without_succeeded_event_takes_outputs_from_its_task(
    kind: str,
    node_fields: dict[str, Any],
    task_fields: dict[str, Any],
    publisher: str,
    phase: str,
    problems: tuple[str, ...],
) -> None:
    fmt = {"publisher_format": publisher}
    rows = _ordered(
        [
            row("workflow", "RUNNING", occurred=0, **fmt),
            _node("QUEUED", input_uri=IN, occurred=1, **node_fields, **fmt),
            _node("RUNNING", occurred=2, **node_fields, **fmt),
            _node_task("RUNNING", 3, **task_fields, **fmt),
            _node_task("SUCCEEDED", 4, output_uri=OUT, **task_fields, **fmt),
            _node("RUNNING", "n1-0-dn0", parent_node_id="n1", retry_group="0", occurred=6, **fmt),
            row("workflow", "SUCCEEDED", occurred=9, **fmt),
        ]
    )
    graph = build_graph(EID, rows)
    node = next(n for n in graph.nodes if n.node_id == "n1")
    assert (node.kind, node.phase, node.result) == (kind, phase, "SUCCESS")
    assert node.task is not None and node.task.name == "app.wf.t1"
    assert graph.node_data["n1"].outputs is not None and graph.node_data["n1"].outputs.uri == OUT
    assert graph.node_data["n1"].inputs is not None and graph.node_data["n1"].inputs.uri == IN
    assert node.ended_at == (at(6) if phase == "SUCCEEDED" else at(4))
    assert [p for p in graph.problems if p.startswith("node n1 ")] == list(problems)


@pytest.mark.parametrize(
    ("task_rows", "expected"),
    [
        ([_node_task("SUCCEEDED", 4, **V2, **TASK)], "SUCCEEDED"),
        ([_node_task("FAILED", 4, **V2, **TASK)], "RUNNING"),  # a failed attempt is never taken as success
        ([_node_task("FAILED", 3, **V2, **TASK), _node_task("SUCCEEDED", 4, attempt=1, **V2, **TASK)], "SUCCEEDED"),
        ([_node_task("SUCCEEDED", 3, **V2, **TASK), _node_task("RUNNING", 4, attempt=1, **V2, **TASK)], "RUNNING"),
        ([], "RUNNING"),  # no task ran: nothing says it succeeded
    ],
)
def test_v2_success_is_inferred_only_from_a_succeeded_last_attempt(task_rows: list[dict], expected: str) -> None:
    node_rows = _ordered([_node("QUEUED", occurred=1, **V2, **TASK), _node("RUNNING", occurred=2, **V2, **TASK)])
    assert build_node("n1", node_rows, _ordered(task_rows) if task_rows else [], []).phase == expected


def test_v2_node_with_failed_event_is_not_overridden() -> None:
    node_rows = _ordered([_node("RUNNING", occurred=1, **V2, **TASK), _node("FAILED", occurred=5, **V2, **TASK)])
    node = build_node("n1", node_rows, _ordered([_node_task("SUCCEEDED", 4, **V2, **TASK)]), [])
    assert (node.phase, node.result, node.ended_at) == ("FAILED", "FAILURE", at(5))


ARRAY = {"is_array": True}
CONTAINER_ARRAY = {**TASK, "task_type": "container_array"}


@pytest.mark.parametrize(
    ("node_fields", "task_rows", "children", "expected"),
    [
        # named from the container_array task events
        (
            {},
            [_node_task("SUCCEEDED", 4, **CONTAINER_ARRAY)],
            [],
            TaskRef("p", "d", "app.wf.t1", "v1", "container_array"),
        ),
        # no task events: ArrayNode.EventVersion 1 subnodes name the task
        ({}, [], [_node(node_id="n1-n0", parent_node_id="n1", **TASK)], TaskRef("p", "d", "app.wf.t1", "v1")),
        # nothing names it: the node's own name, then its template id, then its id
        (
            {"node_name": "mapper_score", "spec_node_id": "n1"},
            [],
            [],
            TaskRef("p", "d", "mapper_score", "", "container_array"),
        ),
        ({"spec_node_id": "n7"}, [], [], TaskRef("p", "d", "n7", "", "container_array")),
        ({}, [], [], TaskRef("p", "d", "n1", "", "container_array")),
        # task events whose task_id is empty (a subnode that is not a task) keep their task type
        (
            {},
            [_node_task("SUCCEEDED", 4, task_type="container_array")],
            [],
            TaskRef("p", "d", "n1", "", "container_array"),
        ),
    ],
)
def test_array_node_task_identity(
    node_fields: dict[str, Any], task_rows: list[dict], children: list[dict], expected: TaskRef
) -> None:
    node_rows = _ordered(
        [_node("QUEUED", occurred=1, **ARRAY, **node_fields), _node(occurred=5, **ARRAY, **node_fields)]
    )
    node = build_node("n1", node_rows, _ordered(task_rows) if task_rows else [], children)
    assert node.kind == "array" and node.task == expected


def test_task_node_without_identity_gets_no_made_up_task() -> None:
    node = build_node("n1", _ordered([_node(occurred=1)]), [], [])
    assert node.kind == "branch" and node.task is None


@pytest.mark.parametrize(
    ("node_id", "spec", "expected"),
    [
        ("start-node", None, "start"),  # EventVersion 0: no spec_node_id, the node id is the template id
        ("end-node", None, "end"),
        ("n0", None, "branch"),
        ("fabc1234", "start-node", "start"),  # a hashed nested start-node is known by its spec id
        ("start-node", "n0", "branch"),  # a spec id always wins over the node id
    ],
)
def test_start_and_end_from_node_id_when_no_spec_id(node_id: str, spec: str | None, expected: str) -> None:
    fields = {"spec_node_id": spec} if spec else {}
    assert node_kind([_node(node_id=node_id, **fields)], None, False, []) == expected


def test_event_version_0_graph_takes_workflow_inputs_from_the_start_node() -> None:
    inputs = "s3://b/m/start-node/data/0/outputs.pb"
    rows = _ordered(
        [
            row("workflow", "RUNNING", occurred=0),
            _node("SUCCEEDED", "start-node", output_uri=inputs, occurred=1),
            _node("QUEUED", "end-node", input_uri="s3://b/m/end-node/data/inputs.pb", occurred=2),
            _node("SUCCEEDED", "end-node", occurred=3),
            row("workflow", "SUCCEEDED", occurred=4, output_uri="s3://b/m/end-node/data/0/outputs.pb"),
        ]
    )
    graph = build_graph(EID, rows)
    assert {n.node_id: n.kind for n in graph.nodes} == {"start-node": "start", "end-node": "end"}
    assert graph.inputs is not None and graph.inputs.uri == inputs
