"""Tests for the Flyte event generator (flytelineage.testing).

The decoding here is deliberately tiny and independent of the project's decoder: it only proves the generated
messages are what FlyteAdmin would publish.
"""

from __future__ import annotations

import base64
import io
import json
from collections import defaultdict
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import catalog_pb2, literals_pb2
from flyteidl.event import cloudevents_pb2
from google.protobuf import json_format
from moto import mock_aws

from flytelineage.domain.cloudevent_proto import CloudEvent
from flytelineage.testing import flyte_event_generator as gen
from flytelineage.testing.event_timeline import NODE_PHASE, TASK_PHASE, WF_PHASE
from flytelineage.testing.propeller_ids import (
    child_execution_name,
    fixed_length_unique_id,
    fixed_length_unique_id_for_parts,
    node_unique_id,
)

SCENARIOS = gen.scenario_names()
FORMATS = ["external", "cloudevents_v1", "cloudevents_v2"]
REQUIRED = [
    "linear",
    "fan_out_fan_in",
    "retry",
    "cache_hit",
    "subworkflow",
    "dynamic",
    "map",
    "failed",
    "aborted",
    "launch_plan_child",
]

ADMIN = {
    "flyteidl.admin.WorkflowExecutionEventRequest": ("workflow", admin_event_pb2.WorkflowExecutionEventRequest),
    "flyteidl.admin.NodeExecutionEventRequest": ("node", admin_event_pb2.NodeExecutionEventRequest),
    "flyteidl.admin.TaskExecutionEventRequest": ("task", admin_event_pb2.TaskExecutionEventRequest),
}
V2 = {
    "cloudevents.WorkflowExecution": ("workflow", cloudevents_pb2.CloudEventWorkflowExecution),
    "cloudevents.NodeExecution": ("node", cloudevents_pb2.CloudEventNodeExecution),
    "cloudevents.TaskExecution": ("task", cloudevents_pb2.CloudEventTaskExecution),
}


def decode(body: str, publisher_format: str) -> tuple[str, Any, Any]:
    """Decode one SQS body (SNS envelope) → (kind, inner flyteidl.event proto, outer payload)."""
    envelope = json.loads(body)
    payload = base64.b64decode(envelope["Message"], validate=True)
    subject = envelope["Subject"]
    if publisher_format == "external":
        kind, request_type = ADMIN[subject]
        request = request_type.FromString(payload)
        assert request.request_id == ""
        return kind, request.event, request
    ce = CloudEvent.FromString(payload)
    assert ce.spec_version == "1.0"
    assert ce.attributes["datacontenttype"].ce_string == "application/json"
    assert ce.WhichOneof("data") == "binary_data"
    if publisher_format == "cloudevents_v1":
        kind, request_type = ADMIN[subject]
        assert ce.type == f"com.flyte.resource.{subject}"
        assert ce.source == "https://github.com/flyteorg/flyte/flyteadmin"
        request = json_format.Parse(ce.binary_data, request_type())
        return kind, request.event, ce
    kind, payload_type = V2[subject]
    assert ce.type == f"com.flyte.resource.{subject}"
    assert ce.attributes["jsonschemaurl"].ce_string == ""
    wrapped = json_format.Parse(ce.binary_data, payload_type())
    return kind, wrapped.raw_event, wrapped


def small(scenario: str, publisher_format: str = "external", **kwargs: Any) -> gen.GeneratedExecution:
    return gen.generate(scenario, publisher_format=publisher_format, with_objects=False, seed=3, **kwargs)


@pytest.fixture(scope="module")
def full_runs() -> dict[str, gen.GeneratedExecution]:
    """Every scenario with its objects (parquet and all), generated once."""
    return {name: gen.generate(name, seed=11, name=f"exec{index:016d}") for index, name in enumerate(SCENARIOS)}


def node_events(run: gen.GeneratedExecution, execution: str | None = None) -> list[Any]:
    name = execution or run.execution[2]
    return [m.event for m in run.messages if m.kind == "node" and m.execution[2] == name]


def task_events(run: gen.GeneratedExecution) -> list[Any]:
    return [m.event for m in run.messages if m.kind == "task"]


# ---- ids -------------------------------------------------------------------------------------------------------


def test_required_scenarios_are_registered() -> None:
    assert set(REQUIRED) <= set(SCENARIOS)


