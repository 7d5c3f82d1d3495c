"""Emit the sample executions into a DataHub Lite file through the hook and read them back with DataHub's Lite API."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from datahub.api.entities.dataprocess.dataprocess_instance import DataProcessInstance
from datahub.lite.lite_local import DataHubLiteLocal
from datahub.lite.lite_util import get_datahub_lite

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.errors import TargetError
from flytelineage.hooks import datahub_emitter_hook
from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
from flytelineage.testing import lineage_samples

FLOW = "urn:li:dataFlow:(flyte,flytesnacks.development.etl.orders.daily_orders,prod)"
CLEAN_JOB = f"urn:li:dataJob:({FLOW},etl.orders.clean_orders)"
EXTRACT_JOB = f"urn:li:dataJob:({FLOW},etl.orders.extract_orders)"
EXTRACTED = "urn:li:dataset:(urn:li:dataPlatform:flyte,flytesnacks.development.etl.orders.extract_orders.o0,PROD)"
CLEANED = "urn:li:dataset:(urn:li:dataPlatform:flyte,flytesnacks.development.etl.orders.clean_orders.o0,PROD)"


@pytest.fixture
def lite_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Lite file in tmp_path, named by connection ``datahub_test`` given as an Airflow env var connection."""
    path = tmp_path / "lite" / "datahub.db"
    conn = {"conn_type": "datahub-lite", "host": str(path)}
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_TEST", json.dumps(conn))
    return path


@pytest.fixture
def open_lite() -> Iterator[Any]:
    """Open Lite stores read-only with DataHub's own API; closed at the end of the test."""
    opened: list[DataHubLiteLocal] = []

    def _open(path: Path) -> DataHubLiteLocal:
        lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(path), "read_only": True}}, read_only=True)
        opened.append(lite)
        return lite

    yield _open
    for lite in opened:
        lite.close()


def emit(executions: list[Any], conn_id: str = "datahub_test") -> datahub_emitter_hook.EmitReport:
    """Build and emit the executions' proposals through the hook, closing it like the operator does."""
    hook = DataHubEmitterHook(datahub_conn_id=conn_id)
    try:
        return hook.emit_all([m for e in executions for m in build_mcps(e)])
    finally:
        hook.close()


def dump(lite: DataHubLiteLocal) -> tuple[list[Any], dict[str, dict[str, str]]]:
    """Every entity with its latest aspects, and every aspect's version number (``sysVersion``)."""
    entities = list(lite.get_all_entities())
    versions = {}
    for urn in sorted(lite.list_ids()):
        found = lite.get(urn, None, details=True) or {}
        versions[urn] = {
            name: value["__systemMetadata"]["properties"]["sysVersion"]
            for name, value in found.items()
            if isinstance(value, dict)
        }
    return entities, versions


def run_urn(instance_id: str) -> str:
    """The SDK's urn for a flyte DataProcessInstance in the prod cluster."""
    return str(DataProcessInstance(id=instance_id, orchestrator="flyte", cluster="prod").urn)


def test_lineage_is_readable_with_the_lite_api(lite_path: Path, open_lite: Any) -> None:
    executions = lineage_samples.all_samples()
    report = emit(executions)
    assert report.target == f"datahub-lite:{lite_path}"
    assert report.proposals == sum(len(build_mcps(e)) for e in executions)
    lite = open_lite(lite_path)

    flow = lite.get(FLOW, ["dataFlowInfo"])
    assert flow["dataFlowInfo"]["name"] == "etl.orders.daily_orders"

    clean = lite.get(CLEAN_JOB, None)
    assert lite.get(CLEAN_JOB, ["dataJobInfo"], typed=True)["dataJobInfo"].type == "python-task"
    assert clean["dataJobInputOutput"]["inputDatasets"] == [EXTRACTED]
    assert clean["dataJobInputOutput"]["outputDatasets"] == [CLEANED]
    assert clean["dataJobInputOutput"]["inputDatajobs"] == [EXTRACT_JOB]

    schema = lite.get(EXTRACTED, ["schemaMetadata"])["schemaMetadata"]
    paths = [f["fieldPath"] for f in schema["fields"]]
    assert "[version=2.0].[type=array].[type=struct].items.[type=decimal].unit_price" in paths
    assert "[version=2.0].[type=map].[type=string].attributes" in paths
    assert lite.get(EXTRACTED, ["datasetProperties"])["datasetProperties"]["customProperties"]["format"] == "parquet"


def test_run_history_is_stored_per_instance(lite_path: Path, open_lite: Any) -> None:
    executions = lineage_samples.all_samples()
    emit(executions)
    lite = open_lite(lite_path)
    ids = set(lite.list_ids())
    for execution in executions:
        workflow = run_urn(execution.id.key)
        assert workflow in ids
        relations = lite.get(workflow, ["dataProcessInstanceRelationships"])["dataProcessInstanceRelationships"]
        assert relations["parentTemplate"] == FLOW
        phase = lite.get(workflow, ["dataProcessInstanceProperties"])["dataProcessInstanceProperties"]
        assert phase["customProperties"]["phase"] == execution.phase
    retried = lineage_samples.retried()
    clean = lite.get(run_urn(f"{retried.id.key}-n1"), None, typed=True)
    latest = clean["dataProcessInstanceRunEvent"]
    assert (latest.status, latest.attempt, latest.result.type) == ("COMPLETE", 2, "SUCCESS")
    assert clean["dataProcessInstanceRelationships"].parentTemplate == CLEAN_JOB


