"""PushDataHubOperator: reads a shard from S3 (moto server), emits to DataHub Lite, returns counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.domain.datahub_ownership import ownership_patches
from flytelineage.domain.datahub_platform import platform_info_mcp
from flytelineage.domain.datahub_push import prepare_push
from flytelineage.domain.execution_store import executions_to_jsonl_gz
from flytelineage.operators.push_datahub import PushDataHubOperator
from flytelineage.testing import lineage_samples
from tests.unit.operators.argument_checks import assert_every_argument_is_templated

SHARD_KEY = "flyte-lineage/executions/ingest_date=2024-05-01/hour=06/shard-00000.jsonl.gz"


@pytest.fixture
def lite_conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Connections as Airflow env vars: ``datahub_lite`` (a Lite file in tmp_path) and ``aws_test``."""
    path = tmp_path / "datahub" / "lite.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_LITE", json.dumps({"conn_type": "datahub-lite", "host": str(path)}))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    return path


def operator(bucket: str, **kwargs: Any) -> PushDataHubOperator:
    """The operator on the test connections."""
    return PushDataHubOperator(
        task_id="push_datahub",
        shard_key=kwargs.pop("shard_key", SHARD_KEY),
        bucket=bucket,
        aws_conn_id="aws_test",
        datahub_conn_id="datahub_lite",
        **kwargs,
    )


def read_lite(path: Path) -> dict[str, Any]:
    """Every entity of the Lite file, read with DataHub's Lite API."""
    from datahub.lite.lite_util import get_datahub_lite

    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(path), "read_only": True}}, read_only=True)
    try:
        return {urn: aspects for entity in lite.get_all_entities() for urn, aspects in entity.items()}
    finally:
        lite.close()


@pytest.mark.integration
def test_pushes_a_shard_from_s3_into_datahub_lite(s3_client: Any, bucket: str, lite_conn: Path) -> None:
    executions = lineage_samples.all_samples()
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz(executions))
    counts = operator(bucket, flyte_console_url="https://flyte.example.com").execute(context={})  # type: ignore[arg-type]
    mcps = [platform_info_mcp()]
    mcps += [m for e in executions for m in build_mcps(e, flyte_console_url="https://flyte.example.com")]
    mcps += [m for e in executions for m in ownership_patches(e, build_mcps(e), ["flytepropeller"])]
    sent = prepare_push(mcps).proposals
    assert counts == {
        "executions": 6,
        "mcps": len(sent),
        "entities": len({m.entityUrn for m in mcps}),
        "built": len(mcps),
        "duplicates": len(mcps) - len(sent),
        "unchanged": 0,
    }
    assert len(sent) < len(mcps)  # the samples share datasets, flows and jobs: their repeats are not sent
    stored = read_lite(lite_conn)
    assert set(stored) == {m.entityUrn for m in mcps}
    flow = "urn:li:dataFlow:(flyte,flytesnacks.development.etl.orders.daily_orders,prod)"
    assert stored[flow]["dataFlowInfo"]["name"] == "etl.orders.daily_orders"
    assert stored["urn:li:dataPlatform:flyte"]["dataPlatformInfo"] == {
        "name": "flyte",
        "displayName": "Flyte",
        "type": "OTHERS",
        "datasetNameDelimiter": ".",
    }


@pytest.mark.integration
@pytest.mark.parametrize(
    "how",
    [
        {"datasets_only": True, "env": "DEV"},  # explicit arguments
        {"settings": {"bucket": "unused", "datasets_only": True, "env": "DEV"}},  # a settings document under them
    ],
    ids=["arguments", "settings"],
)
def test_datasets_only_and_env(s3_client: Any, bucket: str, lite_conn: Path, how: dict[str, Any]) -> None:
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz([lineage_samples.failed()]))
    counts = operator(bucket, **how).execute(context={})  # type: ignore[arg-type]
    stored = read_lite(lite_conn)
    assert counts["executions"] == 1 and counts["entities"] == len(stored) == 2
    assert all(urn.startswith("urn:li:dataset:") and urn.endswith(",DEV)") for urn in stored)


@pytest.mark.integration
def test_missing_shard_fails_once(s3_client: Any, bucket: str, lite_conn: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"Could not read executions shard s3://.*missing\.jsonl\.gz"):
        operator(bucket, shard_key="flyte-lineage/executions/missing.jsonl.gz").execute(context={})  # type: ignore[arg-type]


