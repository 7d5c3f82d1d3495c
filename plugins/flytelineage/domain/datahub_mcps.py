"""Translate one resolved Flyte execution into DataHub metadata change proposals (pure: no I/O, no clock).

``build_mcps`` returns per-aspect UPSERT proposals (``MetadataChangeProposalWrapper``), never snapshot MCEs, in a
stable order: datasets, the DataFlow, its DataJobs, the workflow run, then one run per node. The same execution always
gives the same proposals, byte for byte, so a retried task or a backfill rewrites identical metadata.

Naming follows DESIGN.md section 5 (``cluster`` is ``env`` lowercased):

- DataFlow ``urn:li:dataFlow:(flyte,P.D.W,cluster)``; DataJob ``urn:li:dataJob:(<flow urn>,<task name>)``.
- One DataJob per task name: when a task runs in several nodes of the execution (fan-out, a task reused in two
  places), the nodes are aggregated into that single DataJob, whose inputs/outputs/upstream jobs are the union over
  the successful nodes (the model's ``Job``), and whose ``customProperties["node_ids"]`` lists the nodes. Each node
  still gets its own DataProcessInstance, so run history stays per node.
- ``dataJobInputOutput`` is written only for tasks that have a ``Job`` (at least one successful node): an upsert
  replaces the whole aspect, and a failed run must not erase the edges a successful run established.
- Datasets: ``make_dataset_urn(platform, name, env)`` with the platform and name the model resolved (``flyte`` +
  ``P.D.<task>.<output>`` or ``s3`` + ``<bucket>/<key>``). A list dataset (one per list output) lists its element
  locations in ``customProperties`` (``element_properties``: the count and the first ``LISTED_ELEMENTS``); its
  ``uri`` property is the first element's location.
- DataProcessInstances: ids ``P-D-<execution>`` (workflow run, template = the DataFlow) and
  ``P-D-<execution>-<node id>`` (template = the task's DataJob, parent instance = the workflow run), urns computed by
  the SDK's ``DataProcessInstance(id, orchestrator="flyte", cluster=cluster)``. Nodes of kind ``start``/``end`` are
  bookkeeping and get no instance; nodes without a task (branch, subworkflow...) get an instance without template.
- Run events: one STARTED/COMPLETE pair per attempt (``attempt`` = retry_attempt + 1), timestamps from the events;
  a node without attempts (cache hit, branch) gets one pair from its own times. ``result`` is the model's result
  (SUCCESS, FAILURE, UP_FOR_RETRY, SKIPPED) and ``nativeResultType`` the Flyte phase. Each event carries a
  deterministic ``messageId`` (``<attempt>-<status>``): DataHub keys timeseries documents by timestamp, urn and
  messageId, so re-emitting is idempotent and two events in the same millisecond do not overwrite each other.

Schema fields use DataHub's v2 field paths (``[version=2.0].[type=struct].customer.[type=long].id``), the convention
DataHub's own Avro/Hive converters use for nested data: each path carries the type tokens leading to the field, so list
elements, map values and struct members are unambiguous and the UI nests them (it displays ``customer.id``).
A list is ``[type=array]`` followed by its element's tokens, a map ``[type=map]`` followed by its value's tokens;
struct members (also of list elements and map values) are emitted as child paths.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from datahub.api.entities.dataprocess.dataprocess_instance import DataProcessInstance
from datahub.emitter.mce_builder import (
    make_data_flow_urn,
    make_data_job_urn_with_flow,
    make_data_platform_urn,
    make_dataset_urn,
)
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import (
    ArrayTypeClass,
    AuditStampClass,
    BooleanTypeClass,
    BrowsePathEntryClass,
    BrowsePathsV2Class,
    BytesTypeClass,
    DataFlowInfoClass,
    DataJobInfoClass,
    DataJobInputOutputClass,
    DataProcessInstanceInputClass,
    DataProcessInstanceOutputClass,
    DataProcessInstancePropertiesClass,
    DataProcessInstanceRelationshipsClass,
    DataProcessInstanceRunEventClass,
    DataProcessInstanceRunResultClass,
    DataProcessRunStatusClass,
    DataProcessTypeClass,
    DatasetPropertiesClass,
    DateTypeClass,
    MapTypeClass,
    NullTypeClass,
    NumberTypeClass,
    OtherSchemaClass,
    PartitionSpecClass,
    PartitionTypeClass,
    RecordTypeClass,
    SchemaFieldClass,
    SchemaFieldDataTypeClass,
    SchemaMetadataClass,
    StatusClass,
    StringTypeClass,
    TimeTypeClass,
)

from flytelineage.domain.flyte_console_links import execution_url, node_url
from flytelineage.domain.lineage_model import (
    LISTED_ELEMENTS,
    Attempt,
    Dataset,
    Execution,
    Job,
    NodeRun,
    SchemaField,
    TaskRef,
)
from flytelineage.domain.urn_names import (
    DATASET_NAME_MAX_BYTES,
    field_name,
    flow_name,
    flyte_dataset_name,
    instance_id,
    name_part,
)
from flytelineage.errors import TargetError

ORCHESTRATOR = "flyte"
ACTOR = "urn:li:corpuser:datahub"
FIELD_PATH_VERSION = "[version=2.0]"
MAX_PROPERTY_CHARS = 2000
BOOKKEEPING_NODE_KINDS = frozenset({"start", "end"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

FINAL_RESULTS = {
    "SUCCEEDED": "SUCCESS",
    "RECOVERED": "SUCCESS",
    "SKIPPED": "SKIPPED",
}

RUN_RESULTS = frozenset({"SUCCESS", "FAILURE", "UP_FOR_RETRY", "SKIPPED"})

Mcp = MetadataChangeProposalWrapper
_FieldType = (
    ArrayTypeClass
    | BooleanTypeClass
    | BytesTypeClass
    | DateTypeClass
    | MapTypeClass
    | NullTypeClass
    | NumberTypeClass
    | RecordTypeClass
    | StringTypeClass
    | TimeTypeClass
)
_PrimitiveClass = type[
    BooleanTypeClass
    | BytesTypeClass
    | DateTypeClass
    | NullTypeClass
    | NumberTypeClass
    | StringTypeClass
    | TimeTypeClass
]


class _Naming:
    """The URNs of one execution's entities (DESIGN.md section 5), each computed once."""

    def __init__(self, execution: Execution, env: str, console_url: str | None) -> None:
        eid = execution.id
        self.execution = execution
        self.env = env
        self.cluster = env.lower()
        self.flow = make_data_flow_urn(
            ORCHESTRATOR, flow_name(eid.project, eid.domain, execution.workflow_name), self.cluster
        )
        self.datasets = {ds.key: dataset_urn(ds, env) for ds in execution.datasets}
        self.console_url = console_url
        self.execution_url = execution_url(console_url, eid) if console_url else None
        self._jobs: dict[str, str] = {}
        self._runs: dict[str | None, str] = {}

    def job(self, task_name: str) -> str:
        if task_name not in self._jobs:
            self._jobs[task_name] = make_data_job_urn_with_flow(self.flow, name_part(task_name))
        return self._jobs[task_name]

    def dataset(self, dataset_key: str) -> str:
        if dataset_key not in self.datasets:
            raise TargetError(
                f"Execution {self.execution.id.key} uses dataset {dataset_key!r} but does not describe it; the "
                "executions shard is inconsistent. Re-run group_executions for this interval."
            )
        return self.datasets[dataset_key]

    def run(self, node_id: str | None = None) -> str:
        if node_id not in self._runs:
            eid = self.execution.id
            self._runs[node_id] = run_urn(instance_id(eid.project, eid.domain, eid.name, node_id), self.cluster)
        return self._runs[node_id]


