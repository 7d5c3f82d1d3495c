"""The package's provider metadata, as Airflow's providers manager reads it from the installed entry point."""

from __future__ import annotations

import importlib

import pytest

from flytelineage.provider_info import get_provider_info

CONN_TYPES = ["datahub-rest", "datahub-kafka", "datahub-file", "datahub-lite"]


@pytest.fixture(scope="module")
def manager():  # type: ignore[no-untyped-def]
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_the_installed_entry_point_registers_the_package(manager) -> None:  # type: ignore[no-untyped-def]
    assert "flytelineage" in manager.providers
    assert manager.providers["flytelineage"].data["connection-types"] == get_provider_info()["connection-types"]


@pytest.mark.parametrize("conn_type", CONN_TYPES)
def test_each_connection_type_has_a_hook_of_that_type(manager, conn_type: str) -> None:  # type: ignore[no-untyped-def]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ProvidersManager.hooks is deprecated in favour of the task SDK
        info = manager.hooks[conn_type]
    assert info is not None and info.package_name == "flytelineage"
    assert info.connection_type == conn_type and info.connection_id_attribute_name == "datahub_conn_id"
    module, _, name = info.hook_class_name.rpartition(".")
    hook_class = getattr(importlib.import_module(module), name)
    assert hook_class.conn_type == conn_type and hook_class.default_conn_name == "datahub_default"


@pytest.mark.parametrize(
    ("conn_type", "hidden", "host_label"),
    [
        ("datahub-rest", {"schema", "login"}, "GMS URL"),
        ("datahub-kafka", {"schema", "login", "password"}, "Bootstrap servers"),
        ("datahub-file", {"schema", "login", "password", "port", "extra"}, "File path"),
        ("datahub-lite", {"schema", "login", "password", "port"}, "SQLite file path"),
    ],
)
def test_the_connection_form_of_each_type(manager, conn_type: str, hidden: set[str], host_label: str) -> None:  # type: ignore[no-untyped-def]
    behaviour = manager.field_behaviours[conn_type]
    assert set(behaviour["hidden_fields"]) == hidden
    assert behaviour["relabeling"]["host"] == host_label
    assert behaviour["placeholders"]["host"]


def test_a_type_hook_emits_through_its_connection(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    from datahub.emitter.mcp import MetadataChangeProposalWrapper
    from datahub.metadata.schema_classes import StatusClass

    from flytelineage.hooks.datahub_connection_hooks import DataHubLiteHook

    lite = tmp_path / "lite.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_DEFAULT", json.dumps({"conn_type": "datahub-lite", "host": str(lite)}))
    hook = DataHubLiteHook()
    urn = "urn:li:dataset:(urn:li:dataPlatform:s3,b/k,PROD)"
    try:
        report = hook.emit_all([MetadataChangeProposalWrapper(entityUrn=urn, aspect=StatusClass(removed=False))])
    finally:
        hook.close()
    assert report.proposals == 1 and report.target.startswith("datahub-lite")
    assert lite.exists()
