"""Target faults through the real operators: DataHub GMS 5xx and hangs, Glue throttling; reruns converge.

``push_datahub`` runs against a fake GMS on 127.0.0.1 that keeps the state a real GMS would (latest value per
entity aspect, one document per timeseries event) and can fail or hang chosen calls. ``register_glue`` runs against
moto_server with faults injected into the real Glue client. Each fault must fail the task (raise) or be retried,
and a rerun must end in exactly the state a fault-free run produces.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import boto3
import pytest
from datahub.emitter.rest_emitter import BATCH_INGEST_MAX_PAYLOAD_LENGTH

from flytelineage.domain import storage_keys
from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.domain.execution_store import executions_to_jsonl_gz
from flytelineage.domain.lineage_model import SchemaField
from flytelineage.errors import TargetError
from flytelineage.hooks.glue_catalog_hook import GlueTablesHook
from flytelineage.operators.fail_fast import RetryableAwsError
from flytelineage.operators.push_datahub import PushDataHubOperator
from flytelineage.operators.register_glue import RegisterGlueOperator
from flytelineage.testing import lineage_samples
from flytelineage.testing.fake_gms import FakeGms, Outcome, always_ok
from tests.integration.test_faults_drain import CallFaults, SendFaults, error_response, http_error

pytestmark = pytest.mark.integration

SHARD_KEY = "fl/executions/interval_end=20261121T120000Z/shard-00000.jsonl.gz"


def _with_csv_headers(execution: Any) -> Any:
    """The samples' CSV reports with the columns of a header line read (a CSV without them gets no Glue table)."""
    header = (SchemaField("order_id", "string"), SchemaField("total", "string"))
    datasets = tuple(
        dataclasses.replace(d, fields=header, schema_source="csv_header") if d.format == "csv" and not d.fields else d
        for d in execution.datasets
    )
    return dataclasses.replace(execution, datasets=datasets)


EXECUTIONS = [_with_csv_headers(e) for e in lineage_samples.many_executions(14)]
HANG_SECONDS = 2.5
"""How long a hanging call of the fake GMS waits before closing unanswered (longer than the one-second timeout)."""


@pytest.fixture
def gms(fake_gms: FakeGms, monkeypatch: pytest.MonkeyPatch) -> FakeGms:
    """The stateful fake GMS (``tests.fake_gms``) behind connection ``faults_gms`` (one retry, one-second timeout)."""
    fake_gms.hang_seconds = HANG_SECONDS
    monkeypatch.setenv("AIRFLOW_CONN_FAULTS_GMS", fake_gms.connection(password="tok", retry_max_times=1, timeout_sec=1))
    return fake_gms


@pytest.fixture
def shard(s3_client: Any, bucket: str) -> str:
    """The bucket, holding one executions shard of ``EXECUTIONS``."""
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz(EXECUTIONS))
    return bucket


def push(bucket: str) -> dict[str, int]:
    """One ``push_datahub`` task run on the shard."""
    operator = PushDataHubOperator(
        task_id="push_datahub", shard_key=SHARD_KEY, bucket=bucket, aws_conn_id=None, datahub_conn_id="faults_gms"
    )
    return operator.execute(context={})  # type: ignore[arg-type]


def clean_state(gms: FakeGms, bucket: str) -> dict[tuple[Any, ...], str]:
    """The GMS state a fault-free run leaves (the GMS is emptied again afterwards, and so is the digest state of
    what was sent, so the faulty run that follows starts like a first run and must send everything)."""
    gms.policy = always_ok
    push(bucket)
    state = dict(gms.state)
    gms.state.clear()
    s3 = boto3.client("s3")
    digests = storage_keys.datahub_digests_key("flyte-lineage", "faults_gms")
    s3.head_object(Bucket=bucket, Key=digests)  # the clean run recorded what it sent
    s3.delete_object(Bucket=bucket, Key=digests)
    return state


def test_the_shard_needs_several_gms_calls() -> None:
    mcps = [m for e in EXECUTIONS for m in build_mcps(e)]
    assert len(mcps) > 2 * BATCH_INGEST_MAX_PAYLOAD_LENGTH  # so a failed call leaves a partial state


def test_gms_503_within_the_retry_budget_is_retried(gms: FakeGms, shard: str) -> None:
    clean = clean_state(gms, shard)
    gms.policy = lambda index, body: 503 if index == 0 else 200
    gms.calls = 0

    counts = push(shard)

    assert gms.calls > counts["mcps"] // BATCH_INGEST_MAX_PAYLOAD_LENGTH + 1  # the failed call was sent again
    assert gms.state == clean


@pytest.mark.parametrize("fault", [503, "hang"], ids=["fail", "hang"])
def test_gms_fault_fails_the_task_and_a_rerun_converges(gms: FakeGms, shard: str, fault: Outcome) -> None:
    clean = clean_state(gms, shard)
    gms.policy = lambda index, body: fault if index in (0, 1) else 200  # the first batch fails even after its retry
    gms.calls = 0

    started = time.monotonic()
    with pytest.raises(TargetError, match="failed 1 write") as raised:
        push(shard)

    assert time.monotonic() - started < 15  # a hanging GMS costs the timeout, not forever
    assert ("503" in str(raised.value)) if fault == 503 else ("timed out" in str(raised.value).lower())
    assert gms.state and gms.state != clean  # the other batches landed: a partial state
    gms.policy = always_ok
    push(shard)
    assert gms.state == clean


