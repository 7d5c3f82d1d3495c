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
so once per process). The hook knows nothing about Flyte: it takes proposals and reports what the sink did.
``emit_all`` sends the whole batch, collects every sink error, then raises ``TargetError`` if anything failed, so the
Airflow task fails and is retried (re-emitting the same proposals is idempotent).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from flytelineage.errors import ConfigurationError, TargetError
from flytelineage.hooks.connection_secrets import mask_connection_secrets, redact, without_secrets

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from datahub.emitter.kafka_emitter import DatahubKafkaEmitter
    from datahub.emitter.mcp import MetadataChangeProposalWrapper
    from datahub.emitter.rest_emitter import DataHubRestEmitter
    from datahub.lite.lite_local import DataHubLiteLocal
    from datahub.metadata.schema_classes import MetadataChangeProposalClass

    from flytelineage.hooks.datahub_lite_store import BatchedSqliteLite

    Proposal = MetadataChangeProposalWrapper | MetadataChangeProposalClass

log = logging.getLogger(__name__)

CONN_TYPES = ("datahub-rest", "datahub-kafka", "datahub-file", "datahub-lite")
MAX_REPORTED_ERRORS = 5
# WAL + synchronous=NORMAL: no fsync per aspect (Lite commits every write), ~25x faster; safe against process crashes.
# A waiting writer (another mapped task) blocks up to busy_timeout instead of failing with "database is locked".
LITE_PRAGMAS: dict[str, Any] = {"journal_mode": "WAL", "synchronous": "NORMAL", "busy_timeout": 30_000}
# Proposals per Lite transaction: few commits, and another writer of the file waits seconds at most, not a whole push.
LITE_TRANSACTION_PROPOSALS = 500

_warned_default_lite: set[str] = set()


@dataclass(frozen=True)
class EmitReport:
    """What one ``emit_all`` call delivered: the target, the number of proposals and of sink calls."""

    target: str
    proposals: int
    calls: int


class _Sink(Protocol):
    """One DataHub target: writes proposals, returns the errors it met (never raises for a rejected proposal)."""

    target: str

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]: ...

    def close(self) -> None: ...


