"""Dataset resolution over what flytekit 1.16.31 really writes (issue 10), on the emulator's S3.

The fixtures are made by real flytekit tasks run through flytekit's container entrypoint
(``tests/flytekit_fixtures``). For each case the project's resolution reads the task's ``outputs.pb`` through the
S3 reader the operators use, and what it reports is compared with what the files hold, read here independently:
the Parquet footer of every data file (with pyarrow) and the header line of every CSV file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table
from flytelineage.domain.execution_grouping import split_ready
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.lineage_model import Dataset, Execution
from flytelineage.domain.literal_datasets import (
    FoundDataset,
    LiteralBudget,
    LiteralRef,
    find_datasets,
    read_data_schemas,
    read_literal_maps,
)
from flytelineage.domain.urn_names import flyte_dataset_name
from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook, split_s3_uri
from tests.flytekit_fixtures.events import flytekit_execution
from tests.flytekit_fixtures.session import Artefacts

pytestmark = pytest.mark.integration

PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Reported:
    """What the product reports for one dataset of a case, and the problems it recorded for the case."""

    dataset: FoundDataset
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Resolution:
    datasets: tuple[Reported, ...]
    problems: tuple[str, ...]


def resolve(outputs_uri: str) -> Resolution:
    """The project's resolution of one LiteralMap: datasets found, schemas (footer, CSV header or literal), problems."""
    reader = S3BulkReaderHook(aws_conn_id=None)
    maps = read_literal_maps([LiteralRef(outputs_uri)], reader)
    literal_map = maps.maps.get(outputs_uri)
    budget = LiteralBudget()
    found = find_datasets(literal_map, read=maps, budget=budget) if literal_map is not None else []
    footers = read_data_schemas(found, reader)
    reported = []
    for dataset in found:
        fields = footers.fields.get(dataset.uri) or dataset.fields
        reported.append(Reported(dataset, tuple((f.name, f.type) for f in fields)))
    problems = {*maps.problems.values(), *budget.problems, *footers.problems.values()}
    return Resolution(tuple(reported), tuple(sorted(problems)))


# ---- what the files hold, read by the test --------------------------------------------------------------------------