@pytest.mark.parametrize(
    ("parts", "max_length", "bits", "expected"),
    [
        (["x", "y", "z"], 10, 32, "x-y-z"),
        (list("xyzmnyzmnyzmn"), 15, 32, "fe63sz6y"),
        (list("xyzmnyzmnyzmn"), 15, 64, "fwp4bky2kucex5"),
        (["", "", "n0"], 20, 32, "n0"),
    ],
)
def test_fixed_length_unique_id_matches_propeller_vectors(
    parts: list[str], max_length: int, bits: int, expected: str
) -> None:
    assert fixed_length_unique_id_for_parts(parts, max_length, bits=bits) == expected


def test_fixed_length_unique_id_single_string_vector() -> None:
    assert fixed_length_unique_id("x" * 24) == "fuaa3aji"
    with pytest.raises(ValueError):
        fixed_length_unique_id("xxxxxx", 5)


def test_node_ids_nest_and_hash() -> None:
    assert node_unique_id("n0") == "n0"
    assert node_unique_id("n0", "n1", 0) == "n1-0-n0"
    assert node_unique_id("n0", "n0-0-dn1-0-n2", 0) == "n0-0-dn1-0-n2-0-n0"
    hashed = node_unique_id("start-node", "n1-0-n1-0-n1", 0)
    assert hashed.startswith("f") and len(hashed) == 8
    assert len(child_execution_name("a" * 20, "n1", 0)) == 14
    assert len(child_execution_name("a" * 20, "n1", 0, bits=32)) == 8


# ---- decoding tables ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("publisher_format", FORMATS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_messages_decode_back(scenario: str, publisher_format: str) -> None:
    run = small(scenario, publisher_format)
    assert run.messages
    for message in run.messages:
        kind, event, _ = decode(message.body, publisher_format)
        assert kind == message.kind
        assert event == message.event
        assert json.loads(message.body)["MessageId"] == message.message_id


@pytest.mark.parametrize("publisher_format", FORMATS)
def test_envelope_shape(publisher_format: str) -> None:
    message = small("linear", publisher_format).messages[0]
    envelope = json.loads(message.body)
    assert list(envelope) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ]
    assert envelope["Type"] == "Notification"
    assert envelope["Timestamp"].endswith("Z")
    assert "MessageAttributes" not in envelope


@pytest.mark.parametrize("publisher_format", FORMATS)
def test_raw_delivery_body_is_the_bare_base64(publisher_format: str) -> None:
    run = small("linear", publisher_format, raw=True)
    for message in run.messages:
        assert message.body == message.message
        base64.b64decode(message.body, validate=True)
    if publisher_format != "external":
        ce = CloudEvent.FromString(base64.b64decode(run.messages[0].body))
        assert ce.type.startswith("com.flyte.resource.")


def test_cloudevents_v1_json_is_go_jsonpb_shaped() -> None:
    run = small("linear", "cloudevents_v1")
    task = next(m for m in run.messages if m.kind == "task")
    ce = CloudEvent.FromString(base64.b64decode(json.loads(task.body)["Message"]))
    data = json.loads(ce.binary_data)
    event = data["event"]
    assert "parentNodeExecutionId" in event and "phase" in event
    assert event["phase"] in {"RUNNING", "SUCCEEDED"}
    assert event["taskId"]["resourceType"] == "TASK"
    assert b'":' in ce.binary_data and b'": ' not in ce.binary_data  # compact, like Go's jsonpb
    assert ce.id.endswith("." + event["phase"]) and ce.id.startswith("resource_type:TASK project:")
    assert ce.attributes["jsonschemaurl"].ce_string.endswith("workflow_execution.json")
    assert ce.attributes["time"].ce_timestamp.seconds == task.event.occurred_at.seconds
    workflow = next(m for m in run.messages if m.kind == "workflow")
    wf_ce = CloudEvent.FromString(base64.b64decode(json.loads(workflow.body)["Message"]))
    assert "requestId" not in json.loads(wf_ce.binary_data)


