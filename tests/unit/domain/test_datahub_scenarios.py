"""DataHub proposals for the generator scenarios, from the reviewed execution goldens: the run-history rules.

The input is ``tests/golden/executions/<scenario>.json`` (events -> grouping -> resolution, reviewed by hand), so
this file checks only the DataHub translation; the semantic checks below pin the run-history rules of DESIGN.md §5.
The scenarios' golden files (``tests/golden/datahub/scenario_<scenario>.json``) are checked, and regenerated, by
``test_datahub_goldens.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datahub.emitter.mcp import MetadataChangeProposalWrapper

from flytelineage.domain.datahub_mcps import build_mcps, run_urn
from flytelineage.domain.lineage_model import Execution, execution_from_dict

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def _executions(scenario: str) -> list[Execution]:
    data = json.loads((GOLDEN / "executions" / f"{scenario}.json").read_text())
    return [execution_from_dict(d) for d in data]


def _mcps(scenario: str) -> list[MetadataChangeProposalWrapper]:
    return [m for e in _executions(scenario) for m in build_mcps(e, flyte_console_url="http://flyte.example")]


def _run_events(mcps: list[MetadataChangeProposalWrapper], urn: str) -> list[tuple[str, int | None, str | None]]:
    out = []
    for m in mcps:
        if m.entityUrn == urn and m.aspectName == "dataProcessInstanceRunEvent":
            obj: dict[str, Any] = m.aspect.to_obj()  # type: ignore[union-attr]
            out.append((obj["status"], obj.get("attempt"), (obj.get("result") or {}).get("type")))
    return out


def test_failed_run_shows_failure() -> None:
    (execution,) = _executions("failed")
    events = _run_events(_mcps("failed"), run_urn(execution.id.key, "prod"))
    assert events[-1][0] == "COMPLETE" and events[-1][2] == "FAILURE"


def test_retried_node_is_up_for_retry_then_success_on_the_same_instance() -> None:
    (execution,) = _executions("retry")
    retried = [n for n in execution.nodes if len(n.attempts) > 1]
    assert retried, "the retry scenario has a node with two attempts"
    urn = run_urn(f"{execution.id.key}-{retried[0].node_id}", "prod")
    assert _run_events(_mcps("retry"), urn) == [
        ("STARTED", 1, None),
        ("COMPLETE", 1, "UP_FOR_RETRY"),
        ("STARTED", 2, None),
        ("COMPLETE", 2, "SUCCESS"),
    ]


def test_cache_hit_is_success_with_cache_status() -> None:
    (execution,) = _executions("cache_hit")
    hits = [n for n in execution.nodes if n.is_cache_hit]
    assert hits
    urn = run_urn(f"{execution.id.key}-{hits[0].node_id}", "prod")
    mcps = _mcps("cache_hit")
    assert _run_events(mcps, urn)[-1][2] == "SUCCESS"
    (props,) = [m.aspect for m in mcps if m.entityUrn == urn and m.aspectName == "dataProcessInstanceProperties"]
    assert props.customProperties["cache_status"] == "CACHE_HIT"  # type: ignore[union-attr]
