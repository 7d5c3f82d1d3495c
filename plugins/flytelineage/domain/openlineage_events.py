"""Translate resolved Flyte executions into OpenLineage run events (pure: no I/O, no clock).

``build_shard_events`` returns, for every execution of a shard, the ``RunEvent`` objects of the openlineage-python
client: one run for the workflow execution and one run per node attempt, each a START event and exactly one
terminal event (COMPLETE, FAIL or ABORT) at the times the Flyte events carry. The same executions always give the
same events, field for field, so a retried task, a replay or a backfill re-sends identical events.

Naming (DESIGN.md section 5; the same names as the DataHub rule, ``cluster`` = ``env`` lowercased):

- job namespace ``flyte://<cluster>`` (DataHub's orchestrator and cluster);
- workflow job ``P.D.W`` (the DataFlow id); task job ``P.D.W.<task name>`` (the DataJob: one job per task name,
  shared by every node that runs it); a node without a task (branch, subworkflow, launch plan) gets the job
  ``P.D.W.<spec node id>``;
- run ids: ``uuid5(RUN_ID_NAMESPACE, "<DataProcessInstance id>/<attempt>")`` where the instance id is ``P-D-<name>``
  (workflow run, attempt 1) or ``P-D-<name>-<node id>`` (node run, attempt = retry_attempt + 1). They are computed
  from ids only, so a child execution can name its parent node's run without seeing the parent's events;
- datasets: the OpenLineage naming of object stores, namespace ``<scheme>://<bucket>`` and name = the key
  (``s3://flyte-data/a/b`` -> ``s3://flyte-data`` + ``a/b``); a dataset the Glue target registers also carries a
  ``symlinks`` facet to its table (namespace ``arn:aws:glue:<region>:<account>``, name ``table/<db>/<table>``), the
  link Amazon SageMaker Catalog / DataZone uses between lineage and catalog assets.

Facets: ``jobType`` on every job (integration ``FLYTE``, processing type ``BATCH``, job type ``WORKFLOW`` or
``TASK``); ``parent`` from each node run to the run of the node containing it (subworkflow, dynamic) or else to
the workflow run, and from a launch-plan child execution to the run of its parent node; ``errorMessage`` on
failed runs; ``schema`` on datasets with known columns; ``flyteElements`` (see ``FlyteElementsDatasetFacet``) on
list datasets, whose OpenLineage name is their first element's location; ``flyte`` (see ``FlyteRunFacet``) with the
Flyte phase,
attempt and cache status (a cache hit is a COMPLETE run whose facet says ``cached: true``). START events list the
inputs; terminal events list inputs and outputs. The Flyte events carry no schedule time, so no ``nominalTime``
facet is written (``nominal_time`` lets a caller that knows one add it).

``fit_event`` shrinks an event to a size limit by dropping its largest optional facets (DataZone takes at most
300,000 bytes per event); ``event_json`` is the exact text a transport sends.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    error_message_run,
    job_type_job,
    nominal_time_run,
    parent_run,
    schema_dataset,
    symlinks_dataset,
)
from openlineage.client.serde import Serde

from flytelineage.domain.glue_tables import plan_glue_tables
from flytelineage.domain.lineage_model import (
    LISTED_ELEMENTS,
    Attempt,
    Dataset,
    DatasetUse,
    Execution,
    ExecutionId,
    NodeRun,
    SchemaField,
)
from flytelineage.domain.urn_names import flow_name, instance_id
from flytelineage.errors import TargetError

PRODUCER = "https://github.com/flyte-lineage/flytelineage"
INTEGRATION = "FLYTE"
RUN_ID_NAMESPACE = uuid.UUID("978c19e7-59b9-5244-afc0-56f768adb136")
"""``uuid5(NAMESPACE_URL, "https://flytelineage/openlineage/run-id")``: fixed forever, run ids depend on it."""

FLYTE_FACET_SCHEMA = "https://github.com/flyte-lineage/flytelineage/blob/main/docs/openlineage.md#flyterunfacet"
FLYTE_ELEMENTS_FACET_SCHEMA = (
    "https://github.com/flyte-lineage/flytelineage/blob/main/docs/openlineage.md#flyteelementsdatasetfacet"
)
BOOKKEEPING_NODE_KINDS = frozenset({"start", "end"})
WORKFLOW_NODE_KINDS = frozenset({"subworkflow", "launch_plan"})
KEPT_FACETS = frozenset({"parent", "jobType", "nominalTime"})
"""Facets ``fit_event`` never drops: without them a run loses its place in the hierarchy."""

TERMINAL_ONLY_FACETS = frozenset({"errorMessage"})
"""Run facets only the terminal event carries (the START of a failed run did not know it would fail)."""

_SUCCESS_PHASES = frozenset({"SUCCEEDED", "RECOVERED"})


@attr.define
class FlyteRunFacet(RunFacet):
    """Flyte's own view of a run: where it comes from and how it ended (run facet ``flyte``).

    ``execution`` is ``P-D-<name>``; ``nodeId`` and ``attempt`` identify a node attempt; ``phase`` is the Flyte
    phase; ``cached`` is true when Flyte served the node from its cache (no task ran), ``cacheStatus`` the raw status.
    """

    execution: str
    phase: str
    nodeId: str | None = attr.field(default=None)
    attempt: int | None = attr.field(default=None)
    kind: str | None = attr.field(default=None)
    cached: bool | None = attr.field(default=None)
    cacheStatus: str | None = attr.field(default=None)
    cacheSourceExecution: str | None = attr.field(default=None)
    taskVersion: str | None = attr.field(default=None)
    launchPlan: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return FLYTE_FACET_SCHEMA


@attr.define
class FlyteElementsDatasetFacet(DatasetFacet):
    """The element locations of a list dataset (dataset facet ``flyteElements``): one OpenLineage dataset stands for
    a list output (a map task's gathered outputs), named after its first element's location (``Dataset.uri``).

    ``count`` is the number of elements; ``locations`` the first ``LISTED_ELEMENTS`` in list order and ``indices``
    their list indices (``3``, or ``0.1`` for a list of lists).
    """

    count: int
    locations: list[str] = attr.field(factory=list)
    indices: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return FLYTE_ELEMENTS_FACET_SCHEMA


@dataclass(frozen=True)
class GlueSymlinks:
    """Where the Glue target registers datasets: the catalog of ``region``/``account_id`` and the table of each.

    ``tables`` maps a dataset's logical name (``Dataset.name``) to its ``(database, table)``.
    """

    region: str
    account_id: str
    tables: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        """The OpenLineage namespace of the Glue catalog: ``arn:aws:glue:<region>:<account>``."""
        return f"arn:aws:glue:{self.region}:{self.account_id}"


def glue_symlinks(
    executions: Iterable[Execution],
    *,
    region: str,
    account_id: str,
    database_override: str | None = None,
    read_buckets: Collection[str] = (),
) -> GlueSymlinks:
    """The tables the Glue target registers for ``executions`` (the same plan ``register_glue`` makes).

    ``read_buckets`` must be the one ``register_glue`` gets, so no dataset links to a table Glue skipped.
    """
    plan = plan_glue_tables(executions, database_override=database_override, read_buckets=read_buckets)
    tables = {t.table_input["Parameters"]["flyte.dataset"]: (t.database, t.name) for t in plan.tables}
    return GlueSymlinks(region=region, account_id=account_id, tables=tables)


def run_id(instance_id: str, attempt: int = 1) -> str:
    """The OpenLineage run id of attempt ``attempt`` of the DataProcessInstance ``instance_id``."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{instance_id}/{attempt}"))