def _object(uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def file_truth(files: Sequence[str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``("parquet", columns)`` from the footers, ``("csv", header columns)``, or ``("none", ())`` for no data.

    Every data file of a dataset must agree (the fixture would be wrong otherwise).
    """
    schemas: set[tuple[tuple[str, str], ...]] = set()
    headers: set[tuple[tuple[str, str], ...]] = set()
    for uri in files:
        data = _object(uri)
        if len(data) >= 8 and data[:4] == PARQUET_MAGIC and data[-4:] == PARQUET_MAGIC:
            schema = pq.read_schema(pa.BufferReader(data))
            schemas.add(tuple((f.name, str(f.type)) for f in schema))
        elif data:
            header = data.split(b"\n", 1)[0].decode("utf-8").strip()
            headers.add(tuple((name, "") for name in header.split(",")))
    assert len(schemas) + len(headers) <= 1, f"data files of one dataset disagree: {files}"
    if schemas:
        return "parquet", schemas.pop()
    if headers:
        return "csv", headers.pop()
    return "none", ()


def _norm(uri: str) -> str:
    return uri.rstrip("/")


# ---- the table ------------------------------------------------------------------------------------------------------

# Every fixture case and what it is about. What the product must report for each dataset follows from the file:
#   a Parquet file: exactly the columns (name, Arrow type) of its footer;
#   a CSV file of a structured dataset (format "csv"): the header's column names (types free);
#   a CSV file behind a plain or CSV-typed FlyteFile/FlyteDirectory: the header's names or no columns;
# and no problem at all, except where a miss is expected to be recorded (ANNOTATION_MISMATCH).
CASES: dict[str, str] = {
    "frame_plain": "pd.DataFrame, no annotation",
    "frame_annotated": "Annotated[pd.DataFrame, kwtypes(all 11 columns)]",
    "frame_partly_annotated": "Annotated[pd.DataFrame, kwtypes(1 of 11 columns)]",
    "frame_wrongly_annotated": "Annotated[pd.DataFrame, kwtypes(columns that do not exist)]",
    "arrow_plain": "pa.Table",
    "arrow_schema_annotated": "Annotated[StructuredDataset, pa.schema(3 of 11 columns)]",
    "frame_wide": "2,500 columns: a footer larger than the first tail read",
    "frame_csv": "Annotated[StructuredDataset, 'csv']: one object named <uri>/.csv",
    "schema_legacy": "FlyteSchema[kwtypes(...)]",
    "sd_directory": "StructuredDataset(uri=<directory>) written by the task",
    "sd_spark_layout": "StructuredDataset(uri=<directory>) with part-*.snappy.parquet and _SUCCESS",
    "sd_single_file": "StructuredDataset(uri=<.../data.parquet>)",
    "sd_trailing_slash": "the same directory with and without a trailing slash",
    "file_parquet_typed": "FlyteFile[parquet]",
    "file_csv_typed": "FlyteFile[csv]",
    "file_plain_parquet": "FlyteFile holding Parquet",
    "file_plain_csv": "FlyteFile holding CSV",
    "dir_parquet_typed": "FlyteDirectory[parquet]",
    "dir_plain_parquet": "FlyteDirectory of Parquet files",
    "dir_plain_csv": "FlyteDirectory of CSV files",
    "frame_list": "List[pd.DataFrame]",
    "frame_dict": "Dict[str, pd.DataFrame]",
    "frame_nested": "List[Dict[str, pd.DataFrame]]",
    "map_shards": "map_task over 3 shards (array node; outputs gathered into a collection)",
    "frame_optional": "Optional[pd.DataFrame] holding a frame",
    "frame_optional_none": "Optional[pd.DataFrame] holding None: no dataset",
    "file_or_text": "Union[FlyteFile, str] holding a Parquet file",
    "dataclass_bundle": "dataclass with a StructuredDataset, a FlyteFile (CSV) and a List[StructuredDataset]",
    "pydantic_delivery": "pydantic model with a StructuredDataset and a FlyteDirectory",
    "frame_list_offloaded": "List[pd.DataFrame] with flytekit's literal offloading on",
    "consume_frame": "a task whose only output is an int: no dataset",
}
NO_DATASET = {"frame_optional_none", "consume_frame"}

# Cases whose annotation declares columns the file does not hold: the execution must record the mismatch as a problem
# (raised where the footer replaces the declaration, in ``resolve_executions``). An annotation naming a subset of the
# real columns with their types is what flytekit uses to select columns on read, not a mismatch.
ANNOTATION_MISMATCH = {"frame_wrongly_annotated"}
# Cases with declared columns: the execution keeps the declaration as the ``declared_columns`` property. Not
# ``arrow_schema_annotated``: flytekit 1.16.31 stores a pa.schema annotation as ``external_schema_type="arrow"`` with
# no columns (and 8 bytes of ``external_schema_bytes``), so there is no declaration to keep.
ANNOTATED = {"frame_annotated", "frame_partly_annotated", "frame_wrongly_annotated"}

# Cases that still fail because resolution does not handle them yet: case -> the issue point (none left).
UNFIXED: dict[str, str] = {}


def _param(name: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=UNFIXED[name])] if name in UNFIXED else []
    return pytest.param(name, id=name, marks=marks)


def test_every_fixture_case_is_in_the_table(flytekit_artefacts: Artefacts) -> None:
    assert set(flytekit_artefacts.cases) == set(CASES)


@pytest.mark.parametrize("name", [_param(n) for n in CASES])
def test_reported_datasets_match_the_files(flytekit_artefacts: Artefacts, name: str) -> None:
    case = flytekit_artefacts.case(name)
    result = resolve(case["outputs"])
    expected = {_norm(d["uri"]): d for d in case["datasets"]}
    reported = {_norm(r.dataset.uri): r for r in result.datasets}
    if name in NO_DATASET:
        assert expected == {}, "fixture: the case holds no dataset"
        assert reported == {}
        assert result.problems == ()
        return
    assert expected, "fixture: the case must hold datasets"
    assert sorted(reported) == sorted(expected), "locations"
    for location, entry in expected.items():
        got = reported[location]
        kind, columns = file_truth(entry["files"])
        assert kind != "none", f"fixture: {location} has no data"
        names = [n for n, _ in columns]
        if kind == "parquet":
            assert got.fields == columns, f"{location}: columns differ from the file's footer"
        elif entry["kind"] == "structured_dataset":
            assert [n for n, _ in got.fields] == names, f"{location}: not the CSV header"
        else:
            assert got.fields == () or [n for n, _ in got.fields] == names, f"{location}: not the CSV header"
        assert (got.dataset.variable, got.dataset.element) == (entry["variable"], entry["element"])
    assert result.problems == (), "spurious problems"


# ---- the same cases through the product's whole resolution: events -> grouping -> resolve_executions -----------------

RECEIVED = datetime(2024, 1, 1, 13, 0, tzinfo=UTC)  # the generated events start at 12:00
AS_OF = RECEIVED + timedelta(days=1)


@pytest.fixture(scope="module")
def execution(flytekit_artefacts: Artefacts) -> Execution:
    """One generated execution, one task node per case, resolved from S3 as the grouping operator does."""
    from flytelineage.testing.flyte_event_generator import write_objects

    run = flytekit_execution(flytekit_artefacts, list(CASES), name="fkresolve01")
    write_objects(boto3.client("s3"), run.objects)
    decoded = decode_messages([SqsMessage(m.message_id, m.body) for m in run.messages], received_at=RECEIVED)
    assert decoded.quarantine == []
    split = split_ready(None, events_to_table(decoded.events), as_of=AS_OF, settle=timedelta(minutes=10))
    executions = resolve_executions(split.ready, S3BulkReaderHook(aws_conn_id=None), link_events=split.state.pending)
    assert len(executions) == 1
    return executions[0]


def _by_location(execution: Execution) -> dict[str, Dataset]:
    """Every location the execution reports -> its dataset (a list dataset's element locations map to it)."""
    found: dict[str, Dataset] = {}
    for dataset in execution.datasets:
        found[_norm(dataset.uri)] = dataset
        for _, uri in dataset.elements:
            found[_norm(uri)] = dataset
    return found


@pytest.mark.parametrize("name", [_param(n) for n in CASES])
def test_execution_reports_the_files(flytekit_artefacts: Artefacts, execution: Execution, name: str) -> None:
    case = flytekit_artefacts.case(name)
    reported = _by_location(execution)
    problems = [p for p in execution.problems if any(_norm(d["uri"]) in p for d in case["datasets"])]
    for entry in case["datasets"]:
        location = _norm(entry["uri"])
        assert location in reported, f"{location} is not reported"
        got = tuple((f.name, f.type) for f in reported[location].fields)
        kind, columns = file_truth(entry["files"])
        if kind == "parquet":
            assert got == columns, f"{location}: columns differ from the file's footer"
        elif entry["kind"] == "structured_dataset":
            assert [n for n, _ in got] == [n for n, _ in columns], f"{location}: not the CSV header"
            assert reported[location].schema_source == "csv_header", f"{location}: the header is the schema source"
        else:
            assert got == () or [n for n, _ in got] == [n for n, _ in columns], f"{location}: not the CSV header"
        if name in ANNOTATED:
            assert "declared_columns" in dict(reported[location].properties), "the declaration is kept"
    if name in ANNOTATION_MISMATCH:
        assert problems, "the annotation/file mismatch must be recorded as a problem"
    else:
        assert problems == [], "spurious problems"


# Cases whose outputs hold lists (a map task's gathered outputs included): each list is one dataset.
LISTS = {"frame_list", "frame_nested", "map_shards", "frame_list_offloaded", "dataclass_bundle"}


def test_the_list_cases_are_the_cases_with_list_elements(flytekit_artefacts: Artefacts) -> None:
    with_elements = {
        name for name, case in flytekit_artefacts.cases.items() if any(d["element"] for d in case["datasets"])
    }
    assert with_elements == LISTS


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_list_is_one_dataset_holding_every_element_location(
    flytekit_artefacts: Artefacts, execution: Execution, name: str
) -> None:
    case = flytekit_artefacts.case(name)
    lists: dict[str, list[dict[str, Any]]] = {}
    for entry in case["datasets"]:
        if entry["element"]:
            lists.setdefault(entry["variable"], []).append(entry)
    task = case["task"]
    for variable, entries in lists.items():
        [dataset] = [d for d in execution.datasets if d.producer_task == task and d.output_name == variable]
        ordered = sorted(entries, key=lambda e: [int(i) for i in e["element"].split(".")])
        assert dataset.elements == tuple((e["element"], _norm(e["uri"])) for e in ordered), "elements, in list order"
        assert dataset.name == flyte_dataset_name("flytesnacks", "development", task, variable)
        assert dataset.uri == _norm(ordered[0]["uri"])
        kind, columns = file_truth(ordered[0]["files"])
        assert tuple((f.name, f.type) for f in dataset.fields) == columns, "the first element's footer"
        if all(file_truth(e["files"]) == (kind, columns) for e in ordered):
            assert "element_schemas" not in dict(dataset.properties)
        else:
            assert dict(dataset.properties)["element_schemas"] == "differ"
    node = next(n for n in execution.nodes if n.task and n.task.name == task)
    assert sorted(u.variable for u in node.outputs) == sorted({e["variable"] for e in case["datasets"]})


def test_execution_has_no_problem_outside_the_cases(flytekit_artefacts: Artefacts, execution: Execution) -> None:
    locations = {_norm(d["uri"]) for c in flytekit_artefacts.cases.values() for d in c["datasets"]}
    assert [p for p in execution.problems if not any(loc in p for loc in locations)] == []


def test_a_list_is_one_glue_table_with_one_partition_per_element(
    flytekit_artefacts: Artefacts, execution: Execution
) -> None:
    from flytelineage.domain.glue_tables import plan_glue_tables

    plan = plan_glue_tables([execution])
    tables = {t.table_input["Parameters"]["flyte.dataset"]: t for t in plan.tables}
    for name in sorted(LISTS):
        case = flytekit_artefacts.case(name)
        for variable in sorted({e["variable"] for e in case["datasets"] if e["element"]}):
            table = tables[flyte_dataset_name("flytesnacks", "development", case["task"], variable)]
            entries = [e for e in case["datasets"] if e["variable"] == variable]
            assert [k["Name"] for k in table.table_input["PartitionKeys"]] == ["element"]
            assert {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in table.partitions} == {
                e["element"]: _norm(e["uri"]) + "/" for e in entries
            }
            for partition in table.partitions:
                assert partition["StorageDescriptor"]["Location"].startswith(
                    table.table_input["StorageDescriptor"]["Location"]
                )