def test_cloudevents_v2_enrichment() -> None:
    run = small("cache_hit", "cloudevents_v2")
    decoded = [decode(m.body, "cloudevents_v2") for m in run.messages]
    for kind, event, wrapped in decoded:
        if kind == "workflow":
            enriched = event.phase == WF_PHASE.SUCCEEDED
            assert wrapped.HasField("launch_plan_id") == enriched
            assert wrapped.HasField("output_interface") == enriched
        elif kind == "node":
            succeeded = event.phase == NODE_PHASE.SUCCEEDED
            if not succeeded or event.id.node_id == "start-node":
                assert not wrapped.HasField("launch_plan_id")
                assert not wrapped.HasField("output_interface")
                continue
            assert wrapped.HasField("launch_plan_id")
            cache_hit = event.task_node_metadata.cache_status == catalog_pb2.CACHE_HIT
            has_task = event.HasField("target_entity") and not cache_hit
            assert wrapped.HasField("output_interface") == has_task
            assert wrapped.HasField("task_exec_id") == has_task
        else:
            assert dict(wrapped.labels)


def test_cloudevents_v2_sources() -> None:
    run = small("linear", "cloudevents_v2")
    name = run.execution[2]
    sources = set()
    for message in run.messages:
        ce = CloudEvent.FromString(base64.b64decode(json.loads(message.body)["Message"]))
        sources.add(ce.source)
    assert f"{name}/end-node" in sources
    assert f"{name}/n0" in sources
    assert f"{name}/n0/0" in sources


# ---- what admin publishes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_first_task_event_of_each_attempt_is_never_published(scenario: str) -> None:
    run = small(scenario)
    attempts: dict[tuple[str, str, int], list[Any]] = defaultdict(list)
    for event in task_events(run):
        key = (
            event.parent_node_execution_id.execution_id.name,
            event.parent_node_execution_id.node_id,
            event.retry_attempt,
        )
        attempts[key].append(event)
        assert not (event.phase == TASK_PHASE.QUEUED and event.phase_version == 0)
    withheld = {
        (
            r.event.parent_node_execution_id.execution_id.name,
            r.event.parent_node_execution_id.node_id,
            r.event.retry_attempt,
        )
        for r in run.unpublished
    }
    assert set(attempts) <= withheld
    assert all(r.kind == "task" for r in run.unpublished)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_workflow_phases(scenario: str) -> None:
    run = small(scenario)
    by_execution: dict[str, list[str]] = defaultdict(list)
    for message in run.messages:
        if message.kind == "workflow":
            by_execution[message.execution[2]].append(WF_PHASE.Name(message.event.phase))
    expected = {
        "SUCCEEDED": ["RUNNING", "SUCCEEDING", "SUCCEEDED"],
        "FAILED": ["RUNNING", "FAILING", "FAILED"],
        "ABORTED": ["RUNNING", "ABORTED"],
    }[run.terminal_phase]
    assert by_execution[run.execution[2]] == expected
    assert set(by_execution) == {execution[2] for execution in run.executions}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_start_and_end_nodes(scenario: str) -> None:
    run = small(scenario)
    nodes = node_events(run)
    start = [e for e in nodes if e.id.node_id == "start-node"]
    assert len(start) == 1 and start[0].phase == NODE_PHASE.SUCCEEDED
    assert start[0].output_uri.endswith("/start-node/data/0/outputs.pb") or start[0].HasField("output_data")
    end = [e for e in nodes if e.id.node_id == "end-node"]
    if run.terminal_phase == "SUCCEEDED":
        assert [e.phase for e in end] == [NODE_PHASE.QUEUED, NODE_PHASE.SUCCEEDED]
        assert end[1].WhichOneof("output_result") is None
        wf = [m.event for m in run.messages if m.kind == "workflow" and m.execution == run.execution][-1]
        assert wf.WhichOneof("output_result") in {"output_uri", "output_data"}
    else:
        assert end == []


def test_task_nodes_carry_target_entity() -> None:
    run = small("linear")
    for event in node_events(run):
        if event.id.node_id in {"n0", "n1", "n2"}:
            assert event.target_entity.name.startswith("app.pipelines.")