def shard(s3_client: Any, bucket: str, key: str, executions: list[Any]) -> str:
    s3_client.put_object(Bucket=bucket, Key=key, Body=executions_to_jsonl_gz(executions))
    return key


def built_with_patches(executions: list[Any]) -> list[Any]:
    """Every proposal the operator builds for ``executions`` (platform info, per execution: built, then owners)."""
    mcps: list[Any] = [platform_info_mcp()]
    for execution in executions:
        built = build_mcps(execution)
        mcps += [*built, *ownership_patches(execution, built, ["flytepropeller"])]
    return mcps


def static_contents(proposals: list[Any]) -> dict[tuple[str, str], str]:
    """What a digest covers, computed without the digest code: the last content of each static (urn, aspect).

    Static: neither a run instance's aspect nor a timeseries aspect (those are always sent); a PATCH counts by its
    JSON patch, under its own key.
    """
    contents: dict[tuple[str, str], str] = {}
    for p in proposals:
        if str(p.changeType) == "PATCH":
            contents[(p.entityUrn, f"{p.aspectName}#PATCH")] = p.aspect.value.decode()
        elif p.entityType != "dataProcessInstance" and p.aspect.ASPECT_TYPE != "timeseries":
            contents[(p.entityUrn, p.aspectName)] = json.dumps(p.aspect.to_obj(), sort_keys=True)
    return contents


@pytest.mark.integration
def test_skipping_unchanged_aspects_leaves_lite_in_the_same_state(
    s3_client: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    first = shard(s3_client, bucket, "x/shard-a.jsonl.gz", lineage_samples.all_samples())
    # the same workflows again in other runs: flow/job info and per-run dataset properties change
    second = shard(s3_client, bucket, "x/shard-b.jsonl.gz", lineage_samples.many_executions(9))
    counts: dict[str, list[dict[str, int]]] = {}
    for name, ttl in (("skipping", 24), ("sending_all", 0)):
        path = tmp_path / name / "lite.db"
        monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}", json.dumps({"conn_type": "datahub-lite", "host": str(path)}))
        counts[name] = [
            PushDataHubOperator(
                task_id="push_datahub",
                shard_key=key,
                bucket=bucket,
                aws_conn_id="aws_test",
                datahub_conn_id=name,
                digest_ttl_hours=ttl,
            ).execute(context={})  # type: ignore[arg-type]
            for key in (first, second, first, first)
        ]
    assert read_lite(tmp_path / "skipping" / "lite.db") == read_lite(tmp_path / "sending_all" / "lite.db")
    skipped = [c["unchanged"] for c in counts["skipping"]]
    assert skipped[0] == 0 and skipped[2] > 0 and all(c["unchanged"] == 0 for c in counts["sending_all"])
    # exactly the static aspects whose content equals what the previous runs last sent for them
    a = static_contents(built_with_patches(lineage_samples.all_samples()))
    b = static_contents(built_with_patches(lineage_samples.many_executions(9)))
    after_b = {**a, **b}  # what was last sent for each key before the third run
    expected_skipped = [
        0,
        sum(a.get(k) == v for k, v in b.items()),
        sum(after_b[k] == v for k, v in a.items()),
        len(a),
    ]
    assert skipped == expected_skipped, (skipped, expected_skipped)
    # the steady-state re-run (the same shard twice in a row) sends the per-run proposals only
    per_run = [p for p in prepare_push(built_with_patches(lineage_samples.all_samples())).proposals]
    per_run = [p for p in per_run if p.entityType == "dataProcessInstance"]
    assert counts["skipping"][3]["mcps"] == len(per_run)
    assert counts["sending_all"][3]["mcps"] == counts["sending_all"][0]["mcps"] > len(per_run)


