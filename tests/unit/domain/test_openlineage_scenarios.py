"""OpenLineage events for every generator scenario, from the reviewed execution goldens, against golden files.

The input is ``tests/golden/executions/<scenario>.json`` (one shard: a launch-plan child and its parent are in the
same file), so this checks only the OpenLineage translation. Beyond the goldens, the acceptance rules of issue 12 are
checked for every scenario: each START has exactly one terminal event, every run but a top-level workflow points at a
parent run of the shard, two emits give the same run ids and bytes, the events parse back with the client's classes,
and no event exceeds DataZone's 300,000 bytes. Regenerate with
``pytest tests/unit/domain/test_openlineage_scenarios.py --update-golden-files`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.serde import Serde

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.domain.lineage_model import Execution, execution_from_dict
from flytelineage.domain.openlineage_events import build_shard_events, event_json, glue_symlinks, run_id
from flytelineage.hooks.openlineage_hook import DATAZONE_MAX_EVENT_BYTES
from flytelineage.testing.flyte_event_generator import scenario_names
from tests.golden_files import check_golden
from tests.openlineage_parsing import parse_run_event

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
REGION, ACCOUNT = "us-east-1", "123456789012"
TERMINAL = {"COMPLETE", "FAIL", "ABORT"}


def _executions(scenario: str) -> list[Execution]:
    data = json.loads((GOLDEN / "executions" / f"{scenario}.json").read_text())
    return [execution_from_dict(d) for d in data]


def _events(scenario: str) -> list[dict[str, Any]]:
    executions = _executions(scenario)
    glue = glue_symlinks(executions, region=REGION, account_id=ACCOUNT)
    return [json.loads(event_json(e)) for e in build_shard_events(executions, glue=glue)]


@pytest.mark.parametrize("scenario", scenario_names())
def test_scenario_events_match_golden(scenario: str, update_golden_files: bool) -> None:
    check_golden(GOLDEN / "openlineage" / f"{scenario}.json", _events(scenario), update_golden_files)


@pytest.mark.parametrize("scenario", scenario_names())
def test_events_parse_back_with_the_client_classes(scenario: str) -> None:
    for data in _events(scenario):
        assert Serde.to_dict(parse_run_event(data)) == data


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_start_has_exactly_one_terminal_event_at_or_after_it(scenario: str) -> None:
    events = _events(scenario)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event)
    for run, pair in by_run.items():
        assert pair[0]["eventType"] == "START", run
        assert len(pair) == 2 and pair[1]["eventType"] in TERMINAL, (run, [e["eventType"] for e in pair])
        assert pair[0]["eventTime"] <= pair[1]["eventTime"]
        assert pair[0]["job"] == pair[1]["job"]
        assert pair[0].get("outputs", []) == [], "outputs only on the terminal event"
        assert pair[0]["inputs"] == pair[1]["inputs"]


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_run_points_at_a_parent_run_of_the_shard(scenario: str) -> None:
    executions = _executions(scenario)
    events = _events(scenario)
    runs = {e["run"]["runId"]: e["job"] for e in events}
    top_level = {run_id(e.id.key) for e in executions if e.parent_execution is None}
    for event in events:
        parent = event["run"]["facets"].get("parent")
        if event["run"]["runId"] in top_level:
            assert parent is None
            continue
        assert parent is not None, event["job"]["name"]
        assert parent["run"]["runId"] in runs, (event["job"]["name"], parent)
        assert parent["job"] == {"namespace": runs[parent["run"]["runId"]]["namespace"], **_name(runs, parent)}


def _name(runs: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    return {"name": runs[parent["run"]["runId"]]["name"], "facets": {}}


@pytest.mark.parametrize("scenario", scenario_names())
def test_two_emits_of_the_same_shard_are_identical(scenario: str) -> None:
    first = [event_json(e) for e in build_shard_events(_executions(scenario))]
    second = [event_json(e) for e in build_shard_events(_executions(scenario))]
    assert first == second
    assert len({json.loads(t)["run"]["runId"] for t in first}) == len(first) // 2


@pytest.mark.parametrize("scenario", scenario_names())
def test_no_event_exceeds_the_datazone_limit(scenario: str) -> None:
    sizes = [len(json.dumps(e, sort_keys=True).encode()) for e in _events(scenario)]
    assert max(sizes) <= DATAZONE_MAX_EVENT_BYTES


@pytest.mark.parametrize("scenario", scenario_names())
def test_job_names_are_the_datahub_flow_and_job_names(scenario: str) -> None:
    executions = _executions(scenario)
    datahub = {
        m.entityUrn
        for e in executions
        for m in build_mcps(e)
        if m.entityUrn.startswith(("urn:li:dataFlow:", "urn:li:dataJob:"))
    }
    flows = {u.removeprefix("urn:li:dataFlow:(flyte,").removesuffix(",prod)") for u in datahub if "dataFlow:" in u[:16]}
    jobs = {
        u.removeprefix("urn:li:dataJob:(urn:li:dataFlow:(flyte,").removesuffix(")").replace(",prod),", ".")
        for u in datahub
        if u.startswith("urn:li:dataJob:")
    }
    events = _events(scenario)
    assert {e["job"]["namespace"] for e in events} == {"flyte://prod"}
    kinds = {e["job"]["name"]: e["job"]["facets"]["jobType"] for e in events}
    assert {n for n, t in kinds.items() if t["jobType"] == "WORKFLOW" and n in flows} == flows
    task_jobs = {n for n, t in kinds.items() if t["jobType"] == "TASK" and n in jobs}
    assert task_jobs == jobs
    assert all(t["integration"] == "FLYTE" and t["processingType"] == "BATCH" for t in kinds.values())


def test_event_times_are_the_flyte_event_times() -> None:
    (execution,) = _executions("retry")
    events = _events("retry")
    workflow = [e for e in events if e["run"]["runId"] == run_id(execution.id.key)]
    assert [e["eventTime"] for e in workflow] == [
        execution.started_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),  # type: ignore[union-attr]
        execution.ended_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),  # type: ignore[union-attr]
    ]
    retried = next(n for n in execution.nodes if len(n.attempts) > 1)
    states = [
        (e["eventType"], e["run"]["facets"]["flyte"]["attempt"])
        for e in events
        if e["run"]["facets"]["flyte"].get("nodeId") == retried.node_id
    ]
    assert states == [("START", 1), ("FAIL", 1), ("START", 2), ("COMPLETE", 2)]
    failed = next(e for e in events if e["eventType"] == "FAIL")
    assert failed["run"]["facets"]["errorMessage"]["message"] == retried.attempts[0].error_message


def test_cache_hit_is_a_complete_run_marked_cached() -> None:
    (execution,) = _executions("cache_hit")
    hit = next(n for n in execution.nodes if n.is_cache_hit)
    events = [e for e in _events("cache_hit") if e["run"]["facets"]["flyte"].get("nodeId") == hit.node_id]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["run"]["facets"]["flyte"]["cached"] is True
    assert events[1]["run"]["facets"]["flyte"]["cacheStatus"] == "CACHE_HIT"
    assert events[1]["outputs"], "a cache hit still names the dataset it served"


def test_failed_and_aborted_workflows_end_with_fail_and_abort() -> None:
    for scenario, state in (("failed", "FAIL"), ("aborted", "ABORT")):
        (execution,) = _executions(scenario)
        end = [e for e in _events(scenario) if e["run"]["runId"] == run_id(execution.id.key)][-1]
        assert end["eventType"] == state
        assert end["run"]["facets"]["errorMessage"]["message"] == execution.error_message


def test_launch_plan_child_points_at_its_parent_node_run() -> None:
    parent, child = _executions("launch_plan_child")
    assert child.parent_execution == parent.id and child.parent_node_id
    events = _events("launch_plan_child")
    child_start = next(e for e in events if e["run"]["runId"] == run_id(child.id.key))
    facet = child_start["run"]["facets"]["parent"]
    assert facet["run"]["runId"] == run_id(f"{parent.id.key}-{child.parent_node_id}", 1)
    assert facet["job"]["name"] == f"flytesnacks.development.{parent.workflow_name}.{child.parent_node_id}"


def test_datasets_use_s3_naming_and_link_to_the_glue_tables() -> None:
    events = _events("linear")
    datasets = [d for e in events for d in [*e["inputs"], *e.get("outputs", [])]]
    assert datasets and all(d["namespace"].startswith("s3://") and not d["name"].startswith("/") for d in datasets)
    linked = {
        (i["namespace"], i["name"], i["type"])
        for d in datasets
        for i in d["facets"].get("symlinks", {}).get("identifiers", [])
    }
    planned = glue_symlinks(_executions("linear"), region=REGION, account_id=ACCOUNT).tables.values()
    assert planned and linked == {(f"arn:aws:glue:{REGION}:{ACCOUNT}", f"table/{db}/{t}", "TABLE") for db, t in planned}
