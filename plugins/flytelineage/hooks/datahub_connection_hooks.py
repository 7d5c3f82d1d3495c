"""One hook class per DataHub connection type, so Airflow's providers manager can register each type's form.

Airflow ties a connection type to a hook class through the class's ``conn_type``; these subclasses of
``DataHubEmitterHook`` differ only in that and in their display name. Every one of them reads any of the four types
(the sink is chosen by the connection, not by the class), so a DAG keeps using ``DataHubEmitterHook``.
"""

from __future__ import annotations

from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook


class DataHubRestHook(DataHubEmitterHook):
    """DataHub GMS over REST (``datahub-rest``): host = GMS URL, password = token."""

    conn_type = "datahub-rest"
    hook_name = "DataHub REST (GMS)"


class DataHubKafkaHook(DataHubEmitterHook):
    """DataHub's metadata change proposal topic (``datahub-kafka``): host = bootstrap servers."""

    conn_type = "datahub-kafka"
    hook_name = "DataHub Kafka"


class DataHubFileHook(DataHubEmitterHook):
    """A local JSON file of proposals for ``datahub ingest`` (``datahub-file``): host = path."""

    conn_type = "datahub-file"
    hook_name = "DataHub file"


class DataHubLiteHook(DataHubEmitterHook):
    """A DataHub Lite SQLite file (``datahub-lite``): host = path on a local disk."""

    conn_type = "datahub-lite"
    hook_name = "DataHub Lite"