def test_cache_hit_has_one_node_event_and_no_task_events() -> None:
    run = small("cache_hit")
    n0 = [e for e in node_events(run) if e.id.node_id == "n0"]
    assert len(n0) == 1
    event = n0[0]
    assert event.phase == NODE_PHASE.SUCCEEDED
    meta = event.task_node_metadata
    assert meta.cache_status == catalog_pb2.CACHE_HIT
    assert meta.catalog_key.source_task_execution.node_execution_id.execution_id.name != run.execution[2]
    assert meta.catalog_key.dataset_id.resource_type == 4
    assert event.input_uri and event.output_uri.endswith("/n0/data/0/outputs.pb")
    assert event.target_entity.name.endswith(".extract")
    assert not [e for e in task_events(run) if e.parent_node_execution_id.node_id == "n0"]


def test_retry_sequence() -> None:
    run = small("retry")
    n1_tasks = [e for e in task_events(run) if e.parent_node_execution_id.node_id == "n1"]
    phases = [(e.retry_attempt, TASK_PHASE.Name(e.phase)) for e in n1_tasks]
    assert (0, "FAILED") in phases and (1, "SUCCEEDED") in phases
    assert "RETRYABLE_FAILED" not in {p for _, p in phases}
    n1_nodes = [NODE_PHASE.Name(e.phase) for e in node_events(run) if e.id.node_id == "n1"]
    assert n1_nodes == ["QUEUED", "RUNNING", "SUCCEEDED"]
    succeeded = next(e for e in node_events(run) if e.id.node_id == "n1" and e.phase == NODE_PHASE.SUCCEEDED)
    assert succeeded.output_uri.endswith("/n1/data/1/outputs.pb")
    assert all(e.retry_group == "" for e in node_events(run))


def test_failed_and_aborted() -> None:
    failed = small("failed")
    n1 = [e for e in node_events(failed) if e.id.node_id == "n1"]
    assert n1[-1].phase == NODE_PHASE.FAILED and n1[-1].error.code.startswith("RetriesExhausted|")
    aborted = small("aborted")
    kinds = [(m.kind, m.event.phase) for m in aborted.messages][-3:]
    assert kinds == [("task", TASK_PHASE.ABORTED), ("node", NODE_PHASE.ABORTED), ("workflow", WF_PHASE.ABORTED)]


def test_subworkflow_children() -> None:
    run = small("subworkflow")
    children = [e for e in node_events(run) if e.parent_node_metadata.node_id == "n1"]
    assert {e.spec_node_id for e in children} == {"start-node", "n0", "normalize-columns", "end-node"}
    assert all(e.retry_group == "0" for e in children)
    hashed = {e.id.node_id for e in children if e.spec_node_id == "normalize-columns"}
    assert len(hashed) == 1
    hashed_id = hashed.pop()
    assert hashed_id == fixed_length_unique_id("n1-0-normalize-columns") and len(hashed_id) == 8
    assert {e.parent_node_execution_id.node_id for e in task_events(run)} >= {"n1-0-n0", hashed_id}
    parent = [e for e in node_events(run) if e.id.node_id == "n1"]
    assert all(e.is_parent for e in parent) and not any(e.HasField("target_entity") for e in parent)


def test_dynamic_node() -> None:
    run = small("dynamic")
    n1 = [e for e in node_events(run) if e.id.node_id == "n1"]
    assert [NODE_PHASE.Name(e.phase) for e in n1] == ["QUEUED", "RUNNING", "DYNAMIC_RUNNING", "SUCCEEDED"]
    assert not n1[0].is_dynamic
    dynamic = n1[2]
    assert dynamic.is_dynamic and dynamic.is_parent
    assert dynamic.task_node_metadata.dynamic_workflow.compiled_workflow.primary.template.nodes
    children = [e for e in node_events(run) if e.parent_node_metadata.node_id == "n1"]
    assert children and all(e.is_in_dynamic_chain for e in children)
    assert {"n1-0-dn0", "n1-0-dn1", "n1-0-dn2"} <= {e.id.node_id for e in children}


def test_map_node() -> None:
    run = small("map")
    n1 = [e for e in node_events(run) if e.id.node_id == "n1"]
    assert n1 and all(e.is_array for e in n1)
    array_tasks = [e for e in task_events(run) if e.parent_node_execution_id.node_id == "n1"]
    assert array_tasks and all(e.task_type == "container_array" for e in array_tasks)
    assert all(e.metadata.plugin_identifier == "k8s-array" and e.retry_attempt == 0 for e in array_tasks)
    assert all(not e.input_uri for e in array_tasks)
    resources = [r for e in array_tasks for r in e.metadata.external_resources]
    assert {r.index for r in resources} >= {0, 1, 3}
    assert array_tasks[-1].phase == TASK_PHASE.SUCCEEDED and array_tasks[-1].output_uri
    cached = [
        r for r in run.unpublished[1].event.metadata.external_resources if r.cache_status == catalog_pb2.CACHE_HIT
    ]
    assert [r.index for r in cached] == [2]


