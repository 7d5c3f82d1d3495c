"""The location policy as a table: which URIs may be read or registered, and the reason when not."""

from __future__ import annotations

import pytest

from flytelineage.domain.location_policy import bucket_of, in_read_buckets, is_allowed, location_problem

LOCATIONS = [
    # (uri, read_buckets, expected reason fragment or None when allowed)
    ("s3://flyte-data/raw/x/o0", (), None),
    ("s3://flyte-data/raw/x/o0", ("flyte-data",), None),
    ("S3://flyte-data/a", (), None),
    ("s3://secret-bucket/a", ("flyte-data",), "bucket 'secret-bucket' is not in read_buckets"),
    ("file:///etc/", (), "only s3:// locations are allowed, not file"),
    ("file:///etc/", ("flyte-data",), "only s3:// locations are allowed, not file"),
    ("http://169.254.169.254/latest/meta-data/", (), "only s3:// locations are allowed, not http"),
    ("gs://bucket/a", (), "not gs"),
    ("/local/path", (), "not no scheme"),
    ("", (), "not no scheme"),
    ("s3://user:pw@flyte-data/a", (), "no user info"),
    ("s3://flyte-data:443/a", (), "no user info, port"),
    ("s3://flyte-data/a?versionId=1", (), "query"),
    ("s3://flyte-data/a#x", (), "fragment"),
    ("s3:///a", (), "'' is not a valid S3 bucket name"),
    ("s3://Flyte_Data/a", (), "is not a valid S3 bucket name"),
    ("s3://flyte-data/a b", (), "whitespace or control characters"),
    ("s3://flyte-data/a\n", (), "whitespace or control characters"),
    ("s3://[::1/a", (), "not a valid URI"),
]


@pytest.mark.parametrize(("uri", "read_buckets", "reason"), LOCATIONS)
def test_location_problem(uri: str, read_buckets: tuple[str, ...], reason: str | None) -> None:
    problem = location_problem(uri, read_buckets)
    if reason is None:
        assert problem is None and is_allowed(uri, read_buckets)
    else:
        assert problem is not None and reason in problem and not is_allowed(uri, read_buckets)


@pytest.mark.parametrize(
    ("uri", "buckets", "allowed"),
    [("s3://a/k", [], True), ("s3://a/k", ["a"], True), ("s3://a/k", ["b"], False), ("gs://a/k", ["a"], True)],
)
def test_bucket_allowlist(uri: str, buckets: list[str], allowed: bool) -> None:
    """The allowlist alone (what grouping asks before reading): bucket membership, whatever the scheme."""
    assert bucket_of(uri) == "a"
    assert in_read_buckets(uri, buckets) is allowed
