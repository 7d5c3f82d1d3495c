"""Turn ready event rows into ``lineage_model.Execution`` objects: datasets, data edges and jobs.

Entry point: ``resolve_executions(ready_events, reader, read_buckets=..., link_events=..., limits=...)``, pure apart
from the injected ``ObjectReader`` (each URI read once per call, all executions batched per phase). The per-execution
``ReadLimits`` (literals walked, nesting depth, datasets read for a schema) are applied here, one execution at a
time, so a limit one execution reaches is a problem on it alone and never changes what another execution gets.

Dataset identity (DESIGN.md section 5). A dataset is keyed by its URI inside an execution. Its *producers* are the
successful, non start/end nodes whose output LiteralMap contains that URI. The *naming producer* is the node that
produced the data: among the producers that ran a task, those that did not receive the same URI as an input (a
node returning its input unchanged passes it through, it does not produce it), then a ``task`` node before an
``array`` node before a ``dynamic`` node (a dynamic or subworkflow node re-exports its children's outputs, so the
child named it), then the one that finished first, then node ids in natural order (``n6`` before ``n28``). With one, the
dataset is ``flyte`` + ``P.D.<task name>.<variable path>`` (``P.D.<task name>:<variable path>`` when the path
has levels, see ``urn_names.flyte_dataset_name``); without one (workflow inputs, data from a launch-plan
child or from outside), it is ``<scheme>`` (``s3``) + ``<bucket>/<key>``. A cache hit's LiteralMap points at the
original run's data, and naming by task and output variable makes it the same logical dataset as the original.
When a task runs in several nodes, their outputs share one logical dataset; its ``uri`` is the one written by the
lowest node id in natural order (the other locations stay visible per node only through the LiteralMaps).

List outputs (``List[...]``, an array node's gathered outputs; ``FoundDataset.element`` set): every element named
after the same node and variable belongs to one *list dataset* ``P.D.<task name>.<variable path>`` (the path has no
list index), whose ``elements`` are the element locations in list order and whose ``uri`` is the first element's;
see ``_list_dataset`` for its schema. A map key stays in the path (``o0.eu``): keys are names a user chose,
indices are not. Elements nothing in the execution produced (a list passed as a workflow input) keep one ``s3``
dataset per location, as any data from outside.

Edges come only from data actually passed, never from event order: when node B's inputs contain a URI produced by
node A, A is upstream of B. Producers that are B itself or B's ancestors are ignored; producers in B's own scope
(same ``parent_node_id`` and ``retry_group``) are preferred (a node after a subworkflow depends on the subworkflow
node, not on its inner task); otherwise the naming producer is used. Limits: values that are not datasets
(integers, strings) create no edges, so two nodes that only pass scalars look independent; datasets hidden in
dataclasses (msgpack) are invisible; a node that reads data by a hard-coded path has no recorded input.

Jobs (one per task name that ran in a task, dynamic or array node) aggregate the *successful* nodes of that task:
inputs are their input datasets, outputs the datasets they named, upstream tasks the naming tasks of their inputs.
A task whose nodes all failed still gets a job (so run history has a template), with no inputs or outputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pyarrow as pa
from flyteidl.core import types_pb2

from flytelineage.domain.arrow_schema_fields import declared_mismatches, describe_fields
from flytelineage.domain.execution_graph import ExecutionGraph, build_graph, parent_links
from flytelineage.domain.execution_grouping import iter_execution_slices
from flytelineage.domain.lineage_model import (
    ELEMENT_SCHEMAS,
    ELEMENT_SCHEMAS_DIFFER,
    Dataset,
    DatasetUse,
    Execution,
    ExecutionId,
    Job,
    NodeRun,
    SchemaField,
    TaskRef,
)
from flytelineage.domain.literal_datasets import (
    CappedReads,
    FooterOutcome,
    FoundDataset,
    LiteralRef,
    MapToSearch,
    ObjectReader,
    ReadOutcome,
    capped_reads,
    element_order,
    read_data_schemas,
    read_literal_maps,
    search_literal_maps,
)
from flytelineage.domain.read_limits import DEFAULT_LIMITS, ReadLimits
from flytelineage.domain.urn_names import flyte_dataset_name

_T = TypeVar("_T")
_TASK_KINDS = ("task", "array", "dynamic")
_NOT_PRODUCERS = frozenset({"start", "end"})
_SOURCE_RANK = {"parquet_footer": 0, "csv_header": 1, "literal_type": 2}


@dataclass(frozen=True)
class RejectedExecution:
    """An execution that could not be built (a deterministic failure on its own rows), with the reason."""

    id: ExecutionId
    reason: str


def resolve_executions(
    ready_events: pa.Table,
    reader: ObjectReader,
    *,
    read_buckets: Sequence[str] = (),
    link_events: pa.Table | None = None,
    rejected: list[RejectedExecution] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[Execution]:
    """Build every execution in ``ready_events`` (output of ``split_ready``), sorted by execution id.

    ``link_events`` (for example the still-pending events) is searched, with ``ready_events``, for the parent of
    launch-plan child executions. An execution whose own rows make building it fail is left out and appended to
    ``rejected`` with the reason (when no list is given the error is raised): one bad execution never stops the rest.
    """
    graphs = [
        graph
        for eid, rows in iter_execution_slices(ready_events)
        if (graph := _isolated(eid, rejected, partial(_graph_of, eid, rows))) is not None
    ]
    maps = read_literal_maps(_all_refs(graphs), reader, read_buckets=read_buckets, limits=limits)
    found = {
        g.id: f
        for g in graphs
        if (f := _isolated(g.id, rejected, partial(find_execution_datasets, g, maps, read_buckets, limits))) is not None
    }
    to_read = (d for f in found.values() for d in f.datasets() if d.uri not in f.capped.uris)
    footers = read_data_schemas(to_read, reader, read_buckets=read_buckets, limits=limits)
    tables = [ready_events] if link_events is None else [ready_events, link_events]
    links = parent_links(pa.concat_tables(tables, promote_options="permissive"))
    executions = [
        execution
        for g in graphs
        if g.id in found
        and (execution := _isolated(g.id, rejected, partial(assemble_execution, g, maps, found[g.id], footers, links)))
        is not None
    ]
    return sorted(executions, key=lambda e: e.id)


def _graph_of(eid: ExecutionId, rows: pa.Table) -> ExecutionGraph:
    return build_graph(eid, rows.to_pylist())


def _isolated(eid: ExecutionId, rejected: list[RejectedExecution] | None, step: Callable[[], _T]) -> _T | None:
    """``step()``, or None with its failure recorded in ``rejected`` (re-raised when there is no list)."""
    try:
        return step()
    except Exception as exc:
        if rejected is None:
            raise
        rejected.append(RejectedExecution(eid, f"cannot build the execution: {type(exc).__name__}: {exc}"))
        return None


def _all_refs(graphs: Iterable[ExecutionGraph]) -> list[LiteralRef]:
    refs: list[LiteralRef] = []
    for graph in graphs:
        refs.extend(r for r in (graph.inputs, graph.outputs) if r is not None)
        for data in graph.node_data.values():
            refs.extend(r for r in (data.inputs, data.outputs) if r is not None)
    return refs


_SideKey = tuple[str, str]
"""``("in" | "out", node id)`` for a node's LiteralMaps, ``("workflow", "in" | "out")`` for the execution's own."""


@dataclass(frozen=True)
class ExecutionDatasets:
    """The datasets found in each LiteralMap side of one execution, the problems met finding them (limits reached,
    cycles, unreadable offloaded literals) and the datasets ``max_dataset_reads`` leaves unread."""

    sides: Mapping[_SideKey, tuple[FoundDataset, ...]]
    problems: frozenset[str] = frozenset()
    capped: CappedReads = field(default_factory=CappedReads)

    def datasets(self) -> list[FoundDataset]:
        """Every dataset found, side after side."""
        return [d for found in self.sides.values() for d in found]


def _sides_of(graph: ExecutionGraph) -> list[tuple[_SideKey, LiteralRef | None, Mapping[str, types_pb2.LiteralType]]]:
    """Every LiteralMap side of the execution with its declared variable types, nodes first, in graph order."""
    sides: list[tuple[_SideKey, LiteralRef | None, Mapping[str, types_pb2.LiteralType]]] = []
    for node in graph.nodes:
        data = graph.node_data[node.node_id]
        sides.append((("in", node.node_id), data.inputs, data.input_types))
        sides.append((("out", node.node_id), data.outputs, data.output_types))
    sides.append((("workflow", "in"), graph.inputs, {}))
    sides.append((("workflow", "out"), graph.outputs, graph.output_types))
    return sides


def find_execution_datasets(
    graph: ExecutionGraph, maps: ReadOutcome, read_buckets: Sequence[str] = (), limits: ReadLimits = DEFAULT_LIMITS
) -> ExecutionDatasets:
    """Search every LiteralMap side of one execution within its ``max_literals``, then cap its data reads."""
    to_search = [
        MapToSearch(key, maps.maps[ref.uri], declared, f"LiteralMap {ref.uri}")
        for key, ref, declared in _sides_of(graph)
        if ref is not None and ref.uri in maps.maps
    ]
    found, problems = search_literal_maps(to_search, maps, limits)
    sides = {key: tuple(datasets) for key, datasets in found.items()}
    capped = capped_reads(sides.values(), read_buckets=read_buckets, limits=limits)
    return ExecutionDatasets(sides, frozenset(problems | ({capped.problem} if capped.problem else set())), capped)


@dataclass(frozen=True)
class _Side:
    """The datasets of one LiteralMap of one node (or of the workflow), with their schemas applied."""

    ref: LiteralRef | None
    datasets: tuple[FoundDataset, ...]


def assemble_execution(
    graph: ExecutionGraph,
    maps: ReadOutcome,
    found: ExecutionDatasets,
    footers: FooterOutcome,
    links: Mapping[ExecutionId, tuple[ExecutionId, str]],
) -> Execution:
    """One ``Execution`` from its graph, its datasets (``find_execution_datasets``) and the batch-wide reads."""
    problems = set(graph.problems) | found.problems
    sides_in: dict[str, _Side] = {}
    sides_out: dict[str, _Side] = {}
    for node in graph.nodes:
        data = graph.node_data[node.node_id]
        sides_in[node.node_id] = _side(data.inputs, ("in", node.node_id), maps, found, footers, problems)
        sides_out[node.node_id] = _side(data.outputs, ("out", node.node_id), maps, found, footers, problems)
    wf_in = _side(graph.inputs, ("workflow", "in"), maps, found, footers, problems)
    wf_out = _side(graph.outputs, ("workflow", "out"), maps, found, footers, problems)
    by_id = {n.node_id: n for n in graph.nodes}
    producers = _producers(graph.nodes, sides_out)
    datasets = _name_datasets(graph.id, producers, sides_in, sides_out, wf_in, wf_out, problems)
    nodes = tuple(
        _with_edges(n, sides_in[n.node_id], sides_out[n.node_id], datasets, producers, by_id) for n in graph.nodes
    )
    parent = links.get(graph.id)
    return Execution(
        id=graph.id,
        # a task named after its array node (no identity in the events, so no version) says nothing of the module
        workflow_name=workflow_name(
            graph.launch_plan_name, [n.task for n in nodes if n.task and n.task.version], problems
        ),
        phase=graph.phase,
        started_at=graph.started_at,
        ended_at=graph.ended_at,
        launch_plan_name=graph.launch_plan_name,
        launch_plan_version=graph.launch_plan_version,
        principal=graph.principal,
        labels=graph.labels,
        parent_execution=parent[0] if parent else None,
        parent_node_id=parent[1] if parent else None,
        error_code=graph.error_code,
        error_message=graph.error_message,
        inputs=_uses(wf_in, datasets),
        outputs=_uses(wf_out, datasets),
        nodes=nodes,
        jobs=build_jobs(nodes, {d.uri_key: d.dataset for d in datasets.values()}),
        datasets=tuple(sorted({d.dataset.key: d.dataset for d in datasets.values()}.values())),
        problems=tuple(sorted(problems)),
    )


def _side(
    ref: LiteralRef | None,
    key: _SideKey,
    maps: ReadOutcome,
    found: ExecutionDatasets,
    footers: FooterOutcome,
    problems: set[str],
) -> _Side:
    if ref is None:
        return _Side(None, ())
    if ref.uri in maps.problems:
        problems.add(maps.problems[ref.uri])
    resolved = []
    for dataset in found.sides.get(key, ()):
        if dataset.uri in found.capped.uris:
            resolved.append(dataset)  # not read (max_dataset_reads): the problem is in ``found.problems``
            continue
        layout = footers.layouts.get(dataset.uri)
        if layout:
            # a dataclass ``path`` (found as a blob) that turned out to be a directory is a FlyteDirectory
            kind = "multipart_blob" if layout == "directory" and dataset.kind == "blob" else dataset.kind
            dataset = replace(dataset, layout=layout, kind=kind)
        if dataset.uri in footers.fields:
            source = footers.sources.get(dataset.uri, "parquet_footer")
            dataset = _footer_is_truth(dataset, footers.fields[dataset.uri], problems, source)
        elif dataset.uri in footers.problems:
            problems.add(footers.problems[dataset.uri])
        resolved.append(dataset)
    return _Side(ref, tuple(resolved))


def _footer_is_truth(
    dataset: FoundDataset, footer: tuple[SchemaField, ...], problems: set[str], source: str = "parquet_footer"
) -> FoundDataset:
    """The file's columns replace the declared ones; the declaration stays as a property, a mismatch is a problem.

    flytekit writes the whole DataFrame whatever ``Annotated[..., kwtypes(...)]`` says, so the declaration is what
    the author meant, not what is stored. ``source`` is ``parquet_footer`` or ``csv_header``; a CSV header has
    names only (every column ``string``), so only declared names are checked against it.
    """
    if not dataset.fields:
        return replace(dataset, fields=footer, schema_source=source)
    checked = dataset.fields if source != "csv_header" else tuple(replace(f, type="unknown") for f in dataset.fields)
    mismatches = declared_mismatches(checked, footer)
    if mismatches:
        what = "CSV header" if source == "csv_header" else "Parquet footer"
        problems.add(
            f"dataset {dataset.uri} ({dataset.variable}): declared columns differ from the {what}, which is "
            f"used: {'; '.join(mismatches)}"
        )
    properties = (*dataset.properties, ("declared_columns", describe_fields(dataset.fields)))
    return replace(dataset, fields=footer, schema_source=source, properties=tuple(sorted(properties)))


# ---- naming ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Named:
    """A dataset URI and the logical dataset it belongs to (``node_id``: the naming producer, if any)."""

    uri_key: str
    dataset: Dataset
    node_id: str | None = None


def _producers(nodes: Sequence[NodeRun], sides_out: Mapping[str, _Side]) -> dict[str, list[tuple[NodeRun, str]]]:
    """Dataset uri -> [(producing node, output variable path)], only successful non start/end nodes."""
    producers: dict[str, list[tuple[NodeRun, str]]] = {}
    for node in nodes:
        if node.result != "SUCCESS" or node.kind in _NOT_PRODUCERS:
            continue
        for dataset in sides_out[node.node_id].datasets:
            producers.setdefault(dataset.uri, []).append((node, dataset.variable))
    return producers


def _naming_producer(
    candidates: Sequence[tuple[NodeRun, str]], passed_through: frozenset[str] = frozenset()
) -> tuple[NodeRun, str] | None:
    """The node a dataset is named after: the one that produced it (see the module docstring for the rule)."""
    eligible = [
        (n, v)
        for n, v in candidates
        if n.task is not None and n.kind in _TASK_KINDS and n.node_id not in passed_through
    ]
    if not eligible:
        eligible = [(n, v) for n, v in candidates if n.task is not None and n.kind in _TASK_KINDS]
    if not eligible:
        return None
    return min(
        eligible, key=lambda nv: (_TASK_KINDS.index(nv[0].kind), _when(nv[0]), natural_key(nv[0].node_id), nv[1])
    )


_DIGITS = re.compile(r"(\d+)")
_NEVER = datetime.max.replace(tzinfo=UTC)


def natural_key(node_id: str) -> tuple[tuple[int, int, str], ...]:
    """Order node ids as people read them: ``n6`` before ``n28`` (digit runs compare as numbers)."""
    return tuple((1, int(part), "") if part.isdigit() else (0, 0, part) for part in _DIGITS.split(node_id) if part)


def _when(node: NodeRun) -> datetime:
    """When a node finished (its output existed), else started; unknown sorts last."""
    return node.ended_at or node.started_at or _NEVER


def _name_datasets(
    execution_id: ExecutionId,
    producers: Mapping[str, list[tuple[NodeRun, str]]],
    sides_in: Mapping[str, _Side],
    sides_out: Mapping[str, _Side],
    wf_in: _Side,
    wf_out: _Side,
    problems: set[str],
) -> dict[str, _Named]:
    """Every dataset URI of the execution -> its logical dataset (see the module docstring)."""
    found: dict[str, list[FoundDataset]] = {}
    for side in [*sides_in.values(), *sides_out.values(), wf_in, wf_out]:
        for dataset in side.datasets:
            found.setdefault(dataset.uri, []).append(dataset)
    consumers: dict[str, set[str]] = {}
    for node_id, side in sides_in.items():
        for dataset in side.datasets:
            consumers.setdefault(dataset.uri, set()).add(node_id)
    elements: dict[tuple[str, str], str] = {
        (dataset.uri, node_id): dataset.element
        for node_id, side in sides_out.items()
        for dataset in side.datasets
        if dataset.element
    }
    named: dict[str, _Named] = {}
    for uri in sorted(found):
        passed = frozenset(consumers.get(uri, ()))
        producer = _naming_producer(producers.get(uri, []), passed)
        element = elements.get((uri, producer[0].node_id), "") if producer is not None else ""
        logical = _dataset_for(execution_id, uri, found[uri], producer, element)
        named[uri] = _Named(uri, logical, producer[0].node_id if producer is not None else None)
    return _merge_same_key(named, producers, problems)


def _dataset_for(
    execution_id: ExecutionId,
    uri: str,
    seen: Sequence[FoundDataset],
    producer: tuple[NodeRun, str] | None,
    element: str = "",
) -> Dataset:
    """The dataset at ``uri``, named after ``producer``; an ``element`` of a list output is that list's dataset."""
    with_fields = [d for d in seen if d.fields]
    best = min(with_fields or seen, key=lambda d: (_SOURCE_RANK.get(d.schema_source, 9), d.variable))
    common: dict[str, Any] = {
        "uri": uri,
        "kind": best.kind,
        "format": best.format,
        "fields": best.fields,
        "schema_source": best.schema_source,
        "layout": best.layout if best.layout in ("file", "directory") else "",
        "properties": best.properties,
        "project": execution_id.project,
        "domain": execution_id.domain,
    }
    if producer is not None:
        node, variable = producer
        assert node.task is not None
        name = flyte_dataset_name(execution_id.project, execution_id.domain, node.task.name, variable)
        elements = ((element, uri),) if element else ()
        return Dataset(
            platform="flyte",
            name=name,
            producer_task=node.task.name,
            output_name=variable,
            elements=elements,
            **common,
        )
    parts = urlsplit(uri)
    location = f"{parts.netloc}{parts.path}".rstrip("/")
    return Dataset(platform=parts.scheme or "file", name=location, **common)


