"""A full ``airflow dags test flyte_lineage`` run on moto_server with the three targets, then a replay after wiping.

The run drains every generated scenario (three publisher formats, reordered, with duplicate deliveries and malformed
messages), rebuilds the executions, and the targets' contents are read back through their own APIs. Replaying the
window after wiping DataHub, Glue and the OpenLineage file (what a backfill does: no drain, everything comes from the
stored batches) must give the same state.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from include import demo
from include.local_aws import moto_server
from tests import demo_expected as expected

pytestmark = [pytest.mark.dag, pytest.mark.integration]

# Fields of a stored aspect that legitimately differ between two runs writing the same proposals:
# - systemMetadata.lastObserved: Lite stamps each write with the wall clock of the push (the proposals carry none);
#   every other systemMetadata field (runId, lastRunId, properties.sysVersion = the number of stored versions) is kept.
_LITE_VOLATILE_SYSTEM_METADATA = ("lastObserved",)
# Fields of a Glue table that legitimately differ between two registrations of the same table input: the catalog's
# own clock (CreateTime, UpdateTime) and audit fields. Everything the pipeline sends (TableInput) is kept.
_GLUE_VOLATILE = ("CreateTime", "UpdateTime", "LastAccessTime", "LastAnalyzedTime", "CreatedBy")


def _lite_dump(path: Path) -> dict[str, dict[str, dict[str, object]]]:
    """Every entity of the Lite store: each aspect's full value, system metadata and version history.

    The values are read with DataHub's Lite API (``get(..., details=True)``: the latest version of every aspect with
    its system metadata). Lite keeps a timeseries aspect (run events) as successive versions of one aspect and its
    API returns only the latest (``as_of`` cannot tell the versions of one push apart: they share one timestamp), so
    the older versions are read from Lite's own table, read-only, to compare the whole run history (every event's
    status, attempt, result and timestamp), not only its last event.
    """
    from datahub.lite.lite_util import get_datahub_lite

    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(path)}}, read_only=True)
    try:
        dump: dict[str, dict[str, dict[str, object]]] = {}
        for urn in sorted(lite.list_ids()):
            stored = lite.get(urn, aspects=None, typed=False, details=True) or {}
            aspects: dict[str, dict[str, object]] = {}
            for name, raw in sorted(stored.items()):
                if name == "urn":
                    continue
                value = dict(raw)  # type: ignore[arg-type]
                system = dict(value.pop("__systemMetadata"))
                for key in _LITE_VOLATILE_SYSTEM_METADATA:
                    system.pop(key, None)
                aspects[name] = {"value": value, "systemMetadata": system}
            dump[urn] = aspects
    finally:
        lite.close()
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT urn, aspect_name, version, metadata FROM metadata_aspect_v2 WHERE version > 0 "
            "ORDER BY urn, aspect_name, version"
        ).fetchall()
    for urn, name, version, metadata in rows:
        history = dump[urn][name].setdefault("history", [])
        assert isinstance(history, list)
        history.append((version, json.loads(metadata)))
    for urn, aspects in dump.items():
        for name, aspect in aspects.items():
            history = aspect.get("history") or []
            # the latest version mirrors version 0 (what the API returned)
            assert history and history[-1][1] == aspect["value"], (urn, name)  # type: ignore[index]
    return dump


def _glue_state(stack: demo.Stack) -> dict[str, dict[str, object]]:
    """Every table of every Glue database, whole (storage descriptor, parameters, partition keys, description...)."""
    glue = demo.boto_client(stack, "glue")
    state: dict[str, dict[str, object]] = {}
    for db in glue.get_databases()["DatabaseList"]:
        for table in glue.get_tables(DatabaseName=db["Name"])["TableList"]:
            state[f"{db['Name']}.{table['Name']}"] = {k: v for k, v in table.items() if k not in _GLUE_VOLATILE}
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
        # every malformed body is quarantined once; every other message is stored (duplicates included:
        # deduplication is the grouping's job). SQS delivers at least once: a message redelivered while a loaded
        # machine held it past its visibility timeout is stored again (seen: 2 of 462 under a parallel test load),
        # so the rows may exceed the messages, while the distinct message ids stored are exactly the messages sent
        assert summary["quarantined"] == seeded["malformed"] == expected.MALFORMED
        assert summary["event_messages_stored"] == seeded["messages"] - seeded["malformed"] == expected.EVENTS_DELIVERED
        assert summary["events_stored"] >= expected.EVENTS_DELIVERED
        # 15 scenarios, one of which (launch_plan_child) is two executions
        assert summary["executions"] == seeded["executions"] + 1 == expected.EXECUTIONS
        assert summary["execution_phases"] == {"SUCCEEDED": 14, "FAILED": 1, "ABORTED": 1}
        assert summary["datahub_entities"] == expected.DATAHUB_ENTITIES
        assert sum(len(t) for t in summary["glue_tables"].values()) == expected.GLUE_TABLES
        openlineage = summary["openlineage"]
        assert openlineage["runs_without_terminal"] == 0 and openlineage["runs"] > summary["executions"]
        assert openlineage["events"]["START"] == openlineage["runs"]
        assert sum(openlineage["events"].values()) == 2 * openlineage["runs"]
        assert openlineage == {
            "events": expected.OPENLINEAGE_EVENTS,
            "runs": expected.OPENLINEAGE_RUNS,
            "jobs": expected.OPENLINEAGE_JOBS,
            "runs_without_terminal": 0,
            "datasets_linked_to_glue": expected.OPENLINEAGE_LINKED_TO_GLUE,
        }

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
