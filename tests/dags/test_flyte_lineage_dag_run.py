"""A full ``airflow dags test flyte_lineage`` run on moto_server with the three targets, then a replay after wiping.

The run drains every generated scenario (three publisher formats, reordered, with duplicate deliveries and malformed
messages), rebuilds the executions, and the targets' contents are read back through their own APIs. Replaying the
window after wiping DataHub, Glue and the OpenLineage file (what a backfill does: no drain, everything comes from the
stored batches) must give the same state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from include import demo
from include.local_aws import moto_server

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def _lite_dump(path: Path) -> dict[str, list[str]]:
    from datahub.lite.lite_util import get_datahub_lite

    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(path)}}, read_only=True)
    try:
        dump: dict[str, list[str]] = {}
        for urn in sorted(lite.list_ids()):
            aspects = lite.get(urn, aspects=None, typed=False) or {}
            dump[urn] = sorted(aspects)
        return dump
    finally:
        lite.close()


def _glue_state(stack: demo.Stack) -> dict[str, dict[str, object]]:
    glue = demo.boto_client(stack, "glue")
    state: dict[str, dict[str, object]] = {}
    for db in glue.get_databases()["DatabaseList"]:
        for table in glue.get_tables(DatabaseName=db["Name"])["TableList"]:
            sd = table["StorageDescriptor"]
            state[f"{db['Name']}.{table['Name']}"] = {"location": sd["Location"], "columns": sd.get("Columns", [])}
    return state


def _wipe(stack: demo.Stack) -> None:
    glue = demo.boto_client(stack, "glue")
    for db in glue.get_databases()["DatabaseList"]:
        glue.delete_database(Name=db["Name"])
    stack.lite_path.unlink()
    stack.openlineage_path.unlink()


def test_full_run_then_replay_after_wiping(tmp_path: Path) -> None:
    server = moto_server.start(tmp_path / "moto")
    try:
        stack = demo.Stack(endpoint_url=server.endpoint_url, home=tmp_path)
        seeded = demo.seed(stack)
        demo.run_dag(stack)
        summary = demo.summarize(stack)

        assert summary["queue_left"] == 0
        assert summary["quarantined"] >= seeded["malformed"]
        assert summary["events_stored"] + summary["quarantined"] >= seeded["messages"]
        # 14 scenarios, one of which (launch_plan_child) is two executions
        assert summary["executions"] == seeded["executions"] + 1
        assert summary["execution_phases"] == {"SUCCEEDED": 13, "FAILED": 1, "ABORTED": 1}
        entities = summary["datahub_entities"]
        assert entities["dataFlow"] >= 5 and entities["dataJob"] >= 10 and entities["dataset"] >= 10
        assert entities["dataProcessInstance"] >= summary["executions"]
        assert sum(len(t) for t in summary["glue_tables"].values()) >= 10
        openlineage = summary["openlineage"]
        assert openlineage["runs_without_terminal"] == 0 and openlineage["runs"] > summary["executions"]
        assert openlineage["events"]["START"] == openlineage["runs"]
        assert sum(openlineage["events"].values()) == 2 * openlineage["runs"]
        assert openlineage["events"]["FAIL"] >= 1 and openlineage["events"]["ABORT"] >= 1
        assert openlineage["datasets_linked_to_glue"] >= 10

        lite_before, glue_before = _lite_dump(stack.lite_path), _glue_state(stack)
        openlineage_before = sorted(stack.openlineage_path.read_text().splitlines())
        linear_flows = [u for u in lite_before if u.startswith("urn:li:dataFlow:(flyte,flytesnacks.development.")]
        assert linear_flows, "flows follow the naming contract urn:li:dataFlow:(flyte,P.D.W,cluster)"
        assert any(
            u.startswith("urn:li:dataset:(urn:li:dataPlatform:s3,flyte-data/landing/orders") for u in lite_before
        )

        _wipe(stack)
        # A replay over a window holding the first run's batches: no drain, everything comes from stored batches.
        replay = {"replay_start": "2026-11-21T00:00:00+00:00", "replay_end": "2026-11-21T13:00:00+00:00"}
        proc = demo.run_dag(stack, logical_date="2026-11-21T12:30:00+00:00", conf=replay)
        assert "Drain switched off for this run" in proc.stdout + proc.stderr
        assert _lite_dump(stack.lite_path) == lite_before
        assert _glue_state(stack) == glue_before
        assert sorted(stack.openlineage_path.read_text().splitlines()) == openlineage_before
    finally:
        moto_server.stop(tmp_path / "moto")
