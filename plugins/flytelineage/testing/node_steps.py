"""Event sequences of Flyte node kinds, as propeller emits them (flyte-events.md §3.3).

Every sequence is a generator that records events on an `ExecutionTimeline` and yields after each one, so parallel
branches can be interleaved (`drive_parallel`); its return value is a `NodeResult` carrying the node's output
literals, which downstream nodes take as inputs (the data flow the grouping stage turns into edges).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from flyteidl.core import catalog_pb2, compiler_pb2, execution_pb2, identifier_pb2, literals_pb2
from flyteidl.event import event_pb2

from flytelineage.testing import flyte_literals as lit
from flytelineage.testing.event_timeline import (
    NODE_PHASE,
    RESOURCE,
    TASK_PHASE,
    WF_PHASE,
    ExecutionTimeline,
    Literals,
    NodeRef,
    execution_error,
)
from flytelineage.testing.propeller_ids import child_execution_name, fixed_length_unique_id_for_parts
from flytelineage.testing.task_outputs import OutputData

T = TypeVar("T")
Step = Generator[None, None, T]
OutputsFn = Callable[[OutputData], dict[str, literals_pb2.Literal]]
CACHE = catalog_pb2.CatalogCacheStatus

#: `IDMaxLength` of propeller's task plugins (pod names).
POD_NAME_MAX_LENGTH = 50


@dataclass(frozen=True)
class TaskRef:
    """A registered task; `cache_version` non-empty means `cache=True`."""

    name: str
    task_type: str = "python-task"
    cache_version: str = ""


@dataclass(frozen=True)
class TaskPlan:
    """How a task node runs: failed attempts before the last one, the last attempt's outcome, RUNNING updates."""

    failed_attempts: int = 0
    outcome: str = "succeeded"
    running_updates: int = 1


@dataclass
class NodeResult:
    """A finished node: where it ran, what it produced, which attempt finished it."""

    node: NodeRef
    outputs: dict[str, literals_pb2.Literal]
    attempt: int = 0
    task_id: identifier_pb2.Identifier | None = None


def drive(step: Step[T]) -> T:
    """Run one sequence to completion and return its result."""
    while True:
        try:
            next(step)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def drive_parallel(timeline: ExecutionTimeline, steps: list[Step[T]]) -> Step[list[T]]:
    """Interleave parallel branches at random (seeded) event boundaries; results keep the input order."""
    results: dict[int, T] = {}
    pending = list(range(len(steps)))
    while pending:
        index = timeline.rng.choice(pending)
        try:
            next(steps[index])
            yield
        except StopIteration as done:
            results[index] = done.value
            pending.remove(index)
    return [results[index] for index in range(len(steps))]


# ---- shared pieces -----------------------------------------------------------------------------------------------


def _set_node_inputs(
    timeline: ExecutionTimeline, event: event_pb2.NodeExecutionEvent, node: NodeRef, inputs: Literals
) -> None:
    if timeline.inline:
        event.input_data.CopyFrom(lit.literal_map_of(inputs))
    else:
        event.input_uri = timeline.inputs_uri(node)


def _set_outputs(
    timeline: ExecutionTimeline,
    event: event_pb2.NodeExecutionEvent | event_pb2.TaskExecutionEvent,
    uri: str,
    outputs: Literals,
) -> None:
    if timeline.inline:
        event.output_data.CopyFrom(lit.literal_map_of(outputs))
    else:
        event.output_uri = uri


def node_queued(
    timeline: ExecutionTimeline, node: NodeRef, inputs: Literals, **flags: bool
) -> event_pb2.NodeExecutionEvent:
    """Store inputs.pb and record NODE QUEUED (flags: is_parent, is_array, is_dynamic)."""
    timeline.put_literal_map(timeline.inputs_uri(node), inputs)
    event = timeline.node_event(node, NODE_PHASE.QUEUED)
    _set_node_inputs(timeline, event, node, inputs)
    for flag, value in flags.items():
        setattr(event, flag, value)
    return timeline.record_node(event)


def node_phase(timeline: ExecutionTimeline, node: NodeRef, phase: int, **flags: bool) -> event_pb2.NodeExecutionEvent:
    """Record a bare node event (RUNNING and the like)."""
    event = timeline.node_event(node, phase)
    for flag, value in flags.items():
        setattr(event, flag, value)
    return timeline.record_node(event)


