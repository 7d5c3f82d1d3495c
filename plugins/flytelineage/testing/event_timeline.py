"""The low level of the generator: one execution's clock, storage paths, stored objects and raw event emitters.

`ExecutionTimeline` records every event propeller would send for one workflow execution, in send order, marking the
ones FlyteAdmin never publishes (the first task event of each attempt). Higher-level sequences live in
`flytelineage.testing.node_steps`; encoding for SNS lives in `flytelineage.testing.publisher_formats`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2
from flyteidl.event import event_pb2
from google.protobuf import timestamp_pb2

from flytelineage.testing import flyte_literals as lit
from flytelineage.testing.propeller_ids import node_unique_id


def enum_namespace(wrapper: Any) -> SimpleNamespace:
    """Enum values as plain attributes plus `Name()`: protobuf's enum wrapper attribute lookup is slow on hot paths."""
    return SimpleNamespace(**dict(wrapper.items()), Name=wrapper.Name)


WF_PHASE = enum_namespace(execution_pb2.WorkflowExecution.Phase)
NODE_PHASE = enum_namespace(execution_pb2.NodeExecution.Phase)
TASK_PHASE = enum_namespace(execution_pb2.TaskExecution.Phase)
RESOURCE = enum_namespace(identifier_pb2.ResourceType)

PRODUCER_ID = "propeller"
#: FlyteAdmin's default `EventVersion` (stamped on the workflow CRD, copied onto node events).
NODE_EVENT_VERSION = 2

Literals = Mapping[str, literals_pb2.Literal]


@dataclass(frozen=True)
class ExecutionSettings:
    """Identity and context of one generated workflow execution."""

    project: str
    domain: str
    name: str
    bucket: str
    start: dt.datetime
    launch_plan: str = "app.workflows.main_wf"
    version: str = "v1"
    principal: str = "flyte-user"
    labels: Mapping[str, str] = field(default_factory=lambda: {"team": "data-platform"})
    raw_output_policy: str = "reference"
    #: propeller's workflow `EventVersion`; 0 (old deployments) sets no spec_node_id/node_name/parent links.
    event_version: int = NODE_EVENT_VERSION

    def execution_id(self) -> identifier_pb2.WorkflowExecutionIdentifier:
        """The `WorkflowExecutionIdentifier` of this execution."""
        return identifier_pb2.WorkflowExecutionIdentifier(project=self.project, domain=self.domain, name=self.name)

    def identifier(self, resource_type: int, name: str, version: str | None = None) -> identifier_pb2.Identifier:
        """An entity `Identifier` in this execution's project/domain."""
        return identifier_pb2.Identifier(
            resource_type=resource_type,  # type: ignore[arg-type]
            project=self.project,
            domain=self.domain,
            name=name,
            version=version or self.version,
        )

    def launch_plan_id(self) -> identifier_pb2.Identifier:
        """The launch plan this execution was started from."""
        return self.identifier(RESOURCE.LAUNCH_PLAN, self.launch_plan)


@dataclass(frozen=True)
class NodeRef:
    """Where a node sits: its reported (unique) id, its template id, and its parent for nested nodes."""

    node_id: str
    spec_node_id: str
    node_name: str
    data_dir: str
    parent_id: str | None = None
    retry_group: str = ""
    in_dynamic_chain: bool = False
    target_entity: identifier_pb2.Identifier | None = None


@dataclass
class Enrichment:
    """What cloudEvents v2 would add to an event from FlyteAdmin's database (used only by that format)."""

    launch_plan_id: identifier_pb2.Identifier | None = None
    principal: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    task_exec_id: identifier_pb2.TaskExecutionIdentifier | None = None
    interface: tuple[Literals, Literals] | None = None
    #: False when FlyteAdmin cannot look the task up (unregistered, e.g. inside a dynamic workflow): then the v2
    #: publisher drops the node's SUCCEEDED event instead of enriching it.
    task_registered: bool = True


