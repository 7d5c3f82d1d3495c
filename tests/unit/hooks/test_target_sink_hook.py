"""The shared shape of the target hooks: error summaries, connection URLs, the conn type check, secret-free errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from flytelineage.errors import ConfigurationError, TargetError
from flytelineage.hooks.connection_secrets import build_without_secrets
from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
from flytelineage.hooks.openlineage_hook import OpenLineageHook
from flytelineage.hooks.target_sink_hook import MAX_REPORTED_ERRORS, connection_url, error_summary


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "e0"),
        (MAX_REPORTED_ERRORS, "; ".join(f"e{i}" for i in range(MAX_REPORTED_ERRORS))),
        (MAX_REPORTED_ERRORS + 2, "; ".join(f"e{i}" for i in range(MAX_REPORTED_ERRORS)) + " (and 2 more)"),
    ],
)
def test_error_summary_quotes_the_first_errors_and_counts_the_rest(count: int, expected: str) -> None:
    assert error_summary([f"e{i}" for i in range(count)]) == expected


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("http://gms", 8080, "http://gms:8080"),
        ("http://gms:9002", 8080, "http://gms:9002"),
        ("http://gms", None, "http://gms"),
        ("gms", 8080, "gms:8080"),
        (None, None, ""),
    ],
)
def test_connection_url_adds_the_port_only_when_the_host_has_none(host: str | None, port: int | None, url: str) -> None:
    assert connection_url(SimpleNamespace(host=host, port=port)) == url  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "hook",
    [
        lambda: DataHubEmitterHook(datahub_conn_id="wrong_type"),
        lambda: OpenLineageHook(openlineage_conn_id="wrong_type"),
    ],
    ids=["datahub", "openlineage"],
)
def test_both_hooks_name_their_conn_types(hook: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WRONG_TYPE", json.dumps({"conn_type": "http", "host": "http://x"}))
    built = hook()
    with pytest.raises(ConfigurationError, match=r"conn type 'http'; use one of ") as raised:
        built.get_conn()
    assert all(kind in str(raised.value) for kind in built.conn_types)


def test_a_build_error_quoting_a_secret_is_raised_without_it() -> None:
    def build() -> None:
        raise RuntimeError("cannot reach https://u:hunter2@gms")

    with pytest.raises(TargetError) as raised:
        build_without_secrets(build, lambda: {"hunter2"})
    assert "hunter2" not in str(raised.value)
    assert raised.value.__suppress_context__


def test_a_build_error_without_secrets_is_raised_as_it_is() -> None:
    error = ValueError("plain")

    def build() -> None:
        raise error

    with pytest.raises(ValueError) as raised:
        build_without_secrets(build, lambda: {"hunter2"})
    assert raised.value is error
