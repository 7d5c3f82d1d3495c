"""The one configuration path of every operator (``LineageOperator``): the Variable, ``settings``, arguments."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from flytelineage.domain.lineage_settings import LineageSettings
from flytelineage.operators.lineage_operator import NOT_GIVEN, LineageOperator, given

VARIABLE = {"sqs_queue": "q", "bucket": "from-variable", "prefix": "pv", "settle_seconds": 30, "targets": ["glue"]}


class _Probe(LineageOperator):
    """A minimal operator with two explicit arguments, returning what it resolved."""

    def __init__(self, *, bucket: str = NOT_GIVEN, prefix: str = NOT_GIVEN, **kwargs: Any) -> None:
        super().__init__(overrides=given(bucket=bucket, prefix=prefix), **kwargs)

    def execute(self, context: Any) -> tuple[LineageSettings, Any]:
        settings = self.lineage_settings()
        return settings, self.run_mode(context, settings)


def _resolve(monkeypatch: pytest.MonkeyPatch, variable: Any, **kwargs: Any) -> LineageSettings:
    if variable is None:
        monkeypatch.delenv("AIRFLOW_VAR_FLYTE_LINEAGE", raising=False)
    else:
        text = variable if isinstance(variable, str) else json.dumps(variable)
        monkeypatch.setenv("AIRFLOW_VAR_FLYTE_LINEAGE", text)
    settings, _ = _Probe(task_id="probe", **kwargs).execute({})
    return settings


@pytest.mark.parametrize(
    ("variable", "kwargs", "expected"),
    [
        # the Variable alone
        (VARIABLE, {}, {"bucket": "from-variable", "prefix": "pv", "settle_seconds": 30, "aws_conn_id": "aws_default"}),
        # explicit arguments over the Variable; None is a value (boto3's default credentials), not "unset"
        (
            VARIABLE,
            {"prefix": "arg", "aws_conn_id": None},
            {"bucket": "from-variable", "prefix": "arg", "aws_conn_id": None},
        ),
        # no Variable: the arguments the operator needs are enough, defaults for the rest
        (None, {"bucket": "b"}, {"bucket": "b", "prefix": "flyte-lineage", "settle_seconds": 300, "sqs_queue": ""}),
        # a settings document instead of the Variable (dict, or its JSON as a template renders it)
        (None, {"settings": {"bucket": "s", "shard_size": 7}}, {"bucket": "s", "shard_size": 7}),
        (VARIABLE, {"settings": json.dumps({"bucket": "s"}), "prefix": "p"}, {"bucket": "s", "prefix": "p"}),
    ],
)
def test_settings_resolution_table(
    monkeypatch: pytest.MonkeyPatch, variable: Any, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    settings = _resolve(monkeypatch, variable, **kwargs)
    assert {k: getattr(settings, k) for k in expected} == expected


@pytest.mark.parametrize(
    ("variable", "kwargs", "message"),
    [
        (None, {}, "Variable 'flyte_lineage' is not set and bucket not given as arguments"),
        ("{not json", {}, "Variable 'flyte_lineage' is not valid JSON"),
        ("[1, 2]", {}, "must be a JSON object, not list"),
        # the Variable is validated as a whole: a task that does not read the queue still fails on a bad Variable
        ({"bucket": "b"}, {}, "sqs_queue is required"),
        ({**VARIABLE, "settle_seconds": "30", "colour": 1}, {}, r"2 problems\): unknown key 'colour'; settle_seconds"),
        (VARIABLE, {"prefix": ""}, "prefix must be a non-empty string"),  # arguments are validated like the Variable
        (None, {"settings": "{oops"}, "the settings argument is not valid JSON"),
    ],
)
def test_bad_settings_fail_once_with_every_problem(
    monkeypatch: pytest.MonkeyPatch, variable: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(AirflowFailException, match=message):
        _resolve(monkeypatch, variable, **kwargs)


def test_the_aws_connection_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_FLYTE_LINEAGE", json.dumps({**VARIABLE, "aws_conn_id": "aws_lineage"}))
    probe = _Probe(task_id="probe", region_name="eu-west-1")
    probe.execute({})
    assert (probe.aws_conn_id, probe.hook.aws_conn_id, probe.hook.region_name) == (
        "aws_lineage",
        "aws_lineage",
        "eu-west-1",
    )


def test_run_mode_comes_from_params_with_explicit_run_params_over_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_FLYTE_LINEAGE", json.dumps(VARIABLE))
    context = {"params": {"dry_run": True, "targets": None}, "dag_run": SimpleNamespace(run_type="manual")}
    _, mode = _Probe(task_id="probe").execute(context)
    assert (mode.dry_run, mode.targets, mode.drains) == (True, ("glue",), False)
    _, mode = _Probe(task_id="probe", run_params={"dry_run": False}).execute(context)
    assert (mode.dry_run, mode.drains, mode.sends("glue"), mode.sends("datahub")) == (False, True, True, False)
    _, mode = _Probe(task_id="probe").execute({"dag_run": SimpleNamespace(run_type="backfill")})
    assert (mode.backfill, mode.drains, mode.full_resend) == (True, False, True)


def test_bad_params_fail_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_FLYTE_LINEAGE", json.dumps(VARIABLE))
    with pytest.raises(AirflowFailException, match=r"params are invalid \(1 problem\(s\)\): replay_start is set"):
        _Probe(task_id="probe").execute({"params": {"replay_start": "2026-11-21T00:00:00Z"}})