@pytest.mark.integration
def test_replays_and_expired_digests_send_everything(
    s3_client: Any, bucket: str, lite_conn: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flytelineage.domain import storage_keys
    from flytelineage.domain.datahub_push import digests_from_bytes
    from flytelineage.operators import push_datahub

    shard(s3_client, bucket, SHARD_KEY, lineage_samples.all_samples())
    everything = operator(bucket).execute(context={})  # type: ignore[arg-type]
    again = operator(bucket).execute(context={})  # type: ignore[arg-type]
    # the same shard again: every static aspect (and owner patch) is unchanged, only the run instances are sent
    assert again["unchanged"] == len(static_contents(built_with_patches(lineage_samples.all_samples()))) > 0
    replay_params = {"replay_start": "2024-05-01T00:00:00+00:00", "replay_end": "2024-05-01T06:00:00+00:00"}
    replay = operator(bucket).execute(context={"params": replay_params})  # type: ignore[arg-type]
    assert replay["mcps"] == everything["mcps"] and replay["unchanged"] == 0
    backfill = operator(bucket).execute(context={"dag_run": SimpleNamespace(run_type="backfill")})  # type: ignore[arg-type]
    assert backfill["mcps"] == everything["mcps"] and backfill["unchanged"] == 0
    state_key = storage_keys.datahub_digests_key("flyte-lineage", "datahub_lite")
    stored = digests_from_bytes(s3_client.get_object(Bucket=bucket, Key=state_key)["Body"].read())
    last_sent = max(sent for _, sent in stored.values())
    monkeypatch.setattr(push_datahub.time, "time", lambda: last_sent + 24 * 3600 + 1)
    expired = operator(bucket).execute(context={})  # type: ignore[arg-type]
    assert expired["mcps"] == everything["mcps"] and expired["unchanged"] == 0


@pytest.mark.integration
def test_digest_state_written_meanwhile_by_another_task_is_merged(
    s3_client: Any, bucket: str, lite_conn: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flytelineage.domain import storage_keys
    from flytelineage.domain.datahub_push import digests_from_bytes, digests_to_bytes
    from flytelineage.operators.push_datahub import _DigestState

    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    key = storage_keys.datahub_digests_key("flyte-lineage", "datahub_lite")
    task = operator(bucket)
    settings = task.lineage_settings()
    state = _DigestState(task, settings, task.run_mode({}, settings))  # type: ignore[arg-type]
    assert state.trusted() == {}
    other = {"urn:li:dataFlow:(flyte,p.d.other,prod)\tstatus": ("d-other", state.now)}
    s3_client.put_object(Bucket=bucket, Key=key, Body=digests_to_bytes(other))  # a parallel mapped task, first
    state.record({"urn:li:dataFlow:(flyte,p.d.mine,prod)\tstatus": "d-mine"})
    stored = digests_from_bytes(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert {k: v[0] for k, v in stored.items()} == {
        "urn:li:dataFlow:(flyte,p.d.other,prod)\tstatus": "d-other",
        "urn:li:dataFlow:(flyte,p.d.mine,prod)\tstatus": "d-mine",
    }


def test_empty_shard_key_skips() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="nothing to push to DataHub"):
        operator("bucket", shard_key="").execute(context={})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"params": {"dry_run": True}}, "The datahub target sends nothing in a dry run"),
        ({"params": {"targets": ["glue"]}}, "The datahub target is switched off"),
    ],
)
def test_switched_off_skips_before_reading_the_shard(context: dict[str, Any], message: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match=message):  # no such bucket: reading would fail the task
        operator("no-such-bucket").execute(context=context)  # type: ignore[arg-type]
    with pytest.raises(AirflowSkipException, match="The datahub target is switched off"):
        operator("no-such-bucket", settings={"bucket": "b", "targets": ["glue"]}).execute(context={})  # type: ignore[arg-type]


def test_every_constructor_argument_is_templated() -> None:
    assert_every_argument_is_templated(
        PushDataHubOperator, renamed={"digest_ttl_hours": "datahub_digest_ttl_hours"}, shard_key="k"
    )


def test_importing_the_operator_loads_no_heavy_library() -> None:
    # boto3 comes with the Amazon provider's AwsBaseOperator under LineageOperator: the operator adds no package
    code = (
        "import sys, flytelineage.operators.lineage_operator\n"
        "base = {m.partition('.')[0] for m in sys.modules}\n"
        "import flytelineage.operators.push_datahub\n"
        "added = {m.partition('.')[0] for m in sys.modules} - base - {'flytelineage'}\n"
        "heavy = [m for m in ('datahub', 'pyarrow', 'flyteidl') if m in sys.modules]\n"
        "assert not heavy and not added, (heavy, added)\n"
    )
    root = Path(__file__).resolve().parents[3]
    env_path = f"{root / 'plugins'}:{root}"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": env_path})
