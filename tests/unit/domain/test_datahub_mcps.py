"""DataHub proposals built from resolved executions: determinism and the run-history semantics.

The golden files of these samples are checked in ``test_datahub_goldens.py`` (the one DataHub golden set).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from datahub.api.entities.dataprocess.dataprocess_instance import DataProcessInstance
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.utilities.urns.field_paths import get_simple_field_path_from_v2_field_path

from flytelineage.domain.datahub_mcps import build_mcps, epoch_millis
from flytelineage.domain.execution_store import executions_from_jsonl_gz, executions_to_jsonl_gz
from flytelineage.testing import lineage_samples
from flytelineage.testing.lineage_samples import SAMPLES
from tests.golden_files import golden_text

CONSOLE = "https://flyte.example.com"
FLOW = "urn:li:dataFlow:(flyte,flytesnacks.development.etl.orders.daily_orders,prod)"
CLEAN_JOB = f"urn:li:dataJob:({FLOW},etl.orders.clean_orders)"
EXTRACT_JOB = f"urn:li:dataJob:({FLOW},etl.orders.extract_orders)"
LOAD_JOB = f"urn:li:dataJob:({FLOW},etl.orders.load_orders)"
RAW_ORDERS = "urn:li:dataset:(urn:li:dataPlatform:s3,acme-raw/landing/orders/2024-05-01,PROD)"
EXTRACTED = "urn:li:dataset:(urn:li:dataPlatform:flyte,flytesnacks.development.etl.orders.extract_orders.o0,PROD)"
CLEANED = "urn:li:dataset:(urn:li:dataPlatform:flyte,flytesnacks.development.etl.orders.clean_orders.o0,PROD)"


@pytest.fixture(autouse=True)
def utc_timezone() -> Iterator[None]:
    """Pin the process time zone to UTC, as DataHub's own golden tests do."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def serialize(mcps: list[MetadataChangeProposalWrapper]) -> list[dict[str, object]]:
    """The SDK's file-sink serialization of each proposal (aspect as JSON, not a nested string)."""
    return [mcp.to_obj(simplified_structure=True) for mcp in mcps]


def aspects(mcps: list[MetadataChangeProposalWrapper], urn: str, name: str) -> list[object]:
    """The aspects named ``name`` proposed for ``urn``, in order."""
    return [m.aspect for m in mcps if m.entityUrn == urn and m.aspectName == name]


def one(mcps: list[MetadataChangeProposalWrapper], urn: str, name: str) -> object:
    """The single aspect ``name`` of ``urn``."""
    found = aspects(mcps, urn, name)
    assert len(found) == 1, f"{urn} has {len(found)} {name} aspects"
    return found[0]


def run_urn(instance_id: str) -> str:
    """The urn DataHub's SDK gives the DataProcessInstance with this id (flyte orchestrator, prod cluster)."""
    return str(DataProcessInstance(id=instance_id, orchestrator="flyte", cluster="prod").urn)


def node_run(name: str, node: str) -> str:
    """The run urn of one node of a sample execution."""
    return run_urn(f"flytesnacks-development-{name}-{node}")


def run_events(mcps: list[MetadataChangeProposalWrapper], urn: str) -> list[tuple[str, int, str | None, int]]:
    """(status, attempt, result, timestampMillis) of each run event of ``urn``, in order."""
    events = aspects(mcps, urn, "dataProcessInstanceRunEvent")
    return [
        (e.status, e.attempt, e.result.type if e.result else None, e.timestampMillis)  # type: ignore[attr-defined]
        for e in events
    ]


# ---- determinism ---------------------------------------------------------------------------------------------------


def test_same_execution_gives_same_bytes() -> None:
    for build in SAMPLES.values():
        first = golden_text(serialize(build_mcps(build(), flyte_console_url=CONSOLE)))
        second = golden_text(serialize(build_mcps(build(), flyte_console_url=CONSOLE)))
        assert first == second


def test_output_does_not_depend_on_the_local_time_zone() -> None:
    expected = golden_text(serialize(build_mcps(lineage_samples.retried())))
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    assert golden_text(serialize(build_mcps(lineage_samples.retried()))) == expected


