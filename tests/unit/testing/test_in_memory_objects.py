"""The in-memory ``ObjectReader`` lists like blob storage: a directory is a key prefix ending in ``/``."""

from __future__ import annotations

import pytest

from flytelineage.testing.in_memory_objects import InMemoryObjectReader

OBJECTS = {
    "s3://b/x/0": b"a",
    "s3://b/x/sub/1": b"b",
    "s3://b/xy/2": b"c",
    "s3://b/x": b"the object named like the directory",
    "s3://c/x/3": b"d",
}


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("s3://b/x", ["s3://b/x/0", "s3://b/x/sub/1"]),  # not s3://b/xy/2, not the object s3://b/x itself
        ("s3://b/x/", ["s3://b/x/0", "s3://b/x/sub/1"]),
        ("s3://b/x/sub", ["s3://b/x/sub/1"]),
        ("s3://b/xy", ["s3://b/xy/2"]),
        ("s3://c/x", ["s3://c/x/3"]),
        ("s3://b", ["s3://b/x", "s3://b/x/0", "s3://b/x/sub/1", "s3://b/xy/2"]),
    ],
)
def test_list_files_is_a_prefix_listing(directory: str, expected: list[str]) -> None:
    assert InMemoryObjectReader(OBJECTS).list_files([directory])[directory] == expected


@pytest.mark.parametrize("directory", ["s3://b/z", "s3://b/x/0", "s3://a"])
def test_an_empty_listing_is_not_found(directory: str) -> None:
    assert isinstance(InMemoryObjectReader(OBJECTS).list_files([directory])[directory], FileNotFoundError)