def build_mcps(
    execution: Execution,
    *,
    env: str = "PROD",
    datasets_only: bool = False,
    flyte_console_url: str | None = None,
) -> list[MetadataChangeProposalWrapper]:
    """Build the DataHub proposals describing ``execution``: datasets, flow, jobs and run history.

    ``env`` is the DataHub fabric of dataset urns (its lowercase is the flow cluster); ``datasets_only`` keeps only the
    dataset aspects; ``flyte_console_url`` links the workflow run to its execution page and each node run to its node
    (``flyte_console_links``). The run's ``principal`` and ``label.<key>`` properties come from cloudEvents v2.
    """
    naming = _Naming(execution, env, flyte_console_url)
    mcps = [mcp for ds in sorted(execution.datasets) for mcp in dataset_mcps(ds, env)]
    if datasets_only:
        return mcps
    mcps.extend(_flow_mcps(naming))
    mcps.extend(_job_mcps(naming))
    mcps.extend(_workflow_run_mcps(naming))
    for node in sorted(execution.nodes, key=lambda n: n.node_id):
        if node.kind not in BOOKKEEPING_NODE_KINDS:
            mcps.extend(_node_run_mcps(naming, node))
    return mcps


def dataset_urn(dataset: Dataset, env: str) -> str:
    """The DataHub urn of a dataset of the lineage model (name escaped and capped by ``urn_names``)."""
    parts = (dataset.project, dataset.domain, dataset.producer_task, dataset.output_name)
    if dataset.platform == "flyte" and all(parts):
        name = flyte_dataset_name(*parts)  # type: ignore[arg-type]
        # the name this version gives, or the plain join an older shard holds: both are named from their parts
        if dataset.name in (name, ".".join(parts)):  # type: ignore[arg-type]
            return make_dataset_urn(dataset.platform, name, env)
    return make_dataset_urn(dataset.platform, name_part(dataset.name, DATASET_NAME_MAX_BYTES), env)