def _merge_same_key(
    named: dict[str, _Named], producers: Mapping[str, list[tuple[NodeRun, str]]], problems: set[str]
) -> dict[str, _Named]:
    """One ``Dataset`` per logical key: location from the lowest producing node id, first schema found.

    A list output's elements (all URIs named after the same node and variable) become one list dataset
    (``_list_dataset``); when a task ran in several nodes, the lowest node's elements are the list.
    """
    by_key: dict[str, list[_Named]] = {}
    for item in named.values():
        by_key.setdefault(item.dataset.key, []).append(item)
    merged: dict[str, _Named] = {}
    for items in by_key.values():
        items.sort(
            key=lambda i: (
                min((natural_key(n.node_id) for n, _ in producers.get(i.uri_key, [])), default=()),
                i.uri_key,
            )
        )
        chosen = items[0].dataset
        members = [i.dataset for i in items if i.dataset.elements and i.node_id == items[0].node_id]
        if members:
            chosen = _list_dataset(members, problems)
        elif not chosen.fields:
            donor = next((i.dataset for i in items if i.dataset.fields), None)
            if donor is not None:
                chosen = replace(chosen, fields=donor.fields, schema_source=donor.schema_source)
        for item in items:
            merged[item.uri_key] = _Named(item.uri_key, chosen, item.node_id)
    return merged


