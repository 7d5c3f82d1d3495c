"""PushDataHubOperator: reads a shard from S3 (moto server), emits to DataHub Lite, returns counts."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.domain.datahub_ownership import ownership_patches
from flytelineage.domain.datahub_platform import platform_info_mcp
from flytelineage.domain.datahub_push import prepare_push
from flytelineage.domain.execution_store import executions_to_jsonl_gz
from flytelineage.operators.push_datahub import PushDataHubOperator
from tests import lineage_samples

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
def test_templated_flags_and_env(s3_client: Any, bucket: str, lite_conn: Path) -> None:
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz([lineage_samples.failed()]))
    counts = operator(bucket, datasets_only="True", env="DEV").execute(context={})  # type: ignore[arg-type]
    stored = read_lite(lite_conn)
    assert counts["executions"] == 1 and counts["entities"] == len(stored) == 2
    assert all(urn.startswith("urn:li:dataset:") and urn.endswith(",DEV)") for urn in stored)


@pytest.mark.integration
def test_missing_shard_fails_once(s3_client: Any, bucket: str, lite_conn: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"Could not read executions shard s3://.*missing\.jsonl\.gz"):
        operator(bucket, shard_key="flyte-lineage/executions/missing.jsonl.gz").execute(context={})  # type: ignore[arg-type]


def test_empty_shard_key_skips() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        operator("bucket", shard_key="").execute(context={})  # type: ignore[arg-type]


def test_template_fields_are_the_constructor_parameters() -> None:
    parameters = inspect.signature(PushDataHubOperator.__init__).parameters
    assert set(PushDataHubOperator.template_fields) == set(parameters) - {"self", "kwargs"}


def test_importing_the_operator_loads_no_heavy_library() -> None:
    code = (
        "import sys, flytelineage.operators.push_datahub\n"
        "heavy = [m for m in ('datahub', 'pyarrow', 'flyteidl', 'boto3') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parents[3]
    env_path = f"{root / 'plugins'}:{root}"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": env_path})
