"""Hand-built ``Execution`` samples for the target tests and benchmarks: small, readable, each one semantic case.

Every sample is a complete, terminal workflow execution of the same small ETL in project ``flytesnacks``, domain
``development``, shaped the way the grouping step resolves real Flyte events (see ``shared/flyte-events.md``):
``start-node``/``end-node`` bookkeeping nodes, ``n<i>`` task nodes, attempts numbered ``retry_attempt + 1``, no first
QUEUED task event (attempts start at RUNNING), cache hits without attempts, datasets named per DESIGN section 5.

The samples (``SAMPLES`` maps a short name to a builder, so each test gets fresh objects):

- ``linear_success``: extract -> clean -> load, all SUCCEEDED; extract reads a workflow-input structured dataset on
  the ``s3`` platform; extract's output has nested columns (list, struct, map, decimal, timestamp...).
- ``failed``: clean fails with a user error after extract succeeded; the execution is FAILED, load never ran.
- ``retried``: clean fails on attempt 1 (UP_FOR_RETRY) and succeeds on attempt 2, same node, same instance.
- ``cache_hit``: extract is served from the Flyte cache (CACHE_HIT, no task ran) and links to the same dataset.
- ``aborted``: the execution is aborted while clean is running.
- ``fanout``: one task (``clean_orders``) runs in two nodes (``n1``, ``n2``), one DataJob aggregates both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flytelineage.domain.lineage_model import (
    Attempt,
    Dataset,
    DatasetUse,
    Execution,
    ExecutionId,
    Job,
    NodeRun,
    SchemaField,
    TaskRef,
)

PROJECT = "flytesnacks"
DOMAIN = "development"
WORKFLOW = "etl.orders.daily_orders"
LAUNCH_PLAN = "etl.orders.daily_orders_lp"
VERSION = "v2024.05.01-7f3c2a1"
RAW_BUCKET = "acme-raw"
FLYTE_BUCKET = "flyte-metadata"

T0 = datetime(2024, 5, 1, 6, 0, 0, 123000, tzinfo=UTC)

EXTRACT = "etl.orders.extract_orders"
CLEAN = "etl.orders.clean_orders"
LOAD = "etl.orders.load_orders"

RAW_ORDERS_KEY = "s3:acme-raw/landing/orders/2024-05-01"
EXTRACTED_KEY = f"flyte:{PROJECT}.{DOMAIN}.{EXTRACT}.o0"
CLEANED_KEY = f"flyte:{PROJECT}.{DOMAIN}.{CLEAN}.o0"
REPORT_KEY = f"flyte:{PROJECT}.{DOMAIN}.{LOAD}.o0"


def at(seconds: float) -> datetime:
    """A timestamp ``seconds`` after the samples' epoch ``T0`` (millisecond precision, UTC)."""
    return T0 + timedelta(milliseconds=round(seconds * 1000))


def task(name: str) -> TaskRef:
    """A python task of the sample project at the sample version."""
    return TaskRef(project=PROJECT, domain=DOMAIN, name=name, version=VERSION, task_type="python-task")


# ---- schemas -------------------------------------------------------------------------------------------------------

ORDER_FIELDS: tuple[SchemaField, ...] = (
    SchemaField("order_id", "int64", nullable=False),
    SchemaField(
        "customer",
        "struct",
        children=(
            SchemaField("id", "int64", nullable=False),
            SchemaField("name", "string"),
            SchemaField("segment", "dictionary<values=string, indices=int32, ordered=0>"),
        ),
    ),
    SchemaField(
        "items",
        "list",
        children=(
            SchemaField(
                "item",
                "struct",
                children=(
                    SchemaField("sku", "string", nullable=False),
                    SchemaField("quantity", "int32"),
                    SchemaField("unit_price", "decimal128(10, 2)"),
                ),
            ),
        ),
    ),
    SchemaField("tags", "list", children=(SchemaField("item", "string"),)),
    SchemaField(
        "attributes",
        "map",
        children=(SchemaField("key", "string", nullable=False), SchemaField("value", "string")),
    ),
    SchemaField("total", "decimal128(12, 2)"),
    SchemaField("discount_rate", "double"),
    SchemaField("is_gift", "bool"),
    SchemaField("ordered_at", "timestamp[us, tz=UTC]"),
    SchemaField("order_date", "date32[day]"),
    SchemaField("pickup_time", "time64[us]"),
    SchemaField("fulfilment_delay", "duration[s]"),
    SchemaField("signature", "binary"),
)

