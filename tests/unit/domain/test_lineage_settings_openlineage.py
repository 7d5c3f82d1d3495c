"""The ``openlineage`` target in the ``flyte_lineage`` Variable: allowed, off by default, its connection id checked."""

from __future__ import annotations

from typing import Any

import pytest

from flytelineage.domain.lineage_settings import settings_from_dict
from flytelineage.errors import ConfigurationError

REQUIRED = {"sqs_queue": "flyte-events", "bucket": "lineage"}


def test_openlineage_is_off_by_default_with_its_default_connection() -> None:
    settings = settings_from_dict(REQUIRED)
    assert settings.targets == ("datahub", "glue")
    assert settings.openlineage_conn_id == "openlineage_default"


@pytest.mark.parametrize(
    ("extra", "targets", "conn_id"),
    [
        ({"targets": ["openlineage"]}, ("openlineage",), "openlineage_default"),
        ({"targets": ["datahub", "glue", "openlineage"]}, ("datahub", "glue", "openlineage"), "openlineage_default"),
        ({"targets": ["openlineage"], "openlineage_conn_id": "marquez"}, ("openlineage",), "marquez"),
    ],
)
def test_openlineage_can_be_switched_on(extra: dict[str, Any], targets: tuple[str, ...], conn_id: str) -> None:
    settings = settings_from_dict({**REQUIRED, **extra})
    assert settings.targets == targets and settings.openlineage_conn_id == conn_id


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"targets": ["openlinage"]}, "targets must be a list drawn from ['datahub', 'glue', 'openlineage']"),
        ({"openlineage_conn_id": ""}, "openlineage_conn_id must be a non-empty string"),
        ({"openlineage_conn_id": 3}, "openlineage_conn_id must be a non-empty string"),
    ],
)
def test_bad_openlineage_settings_are_reported(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        settings_from_dict({**REQUIRED, **extra})
    assert problem in str(raised.value)
