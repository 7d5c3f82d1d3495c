"""Small helpers the operators share: reading an ``executions/`` shard and coercing templated flags.

Nothing heavy is imported at module level: the S3 hook, botocore and the domain are imported when a shard is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flytelineage.domain.lineage_model import Execution


def shard_executions(
    *, enabled: object, shard_key: str, aws_conn_id: str | None, bucket: str, target: str, action: str
) -> list[Execution]:
    """The executions of the shard a target task handles (``push_datahub``, ``register_glue``).

    Raises ``AirflowSkipException`` when the ``target`` is switched off or the run produced no shard (``action`` says
    what there is then nothing to do, for the log).
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from flytelineage.domain.execution_store import executions_from_jsonl_gz

    if not as_bool(enabled):
        raise AirflowSkipException(f"The {target} target is switched off (targets).")
    if not shard_key:
        raise AirflowSkipException(f"No executions shard for this run: nothing to {action}.")
    return executions_from_jsonl_gz(read_shard(aws_conn_id, bucket, shard_key))


def read_shard(aws_conn_id: str | None, bucket: str, key: str) -> bytes:
    """The bytes of the executions shard ``s3://bucket/key``.

    A missing shard or bucket fails the task once, naming both and the connection; throttling and 5xx are retried.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from flytelineage.operators.fail_fast import failing_fast

    with failing_fast(f"read executions shard s3://{bucket}/{key} (written by group_executions)", conn_id=aws_conn_id):
        response = S3Hook(aws_conn_id=aws_conn_id).get_conn().get_object(Bucket=bucket, Key=key)
        return bytes(response["Body"].read())


def as_bool(value: object) -> bool:
    """A templated flag: a real boolean, or a string rendered from the Variable (``true``/``false``, any case)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def as_str_list(value: object) -> list[str]:
    """A templated list of strings: a real list, or its JSON rendering (DAGs without native rendering give that)."""
    import json

    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError as e:
            raise ValueError(f"expected a JSON list of strings, got {text[:200]!r}") from e
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return list(value)