def test_persisted_shard_round_trip_gives_same_proposals() -> None:
    executions = lineage_samples.all_samples()
    reloaded = executions_from_jsonl_gz(executions_to_jsonl_gz(executions))
    for original, again in zip(executions, reloaded, strict=True):
        assert golden_text(serialize(build_mcps(again))) == golden_text(serialize(build_mcps(original)))


def test_only_upserts_of_single_aspects() -> None:
    for execution in lineage_samples.all_samples():
        for mcp in build_mcps(execution):
            assert mcp.changeType == "UPSERT"
            assert mcp.aspectName and mcp.aspect is not None


# ---- naming --------------------------------------------------------------------------------------------------------


def test_urns_follow_the_naming_contract() -> None:
    mcps = build_mcps(lineage_samples.linear_success())
    urns = {m.entityUrn for m in mcps}
    assert {FLOW, EXTRACT_JOB, CLEAN_JOB, LOAD_JOB, RAW_ORDERS, EXTRACTED, CLEANED} <= urns
    name = lineage_samples.linear_success().id.name
    assert run_urn(f"flytesnacks-development-{name}") in urns
    assert {node_run(name, n) for n in ("n0", "n1", "n2")} <= urns


def test_cluster_is_env_lowercased_and_env_names_the_datasets() -> None:
    mcps = build_mcps(lineage_samples.linear_success(), env="DEV")
    urns = {m.entityUrn for m in mcps}
    assert "urn:li:dataFlow:(flyte,flytesnacks.development.etl.orders.daily_orders,dev)" in urns
    assert RAW_ORDERS.replace(",PROD)", ",DEV)") in urns
    name = lineage_samples.linear_success().id.name
    dev_run = DataProcessInstance(id=f"flytesnacks-development-{name}", orchestrator="flyte", cluster="dev").urn
    assert str(dev_run) in urns


def test_start_and_end_nodes_get_no_instance() -> None:
    name = lineage_samples.linear_success().id.name
    urns = {m.entityUrn for m in build_mcps(lineage_samples.linear_success())}
    assert node_run(name, "start-node") not in urns
    assert node_run(name, "end-node") not in urns


def test_datasets_only_emits_nothing_but_datasets() -> None:
    mcps = build_mcps(lineage_samples.linear_success(), datasets_only=True)
    assert {m.entityType for m in mcps} == {"dataset"}
    assert {m.aspectName for m in mcps} == {"datasetProperties", "status", "schemaMetadata"}


# ---- flow, jobs and datasets ---------------------------------------------------------------------------------------


def test_flow_describes_the_workflow() -> None:
    mcps = build_mcps(lineage_samples.linear_success())
    info = one(mcps, FLOW, "dataFlowInfo")
    assert info.name == "etl.orders.daily_orders"  # type: ignore[attr-defined]
    assert info.customProperties == {  # type: ignore[attr-defined]
        "project": "flytesnacks",
        "domain": "development",
        "workflow": "etl.orders.daily_orders",
        "launch_plan": "etl.orders.daily_orders_lp",
        "launch_plan_version": lineage_samples.VERSION,
    }
    assert one(mcps, FLOW, "status").removed is False  # type: ignore[attr-defined]
    assert [e.id for e in one(mcps, FLOW, "browsePathsV2").path] == ["flytesnacks", "development"]  # type: ignore[attr-defined]
    assert not aspects(mcps, FLOW, "ownership") and not aspects(mcps, FLOW, "globalTags")


def test_jobs_carry_task_type_version_and_edges() -> None:
    mcps = build_mcps(lineage_samples.linear_success())
    info = one(mcps, CLEAN_JOB, "dataJobInfo")
    assert info.type == "python-task"  # type: ignore[attr-defined]
    assert info.customProperties["version"] == lineage_samples.VERSION  # type: ignore[attr-defined]
    io = one(mcps, CLEAN_JOB, "dataJobInputOutput")
    assert io.inputDatasets == [EXTRACTED]  # type: ignore[attr-defined]
    assert io.outputDatasets == [CLEANED]  # type: ignore[attr-defined]
    assert io.inputDatajobs == [EXTRACT_JOB]  # type: ignore[attr-defined]
    assert one(mcps, EXTRACT_JOB, "dataJobInputOutput").inputDatasets == [RAW_ORDERS]  # type: ignore[attr-defined]


