"""Named execution shapes: each records the events and objects of one whole Flyte execution on a timeline.

Every scenario starts from workflow inputs that include a dataset produced outside the execution (an S3 landing
prefix with several Parquet files), and wires each node's inputs to the very literals an upstream node produced.
`SCENARIOS` maps the public names to `Scenario` entries; `flyte_event_generator.generate` runs them.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

from flyteidl.core import identifier_pb2, literals_pb2

from flytelineage.testing import flyte_literals as lit
from flytelineage.testing import node_steps as steps
from flytelineage.testing import parquet_samples as samples
from flytelineage.testing.event_timeline import RESOURCE, ExecutionTimeline, NodeRef
from flytelineage.testing.node_steps import NodeResult, Step, TaskPlan, TaskRef, drive
from flytelineage.testing.task_outputs import OutputData

LiteralDict = dict[str, literals_pb2.Literal]

EXTRACT = TaskRef("app.pipelines.orders.extract", cache_version="1.0")
TRANSFORM = TaskRef("app.pipelines.orders.transform", cache_version="1.0")
LOAD = TaskRef("app.pipelines.orders.load")
SPLIT = TaskRef("app.pipelines.orders.split")
PROCESS = TaskRef("app.pipelines.orders.process_partition")
COMBINE = TaskRef("app.pipelines.orders.combine")
CLEAN = TaskRef("app.pipelines.features.clean")
NORMALIZE = TaskRef("app.pipelines.features.normalize_columns")
SCORE = TaskRef("app.pipelines.scoring.score_shard")
FAN_OUT = TaskRef("app.pipelines.scoring.fan_out")
CHILD_TASK = TaskRef("app.pipelines.reporting.build_report")
PLAN_SHARDS = TaskRef("app.pipelines.scoring.plan_shards")
SCORE_BATCH = TaskRef("app.pipelines.scoring.score_batch")
PROFILE = TaskRef("app.pipelines.quality.profile")
PUBLISH = TaskRef("app.pipelines.quality.publish")


def _external_dataset(timeline: ExecutionTimeline, files: int = 3) -> literals_pb2.Literal:
    """An input dataset nobody in the execution produced: an S3 landing prefix with several Parquet parts."""
    uri = f"s3://{timeline.settings.bucket}/landing/orders/dt=2024-01-01"
    if timeline.with_objects:
        for index in range(files):
            table = samples.orders_table(timeline.data_rng, 5)
            timeline.put(f"{uri}/part-{index:05d}.parquet", samples.parquet_bytes(table))
    return lit.structured_dataset_literal(uri, samples.ANNOTATED_COLUMNS["orders"])


def workflow_inputs(timeline: ExecutionTimeline) -> LiteralDict:
    """Workflow inputs: an external dataset plus primitives."""
    return {
        "orders": _external_dataset(timeline),
        "run_date": lit.str_literal("2024-01-01"),
        "sample_size": lit.int_literal(100),
    }


def _extract(timeline: ExecutionTimeline, inputs: LiteralDict, plan: TaskPlan | None = None) -> Step[NodeResult]:
    node_inputs = {"orders": inputs["orders"], "run_date": inputs["run_date"]}
    return steps.task_node(
        timeline,
        "n0",
        EXTRACT,
        node_inputs,
        lambda d: {"o0": d.dataset("rich", annotated=True), "o1": lit.int_literal(42)},
        plan=plan,
    )


def _transform(
    timeline: ExecutionTimeline, df: literals_pb2.Literal, spec: str = "n1", plan: TaskPlan | None = None
) -> Step[NodeResult]:
    return steps.task_node(
        timeline,
        spec,
        TRANSFORM,
        {"df": df, "limit": lit.int_literal(100)},
        lambda d: {"o0": d.dataset("rich", annotated=False), "o1": d.legacy_schema(), "o2": d.csv_file()},
        plan=plan,
    )


def _load(timeline: ExecutionTimeline, inputs: LiteralDict, spec: str = "n2") -> Step[NodeResult]:
    return steps.task_node(
        timeline,
        spec,
        LOAD,
        inputs,
        lambda d: {"o0": d.directory(), "o1": d.offloaded("o1", d.dataset("orders", annotated=True))},
    )


# ---- scenarios ---------------------------------------------------------------------------------------------------


def linear(timeline: ExecutionTimeline) -> None:
    """start → n0 extract → n1 transform → n2 load → end (every literal kind appears once)."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    b = drive(_transform(timeline, a.outputs["o0"]))
    c = drive(_load(timeline, {"df": b.outputs["o0"], "summary": b.outputs["o1"], "report": b.outputs["o2"]}))
    outputs = {"o0": c.outputs["o0"], "o1": c.outputs["o1"], "o2": b.outputs["o0"]}
    steps.succeed_workflow(timeline, inputs, outputs)