def job_namespace(env: str) -> str:
    """The namespace of every job: ``flyte://<cluster>``."""
    return f"flyte://{env.lower()}"


def workflow_job_name(execution: Execution) -> str:
    """``P.D.W``, the id of the execution's DataFlow."""
    eid = execution.id
    return flow_name(eid.project, eid.domain, execution.workflow_name)


def node_job_name(execution: Execution, node: NodeRun) -> str:
    """``P.D.W.<task name>`` for a task node, ``P.D.W.<spec node id>`` for a node without a task."""
    suffix = node.task.name if node.task is not None else (node.spec_node_id or node.node_id)
    return f"{workflow_job_name(execution)}.{suffix}"


def dataset_location(dataset: Dataset) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of a dataset: ``<scheme>://<bucket>`` and the key, from its URI.

    A location without a bucket (a local path) is namespace ``file`` and the path; a dataset without a URI keeps its
    logical identity (namespace ``flyte``, name ``<platform>:<name>``).
    """
    uri = dataset.uri.rstrip("/")
    if not uri:
        return "flyte", dataset.key
    parts = urlsplit(uri)
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"
    return "file", parts.path or uri


# ---- building ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    execution: Execution
    namespace: str
    glue: GlueSymlinks | None
    shard: Mapping[ExecutionId, Execution]
    nominal_time: datetime | None


def build_shard_events(
    executions: Sequence[Execution],
    *,
    env: str = "PROD",
    glue: GlueSymlinks | None = None,
) -> list[RunEvent]:
    """The events of every execution of a shard, in shard order (parents found in the shard name their node job)."""
    shard = {e.id: e for e in executions}
    return [event for e in executions for event in build_run_events(e, env=env, glue=glue, shard=shard)]


def build_run_events(
    execution: Execution,
    *,
    env: str = "PROD",
    glue: GlueSymlinks | None = None,
    shard: Mapping[ExecutionId, Execution] | None = None,
    nominal_time: datetime | None = None,
) -> list[RunEvent]:
    """The OpenLineage events of one execution: workflow START, every node attempt's START and end, workflow end.

    ``glue`` adds symlinks to the Glue tables; ``shard`` holds other executions (a launch-plan child's parent is
    looked up there); ``nominal_time`` is the schedule time when the caller knows it.
    """
    ctx = _Context(execution, job_namespace(env), glue, shard or {}, nominal_time)
    start, end = _workflow_events(ctx)
    nodes = [n for n in execution.nodes if n.kind not in BOOKKEEPING_NODE_KINDS]
    node_events = [event for node in nodes for attempt in _attempts(node) for event in _node_events(ctx, node, attempt)]
    return [start, *_in_time_order(node_events), end]


def _in_time_order(events: list[RunEvent]) -> list[RunEvent]:
    """Pairs sorted by their START time, then run id, so the stream reads like the execution ran."""
    pairs = [(events[i], events[i + 1]) for i in range(0, len(events), 2)]
    pairs.sort(key=lambda p: (p[0].eventTime, p[0].run.runId))
    return [e for pair in pairs for e in pair]


def _attempts(node: NodeRun) -> list[Attempt]:
    """The node's attempts; a node without any (cache hit, branch) is one attempt with the node's own times."""
    if node.attempts:
        return sorted(node.attempts)
    return [Attempt(1, node.phase, node.result, started_at=node.started_at, ended_at=node.ended_at)]


def _workflow_events(ctx: _Context) -> tuple[RunEvent, RunEvent]:
    execution = ctx.execution
    eid = execution.id
    job = _job(ctx.namespace, workflow_job_name(execution), "WORKFLOW")
    facets: dict[str, RunFacet] = {
        "flyte": FlyteRunFacet(
            execution=eid.key, phase=execution.phase, launchPlan=execution.launch_plan_name, producer=PRODUCER
        )
    }
    if execution.parent_execution is not None and execution.parent_node_id:
        facets["parent"] = _child_parent_facet(ctx, execution.parent_execution, execution.parent_node_id)
    if ctx.nominal_time is not None:
        facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=_iso(ctx.nominal_time), producer=PRODUCER
        )
    state = _terminal_state(execution.phase, "SUCCESS" if execution.phase in _SUCCESS_PHASES else "FAILURE")
    if state != RunState.COMPLETE and (execution.error_message or execution.error_code):
        facets["errorMessage"] = _error_facet(execution.error_message or execution.error_code or "")
    started, ended = _times(ctx, execution.started_at, execution.ended_at)
    return _pair(
        ctx,
        run_id(instance_id(eid.project, eid.domain, eid.name)),
        job,
        facets,
        (started, ended),
        state,
        (execution.inputs, execution.outputs),
    )


def _node_events(ctx: _Context, node: NodeRun, attempt: Attempt) -> tuple[RunEvent, RunEvent]:
    execution = ctx.execution
    instance = instance_id(execution.id.project, execution.id.domain, execution.id.name, node.node_id)
    job_type = "TASK" if node.task is not None or node.kind not in WORKFLOW_NODE_KINDS else "WORKFLOW"
    job = _job(ctx.namespace, node_job_name(execution, node), job_type)
    facets: dict[str, RunFacet] = {
        "parent": _node_parent_facet(ctx, node, attempt),
        "flyte": FlyteRunFacet(
            execution=execution.id.key,
            phase=attempt.phase,
            nodeId=node.node_id,
            attempt=attempt.number,
            kind=node.kind,
            cached=node.is_cache_hit,
            cacheStatus=node.cache_status,
            cacheSourceExecution=node.cache_source_execution,
            taskVersion=node.task.version if node.task is not None and node.task.version else None,
            producer=PRODUCER,
        ),
    }
    is_last = attempt.number == max(a.number for a in _attempts(node))
    state = RunState.COMPLETE if node.is_cache_hit else _terminal_state(attempt.phase, attempt.result)
    message = attempt.error_message or attempt.error_code or (node.error_message if is_last else None)
    if state != RunState.COMPLETE and message:
        facets["errorMessage"] = _error_facet(message)
    fallback_end = node.ended_at if is_last else None
    times = _times(ctx, attempt.started_at or node.started_at, attempt.ended_at or fallback_end)
    return _pair(ctx, run_id(instance, attempt.number), job, facets, times, state, (node.inputs, node.outputs))


def _pair(
    ctx: _Context,
    run: str,
    job: Job,
    facets: dict[str, RunFacet],
    times: tuple[datetime, datetime],
    state: RunState,
    uses: tuple[tuple[DatasetUse, ...], tuple[DatasetUse, ...]],
) -> tuple[RunEvent, RunEvent]:
    inputs = [InputDataset(*ns_name, facets=f) for ns_name, f in _datasets(ctx, uses[0])]
    outputs = [OutputDataset(*ns_name, facets=f) for ns_name, f in _datasets(ctx, uses[1])]
    start = RunEvent(
        eventType=RunState.START,
        eventTime=_iso(times[0]),
        run=Run(runId=run, facets={k: v for k, v in facets.items() if k not in TERMINAL_ONLY_FACETS}),
        job=job,
        inputs=inputs,
        producer=PRODUCER,
    )
    end = RunEvent(
        eventType=state,
        eventTime=_iso(times[1]),
        run=Run(runId=run, facets=dict(facets)),
        job=job,
        inputs=inputs,
        outputs=outputs,
        producer=PRODUCER,
    )
    return start, end


def _times(ctx: _Context, started: datetime | None, ended: datetime | None) -> tuple[datetime, datetime]:
    """(start, end) of a run; a missing side falls back to the other, then to the execution's times."""
    execution = ctx.execution
    start = started or ended or execution.started_at or execution.ended_at
    end = ended or execution.ended_at or start
    if start is None or end is None:
        raise TargetError(
            f"Execution {execution.id.key} has no event time at all; the executions shard is inconsistent. "
            "Re-run group_executions for this interval."
        )
    return start, max(start, end)