def test_failed_task_keeps_its_job_but_not_its_edges() -> None:
    mcps = build_mcps(lineage_samples.failed())
    assert one(mcps, CLEAN_JOB, "dataJobInfo")
    assert aspects(mcps, CLEAN_JOB, "dataJobInputOutput") == []
    assert LOAD_JOB not in {m.entityUrn for m in mcps}


def test_one_job_aggregates_the_nodes_running_the_same_task() -> None:
    execution = lineage_samples.fanout()
    mcps = build_mcps(execution)
    jobs = {m.entityUrn for m in mcps if m.entityType == "dataJob"}
    assert jobs == {EXTRACT_JOB, CLEAN_JOB}
    assert one(mcps, CLEAN_JOB, "dataJobInfo").customProperties["node_ids"] == "n1,n2"  # type: ignore[attr-defined]
    for node in ("n1", "n2"):
        relations = one(mcps, node_run(execution.id.name, node), "dataProcessInstanceRelationships")
        assert relations.parentTemplate == CLEAN_JOB  # type: ignore[attr-defined]


def test_dataset_properties_keep_the_physical_location() -> None:
    mcps = build_mcps(lineage_samples.linear_success())
    props = one(mcps, EXTRACTED, "datasetProperties")
    assert props.customProperties == {  # type: ignore[attr-defined]
        "uri": "s3://flyte-metadata/raw/a8kq2m4v9x7tz1c3d5f6-n0-0/o0",
        "format": "parquet",
        "kind": "structured_dataset",
        "schema_source": "literal_type",
        "producer_task": "etl.orders.extract_orders",
        "output_name": "o0",
    }
    assert props.externalUrl is None  # type: ignore[attr-defined]
    raw = one(mcps, RAW_ORDERS, "datasetProperties")
    assert raw.customProperties["uri"] == "s3://acme-raw/landing/orders/2024-05-01"  # type: ignore[attr-defined]


def test_blob_without_columns_has_no_schema() -> None:
    mcps = build_mcps(lineage_samples.linear_success())
    report = next(m.entityUrn for m in mcps if "load_orders.o0" in (m.entityUrn or ""))
    assert aspects(mcps, report, "schemaMetadata") == []


# ---- schema --------------------------------------------------------------------------------------------------------

EXPECTED_FIELDS = [
    # (v2 field path, DataHub type, native type, nullable)
    ("[version=2.0].[type=long].order_id", "NumberType", "int64", False),
    ("[version=2.0].[type=struct].customer", "RecordType", "struct<id: int64, name: string, segment: %s>", True),
    ("[version=2.0].[type=struct].customer.[type=long].id", "NumberType", "int64", False),
    ("[version=2.0].[type=struct].customer.[type=string].name", "StringType", "string", True),
    ("[version=2.0].[type=struct].customer.[type=string].segment", "StringType", "%s", True),
    ("[version=2.0].[type=array].[type=struct].items", "ArrayType", None, True),
    ("[version=2.0].[type=array].[type=struct].items.[type=string].sku", "StringType", "string", False),
    ("[version=2.0].[type=array].[type=struct].items.[type=int].quantity", "NumberType", "int32", True),
    (
        "[version=2.0].[type=array].[type=struct].items.[type=decimal].unit_price",
        "NumberType",
        "decimal128(10, 2)",
        True,
    ),
    ("[version=2.0].[type=array].[type=string].tags", "ArrayType", "list<item: string>", True),
    ("[version=2.0].[type=map].[type=string].attributes", "MapType", "map<string, string>", True),
    ("[version=2.0].[type=decimal].total", "NumberType", "decimal128(12, 2)", True),
    ("[version=2.0].[type=double].discount_rate", "NumberType", "double", True),
    ("[version=2.0].[type=boolean].is_gift", "BooleanType", "bool", True),
    ("[version=2.0].[type=timestamp].ordered_at", "TimeType", "timestamp[us, tz=UTC]", True),
    ("[version=2.0].[type=date].order_date", "DateType", "date32[day]", True),
    ("[version=2.0].[type=time].pickup_time", "TimeType", "time64[us]", True),
    ("[version=2.0].[type=duration].fulfilment_delay", "NumberType", "duration[s]", True),
    ("[version=2.0].[type=bytes].signature", "BytesType", "binary", True),
]