# ---- Glue ----------------------------------------------------------------------------------------------------------


def glue_throttle() -> Any:
    """Glue's throttling answer (JSON 1.1 protocol), which botocore retries."""
    body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
    return http_error(400, body, "application/x-amz-json-1.1")


def table_input(name: str) -> dict[str, Any]:
    """A minimal Parquet table definition."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "bigint"}], "Location": f"s3://data/{name}/"},
    }


def test_glue_throttling_is_retried_by_botocore(glue_client: Any, unique_name: str) -> None:
    glue_client.create_database(DatabaseInput={"Name": unique_name})
    hook = GlueTablesHook(aws_conn_id=None)
    faults = SendFaults(hook.glue, "CreateTable", glue_throttle, times=2)

    assert hook.upsert_table(unique_name, table_input("t1"), versioning=False) == "created"

    assert faults.injected == 2 and faults.sends == 3
    assert glue_client.get_table(DatabaseName=unique_name, Name="t1")["Table"]["Name"] == "t1"


def test_persistent_glue_throttling_raises_a_target_error_with_the_code(
    glue_client: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    glue_client.create_database(DatabaseInput={"Name": unique_name})
    hook = GlueTablesHook(aws_conn_id=None)
    faults = SendFaults(hook.glue, "GetTable", glue_throttle, times=1_000)

    with pytest.raises(TargetError, match="ThrottlingException: Rate exceeded"):
        hook.upsert_table(unique_name, table_input("t1"), versioning=False)

    assert faults.sends == 2
    assert glue_client.get_tables(DatabaseName=unique_name)["TableList"] == []


def glue_tables(glue_client: Any, database: str) -> dict[str, Any]:
    """The parts of every table of ``database`` that register_glue manages."""
    tables = glue_client.get_paginator("get_tables").paginate(DatabaseName=database)
    return {
        t["Name"]: (t.get("TableType"), t["StorageDescriptor"], t.get("PartitionKeys"), t.get("Parameters"))
        for page in tables
        for t in page["TableList"]
    }


def register(bucket: str, database: str) -> dict[str, int]:
    """One ``register_glue`` task run on the shard, every table in ``database``."""
    operator = RegisterGlueOperator(
        task_id="register_glue", shard_key=SHARD_KEY, bucket=bucket, aws_conn_id=None, glue_database=database
    )
    return operator.execute(context={})  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ThrottlingException", "ConcurrentModificationException"])
def test_register_glue_fails_midway_and_a_rerun_converges(
    glue_client: Any, shard: str, unique_name: str, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    clean_counts = register(shard, f"{unique_name}_clean")
    clean = glue_tables(glue_client, f"{unique_name}_clean")
    assert clean_counts["created"] == len(clean) >= 3

    original = GlueTablesHook.get_conn
    faults: list[CallFaults] = []

    def faulty_conn(hook: GlueTablesHook) -> Any:
        client = original(hook)
        if not faults:  # every CreateTable from the third on fails, after the hook's own retries too
            faults.append(CallFaults(client, "CreateTable", code, fail=lambda n: n >= 3))
        return client

    monkeypatch.setattr(GlueTablesHook, "get_conn", faulty_conn)
    monkeypatch.setattr(GlueTablesHook, "retry_delays", (0.0, 0.0))
    monkeypatch.setattr(RegisterGlueOperator, "retry_delays", (0.0, 0.0))
    with pytest.raises(RetryableAwsError, match=code) as raised:  # transient: Airflow retries the task
        register(shard, f"{unique_name}_fault")
    assert isinstance(raised.value.__cause__, TargetError)
    partial = glue_tables(glue_client, f"{unique_name}_fault")
    assert 0 < len(partial) < len(clean)

    monkeypatch.setattr(GlueTablesHook, "get_conn", original)
    counts = register(shard, f"{unique_name}_fault")
    assert counts["created"] == len(clean) - len(partial) and counts["unchanged"] == len(partial)
    assert glue_tables(glue_client, f"{unique_name}_fault") == clean
    assert register(shard, f"{unique_name}_fault")["unchanged"] == len(clean)  # a third run writes nothing


NEXT_SHARD_KEY = "fl/executions/interval=20261121T121000Z_20261121T122000Z/shard-00000.jsonl.gz"


class _ClientErrorFaults(CallFaults):
    """``CallFaults`` answering with HTTP 400, as AWS does for a request it refuses for good."""

    def _handler(self, **_: Any) -> Any:
        self.calls += 1
        if not self.fail(self.calls):
            return None
        self.failed += 1
        return error_response(self.operation, self.code, status=400)


def _faulty_glue(monkeypatch: pytest.MonkeyPatch, code: str, fail: Any, status: int = 503) -> list[CallFaults]:
    """Make every GlueTablesHook's client fail CreateTable calls chosen by ``fail`` (call numbers counted across the
    hooks of the test) with ``code`` and ``status``, with no waiting between the operator's rounds."""
    original = GlueTablesHook.get_conn
    faults: list[CallFaults] = []

    def faulty_conn(hook: GlueTablesHook) -> Any:
        client = original(hook)
        if not faults:
            kind = CallFaults if status >= 500 else _ClientErrorFaults
            faults.append(kind(client, "CreateTable", code, fail=fail))
        return client

    monkeypatch.setattr(GlueTablesHook, "get_conn", faulty_conn)
    monkeypatch.setattr(RegisterGlueOperator, "retry_delays", (0.0, 0.0))
    return faults


