"""Table tests of the OpenLineage translation rules: naming, run ids, terminal states, parents, size fitting."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from openlineage.client.event_v2 import RunState

from flytelineage.domain.lineage_model import Dataset, Execution, ExecutionId, SchemaField
from flytelineage.domain.openlineage_events import (
    build_run_events,
    build_shard_events,
    dataset_location,
    event_json,
    event_size,
    fit_event,
    glue_symlinks,
    run_id,
)
from flytelineage.testing import lineage_samples


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://acme-raw/landing/orders/2024-05-01", ("s3://acme-raw", "landing/orders/2024-05-01")),
        ("s3://acme-raw/landing/orders/2024-05-01/", ("s3://acme-raw", "landing/orders/2024-05-01")),
        ("s3://acme-raw/file.parquet", ("s3://acme-raw", "file.parquet")),
        ("s3://acme-raw", ("s3://acme-raw", "/")),
        ("gs://bucket/a/b", ("gs://bucket", "a/b")),
        ("/tmp/flyte/raw/x.csv", ("file", "/tmp/flyte/raw/x.csv")),
        ("", ("flyte", "flyte:p.d.t.o0")),
    ],
)
def test_dataset_location_follows_the_openlineage_object_store_naming(uri: str, expected: tuple[str, str]) -> None:
    dataset = Dataset(platform="flyte", name="p.d.t.o0", uri=uri, kind="structured_dataset")
    assert dataset_location(dataset) == expected


def test_run_ids_are_uuid5_of_instance_and_attempt() -> None:
    assert run_id("p-d-exec") == run_id("p-d-exec", 1) == "e7c89991-6475-56ef-86ea-361593990a41"
    ids = {run_id("p-d-exec"), run_id("p-d-exec", 2), run_id("p-d-exec-n0"), run_id("p-d-exec-n0", 2)}
    assert len(ids) == 4


@pytest.mark.parametrize(
    ("sample", "workflow_end", "node_ends"),
    [
        ("linear_success", "COMPLETE", {"n0": ["COMPLETE"], "n1": ["COMPLETE"], "n2": ["COMPLETE"]}),
        ("failed", "FAIL", {"n0": ["COMPLETE"], "n1": ["FAIL"]}),
        ("retried", "COMPLETE", {"n0": ["COMPLETE"], "n1": ["FAIL", "COMPLETE"], "n2": ["COMPLETE"]}),
        ("cache_hit", "COMPLETE", {"n0": ["COMPLETE"], "n1": ["COMPLETE"], "n2": ["COMPLETE"]}),
        ("aborted", "ABORT", {"n0": ["COMPLETE"], "n1": ["ABORT"]}),
    ],
)
def test_terminal_event_types(sample: str, workflow_end: str, node_ends: dict[str, list[str]]) -> None:
    execution = lineage_samples.SAMPLES[sample]()
    events = build_run_events(execution)
    assert events[0].eventType == RunState.START and events[-1].eventType == RunState(workflow_end)
    ends: dict[str, list[str]] = {}
    for event in events[1:-1]:
        if event.eventType != RunState.START:
            node = event.run.facets["flyte"].nodeId  # type: ignore[index, attr-defined]
            ends.setdefault(node, []).append(event.eventType.value)  # type: ignore[union-attr]
    assert ends == node_ends


def test_error_message_only_on_the_terminal_event_of_a_failed_run() -> None:
    events = [json.loads(event_json(e)) for e in build_run_events(lineage_samples.failed())]
    failed = [e for e in events if e["run"]["facets"]["flyte"].get("nodeId") == "n1"]
    assert [e["eventType"] for e in failed] == ["START", "FAIL"]
    assert "errorMessage" not in failed[0]["run"]["facets"]
    error = failed[1]["run"]["facets"]["errorMessage"]
    assert error["message"] and error["programmingLanguage"] == "python"
    assert all("errorMessage" not in e["run"]["facets"] for e in events if e["eventType"] == "COMPLETE")


def test_nominal_time_when_the_caller_knows_it() -> None:
    nominal = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    events = build_run_events(lineage_samples.linear_success(), nominal_time=nominal)
    facet = events[0].run.facets["nominalTime"]  # type: ignore[index]
    assert facet.nominalStartTime == "2024-05-01T06:00:00.000Z"  # type: ignore[attr-defined]
    assert "nominalTime" not in build_run_events(lineage_samples.linear_success())[0].run.facets  # type: ignore[operator]


def test_child_whose_parent_is_not_in_the_shard_names_the_parent_node_run_by_ids() -> None:
    parent = ExecutionId("flytesnacks", "development", "parentexec")
    child = dataclasses.replace(lineage_samples.linear_success(), parent_execution=parent, parent_node_id="n3")
    facet = build_shard_events([child])[0].run.facets["parent"]  # type: ignore[index]
    assert facet.run.runId == run_id("flytesnacks-development-parentexec-n3", 1)  # type: ignore[attr-defined]
    assert facet.job.name == "flytesnacks.development.n3"  # type: ignore[attr-defined]


def test_symlinks_follow_the_glue_database_override() -> None:
    execution = lineage_samples.linear_success()
    glue = glue_symlinks([execution], region="eu-west-1", account_id="111122223333", database_override="Lake")
    assert glue.namespace == "arn:aws:glue:eu-west-1:111122223333"
    assert glue.tables and {db for db, _ in glue.tables.values()} == {"lake"}
    events = [json.loads(event_json(e)) for e in build_run_events(execution, glue=glue)]
    names = {
        i["name"]
        for e in events
        for d in e.get("outputs", [])
        for i in d["facets"].get("symlinks", {}).get("identifiers", [])
    }
    assert names == {f"table/lake/{table}" for _, table in glue.tables.values()}


def test_symlinks_skip_the_tables_glue_skips_for_read_buckets() -> None:
    execution = lineage_samples.linear_success()
    everywhere = glue_symlinks([execution], region="us-east-1", account_id="123456789012")
    buckets = sorted({d.uri.split("/")[2] for d in execution.datasets if d.uri.startswith("s3://")})
    assert everywhere.tables and buckets
    same = glue_symlinks([execution], region="us-east-1", account_id="123456789012", read_buckets=buckets)
    assert same.tables == everywhere.tables
    other = glue_symlinks([execution], region="us-east-1", account_id="123456789012", read_buckets=["elsewhere"])
    assert other.tables == {}
    events = [json.loads(event_json(e)) for e in build_run_events(execution, glue=other)]
    assert not [d for e in events for d in [*e.get("inputs", []), *e.get("outputs", [])] if "symlinks" in d["facets"]]


def _wide(count: int) -> list[SchemaField]:
    return [SchemaField(f"column_{i:05d}_with_a_long_descriptive_name", "decimal128(38, 10)") for i in range(count)]


def test_fit_event_drops_the_largest_optional_facets_first_and_keeps_the_hierarchy() -> None:
    execution = lineage_samples.linear_success()
    # a CSV gets a Glue table (and symlinks) only with columns from its header: the wide CSV says so
    big = [
        dataclasses.replace(
            d, fields=tuple(_wide(3500)), schema_source="csv_header" if d.format == "csv" else d.schema_source
        )
        if d.producer_task
        else d
        for d in execution.datasets
    ]
    execution = dataclasses.replace(execution, datasets=tuple(big))
    glue = glue_symlinks([execution], region="us-east-1", account_id="123456789012")
    events = build_run_events(execution, glue=glue)
    too_big = [e for e in events if event_size(e) > 300_000]
    assert too_big, "the wide schema pushes events over the DataZone limit"
    for event in too_big:
        before = event_json(event)
        fitted, dropped = fit_event(event, 300_000)
        assert event_json(event) == before, "the input event is not changed"
        assert event_size(fitted) <= 300_000
        assert dropped and all("facet schema" in d for d in dropped), dropped
        assert set(fitted.run.facets or {}) == set(event.run.facets or {})
        assert set(fitted.job.facets or {}) == {"jobType"}
        assert any("symlinks" in (d.facets or {}) for d in [*(fitted.inputs or []), *(fitted.outputs or [])])
    small = events[0]
    assert fit_event(small, 300_000) == (small, [])


def test_fit_event_reports_an_event_it_cannot_fit() -> None:
    event = build_run_events(lineage_samples.linear_success())[0]
    fitted, dropped = fit_event(event, 100)
    assert event_size(fitted) > 100
    assert "parent" not in dropped and fitted.job.facets and "jobType" in fitted.job.facets


def _with_a_list_output(count: int) -> tuple[Execution, Dataset]:
    """The linear sample with its first produced dataset turned into a list dataset of ``count`` elements."""
    execution = lineage_samples.linear_success()
    target = next(d for d in execution.datasets if d.producer_task)
    elements = tuple((str(i), f"s3://flyte-data/data/{i:02d}/e{i}") for i in range(count))
    listed = dataclasses.replace(target, uri=elements[0][1], elements=elements)
    datasets = tuple(sorted(listed if d == target else d for d in execution.datasets))
    return dataclasses.replace(execution, datasets=datasets), listed


def test_a_list_dataset_is_one_openlineage_dataset_with_its_element_locations() -> None:
    from tests.openlineage_parsing import parse_run_event

    execution, listed = _with_a_list_output(25)
    events = [json.loads(event_json(e)) for e in build_run_events(execution)]
    found = [d for e in events for d in [*e.get("inputs", []), *e.get("outputs", [])] if d["name"] == "data/00/e0"]
    assert found and {d["namespace"] for d in found} == {"s3://flyte-data"}
    facet = found[0]["facets"]["flyteElements"]
    assert facet["count"] == 25
    assert facet["locations"] == [uri for _, uri in listed.elements[:20]]
    assert facet["indices"] == [str(i) for i in range(20)]
    assert facet["_schemaURL"].endswith("#flyteelementsdatasetfacet")
    for event in events:  # the client's own classes accept every event
        parse_run_event(event)