class DataHubEmitterHook(BaseHook):
    """Emit DataHub proposals to the REST, Kafka, file or Lite target of connection ``datahub_conn_id``."""

    conn_name_attr = "datahub_conn_id"
    default_conn_name = "datahub_default"
    conn_type = "datahub-lite"
    hook_name = "DataHub (REST, Kafka, file or Lite)"

    def __init__(self, datahub_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.datahub_conn_id = datahub_conn_id
        self._sink: _Sink | None = None
        self._secrets: set[str] = set()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the connection form: host is the GMS URL, the bootstrap servers or a file path."""
        return {
            "hidden_fields": ["port", "schema", "login"],
            "relabeling": {"host": "GMS URL / Kafka bootstrap / file path", "password": "Token (REST)"},
        }

    def get_conn(self) -> _Sink:
        """The sink of the connection, built on first use (connects to GMS only here, never in ``__init__``)."""
        if self._sink is None:
            try:
                self._sink = self._build_sink()
            except Exception as e:
                if (clean := without_secrets(e, self._secrets)) is e:
                    raise
                raise clean from None  # the cause's text would carry the secret again
        return self._sink

    def emit_all(self, mcps: Sequence[Proposal]) -> EmitReport:
        """Send every proposal, then raise ``TargetError`` naming the failures if any proposal was not accepted."""
        sink = self.get_conn()
        calls, errors = sink.write(mcps)
        errors = [redact(error, self._secrets) for error in errors]
        if errors:
            shown = "; ".join(errors[:MAX_REPORTED_ERRORS])
            more = f" (and {len(errors) - MAX_REPORTED_ERRORS} more)" if len(errors) > MAX_REPORTED_ERRORS else ""
            raise TargetError(
                f"DataHub target {sink.target} failed {len(errors)} write(s) out of a batch of {len(mcps)} "
                f"proposals: {shown}{more}. The task fails so Airflow retries; re-emitting is idempotent. "
                f"Check connection {self.datahub_conn_id!r} and the DataHub server logs."
            )
        log.info("Emitted %d DataHub proposals to %s in %d call(s)", len(mcps), sink.target, calls)
        return EmitReport(target=sink.target, proposals=len(mcps), calls=calls)

    def supports_hard_delete(self) -> bool:
        """True when the target is GMS over REST, the only one that can delete entities."""
        return isinstance(self.get_conn(), _RestSink)

    def hard_delete(self, urns: Sequence[str]) -> int:
        """Hard-delete entities (all aspects, timeseries included) through GMS; raise ``TargetError`` on failures.

        Returns the number of entities deleted. Only for the REST target (``supports_hard_delete``).
        """
        sink = self.get_conn()
        if not isinstance(sink, _RestSink):
            raise ConfigurationError(f"DataHub target {sink.target} cannot hard-delete; only datahub-rest can.")
        errors = [redact(error, self._secrets) for error in sink.hard_delete(urns)]
        if errors:
            raise TargetError(
                f"DataHub target {sink.target} failed {len(errors)} hard delete(s) of {len(urns)}: "
                + "; ".join(errors[:MAX_REPORTED_ERRORS])
                + ". The task fails so Airflow retries; deleting again is harmless."
            )
        return len(urns)

    def close(self) -> None:
        """Flush and release the sink (DataHub Lite also rebuilds its browse index here)."""
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.close()

    def _build_sink(self) -> _Sink:
        try:
            conn = self.get_connection(self.datahub_conn_id)
        except AirflowNotFoundException:
            return _LiteSink(default_lite_path(self.datahub_conn_id), {})
        self._secrets = mask_connection_secrets(conn)
        kind = (conn.conn_type or "").replace("_", "-")
        if kind not in CONN_TYPES:
            raise ConfigurationError(
                f"Connection {self.datahub_conn_id!r} has conn type {conn.conn_type!r}; "
                f"use one of {', '.join(CONN_TYPES)}."
            )
        if not conn.host:
            raise ConfigurationError(
                f"Connection {self.datahub_conn_id!r} ({kind}) has no host: set the GMS URL, the Kafka bootstrap "
                "servers or the file path there."
            )
        extra = conn.extra_dejson
        if kind == "datahub-rest":
            return _RestSink(_rest_emitter(conn, extra), conn.host)
        if kind == "datahub-kafka":
            return _KafkaSink(_kafka_emitter(conn, extra), conn.host)
        if kind == "datahub-file":
            return _FileSink(_local_path(conn.host, self.datahub_conn_id))
        return _LiteSink(conn.host, extra.get("options", {}))


def default_lite_path(conn_id: str) -> str:
    """``$AIRFLOW_HOME/datahub/lite.db``, the target when the DataHub connection is not defined (warns once)."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    path = os.path.join(home, "datahub", "lite.db")
    if conn_id not in _warned_default_lite:
        _warned_default_lite.add(conn_id)
        log.warning(
            "Connection %r is not defined: writing DataHub metadata to DataHub Lite at %s. Define it (conn type "
            "datahub-rest, datahub-kafka, datahub-file or datahub-lite) to send lineage to a real DataHub.",
            conn_id,
            path,
        )
    return path


# ---- sinks ---------------------------------------------------------------------------------------------------------


def _without_userinfo(url: str) -> str:
    """The URL without ``user:password@``, so a credential written into the host never reaches logs or errors."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class _RestSink:
    """GMS over REST: batches within the SDK limits; a failed batch is recorded and the next one still sent."""

    def __init__(self, emitter: DataHubRestEmitter, host: str) -> None:
        self.emitter = emitter
        self.target = f"datahub-rest:{_without_userinfo(host)}"

    def hard_delete(self, urns: Sequence[str]) -> list[str]:
        from datahub.ingestion.graph.client import DataHubGraph

        graph = DataHubGraph.from_emitter(self.emitter)  # same server, token and retry settings
        errors: list[str] = []
        try:
            for urn in urns:
                try:
                    graph.hard_delete_entity(urn)
                except Exception as e:  # every failure is reported after the batch, see hard_delete
                    errors.append(f"{urn}: {type(e).__name__}: {e}")
        finally:
            graph.close()
        return errors

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]:
        from datahub.emitter.rest_emitter import BATCH_INGEST_MAX_PAYLOAD_LENGTH

        errors: list[str] = []
        calls = 0
        for start in range(0, len(mcps), BATCH_INGEST_MAX_PAYLOAD_LENGTH):
            chunk = mcps[start : start + BATCH_INGEST_MAX_PAYLOAD_LENGTH]
            calls += 1
            try:
                self.emitter.emit_mcps(list(chunk))
            except Exception as e:  # every failure is reported after the batch, see emit_all
                errors.append(f"proposals {start}-{start + len(chunk) - 1}: {type(e).__name__}: {e}")
        return calls, errors

    def close(self) -> None:
        self.emitter.close()


class _KafkaSink:
    """DataHub's MCP topic; delivery errors arrive through callbacks and are collected until the final flush."""

    def __init__(self, emitter: DatahubKafkaEmitter, bootstrap: str) -> None:
        self.emitter = emitter
        self.target = f"datahub-kafka:{bootstrap}"

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]:
        errors: list[str] = []

        def on_delivery(err: Any, msg: Any) -> None:
            if err:
                errors.append(f"{type(err).__name__}: {err}")

        for mcp in mcps:
            try:
                self.emitter.emit(mcp, on_delivery)
            except Exception as e:  # reported after the batch, see emit_all
                errors.append(f"{mcp.entityUrn} {mcp.aspectName}: {type(e).__name__}: {e}")
        undelivered = self.emitter.flush_with_undelivered_count()
        if undelivered:
            errors.append(f"{undelivered} message(s) still undelivered when the flush timed out")
        return len(mcps), errors

    def close(self) -> None:
        self.emitter.flush()