def run_urn(instance_id: str, cluster: str) -> str:
    """The urn the DataHub SDK gives ``DataProcessInstance(id=instance_id, orchestrator="flyte", cluster=cluster)``."""
    return str(DataProcessInstance(id=instance_id, orchestrator=ORCHESTRATOR, cluster=cluster).urn)


# ---- datasets ------------------------------------------------------------------------------------------------------


def dataset_mcps(dataset: Dataset, env: str) -> list[MetadataChangeProposalWrapper]:
    """Properties, status and (when columns are known) the schema of one dataset."""
    urn = dataset_urn(dataset, env)
    properties = _present(
        uri=dataset.uri,
        format=dataset.format,
        kind=dataset.kind,
        schema_source=dataset.schema_source,
        producer_task=dataset.producer_task,
        output_name=dataset.output_name,
    )
    properties.update(_present(**dict(dataset.properties)))
    properties.update(element_properties(dataset))
    display = f"{dataset.producer_task}.{dataset.output_name}" if dataset.producer_task else dataset.name
    mcps = [
        Mcp(
            entityUrn=urn,
            aspect=DatasetPropertiesClass(name=display, qualifiedName=dataset.name, customProperties=properties),
        ),
        Mcp(entityUrn=urn, aspect=StatusClass(removed=False)),
    ]
    if dataset.fields:
        mcps.append(Mcp(entityUrn=urn, aspect=schema_metadata(dataset)))
    return mcps


def element_properties(dataset: Dataset) -> dict[str, str]:
    """A list dataset's element locations as custom properties: ``elements`` (the count), ``element.<indices>`` for
    the first ``LISTED_ELEMENTS`` in list order, and ``elements_not_listed`` (the rest, when there are more)."""
    if not dataset.is_list:
        return {}
    listed = dataset.elements[:LISTED_ELEMENTS]
    properties = {"elements": str(len(dataset.elements))}
    properties.update({f"element.{index}": uri for index, uri in listed})
    if len(dataset.elements) > len(listed):
        properties["elements_not_listed"] = str(len(dataset.elements) - len(listed))
    return properties


def schema_metadata(dataset: Dataset) -> SchemaMetadataClass:
    """The ``schemaMetadata`` aspect of a dataset with known columns (v2 field paths, see the module docstring)."""
    raw = "\n".join(f"{f.name}: {native_type(f)}" for f in dataset.fields)
    return SchemaMetadataClass(
        schemaName=dataset.name,
        platform=make_data_platform_urn(dataset.platform),
        version=0,
        hash="",
        platformSchema=OtherSchemaClass(rawSchema=raw),
        fields=list(schema_fields(dataset.fields)),
    )


