"""``DataHubRetentionOperator`` when it skips, and that it ages the keys ``group_executions`` writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from flytelineage.domain.dpi_retention import executions_prefix, shard_interval_end
from flytelineage.operators.datahub_retention import DataHubRetentionOperator
from flytelineage.operators.grouping_state_store import GroupingStateStore
from flytelineage.testing.lineage_samples import many_executions


class RecordingS3:
    """Stands in for the S3 hook's ``load_bytes``: records the keys written."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def load_bytes(self, data: bytes, *, key: str, bucket_name: str, replace: bool) -> None:
        self.keys.append(key)


@pytest.mark.parametrize("prefix", ["flyte-lineage", "teams/data/lineage/"])
def test_the_shard_keys_group_executions_writes_are_the_ones_retention_ages(prefix: str) -> None:
    start, end = datetime(2026, 11, 21, 11, 50, tzinfo=UTC), datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    s3 = RecordingS3()
    store = GroupingStateStore(s3, bucket="b", prefix=prefix)  # type: ignore[arg-type]
    keys = store.write_shards(start, end, many_executions(5), shard_size=2)
    assert len(keys) == 3 and s3.keys == keys
    assert all(key.startswith(executions_prefix(prefix)) for key in keys)
    assert [shard_interval_end(key) for key in keys] == [end, end, end]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"retention_days": None}, "dpi_retention_days is not set: every run is kept"),
        ({"retention_days": "None"}, "dpi_retention_days is not set: every run is kept"),  # rendered from null
        ({"retention_days": 30, "enabled": False}, "nothing to expire"),
        ({"retention_days": 30, "enabled": "False"}, "nothing to expire"),
    ],
)
def test_skips_without_touching_anything(fields: dict[str, Any], message: str) -> None:
    operator = DataHubRetentionOperator(task_id="dpi_retention", bucket="b", aws_conn_id=None, **fields)
    with pytest.raises(AirflowSkipException, match=message):
        operator.execute(context={})  # type: ignore[arg-type]


def test_template_fields_are_the_constructor_parameters() -> None:
    import inspect

    parameters = set(inspect.signature(DataHubRetentionOperator.__init__).parameters) - {"self", "kwargs"}
    assert set(DataHubRetentionOperator.template_fields) == parameters
