"""Table tests for ``execution_lineage``: dataset naming, data edges, jobs and the workflow name rule."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flyteidl.core import types_pb2

from flytelineage.domain.execution_grouping import order_events
from flytelineage.domain.execution_lineage import resolve_executions, workflow_name
from flytelineage.domain.lineage_model import DatasetUse, Execution, SchemaField, TaskRef
from flytelineage.testing import flyte_literals as lit
from flytelineage.testing.in_memory_objects import InMemoryObjectReader
from tests.unit.domain.event_rows import row, table


@pytest.mark.parametrize(
    ("launch_plan", "tasks", "expected", "problem"),
    [
        ("lp.name", ["a.b.c"], "lp.name", False),
        (None, ["app.wf.extract", "app.wf.load"], "app.wf", False),
        (None, ["app.wf.x.extract", "app.wf.y.load"], "app.wf", False),
        (None, ["app.wf.extract"], "app.wf", False),
        (None, ["app.a.t", "lib.b.t"], "app.a", True),
        (None, ["t1", "t2"], "t1", True),
        (None, [], "unknown_workflow", True),
    ],
)
def test_workflow_name(launch_plan: str | None, tasks: list[str], expected: str, problem: bool) -> None:
    problems: set[str] = set()
    assert workflow_name(launch_plan, [TaskRef("p", "d", t) for t in tasks], problems) == expected
    assert bool(problems) is problem


def _task_entity(name: str) -> dict[str, Any]:
    return {
        "entity_type": "TASK",
        "entity_project": "p",
        "entity_domain": "d",
        "entity_name": name,
        "entity_version": "v1",
    }


def _sd(uri: str) -> Any:
    return lit.structured_dataset_literal(uri, {"a": lit.simple_type(1)})


def _scenario() -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """start -> A -> subworkflow S(inner C) -> B, plus a failed F; the workflow outputs C's dataset."""
    objects: dict[str, bytes] = {}

    def put(uri: str, **values: Any) -> str:
        objects[uri] = lit.literal_map_of(values).SerializeToString()
        return uri

    start_out = put("s3://b/start/out.pb", x=_sd("s3://b/ext"), n=lit.int_literal(1))
    a_in, a_out = put("s3://b/a/in.pb", x=_sd("s3://b/ext")), put("s3://b/a/out.pb", o=_sd("s3://b/a"))
    c_in, c_out = put("s3://b/c/in.pb", df=_sd("s3://b/a")), put("s3://b/c/out.pb", o=_sd("s3://b/c"))
    s_out = put("s3://b/s/out.pb", o=_sd("s3://b/c"))
    b_in = put("s3://b/b/in.pb", i=_sd("s3://b/c"))
    wf_out = put("s3://b/wf/out.pb", r=_sd("s3://b/c"))
    rows = [
        row("workflow", "RUNNING", occurred=0),
        row("workflow", "SUCCEEDED", occurred=20, output_uri=wf_out),
        row("node", "SUCCEEDED", node_id="start-node", spec_node_id="start-node", occurred=1, output_uri=start_out),
        row("node", "QUEUED", node_id="n0", occurred=2, input_uri=a_in, **_task_entity("app.wf.a")),
        row("node", "SUCCEEDED", node_id="n0", occurred=3, output_uri=a_out, **_task_entity("app.wf.a")),
        row("node", "RUNNING", node_id="n1", is_parent=True, occurred=4, input_uri=a_out),
        row("node", "SUCCEEDED", node_id="n1", is_parent=True, occurred=8, output_uri=s_out),
        row(
            "node",
            "QUEUED",
            node_id="fxyz1234",
            parent_node_id="n1",
            retry_group="0",
            spec_node_id="n0",
            occurred=5,
            input_uri=c_in,
            **_task_entity("app.wf.sub.c"),
        ),
        row(
            "node",
            "SUCCEEDED",
            node_id="fxyz1234",
            parent_node_id="n1",
            retry_group="0",
            spec_node_id="n0",
            occurred=7,
            output_uri=c_out,
            **_task_entity("app.wf.sub.c"),
        ),
        row("node", "QUEUED", node_id="n2", occurred=9, input_uri=b_in, **_task_entity("app.wf.b")),
        row("node", "SUCCEEDED", node_id="n2", occurred=10, **_task_entity("app.wf.b")),
        row("node", "FAILED", node_id="n3", occurred=11, input_uri=b_in, error_code="E", **_task_entity("app.wf.f")),
    ]
    return rows, objects


def _resolve(rows: list[dict[str, Any]], objects: dict[str, bytes], **kw: Any) -> Execution:
    (execution,) = resolve_executions(order_events(table(rows)), InMemoryObjectReader(objects), **kw)
    return execution