def _list_dataset(members: Sequence[Dataset], problems: set[str]) -> Dataset:
    """One list dataset from its elements (one ``Dataset`` per element location, all with one key).

    The elements are in list order; ``uri`` is the first element's location (a map task's elements share no useful
    directory: Flyte spreads sub-task outputs over sharded prefixes, so their common directory is usually the
    raw-output root, which every list shares); kind, format, layout and columns are those of the first element whose
    columns are known (then of the first element). An element with other known columns (or another kind or format)
    is a problem, and the ``element_schemas`` property says the schemas differ (Glue then registers no table: one
    table needs one schema). Elements whose columns are unknown (a footer that could not be read: a problem of its
    own) are not compared.
    """
    ordered = sorted(members, key=lambda d: element_order(d.elements[0][0]))
    elements = tuple(d.elements[0] for d in ordered)
    first = next((d for d in ordered if d.fields), ordered[0])
    shape = (first.kind, first.format, first.fields)
    differing = [d.elements[0][0] for d in ordered if d.fields and (d.kind, d.format, d.fields) != shape]
    properties = dict(first.properties)
    if differing:
        shown = ", ".join(differing[:5]) + (f" and {len(differing) - 5} more" if len(differing) > 5 else "")
        problems.add(
            f"list dataset {first.key}: elements {shown} hold other columns than element {first.elements[0][0]} "
            f"({first.elements[0][1]}), whose columns are used; no Glue table is registered for it"
        )
        properties[ELEMENT_SCHEMAS] = ELEMENT_SCHEMAS_DIFFER
    return replace(
        first,
        uri=elements[0][1],
        elements=elements,
        properties=tuple(sorted(properties.items())),
    )


