"""Airflow hook that sends OpenLineage run events to the backend an Airflow connection names.

The connection's conn type picks the backend (``_`` and ``-`` are accepted alike because Airflow normalizes them):

- ``openlineage-http`` (Marquez or any OpenLineage HTTP backend): host = backend URL (port optional), password = API
  key (sent as ``Authorization: Bearer``); extra = ``endpoint`` (default ``api/v1/lineage``), ``timeout`` (seconds),
  ``retry`` (urllib3 ``Retry`` arguments), ``compression`` (``gzip``), ``custom_headers``, ``verify``. Events go
  through the openlineage-python client's ``HttpTransport``.
- ``amazon-datazone`` (Amazon SageMaker Catalog / DataZone): extra = ``domain_id`` (``dzd_...``) and optionally
  ``aws_conn_id`` and ``region_name``; credentials, region and endpoint come from that Amazon connection (the
  Amazon provider's ``AwsBaseHook``). Each event is one ``PostLineageEvent`` with a ``clientToken`` that is the
  SHA-256 of the event's bytes, so a retried or replayed task re-sends the same token and DataZone does not store the
  event twice. The IAM principal needs ``datazone:PostLineageEvent`` on the domain.
- ``openlineage-file``: host = local path of a JSON Lines file (one event per line, the client's serialization).
  Appends run under a lock and skip lines the file already holds, so re-emitting leaves it unchanged.

When the connection does not exist the target is the file ``$AIRFLOW_HOME/openlineage/events.jsonl`` (a warning says
so once per process). The hook knows nothing about Flyte: it takes events and reports what the backend did.
``emit_all`` sends every event, collects every error, then raises ``TargetError`` if any failed, so the Airflow task
fails after the whole batch was tried and is retried (re-sending is idempotent). ``max_event_bytes`` is the
backend's size limit (DataZone: 300,000 bytes); an event over it is reported as an error, never cut or dropped.
Secrets (the API key, AWS credentials) never appear in logs or errors.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flytelineage.errors import ConfigurationError
from flytelineage.hooks.connection_secrets import connection_secrets, mask_aws_secrets, redact, without_userinfo
from flytelineage.hooks.local_file_targets import default_target_path, file_lock, local_path
from flytelineage.hooks.target_sink_hook import TargetSinkHook, connection_url

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from openlineage.client.event_v2 import RunEvent
    from openlineage.client.transport.http import HttpTransport

log = logging.getLogger(__name__)

CONN_TYPES = ("openlineage-http", "amazon-datazone", "openlineage-file")
DATAZONE_MAX_EVENT_BYTES = 300_000
"""``PostLineageEvent`` accepts one event of at most this many bytes."""

_HTTP_OPTIONS = ("endpoint", "timeout", "retry", "compression", "custom_headers", "verify")

_warned_default_file: set[str] = set()


@dataclass(frozen=True)
class EmitReport:
    """What one ``emit_all`` call did: the target, the events given, and those the backend already had."""

    target: str
    events: int
    unchanged: int = 0


class _Sink(Protocol):
    """One OpenLineage backend: sends event texts, returns the errors it met (never raises for a rejected event)."""

    target: str
    max_event_bytes: int | None

    def write(self, events: Sequence[RunEvent], texts: Sequence[str]) -> tuple[int, list[str]]: ...

    def close(self) -> None: ...


class OpenLineageHook(TargetSinkHook[_Sink]):
    """Emit OpenLineage run events to the HTTP, Amazon DataZone or file backend of ``openlineage_conn_id``.

    :param openlineage_conn_id: the OpenLineage connection (``openlineage-http``, ``amazon-datazone`` or
        ``openlineage-file``).
    :param aws_conn_id: the Amazon connection DataZone calls use unless the connection's extra names another.

    ``get_conn`` builds the sink on first use (never in ``__init__``); ``close`` releases it (HTTP session, AWS
    client).
    """

    conn_name_attr = "openlineage_conn_id"
    default_conn_name = "openlineage_default"
    conn_type = "openlineage-http"
    hook_name = "OpenLineage (HTTP, Amazon DataZone or file)"
    conn_types = CONN_TYPES
    form_labels = {"host": "Backend URL / file path", "password": "API key (HTTP)"}

    def __init__(self, openlineage_conn_id: str = default_conn_name, aws_conn_id: str | None = "aws_default") -> None:
        self.openlineage_conn_id = openlineage_conn_id
        self.aws_conn_id = aws_conn_id
        super().__init__()

    @property
    def max_event_bytes(self) -> int | None:
        """The largest event the backend accepts, in bytes (None: no limit known)."""
        return self.get_conn().max_event_bytes

    @property
    def target(self) -> str:
        """The backend, for logs (no secrets)."""
        return self.get_conn().target

    def emit_all(self, events: Sequence[RunEvent]) -> EmitReport:
        """Send every event, then raise ``TargetError`` naming the failures if any event was not accepted."""
        from openlineage.client.serde import Serde

        sink = self.get_conn()
        texts = [Serde.to_json(e) for e in events]
        errors = [
            f"event {i} ({_describe(e)}) is {len(t.encode())} bytes, over the backend's {sink.max_event_bytes}"
            for i, (e, t) in enumerate(zip(events, texts, strict=True))
            if sink.max_event_bytes is not None and len(t.encode()) > sink.max_event_bytes
        ]
        unchanged, write_errors = sink.write(events, texts)
        errors += write_errors
        target = f"OpenLineage target {sink.target}"
        self.raise_failures(
            errors, target, f"of {len(events)} events", "re-sending is idempotent", "the backend's logs"
        )
        log.info("Emitted %d OpenLineage events to %s (%d already there)", len(events), sink.target, unchanged)
        return EmitReport(target=sink.target, events=len(events), unchanged=unchanged)

    def _build_sink(self) -> _Sink:
        found = self._target_connection()
        if found is None:
            return _FileSink(default_file_path(self.openlineage_conn_id))
        conn, kind = found
        extra = conn.extra_dejson
        if kind == "amazon-datazone":
            return _datazone_sink(conn, extra, self.aws_conn_id)
        if not conn.host:
            raise ConfigurationError(
                f"Connection {self.openlineage_conn_id!r} ({kind}) has no host: set the backend URL or the file path."
            )
        if kind == "openlineage-http":
            return _HttpSink(_http_transport(conn, extra), without_userinfo(connection_url(conn)), self._secrets)
        return _FileSink(local_path(conn.host, self.openlineage_conn_id, kind, "a local JSON Lines file"))


def default_file_path(conn_id: str) -> str:
    """``$AIRFLOW_HOME/openlineage/events.jsonl``, the target when the connection is not defined (warns once)."""
    warning = (
        "Connection %r is not defined: writing OpenLineage events to %s. Define it (conn type openlineage-http, "
        "amazon-datazone or openlineage-file) to send them to a backend."
    )
    return default_target_path(conn_id, ("openlineage", "events.jsonl"), _warned_default_file, warning, log)


def client_token(text: str) -> str:
    """The DataZone ``clientToken`` of an event: the SHA-256 of its UTF-8 bytes, 64 hex digits (1-128 printable)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _describe(event: RunEvent) -> str:
    state = event.eventType.value if event.eventType is not None else "?"
    return f"{state} of run {event.run.runId}, job {event.job.name}"