def test_edges_follow_the_data_and_prefer_the_same_scope() -> None:
    execution = _resolve(*_scenario())
    nodes = {n.node_id: n for n in execution.nodes}
    assert nodes["n0"].upstream_node_ids == ()
    assert nodes["n1"].upstream_node_ids == ("n0",)
    assert nodes["fxyz1234"].upstream_node_ids == ("n0",)  # across scopes: the naming producer
    assert nodes["n2"].upstream_node_ids == ("n1",)  # same scope: the subworkflow, not its inner task
    assert nodes["n3"].upstream_node_ids == ("n1",)
    assert nodes["n2"].inputs == (DatasetUse("i", "flyte:p.d.app.wf.sub.c.o"),)
    assert execution.inputs == (DatasetUse("x", "s3:b/ext"),)
    assert execution.outputs == (DatasetUse("r", "flyte:p.d.app.wf.sub.c.o"),)
    assert execution.workflow_name == "app.wf"


def test_datasets_are_named_by_the_innermost_task_producer() -> None:
    execution = _resolve(*_scenario())
    keys = {d.uri: d.key for d in execution.datasets}
    assert keys == {
        "s3://b/ext": "s3:b/ext",
        "s3://b/a": "flyte:p.d.app.wf.a.o",
        "s3://b/c": "flyte:p.d.app.wf.sub.c.o",
    }
    assert execution.dataset("flyte:p.d.app.wf.a.o").producer_task == "app.wf.a"
    assert execution.dataset("s3:b/ext").producer_task is None


def test_jobs_aggregate_successful_nodes_per_task() -> None:
    jobs = {j.task.name: j for j in _resolve(*_scenario()).jobs}
    assert sorted(jobs) == ["app.wf.a", "app.wf.b", "app.wf.f", "app.wf.sub.c"]
    assert jobs["app.wf.b"].inputs == ("flyte:p.d.app.wf.sub.c.o",)
    assert jobs["app.wf.b"].upstream_tasks == ("app.wf.sub.c",)
    assert jobs["app.wf.sub.c"].upstream_tasks == ("app.wf.a",)
    assert jobs["app.wf.a"].outputs == ("flyte:p.d.app.wf.a.o",)
    assert (jobs["app.wf.f"].inputs, jobs["app.wf.f"].outputs, jobs["app.wf.f"].node_ids) == ((), (), ("n3",))


def test_missing_literal_maps_are_problems_and_the_rest_is_kept() -> None:
    rows, objects = _scenario()
    del objects["s3://b/c/out.pb"]
    execution = _resolve(rows, objects)
    assert any("s3://b/c/out.pb" in p for p in execution.problems)
    nodes = {n.node_id: n for n in execution.nodes}
    assert nodes["fxyz1234"].outputs == ()
    assert nodes["n2"].upstream_node_ids == ("n1",)


def test_a_task_run_by_several_nodes_is_one_logical_dataset_located_at_the_lowest_node() -> None:
    objects = {
        "s3://b/1.pb": lit.literal_map_of({"o": _sd("s3://b/one")}).SerializeToString(),
        "s3://b/2.pb": lit.literal_map_of({"o": _sd("s3://b/two")}).SerializeToString(),
    }
    rows = [
        row("workflow", "SUCCEEDED", occurred=9),
        row("node", "SUCCEEDED", node_id="n2", output_uri="s3://b/1.pb", **_task_entity("app.t")),
        row("node", "SUCCEEDED", node_id="n1", output_uri="s3://b/2.pb", **_task_entity("app.t")),
    ]
    execution = _resolve(rows, objects)
    assert [(d.key, d.uri) for d in execution.datasets] == [("flyte:p.d.app.t.o", "s3://b/two")]
    assert execution.jobs[0].node_ids == ("n1", "n2")


def _one_task_run(objects: dict[str, bytes], **outputs: Any) -> Execution:
    objects["s3://b/out.pb"] = lit.literal_map_of(outputs).SerializeToString()
    rows = [
        row("workflow", "SUCCEEDED", occurred=9),
        row("node", "SUCCEEDED", node_id="n0", output_uri="s3://b/out.pb", **_task_entity("app.t")),
    ]
    return _resolve(rows, objects)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