def _terminal_state(phase: str, result: str) -> RunState:
    if result == "SUCCESS" or phase in _SUCCESS_PHASES:
        return RunState.COMPLETE
    if phase == "ABORTED" or result == "SKIPPED":
        return RunState.ABORT
    return RunState.FAIL


def _job(namespace: str, name: str, job_type: str) -> Job:
    facet = job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration=INTEGRATION, jobType=job_type, producer=PRODUCER
    )
    return Job(namespace=namespace, name=name, facets={"jobType": facet})


def _parent_facet(parent_run_id: str, namespace: str, job_name: str) -> parent_run.ParentRunFacet:
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent_run_id),
        job=parent_run.Job(namespace=namespace, name=job_name),
        producer=PRODUCER,
    )


def _node_parent_facet(ctx: _Context, node: NodeRun, attempt: Attempt) -> parent_run.ParentRunFacet:
    """The run of the node that contains this one (subworkflow, dynamic), else the workflow run.

    A contained node's ``retry_group`` is the retry attempt of its parent node, so the parent's attempt is
    ``retry_group + 1``; without one, the last parent attempt that started before this attempt.
    """
    execution = ctx.execution
    parent = next((n for n in execution.nodes if n.node_id == node.parent_node_id), None)
    if parent is None:
        parent_id = instance_id(execution.id.project, execution.id.domain, execution.id.name)
        return _parent_facet(run_id(parent_id), ctx.namespace, workflow_job_name(execution))
    if node.retry_group is not None and node.retry_group.isdigit():
        number = int(node.retry_group) + 1
    else:
        number = _launching_attempt(_attempts(parent), attempt.started_at or node.started_at)
    instance = instance_id(execution.id.project, execution.id.domain, execution.id.name, parent.node_id)
    return _parent_facet(run_id(instance, number), ctx.namespace, node_job_name(execution, parent))