def pod_name(timeline: ExecutionTimeline, node: NodeRef, attempt: int) -> str:
    """The generated (pod) name of a task attempt."""
    parts = [timeline.settings.name, node.node_id, str(attempt)]
    return fixed_length_unique_id_for_parts(parts, POD_NAME_MAX_LENGTH)


_LOG_FORMAT_JSON = execution_pb2.TaskLog.JSON


def _task_event(
    timeline: ExecutionTimeline,
    node: NodeRef,
    task: TaskRef,
    attempt: int,
    phase: int,
    version: int,
    inputs: Literals,
) -> event_pb2.TaskExecutionEvent:
    task_id = timeline.identifier(RESOURCE.TASK, task.name)
    event = timeline.task_event(node, task_id, attempt, phase, version)
    first = phase == TASK_PHASE.QUEUED and version == 0
    if timeline.inline:
        # The inline policy reads the inputs only for the attempt's first event; later ones carry an empty map.
        event.input_data.CopyFrom(lit.literal_map_of(inputs) if first else literals_pb2.LiteralMap())
    else:
        event.input_uri = timeline.inputs_uri(node)
    event.task_type = task.task_type
    name = pod_name(timeline, node, attempt)
    event.metadata.generated_name = name
    event.metadata.plugin_identifier = "container"
    if first:
        event.reasons.add(reason="task submitted to K8s", occurred_at=event.occurred_at)
    else:
        log = event.logs.add()
        log.name = "Kubernetes Logs (User)"
        log.uri = f"https://logs.example.com/{timeline.settings.project}-{timeline.settings.domain}/{name}"
        log.message_format = _LOG_FORMAT_JSON
    return event


def _run_attempt(
    timeline: ExecutionTimeline, node: NodeRef, task: TaskRef, attempt: int, inputs: Literals, plan: TaskPlan
) -> Step[None]:
    """⊘ TASK QUEUED (never published), NODE RUNNING on the first attempt, then published TASK RUNNING versions."""
    queued = _task_event(timeline, node, task, attempt, TASK_PHASE.QUEUED, 0, inputs)
    timeline.record_task(queued, published=False)
    yield
    if attempt == 0:
        node_phase(timeline, node, NODE_PHASE.RUNNING)
        yield
    for version in range(plan.running_updates + 1):
        timeline.record_task(_task_event(timeline, node, task, attempt, TASK_PHASE.RUNNING, version, inputs))
        yield


def _user_error(message: str = "ValueError: input frame has no rows") -> execution_pb2.ExecutionError:
    return execution_error("USER:ValueError", f"Traceback (most recent call last):\n  ...\n{message}")


def _catalog_key(
    timeline: ExecutionTimeline, task: TaskRef, source: identifier_pb2.TaskExecutionIdentifier
) -> catalog_pb2.CatalogMetadata:
    dataset = timeline.settings.identifier(
        RESOURCE.DATASET, f"flyte_task-{task.name}", f"{task.cache_version}-{timeline.random_hex(32)}"
    )
    tag = catalog_pb2.CatalogArtifactTag(
        artifact_id=timeline.random_hex(), name=f"flyte_cached-{timeline.random_hex(64)}"
    )
    return catalog_pb2.CatalogMetadata(dataset_id=dataset, artifact_tag=tag, source_task_execution=source)


# ---- task node ---------------------------------------------------------------------------------------------------


def task_node(
    timeline: ExecutionTimeline,
    spec_node_id: str,
    task: TaskRef,
    inputs: Literals,
    outputs: OutputsFn,
    *,
    plan: TaskPlan | None = None,
    parent: NodeRef | None = None,
    parent_attempt: int = 0,
    registered: bool = True,
) -> Step[NodeResult]:
    """A k8s pod task node: QUEUED, attempts (failed ones publish no node event), then the final outcome.

    `registered=False`: FlyteAdmin cannot look the task up (a task inside a dynamic workflow), so the cloudEvents v2
    publisher drops the node's SUCCEEDED event.
    """
    plan = plan or TaskPlan()
    task_id = timeline.identifier(RESOURCE.TASK, task.name)
    node = timeline.node(spec_node_id, parent=parent, parent_attempt=parent_attempt, target_entity=task_id)
    node_queued(timeline, node, inputs)
    yield
    last = plan.failed_attempts
    for attempt in range(last + 1):
        yield from _run_attempt(timeline, node, task, attempt, inputs, plan)
        if attempt < last:
            failed = _task_event(timeline, node, task, attempt, TASK_PHASE.FAILED, 0, inputs)
            failed.error.CopyFrom(_user_error())
            timeline.record_task(failed)
            yield
    if plan.outcome == "succeeded":
        return (yield from _task_succeeded(timeline, node, task, last, inputs, outputs, registered))
    return (yield from _task_stopped(timeline, node, task, last, inputs, plan.outcome))