UNREGISTERED_NODES = {"n1-0-dn0", "n1-0-dn0-0-dn0", "n1-0-dn0-0-dn1", "n1-0-dn1"}


@pytest.mark.parametrize(
    ("publisher_format", "dropped"),
    [("external", set()), ("cloudevents_v1", set()), ("cloudevents_v2", UNREGISTERED_NODES)],
)
def test_v2_drops_the_succeeded_event_of_nodes_whose_task_admin_cannot_find(
    publisher_format: str, dropped: set[str]
) -> None:
    run = small("dynamic_unregistered", publisher_format)
    succeeded = {e.id.node_id for e in node_events(run) if e.phase == NODE_PHASE.SUCCEEDED}
    assert UNREGISTERED_NODES - dropped <= succeeded
    assert not dropped & succeeded
    withheld = {r.event.id.node_id for r in run.unpublished if r.kind == "node"}
    assert withheld == dropped
    # the task events of those nodes are published by every format, with the outputs the node would have reported
    done = {
        e.parent_node_execution_id.node_id: e.output_uri for e in task_events(run) if e.phase == TASK_PHASE.SUCCEEDED
    }
    assert set(done) >= UNREGISTERED_NODES and all(done[n] for n in UNREGISTERED_NODES)
    array_tasks = [e for e in task_events(run) if e.parent_node_execution_id.node_id == "n1-0-dn1"]
    assert array_tasks and all(e.task_type == "container_array" for e in array_tasks)
    nested = [e for e in node_events(run) if e.id.node_id == "n1-0-dn0"]
    assert any(e.is_dynamic for e in nested) and all(e.is_in_dynamic_chain for e in nested)


def test_map_without_task_events_publishes_only_the_array_node_events() -> None:
    run = small("map_without_task_events")
    n1 = [e for e in node_events(run) if e.id.node_id == "n1"]
    assert [NODE_PHASE.Name(e.phase) for e in n1] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert all(e.is_array and not e.HasField("target_entity") for e in n1)
    assert not [e for e in task_events(run) if e.parent_node_execution_id.node_id == "n1"]
    assert [r.event.task_type for r in run.unpublished if r.event.parent_node_execution_id.node_id == "n1"] == [
        "container_array"
    ] * 4


def test_event_version_0_sets_no_spec_id_name_or_dynamic_running() -> None:
    run = small("linear_event_version_0")
    nodes = node_events(run)
    assert nodes and all(e.event_version == 0 for e in nodes)
    assert all(not e.spec_node_id and not e.node_name for e in nodes)
    assert {"start-node", "end-node", "n0", "n1", "n2"} == {e.id.node_id for e in nodes}
    assert all(e.event_version == 2 and e.spec_node_id for e in node_events(small("linear")))


def test_launch_plan_child() -> None:
    run = small("launch_plan_child")
    assert len(run.executions) == 2
    child = run.executions[1][2]
    assert child == child_execution_name(run.execution[2], "n1", 0)
    lp_events = [e for e in node_events(run) if e.id.node_id == "n1"]
    assert lp_events[0].target_entity.resource_type == 3
    linked = {e.workflow_node_metadata.execution_id.name for e in lp_events if e.HasField("workflow_node_metadata")}
    assert linked == {child}
    child_phases = [m.event.phase for m in run.messages if m.kind == "workflow" and m.execution[2] == child]
    assert child_phases == [WF_PHASE.RUNNING, WF_PHASE.SUCCEEDING, WF_PHASE.SUCCEEDED]
    assert node_events(run, child)


def test_inline_outputs_variant() -> None:
    run = small("linear_inline")
    nodes = node_events(run)
    assert not any(e.output_uri for e in nodes)
    succeeded = next(e for e in nodes if e.id.node_id == "n0" and e.phase == NODE_PHASE.SUCCEEDED)
    assert "o0" in succeeded.output_data.literals
    queued = next(e for e in nodes if e.id.node_id == "n1" and e.phase == NODE_PHASE.QUEUED)
    assert "df" in queued.input_data.literals
    wf = [m.event for m in run.messages if m.kind == "workflow"][-1]
    assert wf.HasField("output_data")