def _child_parent_facet(ctx: _Context, parent: ExecutionId, node_id: str) -> parent_run.ParentRunFacet:
    """The run of the parent node that launched this execution.

    The run id needs only ids; the attempt is the last one of the parent node that started before this execution
    (attempt 1 when the parent is not in the shard). The job name needs the parent's workflow name: when the parent
    is not in the shard the job is named ``P.D.<node id>`` of the parent (documented limit).
    """
    parent_execution = ctx.shard.get(parent)
    attempt, job_name = 1, flow_name(parent.project, parent.domain, node_id)
    if parent_execution is not None:
        for node in parent_execution.nodes:
            if node.node_id == node_id:
                job_name = node_job_name(parent_execution, node)
                attempt = _launching_attempt(_attempts(node), ctx.execution.started_at)
    return _parent_facet(
        run_id(instance_id(parent.project, parent.domain, parent.name, node_id), attempt), ctx.namespace, job_name
    )


def _launching_attempt(attempts: list[Attempt], child_start: datetime | None) -> int:
    started = [a for a in attempts if a.started_at and child_start and a.started_at <= child_start]
    return (started or attempts)[-1].number


def _error_facet(message: str) -> error_message_run.ErrorMessageRunFacet:
    return error_message_run.ErrorMessageRunFacet(message=message, programmingLanguage="python", producer=PRODUCER)