# ---- sinks ---------------------------------------------------------------------------------------------------------


class _HttpSink:
    """An OpenLineage HTTP endpoint through the client's ``HttpTransport`` (5xx answers retried by its adapter)."""

    max_event_bytes: int | None = None

    def __init__(self, transport: HttpTransport, url: str, secrets: set[str]) -> None:
        self.transport = transport
        self.target = f"openlineage-http:{url}"
        self._secrets = secrets

    def write(self, events: Sequence[RunEvent], texts: Sequence[str]) -> tuple[int, list[str]]:
        errors: list[str] = []
        for i, event in enumerate(events):
            try:
                self.transport.emit(event)
            except Exception as e:  # every failure is reported after the batch, see emit_all
                errors.append(redact(f"event {i} ({_describe(event)}): {type(e).__name__}: {e}", self._secrets))
        return 0, errors

    def close(self) -> None:
        self.transport.close()


class _DataZoneSink:
    """``PostLineageEvent`` per event, each with the event's own client token."""

    max_event_bytes: int | None = DATAZONE_MAX_EVENT_BYTES

    def __init__(self, client: Any, domain_id: str) -> None:
        self.client = client
        self.domain_id = domain_id
        self.target = f"amazon-datazone:{domain_id}"

    def write(self, events: Sequence[RunEvent], texts: Sequence[str]) -> tuple[int, list[str]]:
        errors: list[str] = []
        for i, (event, text) in enumerate(zip(events, texts, strict=True)):
            body = text.encode("utf-8")
            if len(body) > DATAZONE_MAX_EVENT_BYTES:
                continue  # reported by emit_all; DataZone would reject it
            try:
                self.client.post_lineage_event(
                    domainIdentifier=self.domain_id, event=body, clientToken=client_token(text)
                )
            except Exception as e:  # every failure is reported after the batch, see emit_all
                errors.append(f"event {i} ({_describe(event)}): {type(e).__name__}: {e}")
        return 0, errors

    def close(self) -> None:
        self.client.close()