# ---- data flow and objects ---------------------------------------------------------------------------------


def dataset_uris(literal: literals_pb2.Literal, objects: dict[str, bytes]) -> set[str]:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return set().union(*(dataset_uris(item, objects) for item in literal.collection.literals))
    if kind == "map":
        return set().union(*(dataset_uris(item, objects) for item in literal.map.literals.values()))
    if kind == "offloaded_metadata":
        return dataset_uris(literals_pb2.Literal.FromString(objects[literal.offloaded_metadata.uri]), objects)
    if kind != "scalar":
        return set()
    scalar = literal.scalar
    value = scalar.WhichOneof("value")
    if value in {"structured_dataset", "schema", "blob"}:
        return {getattr(scalar, value).uri}
    return set()


def map_uris(uri: str, objects: dict[str, bytes]) -> set[str]:
    literal_map = literals_pb2.LiteralMap.FromString(objects[uri])
    return set().union(set(), *(dataset_uris(value, objects) for value in literal_map.literals.values()))


def test_linear_data_flows_from_outputs_to_inputs(full_runs: dict[str, gen.GeneratedExecution]) -> None:
    run = full_runs["linear"]
    nodes = {(e.id.node_id, e.phase): e for e in node_events(run)}
    n0_out = literals_pb2.LiteralMap.FromString(run.objects[nodes["n0", NODE_PHASE.SUCCEEDED].output_uri])
    n1_in = literals_pb2.LiteralMap.FromString(run.objects[nodes["n1", NODE_PHASE.QUEUED].input_uri])
    sd_out = n0_out.literals["o0"].scalar.structured_dataset
    assert n1_in.literals["df"].scalar.structured_dataset.uri == sd_out.uri
    assert sd_out.metadata.structured_dataset_type.columns
    n1_out = literals_pb2.LiteralMap.FromString(run.objects[nodes["n1", NODE_PHASE.SUCCEEDED].output_uri])
    assert not n1_out.literals["o0"].scalar.structured_dataset.metadata.structured_dataset_type.columns
    assert n1_out.literals["o1"].scalar.schema.type.columns
    assert n1_out.literals["o2"].scalar.blob.metadata.type.dimensionality == 0
    n2_out = literals_pb2.LiteralMap.FromString(run.objects[nodes["n2", NODE_PHASE.SUCCEEDED].output_uri])
    assert n2_out.literals["o0"].scalar.blob.metadata.type.dimensionality == 1
    offloaded = n2_out.literals["o1"].offloaded_metadata
    stored = literals_pb2.Literal.FromString(run.objects[offloaded.uri])
    assert stored.scalar.structured_dataset.uri
    assert offloaded.size_bytes == len(run.objects[offloaded.uri])
    assert offloaded.inferred_type.HasField("structured_dataset_type")


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "linear_inline"])
def test_every_consumed_dataset_is_produced_or_a_workflow_input(
    scenario: str, full_runs: dict[str, gen.GeneratedExecution]
) -> None:
    run = full_runs[scenario]
    events = [m.event for m in run.messages if m.kind == "node"]
    produced: set[str] = set()
    consumed: set[str] = set()
    workflow_inputs: set[str] = set()
    for event in events:
        spec = event.spec_node_id or event.id.node_id  # EventVersion 0 sets no spec_node_id
        if event.output_uri:
            uris = map_uris(event.output_uri, run.objects)
            (workflow_inputs if spec == "start-node" else produced).update(uris)
        if event.input_uri and spec != "end-node":
            consumed |= map_uris(event.input_uri, run.objects)
    assert consumed, scenario
    assert consumed <= produced | workflow_inputs
    external = workflow_inputs - produced
    assert any("/landing/" in uri for uri in external)
    if run.terminal_phase == "SUCCEEDED":
        assert consumed & produced