# ---- datasets ------------------------------------------------------------------------------------------------------


def _datasets(ctx: _Context, uses: Iterable[DatasetUse]) -> list[tuple[tuple[str, str], dict[str, DatasetFacet]]]:
    """(namespace, name) and facets of each distinct dataset of ``uses``, sorted by namespace and name."""
    found: dict[tuple[str, str], dict[str, DatasetFacet]] = {}
    for use in uses:
        try:
            dataset = ctx.execution.dataset(use.dataset_key)
        except KeyError:
            raise TargetError(
                f"Execution {ctx.execution.id.key} uses dataset {use.dataset_key!r} but does not describe it; the "
                "executions shard is inconsistent. Re-run group_executions for this interval."
            ) from None
        found.setdefault(dataset_location(dataset), _dataset_facets(ctx, dataset))
    return sorted(found.items(), key=lambda item: item[0])


def _dataset_facets(ctx: _Context, dataset: Dataset) -> dict[str, DatasetFacet]:
    facets: dict[str, DatasetFacet] = {}
    if dataset.fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[_schema_field(f) for f in dataset.fields], producer=PRODUCER
        )
    if dataset.is_list:
        listed = dataset.elements[:LISTED_ELEMENTS]
        facets["flyteElements"] = FlyteElementsDatasetFacet(
            count=len(dataset.elements),
            locations=[uri for _, uri in listed],
            indices=[index for index, _ in listed],
            producer=PRODUCER,
        )
    if ctx.glue is not None and dataset.name in ctx.glue.tables:
        database, table = ctx.glue.tables[dataset.name]
        identifier = symlinks_dataset.Identifier(
            namespace=ctx.glue.namespace, name=f"table/{database}/{table}", type="TABLE"
        )
        facets["symlinks"] = symlinks_dataset.SymlinksDatasetFacet(identifiers=[identifier], producer=PRODUCER)
    return facets