FRAME = pa.table({"a": [1], "b": ["x"], "t": pa.array([0], pa.timestamp("us"))})
FRAME_FIELDS = (SchemaField("a", "int64"), SchemaField("b", "string"), SchemaField("t", "timestamp[us]"))
S = types_pb2.SimpleType


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        # issue 10.3: the footer is the schema; the declaration is kept as a property; only a real mismatch is a problem
        ({"a": lit.simple_type(S.INTEGER)}, None),
        ({"a": lit.simple_type(S.INTEGER), "t": lit.simple_type(S.DATETIME)}, None),
        ({"zz": lit.simple_type(S.INTEGER)}, "column 'zz' is not in the file"),
        ({"b": lit.simple_type(S.FLOAT)}, "column 'b' is declared double but the file has string"),
        (None, None),
    ],
)
def test_the_parquet_footer_is_the_schema_truth(columns: dict[str, Any] | None, problem: str | None) -> None:
    objects = {"s3://b/sd/00000": _parquet_bytes(FRAME)}
    execution = _one_task_run(objects, o0=lit.structured_dataset_literal("s3://b/sd", columns))
    (dataset,) = execution.datasets
    assert (dataset.fields, dataset.schema_source) == (FRAME_FIELDS, "parquet_footer")
    declared = dict(dataset.properties).get("declared_columns")
    if columns is None:
        assert declared is None
    else:
        assert declared is not None and declared.split(", ")[0].split(":")[0] in columns
    found = [p for p in execution.problems if "declared columns" in p]
    if problem is None:
        assert found == [] and execution.problems == ()
    else:
        assert len(found) == 1 and problem in found[0]


def test_annotations_are_used_when_no_footer_is_readable() -> None:
    execution = _one_task_run({}, o0=lit.structured_dataset_literal("s3://b/sd", {"a": lit.simple_type(S.INTEGER)}))
    (dataset,) = execution.datasets
    assert (dataset.fields, dataset.schema_source) == ((SchemaField("a", "int64"),), "literal_type")
    assert any("s3://b/sd" in p and "could not be listed" in p for p in execution.problems)


def _two_nodes(first: tuple[str, str, float], second: tuple[str, str, float], passthrough: bool) -> Execution:
    """Node ``first`` writes ``s3://b/x/`` (trailing slash); ``second`` reads ``s3://b/x`` and, when ``passthrough``,
    returns it unchanged, else writes it too (a re-run writing the same location)."""
    objects = {
        "s3://b/1.pb": lit.literal_map_of({"o": _sd("s3://b/x/")}).SerializeToString(),
        "s3://b/2i.pb": lit.literal_map_of({"i": _sd("s3://b/x")}).SerializeToString(),
        "s3://b/2o.pb": lit.literal_map_of({"o": _sd("s3://b/x")}).SerializeToString(),
    }
    (n1, t1, end1), (n2, t2, end2) = first, second
    rows = [
        row("workflow", "SUCCEEDED", occurred=99),
        row("node", "SUCCEEDED", node_id=n1, occurred=end1, output_uri="s3://b/1.pb", **_task_entity(t1)),
        row(
            "node",
            "SUCCEEDED",
            node_id=n2,
            occurred=end2,
            output_uri="s3://b/2o.pb",
            **({"input_uri": "s3://b/2i.pb"} if passthrough else {}),
            **_task_entity(t2),
        ),
    ]
    return _resolve(rows, objects)


@pytest.mark.parametrize(
    ("first", "second", "passthrough", "named_after"),
    [
        # issue 10.7: the node that produced the data names it, whatever the string order of node ids
        (("n6", "app.make", 1), ("n28", "app.check", 2), True, "app.make"),
        (("n28", "app.make", 1), ("n6", "app.check", 2), True, "app.make"),
        # both wrote it: the one that finished first; then natural order of node ids
        (("n28", "app.a", 1), ("n6", "app.b", 2), False, "app.a"),
        (("n28", "app.a", 1), ("n6", "app.b", 1), False, "app.b"),
    ],
)
def test_a_dataset_is_named_after_the_node_that_produced_it(
    first: tuple[str, str, float], second: tuple[str, str, float], passthrough: bool, named_after: str
) -> None:
    execution = _two_nodes(first, second, passthrough)
    (dataset,) = execution.datasets  # trailing slash or not: one location, one dataset
    assert (dataset.uri, dataset.producer_task) == ("s3://b/x", named_after)


# ---- list outputs (issue 10 point 8) ---------------------------------------------------------------------------

OTHER = pa.table({"z": [1.5]})


def _frames(*tables: pa.Table, prefix: str = "s3://b/raw") -> tuple[dict[str, bytes], list[Any]]:
    """Objects holding one Parquet element per table (``<prefix>/<i>/e<i>/00000``) and their literals."""
    objects = {f"{prefix}/{i}/e{i}/00000": _parquet_bytes(t) for i, t in enumerate(tables)}
    return objects, [lit.structured_dataset_literal(f"{prefix}/{i}/e{i}") for i in range(len(tables))]


