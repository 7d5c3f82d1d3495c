"""The four DataHub targets ``DataHubEmitterHook`` writes proposals to: GMS over REST, Kafka, a file, DataHub Lite.

A sink takes a batch of proposals and returns how many calls it made and the errors it met; it never raises for a
rejected proposal, so the hook can try the whole batch and report every failure at once. Sinks are built from plain
values (a URL, a token, SDK options, a path); which values a connection gives is the hook's business. The
``conn_id`` some builders take only names the connection in their error messages.

- ``RestSink``: ``ingestProposalBatch`` calls of at most the SDK's batch length through ``DataHubRestEmitter``
  (which also splits by payload bytes and retries 429/5xx); it alone can hard-delete entities.
- ``KafkaSink``: the MCP topic through ``DatahubKafkaEmitter``; delivery errors are collected until the flush.
- ``FileSink``: a JSON array of proposals (what ``datahub ingest``'s ``file`` source reads), appended under a lock.
- ``LiteSink``: a DataHub Lite SQLite file (``datahub_lite_store``), in transactions of
  ``LITE_TRANSACTION_PROPOSALS`` proposals with PATCH proposals applied locally.

The SDK is imported when a sink is built or used, never when this module is imported. Knows nothing about Flyte.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flytelineage.errors import ConfigurationError, TargetError
from flytelineage.hooks.connection_secrets import without_userinfo
from flytelineage.hooks.local_file_targets import file_lock

if TYPE_CHECKING:
    from datahub.emitter.kafka_emitter import DatahubKafkaEmitter
    from datahub.emitter.mcp import MetadataChangeProposalWrapper
    from datahub.emitter.rest_emitter import DataHubRestEmitter
    from datahub.metadata.schema_classes import MetadataChangeProposalClass

    from flytelineage.hooks.datahub_lite_store import BatchedSqliteLite

    Proposal = MetadataChangeProposalWrapper | MetadataChangeProposalClass

LITE_PRAGMAS: dict[str, Any] = {"journal_mode": "WAL", "synchronous": "NORMAL", "busy_timeout": 30_000}
"""The default SQLite pragmas of a Lite file. WAL + ``synchronous=NORMAL``: no fsync per aspect (Lite commits every
write), ~25x faster, safe against process crashes; a waiting writer (another mapped task) blocks up to
``busy_timeout`` ms instead of failing with "database is locked"."""
LITE_TRANSACTION_PROPOSALS = 500
"""Proposals per Lite transaction: few commits, and another writer of the file waits seconds at most, not a push."""


class DataHubSink(Protocol):
    """One DataHub target: writes proposals, returns the errors it met (never raises for a rejected proposal)."""

    target: str

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]: ...

    def close(self) -> None: ...


class RestSink:
    """GMS over REST: batches within the SDK limits; a failed batch is recorded and the next one still sent."""

    def __init__(self, emitter: DataHubRestEmitter, host: str) -> None:
        self.emitter = emitter
        self.target = f"datahub-rest:{without_userinfo(host)}"

    @classmethod
    def connect(cls, url: str, token: str | None, options: dict[str, Any], conn_id: str, host: str) -> RestSink:
        """A sink for the GMS at ``url``, its server config checked now so a wrong URL fails before any write.

        ``options`` are ``DataHubRestEmitter`` keyword arguments; ``host`` is what the target name shows.
        """
        from datahub.emitter.rest_emitter import DataHubRestEmitter
        from datahub.ingestion.graph.config import ClientMode

        kwargs: dict[str, Any] = {"client_mode": ClientMode.INGESTION, "datahub_component": "flyte-lineage", **options}
        try:
            emitter = DataHubRestEmitter(url, token, **kwargs)
            emitter.test_connection()
        except TypeError as e:
            raise ConfigurationError(f"Connection {conn_id!r}: invalid extra for the REST emitter: {e}") from e
        except Exception as e:
            raise TargetError(
                f"Cannot reach DataHub GMS at {without_userinfo(url)}: {e}. Check connection {conn_id!r}."
            ) from e
        return cls(emitter, host)

    def hard_delete(self, urns: Sequence[str]) -> list[str]:
        """Hard-delete each entity through GMS; returns the errors (every urn is tried)."""
        from datahub.ingestion.graph.client import DataHubGraph

        graph = DataHubGraph.from_emitter(self.emitter)  # same server, token and retry settings
        errors: list[str] = []
        try:
            for urn in urns:
                try:
                    graph.hard_delete_entity(urn)
                except Exception as e:  # every failure is reported after the batch, see the hook's hard_delete
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
            except Exception as e:  # every failure is reported after the batch, see the hook's emit_all
                errors.append(f"proposals {start}-{start + len(chunk) - 1}: {type(e).__name__}: {e}")
        return calls, errors

    def close(self) -> None:
        self.emitter.close()


class KafkaSink:
    """DataHub's MCP topic; delivery errors arrive through callbacks and are collected until the final flush."""

    def __init__(self, emitter: DatahubKafkaEmitter, bootstrap: str) -> None:
        self.emitter = emitter
        self.target = f"datahub-kafka:{bootstrap}"

    @classmethod
    def connect(cls, config: dict[str, Any], conn_id: str, bootstrap: str) -> KafkaSink:
        """A sink for the SDK Kafka sink ``config`` (``connection``, ``topic_routes``...); validated here."""
        from datahub.emitter.kafka_emitter import DatahubKafkaEmitter
        from datahub.ingestion.sink.datahub_kafka import KafkaSinkConfig

        try:
            validated = KafkaSinkConfig.model_validate(config)
        except ValueError as e:
            raise ConfigurationError(f"Connection {conn_id!r}: invalid Kafka config in extra: {e}") from e
        return cls(DatahubKafkaEmitter(validated), bootstrap)

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]:
        errors: list[str] = []

        def on_delivery(err: Any, msg: Any) -> None:
            if err:
                errors.append(f"{type(err).__name__}: {err}")

        for mcp in mcps:
            try:
                self.emitter.emit(mcp, on_delivery)
            except Exception as e:  # reported after the batch, see the hook's emit_all
                errors.append(f"{mcp.entityUrn} {mcp.aspectName}: {type(e).__name__}: {e}")
        undelivered = self.emitter.flush_with_undelivered_count()
        if undelivered:
            errors.append(f"{undelivered} message(s) still undelivered when the flush timed out")
        return len(mcps), errors

    def close(self) -> None:
        self.emitter.flush()


