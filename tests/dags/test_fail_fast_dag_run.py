"""Deterministic errors fail once under a real ``airflow dags test``: no retries, one message naming the problem.

Before, a missing Variable took three retries with backoff (over five minutes) to fail, holding the next
scheduled drain (``max_active_runs=1``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from include import airflow_services, demo

pytestmark = pytest.mark.dag


def test_missing_variable_fails_the_first_task_once(tmp_path: Path) -> None:
    stack = demo.Stack(endpoint_url="http://127.0.0.1:9", home=tmp_path)  # nothing may reach AWS
    env = demo.airflow_env(stack)
    del env["AIRFLOW_VAR_FLYTE_LINEAGE"]
    stack.airflow_home.mkdir(parents=True)
    airflow_services.airflow(env, "db", "migrate")
    proc = subprocess.run(
        [airflow_services.airflow_executable(), "dags", "test", "flyte_lineage", demo.LOGICAL_DATE],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    (tmp_path / "dags-test.log").write_text(log)
    assert "Airflow Variable 'flyte_lineage' is not set" in log
    assert "AirflowFailException" in log

    (run,) = airflow_services.dag_runs(stack.airflow_home, "flyte_lineage")
    assert run["state"] == "failed"
    rows = airflow_services.query_db(
        stack.airflow_home,
        "SELECT task_id, state, try_number FROM task_instance WHERE run_id = ? ORDER BY task_id",
        (run["run_id"],),
    )
    tries = {r["task_id"]: (r["state"], r["try_number"]) for r in rows}
    assert tries["drain_events"] == ("failed", 1)  # once: not up_for_retry, no second try
    assert tries["group_executions"][0] == "upstream_failed"
