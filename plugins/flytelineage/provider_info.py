"""Provider metadata for Airflow: the ``apache_airflow_provider`` entry point of the ``flytelineage`` package.

Airflow's providers manager calls ``get_provider_info`` for every installed package that declares the entry point.
It registers each connection type with its hook class and the form the UI shows in Admin > Connections: which
standard fields are hidden, what the others are called, and what to type into them. The form metadata is
declarative (``ui-field-behaviour``), the way Airflow 3.2+ reads it without importing the hooks.

A new target adds its connection types to ``CONNECTION_TYPES`` (one entry each, with its hook class).
"""

from __future__ import annotations

from typing import Any

_HOOKS = "flytelineage.hooks.datahub_connection_hooks"
_COMMON_HIDDEN = ["schema", "login"]

CONNECTION_TYPES: list[dict[str, Any]] = [
    {
        "connection-type": "datahub-rest",
        "hook-class-name": f"{_HOOKS}.DataHubRestHook",
        "hook-name": "DataHub REST (GMS)",
        "ui-field-behaviour": {
            "hidden-fields": [*_COMMON_HIDDEN],
            "relabeling": {"host": "GMS URL", "password": "Token"},
            "placeholders": {
                "host": "http://datahub-gms:8080",
                "port": "(optional, when not in the URL)",
                "password": "personal access token (empty when GMS has no authentication)",
                "extra": '{"timeout_sec": 30, "retry_max_times": 3, "extra_headers": {}}',
            },
        },
    },
    {
        "connection-type": "datahub-kafka",
        "hook-class-name": f"{_HOOKS}.DataHubKafkaHook",
        "hook-name": "DataHub Kafka",
        "ui-field-behaviour": {
            "hidden-fields": [*_COMMON_HIDDEN, "password"],
            "relabeling": {"host": "Bootstrap servers"},
            "placeholders": {
                "host": "broker-1:9092,broker-2:9092",
                "extra": '{"connection": {"schema_registry_url": "http://schema-registry:8081", '
                '"producer_config": {}}}',
            },
        },
    },
    {
        "connection-type": "datahub-file",
        "hook-class-name": f"{_HOOKS}.DataHubFileHook",
        "hook-name": "DataHub file",
        "ui-field-behaviour": {
            "hidden-fields": [*_COMMON_HIDDEN, "password", "port", "extra"],
            "relabeling": {"host": "File path"},
            "placeholders": {"host": "/data/datahub/proposals.json (a local JSON file, appended to)"},
        },
    },
    {
        "connection-type": "datahub-lite",
        "hook-class-name": f"{_HOOKS}.DataHubLiteHook",
        "hook-name": "DataHub Lite",
        "ui-field-behaviour": {
            "hidden-fields": [*_COMMON_HIDDEN, "password", "port"],
            "relabeling": {"host": "SQLite file path"},
            "placeholders": {
                "host": "/data/datahub/lite.db (a local disk)",
                "extra": '{"options": {"journal_mode": "WAL"}}',
            },
        },
    },
]


def get_provider_info() -> dict[str, Any]:
    """The provider info Airflow validates against its ``provider_info.schema.json``."""
    return {
        "package-name": "flytelineage",
        "name": "Flyte lineage",
        "description": "FlyteAdmin execution events (SNS -> SQS) to lineage in DataHub and the AWS Glue Data Catalog.",
        "connection-types": CONNECTION_TYPES,
    }