def test_a_list_output_is_one_dataset_with_every_element_location() -> None:
    objects, items = _frames(*[FRAME] * 11)
    objects["s3://b/eu/00000"] = _parquet_bytes(FRAME)
    eu = lit.structured_dataset_literal("s3://b/eu")
    execution = _one_task_run(objects, o0=lit.collection_literal(items), o1=lit.map_literal({"eu": eu}))
    by_name = {d.name: d for d in execution.datasets}
    assert sorted(by_name) == ["p.d.app.t.o0", "p.d.app.t:o1.eu"]
    listed = by_name["p.d.app.t.o0"]
    assert listed.elements == tuple((str(i), f"s3://b/raw/{i}/e{i}") for i in range(11))  # list order, 2 before 10
    assert (listed.uri, listed.output_name, listed.fields, listed.schema_source) == (
        "s3://b/raw/0/e0",
        "o0",
        FRAME_FIELDS,
        "parquet_footer",
    )
    assert by_name["p.d.app.t:o1.eu"].elements == ()  # a map key is a name the user chose: its own dataset
    assert execution.nodes[0].outputs == (DatasetUse("o0", listed.key), DatasetUse("o1.eu", "flyte:p.d.app.t:o1.eu"))
    assert execution.problems == ()


def test_elements_with_other_columns_are_a_problem_and_the_first_schema_is_used() -> None:
    objects, items = _frames(FRAME, OTHER, FRAME)
    execution = _one_task_run(objects, o0=lit.collection_literal(items))
    (dataset,) = execution.datasets
    assert dataset.fields == FRAME_FIELDS and dict(dataset.properties)["element_schemas"] == "differ"
    (problem,) = execution.problems
    assert "list dataset flyte:p.d.app.t.o0: elements 1 hold other columns than element 0" in problem


def test_a_list_consumed_downstream_is_one_input_and_one_edge() -> None:
    objects, items = _frames(FRAME, FRAME)
    objects["s3://b/out.pb"] = lit.literal_map_of({"o0": lit.collection_literal(items)}).SerializeToString()
    objects["s3://b/in.pb"] = lit.literal_map_of({"parts": lit.collection_literal(items)}).SerializeToString()
    rows = [
        row("workflow", "SUCCEEDED", occurred=9),
        row("node", "SUCCEEDED", node_id="n0", output_uri="s3://b/out.pb", **_task_entity("app.split")),
        row("node", "SUCCEEDED", node_id="n1", input_uri="s3://b/in.pb", **_task_entity("app.combine")),
    ]
    execution = _resolve(rows, objects)
    nodes = {n.node_id: n for n in execution.nodes}
    assert nodes["n1"].inputs == (DatasetUse("parts", "flyte:p.d.app.split.o0"),)
    assert nodes["n1"].upstream_node_ids == ("n0",)
    assert [d.key for d in execution.datasets] == ["flyte:p.d.app.split.o0"]


def test_a_task_run_by_several_nodes_lists_the_elements_of_the_lowest_node() -> None:
    first, items_one = _frames(FRAME, FRAME, prefix="s3://b/one")
    second, items_two = _frames(FRAME, prefix="s3://b/two")
    objects = {
        **first,
        **second,
        "s3://b/1.pb": lit.literal_map_of({"o": lit.collection_literal(items_one)}).SerializeToString(),
        "s3://b/2.pb": lit.literal_map_of({"o": lit.collection_literal(items_two)}).SerializeToString(),
    }
    rows = [
        row("workflow", "SUCCEEDED", occurred=9),
        row("node", "SUCCEEDED", node_id="n2", output_uri="s3://b/1.pb", **_task_entity("app.t")),
        row("node", "SUCCEEDED", node_id="n1", output_uri="s3://b/2.pb", **_task_entity("app.t")),
    ]
    (dataset,) = _resolve(rows, objects).datasets
    assert (dataset.uri, dataset.elements) == ("s3://b/two/0/e0", (("0", "s3://b/two/0/e0"),))


def test_a_list_from_outside_keeps_one_dataset_per_location() -> None:
    objects, items = _frames(FRAME, FRAME)
    objects["s3://b/in.pb"] = lit.literal_map_of({"parts": lit.collection_literal(items)}).SerializeToString()
    rows = [
        row("workflow", "SUCCEEDED", occurred=9),
        row("node", "SUCCEEDED", node_id="n1", input_uri="s3://b/in.pb", **_task_entity("app.combine")),
    ]
    execution = _resolve(rows, objects)
    assert [(d.key, d.elements) for d in execution.datasets] == [
        ("s3:b/raw/0/e0", ()),
        ("s3:b/raw/1/e1", ()),
    ]