def test_nested_columns_become_typed_v2_field_paths() -> None:
    schema = one(build_mcps(lineage_samples.linear_success()), EXTRACTED, "schemaMetadata")
    dictionary = "dictionary<values=string, indices=int32, ordered=0>"
    actual = [
        (f.fieldPath, type(f.type.type).__name__.removesuffix("Class"), f.nativeDataType, f.nullable)
        for f in schema.fields  # type: ignore[attr-defined]
    ]
    expected = [
        (path, kind, actual[i][2] if native is None else native.replace("%s", dictionary), nullable)
        for i, (path, kind, native, nullable) in enumerate(EXPECTED_FIELDS)
    ]
    assert actual == expected
    assert schema.platform == "urn:li:dataPlatform:flyte"  # type: ignore[attr-defined]
    assert schema.platformSchema.rawSchema.splitlines()[0] == "order_id: int64"  # type: ignore[attr-defined]


def test_field_paths_downgrade_to_dotted_column_names() -> None:
    schema = one(build_mcps(lineage_samples.linear_success()), EXTRACTED, "schemaMetadata")
    simple = [get_simple_field_path_from_v2_field_path(f.fieldPath) for f in schema.fields]  # type: ignore[attr-defined]
    assert simple[:5] == ["order_id", "customer", "customer.id", "customer.name", "customer.segment"]
    assert "items.unit_price" in simple and "attributes" in simple
    assert len(set(simple)) == len(simple)


def test_list_and_map_types_name_their_elements() -> None:
    schema = one(build_mcps(lineage_samples.linear_success()), EXTRACTED, "schemaMetadata")
    by_path = {f.fieldPath: f.type.type for f in schema.fields}  # type: ignore[attr-defined]
    assert by_path["[version=2.0].[type=array].[type=struct].items"].nestedType == ["struct"]
    assert by_path["[version=2.0].[type=array].[type=string].tags"].nestedType == ["string"]
    attributes = by_path["[version=2.0].[type=map].[type=string].attributes"]
    assert (attributes.keyType, attributes.valueType) == ("string", "string")


def test_map_with_struct_values_emits_the_value_members() -> None:
    schema = one(build_mcps(lineage_samples.linear_success()), CLEANED, "schemaMetadata")
    paths = [f.fieldPath for f in schema.fields]  # type: ignore[attr-defined]
    assert "[version=2.0].[type=map].[type=struct].line_totals" in paths
    assert "[version=2.0].[type=map].[type=struct].line_totals.[type=decimal].amount" in paths


# ---- run history ---------------------------------------------------------------------------------------------------


def test_workflow_run_is_an_instance_of_the_flow() -> None:
    execution = lineage_samples.linear_success()
    mcps = build_mcps(execution, flyte_console_url=CONSOLE + "/")
    urn = run_urn(execution.id.key)
    relations = one(mcps, urn, "dataProcessInstanceRelationships")
    assert relations.parentTemplate == FLOW and relations.parentInstance is None  # type: ignore[attr-defined]
    props = one(mcps, urn, "dataProcessInstanceProperties")
    assert props.name == execution.id.key  # type: ignore[attr-defined]
    assert props.created.time == epoch_millis(execution.started_at)  # type: ignore[attr-defined,arg-type]
    assert props.externalUrl == (  # type: ignore[attr-defined]
        f"{CONSOLE}/console/projects/flytesnacks/domains/development/executions/{execution.id.name}"
    )
    assert props.customProperties["phase"] == "SUCCEEDED"  # type: ignore[attr-defined]
    assert one(mcps, urn, "dataProcessInstanceInput").inputs == [RAW_ORDERS]  # type: ignore[attr-defined]
    assert run_events(mcps, urn) == [
        ("STARTED", 1, None, epoch_millis(execution.started_at)),  # type: ignore[arg-type]
        ("COMPLETE", 1, "SUCCESS", epoch_millis(execution.ended_at)),  # type: ignore[arg-type]
    ]


