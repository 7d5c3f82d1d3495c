"""Owners from the launching principal, the Flyte platform aspect and console links, on tables and goldens.

The ownership golden file is checked in ``test_datahub_goldens.py`` (the one DataHub golden set).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from datahub.metadata.schema_classes import MetadataChangeProposalClass, PlatformTypeClass

from flytelineage.domain.datahub_mcps import build_mcps, run_urn
from flytelineage.domain.datahub_ownership import owner_urn, ownership_patches
from flytelineage.domain.datahub_platform import platform_info_mcp
from flytelineage.domain.flyte_console_links import execution_url, node_url
from flytelineage.domain.lineage_model import Attempt, Execution, ExecutionId, NodeRun, TaskRef, execution_from_dict
from flytelineage.domain.lineage_settings import PLATFORM_TYPES

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
EID = ExecutionId("flytesnacks", "development", "abc123")


def golden_executions(name: str) -> list[Execution]:
    return [execution_from_dict(d) for d in json.loads((GOLDEN / "executions" / f"{name}.json").read_text())]


@pytest.mark.parametrize(
    ("principal", "services", "expected"),
    [
        ("jane@example.com", ["flytepropeller"], "urn:li:corpuser:jane@example.com"),
        ("00u1abcd", [], "urn:li:corpuser:00u1abcd"),
        ("flytepropeller", ["flytepropeller"], None),
        ("ci-bot", ["flytepropeller", "ci-bot"], None),
        ("", ["flytepropeller"], None),
        (None, [], None),
        ("  ", [], None),
    ],
)
def test_owner_rule(principal: str | None, services: list[str], expected: str | None) -> None:
    assert owner_urn(principal, services) == expected


def patch_ops(patch: MetadataChangeProposalClass) -> list[dict[str, Any]]:
    parsed = MetadataChangeProposalClass.from_obj(patch.to_obj())
    assert parsed.validate() and parsed.changeType == "PATCH" and parsed.aspectName == "ownership"
    return list(json.loads(parsed.aspect.value)["patch"])  # type: ignore[union-attr]


def test_user_owns_the_flow_and_every_job_by_add_operations_only() -> None:
    (execution,) = golden_executions("linear_cloudevents_v2")
    mcps = build_mcps(execution)
    patches = ownership_patches(execution, mcps, ["flytepropeller"])
    owned = {m.entityUrn for m in mcps if m.aspectName in ("dataFlowInfo", "dataJobInfo")}
    assert {p.entityUrn for p in patches} == owned and len(patches) == len(owned) == 4
    for patch in patches:
        (op,) = patch_ops(patch)
        assert op["op"] == "add"
        assert op["path"] == "/owners/urn:li:corpuser:flyte-user/TECHNICAL_OWNER//"
        assert op["value"] == {"owner": "urn:li:corpuser:flyte-user", "type": "TECHNICAL_OWNER"}


def test_service_principal_child_and_formats_without_principal_add_no_owner() -> None:
    parent, child = sorted(
        golden_executions("launch_plan_child_cloudevents_v2"), key=lambda e: bool(e.parent_execution)
    )
    assert child.principal == "flytepropeller"
    assert ownership_patches(child, build_mcps(child), ["flytepropeller"]) == []
    patches = ownership_patches(parent, build_mcps(parent), ["flytepropeller"])
    # one owner patch for the parent's flow and one per job (the golden parent runs two tasks)
    assert [p.entityType for p in patches] == ["dataFlow", "dataJob", "dataJob"] and len(parent.jobs) == 2
    (linear,) = golden_executions("linear")
    assert ownership_patches(linear, build_mcps(linear), []) == []


def test_workflow_run_carries_principal_and_labels() -> None:
    (execution,) = golden_executions("linear_cloudevents_v2")
    execution = dataclasses.replace(execution, labels=(("cost-center", "42"), ("team", "data-platform")))
    (props,) = [
        m.aspect
        for m in build_mcps(execution)
        if m.aspectName == "dataProcessInstanceProperties" and m.entityUrn == run_urn(execution.id.key, "prod")
    ]
    custom = props.customProperties  # type: ignore[union-attr]
    assert custom["principal"] == "flyte-user"
    assert (custom["label.team"], custom["label.cost-center"]) == ("data-platform", "42")


def test_platform_info_defaults_and_overrides() -> None:
    default = platform_info_mcp()
    assert default.entityUrn == "urn:li:dataPlatform:flyte" and default.validate()
    assert default.aspect.to_obj() == {  # type: ignore[union-attr]
        "name": "flyte",
        "displayName": "Flyte",
        "type": "OTHERS",
        "datasetNameDelimiter": ".",
    }
    custom = platform_info_mcp(display_name="Flyte (prod)", platform_type="QUERY_ENGINE", delimiter="/", logo_url="x")
    assert custom.aspect.to_obj()["logoUrl"] == "x" and custom.aspect.to_obj()["type"] == "QUERY_ENGINE"  # type: ignore[union-attr]


def test_settings_platform_types_are_datahubs() -> None:
    known = {v for k, v in vars(PlatformTypeClass).items() if k.isupper()}
    assert set(PLATFORM_TYPES) == known


TASK = TaskRef("flytesnacks", "development", "app.wf.extract", "v1")


@pytest.mark.parametrize(
    ("node", "suffix"),
    [
        (
            NodeRun("n0", "task", "SUCCEEDED", "SUCCESS", task=TASK, attempts=(Attempt(1, "SUCCEEDED", "SUCCESS"),)),
            "/nodeId/n0/taskId/app.wf.extract/attempt/0/view/resources",
        ),
        (
            NodeRun(
                "n1-0-n0",
                "task",
                "SUCCEEDED",
                "SUCCESS",
                task=TASK,
                attempts=(Attempt(1, "FAILED", "UP_FOR_RETRY"), Attempt(2, "SUCCEEDED", "SUCCESS")),
            ),
            "/nodeId/n1-0-n0/taskId/app.wf.extract/attempt/1/view/resources",
        ),
        (NodeRun("n2", "task", "SUCCEEDED", "SUCCESS", task=TASK, cache_status="CACHE_HIT"), ""),
        (NodeRun("n3", "subworkflow", "SUCCEEDED", "SUCCESS"), ""),
    ],
)
def test_node_links(node: NodeRun, suffix: str) -> None:
    page = "https://flyte.example.com/console/projects/flytesnacks/domains/development/executions/abc123"
    assert execution_url("https://flyte.example.com/", EID) == page
    assert node_url("https://flyte.example.com", EID, node) == page + suffix