def fan_out_fan_in(timeline: ExecutionTimeline) -> None:
    """n0 splits into a List[DataFrame] and a Dict[str, DataFrame]; n1..n3 run in parallel; n4 combines."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)

    def split(d: OutputData) -> LiteralDict:
        parts = [d.dataset("orders", annotated=False) for _ in range(3)]
        regions = {"eu": d.dataset("orders", annotated=True), "us": d.dataset("orders", annotated=True)}
        return {"o0": lit.collection_literal(parts), "o1": lit.map_literal(regions)}

    a = drive(steps.task_node(timeline, "n0", SPLIT, {"orders": inputs["orders"]}, split))
    parts = list(a.outputs["o0"].collection.literals)
    branches = [
        steps.task_node(
            timeline,
            f"n{index + 1}",
            PROCESS,
            {"part": part, "index": lit.int_literal(index)},
            lambda d: {"o0": d.dataset("rich", annotated=True)},
        )
        for index, part in enumerate(parts)
    ]
    processed = drive(steps.drive_parallel(timeline, branches))
    combine_inputs = {
        "parts": lit.collection_literal([result.outputs["o0"] for result in processed]),
        "regions": a.outputs["o1"],
    }
    combined = drive(
        steps.task_node(timeline, "n4", COMBINE, combine_inputs, lambda d: {"o0": d.dataset("rich", files=3)})
    )
    steps.succeed_workflow(timeline, inputs, {"o0": combined.outputs["o0"]})


def retry(timeline: ExecutionTimeline) -> None:
    """Like `linear`, but n1's attempt 0 fails (task FAILED, no node event) and attempt 1 succeeds."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    b = drive(_transform(timeline, a.outputs["o0"], plan=TaskPlan(failed_attempts=1)))
    c = drive(_load(timeline, {"df": b.outputs["o0"], "report": b.outputs["o2"]}))
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o0"]})


def source_execution_name(timeline: ExecutionTimeline) -> str:
    """A name for an earlier execution whose outputs the cache serves (deterministic per timeline)."""
    return "a" + timeline.random_hex(76)[:19]


def cache_hit(timeline: ExecutionTimeline) -> None:
    """n0 is served from the cache of an earlier execution (one NODE SUCCEEDED, no task events); n1 populates."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    source_name = source_execution_name(timeline)
    n0 = timeline.node("n0")
    original = OutputData(timeline, n0, 0, execution_name=source_name)
    cached = {"o0": original.dataset("rich", annotated=True), "o1": lit.int_literal(42)}
    source_node = identifier_pb2.NodeExecutionIdentifier(
        node_id="n0",
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(
            project=timeline.settings.project, domain=timeline.settings.domain, name=source_name
        ),
    )
    source = identifier_pb2.TaskExecutionIdentifier(
        task_id=timeline.identifier(RESOURCE.TASK, EXTRACT.name),
        node_execution_id=source_node,
        retry_attempt=0,
    )
    node_inputs = {"orders": inputs["orders"], "run_date": inputs["run_date"]}
    a = drive(steps.cache_hit_node(timeline, "n0", EXTRACT, node_inputs, cached, source))
    b = drive(_transform(timeline, a.outputs["o0"]))
    c = drive(_load(timeline, {"df": b.outputs["o0"]}))
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o0"], "o1": a.outputs["o0"]})


def subworkflow(timeline: ExecutionTimeline) -> None:
    """n1 is an inline subworkflow; its second child's id (`n1-0-normalize-columns`) is hashed by propeller."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    sub_inputs = {"df": a.outputs["o0"]}

    def children(parent: NodeRef) -> Step[LiteralDict]:
        cleaned = yield from steps.task_node(
            timeline, "n0", CLEAN, sub_inputs, lambda d: {"o0": d.dataset("rich", annotated=True)}, parent=parent
        )
        normalized = yield from steps.task_node(
            timeline,
            "normalize-columns",
            NORMALIZE,
            {"df": cleaned.outputs["o0"]},
            lambda d: {"o0": d.dataset("rich", annotated=False)},
            parent=parent,
        )
        return {"o0": normalized.outputs["o0"]}

    b = drive(steps.subworkflow_node(timeline, "n1", sub_inputs, children))
    c = drive(_load(timeline, {"df": b.outputs["o0"]}))
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o0"]})


