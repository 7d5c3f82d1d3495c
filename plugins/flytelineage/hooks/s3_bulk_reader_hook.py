"""A thin S3 hook that reads many objects concurrently: whole objects, object tails (ranged GET) and listings.

Every method takes the full set of ``s3://bucket/key`` URIs of one step and returns one entry per URI: the value,
or the exception that prevented reading it. A single missing or forbidden object never raises, so the caller can
record the problem and go on. ``allowed_buckets`` (empty = any) is checked before any request is made.

The client's connection pool holds at least ``concurrency`` connections (botocore's default is 10), so concurrent
reads never discard connections (urllib3's "Connection pool is full" warning) and are not throttled by the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

T = TypeVar("T")


class BucketNotAllowedError(PermissionError):
    """The URI's bucket is not in the configured allowlist."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; raise ``ValueError`` for anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri[:200]!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"s3 URI without a bucket: {uri[:200]!r}")
    return bucket, key


class S3BulkReaderHook(S3Hook):
    """Concurrent reads of many S3 objects through one Amazon connection."""

    def __init__(self, *args: Any, concurrency: int = 16, allowed_buckets: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.concurrency = max(1, concurrency)
        self.allowed_buckets = frozenset(allowed_buckets)

    @cached_property
    def conn_config(self) -> AwsConnectionWrapper:
        """The connection's settings, with a connection pool of at least ``concurrency`` (other settings kept)."""
        from botocore.config import Config

        wrapper = super().conn_config
        current = wrapper.botocore_config or Config()
        pool = max(self.concurrency, current.max_pool_connections or 0)
        wrapper.botocore_config = current.merge(Config(max_pool_connections=pool))
        return wrapper

    def _map(self, fn: Callable[[str], T], uris: Sequence[str]) -> dict[str, T | Exception]:
        def guarded(uri: str) -> T | Exception:
            try:
                bucket, _ = split_s3_uri(uri)
                if self.allowed_buckets and bucket not in self.allowed_buckets:
                    raise BucketNotAllowedError(f"bucket {bucket!r} is not in read_buckets")
                return fn(uri)
            except Exception as exc:
                return exc

        unique = list(dict.fromkeys(uris))
        if not unique:
            return {}
        client = self.get_conn()  # built once, before the threads share it (boto3 clients are thread-safe)
        del client
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(unique)), thread_name_prefix="s3-read") as pool:
            return dict(zip(unique, pool.map(guarded, unique), strict=True))

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        """The bytes of each whole object."""

        def read(uri: str) -> bytes:
            bucket, key = split_s3_uri(uri)
            return bytes(self.get_conn().get_object(Bucket=bucket, Key=key)["Body"].read())

        return self._map(read, uris)

    def read_tails(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        """The last ``nbytes`` bytes of each object (all of it when shorter), with one ranged GET each."""

        def read(uri: str) -> bytes:
            bucket, key = split_s3_uri(uri)
            response = self.get_conn().get_object(Bucket=bucket, Key=key, Range=f"bytes=-{nbytes}")
            return bytes(response["Body"].read())

        return self._map(read, file_uris)

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Sequence[str] | Exception]:
        """The ``s3://`` URIs of every object under each directory prefix; an empty prefix is an error value."""

        def listing(uri: str) -> Sequence[str]:
            bucket, key = split_s3_uri(uri)
            prefix = key.rstrip("/") + "/" if key else ""
            found: list[str] = []
            for page in self.get_conn().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                found.extend(f"s3://{bucket}/{obj['Key']}" for obj in page.get("Contents", []))
            if not found:
                raise FileNotFoundError(f"no objects under s3://{bucket}/{prefix}")
            return found

        return self._map(listing, dir_uris)
