"""A real ``airflow backfill create`` of flyte_lineage, executed by a scheduler, after wiping DataHub Lite and Glue.

A first run (``airflow dags test`` at 2026-11-21T12:00) drains the queue into batches stamped with its data interval
end. Then, with the API server (execution API) and a LocalExecutor scheduler running on 127.0.0.1, a backfill of
that logical date re-derives the lineage: the schedule is a ``DeltaDataIntervalTimetable`` of 10 minutes and the
first (manual) run's data interval is ``(11:50, 12:00]``; the backfill reprocesses that run, so ``group_executions``
groups the same batch from the (empty) state at or before 11:50. The interval already ran, so the backfill needs
``--reprocess-behavior completed``. The drain must be skipped and DataHub and Glue must end as they were before the
wipe.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from include import airflow_services, demo
from include.local_aws import moto_server
from tests.dags import test_flyte_lineage_dag_run as dag_run_test

pytestmark = [pytest.mark.dag, pytest.mark.integration]

DAG_ID = "flyte_lineage"
BACKFILL_TIMEOUT = 240.0


def _group_summary(airflow_home: Path, run_id: str) -> dict[str, object]:
    rows = airflow_services.query_db(
        airflow_home,
        "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'group_executions' AND key = 'summary'",
        (DAG_ID, run_id),
    )
    assert rows, f"no summary XCom of group_executions in {run_id}"
    value = json.loads(rows[0]["value"])
    return value if isinstance(value, dict) else json.loads(value)


def test_backfill_rederives_lineage_after_wiping(tmp_path: Path) -> None:
    started = time.monotonic()
    server = moto_server.start(tmp_path / "moto")
    try:
        stack = demo.Stack(endpoint_url=server.endpoint_url, home=tmp_path)
        demo.seed(stack)
        demo.run_dag(stack)
        [first] = airflow_services.dag_runs(stack.airflow_home, DAG_ID)
        first_summary = _group_summary(stack.airflow_home, first["run_id"])
        lite_before, glue_before = dag_run_test._lite_dump(stack.lite_path), dag_run_test._glue_state(stack)
        assert lite_before and glue_before
        dag_run_test._wipe(stack)
        first_run_done = time.monotonic()

        with airflow_services.airflow_services(demo.airflow_env(stack), tmp_path / "services") as services:
            # the API server boots (~20 s) while the DAG is serialized, unpaused and backfilled
            airflow_services.airflow(services.env, "dags", "reserialize")
            services.start_scheduler()
            airflow_services.airflow(services.env, "dags", "unpause", DAG_ID)
            airflow_services.airflow(
                services.env,
                "backfill",
                "create",
                "--dag-id",
                DAG_ID,
                "--from-date",
                demo.LOGICAL_DATE,
                "--to-date",
                demo.LOGICAL_DATE,
                "--reprocess-behavior",
                "completed",
            )
            services.wait_api_ready()
            backfill_id = airflow_services.latest_backfill_id(stack.airflow_home, DAG_ID)
            runs = airflow_services.wait_for_backfill(
                services, stack.airflow_home, DAG_ID, backfill_id, expected_runs=1, timeout=BACKFILL_TIMEOUT
            )
        backfill_done = time.monotonic()

        [run] = runs
        # use_job_schedule = False: unpausing created no scheduled run; the first run's interval was reprocessed
        assert [r["run_id"] for r in airflow_services.dag_runs(stack.airflow_home, DAG_ID)] == [first["run_id"]]
        states = airflow_services.task_states(stack.airflow_home, DAG_ID, run["run_id"])
        assert run["run_type"] == "backfill" and run["state"] == "success", (run, states, services.state_dir)
        assert run["data_interval_end"].startswith("2026-11-21 12:00:00")
        assert states["drain_events"] == ["skipped"]
        assert states["group_executions"] == ["success"]
        assert states["push_datahub"] and set(states["push_datahub"]) == {"success"}
        assert states["register_glue"] and set(states["register_glue"]) == {"success"}
        summary = _group_summary(stack.airflow_home, run["run_id"])
        # the same interval, batches and executions as the first run (whose XComs the backfill's clear removed)
        assert summary["interval"] == ["2026-11-21T11:50:00+00:00", "2026-11-21T12:00:00+00:00"]
        for key in ("interval", "batches", "new_events", "executions", "shards"):
            assert summary[key] == first_summary[key], key

        assert dag_run_test._lite_dump(stack.lite_path) == lite_before
        assert dag_run_test._glue_state(stack) == glue_before
        print(
            f"\nfirst run {first_run_done - started:.1f}s, backfill (services, create, run) "
            f"{backfill_done - first_run_done:.1f}s, total {time.monotonic() - started:.1f}s"
        )
    finally:
        moto_server.stop(tmp_path / "moto")
