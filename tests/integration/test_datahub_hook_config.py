"""DataHubEmitterHook configuration: conn types, lazy client, Kafka and file settings (no server needed)."""

from __future__ import annotations

import json

import pytest

from flytelineage.errors import ConfigurationError
from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook, kafka_config


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **conn: object) -> None:
    """Define an Airflow connection through its ``AIRFLOW_CONN_<ID>`` JSON env var."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_the_client_is_built_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "dh", conn_type="no-such-type", host="x")
    hook = DataHubEmitterHook(datahub_conn_id="dh")  # reading the connection here would raise
    with pytest.raises(ConfigurationError, match="use one of datahub-rest, datahub-kafka"):
        hook.get_conn()


def test_host_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "dh", conn_type="datahub-rest")
    with pytest.raises(ConfigurationError, match="has no host"):
        DataHubEmitterHook(datahub_conn_id="dh").get_conn()


@pytest.mark.parametrize("conn_type", ["datahub-lite", "datahub_lite"])
def test_conn_types_accept_dashes_and_underscores(
    conn_type: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    set_conn(monkeypatch, "dh", conn_type=conn_type, host=f"{tmp_path}/lite.db")
    hook = DataHubEmitterHook(datahub_conn_id="dh")
    assert hook.get_conn().target == f"datahub-lite:{tmp_path}/lite.db"
    hook.close()


def test_kafka_host_becomes_the_bootstrap_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"connection": {"schema_registry_url": "http://registry:8081", "producer_config": {"acks": "all"}}}
    set_conn(monkeypatch, "dh", conn_type="datahub-kafka", host="broker-1", port=9092, extra=extra)
    conn = DataHubEmitterHook.get_connection("dh")
    config = kafka_config(conn, conn.extra_dejson)
    assert config["connection"] == {
        "bootstrap": "broker-1:9092",
        "schema_registry_url": "http://registry:8081",
        "producer_config": {"acks": "all"},
    }


def test_kafka_bootstrap_given_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "dh", conn_type="datahub-kafka", host="b1:9092", extra={"connection": {"bootstrap": "b2"}})
    conn = DataHubEmitterHook.get_connection("dh")
    with pytest.raises(ConfigurationError, match="twice"):
        kafka_config(conn, conn.extra_dejson)


def test_kafka_sink_builds_without_contacting_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"connection": {"schema_registry_url": "http://127.0.0.1:9"}}
    set_conn(monkeypatch, "dh", conn_type="datahub-kafka", host="127.0.0.1:9", extra=extra)
    hook = DataHubEmitterHook(datahub_conn_id="dh")
    assert hook.get_conn().target == "datahub-kafka:127.0.0.1:9"
    hook.close()


def test_file_target_must_be_local(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "dh", conn_type="datahub-file", host="s3://bucket/proposals.json")
    with pytest.raises(ConfigurationError, match="local path"):
        DataHubEmitterHook(datahub_conn_id="dh").get_conn()


def test_ui_behaviour_relabels_the_host() -> None:
    assert "host" in DataHubEmitterHook.get_ui_field_behaviour()["relabeling"]