RAW_ORDER_FIELDS: tuple[SchemaField, ...] = (
    SchemaField("order_id", "int64"),
    SchemaField("payload", "string"),
    SchemaField("received_at", "timestamp[ms]"),
)

CLEAN_ORDER_FIELDS: tuple[SchemaField, ...] = (
    SchemaField("order_id", "int64", nullable=False),
    SchemaField("customer_id", "int64"),
    SchemaField("total", "decimal128(12, 2)"),
    SchemaField("ordered_at", "timestamp[us, tz=UTC]"),
    SchemaField(
        "line_totals",
        "map",
        children=(
            SchemaField("key", "string", nullable=False),
            SchemaField(
                "value",
                "struct",
                children=(SchemaField("quantity", "int32"), SchemaField("amount", "decimal128(12, 2)")),
            ),
        ),
    ),
)


# ---- datasets ------------------------------------------------------------------------------------------------------


def raw_orders() -> Dataset:
    """The workflow input: a structured dataset written by another system, so it lives on the s3 platform."""
    return Dataset(
        platform="s3",
        name="acme-raw/landing/orders/2024-05-01",
        uri="s3://acme-raw/landing/orders/2024-05-01",
        kind="structured_dataset",
        format="parquet",
        fields=RAW_ORDER_FIELDS,
        schema_source="parquet_footer",
        project=PROJECT,
        domain=DOMAIN,
    )


def output_dataset(task_name: str, fields: tuple[SchemaField, ...], uri: str, **extra: str) -> Dataset:
    """Output ``o0`` of a task of the sample workflow, on the flyte platform."""
    return Dataset(
        platform="flyte",
        name=f"{PROJECT}.{DOMAIN}.{task_name}.o0",
        uri=uri,
        kind=extra.get("kind", "structured_dataset"),
        format=extra.get("format", "parquet"),
        fields=fields,
        schema_source=extra.get("schema_source", "literal_type"),
        producer_task=task_name,
        output_name="o0",
        project=PROJECT,
        domain=DOMAIN,
    )


def raw_data_uri(execution: str, node: str, attempt: int = 0, suffix: str = "") -> str:
    """Where flytekit writes a node's offloaded outputs (raw output prefix + execution/node/attempt)."""
    return f"s3://{FLYTE_BUCKET}/raw/{execution}-{node}-{attempt}/{suffix or 'o0'}"


# ---- nodes ---------------------------------------------------------------------------------------------------------


def start_end_nodes(begin: float, end: float, end_phase: str = "SUCCEEDED") -> tuple[NodeRun, NodeRun]:
    """The bookkeeping nodes every workflow has; targets never emit them."""
    result = "SUCCESS" if end_phase == "SUCCEEDED" else "FAILURE"
    start = NodeRun(
        node_id="start-node", kind="start", phase="SUCCEEDED", result="SUCCESS", spec_node_id="start-node",
        started_at=at(begin), ended_at=at(begin),
    )  # fmt: skip
    finish = NodeRun(
        node_id="end-node", kind="end", phase=end_phase, result=result, spec_node_id="end-node",
        started_at=at(end), ended_at=at(end), upstream_node_ids=(),
    )  # fmt: skip
    return start, finish


def succeeded_attempt(number: int, begin: float, end: float) -> Attempt:
    """A successful task attempt (started = its first published event, RUNNING)."""
    return Attempt(number=number, phase="SUCCEEDED", result="SUCCESS", started_at=at(begin), ended_at=at(end))


