"""``DataHubRetentionOperator`` when it skips, and that it ages the keys ``group_executions`` writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from flytelineage.domain.dpi_retention import executions_prefix, retention_skip_reason, shard_interval_end
from flytelineage.domain.lineage_settings import settings_from_dict
from flytelineage.operators.datahub_retention import DataHubRetentionOperator
from flytelineage.operators.grouping_state_store import GroupingStateStore
from flytelineage.testing.lineage_samples import many_executions
from tests.unit.operators.argument_checks import assert_every_argument_is_templated


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


NOT_PUSHED = "nothing to expire"
NOT_SET = "dpi_retention_days is not set: every run is kept"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"retention_days": None}, NOT_SET),
        ({"settings": {"bucket": "b", "dpi_retention_days": None}}, NOT_SET),  # null in the settings
        ({"settings": {"bucket": "b"}}, NOT_SET),  # not in the settings
        ({"retention_days": 30, "settings": {"bucket": "b", "targets": ["glue"]}}, NOT_PUSHED),  # DataHub no target
        ({"retention_days": 30, "settings": {"bucket": "b", "datasets_only": True}}, NOT_PUSHED),  # no run history
    ],
)
def test_skips_without_touching_anything(fields: dict[str, Any], message: str) -> None:
    operator = DataHubRetentionOperator(task_id="dpi_retention", bucket="b", aws_conn_id=None, **fields)
    with pytest.raises(AirflowSkipException, match=message):
        operator.execute(context={})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"dpi_retention_days": 30}, None),
        ({"dpi_retention_days": 30, "targets": ["datahub"]}, None),
        ({"dpi_retention_days": 30, "targets": ["glue", "openlineage"]}, NOT_PUSHED),
        ({"dpi_retention_days": 30, "datasets_only": True}, NOT_PUSHED),
        ({"targets": ["glue"]}, NOT_PUSHED),  # the first reason wins
        ({}, NOT_SET),
    ],
)
def test_retention_skip_reason_table(settings: dict[str, Any], reason: str | None) -> None:
    found = retention_skip_reason(settings_from_dict({"sqs_queue": "q", "bucket": "b", **settings}))
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


def test_every_constructor_argument_is_templated() -> None:
    assert_every_argument_is_templated(
        DataHubRetentionOperator,
        renamed={
            "retention_days": "dpi_retention_days",
            "max_per_run": "dpi_retention_max_per_run",
            "hard_delete": "dpi_retention_hard_delete",
        },
    )