def schema_fields(fields: Iterable[SchemaField], prefix: str = FIELD_PATH_VERSION) -> Iterator[SchemaFieldClass]:
    """DataHub schema fields for model fields, depth first, struct members as child field paths."""
    for field in fields:
        tokens, members = _type_tokens(field)
        path = f"{prefix}.{'.'.join(f'[type={t}]' for t in tokens)}.{field_name(field.name)}"
        yield SchemaFieldClass(
            fieldPath=path,
            type=SchemaFieldDataTypeClass(type=_datahub_type(field)),
            nativeDataType=native_type(field),
            nullable=field.nullable,
        )
        yield from schema_fields(members, path)


def _type_tokens(field: SchemaField) -> tuple[list[str], tuple[SchemaField, ...]]:
    """The v2 type tokens of a field and the struct members to emit below it (none unless a struct is reached)."""
    tokens: list[str] = []
    current: SchemaField | None = field
    while current is not None:
        kind = _nested_kind(current.type)
        if kind == "array":
            tokens.append("array")
            current = _child(current, "item", 0)
        elif kind == "map":
            tokens.append("map")
            current = _child(current, "value", 1)
        elif kind == "struct":
            tokens.append("struct")
            return tokens, current.children
        else:
            tokens.append(_primitive(current.type)[0])
            current = None
    return tokens, ()


def _child(field: SchemaField, name: str, position: int) -> SchemaField | None:
    for child in field.children:
        if child.name == name:
            return child
    return field.children[position] if len(field.children) > position else None


def _nested_kind(arrow_type: str) -> str | None:
    if arrow_type in ("list", "large_list", "list_view", "large_list_view") or arrow_type.startswith("fixed_size_list"):
        return "array"
    if arrow_type in ("map", "struct"):
        return arrow_type
    return None


def _datahub_type(field: SchemaField) -> _FieldType:
    kind = _nested_kind(field.type)
    if kind == "array":
        item = _child(field, "item", 0)
        return ArrayTypeClass(nestedType=[_element_token(item)])
    if kind == "map":
        key, value = _child(field, "key", 0), _child(field, "value", 1)
        return MapTypeClass(keyType=_element_token(key), valueType=_element_token(value))
    if kind == "struct":
        return RecordTypeClass()
    return _primitive(field.type)[1]()


def _element_token(field: SchemaField | None) -> str:
    if field is None:
        return "null"
    kind = _nested_kind(field.type)
    return kind if kind else _primitive(field.type)[0]


_PRIMITIVE_PREFIXES: tuple[tuple[str, str, _PrimitiveClass], ...] = (
    ("bool", "boolean", BooleanTypeClass),
    ("int64", "long", NumberTypeClass),
    ("uint64", "long", NumberTypeClass),
    ("uint32", "long", NumberTypeClass),
    ("int", "int", NumberTypeClass),
    ("uint", "int", NumberTypeClass),
    ("halffloat", "float", NumberTypeClass),
    ("float16", "float", NumberTypeClass),
    ("float", "float", NumberTypeClass),
    ("double", "double", NumberTypeClass),
    ("decimal", "decimal", NumberTypeClass),
    ("string", "string", StringTypeClass),
    ("large_string", "string", StringTypeClass),
    ("utf8", "string", StringTypeClass),
    ("large_utf8", "string", StringTypeClass),
    ("binary", "bytes", BytesTypeClass),
    ("large_binary", "bytes", BytesTypeClass),
    ("fixed_size_binary", "bytes", BytesTypeClass),
    ("date", "date", DateTypeClass),
    ("timestamp", "timestamp", TimeTypeClass),
    ("time", "time", TimeTypeClass),
    ("duration", "duration", NumberTypeClass),
    ("null", "null", NullTypeClass),
)


