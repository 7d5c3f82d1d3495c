"""CSV header parsing and the CSV-header phase of dataset resolution (issue 10 point 4), pure, in memory."""

from __future__ import annotations

import pytest

from flytelineage.domain.literal_datasets import (
    HEAD_BYTES,
    CsvHeaderError,
    FoundDataset,
    first_csv_file,
    parse_csv_header,
    read_csv_headers,
    read_data_schemas,
)
from flytelineage.testing.in_memory_objects import InMemoryObjectReader

GOOD = [
    # (head, is_whole_file, column names)
    (b"a,b,c\n1,2,3\n", True, ["a", "b", "c"]),
    (b"a,b,c\r\n1,2,3\r\n", True, ["a", "b", "c"]),
    (b"a,b\r1,2\r", True, ["a", "b"]),
    (b"\xef\xbb\xbfid,name\n1,x\n", True, ["id", "name"]),
    (b'"x, y","say ""hi""",z\n', True, ["x, y", 'say "hi"', "z"]),
    (b'"two\nlines",b\n1,2\n', True, ["two\nlines", "b"]),
    (b"only,header", True, ["only", "header"]),
    ("caf\u00e9,na\u00efve\n".encode(), True, ["caf\u00e9", "na\u00efve"]),
    (b"a,b\n1,2,3,4,5", False, ["a", "b"]),  # a partial head whose header line ended
    (b"a,b\r", False, ["a", "b"]),  # cut between \r and \n
    (b" x ,y\n", True, [" x ", "y"]),  # names are kept as written
]


@pytest.mark.parametrize(("head", "whole", "names"), GOOD)
def test_header_names_the_columns_all_string(head: bytes, whole: bool, names: list[str]) -> None:
    fields = parse_csv_header(head, is_whole_file=whole)
    assert [f.name for f in fields] == names
    assert {f.type for f in fields} == {"string"}
    assert all(f.nullable and f.children == () for f in fields)


BAD = [
    # (head, is_whole_file, part of the reason)
    (b"", True, "is empty"),
    (b"\n1,2\n", True, "empty header line"),
    (b"\xef\xbb\xbf\n", True, "empty header line"),
    (b"a,,c\n", True, "empty column name"),
    (b",a\n1,2\n", True, "column 1 of 2"),  # a pandas index written without a name
    (b"a,b,a\n", True, "repeats column names"),
    (b"a,b,c", False, "no header line ending within the first 5 bytes"),
    (b'"open,b\n1,2\n', False, "no header line ending"),
    (b'"open,b\n1,2\n', True, "unreadable header line"),
    (b"\xff\xfea\x00,\x00b\x00\n\x00", True, "UTF-8"),
    (b"a" * 10 + b"\xc3", True, "UTF-8"),  # a cut character in a whole file is not text
]


@pytest.mark.parametrize(("head", "whole", "reason"), BAD)
def test_unusable_header_is_an_error_not_columns(head: bytes, whole: bool, reason: str) -> None:
    with pytest.raises(CsvHeaderError, match=reason):
        parse_csv_header(head, is_whole_file=whole)


def test_a_character_cut_at_the_end_of_a_partial_head_is_not_an_error() -> None:
    head = "a,b\nx,\u00e9".encode()[:-1]
    assert [f.name for f in parse_csv_header(head, is_whole_file=False)] == ["a", "b"]


@pytest.mark.parametrize(
    ("files", "first"),
    [
        (["s3://b/d/.csv"], "s3://b/d/.csv"),  # flytekit's pandas CSV encoder
        (["s3://b/d/_SUCCESS", "s3://b/d/part-1.csv", "s3://b/d/part-0.csv"], "s3://b/d/part-0.csv"),
        (["s3://b/d/a.txt", "s3://b/d/b.csv"], "s3://b/d/b.csv"),
        (["s3://b/d/data", "s3://b/d/.crc"], "s3://b/d/data"),
        (["s3://b/d/_SUCCESS", "s3://b/d/.part.crc"], None),
        ([], None),
    ],
)
def test_first_csv_file(files: list[str], first: str | None) -> None:
    assert first_csv_file(files) == first


CSV = b"sensor,reading,ok\ns1,1.0,True\n"


def _sd(uri: str, kind: str = "structured_dataset", fmt: str = "csv") -> FoundDataset:
    return FoundDataset("o0", kind, uri, fmt)


