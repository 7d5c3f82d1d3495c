"""Dataset resolution over what flytekit 1.16.31 really writes (issue 10), on the emulator's S3.

The fixtures are made by real flytekit tasks run through flytekit's container entrypoint
(``tests/flytekit_fixtures``). For each case the project's resolution reads the task's ``outputs.pb`` through the
S3 reader the operators use, and what it reports is compared with what the files hold, read here independently:
the Parquet footer of every data file (with pyarrow) and the header line of every CSV file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flytelineage.domain.literal_datasets import (
    FoundDataset,
    LiteralRef,
    find_datasets,
    read_footer_schemas,
    read_literal_maps,
)
from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook, split_s3_uri
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
    """The project's resolution of one LiteralMap: datasets found, schemas (footer or literal) and problems."""
    reader = S3BulkReaderHook(aws_conn_id=None)
    maps = read_literal_maps([LiteralRef(outputs_uri)], reader)
    literal_map = maps.maps.get(outputs_uri)
    found = find_datasets(literal_map) if literal_map is not None else []
    footers = read_footer_schemas(found, reader)
    reported = []
    for dataset in found:
        fields = footers.fields.get(dataset.uri) or dataset.fields
        reported.append(Reported(dataset, tuple((f.name, f.type) for f in fields)))
    return Resolution(tuple(reported), tuple(sorted({*maps.problems.values(), *footers.problems.values()})))


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

# case -> (what the product must report for each dataset, issue point left unfixed that makes the case fail or "")
#   footer: the columns of the real Parquet footer;   csv: the CSV header's column names (types free);
#   csv_or_nothing: the header's names or no columns, never a problem;   none: no dataset at all.
CASES: dict[str, str] = {
    "frame_plain": "footer",
    "frame_annotated": "footer",
    "frame_partly_annotated": "footer",
    "frame_wrongly_annotated": "footer",
    "arrow_plain": "footer",
    "arrow_schema_annotated": "footer",
    "frame_wide": "footer",
    "frame_csv": "csv",
    "schema_legacy": "footer",
    "sd_directory": "footer",
    "sd_spark_layout": "footer",
    "sd_single_file": "footer",
    "sd_trailing_slash": "footer",
    "file_parquet_typed": "footer",
    "file_csv_typed": "csv_or_nothing",
    "file_plain_parquet": "footer",
    "file_plain_csv": "csv_or_nothing",
    "dir_parquet_typed": "footer",
    "dir_plain_parquet": "footer",
    "dir_plain_csv": "csv_or_nothing",
    "frame_list": "footer",
    "frame_dict": "footer",
    "frame_nested": "footer",
    "map_shards": "footer",
    "frame_optional": "footer",
    "frame_optional_none": "none",
    "file_or_text": "footer",
    "dataclass_bundle": "footer",
    "pydantic_delivery": "footer",
    "frame_list_offloaded": "footer",
    "consume_frame": "none",
}

# Cases whose annotation names other columns than the file holds: the mismatch must be recorded as a problem.
ANNOTATION_MISMATCH = {"frame_partly_annotated", "frame_wrongly_annotated", "arrow_schema_annotated"}

# Cases that still fail because resolution does not handle them yet: case -> the issue point.
P1 = "issue 10 point 1: Optional/Union outputs (scalar.union) are not walked"
P2 = "issue 10 point 2: datasets inside dataclasses/pydantic models (scalar.binary msgpack) are not walked"
P3 = "issue 10 point 3: declared columns override the real Parquet footer, and no mismatch problem is recorded"
P4 = "issue 10 point 4: a CSV structured dataset gets no columns from its header"
P5 = "issue 10 point 5: a StructuredDataset whose URI is a single object is listed as a directory"
P6 = "issue 10 point 6: plain FlyteFile/FlyteDirectory: Parquet not recognised by its magic, CSV gets a problem"
UNFIXED: dict[str, str] = {
    "frame_annotated": P3,
    "frame_partly_annotated": P3,
    "frame_wrongly_annotated": P3,
    "arrow_schema_annotated": P3,
    "schema_legacy": P3,
    "frame_csv": P4,
    "sd_single_file": P5,
    "file_plain_parquet": P6,
    "dir_plain_csv": P6,
    "frame_optional": P1,
    "file_or_text": P1,
    "dataclass_bundle": P2,
    "pydantic_delivery": P2,
}


def _param(name: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=UNFIXED[name])] if name in UNFIXED else []
    return pytest.param(name, id=name, marks=marks)


def test_every_fixture_case_is_in_the_table(flytekit_artefacts: Artefacts) -> None:
    assert set(flytekit_artefacts.cases) == set(CASES)


@pytest.mark.parametrize("name", [_param(n) for n in CASES])
def test_reported_datasets_match_the_files(flytekit_artefacts: Artefacts, name: str) -> None:
    case = flytekit_artefacts.case(name)
    expectation = CASES[name]
    result = resolve(case["outputs"])
    expected = {_norm(d["uri"]): d for d in case["datasets"]}
    reported = {_norm(r.dataset.uri): r for r in result.datasets}
    if expectation == "none":
        assert expected == {}, "fixture: the case holds no dataset"
        assert reported == {}
        assert result.problems == ()
        return
    assert expected, "fixture: the case must hold datasets"
    assert sorted(reported) == sorted(expected), "locations"
    mismatch_problems = []
    for location, entry in expected.items():
        got = reported[location]
        kind, columns = file_truth(entry["files"])
        assert kind != "none", f"fixture: {location} has no data"
        if expectation == "footer":
            assert kind == "parquet"
            assert got.fields == columns, f"{location}: columns differ from the file's footer"
        elif expectation == "csv":
            assert kind == "csv"
            assert [n for n, _ in got.fields] == [n for n, _ in columns], f"{location}: not the CSV header"
        else:
            assert kind == "csv"
            assert got.fields in ((), *[tuple(columns)]) or [n for n, _ in got.fields] == [n for n, _ in columns]
        assert got.dataset.variable == entry["variable"]
        mismatch_problems += [p for p in result.problems if location in p]
    if name in ANNOTATION_MISMATCH:
        assert mismatch_problems, "the annotation/file mismatch must be recorded as a problem"
        assert len(result.problems) == len(mismatch_problems)
    else:
        assert result.problems == (), "spurious problems"
