"""``GlueTablesHook`` against moto_server: databases, tables, versions, pruning and conflict retries, read back.

moto 5.2.5 differs from Glue in three ways this hook relies on, so ``glue_semantics`` patches the hook's client:
it ignores ``SkipArchive`` (every UpdateTable adds a version), ignores the ``VersionId`` guard, and does not implement
BatchDeleteTableVersion (HTTP 500). The shims restore Glue's documented behaviour with moto's own DeleteTableVersion
and record every request, so the tests also assert what the hook asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flytelineage.domain.glue_tables import GlueTable, build_table_inputs
from flytelineage.domain.lineage_model import Dataset, DatasetUse, Execution, ExecutionId, NodeRun, SchemaField, TaskRef
from flytelineage.errors import ConfigurationError, TargetError
from flytelineage.hooks.glue_catalog_hook import GlueTablesHook

pytestmark = pytest.mark.integration

P, D, TASK = "flytesnacks", "development", "app.wf.extract"
V1 = (SchemaField("id", "int64"), SchemaField("name", "string"))
V2 = (*V1, SchemaField("amount", "decimal128(12, 2)"))


def run_of(name: str, fields: tuple[SchemaField, ...], database: str) -> GlueTable:
    """The one table an execution ``name`` of the sample workflow registers (its output has ``fields``)."""
    dataset = Dataset(
        platform="flyte",
        name=f"{P}.{D}.{TASK}.o0",
        uri=f"s3://flyte/raw/{name}-n0-0/o0",
        kind="structured_dataset",
        format="parquet",
        fields=fields,
        producer_task=TASK,
        output_name="o0",
        project=P,
        domain=D,
    )
    return table_of(name, dataset, "task", database)


def table_of(name: str, dataset: Dataset, node_kind: str, database: str) -> GlueTable:
    """The one table of an execution ``name`` whose node n0 (of ``node_kind``) produced ``dataset`` as ``o0``."""
    node = NodeRun(
        node_id="n0",
        kind=node_kind,
        phase="SUCCEEDED",
        result="SUCCESS",
        task=TaskRef(P, D, TASK),
        outputs=(DatasetUse("o0", dataset.key),),
    )
    execution = Execution(
        id=ExecutionId(P, D, name),
        workflow_name="app.wf",
        phase="SUCCEEDED",
        ended_at=datetime(2024, 5, 1, tzinfo=UTC),
        nodes=(node,),
        datasets=(dataset,),
    )
    [table] = build_table_inputs(execution, database_override=database)
    return table


def aws_error(code: str, operation: str) -> ClientError:
    """A botocore error as Glue would return it."""
    return ClientError({"Error": {"Code": code, "Message": f"{code} from the test"}}, operation)


class GlueSemantics:
    """Shims for moto's gaps (see the module docstring), recording UpdateTable and BatchDeleteTableVersion calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.real_update = client.update_table
        self.updates: list[dict[str, Any]] = []
        self.batch_deletes: list[list[str]] = []

    def update_table(self, **request: Any) -> dict[str, Any]:
        self.updates.append(request)
        database, name = request["DatabaseName"], request["TableInput"]["Name"]
        current = self.client.get_table(DatabaseName=database, Name=name)["Table"]["VersionId"]
        if "VersionId" in request and request["VersionId"] != current:
            raise aws_error("ConcurrentModificationException", "UpdateTable")
        response: dict[str, Any] = self.real_update(**request)
        if request.get("SkipArchive"):
            self.client.delete_table_version(DatabaseName=database, TableName=name, VersionId=current)
        return response

    def batch_delete_table_version(self, *, DatabaseName: str, TableName: str, VersionIds: list[str]) -> dict[str, Any]:
        assert 0 < len(VersionIds) <= 100
        self.batch_deletes.append(list(VersionIds))
        for version in VersionIds:
            self.client.delete_table_version(DatabaseName=DatabaseName, TableName=TableName, VersionId=version)
        return {"Errors": []}


