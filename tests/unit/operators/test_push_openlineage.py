"""PushOpenLineageOperator: reads a shard from S3 (moto server), writes the events to a JSON Lines file, returns counts.

OpenLineage is not a default target: the runs here name it in their ``targets`` param. A replay of the same shard
leaves the file unchanged; when the run's targets include Glue (or with ``glue_symlinks``) the datasets link to the
Glue tables of the catalog the Amazon connection reaches (moto's STS answers account ``123456789012``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flytelineage.domain.execution_store import executions_to_jsonl_gz
from flytelineage.domain.openlineage_events import build_shard_events, event_json
from flytelineage.operators.push_openlineage import PushOpenLineageOperator
from flytelineage.testing import lineage_samples
from tests.openlineage_parsing import parse_run_event
from tests.unit.operators.argument_checks import assert_every_argument_is_templated

SHARD_KEY = "flyte-lineage/executions/ingest_date=2024-05-01/hour=06/shard-00000.jsonl.gz"
RUN: Any = {"params": {"targets": ["openlineage"]}}
"""A run that sends to OpenLineage only (the default targets are DataHub and Glue)."""
WITH_GLUE: Any = {"params": {"targets": ["openlineage", "glue"]}}


@pytest.fixture
def events_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Connections as Airflow env vars: ``openlineage_file`` (a JSON Lines file in tmp_path) and ``aws_test``."""
    path = tmp_path / "openlineage" / "events.jsonl"
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPENLINEAGE_FILE", json.dumps({"conn_type": "openlineage-file", "host": str(path)})
    )
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    return path


def operator(bucket: str, **kwargs: Any) -> PushOpenLineageOperator:
    """The operator on the test connections."""
    return PushOpenLineageOperator(
        task_id="push_openlineage",
        shard_key=kwargs.pop("shard_key", SHARD_KEY),
        bucket=bucket,
        aws_conn_id="aws_test",
        openlineage_conn_id="openlineage_file",
        **kwargs,
    )


@pytest.mark.integration
def test_pushes_a_shard_and_a_replay_changes_nothing(s3_client: Any, bucket: str, events_file: Path) -> None:
    executions = lineage_samples.all_samples()
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz(executions))
    counts = operator(bucket).execute(context=RUN)
    expected = [event_json(e) for e in build_shard_events(executions)]
    assert counts == {
        "executions": 6,
        "events": len(expected),
        "runs": len(expected) // 2,
        "shrunk": 0,
        "unchanged": 0,
    }
    lines = events_file.read_text().splitlines()
    assert lines == expected
    assert all(parse_run_event(json.loads(line)) for line in lines)

    replay_params = {"replay_start": "2024-05-01T00:00:00+00:00", "replay_end": "2024-05-01T06:00:00+00:00"}
    replay = operator(bucket).execute(context={"params": {**RUN["params"], **replay_params}})
    assert replay == {**counts, "unchanged": len(expected)}
    assert events_file.read_text().splitlines() == expected


def _symlinks(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (i["namespace"], i["name"])
        for e in events
        for d in e.get("outputs", [])
        for i in d["facets"].get("symlinks", {}).get("identifiers", [])
    }


@pytest.mark.integration
@pytest.mark.parametrize(
    ("context", "kwargs"),
    [
        (WITH_GLUE, {}),  # the Glue target runs too: link to its tables
        (RUN, {"glue_symlinks": True}),  # asked explicitly
    ],
    ids=["glue-target", "explicit"],
)
def test_glue_symlinks_name_the_catalog_of_the_connection(
    s3_client: Any, bucket: str, events_file: Path, context: Any, kwargs: dict[str, Any]
) -> None:
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz([lineage_samples.linear_success()]))
    operator(bucket, glue_database="lake", env="DEV", **kwargs).execute(context=context)
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert {e["job"]["namespace"] for e in events} == {"flyte://dev"}
    identifiers = _symlinks(events)
    assert identifiers
    assert {ns for ns, _ in identifiers} == {"arn:aws:glue:us-east-1:123456789012"}
    assert all(name.startswith("table/lake/") for _, name in identifiers)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("context", "kwargs"),
    [
        (RUN, {}),
        (WITH_GLUE, {"glue_symlinks": False}),
        # register_glue skips every table outside read_buckets, so nothing may link to one
        (WITH_GLUE, {"settings": {"read_buckets": ["elsewhere"]}}),
    ],
    ids=["no-glue-target", "explicitly-off", "outside-read-buckets"],
)
def test_no_glue_symlinks(s3_client: Any, bucket: str, events_file: Path, context: Any, kwargs: dict[str, Any]) -> None:
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz([lineage_samples.linear_success()]))
    operator(bucket, **kwargs).execute(context=context)
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert events and _symlinks(events) == set()


def test_switched_off_or_empty_shard_skips() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="openlineage target is switched off"):
        operator("bucket").execute(context={"params": {"targets": ["datahub", "glue"]}})  # type: ignore[arg-type]
    with pytest.raises(AirflowSkipException, match="openlineage target is switched off"):
        operator("bucket").execute(context={})  # type: ignore[arg-type]  # not among the default targets
    with pytest.raises(AirflowSkipException, match="openlineage target sends nothing in a dry run"):
        operator("bucket").execute(context={"params": {**RUN["params"], "dry_run": True}})  # type: ignore[arg-type]
    with pytest.raises(AirflowSkipException, match="nothing to send to OpenLineage"):
        operator("bucket", shard_key="").execute(context=RUN)


def test_events_over_the_limit_are_shrunk_and_logged(capsys: pytest.CaptureFixture[str]) -> None:
    events = build_shard_events([lineage_samples.linear_success()])
    limit = max(len(event_json(e).encode()) for e in events) - 1
    op = operator("bucket")
    fitted, shrunk = op._fit(events, limit)
    logged = capsys.readouterr().out  # Airflow's task logger writes to stdout
    over = [e for e in events if len(event_json(e).encode()) > limit]
    assert shrunk == len(over) >= 1
    assert all(len(event_json(e).encode()) <= limit for e in fitted)
    assert logged.count(f"was over {limit} bytes; dropped ") == shrunk
    assert op._fit(events, None) == (events, 0)


def test_every_constructor_argument_is_templated() -> None:
    assert_every_argument_is_templated(PushOpenLineageOperator, shard_key="k")


def test_importing_the_operator_loads_no_heavy_library() -> None:
    # boto3 comes with the Amazon provider's AwsBaseOperator under LineageOperator: the operator adds no package
    code = (
        "import sys, flytelineage.operators.lineage_operator\n"
        "base = {m.partition('.')[0] for m in sys.modules}\n"
        "import flytelineage.operators.push_openlineage\n"
        "added = {m.partition('.')[0] for m in sys.modules} - base - {'flytelineage'}\n"
        "heavy = [m for m in ('openlineage', 'datahub', 'pyarrow', 'flyteidl') if m in sys.modules]\n"
        "assert not heavy and not added, (heavy, added)\n"
    )
    root = Path(__file__).resolve().parents[3]
    env_path = f"{root / 'plugins'}:{root}"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": env_path})