def _lowest_node(producers: Sequence[tuple[NodeRun, str]]) -> tuple[tuple[int, int, str], ...]:
    return min((natural_key(n.node_id) for n, _ in producers), default=())


def _uses(side: _Side, datasets: Mapping[str, _Named]) -> tuple[DatasetUse, ...]:
    return tuple(sorted({DatasetUse(d.variable, datasets[d.uri].dataset.key) for d in side.datasets}))


# ---- edges ----------------------------------------------------------------------------------------------------------


def _with_edges(
    node: NodeRun,
    side_in: _Side,
    side_out: _Side,
    datasets: Mapping[str, _Named],
    producers: Mapping[str, list[tuple[NodeRun, str]]],
    by_id: Mapping[str, NodeRun],
) -> NodeRun:
    excluded = {node.node_id, *_ancestors(node, by_id)}
    upstream: set[str] = set()
    for dataset in side_in.datasets:
        candidates = [(n, v) for n, v in producers.get(dataset.uri, []) if n.node_id not in excluded]
        same_scope = [
            n for n, _ in candidates if (n.parent_node_id, n.retry_group) == (node.parent_node_id, node.retry_group)
        ]
        if same_scope:
            upstream.update(n.node_id for n in same_scope)
            continue
        named = _naming_producer(candidates)
        if named is not None:
            upstream.add(named[0].node_id)
        else:
            upstream.update(n.node_id for n, _ in candidates)
    return replace(
        node,
        inputs=_uses(side_in, datasets),
        outputs=_uses(side_out, datasets),
        upstream_node_ids=tuple(sorted(upstream)),
    )