def _task_succeeded(
    timeline: ExecutionTimeline,
    node: NodeRef,
    task: TaskRef,
    attempt: int,
    inputs: Literals,
    outputs: OutputsFn,
    registered: bool = True,
) -> Step[NodeResult]:
    data = OutputData(timeline, node, attempt)
    values = outputs(data)
    uri = timeline.outputs_uri(node, attempt)
    timeline.put_literal_map(uri, values)
    done = _task_event(timeline, node, task, attempt, TASK_PHASE.SUCCEEDED, 0, inputs)
    _set_outputs(timeline, done, uri, values)
    timeline.record_task(done)
    yield
    task_exec = timeline.task_execution_id(node, done.task_id, attempt)
    event = timeline.node_event(node, NODE_PHASE.SUCCEEDED)
    _set_outputs(timeline, event, uri, values)
    event.task_node_metadata.checkpoint_uri = f"{data.raw}/_flytecheckpoints"
    if task.cache_version:
        event.task_node_metadata.cache_status = CACHE.CACHE_POPULATED
        event.task_node_metadata.catalog_key.CopyFrom(_catalog_key(timeline, task, task_exec))
    enrichment = timeline.enrichment(
        task_exec_id=task_exec, interface=(dict(inputs), values), task_registered=registered
    )
    timeline.record_node(event, enrichment=enrichment)
    yield
    return NodeResult(node, values, attempt, done.task_id)


def _task_stopped(
    timeline: ExecutionTimeline, node: NodeRef, task: TaskRef, attempt: int, inputs: Literals, outcome: str
) -> Step[NodeResult]:
    """The last attempt fails (NODE FAILED, retries exhausted) or is aborted (TASK then NODE ABORTED)."""
    if outcome == "failed":
        task_phase, node_phase_value = TASK_PHASE.FAILED, NODE_PHASE.FAILED
        task_error = _user_error()
        node_error = execution_error(f"RetriesExhausted|{task_error.code}", task_error.message)
    else:
        task_phase, node_phase_value = TASK_PHASE.ABORTED, NODE_PHASE.ABORTED
        task_error = execution_error("Task Aborted", "Task aborted", execution_pb2.ExecutionError.SYSTEM)
        node_error = execution_error("NodeAborted", "Node aborted by user", execution_pb2.ExecutionError.USER)
    stopped = _task_event(timeline, node, task, attempt, task_phase, 0, inputs)
    stopped.error.CopyFrom(task_error)
    timeline.record_task(stopped)
    yield
    event = timeline.node_event(node, node_phase_value)
    event.error.CopyFrom(node_error)
    timeline.record_node(event)
    yield
    return NodeResult(node, {}, attempt, stopped.task_id)


def cache_hit_node(
    timeline: ExecutionTimeline,
    spec_node_id: str,
    task: TaskRef,
    inputs: Literals,
    cached_outputs: dict[str, literals_pb2.Literal],
    source: identifier_pb2.TaskExecutionIdentifier,
    *,
    parent: NodeRef | None = None,
) -> Step[NodeResult]:
    """Exactly one NODE SUCCEEDED (CACHE_HIT, catalog key pointing at the producing run), no task events."""
    task_id = timeline.identifier(RESOURCE.TASK, task.name)
    node = timeline.node(spec_node_id, parent=parent, target_entity=task_id)
    timeline.put_literal_map(timeline.inputs_uri(node), inputs)
    uri = timeline.outputs_uri(node, 0)
    timeline.put_literal_map(uri, cached_outputs)
    event = timeline.node_event(node, NODE_PHASE.SUCCEEDED)
    _set_node_inputs(timeline, event, node, inputs)
    _set_outputs(timeline, event, uri, cached_outputs)
    event.task_node_metadata.cache_status = CACHE.CACHE_HIT
    event.task_node_metadata.catalog_key.CopyFrom(_catalog_key(timeline, task, source))
    timeline.record_node(event, enrichment=timeline.enrichment())
    yield
    return NodeResult(node, cached_outputs, 0, task_id)


# ---- start / end nodes and workflow level ------------------------------------------------------------------------


