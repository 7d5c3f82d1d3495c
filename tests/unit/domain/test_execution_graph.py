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