@functools.cache
def _primitive(arrow_type: str) -> tuple[str, _PrimitiveClass]:
    """The v2 token and DataHub type class of a primitive Arrow type string (``str(pyarrow type)``)."""
    if arrow_type.startswith("dictionary<values="):
        # a dictionary-encoded column has the logical type of its values
        values = arrow_type.removeprefix("dictionary<values=").split(",", 1)[0]
        return _primitive(values)
    if arrow_type == "float64":
        return "double", NumberTypeClass
    for prefix, token, type_class in _PRIMITIVE_PREFIXES:
        if arrow_type.startswith(prefix):
            return token, type_class
    return "null", NullTypeClass


def native_type(field: SchemaField) -> str:
    """The Arrow type of a field as text, nested types spelled out like ``str(pyarrow type)``."""
    kind = _nested_kind(field.type)
    if kind == "struct":
        return "struct<" + ", ".join(f"{c.name}: {native_type(c)}" for c in field.children) + ">"
    if kind == "map" and len(field.children) == 2:
        return f"map<{native_type(field.children[0])}, {native_type(field.children[1])}>"
    if kind == "array" and field.children:
        item = field.children[0]
        return f"{field.type}<{item.name}: {native_type(item)}>"
    return field.type


# ---- flow and jobs -------------------------------------------------------------------------------------------------


def _flow_mcps(naming: _Naming) -> list[Mcp]:
    execution = naming.execution
    eid = execution.id
    properties = _present(
        project=eid.project,
        domain=eid.domain,
        workflow=execution.workflow_name,
        launch_plan=execution.launch_plan_name,
        launch_plan_version=execution.launch_plan_version,
    )
    urn = naming.flow
    return [
        Mcp(entityUrn=urn, aspect=DataFlowInfoClass(name=execution.workflow_name, customProperties=properties)),
        Mcp(entityUrn=urn, aspect=StatusClass(removed=False)),
        Mcp(entityUrn=urn, aspect=BrowsePathsV2Class(path=_flow_browse_path(naming))),
    ]


def _flow_browse_path(naming: _Naming) -> list[BrowsePathEntryClass]:
    eid = naming.execution.id
    return [BrowsePathEntryClass(id=eid.project), BrowsePathEntryClass(id=eid.domain)]


def _tasks_by_name(execution: Execution) -> dict[str, tuple[TaskRef, tuple[str, ...]]]:
    """Every task of the execution (from jobs and from task nodes) with the nodes that ran it."""
    nodes_by_task: dict[str, list[str]] = {}
    refs: dict[str, TaskRef] = {job.task.name: job.task for job in execution.jobs}
    for node in execution.nodes:
        if node.task is not None and node.kind not in BOOKKEEPING_NODE_KINDS:
            refs.setdefault(node.task.name, node.task)
            nodes_by_task.setdefault(node.task.name, []).append(node.node_id)
    return {name: (refs[name], tuple(sorted(nodes_by_task.get(name, ())))) for name in sorted(refs)}


def _job_mcps(naming: _Naming) -> list[Mcp]:
    execution = naming.execution
    jobs = {job.task.name: job for job in execution.jobs}
    mcps: list[Mcp] = []
    browse = [*_flow_browse_path(naming), BrowsePathEntryClass(id=naming.flow, urn=naming.flow)]
    for name, (ref, node_ids) in _tasks_by_name(execution).items():
        urn = naming.job(name)
        properties = _present(
            task=name,
            version=ref.version,
            task_type=ref.task_type,
            project=ref.project,
            domain=ref.domain,
            node_ids=",".join(node_ids),
        )
        info = DataJobInfoClass(
            name=name, type=ref.task_type or "task", flowUrn=naming.flow, customProperties=properties
        )
        mcps.append(Mcp(entityUrn=urn, aspect=info))
        if name in jobs:
            mcps.append(Mcp(entityUrn=urn, aspect=_job_io(naming, jobs[name])))
        mcps.append(Mcp(entityUrn=urn, aspect=StatusClass(removed=False)))
        mcps.append(Mcp(entityUrn=urn, aspect=BrowsePathsV2Class(path=browse)))
    return mcps


def _job_io(naming: _Naming, job: Job) -> DataJobInputOutputClass:
    return DataJobInputOutputClass(
        inputDatasets=sorted({naming.dataset(k) for k in job.inputs}),
        outputDatasets=sorted({naming.dataset(k) for k in job.outputs}),
        inputDatajobs=sorted({naming.job(t) for t in job.upstream_tasks}),
    )


