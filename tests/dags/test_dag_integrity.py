"""DAG integrity: it parses without import errors, follows the project's defaults, and stays light at parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
before = set(sys.modules)
import runpy
module = runpy.run_path(sys.argv[1])
dag = module["dag"]
loaded = {m.split(".")[0] for m in set(sys.modules) - before}
heavy = sorted(loaded & {"pyarrow", "datahub", "flyteidl", "pandas", "openlineage"})
print(json.dumps({
    "dag_id": dag.dag_id,
    "tags": sorted(dag.tags),
    "tasks": sorted(t.task_id for t in dag.tasks),
    "retries": {t.task_id: t.retries for t in dag.tasks},
    "timeouts": {t.task_id: t.execution_timeout is not None for t in dag.tasks},
    "max_active_runs": dag.max_active_runs,
    "catchup": dag.catchup,
    "heavy_modules": heavy,
    "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
}))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return parse_dag(tmp_path_factory, "flyte_lineage.py")


@pytest.fixture(scope="module")
def parsed_retention(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return parse_dag(tmp_path_factory, "flyte_lineage_retention.py")


def parse_dag(tmp_path_factory: pytest.TempPathFactory, name: str) -> dict[str, object]:
    """What the probe reports about ``dags/<name>``, parsed in a fresh interpreter."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONPATH=os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
    )
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "dags" / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_dag_has_the_contract_task_ids_and_wiring(parsed: dict) -> None:  # type: ignore[type-arg]
    assert parsed["dag_id"] == "flyte_lineage"
    assert parsed["tasks"] == ["drain_events", "group_executions", "push_datahub", "push_openlineage", "register_glue"]
    assert parsed["upstream"] == {
        "drain_events": [],
        "group_executions": ["drain_events"],
        "push_datahub": ["group_executions"],
        "push_openlineage": ["group_executions"],
        "register_glue": ["group_executions"],
    }


def test_every_task_retries_and_has_a_timeout(parsed: dict) -> None:  # type: ignore[type-arg]
    assert all(r >= 2 for r in parsed["retries"].values()), parsed["retries"]
    assert all(parsed["timeouts"].values()), parsed["timeouts"]
    assert parsed["max_active_runs"] == 1 and parsed["catchup"] is False
    assert {"flyte", "lineage"} <= set(parsed["tags"])


def test_parsing_does_not_import_heavy_libraries(parsed: dict) -> None:  # type: ignore[type-arg]
    assert parsed["heavy_modules"] == []


def test_plugins_folder_hides_the_package_from_the_plugin_manager() -> None:
    assert "flytelineage/" in (ROOT / "plugins" / ".airflowignore").read_text().split()


def test_retention_dag_has_one_task_and_the_project_defaults(parsed_retention: dict) -> None:  # type: ignore[type-arg]
    assert parsed_retention["dag_id"] == "flyte_lineage_retention"
    assert parsed_retention["tasks"] == ["dpi_retention"]
    assert parsed_retention["upstream"] == {"dpi_retention": []}
    assert all(r >= 2 for r in parsed_retention["retries"].values()), parsed_retention["retries"]
    assert all(parsed_retention["timeouts"].values()), parsed_retention["timeouts"]
    assert parsed_retention["max_active_runs"] == 1 and parsed_retention["catchup"] is False
    assert {"flyte", "lineage", "retention"} <= set(parsed_retention["tags"])
    assert parsed_retention["heavy_modules"] == []