class FileSink:
    """A JSON array of proposals (the ``file`` source format), appended to under an advisory lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.target = f"datahub-file:{path}"

    def write(self, mcps: Sequence[Proposal]) -> tuple[int, list[str]]:
        from datahub.ingestion.sink.file import write_metadata_file
        from datahub.ingestion.source.file import read_metadata_file

        try:
            with file_lock(self.path):
                existing = list(read_metadata_file(Path(self.path))) if os.path.exists(self.path) else []
                write_metadata_file(self.path, [*existing, *mcps])
        except Exception as e:  # reported after the batch, see the hook's emit_all
            return 1, [f"{type(e).__name__}: {e}"]
        return 1, []

    def close(self) -> None:
        """Nothing to release: every write is complete when it returns."""


class LiteSink:
    """A DataHub Lite SQLite file, written with the SDK's Lite API (an unchanged aspect is not rewritten).

    Writes go in transactions of ``LITE_TRANSACTION_PROPOSALS`` proposals, each proposal under its own savepoint, so
    a rejected proposal is rolled back alone and the others are still written; a timeseries the store already holds
    is skipped and a PATCH proposal is applied to the stored aspect (both in ``datahub_lite_store``); closing
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
        written = lite.written_series(upserts)  # type: ignore[arg-type]
        todo: list[tuple[Any, bool]] = [(m, False) for m in upserts if (m.entityUrn, m.aspectName) not in written]
        todo.extend((m, True) for m in mcps if is_patch(m))
        for start in range(0, len(todo), LITE_TRANSACTION_PROPOSALS):
            with lite.transaction():
                for mcp, patch in todo[start : start + LITE_TRANSACTION_PROPOSALS]:
                    try:
                        lite.write_one(lite.patched(mcp) if patch else mcp)
                    except Exception as e:  # reported after the batch, see the hook's emit_all
                        kind = " (patch)" if patch else ""
                        errors.append(f"{mcp.entityUrn} {mcp.aspectName}{kind}: {type(e).__name__}: {e}")
        return len(todo), errors

    def close(self) -> None:
        if self._lite is not None:
            lite, self._lite = self._lite, None
            lite.close()