# ---- run history ---------------------------------------------------------------------------------------------------


def _workflow_run_mcps(naming: _Naming) -> list[Mcp]:
    execution = naming.execution
    parent = execution.parent_execution
    properties = _present(
        project=execution.id.project,
        domain=execution.id.domain,
        execution=execution.id.name,
        workflow=execution.workflow_name,
        phase=execution.phase,
        launch_plan=execution.launch_plan_name,
        launch_plan_version=execution.launch_plan_version,
        error_code=execution.error_code,
        error=execution.error_message,
        parent_execution=parent.key if parent else None,
        parent_node_id=execution.parent_node_id,
        problems="\n".join(execution.problems),
        principal=execution.principal,
    )
    properties.update(_present(**{f"label.{key}": value for key, value in execution.labels}))
    parent_run = run_urn(instance_id(parent.project, parent.domain, parent.name), naming.cluster) if parent else None
    run = _RunSpec(
        urn=naming.run(),
        name=execution.id.key,
        template=naming.flow,
        parent=parent_run,
        properties=properties,
        inputs=[naming.dataset(u.dataset_key) for u in execution.inputs],
        outputs=[naming.dataset(u.dataset_key) for u in execution.outputs],
    )
    final = Attempt(
        number=1,
        phase=execution.phase,
        result=FINAL_RESULTS.get(execution.phase, "FAILURE"),
        started_at=execution.started_at,
        ended_at=execution.ended_at,
    )
    created = execution.started_at or execution.ended_at
    return [*_instance_mcps(naming, run, created), *_run_event_mcps(run.urn, [final])]


def _node_run_mcps(naming: _Naming, node: NodeRun) -> list[Mcp]:
    last = node.attempts[-1] if node.attempts else None
    properties = _present(
        node_id=node.node_id,
        spec_node_id=node.spec_node_id,
        node_name=node.node_name,
        kind=node.kind,
        phase=node.phase,
        task=node.task.name if node.task else None,
        task_version=node.task.version if node.task else None,
        cache_status=node.cache_status,
        cache_source_execution=node.cache_source_execution,
        attempts=str(len(node.attempts)),
        retry_group=node.retry_group,
        parent_node_id=node.parent_node_id,
        child_execution=node.child_execution.key if node.child_execution else None,
        error_code=node.error_code or (last.error_code if last else None),
        error_kind=last.error_kind if last else None,
        error=node.error_message or (last.error_message if last else None),
    )
    known = {n.node_id for n in naming.execution.nodes if n.kind not in BOOKKEEPING_NODE_KINDS}
    run = _RunSpec(
        urn=naming.run(node.node_id),
        name=f"{naming.execution.id.key}-{node.node_id}",
        template=naming.job(node.task.name) if node.task else None,
        parent=naming.run(),
        properties=properties,
        inputs=[naming.dataset(u.dataset_key) for u in node.inputs],
        outputs=[naming.dataset(u.dataset_key) for u in node.outputs],
        upstream=tuple(naming.run(n) for n in sorted(set(node.upstream_node_ids) & known)),
        url=node_url(naming.console_url, naming.execution.id, node) if naming.console_url else None,
    )
    attempts = list(node.attempts) or [
        Attempt(1, node.phase, node.result, started_at=node.started_at, ended_at=node.ended_at)
    ]
    created = node.started_at or (attempts[0].started_at) or node.ended_at or naming.execution.started_at
    return [*_instance_mcps(naming, run, created), *_run_event_mcps(run.urn, attempts, node.ended_at)]


@dataclass(frozen=True)
class _RunSpec:
    """What a DataProcessInstance's static aspects say."""

    urn: str
    name: str
    template: str | None
    parent: str | None
    properties: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    upstream: tuple[str, ...] = ()
    url: str | None = None