@pytest.fixture
def hook(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> GlueTablesHook:
    """A hook on the ``aws_default`` connection (endpoint from AWS_ENDPOINT_URL), with no backoff waits."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    hook = GlueTablesHook(aws_conn_id="aws_default")
    hook.retry_delays = (0.0, 0.0, 0.0)
    return hook


@pytest.fixture
def glue_semantics(hook: GlueTablesHook, monkeypatch: pytest.MonkeyPatch) -> GlueSemantics:
    """Patch the hook's client with Glue's SkipArchive, VersionId and BatchDeleteTableVersion behaviour."""
    client = hook.get_conn()
    shims = GlueSemantics(client)
    monkeypatch.setattr(client, "update_table", shims.update_table)
    monkeypatch.setattr(client, "batch_delete_table_version", shims.batch_delete_table_version)
    return shims


@pytest.fixture
def database(hook: GlueTablesHook, unique_name: str) -> str:
    """A fresh Glue database created through the hook."""
    assert hook.ensure_database(unique_name, "test database") is True
    return unique_name


def versions(glue_client: Any, database: str, name: str) -> list[str]:
    """The table's version ids as Glue lists them."""
    return [
        v["VersionId"] for v in glue_client.get_table_versions(DatabaseName=database, TableName=name)["TableVersions"]
    ]


def test_creates_database_and_table_read_back(hook: GlueTablesHook, glue_client: Any, unique_name: str) -> None:
    assert hook.ensure_database(unique_name, "Flyte datasets") is True
    assert hook.ensure_database(unique_name, "Flyte datasets") is False
    assert glue_client.get_database(Name=unique_name)["Database"]["Description"] == "Flyte datasets"
    table = run_of("e1", V2, unique_name)
    assert hook.upsert_table(unique_name, table.table_input, versioning=False) == "created"
    stored = glue_client.get_table(DatabaseName=unique_name, Name="app_wf_extract_o0")["Table"]
    descriptor = stored["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        ("id", "bigint"),
        ("name", "string"),
        ("amount", "decimal(12,2)"),
    ]
    assert descriptor["Location"] == "s3://flyte/raw/e1-n0-0/o0/"
    assert (
        descriptor["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert stored["TableType"] == "EXTERNAL_TABLE"
    assert stored["Parameters"]["flyte.execution"] == "e1"


def test_database_creation_race_is_tolerated(
    hook: GlueTablesHook, glue_client: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = hook.get_conn()
    real_get = client.get_database

    def created_by_someone_else(**kwargs: Any) -> Any:
        glue_client.create_database(DatabaseInput={"Name": kwargs["Name"]})
        return real_get(Name="no-such-database-" + kwargs["Name"])

    monkeypatch.setattr(client, "get_database", created_by_someone_else)
    assert hook.ensure_database(unique_name) is False
    assert glue_client.get_database(Name=unique_name)["Database"]["Name"] == unique_name


@pytest.mark.parametrize(("versioning", "expected_versions"), [(True, 2), (False, 1)])
def test_changed_schema_adds_a_version_only_with_versioning(
    hook: GlueTablesHook,
    glue_semantics: GlueSemantics,
    glue_client: Any,
    database: str,
    versioning: bool,
    expected_versions: int,
) -> None:
    assert hook.upsert_table(database, run_of("e1", V1, database).table_input, versioning=versioning) == "created"
    assert hook.upsert_table(database, run_of("e2", V2, database).table_input, versioning=versioning) == "updated"
    assert len(versions(glue_client, database, "app_wf_extract_o0")) == expected_versions
    [update] = glue_semantics.updates
    assert update["SkipArchive"] is (not versioning)
    assert update["VersionId"] == "1"
    columns = glue_client.get_table(DatabaseName=database, Name="app_wf_extract_o0")["Table"]["StorageDescriptor"]
    assert [c["Name"] for c in columns["Columns"]] == ["id", "name", "amount"]


def test_same_input_again_changes_nothing(
    hook: GlueTablesHook, glue_semantics: GlueSemantics, glue_client: Any, database: str
) -> None:
    table = run_of("e1", V2, database)
    assert hook.upsert_table(database, table.table_input, versioning=True, max_versions=3) == "created"
    before = glue_client.get_table(DatabaseName=database, Name=table.name)["Table"]
    for _ in range(2):
        assert hook.upsert_table(database, table.table_input, versioning=True, max_versions=3) == "unchanged"
    after = glue_client.get_table(DatabaseName=database, Name=table.name)["Table"]
    assert glue_semantics.updates == [] and glue_semantics.batch_deletes == []
    assert versions(glue_client, database, table.name) == ["1"]
    assert after == before


def test_parameters_set_by_others_are_kept_and_ignored(
    hook: GlueTablesHook, glue_semantics: GlueSemantics, glue_client: Any, database: str
) -> None:
    table = run_of("e1", V1, database)
    hook.upsert_table(database, table.table_input, versioning=False)
    crawled = {**table.table_input, "Parameters": {**table.table_input["Parameters"], "crawler": "yes"}}
    glue_client.update_table(DatabaseName=database, TableInput=crawled)
    assert hook.upsert_table(database, table.table_input, versioning=False) == "unchanged"
    assert hook.upsert_table(database, run_of("e2", V1, database).table_input, versioning=False) == "updated"
    parameters = glue_client.get_table(DatabaseName=database, Name=table.name)["Table"]["Parameters"]
    assert (parameters["crawler"], parameters["flyte.execution"]) == ("yes", "e2")


def test_pruning_keeps_at_most_max_versions(
    hook: GlueTablesHook, glue_semantics: GlueSemantics, glue_client: Any, database: str
) -> None:
    for i in range(5):
        fields = (*V1, *(SchemaField(f"c{j}", "int32") for j in range(i)))
        hook.upsert_table(database, run_of(f"e{i}", fields, database).table_input, versioning=True, max_versions=2)
        assert len(versions(glue_client, database, "app_wf_extract_o0")) <= 2
    current = glue_client.get_table(DatabaseName=database, Name="app_wf_extract_o0")["Table"]
    assert current["VersionId"] in versions(glue_client, database, "app_wf_extract_o0")
    assert [c["Name"] for c in current["StorageDescriptor"]["Columns"]][-1] == "c3"


def test_pruning_deletes_in_batches_of_100_and_never_the_current_version(
    hook: GlueTablesHook, glue_semantics: GlueSemantics, glue_client: Any, database: str
) -> None:
    table = run_of("e0", V1, database)
    hook.upsert_table(database, table.table_input, versioning=True)
    for _ in range(204):
        glue_client.update_table(DatabaseName=database, TableInput=table.table_input)
    assert len(versions(glue_client, database, table.name)) == 205
    deleted = hook.prune_versions(database, table.name, keep=3)
    assert [len(batch) for batch in glue_semantics.batch_deletes] == [100, 100, 2]
    assert "205" not in deleted
    assert sorted(versions(glue_client, database, table.name), key=int) == ["203", "204", "205"]


def test_concurrent_modification_is_retried(
    hook: GlueTablesHook,
    glue_semantics: GlueSemantics,
    glue_client: Any,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook.upsert_table(database, run_of("e1", V1, database).table_input, versioning=True)
    client = hook.get_conn()
    calls: list[dict[str, Any]] = []

    def conflict_once(**request: Any) -> Any:
        calls.append(request)
        if len(calls) == 1:
            raise aws_error("ConcurrentModificationException", "UpdateTable")
        return glue_semantics.update_table(**request)

    monkeypatch.setattr(client, "update_table", conflict_once)
    assert hook.upsert_table(database, run_of("e2", V2, database).table_input, versioning=True) == "updated"
    assert len(calls) == 2
    assert len(versions(glue_client, database, "app_wf_extract_o0")) == 2


def test_a_concurrent_writer_is_not_overwritten(
    hook: GlueTablesHook,
    glue_semantics: GlueSemantics,
    glue_client: Any,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another writer lands our exact target between our read and our write: the re-read finds it unchanged."""
    hook.upsert_table(database, run_of("e1", V1, database).table_input, versioning=True)
    target = run_of("e2", V2, database).table_input
    client = hook.get_conn()

    def other_writer_first(**request: Any) -> Any:
        monkeypatch.setattr(client, "update_table", glue_semantics.update_table)
        glue_semantics.real_update(DatabaseName=database, TableInput=target)
        return glue_semantics.update_table(**request)

    monkeypatch.setattr(client, "update_table", other_writer_first)
    assert hook.upsert_table(database, target, versioning=True) == "unchanged"
    assert len(versions(glue_client, database, "app_wf_extract_o0")) == 2


def test_persistent_conflict_raises_with_the_aws_error(
    hook: GlueTablesHook, glue_semantics: GlueSemantics, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook.upsert_table(database, run_of("e1", V1, database).table_input, versioning=False)

    def always_conflict(**request: Any) -> Any:
        raise aws_error("ConcurrentModificationException", "UpdateTable")

    monkeypatch.setattr(hook.get_conn(), "update_table", always_conflict)
    with pytest.raises(TargetError, match="ConcurrentModificationException from the test") as caught:
        hook.upsert_table(database, run_of("e2", V2, database).table_input, versioning=False)
    assert isinstance(caught.value.__cause__, ClientError)


def test_aws_errors_keep_their_message_and_cause(hook: GlueTablesHook, unique_name: str) -> None:
    with pytest.raises(TargetError, match="EntityNotFoundException") as caught:
        hook.upsert_table(unique_name, run_of("e1", V1, unique_name).table_input, versioning=False)
    assert isinstance(caught.value.__cause__, ClientError)
    assert "check logs" not in str(caught.value)


def test_max_versions_must_be_positive(hook: GlueTablesHook, database: str) -> None:
    with pytest.raises(ConfigurationError, match="glue_max_versions"):
        hook.upsert_table(database, run_of("e1", V1, database).table_input, versioning=True, max_versions=0)


# ---- partitions of a list dataset's table (issue 10 point 8) -------------------------------------------------------


def list_run_of(name: str, count: int, database: str) -> GlueTable:
    """The table of a run ``name`` whose list output ``o0`` has ``count`` elements, each under its own prefix."""
    elements = tuple((str(i), f"s3://flyte/data/{i % 7}/{name}-n0-0/e{i}") for i in range(count))
    dataset = Dataset(
        platform="flyte",
        name=f"{P}.{D}.{TASK}.o0",
        uri=elements[0][1],
        kind="structured_dataset",
        format="parquet",
        fields=V1,
        producer_task=TASK,
        output_name="o0",
        project=P,
        domain=D,
        layout="directory",
        elements=elements,
    )
    return table_of(name, dataset, "array", database)


def stored_partitions(glue_client: Any, database: str, name: str) -> dict[str, tuple[str, str]]:
    """Element index -> (location, element uri) of every partition Glue holds for the table (all pages)."""
    found: dict[str, tuple[str, str]] = {}
    for page in glue_client.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name):
        for p in page["Partitions"]:
            found[p["Values"][0]] = (p["StorageDescriptor"]["Location"], p["Parameters"]["flyte.element_uri"])
    return found


def expected_partitions(table: GlueTable) -> dict[str, tuple[str, str]]:
    return {
        p["Values"][0]: (p["StorageDescriptor"]["Location"], p["Parameters"]["flyte.element_uri"])
        for p in table.partitions
    }


def test_partitions_are_created_then_left_alone(hook: GlueTablesHook, glue_client: Any, database: str) -> None:
    table = list_run_of("e1", 3, database)
    hook.upsert_table(database, table.table_input, versioning=False)
    assert hook.sync_partitions(database, table.name, table.partitions) == {"created": 3, "updated": 0, "deleted": 0}
    stored = glue_client.get_table(DatabaseName=database, Name=table.name)["Table"]
    assert [k["Name"] for k in stored["PartitionKeys"]] == ["element"]
    assert stored_partitions(glue_client, database, table.name) == {
        "0": ("s3://flyte/data/0/e1-n0-0/e0/", "s3://flyte/data/0/e1-n0-0/e0"),
        "1": ("s3://flyte/data/1/e1-n0-0/e1/", "s3://flyte/data/1/e1-n0-0/e1"),
        "2": ("s3://flyte/data/2/e1-n0-0/e2/", "s3://flyte/data/2/e1-n0-0/e2"),
    }
    assert hook.sync_partitions(database, table.name, table.partitions) == {"created": 0, "updated": 0, "deleted": 0}


def test_the_next_run_replaces_the_partitions(hook: GlueTablesHook, glue_client: Any, database: str) -> None:
    first, second = list_run_of("e1", 4, database), list_run_of("e2", 2, database)
    hook.upsert_table(database, first.table_input, versioning=False)
    hook.sync_partitions(database, first.name, first.partitions)
    hook.upsert_table(database, second.table_input, versioning=False)
    assert hook.sync_partitions(database, second.name, second.partitions) == {
        "created": 0,
        "updated": 2,
        "deleted": 2,
    }
    assert stored_partitions(glue_client, database, second.name) == expected_partitions(second)


def test_partitions_are_written_and_deleted_in_batches_glue_accepts(
    hook: GlueTablesHook, glue_client: Any, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = hook.get_conn()
    calls: list[tuple[str, int]] = []
    for operation, key in [
        ("batch_create_partition", "PartitionInputList"),
        ("batch_delete_partition", "PartitionsToDelete"),
    ]:
        original = getattr(client, operation)

        def recording(original: Any = original, operation: str = operation, key: str = key, **request: Any) -> Any:
            calls.append((operation, len(request[key])))
            return original(**request)

        monkeypatch.setattr(client, operation, recording)
    big, small = list_run_of("e1", 130, database), list_run_of("e1", 99, database)
    hook.upsert_table(database, big.table_input, versioning=False)
    hook.sync_partitions(database, big.name, big.partitions)
    hook.sync_partitions(database, small.name, small.partitions)
    assert calls == [
        ("batch_create_partition", 100),
        ("batch_create_partition", 30),
        ("batch_delete_partition", 25),
        ("batch_delete_partition", 6),
    ]
    assert stored_partitions(glue_client, database, small.name) == expected_partitions(small)


def test_a_refused_partition_is_an_error_with_the_aws_code(
    hook: GlueTablesHook, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = list_run_of("e1", 2, database)
    hook.upsert_table(database, table.table_input, versioning=False)
    refusal = {"Errors": [{"PartitionValues": ["1"], "ErrorDetail": {"ErrorCode": "ThrottlingException"}}]}
    monkeypatch.setattr(hook.get_conn(), "batch_create_partition", lambda **_: refusal)
    with pytest.raises(TargetError, match="ThrottlingException") as raised:
        hook.sync_partitions(database, table.name, table.partitions)
    assert isinstance(raised.value.__cause__, ClientError)
    assert raised.value.__cause__.response["Error"]["Code"] == "ThrottlingException"