def _ancestors(node: NodeRun, by_id: Mapping[str, NodeRun]) -> list[str]:
    ancestors: list[str] = []
    parent = node.parent_node_id
    while parent and parent not in ancestors:
        ancestors.append(parent)
        parent = by_id[parent].parent_node_id if parent in by_id else None
    return ancestors


# ---- jobs and workflow name -----------------------------------------------------------------------------------------


def build_jobs(nodes: Sequence[NodeRun], datasets_by_uri: Mapping[str, Dataset]) -> tuple[Job, ...]:
    """One job per task name (see the module docstring), sorted by task name."""
    keyed = {d.key: d for d in datasets_by_uri.values()}
    by_task: dict[str, list[NodeRun]] = {}
    for node in nodes:
        if node.task is not None and node.kind in _TASK_KINDS:
            by_task.setdefault(node.task.name, []).append(node)
    jobs = []
    for name in sorted(by_task):
        runs = sorted(by_task[name], key=lambda n: n.node_id)
        ok = [n for n in runs if n.result == "SUCCESS"]
        inputs = {u.dataset_key for n in ok for u in n.inputs}
        outputs = {u.dataset_key for n in ok for u in n.outputs if keyed[u.dataset_key].producer_task == name}
        upstream = {keyed[k].producer_task for k in inputs if keyed[k].producer_task not in (None, name)}
        task = runs[0].task
        assert task is not None
        jobs.append(
            Job(
                task=_job_task(task, runs),
                inputs=tuple(sorted(inputs)),
                outputs=tuple(sorted(outputs)),
                upstream_tasks=tuple(sorted(str(u) for u in upstream)),
                node_ids=tuple(n.node_id for n in runs),
            )
        )
    return tuple(jobs)