def test_node_runs_link_job_parent_run_and_upstream_runs() -> None:
    execution = lineage_samples.linear_success()
    name = execution.id.name
    mcps = build_mcps(execution)
    relations = one(mcps, node_run(name, "n1"), "dataProcessInstanceRelationships")
    assert relations.parentTemplate == CLEAN_JOB  # type: ignore[attr-defined]
    assert relations.parentInstance == run_urn(execution.id.key)  # type: ignore[attr-defined]
    assert relations.upstreamInstances == [node_run(name, "n0")]  # type: ignore[attr-defined]
    first = one(mcps, node_run(name, "n0"), "dataProcessInstanceRelationships")
    assert first.upstreamInstances == []  # type: ignore[attr-defined]  # start-node is not an instance
    assert one(mcps, node_run(name, "n1"), "dataProcessInstanceOutput").outputs == [CLEANED]  # type: ignore[attr-defined]


def test_failed_run_reports_failure_with_the_error() -> None:
    execution = lineage_samples.failed()
    mcps = build_mcps(execution)
    workflow = run_urn(execution.id.key)
    assert run_events(mcps, workflow)[-1][:3] == ("COMPLETE", 1, "FAILURE")
    clean = node_run(execution.id.name, "n1")
    assert [e[:3] for e in run_events(mcps, clean)] == [("STARTED", 1, None), ("COMPLETE", 1, "FAILURE")]
    complete = aspects(mcps, clean, "dataProcessInstanceRunEvent")[-1]
    assert complete.result.nativeResultType == "FAILED"  # type: ignore[attr-defined]
    assert complete.durationMillis == 14250  # type: ignore[attr-defined]
    props = one(mcps, clean, "dataProcessInstanceProperties").customProperties  # type: ignore[attr-defined]
    assert props["phase"] == "FAILED" and props["error_code"] == "USER:ValueError"
    assert "negative values" in props["error"]
    assert one(mcps, workflow, "dataProcessInstanceProperties").customProperties["phase"] == "FAILED"  # type: ignore[attr-defined]


def test_retry_is_up_for_retry_then_success_on_the_same_instance() -> None:
    execution = lineage_samples.retried()
    mcps = build_mcps(execution)
    clean = node_run(execution.id.name, "n1")
    events = run_events(mcps, clean)
    assert [e[:3] for e in events] == [
        ("STARTED", 1, None),
        ("COMPLETE", 1, "UP_FOR_RETRY"),
        ("STARTED", 2, None),
        ("COMPLETE", 2, "SUCCESS"),
    ]
    assert [e[3] for e in events] == sorted(e[3] for e in events)
    native = [e.result.nativeResultType for e in aspects(mcps, clean, "dataProcessInstanceRunEvent") if e.result]  # type: ignore[attr-defined]
    assert native == ["FAILED", "SUCCEEDED"]
    message_ids = [e.messageId for e in aspects(mcps, clean, "dataProcessInstanceRunEvent")]  # type: ignore[attr-defined]
    assert message_ids == ["1-STARTED", "1-COMPLETE", "2-STARTED", "2-COMPLETE"]
    assert one(mcps, clean, "dataProcessInstanceProperties").customProperties["attempts"] == "2"  # type: ignore[attr-defined]


def test_cache_hit_is_a_success_marked_cache_hit() -> None:
    execution = lineage_samples.cache_hit()
    mcps = build_mcps(execution)
    extract = node_run(execution.id.name, "n0")
    props = one(mcps, extract, "dataProcessInstanceProperties").customProperties  # type: ignore[attr-defined]
    assert props["cache_status"] == "CACHE_HIT"
    assert props["cache_source_execution"] == lineage_samples.linear_success().id.key
    assert [e[:3] for e in run_events(mcps, extract)] == [("STARTED", 1, None), ("COMPLETE", 1, "SUCCESS")]
    assert one(mcps, extract, "dataProcessInstanceOutput").outputs == [EXTRACTED]  # type: ignore[attr-defined]
    # same logical dataset as the run that filled the cache, with the uri that run wrote
    uri = one(mcps, EXTRACTED, "datasetProperties").customProperties["uri"]  # type: ignore[attr-defined]
    assert lineage_samples.linear_success().id.name in uri