@dataclass
class EventRecord:
    """One event propeller sends; `published` is False for the events FlyteAdmin accepts but never publishes."""

    kind: str
    event: Any
    execution: tuple[str, str, str]
    published: bool = True
    enrichment: Enrichment | None = None


class ExecutionTimeline:
    """Clock, paths, stored objects and event list of one execution (deterministic given the two RNGs)."""

    def __init__(
        self,
        settings: ExecutionSettings,
        rng: random.Random,
        data_rng: random.Random,
        *,
        with_objects: bool = True,
    ) -> None:
        self.settings = settings
        self.rng = rng
        self.data_rng = data_rng
        self.with_objects = with_objects
        self.records: list[EventRecord] = []
        self.objects: dict[str, bytes] = {}
        self.execution_id = settings.execution_id()
        self._key = (settings.project, settings.domain, settings.name)
        start = settings.start if settings.start.tzinfo else settings.start.replace(tzinfo=dt.UTC)
        self._now_us = int(start.timestamp()) * 1_000_000 + start.microsecond
        self.metadata_root = (
            f"s3://{settings.bucket}/metadata/propeller/{settings.project}-{settings.domain}-{settings.name}"
        )
        # Shared read-only protos (callers copy them into events), built once per execution for speed.
        self._identifiers: dict[tuple[int, str], identifier_pb2.Identifier] = {}
        self._node_ids: dict[str, identifier_pb2.NodeExecutionIdentifier] = {}
        self._launch_plan_id = settings.launch_plan_id()
        self._labels = dict(settings.labels)

    # ---- clock -------------------------------------------------------------------------------------------------

    def tick(self, low_ms: int = 20, high_ms: int = 1500) -> timestamp_pb2.Timestamp:
        """Advance the clock by a random step and return the new time."""
        self._step(low_ms, high_ms)
        return self.now()

    def _step(self, low_ms: int = 20, high_ms: int = 1500) -> None:
        # random() is much cheaper than randint() and this runs for every event.
        self._now_us += (low_ms + int(self.rng.random() * (high_ms - low_ms + 1))) * 1000

    def _stamp(self, target: timestamp_pb2.Timestamp) -> None:
        target.seconds = self._now_us // 1_000_000
        target.nanos = (self._now_us % 1_000_000) * 1000

    def now(self) -> timestamp_pb2.Timestamp:
        """The current time of this execution."""
        return timestamp_pb2.Timestamp(seconds=self._now_us // 1_000_000, nanos=(self._now_us % 1_000_000) * 1000)

    def now_us(self) -> int:
        """The current time in microseconds since the epoch (to hand over to a child execution)."""
        return self._now_us

    def advance_to(self, now_us: int) -> None:
        """Move the clock forward to `now_us` (never backwards)."""
        self._now_us = max(self._now_us, now_us)

    # ---- paths and objects -----------------------------------------------------------------------------------

    @property
    def inline(self) -> bool:
        """True when propeller runs with `raw-output-policy: inline`."""
        return self.settings.raw_output_policy == "inline"

    @staticmethod
    def inputs_uri(node: NodeRef) -> str:
        """`<data dir>/inputs.pb` (top level: `…/<node>/data/inputs.pb`)."""
        return f"{node.data_dir}/inputs.pb"

    @staticmethod
    def attempt_dir(node: NodeRef, attempt: int = 0) -> str:
        """`<data dir>/<attempt>`: outputs, futures and offloaded literals; nested nodes live under it."""
        return f"{node.data_dir}/{attempt}"

    @staticmethod
    def outputs_uri(node: NodeRef, attempt: int = 0) -> str:
        """`<data dir>/<attempt>/outputs.pb`."""
        return f"{node.data_dir}/{attempt}/outputs.pb"

    def raw_dir(self, node_id: str, attempt: int, execution_name: str | None = None) -> str:
        """flytekit's raw output prefix of one task attempt: `s3://<bucket>/data/<shard>/<exec>-<node>-<attempt>`."""
        name = execution_name or self.settings.name
        shard = f"{self.data_rng.getrandbits(8):02x}"
        return f"s3://{self.settings.bucket}/data/{shard}/{name}-{node_id}-{attempt}"

    def random_hex(self, bits: int = 128) -> str:
        """Random hex from the data RNG (object names)."""
        return f"{self.data_rng.getrandbits(bits):0{bits // 4}x}"

    def put(self, uri: str, payload: bytes) -> None:
        """Store an object (only when objects are requested)."""
        if self.with_objects:
            self.objects[uri] = payload

    def put_literal_map(self, uri: str, values: Literals) -> None:
        """Store a serialized `LiteralMap` (inputs.pb / outputs.pb)."""
        if self.with_objects:
            self.objects[uri] = lit.literal_map_of(values).SerializeToString()

    # ---- identities ------------------------------------------------------------------------------------------

    def node(
        self,
        spec_node_id: str,
        *,
        name: str | None = None,
        parent: NodeRef | None = None,
        parent_attempt: int = 0,
        target_entity: identifier_pb2.Identifier | None = None,
        in_dynamic_chain: bool = False,
    ) -> NodeRef:
        """Describe a node; nested nodes get propeller's unique id, their parent link and a data dir under it.

        Propeller keys nested node status by template id under the parent's output dir, so a child's data lives in
        `<parent data dir>/<parent attempt>/<spec node id>` while its reported id is the hashed unique id.
        """
        if parent is None:
            unique = node_unique_id(spec_node_id)
            data_dir = f"{self.metadata_root}/{spec_node_id}/data"
            return NodeRef(unique, spec_node_id, name or spec_node_id, data_dir, target_entity=target_entity)
        return NodeRef(
            node_id=node_unique_id(spec_node_id, parent.node_id, parent_attempt),
            spec_node_id=spec_node_id,
            node_name=name or spec_node_id,
            data_dir=f"{parent.data_dir}/{parent_attempt}/{spec_node_id}",
            parent_id=parent.node_id,
            retry_group=str(parent_attempt),
            in_dynamic_chain=in_dynamic_chain or parent.in_dynamic_chain,
            target_entity=target_entity,
        )

    def identifier(self, resource_type: int, name: str) -> identifier_pb2.Identifier:
        """A cached entity `Identifier` (treat as read-only)."""
        key = (resource_type, name)
        found = self._identifiers.get(key)
        if found is None:
            found = self._identifiers[key] = self.settings.identifier(resource_type, name)
        return found

    def node_execution_id(self, node: NodeRef) -> identifier_pb2.NodeExecutionIdentifier:
        """The cached `NodeExecutionIdentifier` of a node in this execution (treat as read-only)."""
        found = self._node_ids.get(node.node_id)
        if found is None:
            found = identifier_pb2.NodeExecutionIdentifier(node_id=node.node_id, execution_id=self.execution_id)
            self._node_ids[node.node_id] = found
        return found

    def task_execution_id(
        self, node: NodeRef, task_id: identifier_pb2.Identifier, attempt: int
    ) -> identifier_pb2.TaskExecutionIdentifier:
        """The `TaskExecutionIdentifier` of one attempt."""
        return identifier_pb2.TaskExecutionIdentifier(
            task_id=task_id, node_execution_id=self.node_execution_id(node), retry_attempt=attempt
        )

    def enrichment(self, **kwargs: Any) -> Enrichment:
        """An `Enrichment` carrying this execution's launch plan, principal and labels."""
        return Enrichment(
            launch_plan_id=self._launch_plan_id,
            principal=self.settings.principal,
            labels=self._labels,
            **kwargs,
        )

    # ---- raw emitters ------------------------------------------------------------------------------------------

    def _record(self, kind: str, event: Any, *, published: bool = True, enrichment: Enrichment | None = None) -> None:
        self.records.append(EventRecord(kind, event, self._key, published, enrichment))

    def emit_workflow(
        self,
        phase: int,
        *,
        output_uri: str = "",
        output_data: Literals | None = None,
        error: execution_pb2.ExecutionError | None = None,
        enrichment: Enrichment | None = None,
    ) -> event_pb2.WorkflowExecutionEvent:
        """Record a `WorkflowExecutionEvent`."""
        self._step()
        event = event_pb2.WorkflowExecutionEvent(execution_id=self.execution_id, producer_id=PRODUCER_ID)
        event.phase = phase  # type: ignore[assignment]
        self._stamp(event.occurred_at)
        if output_data is not None:
            event.output_data.CopyFrom(lit.literal_map_of(output_data))
        elif output_uri:
            event.output_uri = output_uri
        elif error is not None:
            event.error.CopyFrom(error)
        self._record("workflow", event, enrichment=enrichment or self.enrichment())
        return event

    def node_event(self, node: NodeRef, phase: int) -> event_pb2.NodeExecutionEvent:
        """A `NodeExecutionEvent` with the identity fields filled and nothing else (not yet recorded)."""
        self._step()
        # Field-by-field assignment is about twice as fast as keyword construction with message values.
        event = event_pb2.NodeExecutionEvent()
        event.id.CopyFrom(self.node_execution_id(node))
        event.producer_id = PRODUCER_ID
        version = self.settings.event_version
        if version < 2 and phase == NODE_PHASE.DYNAMIC_RUNNING:
            phase = NODE_PHASE.RUNNING  # older event versions lump DYNAMIC_RUNNING with RUNNING
        event.phase = phase  # type: ignore[assignment]
        self._stamp(event.occurred_at)
        self._stamp(event.reported_at)
        event.event_version = version
        if node.in_dynamic_chain:
            event.is_in_dynamic_chain = True
        if node.target_entity is not None:
            event.target_entity.CopyFrom(node.target_entity)
        if version == 0:
            return event  # EventVersion 0: the node id is the template id; no spec id, name or parent links
        event.spec_node_id = node.spec_node_id
        event.node_name = node.node_name
        if node.parent_id is not None:
            event.parent_node_metadata.node_id = node.parent_id
            event.retry_group = node.retry_group
        return event

    def record_node(
        self, event: event_pb2.NodeExecutionEvent, *, enrichment: Enrichment | None = None
    ) -> event_pb2.NodeExecutionEvent:
        """Record a node event built with `node_event` (default enrichment: launch plan, principal, labels)."""
        self._record("node", event, enrichment=enrichment or self.enrichment())
        return event

    def task_event(
        self,
        node: NodeRef,
        task_id: identifier_pb2.Identifier,
        attempt: int,
        phase: int,
        phase_version: int = 0,
    ) -> event_pb2.TaskExecutionEvent:
        """A `TaskExecutionEvent` with the identity fields filled (not yet recorded)."""
        self._step()
        event = event_pb2.TaskExecutionEvent()
        event.task_id.CopyFrom(task_id)
        event.parent_node_execution_id.CopyFrom(self.node_execution_id(node))
        event.retry_attempt = attempt
        event.phase = phase  # type: ignore[assignment]
        event.producer_id = PRODUCER_ID
        self._stamp(event.occurred_at)
        self._stamp(event.reported_at)
        event.phase_version = phase_version
        return event

    def record_task(self, event: event_pb2.TaskExecutionEvent, *, published: bool = True) -> None:
        """Record a task event; `published=False` for the first event of an attempt."""
        self._record("task", event, published=published, enrichment=self.enrichment() if published else None)


def execution_error(
    code: str, message: str, kind: int = execution_pb2.ExecutionError.USER
) -> execution_pb2.ExecutionError:
    """An `ExecutionError`."""
    return execution_pb2.ExecutionError(code=code, message=message, kind=kind)  # type: ignore[arg-type]