def task_node(node_id: str, task_name: str, attempts: tuple[Attempt, ...], **fields: object) -> NodeRun:
    """A task node whose phase, result and times follow from its attempts unless given."""
    last = attempts[-1] if attempts else None
    values: dict[str, object] = {
        "phase": last.phase if last else "SUCCEEDED",
        "result": "SUCCESS" if last is None or last.phase == "SUCCEEDED" else "FAILURE",
        "started_at": attempts[0].started_at if attempts else None,
        "ended_at": last.ended_at if last else None,
        "spec_node_id": node_id,
        "node_name": task_name.rsplit(".", 1)[-1].replace("_", "-"),
        "task": task(task_name),
        "cache_status": "CACHE_DISABLED",
    }
    values.update(fields)
    return NodeRun(node_id=node_id, kind="task", attempts=attempts, **values)  # type: ignore[arg-type]


def uses(*pairs: tuple[str, str]) -> tuple[DatasetUse, ...]:
    """Dataset uses from ``(variable, dataset key)`` pairs, sorted like the model requires."""
    return tuple(sorted(DatasetUse(variable, key) for variable, key in pairs))


def report_dataset(execution: str) -> Dataset:
    """Output of ``load_orders``: a single CSV blob (no schema)."""
    return output_dataset(
        LOAD, (), raw_data_uri(execution, "n2", suffix="report.csv"),
        kind="blob", format="csv", schema_source="none",
    )  # fmt: skip


def extracted_dataset(execution: str) -> Dataset:
    """Output of ``extract_orders``: the nested structured dataset, schema from the literal type."""
    return output_dataset(EXTRACT, ORDER_FIELDS, raw_data_uri(execution, "n0"))


def cleaned_dataset(execution: str, node: str = "n1", attempt: int = 0) -> Dataset:
    """Output of ``clean_orders``: schema read from the Parquet footer (no column annotation)."""
    return output_dataset(
        CLEAN, CLEAN_ORDER_FIELDS, raw_data_uri(execution, node, attempt), schema_source="parquet_footer"
    )


def extract_node(attempts: tuple[Attempt, ...], **fields: object) -> NodeRun:
    """``n0``: reads the raw orders (workflow input ``orders_path``), writes ``o0``."""
    defaults: dict[str, object] = {
        "inputs": uses(("raw", RAW_ORDERS_KEY)),
        "outputs": uses(("o0", EXTRACTED_KEY)),
        "upstream_node_ids": ("start-node",),
    }
    defaults.update(fields)
    return task_node("n0", EXTRACT, attempts, **defaults)


def clean_node(attempts: tuple[Attempt, ...], node_id: str = "n1", **fields: object) -> NodeRun:
    """``n1``: reads ``extract_orders.o0``, writes ``o0``."""
    defaults: dict[str, object] = {
        "inputs": uses(("orders", EXTRACTED_KEY)),
        "outputs": uses(("o0", CLEANED_KEY)),
        "upstream_node_ids": ("n0",),
    }
    defaults.update(fields)
    return task_node(node_id, CLEAN, attempts, **defaults)


def load_node(attempts: tuple[Attempt, ...]) -> NodeRun:
    """``n2``: reads ``clean_orders.o0``, writes a CSV report."""
    return task_node(
        "n2", LOAD, attempts,
        inputs=uses(("orders", CLEANED_KEY)), outputs=uses(("o0", REPORT_KEY)), upstream_node_ids=("n1",),
    )  # fmt: skip


def extract_job(node_ids: tuple[str, ...] = ("n0",)) -> Job:
    """The extract step: raw orders in, extracted orders out."""
    return Job(task=task(EXTRACT), inputs=(RAW_ORDERS_KEY,), outputs=(EXTRACTED_KEY,), node_ids=node_ids)


def clean_job(node_ids: tuple[str, ...] = ("n1",)) -> Job:
    """The clean step, downstream of extract."""
    return Job(
        task=task(CLEAN), inputs=(EXTRACTED_KEY,), outputs=(CLEANED_KEY,), upstream_tasks=(EXTRACT,),
        node_ids=node_ids,
    )  # fmt: skip


def load_job() -> Job:
    """The load step, downstream of clean."""
    return Job(task=task(LOAD), inputs=(CLEANED_KEY,), outputs=(REPORT_KEY,), upstream_tasks=(CLEAN,), node_ids=("n2",))