def test_aborted_run_is_a_failure_with_native_phase_aborted() -> None:
    execution = lineage_samples.aborted()
    mcps = build_mcps(execution)
    workflow_complete = aspects(mcps, run_urn(execution.id.key), "dataProcessInstanceRunEvent")[-1]
    assert workflow_complete.result.type == "FAILURE"  # type: ignore[attr-defined]
    assert workflow_complete.result.nativeResultType == "ABORTED"  # type: ignore[attr-defined]
    clean = aspects(mcps, node_run(execution.id.name, "n1"), "dataProcessInstanceRunEvent")[-1]
    assert (clean.result.type, clean.result.nativeResultType) == ("FAILURE", "ABORTED")  # type: ignore[attr-defined]


def test_timestamps_come_from_the_events_not_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_clock() -> float:
        raise AssertionError("build_mcps read the wall clock")

    monkeypatch.setattr(time, "time", no_clock)
    day_ago_ms = (datetime.now(UTC).timestamp() - 86_400) * 1000  # the samples ran long before today
    for execution in lineage_samples.all_samples():
        for mcp in build_mcps(execution):
            obj = mcp.aspect.to_obj() if mcp.aspect is not None else {}
            stamps = [obj.get("timestampMillis"), (obj.get("created") or {}).get("time")]
            # 0 is DataHub's "unknown" audit time; anything else must be an event time, never today's clock
            assert all(ts is None or 0 <= ts < day_ago_ms for ts in stamps), (mcp.entityUrn, mcp.aspectName, stamps)


def test_missing_start_of_attempt_gives_complete_without_duration() -> None:
    from dataclasses import replace

    base = lineage_samples.linear_success()
    nodes = tuple(
        replace(n, attempts=tuple(replace(a, started_at=None) for a in n.attempts)) if n.node_id == "n1" else n
        for n in base.nodes
    )
    mcps = build_mcps(replace(base, nodes=nodes))
    events = aspects(mcps, node_run(base.id.name, "n1"), "dataProcessInstanceRunEvent")
    assert [e.status for e in events] == ["COMPLETE"]  # type: ignore[attr-defined]
    assert events[0].durationMillis is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("iso", "millis"),
    [
        ("1970-01-01T00:00:00+00:00", 0),
        ("2024-05-01T06:00:00.123999+00:00", 1714543200123),
        ("2024-05-01T08:00:00.5+02:00", 1714543200500),
        ("2024-05-01T06:00:00", 1714543200000),
    ],
)
def test_epoch_millis_is_exact(iso: str, millis: int) -> None:
    from datetime import datetime

    assert epoch_millis(datetime.fromisoformat(iso)) == millis


def test_a_use_of_an_undescribed_dataset_is_a_clear_error() -> None:
    from dataclasses import replace

    from flytelineage.errors import TargetError

    base = lineage_samples.linear_success()
    broken = replace(base, datasets=tuple(d for d in base.datasets if d.platform != "s3"))
    with pytest.raises(TargetError, match="does not describe it"):
        build_mcps(broken)


@pytest.mark.parametrize(("count", "not_listed"), [(3, None), (20, None), (23, "3")])
def test_a_list_dataset_lists_its_first_element_locations_and_the_count(count: int, not_listed: str | None) -> None:
    import dataclasses

    from datahub.metadata.schema_classes import DatasetPropertiesClass

    from flytelineage.domain.datahub_mcps import dataset_mcps, dataset_urn

    target = lineage_samples.linear_success().datasets[0]
    elements = tuple((str(i), f"s3://flyte-data/data/{i:02d}/e{i}") for i in range(count))
    listed = dataclasses.replace(target, uri=elements[0][1], elements=elements)
    mcps = dataset_mcps(listed, "PROD")
    properties = one(mcps, dataset_urn(listed, "PROD"), "datasetProperties")
    assert isinstance(properties, DatasetPropertiesClass)
    custom = properties.customProperties
    assert custom["uri"] == elements[0][1] and custom["elements"] == str(count)
    shown = {k: v for k, v in custom.items() if k.startswith("element.")}
    assert shown == {f"element.{i}": uri for i, uri in elements[:20]}
    assert custom.get("elements_not_listed") == not_listed