def dynamic(timeline: ExecutionTimeline) -> None:
    """n1 is a dynamic task that spawns dn0..dn2 (parallel, in the dynamic chain); n2 consumes their list."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    dyn_inputs = {"df": a.outputs["o0"], "shards": lit.int_literal(3)}
    child_ids = ["dn0", "dn1", "dn2"]

    def children(parent: NodeRef) -> Step[LiteralDict]:
        branches = [
            steps.task_node(
                timeline,
                child,
                SCORE,
                {"df": dyn_inputs["df"], "shard": lit.int_literal(index)},
                lambda d: {"o0": d.dataset("rich", annotated=True)},
                parent=parent,
            )
            for index, child in enumerate(child_ids)
        ]
        results = yield from steps.drive_parallel(timeline, branches)
        return {"o0": lit.collection_literal([result.outputs["o0"] for result in results])}

    b = drive(steps.dynamic_node(timeline, "n1", FAN_OUT, dyn_inputs, child_ids, children))
    c = drive(steps.task_node(timeline, "n2", COMBINE, {"parts": b.outputs["o0"]}, lambda d: {"o0": d.dataset()}))
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o0"]})


def dynamic_unregistered(timeline: ExecutionTimeline) -> None:
    """n1 is a dynamic task whose dynamic workflow runs tasks FlyteAdmin never registered: a nested dynamic `dn0`
    (spawning two task nodes) and a map task `dn1`. cloudEvents v2 drops the SUCCEEDED event of all four nodes
    (their task lookup fails); the other publishers send them. n2 consumes both outputs of n1.
    """
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    dyn_inputs = {"df": a.outputs["o0"], "shards": lit.int_literal(2)}

    def shards(parent: NodeRef) -> Step[LiteralDict]:
        branches = [
            steps.task_node(
                timeline,
                child,
                SCORE,
                {"df": dyn_inputs["df"], "shard": lit.int_literal(index)},
                lambda d: {"o0": d.dataset("rich", annotated=True)},
                parent=parent,
                registered=False,
            )
            for index, child in enumerate(["dn0", "dn1"])
        ]
        results = yield from steps.drive_parallel(timeline, branches)
        return {"o0": lit.collection_literal([result.outputs["o0"] for result in results])}

    def children(parent: NodeRef) -> Step[LiteralDict]:
        nested = yield from steps.dynamic_node(
            timeline, "dn0", PLAN_SHARDS, dyn_inputs, ["dn0", "dn1"], shards, parent=parent, registered=False
        )
        mapped_node = timeline.node("dn1", parent=parent)
        items = [
            OutputData(timeline, mapped_node, 0, raw_suffix=f"-n{index}").dataset("rich", annotated=True)
            for index in range(3)
        ]
        mapped = yield from steps.array_node(
            timeline, "dn1", SCORE_BATCH, {"df": dyn_inputs["df"]}, items, parent=parent, registered=False
        )
        return {"o0": nested.outputs["o0"], "o1": mapped.outputs["o0"]}

    b = drive(steps.dynamic_node(timeline, "n1", FAN_OUT, dyn_inputs, ["dn0", "dn1"], children))
    combine_inputs = {"parts": b.outputs["o0"], "batches": b.outputs["o1"]}
    c = drive(steps.task_node(timeline, "n2", COMBINE, combine_inputs, lambda d: {"o0": d.dataset()}))
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o0"]})


def map_task(timeline: ExecutionTimeline, *, task_events_published: bool = True) -> None:
    """n1 is an ArrayNode mapping `score_shard` over n0's four partitions (subtask 2 is a cache hit)."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(
        steps.task_node(
            timeline,
            "n0",
            SPLIT,
            {"orders": inputs["orders"]},
            lambda d: {"o0": lit.collection_literal([d.dataset("orders", annotated=False) for _ in range(4)])},
        )
    )
    n1 = timeline.node("n1")
    source_name = source_execution_name(timeline)
    item_outputs = [
        OutputData(
            timeline, n1, 0, raw_suffix=f"-n{index}", execution_name=source_name if index == 2 else None
        ).dataset("rich", annotated=True)
        for index in range(4)
    ]
    b = drive(
        steps.array_node(
            timeline,
            "n1",
            SCORE,
            {"part": a.outputs["o0"]},
            item_outputs,
            frozenset({2}),
            task_events_published=task_events_published,
        )
    )
    c = drive(steps.task_node(timeline, "n2", COMBINE, {"parts": b.outputs["o0"]}, lambda d: {"o0": d.dataset()}))
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o0"]})