def test_emitting_twice_leaves_the_store_unchanged(lite_path: Path, open_lite: Any) -> None:
    executions = lineage_samples.all_samples()
    emit(executions)
    entities, versions = dump(open_lite(lite_path))
    report = emit(lineage_samples.all_samples())
    assert dump(open_lite(lite_path))[0] == entities
    assert sorted(open_lite(lite_path).list_ids()) == sorted(versions)
    run_events = sum(1 for e in executions for m in build_mcps(e) if m.aspectName == "dataProcessInstanceRunEvent")
    assert report.calls == report.proposals - run_events  # every run-event series was recognised as written


@pytest.mark.parametrize("sample", sorted(lineage_samples.SAMPLES))
def test_re_emitting_an_execution_writes_no_new_version(sample: str, lite_path: Path, open_lite: Any) -> None:
    # Across different executions, shared entities legitimately change (a dataset's uri is per run), so Lite keeps
    # versions of them; re-emitting the same execution must not add any, run events included.
    emit(lineage_samples.all_samples())
    emit([lineage_samples.SAMPLES[sample]()])
    before = dump(open_lite(lite_path))
    emit([lineage_samples.SAMPLES[sample]()])
    assert dump(open_lite(lite_path)) == before


def test_missing_connection_falls_back_to_lite_under_airflow_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, open_lite: Any
) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setattr(datahub_emitter_hook, "_warned_default_lite", set())
    with caplog.at_level(logging.WARNING, logger=datahub_emitter_hook.__name__):
        emit([lineage_samples.failed()], conn_id="datahub_not_defined")
        emit([lineage_samples.aborted()], conn_id="datahub_not_defined")
    warnings = [r for r in caplog.records if "is not defined" in r.getMessage()]
    assert len(warnings) == 1
    path = tmp_path / "airflow" / "datahub" / "lite.db"
    assert FLOW in set(open_lite(path).list_ids())


def test_file_connection_writes_proposals_the_file_source_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datahub.ingestion.source.file import read_metadata_file

    path = tmp_path / "out" / "proposals.json"
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_FILE", json.dumps({"conn_type": "datahub-file", "host": str(path)}))
    first = emit([lineage_samples.linear_success()], conn_id="datahub_file")
    second = emit([lineage_samples.failed()], conn_id="datahub_file")
    records = list(read_metadata_file(path))
    assert len(records) == first.proposals + second.proposals
    assert records[0].entityUrn == build_mcps(lineage_samples.linear_success())[0].entityUrn  # type: ignore[union-attr]


def edges(path: Path) -> list[tuple[Any, ...]]:
    """The browse index of a Lite file (its edge table), sorted."""
    import sqlite3

    with closing(sqlite3.connect(path)) as db:
        return sorted(db.execute("SELECT src_id, relnship, dst_id, dst_label FROM metadata_edge_v2").fetchall())


def test_closing_indexes_the_changed_entities_as_a_full_reindex_does(lite_path: Path) -> None:
    emit(lineage_samples.all_samples())
    emit(lineage_samples.many_executions(8))  # a second push: changed entities in a store that has an index
    emit(lineage_samples.all_samples())
    incremental = edges(lite_path)
    assert any(relation == "child" for _, relation, _, _ in incremental)
    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(lite_path)}})
    lite.reindex()  # the SDK's own rebuild of the whole index
    lite.close()
    assert edges(lite_path) == incremental


def test_a_rejected_proposal_is_undone_alone(lite_path: Path, open_lite: Any) -> None:
    from datahub.emitter.mcp import MetadataChangeProposalWrapper
    from datahub.metadata.schema_classes import DataFlowInfoClass, StatusClass

    other = "urn:li:dataFlow:(flyte,p.d.other,prod)"
    proposals = [
        MetadataChangeProposalWrapper(entityUrn=FLOW, aspect=DataFlowInfoClass(name="daily")),
        MetadataChangeProposalWrapper(entityUrn=other, aspect=DataFlowInfoClass(name=None)),  # type: ignore[arg-type]
        MetadataChangeProposalWrapper(entityUrn=other, aspect=StatusClass(removed=False)),
    ]
    hook = DataHubEmitterHook(datahub_conn_id="datahub_test")
    try:
        with pytest.raises(TargetError, match=r"failed 1 write\(s\) out of a batch of 3 .*dataFlowInfo"):
            hook.emit_all(proposals)
    finally:
        hook.close()
    lite = open_lite(lite_path)
    assert lite.get(FLOW, ["dataFlowInfo"])["dataFlowInfo"] == {"name": "daily", "customProperties": {}}
    assert lite.get(other, None) == {"urn": other, "status": {"removed": False}}