def _instance_mcps(naming: _Naming, run: _RunSpec, created: datetime | None) -> list[Mcp]:
    properties = DataProcessInstancePropertiesClass(
        name=run.name,
        created=AuditStampClass(time=epoch_millis(created) if created else 0, actor=ACTOR),
        type=DataProcessTypeClass.BATCH_SCHEDULED,
        customProperties=run.properties,
        externalUrl=run.url or naming.execution_url,
    )
    relationships = DataProcessInstanceRelationshipsClass(
        upstreamInstances=list(run.upstream), parentTemplate=run.template, parentInstance=run.parent
    )
    mcps = [Mcp(entityUrn=run.urn, aspect=properties), Mcp(entityUrn=run.urn, aspect=relationships)]
    if run.inputs:
        mcps.append(Mcp(entityUrn=run.urn, aspect=DataProcessInstanceInputClass(inputs=sorted(set(run.inputs)))))
    if run.outputs:
        mcps.append(Mcp(entityUrn=run.urn, aspect=DataProcessInstanceOutputClass(outputs=sorted(set(run.outputs)))))
    return mcps


def _run_event_mcps(urn: str, attempts: list[Attempt], node_end: datetime | None = None) -> list[Mcp]:
    """STARTED/COMPLETE events per attempt; an unknown end of the last attempt falls back to the node's end."""
    mcps: list[Mcp] = []
    for index, attempt in enumerate(sorted(attempts)):
        is_last = index == len(attempts) - 1
        ended = attempt.ended_at or (node_end if is_last else None)
        if attempt.started_at is not None:
            started = DataProcessInstanceRunEventClass(
                timestampMillis=epoch_millis(attempt.started_at),
                status=DataProcessRunStatusClass.STARTED,
                attempt=attempt.number,
                messageId=f"{attempt.number}-STARTED",
                partitionSpec=_full_table(),
            )
            mcps.append(Mcp(entityUrn=urn, aspect=started))
        if ended is not None:
            mcps.append(Mcp(entityUrn=urn, aspect=_complete_event(attempt, ended)))
    return mcps


def _complete_event(attempt: Attempt, ended: datetime) -> DataProcessInstanceRunEventClass:
    duration = None
    if attempt.started_at is not None:
        duration = max(0, epoch_millis(ended) - epoch_millis(attempt.started_at))
    return DataProcessInstanceRunEventClass(
        timestampMillis=epoch_millis(ended),
        status=DataProcessRunStatusClass.COMPLETE,
        attempt=attempt.number,
        messageId=f"{attempt.number}-COMPLETE",
        partitionSpec=_full_table(),
        durationMillis=duration,
        result=DataProcessInstanceRunResultClass(type=_result(attempt), nativeResultType=attempt.phase),
    )


def _full_table() -> PartitionSpecClass:
    # the aspect's own default, spelled out: building it from the schema default is the slowest step of a build
    return PartitionSpecClass(partition="FULL_TABLE_SNAPSHOT", type=PartitionTypeClass.FULL_TABLE)


def _result(attempt: Attempt) -> str:
    """The model's result when DataHub knows it, else one derived from the Flyte phase (never an invalid enum)."""
    if attempt.result in RUN_RESULTS:
        return attempt.result
    return FINAL_RESULTS.get(attempt.phase, "FAILURE")


# ---- helpers -------------------------------------------------------------------------------------------------------


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, exact (no float rounding); naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _present(**values: str | None) -> dict[str, str]:
    """The non-empty values, long texts (stack traces) truncated so aspects stay small."""
    result = {}
    for key, value in values.items():
        if value:
            result[key] = value if len(value) <= MAX_PROPERTY_CHARS else value[: MAX_PROPERTY_CHARS - 1] + "…"
    return result


def instance_urns(execution: Execution, *, env: str = "PROD") -> list[str]:
    """The urns of the DataProcessInstances ``build_mcps`` writes for ``execution``: the workflow run first, then one
    per node in the order ``build_mcps`` emits them (bookkeeping nodes have none). Run-history retention
    (``dpi_retention``) deletes exactly these, so it never needs a second naming rule or DataHub's search API."""
    naming = _Naming(execution, env, None)
    nodes = sorted(execution.nodes, key=lambda n: n.node_id)
    return [naming.run(), *(naming.run(n.node_id) for n in nodes if n.kind not in BOOKKEEPING_NODE_KINDS)]
