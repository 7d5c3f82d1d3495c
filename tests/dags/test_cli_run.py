"""``flytelineage run``: one pass of the DAG in-process through ``dag.test()``, on a seeded moto_server.

The installed script runs as a cron job would: a throw-away Airflow home (``--init-db``), connections from the
environment, the Variable from the environment overridden by a command-line option. The run's whole log is checked
for urllib3's "Connection pool is full" warning (the bulk reader's pool is sized to its read concurrency).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include import demo
from include.local_aws import moto_server
from tests import demo_expected as expected
from tests.unit.cli.cli_runner import run_main, run_script

pytestmark = [pytest.mark.dag, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def test_one_pass_drains_groups_and_registers(tmp_path: Path) -> None:
    server = moto_server.start(tmp_path / "moto")
    try:
        stack = demo.Stack(endpoint_url=server.endpoint_url, home=tmp_path)
        seeded = demo.seed(stack)
        env = demo.airflow_env(stack, targets=["datahub", "glue", "openlineage"])
        stack.airflow_home.mkdir(parents=True)
        result = run_script(
            "run",
            "--init-db",
            f"--dag-file={ROOT / 'dags' / 'flyte_lineage.py'}",
            f"--logical-date={demo.LOGICAL_DATE}",
            "--FlyteLineage.targets=glue",
            "--FlyteLineage.targets=openlineage",
            cwd=tmp_path,
            env=env,
        )
        (tmp_path / "run.log").write_text(result.out + result.err)
        assert result.code == 0, (result.out + result.err)[-4000:]
        states = dict(line.split(": ", 1) for line in result.out.splitlines())
        run_line = [k for k in states if k.startswith("run ")]
        assert len(run_line) == 1 and states[run_line[0]] == "success"
        assert states["drain_events"] == "success" and states["group_executions"] == "success"
        assert any(k.startswith("register_glue") and v == "success" for k, v in states.items())
        assert any(k.startswith("push_openlineage") and v == "success" for k, v in states.items())
        # the command line overrides the Variable: the datahub target is skipped, nothing written to Lite
        assert all(v == "skipped" for k, v in states.items() if k.startswith("push_datahub"))
        assert not stack.lite_path.exists()

        glue = demo.boto_client(stack, "glue")
        tables = [
            t
            for db in glue.get_databases()["DatabaseList"]
            for t in glue.get_tables(DatabaseName=db["Name"])["TableList"]
        ]
        assert len(tables) == expected.GLUE_TABLES  # the demo's input, see tests/demo_expected.py
        sqs = demo.boto_client(stack, "sqs")
        url = sqs.get_queue_url(QueueName=demo.QUEUE)["QueueUrl"]
        left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        assert int(left["ApproximateNumberOfMessages"]) == 0 and seeded["messages"] == expected.MESSAGES
        events = stack.openlineage_path.read_text().splitlines()
        assert events and all(json.loads(line)["eventType"] for line in events)
        assert len(events) == sum(expected.OPENLINEAGE_EVENTS.values())  # a START and a terminal event per run
        assert "Connection pool is full" not in result.out + result.err
    finally:
        moto_server.stop(tmp_path / "moto")


def test_bad_inputs_fail_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIRFLOW_VAR_FLYTE_LINEAGE", json.dumps({"sqs_queue": "q", "bucket": "b"}))
    result = run_main(capsys, monkeypatch, "run", '--conf={"replay_start": "yesterday"}')
    assert result.code == 1
    assert "replay_start is set but replay_end is not" in result.err
    assert "replay_start must be an ISO 8601 date-time" in result.err
    result = run_main(capsys, monkeypatch, "run", "--conf=[1]")
    assert result.code == 1 and "--conf must be a JSON object" in result.err
    result = run_main(capsys, monkeypatch, "run", "--FlyteLineage.receivers=99")
    assert result.code == 1 and "receivers must be an integer from 1 to 32" in result.err
    result = run_main(capsys, monkeypatch, "run", "--logical-date=2026-11-21T12:00:00")
    assert result.code == 1 and "--logical-date needs a time zone offset" in result.err