def _schema_field(field_: SchemaField) -> schema_dataset.SchemaDatasetFacetFields:
    """A column with its Arrow type; list items, map keys/values and struct members are nested fields."""
    return schema_dataset.SchemaDatasetFacetFields(
        name=field_.name,
        type=field_.type,
        fields=[_schema_field(c) for c in field_.children],
    )


# ---- sending -------------------------------------------------------------------------------------------------------


def event_json(event: RunEvent) -> str:
    """The JSON text of an event as the client's transports send it (nulls removed, keys sorted)."""
    return Serde.to_json(event)


def event_size(event: RunEvent) -> int:
    """The size of ``event_json(event)`` in UTF-8 bytes."""
    return len(event_json(event).encode("utf-8"))


def fit_event(event: RunEvent, max_bytes: int) -> tuple[RunEvent, list[str]]:
    """``event`` within ``max_bytes``: the largest optional facets dropped first, and what was dropped.

    Run, job and dataset facets may all go, ``symlinks`` only after every other dataset facet; ``KEPT_FACETS`` never
    do. The event is not changed. When dropping every optional facet is not enough the smallest result is returned
    and its size still exceeds ``max_bytes`` (the caller reports it; nothing is cut silently).
    """
    if event_size(event) <= max_bytes:
        return event, []
    fitted = copy.deepcopy(event)
    dropped: list[str] = []
    for _rank, size, label, facets, key in sorted(_droppable(fitted), key=lambda c: (-c[0], -c[1], c[2])):
        del facets[key]
        dropped.append(f"{label} ({size} bytes)")
        if event_size(fitted) <= max_bytes:
            break
    return fitted, dropped


def _droppable(event: RunEvent) -> Iterable[tuple[int, int, str, dict[str, Any], str]]:
    """(rank, size, label, owning dict, key) of every facet ``fit_event`` may drop; higher rank goes first."""
    owners: list[tuple[str, dict[str, Any] | None]] = [("run", event.run.facets), ("job", event.job.facets)]
    for kind, datasets in (("input", event.inputs or []), ("output", event.outputs or [])):
        owners += [(f"{kind} {d.namespace}/{d.name}", d.facets) for d in datasets]
    for label, facets in owners:
        if not facets:
            continue
        for key, facet in facets.items():
            if key not in KEPT_FACETS:
                yield (0 if key == "symlinks" else 1), len(Serde.to_json(facet)), f"{label} facet {key}", facets, key


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z`` (the Flyte event times are millisecond-precise)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