def _pending_tables(s3_client: Any, bucket: str, shard_key: str) -> list[str] | None:
    key = storage_keys.glue_pending_key(shard_key)
    try:
        document = json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3_client.exceptions.NoSuchKey:
        return None
    return sorted(t["name"] for t in document["tables"])


def test_throttled_tables_are_retried_within_the_task(
    glue_client: Any, s3_client: Any, shard: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(shard, f"{unique_name}_clean")
    clean = glue_tables(glue_client, f"{unique_name}_clean")
    total = len(clean)
    faults = _faulty_glue(monkeypatch, "ThrottlingException", fail=lambda n: 3 <= n <= total)  # round 1 only

    counts = register(shard, f"{unique_name}_fault")

    assert counts == {
        "created": total,
        "updated": 0,
        "unchanged": 0,
        "partitions": 0,
        "skipped": 0,
        "problems": 0,
        "pending": 0,
        "retried_pending": 0,
        "databases": 1,
    }
    assert faults[0].failed == total - 2 and faults[0].calls == total + (total - 2)  # one more round, failed only
    assert glue_tables(glue_client, f"{unique_name}_fault") == clean
    assert _pending_tables(s3_client, shard, SHARD_KEY) is None


def test_glue_converges_on_the_next_run_without_a_replay(
    glue_client: Any, s3_client: Any, shard: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(shard, f"{unique_name}_clean")
    clean = glue_tables(glue_client, f"{unique_name}_clean")
    total = len(clean)
    faults = _faulty_glue(monkeypatch, "ThrottlingException", fail=lambda n: n >= 3)  # throttled for the whole task

    with pytest.raises(RetryableAwsError, match=f"{total - 2} Glue table\\(s\\) still failing") as raised:
        register(shard, f"{unique_name}_fault")

    assert isinstance(raised.value.__cause__, TargetError)
    assert faults[0].calls == total + 2 * (total - 2)  # three rounds, the last two over the failed tables only
    partial = glue_tables(glue_client, f"{unique_name}_fault")
    assert len(partial) == 2
    assert _pending_tables(s3_client, shard, SHARD_KEY) == sorted(set(clean) - set(partial))

    # the task's retries are exhausted; the next run (another interval, a shard with no tables of its own) converges
    monkeypatch.undo()
    s3_client.put_object(Bucket=shard, Key=NEXT_SHARD_KEY, Body=executions_to_jsonl_gz([]))
    operator = RegisterGlueOperator(
        task_id="register_glue", shard_key=NEXT_SHARD_KEY, bucket=shard, aws_conn_id=None, glue_database="unused"
    )
    counts = operator.execute(context={})  # type: ignore[arg-type]

    assert counts == {
        "created": total - 2,
        "updated": 0,
        "unchanged": 0,
        "partitions": 0,
        "skipped": 0,
        "problems": 0,
        "pending": 0,
        "retried_pending": total - 2,
        "databases": 1,
    }
    assert glue_tables(glue_client, f"{unique_name}_fault") == clean
    assert _pending_tables(s3_client, shard, SHARD_KEY) is None
    assert _pending_tables(s3_client, shard, NEXT_SHARD_KEY) is None
    assert register(shard, f"{unique_name}_fault")["unchanged"] == total  # and the shard itself is complete


def test_a_table_glue_refuses_for_good_is_a_problem_not_a_failure(
    glue_client: Any, s3_client: Any, shard: str, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(shard, f"{unique_name}_clean")
    clean = glue_tables(glue_client, f"{unique_name}_clean")
    total = len(clean)
    faults = _faulty_glue(monkeypatch, "InvalidInputException", fail=lambda n: n == 2, status=400)

    counts = register(shard, f"{unique_name}_fault")

    assert counts["created"] == total - 1 and counts["problems"] == 1 and counts["pending"] == 0
    assert faults[0].calls == total  # not retried
    created = glue_tables(glue_client, f"{unique_name}_fault")
    [refused] = sorted(set(clean) - set(created))
    report_key = storage_keys.glue_problems_key(SHARD_KEY)
    report = json.loads(s3_client.get_object(Bucket=shard, Key=report_key)["Body"].read())
    assert [(p["database"], p["table"]) for p in report["problems"]] == [(f"{unique_name}_fault", refused)]
    assert "InvalidInputException" in report["problems"][0]["reason"]
    assert _pending_tables(s3_client, shard, SHARD_KEY) is None