def test_phase_reads_each_kind_of_csv_dataset_once() -> None:
    reader = InMemoryObjectReader(
        {
            "s3://b/sd/.csv": CSV,
            "s3://b/dir/part-0.csv": CSV,
            "s3://b/dir/_SUCCESS": b"",
            "s3://b/one.csv": CSV,
            "s3://b/single/data.csv": CSV,
            "s3://b/pq/x.parquet": b"PAR1",
        }
    )
    datasets = [
        _sd("s3://b/sd"),
        _sd("s3://b/dir", "multipart_blob"),
        _sd("s3://b/one.csv", "blob", "CSV"),
        _sd("s3://b/single/data.csv"),  # a structured dataset whose uri is one object
        _sd("s3://b/pq", fmt="parquet"),  # not this phase's
    ]
    outcome = read_csv_headers(datasets, reader)
    names = ["sensor", "reading", "ok"]
    assert {uri: [f.name for f in fields] for uri, fields in outcome.fields.items()} == {
        "s3://b/sd": names,
        "s3://b/dir": names,
        "s3://b/one.csv": names,
        "s3://b/single/data.csv": names,
    }
    assert set(outcome.sources.values()) == {"csv_header"} and len(outcome.sources) == 4
    assert outcome.problems == {}
    assert outcome.layouts == {
        "s3://b/sd": "directory",
        "s3://b/dir": "directory",
        "s3://b/one.csv": "file",
        "s3://b/single/data.csv": "file",
    }
    assert [c[0] for c in reader.calls] == ["list_files", "read_heads"]
    assert reader.calls[1][2] == HEAD_BYTES


def test_unreadable_headers_are_problems_with_no_columns() -> None:
    reader = InMemoryObjectReader(
        {
            "s3://b/empty/.csv": b"",
            "s3://b/long/.csv": b"c" * (HEAD_BYTES + 10) + b"\n1\n",
            "s3://b/dup/.csv": b"a,a\n1,2\n",
            "s3://b/markers/_SUCCESS": b"",
        }
    )
    datasets = [_sd(f"s3://b/{n}") for n in ("empty", "long", "dup", "markers", "missing")]
    datasets.append(_sd("s3://other/x"))
    outcome = read_csv_headers(datasets, reader, read_buckets=["b"])
    assert outcome.fields == {} and outcome.sources == {}
    problems = outcome.problems
    assert set(problems) == {f"s3://b/{n}" for n in ("empty", "long", "dup", "markers", "missing")} | {"s3://other/x"}
    assert "is empty" in problems["s3://b/empty"]
    assert f"no header line ending within the first {HEAD_BYTES} bytes" in problems["s3://b/long"]
    assert "repeats column names" in problems["s3://b/dup"]
    assert "has no data files" in problems["s3://b/markers"]
    assert "could not be listed" in problems["s3://b/missing"]
    assert "read_buckets" in problems["s3://other/x"]
    assert all(uri.startswith("s3://b/") for call in reader.calls for uri in call[1])


def test_both_phases_share_one_listing() -> None:
    reader = InMemoryObjectReader({"s3://b/sd/.csv": CSV, "s3://b/pq/x.parquet": b"not parquet"})
    outcome = read_data_schemas([_sd("s3://b/sd"), _sd("s3://b/pq", fmt="parquet")], reader)
    assert [c[0] for c in reader.calls].count("list_files") == 1
    assert [f.name for f in outcome.fields["s3://b/sd"]] == ["sensor", "reading", "ok"]
    assert outcome.sources == {"s3://b/sd": "csv_header"}
    assert "not a Parquet file" in outcome.problems["s3://b/pq"]


def test_declared_columns_of_a_csv_are_kept_and_only_their_names_checked() -> None:
    from flytelineage.domain.execution_lineage import _footer_is_truth
    from flytelineage.domain.lineage_model import SchemaField

    header = parse_csv_header(CSV, is_whole_file=True)
    declared = FoundDataset(
        "o0", "structured_dataset", "s3://b/sd", "csv", (SchemaField("reading", "double"),), "literal_type"
    )
    problems: set[str] = set()
    resolved = _footer_is_truth(declared, header, problems, "csv_header")
    assert (resolved.fields, resolved.schema_source) == (header, "csv_header")
    assert "declared_columns" in dict(resolved.properties)
    assert problems == set(), "a declared double is a string in a CSV header: types are not compared"
    wrong = FoundDataset("o0", "structured_dataset", "s3://b/sd", "csv", (SchemaField("nope", "int64"),))
    _footer_is_truth(wrong, header, problems, "csv_header")
    assert len(problems) == 1 and "differ from the CSV header" in problems.pop()