def execution(name: str, phase: str, begin: float, end: float, **fields: object) -> Execution:
    """An execution of the sample workflow through its launch plan."""
    values: dict[str, object] = {
        "launch_plan_name": LAUNCH_PLAN,
        "launch_plan_version": VERSION,
        "inputs": uses(("orders_path", RAW_ORDERS_KEY)),
    }
    values.update(fields)
    return Execution(
        id=ExecutionId(PROJECT, DOMAIN, name), workflow_name=WORKFLOW, phase=phase,
        started_at=at(begin), ended_at=at(end), **values,  # type: ignore[arg-type]
    )  # fmt: skip


# ---- samples -------------------------------------------------------------------------------------------------------


def linear_success() -> Execution:
    """extract -> clean -> load, every node SUCCEEDED on its first attempt; nested columns; s3 workflow input."""
    name = "a8kq2m4v9x7tz1c3d5f6"
    start, end = start_end_nodes(0.0, 95.25)
    nodes = (
        start,
        end,
        extract_node((succeeded_attempt(1, 2.5, 31.75),)),
        clean_node((succeeded_attempt(1, 33.0, 61.5),)),
        load_node((succeeded_attempt(1, 62.75, 94.0),)),
    )
    return execution(
        name, "SUCCEEDED", 0.0, 95.5,
        outputs=uses(("report", REPORT_KEY)),
        nodes=tuple(sorted(nodes)),
        jobs=(clean_job(), extract_job(), load_job()),
        datasets=tuple(sorted((raw_orders(), extracted_dataset(name), cleaned_dataset(name), report_dataset(name)))),
    )  # fmt: skip


def failed() -> Execution:
    """clean fails with a user error (no retries left); the execution FAILED and load never ran."""
    name = "b3nw7p1r5s9uy2e4g6h8"
    error = "Trace:\n  File \"clean.py\", line 42\nValueError: column 'total' has 17 negative values"
    start, end = start_end_nodes(0.0, 50.0, end_phase="FAILED")
    clean = clean_node(
        (Attempt(1, "FAILED", "FAILURE", at(33.0), at(47.25), "USER:ValueError", error, "USER"),),
        outputs=(), error_code="USER:ValueError", error_message=error,
    )  # fmt: skip
    nodes = (start, end, extract_node((succeeded_attempt(1, 2.5, 31.75),)), clean)
    return execution(
        name, "FAILED", 0.0, 48.5,
        error_code="USER:ValueError", error_message=error,
        nodes=tuple(sorted(nodes)),
        jobs=(extract_job(),),
        datasets=tuple(sorted((raw_orders(), extracted_dataset(name)))),
    )  # fmt: skip


def retried() -> Execution:
    """clean: attempt 1 FAILED (UP_FOR_RETRY, a system error), attempt 2 SUCCEEDED; all on node ``n1``."""
    name = "c7tx4k8m2q6wz3a5b9d1"
    start, end = start_end_nodes(0.0, 130.0)
    first = Attempt(
        1, "FAILED", "UP_FOR_RETRY", at(33.0), at(40.5), "SYSTEM:PodEvicted",
        "Pod was evicted: the node was low on resource: memory.", "SYSTEM",
    )  # fmt: skip
    clean = clean_node((first, succeeded_attempt(2, 52.0, 88.25)), phase="SUCCEEDED", result="SUCCESS")
    nodes = (start, end, extract_node((succeeded_attempt(1, 2.5, 31.75),)), clean,
             load_node((succeeded_attempt(1, 89.5, 128.0),)))  # fmt: skip
    return execution(
        name, "SUCCEEDED", 0.0, 130.5,
        outputs=uses(("report", REPORT_KEY)),
        nodes=tuple(sorted(nodes)),
        jobs=(clean_job(), extract_job(), load_job()),
        datasets=tuple(sorted(
            (raw_orders(), extracted_dataset(name), cleaned_dataset(name, attempt=1), report_dataset(name))
        )),
    )  # fmt: skip


