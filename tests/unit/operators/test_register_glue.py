"""``RegisterGlueOperator.execute`` against moto: a shard written to the bucket becomes Glue tables, read back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from flytelineage.domain.execution_store import executions_to_jsonl_gz
from flytelineage.domain.lineage_model import Dataset, DatasetUse, Execution, ExecutionId, NodeRun, SchemaField, TaskRef
from flytelineage.operators.register_glue import RegisterGlueOperator
from tests.unit.operators.argument_checks import assert_every_argument_is_templated

P, D = "flytesnacks", "development"
SHARD_KEY = "flyte-lineage/executions/date=2024-05-01/hour=06/shard-00000.jsonl.gz"


def output(task: str, uri: str, **kw: Any) -> Dataset:
    """A dataset produced as ``o0`` by ``task`` (a Parquet structured dataset unless overridden)."""
    values: dict[str, Any] = {
        "platform": "flyte",
        "name": f"{P}.{D}.{task}.o0",
        "uri": uri,
        "kind": "structured_dataset",
        "format": "parquet",
        "fields": (SchemaField("id", "int64"), SchemaField("at", "timestamp[us, tz=UTC]")),
        "producer_task": task,
        "output_name": "o0",
        "project": P,
        "domain": D,
        **kw,
    }
    return Dataset(**values)


def node(node_id: str, dataset: Dataset, cache_status: str | None = None) -> NodeRun:
    """A successful task node that produced ``dataset``."""
    assert dataset.producer_task is not None
    return NodeRun(
        node_id=node_id,
        kind="task",
        phase="SUCCEEDED",
        result="SUCCESS",
        task=TaskRef(P, D, dataset.producer_task),
        cache_status=cache_status,
        outputs=(DatasetUse("o0", dataset.key),),
    )


def sample_execution() -> Execution:
    """extract (Parquet) -> report (csv blob) -> model (pickle blob, skipped); a cached node adds nothing."""
    extracted = output("app.wf.extract", "s3://flyte/raw/e1-n0-0/o0")
    header = (SchemaField("sensor", "string"), SchemaField("reading", "string"))  # a CSV's header line, read
    report = output(
        "app.wf.report", "s3://flyte/raw/e1-n1-0/report.csv", kind="blob", format="csv", fields=header,
        schema_source="csv_header",
    )  # fmt: skip
    model = output("app.wf.train", "s3://flyte/raw/e1-n2-0/model.pkl", kind="blob", format="", fields=())
    cached = output("app.wf.cached", "s3://flyte/raw/old-n3-0/o0")
    nodes = (node("n0", extracted), node("n1", report), node("n2", model), node("n3", cached, "CACHE_HIT"))
    return Execution(
        id=ExecutionId(P, D, "e1"),
        workflow_name="app.wf",
        phase="SUCCEEDED",
        ended_at=datetime(2024, 5, 1, 6, 5, tzinfo=UTC),
        nodes=nodes,
        datasets=tuple(sorted([extracted, report, model, cached])),
    )


@pytest.fixture
def shard(s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sample execution written as a shard to the moto bucket; ``aws_default`` resolves to the emulator."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz([sample_execution()]))
    return SHARD_KEY


def operator(bucket: str, shard_key: str, **kw: Any) -> RegisterGlueOperator:
    """The operator as the DAG would configure it."""
    return RegisterGlueOperator(task_id="register_glue", shard_key=shard_key, bucket=bucket, **kw)


def test_every_constructor_argument_is_templated() -> None:
    assert_every_argument_is_templated(RegisterGlueOperator, shard_key="k")


def test_the_glue_client_follows_the_amazon_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    from flytelineage.hooks.glue_catalog_hook import GlueTablesHook

    monkeypatch.delenv("AIRFLOW_VAR_FLYTE_LINEAGE", raising=False)
    task = RegisterGlueOperator(
        task_id="register_glue", shard_key="k", bucket="b", aws_conn_id="aws_glue", region_name="eu-west-1"
    )
    task.lineage_settings()
    assert isinstance(task.glue_hook, GlueTablesHook)
    assert (task.glue_hook.aws_conn_id, task.glue_hook.region_name) == ("aws_glue", "eu-west-1")
    assert (task.s3.aws_conn_id, task.s3.region_name) == ("aws_glue", "eu-west-1")


NO_RETRIES = {"problems": 0, "pending": 0, "retried_pending": 0, "partitions": 0}
"""No table refused, none left pending, none retried from an earlier run, no list dataset."""


@pytest.mark.integration
def test_registers_tables_then_changes_nothing(
    shard: str, bucket: str, glue_client: Any, unique_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"lake_{unique_name}"
    task = operator(bucket, shard, glue_database=database, glue_versioning=True, glue_max_versions=3)
    counts = task.execute(context={})  # type: ignore[arg-type]
    assert counts == {"created": 2, "updated": 0, "unchanged": 0, "skipped": 1, "databases": 1, **NO_RETRIES}
    logged = capsys.readouterr().out  # Airflow's structlog writes task logs to stdout here
    assert "No Glue table for flyte:flytesnacks.development.app.wf.train.o0" in logged
    assert "has no Glue table format" in logged

    tables = {t["Name"]: t for t in glue_client.get_tables(DatabaseName=database)["TableList"]}
    assert sorted(tables) == ["app_wf_extract_o0", "app_wf_report_o0"]
    extract = tables["app_wf_extract_o0"]["StorageDescriptor"]
    assert extract["Location"] == "s3://flyte/raw/e1-n0-0/o0/"
    assert [(c["Name"], c["Type"]) for c in extract["Columns"]] == [("id", "bigint"), ("at", "timestamp")]
    report = tables["app_wf_report_o0"]["StorageDescriptor"]
    assert report["Location"] == "s3://flyte/raw/e1-n1-0/"
    assert report["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.OpenCSVSerde"

    again = task.execute(context={})  # type: ignore[arg-type]
    assert again == {"created": 0, "updated": 0, "unchanged": 2, "skipped": 1, "databases": 1, **NO_RETRIES}
    versions = glue_client.get_table_versions(DatabaseName=database, TableName="app_wf_extract_o0")
    assert len(versions["TableVersions"]) == 1


@pytest.mark.integration
@pytest.mark.parametrize(
    ("read_buckets", "created", "skipped"),
    [
        (["flyte"], 2, 1),  # the shard's tables are in the allowed bucket
        (("flyte",), 2, 1),  # a tuple is the same list of buckets
        (["other-bucket"], 0, 3),  # none is: every table is skipped with the reason, nothing registered
    ],
)
def test_read_buckets_limits_the_table_locations(
    shard: str,
    bucket: str,
    glue_client: Any,
    unique_name: str,
    capsys: pytest.CaptureFixture[str],
    read_buckets: Any,
    created: int,
    skipped: int,
) -> None:
    database = f"lake_{unique_name}"
    counts = operator(bucket, shard, glue_database=database, read_buckets=read_buckets).execute(context={})  # type: ignore[arg-type]
    assert (counts["created"], counts["skipped"]) == (created, skipped)
    tables = glue_client.get_tables(DatabaseName=database)["TableList"] if created else []
    assert len(tables) == created
    if not created:
        assert "bucket 'flyte' is not in read_buckets" in capsys.readouterr().out


@pytest.mark.integration
def test_default_database_is_per_project_and_domain(shard: str, bucket: str, glue_client: Any) -> None:
    operator(bucket, shard).execute(context={})  # type: ignore[arg-type]
    names = [t["Name"] for t in glue_client.get_tables(DatabaseName="flyte_flytesnacks_development")["TableList"]]
    # a subset, not equality: this default database is shared by every test of the session's emulator
    assert {"app_wf_extract_o0", "app_wf_report_o0"} <= set(names)


def test_empty_shard_key_skips() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="nothing to register in Glue"):  # before any S3 call
        operator("any-bucket", "").execute(context={})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"params": {"dry_run": True}}, "The glue target sends nothing in a dry run"),
        ({"params": {"targets": ["datahub", "openlineage"]}}, "The glue target is switched off"),
    ],
)
def test_switched_off_skips_before_reading_the_shard(context: dict[str, Any], message: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match=message):  # no such shard: reading would fail the task
        operator("no-such-bucket", "no/such/shard.jsonl.gz", aws_conn_id=None).execute(context=context)  # type: ignore[arg-type]


@pytest.mark.integration
def test_missing_shard_fails_once_naming_it_and_the_connection(shard: str, bucket: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as caught:
        operator(bucket, "no/such/shard.jsonl.gz").execute(context={})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"s3://{bucket}/no/such/shard.jsonl.gz" in message and "group_executions" in message
    assert "connection 'aws_default'" in message and "NoSuchKey" in message
    assert caught.value.__cause__ is not None


def list_execution(name: str, count: int, ended_minute: int) -> Execution:
    """A map task whose gathered output ``o0`` (a list dataset) has ``count`` elements under sharded prefixes."""
    elements = tuple((str(i), f"s3://flyte/data/{i:02d}/{name}-n0-{i}/o0") for i in range(count))
    shards = output("app.wf.score_shard", elements[0][1], elements=elements, layout="directory")
    return Execution(
        id=ExecutionId(P, D, name),
        workflow_name="app.wf",
        phase="SUCCEEDED",
        ended_at=datetime(2024, 5, 1, 6, ended_minute, tzinfo=UTC),
        nodes=(replace(node("n0", shards), kind="array"),),
        datasets=(shards,),
    )


def partitions_of(glue_client: Any, database: str, table: str) -> dict[str, str]:
    found = glue_client.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    return {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in found}


@pytest.mark.integration
def test_a_list_dataset_is_one_table_whose_partitions_follow_the_latest_run(
    s3_client: Any, bucket: str, glue_client: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    database = f"lake_{unique_name}"
    second_key = SHARD_KEY.replace("hour=06", "hour=07")
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz([list_execution("e1", 3, 5)]))
    s3_client.put_object(Bucket=bucket, Key=second_key, Body=executions_to_jsonl_gz([list_execution("e2", 2, 9)]))

    first = operator(bucket, SHARD_KEY, glue_database=database).execute(context={})  # type: ignore[arg-type]
    assert first == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "databases": 1,
        **NO_RETRIES,
        "partitions": 3,
    }
    [table] = glue_client.get_tables(DatabaseName=database)["TableList"]
    assert (table["Name"], table["StorageDescriptor"]["Location"]) == ("app_wf_score_shard_o0", "s3://flyte/data/")
    assert [k["Name"] for k in table["PartitionKeys"]] == ["element"]
    assert partitions_of(glue_client, database, table["Name"]) == {
        "0": "s3://flyte/data/00/e1-n0-0/o0/",
        "1": "s3://flyte/data/01/e1-n0-1/o0/",
        "2": "s3://flyte/data/02/e1-n0-2/o0/",
    }

    again = operator(bucket, SHARD_KEY, glue_database=database).execute(context={})  # type: ignore[arg-type]
    assert (again["unchanged"], again["partitions"]) == (1, 0)

    later = operator(bucket, second_key, glue_database=database).execute(context={})  # type: ignore[arg-type]
    assert (later["updated"], later["partitions"]) == (1, 3)  # 2 partitions moved to the new run's data, 1 deleted
    assert partitions_of(glue_client, database, table["Name"]) == {
        "0": "s3://flyte/data/00/e2-n0-0/o0/",
        "1": "s3://flyte/data/01/e2-n0-1/o0/",
    }


@pytest.mark.integration
def test_partitions_left_pending_are_written_by_the_next_run(
    s3_client: Any, bucket: str, glue_client: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from flytelineage.errors import TargetError
    from flytelineage.hooks.glue_catalog_hook import GlueTablesHook
    from flytelineage.operators.fail_fast import RetryableAwsError

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    monkeypatch.setattr(RegisterGlueOperator, "retry_delays", (0.0,))
    database = f"lake_{unique_name}"
    next_key = SHARD_KEY.replace("hour=06", "hour=07")
    s3_client.put_object(Bucket=bucket, Key=SHARD_KEY, Body=executions_to_jsonl_gz([list_execution("e1", 3, 5)]))
    s3_client.put_object(Bucket=bucket, Key=next_key, Body=executions_to_jsonl_gz([]))

    def throttled(*_: Any, **__: Any) -> dict[str, int]:
        cause = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "BatchCreatePartition")
        raise TargetError("throttled") from cause

    with monkeypatch.context() as patch:
        patch.setattr(GlueTablesHook, "sync_partitions", throttled)
        with pytest.raises(RetryableAwsError, match="1 Glue table"):
            operator(bucket, SHARD_KEY, glue_database=database).execute(context={})  # type: ignore[arg-type]
    assert glue_client.get_partitions(DatabaseName=database, TableName="app_wf_score_shard_o0")["Partitions"] == []

    counts = operator(bucket, next_key, glue_database=database).execute(context={})  # type: ignore[arg-type]
    assert (counts["retried_pending"], counts["unchanged"], counts["partitions"]) == (1, 1, 3)
    assert sorted(partitions_of(glue_client, database, "app_wf_score_shard_o0")) == ["0", "1", "2"]
