"""``airflow dags test flyte_lineage_retention`` on moto_server, over run history pushed into DataHub Lite.

Shards in the ``executions/`` format are written to the emulator's S3 (two intervals of 2026-11-21) and pushed into
the stack's DataHub Lite with ``PushDataHubOperator``; the retention DAG then runs on 2026-11-23 with
``dpi_retention_days`` 1 (cutoff 2026-11-22T03:30Z) through the real Variable (read by the operator) and
connections. Read back from Lite: every DataProcessInstance the shards name has ``status.removed`` true, nothing else
changed. A second run the next day removes nothing more. (The key format of the shards ``group_executions`` writes
is checked against the retention's parser in ``tests/unit/operators/test_datahub_retention.py``.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from include import demo
from include.local_aws import moto_server

pytestmark = [pytest.mark.dag, pytest.mark.integration]

RETENTION = {"dpi_retention_days": 1, "dpi_retention_max_per_run": 100_000}


def _lite_state(path: Path) -> dict[tuple[str, str], Any]:
    from datahub.lite.lite_util import get_datahub_lite

    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(path)}}, read_only=True)
    try:
        return {
            (urn, name): value
            for urn in lite.list_ids()
            for name, value in (lite.get(urn, aspects=None, typed=False) or {}).items()
        }
    finally:
        lite.close()


def _run_retention(stack: demo.Stack, logical_date: str) -> dict[str, Any]:
    """One ``airflow dags test`` of the retention DAG; the counts it logged."""
    env = demo.airflow_env(stack, **RETENTION)
    airflow = str(Path(sys.executable).with_name("airflow"))
    command = [airflow, "dags", "test", "flyte_lineage_retention", logical_date]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    (stack.home / f"retention-{logical_date[:10]}.log").write_text(output)
    assert proc.returncode == 0 and "state=failed" not in output, output[-6000:]
    found = re.search(r"Run-history retention \(runs ended before [^)]*\): (\{.*?\})", output)
    assert found, output[-6000:]
    return json.loads(found.group(1).replace("'", '"'))  # type: ignore[no-any-return]


SHARDS = {
    "flyte-lineage/executions/interval=20261121T115000Z_20261121T120000Z/shard-00000.jsonl.gz": slice(0, 3),
    "flyte-lineage/executions/interval=20261121T120000Z_20261121T121000Z/shard-00000.jsonl.gz": slice(3, 6),
}


def _push_history(stack: demo.Stack) -> set[str]:
    """Write and push the shards; the urns of the instances they hold."""
    from flytelineage.domain.dpi_retention import shard_instance_urns
    from flytelineage.domain.execution_store import executions_to_jsonl_gz
    from flytelineage.operators.push_datahub import PushDataHubOperator
    from flytelineage.testing.lineage_samples import many_executions

    s3 = demo.boto_client(stack, "s3")
    s3.create_bucket(Bucket=demo.LINEAGE_BUCKET)
    executions = many_executions(6)
    urns: set[str] = set()
    env = demo.airflow_env(stack)
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "AIRFLOW_CONN_AWS_DEFAULT",
            "AIRFLOW_CONN_DATAHUB_DEFAULT",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ):
            patch.setenv(name, env[name])
        for key, part in SHARDS.items():
            s3.put_object(Bucket=demo.LINEAGE_BUCKET, Key=key, Body=executions_to_jsonl_gz(executions[part]))
            PushDataHubOperator(task_id="push_datahub", shard_key=key, bucket=demo.LINEAGE_BUCKET).execute({})  # type: ignore[arg-type]
            urns.update(shard_instance_urns(executions[part], "PROD"))
    return urns


@pytest.mark.timeout(1200)  # two Airflow subprocess runs plus a db migrate; minutes on a loaded 2-core machine
def test_retention_dag_expires_the_pushed_run_history(tmp_path: Path) -> None:
    server = moto_server.start(tmp_path / "moto")
    try:
        stack = demo.Stack(endpoint_url=server.endpoint_url, home=tmp_path)
        stack.airflow_home.mkdir(parents=True)
        expired = _push_history(stack)
        before = _lite_state(stack.lite_path)
        assert expired == {urn for urn, _ in before if urn.startswith("urn:li:dataProcessInstance:")}
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], env=demo.airflow_env(stack), check=True, capture_output=True)

        counts = _run_retention(stack, "2026-11-23T03:30:00+00:00")
        assert counts["instances_soft_deleted"] == len(expired)
        assert counts["shards_due"] == counts["shards_completed"] == counts["shards_listed"] == len(SHARDS)
        after = _lite_state(stack.lite_path)
        assert {urn for (urn, name), v in after.items() if name == "status" and v == {"removed": True}} == expired
        assert {key for key in after if before.get(key) != after[key]} == {(urn, "status") for urn in expired}

        again = _run_retention(stack, "2026-11-24T03:30:00+00:00")
        assert (again["instances_soft_deleted"], again["shards_due"]) == (0, 0)
        assert _lite_state(stack.lite_path) == after
    finally:
        moto_server.stop(tmp_path / "moto")
