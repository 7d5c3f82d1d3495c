"""Every DataHub golden file, in one set (``tests/golden/datahub/``) with one regeneration path.

The cases, each one file ``tests/golden/datahub/<case>.json``:

- ``sample_<name>``: the proposals of a hand-built sample of ``tests/lineage_samples.py`` (one semantic case each),
  and ``sample_linear_success_datasets_only`` (the ``datasets_only`` mode);
- ``scenario_<name>``: the proposals of every Flyte event generator scenario, built from the reviewed execution
  goldens ``tests/golden/executions/<name>.json`` (events -> grouping -> resolution), so only the DataHub translation
  is checked here;
- ``ownership_launch_plan_child_v2``: the ownership patches of a launch-plan parent and child (cloudevents v2).

Regenerate every one with ``pytest tests/unit/domain/test_datahub_goldens.py --update-golden-files`` and review the
diff like code. The semantic checks live next to the code they pin (``test_datahub_mcps.py``,
``test_datahub_scenarios.py``, ``test_datahub_ownership.py``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import MetadataChangeProposalClass

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.domain.datahub_ownership import ownership_patches
from flytelineage.domain.lineage_model import Execution, execution_from_dict
from flytelineage.testing import lineage_samples
from flytelineage.testing.flyte_event_generator import scenario_names
from flytelineage.testing.lineage_samples import SAMPLES
from tests.golden_files import check_golden

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
GOLDEN_DIR = GOLDEN / "datahub"
SAMPLE_CONSOLE = "https://flyte.example.com"
SCENARIO_CONSOLE = "http://flyte.example"


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


def serialize(mcps: list[MetadataChangeProposalWrapper]) -> list[dict[str, Any]]:
    """The SDK's file-sink serialization of each proposal (aspect as JSON, not a nested string)."""
    return [mcp.to_obj(simplified_structure=True) for mcp in mcps]


def golden_executions(name: str) -> list[Execution]:
    """The executions of a reviewed execution golden."""
    return [execution_from_dict(d) for d in json.loads((GOLDEN / "executions" / f"{name}.json").read_text())]


def _sample(name: str) -> Callable[[], Any]:
    return lambda: serialize(build_mcps(SAMPLES[name](), env="PROD", flyte_console_url=SAMPLE_CONSOLE))


def _datasets_only() -> Any:
    return serialize(build_mcps(lineage_samples.linear_success(), datasets_only=True))


def _scenario(name: str) -> Callable[[], Any]:
    def build() -> Any:
        mcps = [m for e in golden_executions(name) for m in build_mcps(e, flyte_console_url=SCENARIO_CONSOLE)]
        assert all(m.validate() for m in mcps)
        return serialize(mcps)

    return build


def _ownership() -> Any:
    executions = golden_executions("launch_plan_child_cloudevents_v2")
    return [p.to_obj() for e in executions for p in ownership_patches(e, build_mcps(e), ["flytepropeller"])]


CASES: dict[str, Callable[[], Any]] = {
    **{f"sample_{name}": _sample(name) for name in sorted(SAMPLES)},
    "sample_linear_success_datasets_only": _datasets_only,
    **{f"scenario_{name}": _scenario(name) for name in scenario_names()},
    "ownership_launch_plan_child_v2": _ownership,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_golden_file(case: str, update_golden_files: bool) -> None:
    check_golden(GOLDEN_DIR / f"{case}.json", CASES[case](), update_golden_files)


def test_every_golden_file_is_a_case() -> None:
    """No golden file without its case (a stale one would never be checked) and none in another directory."""
    assert sorted(p.stem for p in GOLDEN_DIR.glob("*.json")) == sorted(CASES)
    assert [p for p in GOLDEN_DIR.rglob("*") if p.is_dir()] == []


def test_golden_proposals_parse_back_into_datahub_classes() -> None:
    paths = sorted(GOLDEN_DIR.glob("*.json"))
    assert len(paths) == len(CASES)
    for path in paths:
        for obj in json.loads(path.read_text()):
            if obj.get("changeType") == "PATCH":  # JSON-patch proposals: DataHub's MCP class, a JSON Patch body
                patch = MetadataChangeProposalClass.from_obj(obj)
                assert patch.aspect is not None and patch.aspect.contentType == "application/json-patch+json"
                body = json.loads(patch.aspect.value)  # the SDK's form: {"patch": [...], "arrayPrimaryKeys": ...}
                operations = body["patch"] if isinstance(body, dict) else body
                assert operations and all(op["op"] in ("add", "remove") for op in operations), path.name
                continue
            parsed = MetadataChangeProposalWrapper.from_obj(obj)
            assert isinstance(parsed, MetadataChangeProposalWrapper), path.name
            assert parsed.aspect is not None and parsed.aspect.validate(), (path.name, obj["aspectName"])