def map_without_task_events(timeline: ExecutionTimeline) -> None:
    """`map_task` whose `container_array` task events never reach SNS (too large to publish): the array node is
    known only from its own node events, which carry no `target_entity`."""
    map_task(timeline, task_events_published=False)


def failed(timeline: ExecutionTimeline) -> None:
    """n1 fails on both attempts: TASK FAILED x2, NODE FAILED (retries exhausted), WF FAILING, WF FAILED."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    b = drive(_transform(timeline, a.outputs["o0"], plan=TaskPlan(failed_attempts=1, outcome="failed")))
    steps.fail_workflow(timeline, b)


def aborted(timeline: ExecutionTimeline) -> None:
    """The execution is aborted while n1 runs: TASK ABORTED, NODE ABORTED, WF ABORTED."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    drive(_transform(timeline, a.outputs["o0"], plan=TaskPlan(outcome="aborted")))
    steps.abort_workflow(timeline)


CHILD_LAUNCH_PLAN = "app.pipelines.reporting.report_lp"


def launch_plan_child(timeline: ExecutionTimeline) -> None:
    """n1 launches another launch plan: the child execution's own events follow under its own execution id."""
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    child_inputs = {"df": a.outputs["o0"]}

    def run_child(child_id: identifier_pb2.WorkflowExecutionIdentifier) -> LiteralDict:
        # FlyteAdmin records the caller of CreateExecution as the principal: for a child launch plan that is
        # propeller's own client id, not the user who launched the parent.
        settings = dataclasses.replace(
            timeline.settings, name=child_id.name, launch_plan=CHILD_LAUNCH_PLAN, principal=SERVICE_PRINCIPAL
        )
        child = ExecutionTimeline(
            settings,
            random.Random(timeline.rng.getrandbits(64)),
            random.Random(timeline.data_rng.getrandbits(64)),
            with_objects=timeline.with_objects,
        )
        child.advance_to(timeline.now_us())
        steps.begin_workflow(child, child_inputs)
        report = drive(
            steps.task_node(child, "n0", CHILD_TASK, child_inputs, lambda d: {"o0": d.dataset("rich", annotated=True)})
        )
        outputs = {"o0": report.outputs["o0"]}
        steps.succeed_workflow(child, child_inputs, outputs)
        timeline.records.extend(child.records)
        timeline.objects.update(child.objects)
        timeline.advance_to(child.now_us())
        return outputs

    b = drive(steps.launch_plan_node(timeline, "n1", CHILD_LAUNCH_PLAN, child_inputs, run_child))
    c = drive(_load(timeline, {"df": b.outputs["o0"]}))
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o0"]})


