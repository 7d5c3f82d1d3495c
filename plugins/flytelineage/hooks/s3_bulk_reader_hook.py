"""A thin S3 hook that reads many objects concurrently: whole objects, object heads and tails
(ranged GETs) and listings.

Every method takes the full set of ``s3://bucket/key`` URIs of one step and returns one entry per URI: the value,
or the exception that prevented reading it (one quoting a registered secret is replaced by a copy without it,
``connection_secrets.without_secrets``). A single missing or forbidden object never raises, so the caller can
record the problem and go on. The hook reads what it is asked: which buckets may be read (``read_buckets``) is
decided by the domain before the hook is called (``domain/literal_datasets.py``, ``domain/location_policy.py``).

The client's connection pool holds at least ``concurrency`` connections (botocore's default is 10), so concurrent
reads never discard connections (urllib3's "Connection pool is full" warning) and are not throttled by the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from flytelineage.hooks.connection_secrets import without_secrets

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

T = TypeVar("T")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)`` with the provider's ``S3Hook.parse_s3_url``; ``ValueError`` for
    anything that is not an ``s3://`` URI with a bucket, or that the parse would not give back whole (a ``?`` in the
    key would be cut off as a query)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri[:200]!r}")
    try:
        bucket, key = S3Hook.parse_s3_url(uri)
    except Exception as e:  # the provider's S3HookUriParseFailure
        raise ValueError(f"s3 URI without a bucket: {uri[:200]!r}") from e
    if uri.rstrip("/") != f"s3://{bucket}/{key}".rstrip("/"):
        raise ValueError(f"s3 URI with a query or an odd bucket part: {uri[:200]!r}")
    return bucket, key


class S3BulkReaderHook(S3Hook):
    """Concurrent reads of many S3 objects through one Amazon connection."""

    def __init__(self, *args: Any, concurrency: int = 16, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.concurrency = max(1, concurrency)

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
                return fn(uri)
            except Exception as exc:
                clean = without_secrets(exc, ())  # the value becomes a problem text on an execution
                return clean if isinstance(clean, Exception) else exc

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

    def read_heads(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        """The first ``nbytes`` bytes of each object (all of it when shorter), with one ranged GET each.

        An empty object is ``b""`` (S3 refuses a range on it with 416 InvalidRange, which is not an error here).
        """

        def read(uri: str) -> bytes:
            bucket, key = split_s3_uri(uri)
            client = self.get_conn()
            try:
                response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max(1, nbytes) - 1}")
            except client.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                    raise
                response = client.get_object(Bucket=bucket, Key=key)
            return bytes(response["Body"].read())[: max(1, nbytes)]

        return self._map(read, file_uris)

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Sequence[str] | Exception]:
        """The ``s3://`` URIs of every object under each directory prefix; an empty prefix is an error value."""

        def listing(uri: str) -> Sequence[str]:
            bucket, key = split_s3_uri(uri)
            prefix = key.rstrip("/") + "/" if key else ""
            found = [f"s3://{bucket}/{k}" for k in self.list_keys(bucket_name=bucket, prefix=prefix) or []]
            if not found:
                raise FileNotFoundError(f"no objects under s3://{bucket}/{prefix}")
            return found

        return self._map(listing, dir_uris)