class _FileSink:
    """A JSON Lines file of events; lines already present are not written again."""

    max_event_bytes: int | None = None

    def __init__(self, path: str) -> None:
        self.path = path
        self.target = f"openlineage-file:{path}"

    def write(self, events: Sequence[RunEvent], texts: Sequence[str]) -> tuple[int, list[str]]:
        try:
            with file_lock(self.path):
                existing = set(Path(self.path).read_text("utf-8").splitlines()) if os.path.exists(self.path) else set()
                new = [t for t in dict.fromkeys(texts) if t not in existing]
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.writelines(f"{t}\n" for t in new)
        except OSError as e:  # reported after the batch, see emit_all
            return 0, [f"{type(e).__name__}: {e}"]
        return len(texts) - len(new), []

    def close(self) -> None:
        """Nothing to release: every write is complete when it returns."""


# ---- builders ------------------------------------------------------------------------------------------------------


def _http_transport(conn: Connection, extra: dict[str, Any]) -> HttpTransport:
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    unknown = sorted(set(extra) - set(_HTTP_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"Connection {conn.conn_id!r} (openlineage-http) has unknown extra keys {unknown}; "
            f"use {', '.join(_HTTP_OPTIONS)}."
        )
    params: dict[str, Any] = {"url": connection_url(conn), **extra}
    if conn.password:
        params["auth"] = {"type": "api_key", "apiKey": conn.password}
    try:
        return HttpTransport(HttpConfig.from_dict(params))
    except (TypeError, ValueError, KeyError) as e:
        message = redact(str(e), connection_secrets(conn))
        raise ConfigurationError(f"Connection {conn.conn_id!r} (openlineage-http) is invalid: {message}") from None


def _datazone_sink(conn: Connection, extra: dict[str, Any], aws_conn_id: str | None) -> _DataZoneSink:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    domain_id = extra.get("domain_id")
    if not isinstance(domain_id, str) or not domain_id.startswith(("dzd_", "dzd-")):
        raise ConfigurationError(
            f"Connection {conn.conn_id!r} (amazon-datazone) needs extra domain_id, the DataZone domain id "
            "(dzd_...), shown in the SageMaker Unified Studio / DataZone console."
        )
    aws_conn_id = extra.get("aws_conn_id", aws_conn_id)
    mask_aws_secrets(aws_conn_id)  # a DataZone error quoting the request quotes the session token
    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="datazone", region_name=extra.get("region_name"))
    return _DataZoneSink(hook.get_conn(), domain_id)
