"""Airflow hook that sends DataHub metadata change proposals to the target an Airflow connection names.

The connection's conn type picks the sink (names match the DataHub Airflow plugin where they overlap; ``_`` and ``-``
are accepted alike because Airflow normalizes conn types):

- ``datahub-rest``: host = GMS URL, password = token; extra = ``DataHubRestEmitter`` keyword arguments (e.g.
  ``timeout_sec``, ``retry_max_times``, ``extra_headers``). Proposals go in ``ingestProposalBatch`` calls of at most
  the SDK's batch length (the SDK also splits by payload bytes); 429/5xx answers are retried by the emitter.
- ``datahub-kafka``: host = bootstrap servers; extra = the SDK's Kafka sink config (``connection.producer_config``,
  ``connection.schema_registry_url``, ``topic_routes``...).
- ``datahub-file``: host = local path of a JSON array of proposals, the format ``datahub ingest`` reads with the
  ``file`` source (the SDK's ``write_metadata_file``). Each call appends to the file under a lock.
- ``datahub-lite``: host = path of a DataHub Lite SQLite file on a local disk; extra ``options`` = SQLite pragmas
  (default WAL journal, ``synchronous=NORMAL``, 30 s busy timeout).

PATCH proposals (``changeType`` PATCH, e.g. from the SDK's patch builders) go to GMS, Kafka and the file as they are;
DataHub Lite cannot apply them, so the Lite sink reads the stored aspect, applies the patch locally
(``datahub_patch_apply``) and writes the result as an upsert. ``hard_delete`` removes entities through the REST
API (``DataHubGraph.hard_delete_entity``); only the REST target supports it (``supports_hard_delete``).

When the connection does not exist the target is DataHub Lite at ``$AIRFLOW_HOME/datahub/lite.db`` (a warning says
so once per process). The hook only maps the connection to a sink; the sinks themselves are in ``datahub_sinks``
(Lite's store and its workarounds in ``datahub_lite_store``, the file lock in ``local_file_targets``). The hook knows
nothing about Flyte: it takes proposals and reports what the sink did.
``emit_all`` sends the whole batch, collects every sink error, then raises ``TargetError`` if anything failed, so the
Airflow task fails and is retried (re-emitting the same proposals is idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flytelineage.errors import ConfigurationError
from flytelineage.hooks.datahub_sinks import DataHubSink, FileSink, KafkaSink, LiteSink, RestSink
from flytelineage.hooks.local_file_targets import default_target_path, local_path
from flytelineage.hooks.target_sink_hook import TargetSinkHook, connection_url

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from datahub.emitter.mcp import MetadataChangeProposalWrapper
    from datahub.metadata.schema_classes import MetadataChangeProposalClass

    Proposal = MetadataChangeProposalWrapper | MetadataChangeProposalClass

log = logging.getLogger(__name__)

CONN_TYPES = ("datahub-rest", "datahub-kafka", "datahub-file", "datahub-lite")

_warned_default_lite: set[str] = set()


@dataclass(frozen=True)
class EmitReport:
    """What one ``emit_all`` call delivered: the target, the number of proposals and of sink calls."""

    target: str
    proposals: int
    calls: int


class DataHubEmitterHook(TargetSinkHook[DataHubSink]):
    """Emit DataHub proposals to the REST, Kafka, file or Lite target of connection ``datahub_conn_id``.

    ``get_conn`` builds the sink on first use (the REST sink connects to GMS only then, never in ``__init__``);
    ``close`` flushes and releases it (DataHub Lite also rebuilds its browse index then).
    """

    conn_name_attr = "datahub_conn_id"
    default_conn_name = "datahub_default"
    conn_type = "datahub-lite"
    hook_name = "DataHub (REST, Kafka, file or Lite)"
    conn_types = CONN_TYPES
    form_labels = {"host": "GMS URL / Kafka bootstrap / file path", "password": "Token (REST)"}

    def __init__(self, datahub_conn_id: str = default_conn_name) -> None:
        self.datahub_conn_id = datahub_conn_id
        super().__init__()

    def emit_all(self, mcps: Sequence[Proposal]) -> EmitReport:
        """Send every proposal, then raise ``TargetError`` naming the failures if any proposal was not accepted."""
        sink = self.get_conn()
        calls, errors = sink.write(mcps)
        self.raise_failures(
            errors,
            f"DataHub target {sink.target}",
            f"write(s) out of a batch of {len(mcps)} proposals",
            "re-emitting is idempotent",
            check="the DataHub server logs",
        )
        log.info("Emitted %d DataHub proposals to %s in %d call(s)", len(mcps), sink.target, calls)
        return EmitReport(target=sink.target, proposals=len(mcps), calls=calls)

    def supports_hard_delete(self) -> bool:
        """True when the target is GMS over REST, the only one that can delete entities."""
        return isinstance(self.get_conn(), RestSink)

    def hard_delete(self, urns: Sequence[str]) -> int:
        """Hard-delete entities (all aspects, timeseries included) through GMS; raise ``TargetError`` on failures.

        Returns the number of entities deleted. Only for the REST target (``supports_hard_delete``).
        """
        sink = self.get_conn()
        if not isinstance(sink, RestSink):
            raise ConfigurationError(f"DataHub target {sink.target} cannot hard-delete; only datahub-rest can.")
        errors = sink.hard_delete(urns)
        what = f"hard delete(s) of {len(urns)}"
        self.raise_failures(errors, f"DataHub target {sink.target}", what, "deleting again is harmless")
        return len(urns)

    def _build_sink(self) -> DataHubSink:
        """The connection's fields mapped to the sink of its conn type (no connection: the default Lite file)."""
        found = self._target_connection()
        if found is None:
            return LiteSink(default_lite_path(self.datahub_conn_id), {})
        conn, kind = found
        if not conn.host:
            raise ConfigurationError(
                f"Connection {self.datahub_conn_id!r} ({kind}) has no host: set the GMS URL, the Kafka bootstrap "
                "servers or the file path there."
            )
        extra = conn.extra_dejson
        if kind == "datahub-rest":
            return RestSink.connect(connection_url(conn), conn.password or None, extra, conn.conn_id, conn.host)
        if kind == "datahub-kafka":
            return KafkaSink.connect(kafka_config(conn, extra), conn.conn_id, conn.host)
        if kind == "datahub-file":
            hint = " (ship the file elsewhere afterwards if needed)"
            return FileSink(local_path(conn.host, self.datahub_conn_id, kind, "a local file", hint))
        return LiteSink(conn.host, extra.get("options", {}))


def default_lite_path(conn_id: str) -> str:
    """``$AIRFLOW_HOME/datahub/lite.db``, the target when the DataHub connection is not defined (warns once)."""
    warning = (
        "Connection %r is not defined: writing DataHub metadata to DataHub Lite at %s. Define it (conn type "
        "datahub-rest, datahub-kafka, datahub-file or datahub-lite) to send lineage to a real DataHub."
    )
    return default_target_path(conn_id, ("datahub", "lite.db"), _warned_default_lite, warning, log)


def kafka_config(conn: Connection, extra: dict[str, Any]) -> dict[str, Any]:
    """The SDK Kafka sink config of a connection: extra as given, host as ``connection.bootstrap``."""
    config = dict(extra)
    connection = dict(config.get("connection", {}))
    if "bootstrap" in connection:
        raise ConfigurationError(
            f"Connection {conn.conn_id!r} gives the Kafka bootstrap servers twice (host and extra); keep the host."
        )
    connection["bootstrap"] = f"{conn.host}:{conn.port}" if conn.port else conn.host
    config["connection"] = connection
    return config