def start_node(timeline: ExecutionTimeline, inputs: Literals, *, parent: NodeRef | None = None) -> None:
    """The single start-node SUCCEEDED event; its outputs are the (sub)workflow inputs."""
    node = timeline.node("start-node", parent=parent)
    uri = timeline.outputs_uri(node, 0)
    timeline.put_literal_map(uri, inputs)
    event = timeline.node_event(node, NODE_PHASE.SUCCEEDED)
    _set_outputs(timeline, event, uri, inputs)
    timeline.record_node(event)


def end_node(timeline: ExecutionTimeline, outputs: Literals, *, parent: NodeRef | None = None) -> Step[str]:
    """end-node QUEUED (inputs) then SUCCEEDED without outputs; returns the outputs.pb the workflow reports."""
    node = timeline.node("end-node", parent=parent)
    node_queued(timeline, node, outputs)
    yield
    node_phase(timeline, node, NODE_PHASE.SUCCEEDED)
    yield
    uri = timeline.outputs_uri(node, 0)
    timeline.put_literal_map(uri, outputs)
    return uri


def begin_workflow(timeline: ExecutionTimeline, inputs: Literals) -> None:
    """WF RUNNING (propeller sends no QUEUED) and the start-node."""
    timeline.emit_workflow(WF_PHASE.RUNNING)
    start_node(timeline, inputs)


def succeed_workflow(timeline: ExecutionTimeline, inputs: Literals, outputs: Literals) -> None:
    """end-node, WF SUCCEEDING, WF SUCCEEDED with the workflow outputs."""
    uri = drive(end_node(timeline, outputs))
    timeline.emit_workflow(WF_PHASE.SUCCEEDING)
    enrichment = timeline.enrichment(interface=(dict(inputs), dict(outputs)))
    if timeline.inline:
        timeline.emit_workflow(WF_PHASE.SUCCEEDED, output_data=outputs, enrichment=enrichment)
    else:
        timeline.emit_workflow(WF_PHASE.SUCCEEDED, output_uri=uri, enrichment=enrichment)


def fail_workflow(timeline: ExecutionTimeline, failed: NodeResult) -> None:
    """WF FAILING then WF FAILED carrying the failed node's error."""
    timeline.emit_workflow(WF_PHASE.FAILING)
    error = execution_error(
        "RetriesExhausted|USER:ValueError", f"failed at Node[{failed.node.node_id}]. Traceback: ValueError"
    )
    timeline.emit_workflow(WF_PHASE.FAILED, error=error)


def abort_workflow(timeline: ExecutionTimeline) -> None:
    """WF ABORTED (FlyteAdmin sets ABORTING itself, without an event)."""
    error = execution_error("ExecutionAborted", "Execution aborted by user", execution_pb2.ExecutionError.USER)
    timeline.emit_workflow(WF_PHASE.ABORTED, error=error)


# ---- nested constructs -------------------------------------------------------------------------------------------

ChildrenFn = Callable[[NodeRef], Step[dict[str, literals_pb2.Literal]]]


def subworkflow_node(
    timeline: ExecutionTimeline, spec_node_id: str, inputs: Literals, children: ChildrenFn
) -> Step[NodeResult]:
    """Inline subworkflow: parent QUEUED/RUNNING (is_parent), children under `<id>-0-…`, parent SUCCEEDED."""
    node = timeline.node(spec_node_id)
    node_queued(timeline, node, inputs, is_parent=True)
    yield
    node_phase(timeline, node, NODE_PHASE.RUNNING, is_parent=True)
    yield
    start_node(timeline, inputs, parent=node)
    yield
    outputs = yield from children(node)
    yield from end_node(timeline, outputs, parent=node)
    uri = timeline.outputs_uri(node, 0)
    timeline.put_literal_map(uri, outputs)
    event = timeline.node_event(node, NODE_PHASE.SUCCEEDED)
    event.is_parent = True
    _set_outputs(timeline, event, uri, outputs)
    timeline.record_node(event, enrichment=timeline.enrichment())
    yield
    return NodeResult(node, outputs)


def _dynamic_metadata(
    timeline: ExecutionTimeline, node: NodeRef, task: TaskRef, child_ids: list[str]
) -> event_pb2.DynamicWorkflowNodeMetadata:
    workflow_id = timeline.identifier(RESOURCE.WORKFLOW, task.name)
    closure = compiler_pb2.CompiledWorkflowClosure()
    closure.primary.template.id.CopyFrom(workflow_id)
    for child in ["start-node", *child_ids, "end-node"]:
        closure.primary.template.nodes.add(id=child)
    return event_pb2.DynamicWorkflowNodeMetadata(
        id=workflow_id,
        compiled_workflow=closure,
        dynamic_job_spec_uri=f"{timeline.attempt_dir(node, 0)}/futures.pb",
    )