def test_parquet_objects_are_readable(full_runs: dict[str, gen.GeneratedExecution]) -> None:
    types_seen: set[str] = set()
    multi_file_dirs: dict[str, int] = defaultdict(int)
    for run in full_runs.values():
        for uri, payload in run.objects.items():
            if payload[:4] != b"PAR1":
                continue
            schema = pq.read_schema(io.BytesIO(payload))
            assert pq.read_table(io.BytesIO(payload)).num_rows > 0
            types_seen |= {str(field.type).split("<")[0].split("[")[0].split("(")[0] for field in schema}
            multi_file_dirs[uri.rsplit("/", 1)[0]] += 1
    assert {"int64", "double", "string", "bool", "timestamp", "date32", "decimal128", "list", "struct", "map"} <= (
        types_seen
    )
    assert max(multi_file_dirs.values()) >= 3


def test_structured_dataset_data_lives_at_uri_00000(full_runs: dict[str, gen.GeneratedExecution]) -> None:
    run = full_runs["linear"]
    n0 = next(e for e in node_events(run) if e.id.node_id == "n0" and e.phase == NODE_PHASE.SUCCEEDED)
    sd = literals_pb2.LiteralMap.FromString(run.objects[n0.output_uri]).literals["o0"].scalar.structured_dataset
    assert f"{sd.uri}/00000" in run.objects


def test_cache_hit_datasets_point_at_the_original_run(full_runs: dict[str, gen.GeneratedExecution]) -> None:
    run = full_runs["cache_hit"]
    n0 = next(e for e in node_events(run) if e.id.node_id == "n0")
    source = n0.task_node_metadata.catalog_key.source_task_execution.node_execution_id.execution_id.name
    uris = map_uris(n0.output_uri, run.objects)
    assert uris and all(f"/{source}-n0-0/" in uri for uri in uris)


# ---- determinism and delivery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("publisher_format", FORMATS)
def test_same_seed_same_bytes(publisher_format: str) -> None:
    first = gen.generate("fan_out_fan_in", publisher_format=publisher_format, seed=5)
    second = gen.generate("fan_out_fan_in", publisher_format=publisher_format, seed=5)
    assert first.bodies() == second.bodies()
    assert first.objects == second.objects
    other = gen.generate("fan_out_fan_in", publisher_format=publisher_format, seed=6)
    assert other.bodies() != first.bodies()


def test_reorder_and_duplicates() -> None:
    run = small("linear")
    shuffled = gen.reorder(run.messages, seed=1)
    assert sorted(gen.to_sqs_bodies(shuffled)) == sorted(run.bodies())
    assert gen.to_sqs_bodies(shuffled) != run.bodies()
    assert gen.reorder(run.messages, seed=1) == shuffled
    duplicated = gen.duplicate_deliveries(run.messages, seed=2, redelivery_rate=0.5, exact_rate=0.3)
    assert len(duplicated) > len(run.messages)
    by_message: dict[str, set[str]] = defaultdict(set)
    bodies: dict[str, int] = defaultdict(int)
    for message in duplicated:
        envelope = json.loads(message.body)
        by_message[envelope["Message"]].add(envelope["MessageId"])
        bodies[message.body] += 1
    assert any(len(ids) > 1 for ids in by_message.values())
    assert any(count > 1 for count in bodies.values())
    assert len(by_message) == len(run.messages)


def test_mixed_workload_is_deterministic_and_mixed() -> None:
    workload = gen.mixed_workload(30, seed=4, redelivery_rate=0.05)
    again = gen.mixed_workload(30, seed=4, redelivery_rate=0.05)
    assert gen.to_sqs_bodies(workload.messages) == gen.to_sqs_bodies(again.messages)
    assert len({execution.scenario for execution in workload.executions}) >= 5
    assert len(workload.messages) >= sum(len(execution.messages) for execution in workload.executions)
    assert not any(execution.objects for execution in workload.executions)


@mock_aws
def test_write_objects_and_send_to_queue() -> None:
    run = gen.generate("linear", bucket="gen-bucket", seed=1)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="gen-bucket")
    assert gen.write_objects(s3, run.objects) == len(run.objects)
    some_uri = next(iter(run.objects))
    bucket, key = gen.split_s3_uri(some_uri)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == run.objects[some_uri]
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="flyte-events")["QueueUrl"]
    assert gen.send_to_queue(sqs, queue_url, run.bodies()) == len(run.messages)
    received: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        received += [m["Body"] for m in batch]
    assert sorted(received) == sorted(run.bodies())