def _job_task(task: TaskRef, runs: Sequence[NodeRun]) -> TaskRef:
    """The first node's task identity, with a task type from any node that reported one."""
    if task.task_type:
        return task
    task_type = next((n.task.task_type for n in runs if n.task and n.task.task_type), "")
    return replace(task, task_type=task_type)


def workflow_name(launch_plan_name: str | None, tasks: Iterable[TaskRef], problems: set[str]) -> str:
    """The launch plan name when known, else the longest common dotted prefix of the tasks' module paths.

    When the tasks share no prefix, the smallest module path is used and a problem says the name is a guess.
    """
    if launch_plan_name:
        return launch_plan_name
    modules = sorted({t.name.rsplit(".", 1)[0] if "." in t.name else "" for t in tasks})
    if not modules:
        problems.add("workflow name unknown: no launch plan and no task in the events; named unknown_workflow")
        return "unknown_workflow"
    parts = [m.split(".") if m else [] for m in modules]
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    if common:
        return ".".join(common)
    problems.add(f"workflow name guessed: tasks share no module prefix ({', '.join(modules)})")
    return modules[0] or sorted(t.name for t in tasks)[0]


__all__ = [
    "ExecutionDatasets",
    "assemble_execution",
    "build_jobs",
    "find_execution_datasets",
    "resolve_executions",
    "workflow_name",
]