def dynamic_node(
    timeline: ExecutionTimeline,
    spec_node_id: str,
    task: TaskRef,
    inputs: Literals,
    child_ids: list[str],
    children: ChildrenFn,
    *,
    parent: NodeRef | None = None,
    registered: bool = True,
) -> Step[NodeResult]:
    """Dynamic task: its own task run, DYNAMIC_RUNNING with the compiled closure, children in the dynamic chain.

    `parent` nests it (a dynamic inside a dynamic); `registered=False` as for `task_node`.
    """
    task_id = timeline.identifier(RESOURCE.TASK, task.name)
    node = timeline.node(spec_node_id, parent=parent, target_entity=task_id)
    node_queued(timeline, node, inputs)
    yield
    yield from _run_attempt(timeline, node, task, 0, inputs, TaskPlan(running_updates=0))
    uri = timeline.outputs_uri(node, 0)
    done = _task_event(timeline, node, task, 0, TASK_PHASE.SUCCEEDED, 0, inputs)
    # The parent task reports the node's outputs.pb although only the dynamic end-node will write it.
    done.output_uri = uri
    timeline.record_task(done)
    yield
    dynamic = timeline.node_event(node, NODE_PHASE.DYNAMIC_RUNNING)
    dynamic.is_dynamic = dynamic.is_parent = True
    dynamic.task_node_metadata.dynamic_workflow.CopyFrom(_dynamic_metadata(timeline, node, task, child_ids))
    timeline.record_node(dynamic)
    yield
    chain_parent = dataclasses.replace(node, in_dynamic_chain=True)
    start_node(timeline, inputs, parent=chain_parent)
    outputs = yield from children(chain_parent)
    yield from end_node(timeline, outputs, parent=chain_parent)
    timeline.put_literal_map(uri, outputs)
    event = timeline.node_event(node, NODE_PHASE.SUCCEEDED)
    event.is_dynamic = event.is_parent = True
    _set_outputs(timeline, event, uri, outputs)
    task_exec = timeline.task_execution_id(node, task_id, 0)
    enrichment = timeline.enrichment(
        task_exec_id=task_exec, interface=(dict(inputs), outputs), task_registered=registered
    )
    timeline.record_node(event, enrichment=enrichment)
    yield
    return NodeResult(node, outputs, 0, task_id)


def launch_plan_node(
    timeline: ExecutionTimeline,
    spec_node_id: str,
    launch_plan: str,
    inputs: Literals,
    run_child: Callable[[identifier_pb2.WorkflowExecutionIdentifier], dict[str, literals_pb2.Literal]],
) -> Step[NodeResult]:
    """Launch-plan node: RUNNING and SUCCEEDED carry the child execution id; `run_child` runs the child execution."""
    lp_id = timeline.identifier(RESOURCE.LAUNCH_PLAN, launch_plan)
    node = timeline.node(spec_node_id, target_entity=lp_id)
    child_id = identifier_pb2.WorkflowExecutionIdentifier(
        project=timeline.settings.project,
        domain=timeline.settings.domain,
        name=child_execution_name(timeline.settings.name, node.node_id, 0),
    )
    node_queued(timeline, node, inputs)
    yield
    running = timeline.node_event(node, NODE_PHASE.RUNNING)
    running.workflow_node_metadata.execution_id.CopyFrom(child_id)
    timeline.record_node(running)
    yield
    outputs = run_child(child_id)
    uri = timeline.outputs_uri(node, 0)
    timeline.put_literal_map(uri, outputs)
    event = timeline.node_event(node, NODE_PHASE.SUCCEEDED)
    event.workflow_node_metadata.execution_id.CopyFrom(child_id)
    _set_outputs(timeline, event, uri, outputs)
    timeline.record_node(event, enrichment=timeline.enrichment())
    yield
    return NodeResult(node, outputs)


