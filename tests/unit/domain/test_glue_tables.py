"""Glue naming, Arrow -> Hive types and TableInput building, as tables of inputs and expected outputs."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest

from flytelineage.domain.glue_tables import (
    GlueTypeError,
    arrow_to_hive,
    build_table_inputs,
    database_name,
    plan_glue_tables,
    stable_hash,
    table_name,
)
from flytelineage.domain.lineage_model import Dataset, DatasetUse, Execution, ExecutionId, NodeRun, SchemaField, TaskRef

# Glue's documented name pattern (single-line string) plus Athena's: lowercase letters, digits, '_', 1-255 bytes.
GLUE_NAME = re.compile(r"[a-z0-9_]{1,255}")
LONG = "x" * 300


# ---- names ---------------------------------------------------------------------------------------------------------

DATABASES = [
    (("flytesnacks", "development", None), "flyte_flytesnacks_development"),
    (("my-project", "Prod", None), "flyte_my_project_prod"),
    (("a.b", "c d", None), "flyte_a_b_c_d"),
    (("p", "d", "Analytics-Lake"), "analytics_lake"),
    (("p", "d", ""), "flyte_p_d"),
    (("café", "dev", None), "flyte_caf__dev_" + stable_hash("flyte\x1fcafé\x1fdev")),
]


@pytest.mark.parametrize(("args", "expected"), DATABASES)
def test_database_name(args: tuple[str, str, str | None], expected: str) -> None:
    assert database_name(*args) == expected


TABLES = [
    (("etl.orders.extract_orders", "o0"), "etl_orders_extract_orders_o0"),
    (("app.wf.Extract", "O0"), "app_wf_extract_o0"),
    (("my-task", "out-put"), "my_task_out_put"),
    (("app.wf.t", "my_output"), "app_wf_t_my_output"),
]


@pytest.mark.parametrize(("args", "expected"), TABLES)
def test_table_name_follows_the_contract(args: tuple[str, str], expected: str) -> None:
    assert table_name(*args) == expected


# Inputs that plain normalization would cut or fold together: each gets a distinct, valid name.
HASHED_INPUTS = [
    ("app.café", "o0"),
    ("app.cafè", "o0"),
    ("app.数据", "o0"),
    ("app.表格", "o0"),
    (LONG, "o0"),
    (LONG, "o1"),
    (LONG + "y", "o0"),
    ("t", LONG),
]


def test_unicode_and_long_names_are_valid_distinct_and_stable() -> None:
    names = [table_name(*args) for args in HASHED_INPUTS]
    assert all(GLUE_NAME.fullmatch(n) for n in names), names
    assert len(set(names)) == len(names)
    assert names == [table_name(*args) for args in HASHED_INPUTS]
    assert len(table_name(LONG, "o0")) == 255
    assert table_name(LONG, "o0").startswith("x" * 200)
    assert len(database_name(LONG, LONG)) == 255


def test_every_name_is_valid() -> None:
    samples = ["", ".", "-", "A", "ÄÖÜ", "a b\tc", "a/b:c", "🙂", LONG, "x" * 254, "x" * 255]
    for task, output in itertools.product(samples, repeat=2):
        assert GLUE_NAME.fullmatch(table_name(task, output)), (task, output)
        assert GLUE_NAME.fullmatch(database_name(task, output)), (task, output)


# ---- Arrow -> Hive -------------------------------------------------------------------------------------------------


def f(type_: str, *children: SchemaField, name: str = "c") -> SchemaField:
    """A schema field (shorthand for the tables)."""
    return SchemaField(name=name, type=type_, children=children)


ITEM = "item"
HIVE_TYPES = [
    (f("int8"), "tinyint"),
    (f("int16"), "smallint"),
    (f("int32"), "int"),
    (f("int64"), "bigint"),
    (f("uint8"), "smallint"),
    (f("uint16"), "int"),
    (f("uint32"), "bigint"),
    (f("uint64"), "bigint"),
    (f("halffloat"), "float"),
    (f("float"), "float"),
    (f("double"), "double"),
    (f("bool"), "boolean"),
    (f("string"), "string"),
    (f("large_string"), "string"),
    (f("binary"), "binary"),
    (f("large_binary"), "binary"),
    (f("fixed_size_binary[16]"), "binary"),
    (f("date32[day]"), "date"),
    (f("date64[ms]"), "date"),
    (f("timestamp[us, tz=UTC]"), "timestamp"),
    (f("timestamp[ns]"), "timestamp"),
    (f("decimal128(10, 2)"), "decimal(10,2)"),
    (f("decimal256(38, 0)"), "decimal(38,0)"),
    (f("time32[ms]"), "int"),
    (f("time64[us]"), "bigint"),
    (f("duration[s]"), "bigint"),
    (f("null"), "string"),
    (f("dictionary<values=string, indices=int32, ordered=0>"), "string"),
    (f("list", f("int32", name=ITEM)), "array<int>"),
    (f("large_list", f("string", name=ITEM)), "array<string>"),
    (f("struct", f("int64", name="Id"), f("string", name="name")), "struct<id:bigint,name:string>"),
    (f("map", f("string", name="key"), f("double", name="value")), "map<string,double>"),
    (f("map", f("double", name="value"), f("string", name="key")), "map<string,double>"),
    (
        f(
            "list",
            f("struct", f("map", f("string", name="key"), f("list", f("int8", name=ITEM), name="value"), name="m")),
        ),
        "array<struct<m:map<string,array<tinyint>>>>",
    ),
    (
        f("struct", f("decimal128(12, 2)", name="amount"), f("timestamp[ms]", name="at"), f("date32[day]", name="d")),
        "struct<amount:decimal(12,2),at:timestamp,d:date>",
    ),
]


@pytest.mark.parametrize(("field", "expected"), HIVE_TYPES)
def test_arrow_to_hive(field: SchemaField, expected: str) -> None:
    assert arrow_to_hive(field) == expected


UNSUPPORTED = [
    f("month_day_nano_interval"),
    f("decimal256(50, 3)"),
    f("extension<arrow.uuid>"),
    f("list"),
    f("struct", f("int32", name="a b")),
]


@pytest.mark.parametrize("field", UNSUPPORTED)
def test_arrow_to_hive_refuses_what_hive_cannot_express(field: SchemaField) -> None:
    with pytest.raises(GlueTypeError):
        arrow_to_hive(field)


# ---- TableInput ----------------------------------------------------------------------------------------------------

P, D = "flytesnacks", "development"
ORDERS = (SchemaField("order_id", "int64", nullable=False), SchemaField("Total", "decimal128(12, 2)"))


def ds(task: str, output: str = "o0", **kw: object) -> Dataset:
    """An output dataset of ``task`` (Parquet structured dataset unless overridden)."""
    values: dict[str, object] = {
        "platform": "flyte",
        "name": f"{P}.{D}.{task}.{output}",
        "uri": f"s3://flyte/raw/x-{task}/{output}",
        "kind": "structured_dataset",
        "format": "parquet",
        "fields": ORDERS,
        "schema_source": "literal_type",
        "producer_task": task,
        "output_name": output,
        "project": P,
        "domain": D,
        **kw,
    }
    return Dataset(**values)  # type: ignore[arg-type]


def node(node_id: str, dataset: Dataset, phase: str = "SUCCEEDED", cache: str | None = None) -> NodeRun:
    """A task node that produced ``dataset`` as ``o0``."""
    assert dataset.producer_task is not None
    return NodeRun(
        node_id=node_id,
        kind="task",
        phase=phase,
        result="SUCCESS" if phase == "SUCCEEDED" else "FAILURE",
        task=TaskRef(P, D, dataset.producer_task),
        cache_status=cache,
        outputs=(DatasetUse(dataset.output_name or "o0", dataset.key),),
    )


def execution(name: str, *pairs: tuple[NodeRun, Dataset], ended: int = 0) -> Execution:
    """An execution made of the given (node, dataset) pairs."""
    return Execution(
        id=ExecutionId(P, D, name),
        workflow_name="app.wf",
        phase="SUCCEEDED",
        ended_at=datetime(2024, 5, 1, 6, ended, tzinfo=UTC),
        nodes=tuple(n for n, _ in pairs),
        datasets=tuple(sorted({d for _, d in pairs})),
    )


def test_parquet_table_input() -> None:
    dataset = ds("app.wf.extract")
    [table] = build_table_inputs(execution("e1", (node("n0", dataset), dataset)))
    assert (table.database, table.name) == ("flyte_flytesnacks_development", "app_wf_extract_o0")
    assert table.table_input == {
        "Name": "app_wf_extract_o0",
        "Description": "Output 'o0' of Flyte task 'app.wf.extract'; data stays at its Flyte location.",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "EXTERNAL": "TRUE",
            "flyte.project": P,
            "flyte.domain": D,
            "flyte.task": "app.wf.extract",
            "flyte.output": "o0",
            "flyte.execution": "e1",
            "flyte.dataset": f"{P}.{D}.app.wf.extract.o0",
            "flyte.dataset_uri": "s3://flyte/raw/x-app.wf.extract/o0",
            "flyte.schema_source": "literal_type",
        },
        "StorageDescriptor": {
            "Columns": [
                {"Name": "order_id", "Type": "bigint", "Comment": "arrow int64"},
                {"Name": "total", "Type": "decimal(12,2)", "Comment": "arrow decimal128(12, 2)"},
            ],
            "Location": "s3://flyte/raw/x-app.wf.extract/o0/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "Compressed": False,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                "Parameters": {"serialization.format": "1"},
            },
        },
        "PartitionKeys": [],
    }


def test_cached_and_failed_nodes_produce_no_table() -> None:
    cached, failed, ok = ds("app.cached"), ds("app.failed"), ds("app.ok")
    run = execution(
        "e1",
        (node("n0", cached, cache="CACHE_HIT"), cached),
        (node("n1", failed, phase="FAILED"), failed),
        (node("n2", ok, cache="CACHE_POPULATED"), ok),
    )
    assert [t.name for t in build_table_inputs(run)] == ["app_ok_o0"]


SERDES = "org.apache.hadoop.hive.serde2.OpenCSVSerde", "org.openx.data.jsonserde.JsonSerDe"
BLOBS = [
    # (kind, format, uri, expected location, serde or None when skipped)
    ("multipart_blob", "json", "s3://b/raw/n0/dir", "s3://b/raw/n0/dir/", SERDES[1]),
    ("blob", "", "s3://b/raw/n0/model.bin", None, None),
    ("multipart_blob", "pickle", "s3://b/raw/n0/dir/", None, None),
    ("blob", "pickle", "s3://b/raw/n0/x.pkl", None, None),
]


@pytest.mark.parametrize(("kind", "fmt", "uri", "location", "serde"), BLOBS)
def test_blobs(kind: str, fmt: str, uri: str, location: str | None, serde: str | None) -> None:
    dataset = ds("app.blob", kind=kind, format=fmt, uri=uri, fields=())
    plan = plan_glue_tables([execution("e1", (node("n0", dataset), dataset))])
    if serde is None:
        assert plan.tables == ()
        [skipped] = plan.skipped
        assert (skipped.dataset_key, skipped.execution) == (dataset.key, "flytesnacks-development-e1")
        assert "format" in skipped.reason
        return
    [table] = plan.tables
    descriptor = table.table_input["StorageDescriptor"]
    assert (descriptor["Location"], descriptor["SerdeInfo"]["SerializationLibrary"]) == (location, serde)
    assert descriptor["Columns"] == []
    assert table.table_input["Parameters"]["classification"] == fmt.lower()


HEADER = (SchemaField("sensor", "string"), SchemaField("reading", "string"))
CSVS = [
    # (kind, format, uri, fields, schema_source, expected location or None when skipped)
    ("blob", "csv", "s3://b/raw/n0/report.csv", HEADER, "csv_header", "s3://b/raw/n0/"),
    ("blob", "CSV", "s3://b/raw/n1/r.csv", HEADER, "csv_header", "s3://b/raw/n1/"),
    ("multipart_blob", "csv", "s3://b/raw/n0/dir", HEADER, "csv_header", "s3://b/raw/n0/dir/"),
    ("structured_dataset", "csv", "s3://b/raw/n0/sd", HEADER, "csv_header", "s3://b/raw/n0/sd/"),
    # no header read: never a table with no columns, and declared columns alone are not the file's layout
    ("blob", "csv", "s3://b/raw/n0/report.csv", (), "none", None),
    ("structured_dataset", "csv", "s3://b/raw/n0/sd", (), "none", None),
    ("structured_dataset", "csv", "s3://b/raw/n0/sd", HEADER, "literal_type", None),
    ("multipart_blob", "csv", "s3://b/raw/n0/dir", (), "csv_header", None),
]


@pytest.mark.parametrize(("kind", "fmt", "uri", "fields", "source", "location"), CSVS)
def test_csv_table_only_from_a_read_header(
    kind: str, fmt: str, uri: str, fields: tuple[SchemaField, ...], source: str, location: str | None
) -> None:
    dataset = ds("app.csv", kind=kind, format=fmt, uri=uri, fields=fields, schema_source=source)
    plan = plan_glue_tables([execution("e1", (node("n0", dataset), dataset))])
    if location is None:
        assert plan.tables == ()
        [skipped] = plan.skipped
        assert (skipped.dataset_key, skipped.execution) == (dataset.key, "flytesnacks-development-e1")
        assert "header line could not be read" in skipped.reason
        return
    assert plan.skipped == ()
    [table] = plan.tables
    descriptor = table.table_input["StorageDescriptor"]
    assert descriptor["Location"] == location
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == SERDES[0]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [("sensor", "string"), ("reading", "string")]
    parameters = table.table_input["Parameters"]
    assert parameters["classification"] == "csv"
    assert parameters["skip.header.line.count"] == "1"
    assert parameters["flyte.schema_source"] == "csv_header"


SKIPS = [
    (ds("app.nocols", fields=()), "no known columns"),
    (ds("app.avro", format="avro"), "has no Glue table format"),
    (ds("app.bad", fields=(SchemaField("i", "month_day_nano_interval"),)), "no Hive equivalent"),
    (ds("app.dup", fields=(SchemaField("a", "int8"), SchemaField("A", "int8"))), "once lowercased"),
]


@pytest.mark.parametrize(("dataset", "reason"), SKIPS)
def test_unusable_datasets_are_skipped_with_a_reason(dataset: Dataset, reason: str) -> None:
    plan = plan_glue_tables([execution("e1", (node("n0", dataset), dataset))])
    assert plan.tables == ()
    assert reason in plan.skipped[0].reason


def test_colliding_names_get_distinct_hashed_names() -> None:
    a, b, c = ds("a.b", "c"), ds("a_b", "c"), ds("a", "b_c")
    plan = plan_glue_tables([execution("e1", (node("n0", a), a), (node("n1", b), b), (node("n2", c), c))])
    names = [t.name for t in plan.tables]
    assert sorted(names) == sorted(f"a_b_c_{stable_hash(x.name)}" for x in (a, b, c))
    assert all(GLUE_NAME.fullmatch(n) for n in names)


def test_latest_execution_wins_and_output_is_deterministic() -> None:
    old, new = ds("app.t", uri="s3://b/old"), ds("app.t", uri="s3://b/new")
    runs = [execution("e2", (node("n0", new), new), ended=30), execution("e1", (node("n0", old), old), ended=10)]
    plan = plan_glue_tables(runs)
    assert plan == plan_glue_tables(list(reversed(runs)))
    [table] = plan.tables
    assert table.table_input["StorageDescriptor"]["Location"] == "s3://b/new/"
    assert table.table_input["Parameters"]["flyte.execution"] == "e2"


def test_database_override_applies_to_every_table() -> None:
    dataset = ds("app.t")
    [table] = build_table_inputs(execution("e1", (node("n0", dataset), dataset)), database_override="Lake")
    assert table.database == "lake"


# ---- issue 10 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "layout", "location"),
    [
        ("s3://b/x/data.parquet", "file", "s3://b/x/"),  # point 5: one object is a file, its table is its directory
        ("s3://b/x/sd", "directory", "s3://b/x/sd/"),
        ("s3://b/x/sd", "", "s3://b/x/sd/"),
    ],
)
def test_structured_dataset_location_follows_its_layout(uri: str, layout: str, location: str) -> None:
    dataset = ds("app.single", uri=uri, layout=layout)
    [table] = build_table_inputs(execution("e1", (node("n0", dataset), dataset)))
    assert table.table_input["StorageDescriptor"]["Location"] == location


PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


@pytest.mark.parametrize(
    ("kind", "fmt", "uri", "fields", "source", "location", "skip"),
    [
        # issue 10.9: FlyteFile[parquet] / FlyteDirectory[parquet] are registered with their footer schema
        ("blob", "parquet", "s3://b/n0/f.parquet", ORDERS, "parquet_footer", "s3://b/n0/", None),
        ("multipart_blob", "parquet", "s3://b/n0/dir", ORDERS, "parquet_footer", "s3://b/n0/dir/", None),
        # a plain FlyteFile whose data is Parquet (recognised by the footer)
        ("blob", "", "s3://b/n0/data", ORDERS, "parquet_footer", "s3://b/n0/", None),
        ("multipart_blob", "parquet", "s3://b/n0/dir", (), "none", None, "footer could not be read"),
        ("blob", "", "s3://b/n0/model.bin", (), "none", None, "has no Glue table format"),
    ],
)
def test_parquet_blobs_are_registered_with_their_footer_schema(
    kind: str, fmt: str, uri: str, fields: tuple[SchemaField, ...], source: str, location: str | None, skip: str | None
) -> None:
    dataset = ds("app.blob", kind=kind, format=fmt, uri=uri, fields=fields, schema_source=source)
    plan = plan_glue_tables([execution("e1", (node("n0", dataset), dataset))])
    if skip is not None:
        assert plan.tables == () and skip in plan.skipped[0].reason
        return
    [table] = plan.tables
    descriptor = table.table_input["StorageDescriptor"]
    assert (descriptor["Location"], descriptor["SerdeInfo"]["SerializationLibrary"]) == (location, PARQUET_SERDE)
    assert [c["Name"] for c in descriptor["Columns"]] == ["order_id", "total"]


REFUSED_LOCATIONS = [
    # (dataset uri, read_buckets, reason fragment): none of these becomes a table
    ("file:///etc/passwd-dir", (), "only s3:// locations are allowed, not file"),
    ("http://169.254.169.254/latest/meta-data", (), "only s3:// locations are allowed, not http"),
    ("s3://secret-bucket/raw/x", ("flyte",), "bucket 'secret-bucket' is not in read_buckets"),
]


@pytest.mark.parametrize(("uri", "read_buckets", "reason"), REFUSED_LOCATIONS)
def test_locations_outside_the_policy_are_skipped_not_registered(
    uri: str, read_buckets: tuple[str, ...], reason: str
) -> None:
    refused, allowed = ds("app.refused", uri=uri), ds("app.allowed")
    run = execution("e1", (node("n0", refused), refused), (node("n1", allowed), allowed))
    plan = plan_glue_tables([run], read_buckets=read_buckets)
    assert [t.name for t in plan.tables] == ["app_allowed_o0"]
    [skipped] = plan.skipped
    assert skipped.dataset_key == refused.key
    assert skipped.reason == f"location not registered: {reason}"


# ---- list datasets (issue 10 point 8): one partitioned table, one partition per element ---------------------------

ELEMENTS = (("0", "s3://flyte/raw/a/e0"), ("1", "s3://flyte/raw/b/e1"), ("2", "s3://flyte/raw/c/e2"))


def test_a_list_dataset_is_one_table_with_one_partition_per_element() -> None:
    dataset = ds("app.wf.split", elements=ELEMENTS)
    [table] = build_table_inputs(execution("e1", (node("n0", dataset), dataset)))
    assert table.name == "app_wf_split_o0"
    assert table.table_input["PartitionKeys"] == [
        {
            "Name": "element",
            "Type": "string",
            "Comment": "list indices of the element (0, 1, ...; 0.1 for a list of lists)",
        }
    ]
    descriptor = table.table_input["StorageDescriptor"]
    assert descriptor["Location"] == "s3://flyte/raw/"
    assert table.table_input["Parameters"]["flyte.elements"] == "3"
    assert [(p["Values"], p["StorageDescriptor"]["Location"], p["Parameters"]) for p in table.partitions] == [
        (["0"], "s3://flyte/raw/a/e0/", {"flyte.element_uri": "s3://flyte/raw/a/e0"}),
        (["1"], "s3://flyte/raw/b/e1/", {"flyte.element_uri": "s3://flyte/raw/b/e1"}),
        (["2"], "s3://flyte/raw/c/e2/", {"flyte.element_uri": "s3://flyte/raw/c/e2"}),
    ]
    for partition in table.partitions:  # every partition reads its element with the table's format and columns
        assert {**partition["StorageDescriptor"], "Location": descriptor["Location"]} == descriptor


def test_a_list_of_files_partitions_on_the_directory_of_each_file() -> None:
    elements = (("0", "s3://flyte/raw/a/part.parquet"), ("1", "s3://flyte/raw/b/part.parquet"))
    dataset = ds("app.wf.files", kind="blob", schema_source="parquet_footer", elements=elements)
    [table] = build_table_inputs(execution("e1", (node("n0", dataset), dataset)))
    assert table.table_input["StorageDescriptor"]["Location"] == "s3://flyte/raw/"
    assert [p["StorageDescriptor"]["Location"] for p in table.partitions] == ["s3://flyte/raw/a/", "s3://flyte/raw/b/"]


def test_a_plain_dataset_has_no_partitions() -> None:
    dataset = ds("app.wf.extract")
    [table] = build_table_inputs(execution("e1", (node("n0", dataset), dataset)))
    assert (table.partitions, table.table_input["PartitionKeys"]) == ((), [])
    assert "flyte.elements" not in table.table_input["Parameters"]


LIST_SKIPS = [
    (
        ds("app.l", elements=ELEMENTS, properties=(("element_schemas", "differ"),)),
        "elements hold different columns",
    ),
    (ds("app.l", elements=ELEMENTS, fields=(SchemaField("element", "int64"),)), "a column named 'element'"),
    (
        ds("app.l", kind="blob", elements=(("0", "s3://flyte/raw/a/x.csv"), ("1", "s3://flyte/raw/a/y.csv"))),
        "elements share a directory",
    ),
]


@pytest.mark.parametrize(("dataset", "reason"), LIST_SKIPS)
def test_lists_that_cannot_be_one_table_are_skipped(dataset: Dataset, reason: str) -> None:
    if dataset.kind == "blob":
        dataset = Dataset(**{**dataset.__dict__, "schema_source": "parquet_footer"})
    plan = plan_glue_tables([execution("e1", (node("n0", dataset), dataset))])
    assert plan.tables == ()
    [skipped] = plan.skipped
    assert reason in skipped.reason


def test_a_list_with_one_element_outside_read_buckets_is_not_registered() -> None:
    elements = (*ELEMENTS, ("3", "s3://secret-bucket/raw/e3"))
    dataset = ds("app.l", elements=elements)
    plan = plan_glue_tables([execution("e1", (node("n0", dataset), dataset))], read_buckets=("flyte",))
    assert plan.tables == ()
    assert plan.skipped[0].reason == "location not registered: bucket 'secret-bucket' is not in read_buckets"


@pytest.mark.parametrize(
    ("uris", "expected"),
    [
        (["s3://b/x/1/a", "s3://b/x/2/b"], "s3://b/x"),
        (["s3://b/x/1/a"], "s3://b/x/1"),
        (["s3://b/x/a/", "s3://b/x/b"], "s3://b/x"),
        (["s3://b/data/0f/e-n1-n0-0/f", "s3://b/data/5b/e-n1-n1-0/g"], "s3://b/data"),
        (["s3://b/a", "s3://b/c"], "s3://b"),
        (["s3://b/x/a", "s3://c/x/a"], "s3://b/x"),  # other buckets: the first element's directory
    ],
)
def test_common_directory(uris: list[str], expected: str) -> None:
    from flytelineage.domain.glue_tables import common_directory

    assert common_directory(uris) == expected