def cache_hit() -> Execution:
    """extract is served from the cache of ``linear_success`` (no task events); its output is the same dataset."""
    name = "d2hv6j0n4r8ty5c7e9g3"
    source = linear_success()
    start, end = start_end_nodes(0.0, 70.0)
    extract = extract_node(
        (), started_at=at(1.0), ended_at=at(1.5), cache_status="CACHE_HIT",
        cache_source_execution=source.id.key,
    )  # fmt: skip
    nodes = (start, end, extract, clean_node((succeeded_attempt(1, 3.0, 35.5),)),
             load_node((succeeded_attempt(1, 36.75, 68.0),)))  # fmt: skip
    return execution(
        name, "SUCCEEDED", 0.0, 70.25,
        outputs=uses(("report", REPORT_KEY)),
        nodes=tuple(sorted(nodes)),
        jobs=(clean_job(), extract_job(), load_job()),
        # the cached output keeps the uri the source execution wrote
        datasets=tuple(sorted(
            (raw_orders(), extracted_dataset(source.id.name), cleaned_dataset(name), report_dataset(name))
        )),
    )  # fmt: skip


def aborted() -> Execution:
    """The execution is aborted by a user while clean is running."""
    name = "e5mz9q3t7w1xa4b6c8f2"
    start, end = start_end_nodes(0.0, 45.0, end_phase="ABORTED")
    clean = clean_node(
        (Attempt(1, "ABORTED", "FAILURE", at(33.0), at(44.5)),), outputs=(), phase="ABORTED", result="FAILURE"
    )
    nodes = (start, end, extract_node((succeeded_attempt(1, 2.5, 31.75),)), clean)
    return execution(
        name, "ABORTED", 0.0, 45.0,
        error_code="USER:Aborted", error_message="Execution aborted by user jane.doe@example.com",
        nodes=tuple(sorted(nodes)),
        jobs=(extract_job(),),
        datasets=tuple(sorted((raw_orders(), extracted_dataset(name)))),
    )  # fmt: skip


def fanout() -> Execution:
    """clean_orders runs in two nodes (``n1`` and ``n2``, e.g. two regions); one DataJob aggregates both.

    Both nodes write output ``o0`` of the same task, hence the same logical dataset.
    """
    name = "f9pk1s5v3y7za2d4h6j8"
    start, end = start_end_nodes(0.0, 80.0)
    east = clean_node((succeeded_attempt(1, 33.0, 55.0),), node_name="clean-orders-east")
    west = clean_node((succeeded_attempt(1, 33.5, 58.25),), node_id="n2", node_name="clean-orders-west")
    nodes = (start, end, extract_node((succeeded_attempt(1, 2.5, 31.75),)), east, west)
    return execution(
        name, "SUCCEEDED", 0.0, 80.5,
        outputs=uses(("east", CLEANED_KEY), ("west", CLEANED_KEY)),
        nodes=tuple(sorted(nodes)),
        jobs=(clean_job(node_ids=("n1", "n2")), extract_job()),
        datasets=tuple(sorted((raw_orders(), extracted_dataset(name), cleaned_dataset(name, node="n2")))),
    )  # fmt: skip


SAMPLES: dict[str, Callable[[], Execution]] = {
    "linear_success": linear_success,
    "failed": failed,
    "retried": retried,
    "cache_hit": cache_hit,
    "aborted": aborted,
    "fanout": fanout,
}


def all_samples() -> list[Execution]:
    """One fresh instance of every sample, in ``SAMPLES`` order."""
    return [build() for build in SAMPLES.values()]


def many_executions(count: int) -> list[Execution]:
    """``count`` distinct executions (the samples cycled, each renamed) for benchmarks and batch tests."""
    bases = all_samples()
    result = []
    for index in range(count):
        base = bases[index % len(bases)]
        new_id = ExecutionId(base.id.project, base.id.domain, f"{base.id.name[:12]}{index:08d}")
        result.append(_renamed(base, new_id))
    return result


def _renamed(execution: Execution, new_id: ExecutionId) -> Execution:
    from dataclasses import replace

    return replace(execution, id=new_id)
