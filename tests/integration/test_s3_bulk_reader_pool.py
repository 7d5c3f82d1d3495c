"""The bulk reader's connection pool is sized to its read concurrency: no "Connection pool is full" warning.

The control reads the same objects with the same 16 threads through a client with botocore's default pool of 10 and
must log the warning, which shows the check can fail.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook

pytestmark = pytest.mark.integration

POOL_FULL = "Connection pool is full"
OBJECTS = 96
CONCURRENCY = 16


def _seed(s3_client, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    s3_client.create_bucket(Bucket=bucket)
    uris = []
    for i in range(OBJECTS):
        s3_client.put_object(Bucket=bucket, Key=f"obj/{i:03d}", Body=b"x" * 200_000)
        uris.append(f"s3://{bucket}/obj/{i:03d}")
    return uris


def _pool_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if POOL_FULL in r.getMessage()]


def test_bulk_reads_keep_every_connection(s3_client, unique_name: str, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    uris = _seed(s3_client, unique_name)
    hook = S3BulkReaderHook(aws_conn_id=None, concurrency=CONCURRENCY)
    assert hook.get_conn().meta.config.max_pool_connections == CONCURRENCY
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        for _ in range(3):
            read = hook.read_objects(uris)
    assert {uri: len(v) for uri, v in read.items() if isinstance(v, bytes)} == {uri: 200_000 for uri in uris}
    assert _pool_warnings(caplog) == []


def test_control_default_pool_discards_connections(
    s3_client, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    import boto3

    uris = _seed(s3_client, unique_name)
    client = boto3.client("s3", region_name="us-east-1")  # botocore's default pool (10), endpoint from the env
    assert client.meta.config.max_pool_connections == 10

    def read(uri: str) -> int:
        return len(client.get_object(Bucket=unique_name, Key=uri.split("/", 3)[3])["Body"].read())

    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        for _ in range(3):
            with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
                assert list(pool.map(read, uris)) == [200_000] * OBJECTS
    assert _pool_warnings(caplog), "16 concurrent reads on a pool of 10 should discard connections"


def test_pool_keeps_the_connections_other_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    extra = {"config_kwargs": {"retries": {"max_attempts": 7, "mode": "standard"}, "max_pool_connections": 40}}
    monkeypatch.setenv("AIRFLOW_CONN_POOLTEST", json.dumps({"conn_type": "aws", "extra": extra}))
    config = S3BulkReaderHook(aws_conn_id="pooltest", concurrency=CONCURRENCY).conn_config.botocore_config
    assert config is not None
    assert (config.max_pool_connections, config.retries) == (40, {"max_attempts": 7, "mode": "standard"})
    small = S3BulkReaderHook(aws_conn_id=None, concurrency=64).conn_config.botocore_config
    assert small is not None and small.max_pool_connections == 64


def test_read_heads_reads_the_first_bytes(s3_client, unique_name: str) -> None:  # type: ignore[no-untyped-def]
    s3_client.create_bucket(Bucket=unique_name)
    s3_client.put_object(Bucket=unique_name, Key="d/.csv", Body=b"a,b\n1,2\n")
    s3_client.put_object(Bucket=unique_name, Key="big", Body=b"0123456789" * 1000)
    s3_client.put_object(Bucket=unique_name, Key="empty", Body=b"")
    base = f"s3://{unique_name}"
    uris = [f"{base}/d/.csv", f"{base}/big", f"{base}/empty", f"{base}/missing", "gs://x/y"]
    heads = S3BulkReaderHook(aws_conn_id=None, concurrency=4).read_heads(uris, 5)
    assert set(heads) == set(uris)
    assert heads[f"{base}/d/.csv"] == b"a,b\n1"
    assert heads[f"{base}/big"] == b"01234"
    assert heads[f"{base}/empty"] == b""
    assert isinstance(heads[f"{base}/missing"], Exception)
    assert isinstance(heads["gs://x/y"], ValueError)
    whole = S3BulkReaderHook(aws_conn_id=None).read_heads([f"{base}/d/.csv"], 64 * 1024)
    assert whole == {f"{base}/d/.csv": b"a,b\n1,2\n"}