def _array_event(
    timeline: ExecutionTimeline,
    node: NodeRef,
    task: TaskRef,
    phase: int,
    version: int,
    resources: list[event_pb2.ExternalResourceInfo],
) -> event_pb2.TaskExecutionEvent:
    task_id = timeline.identifier(RESOURCE.TASK, task.name)
    event = timeline.task_event(node, task_id, 0, phase, version)
    event.task_type = "container_array"
    event.event_version = 1
    event.metadata.plugin_identifier = "k8s-array"
    event.metadata.external_resources.extend(resources)
    return event


def _subtask(
    timeline: ExecutionTimeline, node: NodeRef, index: int, phase: int, cache_status: int = 0
) -> event_pb2.ExternalResourceInfo:
    prefix = fixed_length_unique_id_for_parts([timeline.settings.name, node.node_id, "0"], POD_NAME_MAX_LENGTH)
    info = event_pb2.ExternalResourceInfo(
        external_id=f"{prefix}-n{index}-0",
        index=index,
        phase=phase,  # type: ignore[arg-type]
        cache_status=cache_status,  # type: ignore[arg-type]
    )
    if phase != TASK_PHASE.QUEUED and cache_status != CACHE.CACHE_HIT:
        info.logs.add(name=f"Kubernetes Logs (User)-{index}", uri=f"https://logs.example.com/{prefix}-n{index}-0")
    return info


def array_node(
    timeline: ExecutionTimeline,
    spec_node_id: str,
    task: TaskRef,
    inputs: Literals,
    item_outputs: list[literals_pb2.Literal],
    cached_indexes: frozenset[int] = frozenset(),
    *,
    parent: NodeRef | None = None,
    registered: bool = True,
    task_events_published: bool = True,
) -> Step[NodeResult]:
    """ArrayNode (map task), event version 0: node events with is_array, one synthetic `container_array` stream.

    `item_outputs[i]` is what subtask `i` produced; the node's output `o0` is their collection. Array node events
    carry no `target_entity`. `task_events_published=False`: none of the `container_array` events reaches SNS (a
    large map's `external_resources` list exceeds the SNS message limit, so the publish fails and admin drops it).
    `parent` and `registered` as for `task_node`.
    """
    node = timeline.node(spec_node_id, parent=parent)
    node_queued(timeline, node, inputs, is_array=True)
    yield
    count = len(item_outputs)
    running = [i for i in range(count) if i not in cached_indexes]
    first = [
        _subtask(timeline, node, i, TASK_PHASE.SUCCEEDED, CACHE.CACHE_HIT)
        if i in cached_indexes
        else _subtask(timeline, node, i, TASK_PHASE.QUEUED)
        for i in range(count)
    ]
    queued = _array_event(timeline, node, task, TASK_PHASE.QUEUED, 0, first)
    queued.input_uri = timeline.inputs_uri(node)
    timeline.record_task(queued, published=False)
    yield
    node_phase(timeline, node, NODE_PHASE.RUNNING, is_array=True)
    yield
    rounds = [[_subtask(timeline, node, i, TASK_PHASE.RUNNING) for i in running]]
    half = len(running) // 2
    rounds.append([_subtask(timeline, node, i, TASK_PHASE.SUCCEEDED) for i in running[:half]])
    for version, resources in enumerate(rounds):
        event = _array_event(timeline, node, task, TASK_PHASE.RUNNING, version, resources)
        timeline.record_task(event, published=task_events_published)
        yield
    outputs = {"o0": lit.collection_literal(item_outputs)}
    uri = timeline.outputs_uri(node, 0)
    timeline.put_literal_map(uri, outputs)
    last = [_subtask(timeline, node, i, TASK_PHASE.SUCCEEDED) for i in running[half:]]
    done = _array_event(timeline, node, task, TASK_PHASE.SUCCEEDED, 0, last)
    _set_outputs(timeline, done, uri, outputs)
    timeline.record_task(done, published=task_events_published)
    yield
    event = timeline.node_event(node, NODE_PHASE.SUCCEEDED)
    event.is_array = True
    _set_outputs(timeline, event, uri, outputs)
    task_exec = timeline.task_execution_id(node, done.task_id, 0)
    enrichment = timeline.enrichment(
        task_exec_id=task_exec, interface=(dict(inputs), outputs), task_registered=registered
    )
    timeline.record_node(event, enrichment=enrichment)
    yield
    return NodeResult(node, outputs, 0, done.task_id)


def copy_outputs(values: Mapping[str, literals_pb2.Literal]) -> dict[str, literals_pb2.Literal]:
    """A shallow dict copy of output literals (the same values flow on, so the URIs stay identical)."""
    return dict(values)
