"""The run params: the JSON schemas Airflow checks at trigger time, and the checks across params at run time."""

from __future__ import annotations

from typing import Any

import pytest

from flytelineage.domain.run_params import REPLAY_BOUND_SCHEMA, TARGET_NAMES, TARGETS_SCHEMA, param_problems

START, END = "2026-11-21T00:00:00+00:00", "2026-11-21T13:00:00+00:00"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, []),
        ({"replay_start": None, "replay_end": None, "targets": None}, []),
        ({"replay_start": START, "replay_end": END}, []),
        ({"replay_start": "2026-11-21T00:00:00Z", "replay_end": END, "targets": ["glue"]}, []),
        ({"replay_start": START}, ["replay_start is set but replay_end is not"]),
        ({"replay_end": END}, ["replay_end is set but replay_start is not"]),
        ({"replay_start": "yesterday", "replay_end": END}, ["replay_start must be an ISO 8601 date-time"]),
        ({"replay_start": "2026-11-21T00:00:00", "replay_end": END}, ["replay_start needs a time zone offset"]),
        ({"replay_start": END, "replay_end": START}, ["replay_end 2026-11-21T00:00:00+00:00 must be after"]),
        ({"targets": ["datahub", "glu"]}, ["targets ['glu'] are not target names"]),
        ({"targets": []}, ["targets must be a non-empty list"]),
        ({"targets": "glue"}, ["targets must be a non-empty list"]),
        (
            {"replay_start": "yesterday", "targets": ["x"]},
            ["replay_start is set but", "replay_start must be an ISO 8601", "targets ['x'] are not"],
        ),
    ],
)
def test_param_problems(params: dict[str, Any], expected: list[str]) -> None:
    problems = param_problems(params)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, start)


def test_the_target_names_include_openlineage() -> None:
    assert TARGET_NAMES == ("datahub", "glue", "openlineage")


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        (REPLAY_BOUND_SCHEMA, None, True),
        (REPLAY_BOUND_SCHEMA, START, True),
        (REPLAY_BOUND_SCHEMA, "2026-11-21T00:00:00Z", True),
        (REPLAY_BOUND_SCHEMA, "yesterday", False),
        (REPLAY_BOUND_SCHEMA, "2026-11-21T00:00:00", False),  # RFC 3339 needs the offset
        (REPLAY_BOUND_SCHEMA, "2026-11-21", False),
        (TARGETS_SCHEMA, None, True),
        (TARGETS_SCHEMA, ["datahub", "glue", "openlineage"], True),
        (TARGETS_SCHEMA, ["datahub", "glu"], False),
        (TARGETS_SCHEMA, [], False),
        (TARGETS_SCHEMA, ["glue", "glue"], False),
    ],
)
def test_airflow_param_refuses_what_the_schema_refuses(schema: dict[str, Any], value: Any, valid: bool) -> None:
    from airflow.sdk import Param
    from airflow.sdk.exceptions import ParamValidationError

    param = Param(None, **schema)
    if valid:
        assert param.resolve(value) == value
    else:
        with pytest.raises(ParamValidationError):
            param.resolve(value)
