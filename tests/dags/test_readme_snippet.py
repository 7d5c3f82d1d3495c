"""The README's reuse snippet, extracted from README.md and run as written as a DAG (``airflow dags test``).

On a seeded moto_server with the snippet's queue and bucket: the first run drains every message and, with
``settle_seconds=300``, emits nothing; the next run (the following 10-minute interval) emits the executions to
DataHub Lite, Glue and the OpenLineage file, as the README says.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from include import demo
from include.local_aws import moto_server
from tests import demo_expected as expected

pytestmark = [pytest.mark.dag, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- reuse-snippet -->"


def readme_snippet() -> str:
    """The first ```python block after the marker in README.md, unchanged."""
    text = (ROOT / "README.md").read_text()
    assert MARKER in text, "README.md marks its reuse snippet"
    match = re.search(r"```python\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert match is not None
    return match.group(1)


def _airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=900)


def _run(env: dict[str, str], logical_date: str, log: Path) -> str:
    proc = _airflow(env, "dags", "test", "flyte_lineage_custom", logical_date)
    output = proc.stdout + proc.stderr
    log.write_text(output)
    assert proc.returncode == 0 and "state=failed" not in output, output[-4000:]
    return output


def _glue_tables(stack: demo.Stack) -> int:
    glue = demo.boto_client(stack, "glue")
    return sum(len(glue.get_tables(DatabaseName=d["Name"])["TableList"]) for d in glue.get_databases()["DatabaseList"])


def _keys(stack: demo.Stack, prefix: str) -> list[str]:
    s3 = demo.boto_client(stack, "s3")
    return [o["Key"] for o in s3.list_objects_v2(Bucket="lineage", Prefix=prefix).get("Contents", [])]


def test_snippet_runs_as_written(tmp_path: Path) -> None:
    snippet = readme_snippet()
    assert 'sqs_queue="flyte-events"' in snippet and 'bucket="lineage"' in snippet and "settle_seconds=300" in snippet
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "flyte_lineage_custom.py").write_text(snippet)
    server = moto_server.start(tmp_path / "moto")
    try:
        stack = demo.Stack(endpoint_url=server.endpoint_url, home=tmp_path)
        seeded = demo.seed(stack)  # the queue flyte-events, the data bucket and the executions' objects
        demo.boto_client(stack, "s3").create_bucket(Bucket="lineage")  # the snippet's prerequisite
        env = {**demo.airflow_env(stack), "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
        env.pop("AIRFLOW_VAR_FLYTE_LINEAGE")  # the operators take their settings as arguments
        stack.airflow_home.mkdir(parents=True)
        stack.lite_path.parent.mkdir(parents=True)
        migrate = _airflow(env, "db", "migrate")
        assert migrate.returncode == 0, migrate.stderr[-2000:]

        first = _run(env, "2026-11-21T12:00:00+00:00", tmp_path / "first.log")
        sqs = demo.boto_client(stack, "sqs")
        url = sqs.get_queue_url(QueueName=demo.QUEUE)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert (
            int(attributes["Attributes"]["ApproximateNumberOfMessages"]) == 0
            and seeded["messages"] == expected.MESSAGES
        )
        assert _keys(stack, "flyte-lineage/events/"), "the first run stored the batches"
        assert _glue_tables(stack) == 0 and not stack.openlineage_path.exists(), "nothing settled in the first run"

        second = _run(env, "2026-11-21T12:10:00+00:00", tmp_path / "second.log")
        assert _keys(stack, "flyte-lineage/executions/")
        assert _glue_tables(stack) == expected.GLUE_TABLES  # every execution settled by then
        events = stack.openlineage_path.read_text().splitlines()
        assert len(events) > 2 * seeded["executions"]
        assert len(events) == sum(expected.OPENLINEAGE_EVENTS.values())
        assert stack.lite_path.exists()
        for output in (first, second):
            assert "Connection pool is full" not in output
    finally:
        moto_server.stop(tmp_path / "moto")