class _FileSink:
    """A JSON array of proposals (the ``file`` source format), appended to under an advisory lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.target = f"datahub-file:{path}"

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]:
        from datahub.ingestion.sink.file import write_metadata_file
        from datahub.ingestion.source.file import read_metadata_file

        try:
            with _file_lock(self.path):
                existing = list(read_metadata_file(Path(self.path))) if os.path.exists(self.path) else []
                write_metadata_file(self.path, [*existing, *mcps])
        except Exception as e:  # reported after the batch, see emit_all
            return 1, [f"{type(e).__name__}: {e}"]
        return 1, []

    def close(self) -> None:
        """Nothing to release: every write is complete when it returns."""


class _LiteSink:
    """A DataHub Lite SQLite file, written with the SDK's Lite API (an unchanged aspect is not rewritten).

    Writes go in transactions of ``LITE_TRANSACTION_PROPOSALS`` proposals (``datahub_lite_store``), each proposal
    under its own savepoint, so a rejected proposal is rolled back alone and the others are still written; closing
    re-indexes only the entities whose aspects changed.
    """

    def __init__(self, path: str, options: dict[str, Any]) -> None:
        self.path = path
        self.target = f"datahub-lite:{path}"
        self.options = {**LITE_PRAGMAS, **options}
        self._lite: BatchedSqliteLite | None = None

    def lite(self) -> BatchedSqliteLite:
        """The open Lite store (created with its directory on first use)."""
        if self._lite is None:
            from flytelineage.hooks.datahub_lite_store import open_batched_lite

            self._lite = open_batched_lite(self.path, self.options)
        return self._lite

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]:
        from flytelineage.hooks.datahub_patch_apply import is_patch

        lite = self.lite()
        errors: list[str] = []
        upserts = [m for m in mcps if not is_patch(m)]
        written = _written_series(lite, upserts)  # type: ignore[arg-type]
        todo: list[tuple[Any, bool]] = [(m, False) for m in upserts if (m.entityUrn, m.aspectName) not in written]
        todo.extend((m, True) for m in mcps if is_patch(m))
        for start in range(0, len(todo), LITE_TRANSACTION_PROPOSALS):
            with lite.transaction():
                for mcp, patch in todo[start : start + LITE_TRANSACTION_PROPOSALS]:
                    try:
                        lite.write_one(self._patched(lite, mcp) if patch else mcp)
                    except Exception as e:  # reported after the batch, see emit_all
                        kind = " (patch)" if patch else ""
                        errors.append(f"{mcp.entityUrn} {mcp.aspectName}{kind}: {type(e).__name__}: {e}")
        return len(todo), errors

    @staticmethod
    def _patched(lite: DataHubLiteLocal, patch: Any) -> MetadataChangeProposalWrapper:
        """Read-modify-write: Lite stores upserts only, so the patch is applied to the stored aspect here."""
        from flytelineage.hooks.datahub_patch_apply import patched_upsert

        stored = lite.get(patch.entityUrn, [patch.aspectName])
        current = stored.get(patch.aspectName) if stored else None
        return patched_upsert(patch, current if isinstance(current, dict) else None)

    def close(self) -> None:
        if self._lite is not None:
            lite, self._lite = self._lite, None
            lite.close()


def _written_series(lite: DataHubLiteLocal, mcps: Sequence[MetadataChangeProposalWrapper]) -> set[tuple[Any, Any]]:
    """The (urn, aspect) timeseries of the batch that Lite already holds.

    Lite keeps a timeseries aspect (run events) as successive versions of one aspect and compares a write with the
    latest version only, so re-sending a series of events would append them all again. Events carry their own
    timestamps, so when the stored latest equals the last event of the series in this batch, the series was
    written before and is skipped: emitting the same proposals twice leaves the store unchanged.
    """
    last: dict[tuple[Any, Any], MetadataChangeProposalWrapper] = {}
    for mcp in mcps:
        if mcp.aspect is not None and mcp.aspect.ASPECT_TYPE == "timeseries":
            last[(mcp.entityUrn, mcp.aspectName)] = mcp
    written = set()
    for (urn, name), mcp in last.items():
        stored = lite.get(urn, [name])
        if stored and stored.get(name) == mcp.to_obj(simplified_structure=True)["aspect"]["json"]:
            written.add((urn, name))
    return written


# ---- emitters ------------------------------------------------------------------------------------------------------


def _rest_emitter(conn: Connection, extra: dict[str, Any]) -> DataHubRestEmitter:
    """A REST emitter for the connection, its server config checked now so a wrong URL fails before any write."""
    from datahub.emitter.rest_emitter import DataHubRestEmitter
    from datahub.ingestion.graph.config import ClientMode

    host = conn.host or ""
    if conn.port and ":" not in host.split("//", 1)[-1]:
        host = f"{host}:{conn.port}"
    options: dict[str, Any] = {"client_mode": ClientMode.INGESTION, "datahub_component": "flyte-lineage", **extra}
    try:
        emitter = DataHubRestEmitter(host, conn.password or None, **options)
        emitter.test_connection()
    except TypeError as e:
        raise ConfigurationError(f"Connection {conn.conn_id!r}: invalid extra for the REST emitter: {e}") from e
    except Exception as e:
        raise TargetError(
            f"Cannot reach DataHub GMS at {_without_userinfo(host)}: {e}. Check connection {conn.conn_id!r}."
        ) from e
    return emitter


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


def _kafka_emitter(conn: Connection, extra: dict[str, Any]) -> DatahubKafkaEmitter:
    from datahub.emitter.kafka_emitter import DatahubKafkaEmitter
    from datahub.ingestion.sink.datahub_kafka import KafkaSinkConfig

    try:
        config = KafkaSinkConfig.model_validate(kafka_config(conn, extra))
    except ValueError as e:
        raise ConfigurationError(f"Connection {conn.conn_id!r}: invalid Kafka config in extra: {e}") from e
    return DatahubKafkaEmitter(config)


def _local_path(host: str, conn_id: str) -> str:
    if host.startswith("file://"):
        return host.removeprefix("file://")
    if "://" in host:
        raise ConfigurationError(
            f"Connection {conn_id!r} (datahub-file) points at {_without_userinfo(host)!r}; the file target appends "
            "to a local file, so give a local path (ship the file elsewhere afterwards if needed)."
        )
    return host


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    """Serialize appenders of one file on one machine through an advisory lock on ``<path>.lock``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
