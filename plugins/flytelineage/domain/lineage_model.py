"""Target-neutral lineage model of one completed Flyte workflow execution.

The grouping step builds these objects from stored events; the DataHub and Glue targets read them. They carry
facts only (names, phases, timestamps from the events, dataset locations and schemas), never target URNs or API
shapes, so each target stays a small translation. Objects are frozen and every collection is a sorted tuple, so two
builds from the same events compare equal and serialize to the same bytes.

Serialization (``execution_to_dict`` / ``execution_from_dict``) is the persisted ``executions/`` format; bump
``LINEAGE_FORMAT_VERSION`` on any incompatible change. Adding an optional field with a default (as ``principal`` and
``labels`` were) is compatible both ways: older shards read with the default, older readers ignore the key.
``Dataset.elements`` is written only when it is not empty (``_OMITTED_WHEN_EMPTY``): shards without list datasets
are byte-identical to those of earlier versions, older shards read with no elements; a reader from before list
datasets refuses a dataset that has them (an unknown key), so do not roll back over shards that hold them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LINEAGE_FORMAT_VERSION = 1

TERMINAL_WORKFLOW_PHASES = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})


@dataclass(frozen=True, order=True)
class ExecutionId:
    """A Flyte workflow execution identifier (``org`` is empty in OSS Flyte and not kept)."""

    project: str
    domain: str
    name: str

    @property
    def key(self) -> str:
        """The ``P-D-name`` form used in DataProcessInstance ids and S3 keys."""
        return f"{self.project}-{self.domain}-{self.name}"


@dataclass(frozen=True, order=True)
class SchemaField:
    """One column of a dataset schema, as an Arrow type.

    ``type`` is ``str(pyarrow type)`` for primitive types (``int64``, ``double``, ``string``, ``bool``,
    ``date32[day]``, ``timestamp[us, tz=UTC]``, ``decimal128(10, 2)``, ``binary``, ``duration[us]``...) and one of
    ``list``, ``large_list``, ``struct``, ``map`` for nested types, whose element types are in ``children``:
    a list has one child named ``item``; a map has ``key`` and ``value``; a struct has one child per field.
    """

    name: str
    type: str
    nullable: bool = True
    children: tuple[SchemaField, ...] = ()


@dataclass(frozen=True, order=True)
class Dataset:
    """A dataset found in a LiteralMap.

    ``platform`` and ``name`` are its logical identity (DESIGN.md section 5): ``flyte`` + ``P.D.<task>.<output>``
    (``urn_names.flyte_dataset_name``) for an output produced inside the execution, ``s3`` + ``<bucket>/<key>`` for
    one that was not.
    ``uri`` is the physical location of this run's data (a directory for structured datasets and multipart blobs).
    ``kind`` is ``structured_dataset``, ``schema``, ``blob`` or ``multipart_blob``.
    ``schema_source`` says where ``fields`` came from: ``literal_type``, ``parquet_footer`` or ``none``.
    ``layout`` is ``file`` or ``directory`` when the data was looked at (a structured dataset whose URI is one
    object is a ``file``), else empty. ``properties`` are sorted ``(name, value)`` facts for documentation (declared
    columns, ``element_schemas``).

    A *list dataset* (an output ``List[...]``, an array node's gathered outputs) is one dataset whose ``elements``
    are ``(list indices, location)`` pairs in list order (``("0", uri0), ("1", uri1)``; ``0.1`` for a list of
    lists); its ``uri`` is then the first element's location, and ``fields`` the first element's
    (``ELEMENT_SCHEMAS_DIFFER`` in ``properties`` says when other elements hold other columns). ``elements`` is
    empty for every other dataset.
    """

    platform: str
    name: str
    uri: str
    kind: str
    format: str = ""
    fields: tuple[SchemaField, ...] = ()
    schema_source: str = "none"
    producer_task: str | None = None
    output_name: str | None = None
    project: str = ""
    domain: str = ""
    layout: str = ""
    properties: tuple[tuple[str, str], ...] = ()
    elements: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """Identity of the dataset inside a lineage graph."""
        return f"{self.platform}:{self.name}"

    @property
    def is_list(self) -> bool:
        """True for a list dataset (its data is in ``elements``)."""
        return bool(self.elements)


ELEMENT_SCHEMAS = "element_schemas"
"""Property of a list dataset whose elements do not all hold the same columns (value: ``ELEMENT_SCHEMAS_DIFFER``)."""
ELEMENT_SCHEMAS_DIFFER = "differ"

LISTED_ELEMENTS = 20
"""How many element locations of a list dataset the targets list (DataHub properties, the OpenLineage facet): the
first 20 in list order, with the total count; Glue registers every element (one partition each)."""


@dataclass(frozen=True, order=True)
class TaskRef:
    """The task a node ran (from ``target_entity`` or the task events)."""

    project: str
    domain: str
    name: str
    version: str = ""
    task_type: str = ""


@dataclass(frozen=True, order=True)
class Attempt:
    """One attempt of a node (``number`` = task ``retry_attempt`` + 1).

    ``phase`` is the last task phase of the attempt. ``result`` is the outcome in run-history terms: ``SUCCESS``,
    ``FAILURE``, ``UP_FOR_RETRY`` (failed with a later attempt), ``SKIPPED``.
    """

    number: int
    phase: str
    result: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_kind: str | None = None
    log_uris: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class DatasetUse:
    """A dataset bound to an input or output variable of a node, job or workflow."""

    variable: str
    dataset_key: str


@dataclass(frozen=True, order=True)
class NodeRun:
    """The execution of one node (task, subworkflow, dynamic, array, launch plan, branch).

    ``node_id`` is the unique id Flyte generated (possibly hashed); hierarchy comes from ``parent_node_id`` and
    ``retry_group``, never from parsing ids. ``upstream_node_ids`` are the nodes whose outputs this node consumed.
    """

    node_id: str
    kind: str
    phase: str
    result: str
    spec_node_id: str = ""
    node_name: str = ""
    parent_node_id: str | None = None
    retry_group: str | None = None
    task: TaskRef | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cache_status: str | None = None
    cache_source_execution: str | None = None
    attempts: tuple[Attempt, ...] = ()
    inputs: tuple[DatasetUse, ...] = ()
    outputs: tuple[DatasetUse, ...] = ()
    upstream_node_ids: tuple[str, ...] = ()
    child_execution: ExecutionId | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def is_cache_hit(self) -> bool:
        """True when the node's outputs came from the Flyte cache (no task ran)."""
        return self.cache_status == "CACHE_HIT"


@dataclass(frozen=True, order=True)
class Job:
    """A task as a pipeline step, aggregated over the successful nodes that ran it in this execution."""

    task: TaskRef
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    upstream_tasks: tuple[str, ...] = ()
    node_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Execution:
    """A completed workflow execution with its graph, datasets and run history.

    ``principal`` (who launched it) and ``labels`` (sorted key/value pairs) come from the cloudEvents v2 enrichment
    and are empty for the other publisher formats.
    """

    id: ExecutionId
    workflow_name: str
    phase: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    launch_plan_name: str | None = None
    launch_plan_version: str | None = None
    parent_execution: ExecutionId | None = None
    parent_node_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    inputs: tuple[DatasetUse, ...] = ()
    outputs: tuple[DatasetUse, ...] = ()
    nodes: tuple[NodeRun, ...] = ()
    jobs: tuple[Job, ...] = ()
    datasets: tuple[Dataset, ...] = field(default=())
    problems: tuple[str, ...] = ()
    principal: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    def dataset(self, key: str) -> Dataset:
        """Look up one of this execution's datasets by its key."""
        for ds in self.datasets:
            if ds.key == key:
                return ds
        raise KeyError(key)


# ---- serialization -------------------------------------------------------------------------------------------------


_OMITTED_WHEN_EMPTY = {"Dataset": ("elements",)}
"""Fields added after format version 1 that are left out of the serialized form when empty (see the docstring)."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.name in _OMITTED_WHEN_EMPTY.get(type(value).__name__, ()) and not getattr(value, f.name))
        }
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def execution_to_dict(execution: Execution) -> dict[str, Any]:
    """Serialize an execution to plain JSON-compatible data (the persisted ``executions/`` row)."""
    data = _encode(execution)
    assert isinstance(data, dict)
    return {"format_version": LINEAGE_FORMAT_VERSION, **data}


def _parse_dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _field(data: dict[str, Any]) -> SchemaField:
    return SchemaField(
        name=data["name"],
        type=data["type"],
        nullable=data.get("nullable", True),
        children=tuple(_field(c) for c in data.get("children", ())),
    )


def _exec_id(data: dict[str, Any] | None) -> ExecutionId | None:
    return ExecutionId(**data) if data else None


def _uses(items: list[dict[str, Any]]) -> tuple[DatasetUse, ...]:
    return tuple(DatasetUse(**u) for u in items)


def _attempt(data: dict[str, Any]) -> Attempt:
    return Attempt(
        **{
            **data,
            "started_at": _parse_dt(data.get("started_at")),
            "ended_at": _parse_dt(data.get("ended_at")),
            "log_uris": tuple(data.get("log_uris", ())),
        }
    )


def _node(data: dict[str, Any]) -> NodeRun:
    return NodeRun(
        **{
            **data,
            "task": TaskRef(**data["task"]) if data.get("task") else None,
            "started_at": _parse_dt(data.get("started_at")),
            "ended_at": _parse_dt(data.get("ended_at")),
            "attempts": tuple(_attempt(a) for a in data.get("attempts", ())),
            "inputs": _uses(data.get("inputs", [])),
            "outputs": _uses(data.get("outputs", [])),
            "upstream_node_ids": tuple(data.get("upstream_node_ids", ())),
            "child_execution": _exec_id(data.get("child_execution")),
        }
    )


def _job(data: dict[str, Any]) -> Job:
    return Job(
        task=TaskRef(**data["task"]),
        inputs=tuple(data.get("inputs", ())),
        outputs=tuple(data.get("outputs", ())),
        upstream_tasks=tuple(data.get("upstream_tasks", ())),
        node_ids=tuple(data.get("node_ids", ())),
    )


def _dataset(data: dict[str, Any]) -> Dataset:
    return Dataset(
        **{
            **data,
            "fields": tuple(_field(f) for f in data.get("fields", ())),
            "properties": tuple((str(k), str(v)) for k, v in data.get("properties", ())),
            "elements": tuple((str(i), str(u)) for i, u in data.get("elements", ())),
        }
    )


class LineageFormatError(ValueError):
    """A persisted execution was written in a format this version cannot read."""


def execution_from_dict(data: dict[str, Any]) -> Execution:
    """Rebuild an execution from ``execution_to_dict`` output; refuses unknown format versions."""
    version = data.get("format_version")
    if version != LINEAGE_FORMAT_VERSION:
        raise LineageFormatError(
            f"executions/ row has format_version={version!r}; this flytelineage reads {LINEAGE_FORMAT_VERSION}. "
            "Re-run group_executions for the interval with this version."
        )
    return Execution(
        id=ExecutionId(**data["id"]),
        workflow_name=data["workflow_name"],
        phase=data["phase"],
        started_at=_parse_dt(data.get("started_at")),
        ended_at=_parse_dt(data.get("ended_at")),
        launch_plan_name=data.get("launch_plan_name"),
        launch_plan_version=data.get("launch_plan_version"),
        principal=data.get("principal"),
        labels=tuple((str(k), str(v)) for k, v in data.get("labels", ())),
        parent_execution=_exec_id(data.get("parent_execution")),
        parent_node_id=data.get("parent_node_id"),
        error_code=data.get("error_code"),
        error_message=data.get("error_message"),
        inputs=_uses(data.get("inputs", [])),
        outputs=_uses(data.get("outputs", [])),
        nodes=tuple(_node(n) for n in data.get("nodes", ())),
        jobs=tuple(_job(j) for j in data.get("jobs", ())),
        datasets=tuple(_dataset(d) for d in data.get("datasets", ())),
        problems=tuple(data.get("problems", ())),
    )