def typed_outputs(timeline: ExecutionTimeline) -> None:
    """The output types flytekit 1.16 writes beyond plain frames: n0 extract → n1 profile → n2 publish.

    n1 returns an ``Optional[pd.DataFrame]`` (``scalar.union``), a dataclass holding a frame and a file (msgpack), a
    CSV structured dataset (``<uri>/.csv``), a structured dataset whose URI is one Parquet object, a plain
    ``FlyteFile`` holding Parquet and an ``Optional[str]``; n2 reads the optional frame and the dataclass and returns
    an older-flytekit dataclass (``scalar.generic``) and a frame whose URI ends in ``/``.
    """
    inputs = workflow_inputs(timeline)
    steps.begin_workflow(timeline, inputs)
    a = drive(_extract(timeline, inputs))
    b = drive(
        steps.task_node(
            timeline,
            "n1",
            PROFILE,
            {"df": a.outputs["o0"]},
            lambda d: {
                "o0": lit.union_literal(d.dataset("rich", annotated=False)),
                "o1": d.bundle(),
                "o2": d.csv_dataset(),
                "o3": d.single_file_dataset(),
                "o4": d.plain_file(),
                "o5": lit.union_literal(lit.str_literal("ok")),
            },
        )
    )
    c = drive(
        steps.task_node(
            timeline,
            "n2",
            PUBLISH,
            {"frame": b.outputs["o0"], "bundle": b.outputs["o1"], "table": b.outputs["o3"]},
            lambda d: {"o0": d.legacy_bundle(), "o1": d.dataset("orders", annotated=False, trailing_slash=True)},
        )
    )
    steps.succeed_workflow(timeline, inputs, {"o0": c.outputs["o1"], "o1": b.outputs["o2"]})


SERVICE_PRINCIPAL = "flytepropeller"
"""The client id propeller (and the native scheduler) authenticate with in the Flyte Helm charts."""


@dataclass(frozen=True)
class Scenario:
    """A registry entry: the function, its launch plan name, the terminal phase, the propeller raw-output policy
    and the workflow `EventVersion` propeller stamps (0 on old deployments)."""

    run: Callable[[ExecutionTimeline], None]
    launch_plan: str
    terminal_phase: str = "SUCCEEDED"
    raw_output_policy: str = "reference"
    event_version: int = 2


SCENARIOS: dict[str, Scenario] = {
    "linear": Scenario(linear, "app.pipelines.orders.linear_wf"),
    "linear_inline": Scenario(linear, "app.pipelines.orders.linear_wf", raw_output_policy="inline"),
    "fan_out_fan_in": Scenario(fan_out_fan_in, "app.pipelines.orders.fan_out_wf"),
    "retry": Scenario(retry, "app.pipelines.orders.retry_wf"),
    "cache_hit": Scenario(cache_hit, "app.pipelines.orders.cached_wf"),
    "subworkflow": Scenario(subworkflow, "app.pipelines.features.parent_wf"),
    "dynamic": Scenario(dynamic, "app.pipelines.scoring.dynamic_wf"),
    "map": Scenario(map_task, "app.pipelines.scoring.map_wf"),
    "map_without_task_events": Scenario(map_without_task_events, "app.pipelines.scoring.map_wf"),
    "dynamic_unregistered": Scenario(dynamic_unregistered, "app.pipelines.scoring.nested_dynamic_wf"),
    "linear_event_version_0": Scenario(linear, "app.pipelines.orders.linear_wf", event_version=0),
    "failed": Scenario(failed, "app.pipelines.orders.failing_wf", terminal_phase="FAILED"),
    "aborted": Scenario(aborted, "app.pipelines.orders.aborted_wf", terminal_phase="ABORTED"),
    "launch_plan_child": Scenario(launch_plan_child, "app.pipelines.reporting.parent_wf"),
    "typed_outputs": Scenario(typed_outputs, "app.pipelines.quality.profile_wf"),
}
