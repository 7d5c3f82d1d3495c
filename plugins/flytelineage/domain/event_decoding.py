"""Decode SQS message bodies carrying FlyteAdmin events into event rows (``event_table.EVENT_SCHEMA``).

Accepted bodies (flyte-events.md section 1):

- an SNS envelope (JSON, raw message delivery off) whose ``Subject`` names the payload:
  ``flyteidl.admin.{Workflow,Node,Task}ExecutionEventRequest`` for ``externalEvents`` (base64 of the admin request)
  and for ``cloudEvents`` v1 (base64 of a protobuf CloudEvent holding the jsonpb of the admin request), or
  ``cloudevents.{Workflow,Node,Task}Execution`` for ``cloudEvents`` v2;
- a bare base64 string (raw message delivery on), decoded only when ``raw_format`` says what it is: ``cloudevents``
  (the CloudEvent ``type`` names the payload) or ``external:workflow`` / ``external:node`` / ``external:task`` (a
  topic that carries one event type). The event type of raw externalEvents is never guessed by trial parsing.

Both publishers use the same Subjects for v1; a CloudEvent is recognised by its signature (spec version ``1.0`` and a
``com.flyte.resource.`` type matching the Subject), which the admin request encoding cannot produce.

A message that cannot be decoded becomes a quarantine row with a reason; it never raises out of ``decode_messages``.
``event_id`` hashes the event kind and the deterministic serialization of the inner ``flyteidl.event`` message, so
every redelivery of one event shares it whatever the SNS envelope around it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flyteidl.admin import event_pb2 as admin_events
from flyteidl.core import catalog_pb2, execution_pb2, identifier_pb2
from flyteidl.event import cloudevents_pb2
from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message

from flytelineage.domain.cloudevent_proto import CloudEvent
from flytelineage.domain.lineage_settings import RAW_FORMATS
from flytelineage.errors import DecodeError

EXTERNAL = "external"
CLOUDEVENTS_V1 = "cloudevents_v1"
CLOUDEVENTS_V2 = "cloudevents_v2"
MAX_BODY_CHARS = 1_048_576

_ADMIN_TYPES: dict[str, tuple[str, type[Message]]] = {
    "flyteidl.admin.WorkflowExecutionEventRequest": ("workflow", admin_events.WorkflowExecutionEventRequest),
    "flyteidl.admin.NodeExecutionEventRequest": ("node", admin_events.NodeExecutionEventRequest),
    "flyteidl.admin.TaskExecutionEventRequest": ("task", admin_events.TaskExecutionEventRequest),
}
_V2_TYPES: dict[str, tuple[str, type[Message]]] = {
    "cloudevents.WorkflowExecution": ("workflow", cloudevents_pb2.CloudEventWorkflowExecution),
    "cloudevents.NodeExecution": ("node", cloudevents_pb2.CloudEventNodeExecution),
    "cloudevents.TaskExecution": ("task", cloudevents_pb2.CloudEventTaskExecution),
}
_KIND_TO_ADMIN = {kind: name for name, (kind, _) in _ADMIN_TYPES.items()}
_CE_TYPE_PREFIX = "com.flyte.resource."


def _enum_names(enum: Any) -> dict[int, str]:
    """Value -> name of a protobuf enum, as a plain dict (much cheaper than ``Enum.Name`` per event)."""
    return {value.number: value.name for value in enum.DESCRIPTOR.values}


_PHASE_NAMES = {
    "workflow": _enum_names(execution_pb2.WorkflowExecution.Phase),
    "node": _enum_names(execution_pb2.NodeExecution.Phase),
    "task": _enum_names(execution_pb2.TaskExecution.Phase),
}
_RESOURCE_TYPES = _enum_names(identifier_pb2.ResourceType)
_ERROR_KINDS = _enum_names(execution_pb2.ExecutionError.ErrorKind)
_CACHE_STATUSES = _enum_names(catalog_pb2.CatalogCacheStatus)


@dataclass(frozen=True)
class SqsMessage:
    """The parts of an SQS message the decoder needs (``sent_at`` from the SentTimestamp attribute)."""

    message_id: str
    body: str
    sent_at: datetime | None = None


@dataclass
class DecodeResult:
    """Event rows and quarantine rows of one batch of messages; every input message is in exactly one list."""

    events: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Inner:
    """An event unwrapped from its transport: kind, publisher, the payload message and the raw event inside it.

    ``payload_bytes`` is the payload as published when it was protobuf on the wire (externalEvents), else None and
    the payload is serialized deterministically from the parsed JSON.
    """

    kind: str
    publisher: str
    payload: Any
    event: Any
    payload_bytes: bytes | None = None


def decode_messages(
    messages: Iterable[SqsMessage], *, received_at: datetime, raw_format: str | None = None
) -> DecodeResult:
    """Decode a batch of SQS messages; undecodable ones become quarantine rows with a reason."""
    if raw_format is not None and raw_format not in RAW_FORMATS:
        raise ValueError(f"raw_format must be one of {RAW_FORMATS} or None, not {raw_format!r}")
    result = DecodeResult()
    for message in messages:
        try:
            inner = unwrap_body(message.body, raw_format)
            row = event_row(inner)
        except DecodeError as exc:
            result.quarantine.append(quarantine_row(message, str(exc), received_at))
            continue
        except Exception as exc:
            reason = f"unexpected {type(exc).__name__} while decoding: {exc}"
            result.quarantine.append(quarantine_row(message, reason, received_at))
            continue
        row["message_id"] = message.message_id
        row["received_at"] = received_at
        row["sent_at"] = message.sent_at
        result.events.append(row)
    return result


def quarantine_row(message: SqsMessage, reason: str, received_at: datetime) -> dict[str, Any]:
    """The quarantine row for a message that could not be decoded (keeps the raw body).

    A body or reason that is not valid UTF-8 (a lone surrogate) is stored backslash-escaped, and the reason says so:
    SQS refuses such bodies, but the quarantine must hold whatever it is given.
    """
    body = storable_text(message.body)
    if body != message.body:
        reason = f"{reason} (the body held characters that are not valid UTF-8; it is stored backslash-escaped)"
    return {
        "message_id": storable_text(message.message_id),
        "body": body,
        "reason": storable_text(reason),
        "received_at": received_at,
        "sent_at": message.sent_at,
    }


def storable_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (which Python strings allow and Parquet does not) backslash-escaped."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


# ---- transport ------------------------------------------------------------------------------------------------------


def unwrap_body(body: str, raw_format: str | None = None) -> _Inner:
    """Turn an SQS body into the inner event message, or raise ``DecodeError`` saying why not."""
    if len(body) > MAX_BODY_CHARS:
        raise DecodeError(f"body of {len(body)} characters is larger than any SNS message ({MAX_BODY_CHARS})")
    if body.startswith("{") or body.lstrip().startswith("{"):
        subject, message = _parse_envelope(body)
        return _decode_subject(subject, _b64decode(message, "SNS Message"))
    if raw_format is None:
        raise DecodeError(
            "body is not an SNS JSON envelope; if the subscription uses raw message delivery, "
            "set raw_format to 'cloudevents' or 'external:<workflow|node|task>'"
        )
    data = _b64decode(body, "raw body")
    if raw_format == "cloudevents":
        return _decode_cloudevent(data, subject=None)
    kind = raw_format.split(":", 1)[1]
    return _decode_admin(_KIND_TO_ADMIN[kind], data)


def _parse_envelope(body: str) -> tuple[str, str]:
    try:
        envelope = json.loads(body)
    except ValueError as exc:
        raise DecodeError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise DecodeError("body is JSON but not an object (expected an SNS envelope)")
    if envelope.get("Type", "Notification") != "Notification":
        raise DecodeError(f"SNS envelope Type is {envelope.get('Type')!r}, not 'Notification'")
    subject, message = envelope.get("Subject"), envelope.get("Message")
    if not isinstance(subject, str) or not subject:
        raise DecodeError("SNS envelope has no Subject, so the event type is unknown")
    if not isinstance(message, str) or not message:
        raise DecodeError("SNS envelope has no Message")
    return subject, message


def _b64decode(text: str, what: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"{what} is not valid base64: {exc}") from exc


def _decode_subject(subject: str, data: bytes) -> _Inner:
    if subject in _V2_TYPES:
        return _decode_cloudevent(data, subject=subject)
    if subject not in _ADMIN_TYPES:
        raise DecodeError(f"unknown Subject {subject[:120]!r}: not a FlyteAdmin event type")
    cloud_event = _as_cloudevent(data)
    if cloud_event is not None:
        return _decode_cloudevent(data, subject=subject, parsed=cloud_event)
    return _decode_admin(subject, data)


def _as_cloudevent(data: bytes) -> Any | None:
    """The CloudEvent if ``data`` carries the CloudEvent signature, else None (then it is an admin request)."""
    # A serialized CloudEvent starts with field 1 (id, tag 0x0a); propeller never sets the admin request's
    # field 1 (request_id), so an admin request starts with field 2 (event, tag 0x12). Only parse when it can match.
    if not data or data[0] != 0x0A:
        return None
    try:
        event = CloudEvent.FromString(data)
    except ProtoDecodeError:
        return None
    if event.spec_version == "1.0" and event.type.startswith(_CE_TYPE_PREFIX):
        return event
    return None


def _decode_admin(type_name: str, data: bytes) -> _Inner:
    kind, cls = _ADMIN_TYPES[type_name]
    try:
        request: Any = cls.FromString(data)
    except ProtoDecodeError as exc:
        raise DecodeError(f"Message is not a valid {type_name} protobuf: {exc}") from exc
    if not request.HasField("event"):
        raise DecodeError(f"{type_name} has no event")
    return _Inner(kind, EXTERNAL, request, request.event, data)


def _decode_cloudevent(data: bytes, *, subject: str | None, parsed: Any | None = None) -> _Inner:
    event = parsed if parsed is not None else _parse_cloudevent(data)
    type_name = event.type.removeprefix(_CE_TYPE_PREFIX)
    if subject is not None and type_name != subject:
        raise DecodeError(f"CloudEvent type {event.type!r} does not match the SNS Subject {subject!r}")
    if type_name in _ADMIN_TYPES:
        kind, cls = _ADMIN_TYPES[type_name]
        payload = _parse_json(event, cls)
        if not payload.HasField("event"):
            raise DecodeError(f"CloudEvent data for {type_name} has no event")
        return _Inner(kind=kind, publisher=CLOUDEVENTS_V1, payload=payload, event=payload.event)
    if type_name in _V2_TYPES:
        kind, cls = _V2_TYPES[type_name]
        payload = _parse_json(event, cls)
        if not payload.HasField("raw_event"):
            raise DecodeError(f"CloudEvent data for {type_name} has no raw_event")
        return _Inner(kind=kind, publisher=CLOUDEVENTS_V2, payload=payload, event=payload.raw_event)
    raise DecodeError(f"unknown CloudEvent type {event.type[:120]!r}")


def _parse_cloudevent(data: bytes) -> Any:
    try:
        event = CloudEvent.FromString(data)
    except ProtoDecodeError as exc:
        raise DecodeError(f"raw body is not a protobuf CloudEvent: {exc}") from exc
    if not event.type.startswith(_CE_TYPE_PREFIX):
        raise DecodeError(f"CloudEvent type {event.type[:120]!r} is not a Flyte event type")
    return event


def _parse_json(event: Any, cls: type[Message]) -> Any:
    which = event.WhichOneof("data")
    if which == "binary_data":
        text = event.binary_data
    elif which == "text_data":
        text = event.text_data.encode("utf-8")
    else:
        raise DecodeError(f"CloudEvent carries {which or 'no'} data; expected JSON in binary_data")
    try:
        return json_format.Parse(text, cls(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"CloudEvent data is not valid {cls.DESCRIPTOR.full_name} JSON: {exc}") from exc


# ---- rows -----------------------------------------------------------------------------------------------------------


def event_row(inner: _Inner) -> dict[str, Any]:
    """Flatten an unwrapped event into a row of ``EVENT_SCHEMA`` (without message id and receive times)."""
    event = inner.event
    row: dict[str, Any] = {
        "event_kind": inner.kind,
        "publisher_format": inner.publisher,
        "payload_type": inner.payload.DESCRIPTOR.full_name,
        "payload": inner.payload_bytes or inner.payload.SerializeToString(deterministic=True),
        "event_id": _event_id(inner.kind, event),
        "producer_id": event.producer_id or None,
        "occurred_at": _timestamp(event, "occurred_at"),
        "reported_at": _timestamp(event, "reported_at") if inner.kind != "workflow" else None,
        "phase": _phase_name(inner.kind, event.phase),
    }
    _ROW_BUILDERS[inner.kind](event, row)
    if inner.publisher == CLOUDEVENTS_V2:
        _v2_fields(inner.payload, row)
    _require_identity(row)
    row.update(payload_fields(inner.kind, inner.payload, event))
    return row


def _event_id(kind: str, event: Message) -> str:
    digest = hashlib.sha256(kind.encode())
    digest.update(event.SerializeToString(deterministic=True))
    return digest.hexdigest()[:32]


def _phase_name(kind: str, value: int) -> str:
    name = _PHASE_NAMES[kind].get(value)
    if name is None:
        raise DecodeError(f"{kind} event has unknown phase value {value}")
    return name


_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z, the range of google.protobuf.Timestamp and of datetime
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def _timestamp(message: Message, name: str) -> int | None:
    """A protobuf Timestamp field as epoch microseconds (what the Arrow timestamp columns take), None if unset."""
    if not message.HasField(name):
        return None
    ts = getattr(message, name)
    if not _MIN_SECONDS <= ts.seconds <= _MAX_SECONDS:
        raise DecodeError(f"{name} {ts.seconds}s is outside the representable time range")
    if not 0 <= ts.nanos <= 999_999_999:
        raise DecodeError(f"{name} nanos {ts.nanos} is outside 0..999999999 (not a valid protobuf Timestamp)")
    return int(ts.seconds * 1_000_000 + ts.nanos // 1000)


def _require_identity(row: dict[str, Any]) -> None:
    missing = [k for k in ("project", "domain", "execution_name") if not row.get(k)]
    if missing:
        raise DecodeError(f"{row['event_kind']} event has no execution {', '.join(missing)}")
    if row["event_kind"] != "workflow" and not row.get("node_id"):
        raise DecodeError(f"{row['event_kind']} event has no node id")


def _execution(row: dict[str, Any], exec_id: Any) -> None:
    row["project"] = exec_id.project
    row["domain"] = exec_id.domain
    row["execution_name"] = exec_id.name


def _entity(row: dict[str, Any], ident: Any) -> None:
    if not ident.name:
        return
    row["entity_type"] = _RESOURCE_TYPES.get(ident.resource_type, str(ident.resource_type))
    row["entity_project"] = ident.project
    row["entity_domain"] = ident.domain
    row["entity_name"] = ident.name
    row["entity_version"] = ident.version


def _error(row: dict[str, Any], event: Any) -> None:
    if event.HasField("error"):
        err = event.error
        row["error_code"] = err.code
        row["error_message"] = err.message
        row["error_kind"] = _ERROR_KINDS.get(err.kind, str(err.kind))


def _data_fields(row: dict[str, Any], event: Any) -> None:
    row["input_uri"] = event.input_uri or None
    row["output_uri"] = event.output_uri or None
    row["has_input_data"] = event.HasField("input_data")
    row["has_output_data"] = event.HasField("output_data")


def _workflow_row(event: Any, row: dict[str, Any]) -> None:
    _execution(row, event.execution_id)
    row["output_uri"] = event.output_uri or None
    row["has_output_data"] = event.HasField("output_data")
    _error(row, event)


def _node_row(event: Any, row: dict[str, Any]) -> None:
    _execution(row, event.id.execution_id)
    row.update(
        node_id=event.id.node_id,
        spec_node_id=event.spec_node_id or None,
        node_name=event.node_name or None,
        parent_node_id=event.parent_node_metadata.node_id or None,
        retry_group=event.retry_group or None,
        is_parent=event.is_parent,
        is_dynamic=event.is_dynamic,
        is_array=event.is_array,
        is_in_dynamic_chain=event.is_in_dynamic_chain,
    )
    _entity(row, event.target_entity)
    _data_fields(row, event)
    _error(row, event)
    if event.HasField("task_node_metadata"):
        meta = event.task_node_metadata
        row["cache_status"] = _CACHE_STATUSES.get(meta.cache_status, str(meta.cache_status))
        source = meta.catalog_key.source_task_execution
        if source.node_execution_id.execution_id.name:
            row["cache_source_execution"] = _exec_key(source.node_execution_id.execution_id)
    if event.HasField("workflow_node_metadata"):
        child = event.workflow_node_metadata.execution_id
        row.update(
            child_execution_project=child.project or None,
            child_execution_domain=child.domain or None,
            child_execution_name=child.name or None,
        )


def _exec_key(exec_id: Any) -> str:
    return f"{exec_id.project}-{exec_id.domain}-{exec_id.name}"


def _task_row(event: Any, row: dict[str, Any]) -> None:
    parent = event.parent_node_execution_id
    _execution(row, parent.execution_id)
    row.update(
        node_id=parent.node_id,
        retry_attempt=event.retry_attempt,
        phase_version=event.phase_version,
        task_type=event.task_type or None,
        generated_name=event.metadata.generated_name or None,
    )
    _entity(row, event.task_id)
    _data_fields(row, event)
    _error(row, event)


def _v2_fields(payload: Any, row: dict[str, Any]) -> None:
    if "launch_plan_id" in payload.DESCRIPTOR.fields_by_name and payload.HasField("launch_plan_id"):
        row["launch_plan_name"] = payload.launch_plan_id.name or None
        row["launch_plan_version"] = payload.launch_plan_id.version or None
    fields = payload.DESCRIPTOR.fields_by_name
    if "principal" in fields and payload.principal:
        row["principal"] = payload.principal
    if "labels" in fields and payload.labels:
        row["labels"] = sorted(payload.labels.items())


def payload_fields(kind: str, payload: Any, event: Any) -> dict[str, Any]:
    """The payload-derived columns grouping reads (log URIs, inline LiteralMaps, the v2 interface).

    Computed once, at decode time, so grouping never re-decodes ``payload``; for rows stored before these columns
    existed, ``stored_payload_fields`` computes the same from the stored payload.
    """
    fields: dict[str, Any] = {"has_payload_fields": True}
    if kind == "task":
        fields["log_uris"] = sorted({log.uri for log in event.logs if log.uri})
    if kind != "workflow" and event.HasField("input_data"):
        fields["input_data"] = event.input_data.SerializeToString(deterministic=True)
    if event.HasField("output_data"):
        fields["output_data"] = event.output_data.SerializeToString(deterministic=True)
    if "output_interface" in payload.DESCRIPTOR.fields_by_name and payload.HasField("output_interface"):
        fields["output_interface"] = payload.output_interface.SerializeToString(deterministic=True)
    return fields


def stored_payload_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """``payload_fields`` of a stored row, decoding its ``payload`` (one call); nothing but the marker if it fails."""
    try:
        payload = decode_payload(row["payload_type"], row["payload"])
        return payload_fields(row["event_kind"], payload, raw_event_of(payload))
    except (DecodeError, ValueError):
        return {"has_payload_fields": True}


_ROW_BUILDERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "workflow": _workflow_row,
    "node": _node_row,
    "task": _task_row,
}


#: the open ``counting_payload_decodes`` blocks, each counting ``decode_payload`` calls per payload
_decode_counters: list[Counter[bytes]] = []


@contextmanager
def counting_payload_decodes() -> Iterator[Counter[bytes]]:
    """Count the ``decode_payload`` calls made while the block runs, per stored payload (benchmarks, tests).

    The count is kept inside ``decode_payload`` itself, so every caller is counted however it imported the function;
    a stored row and its payload are one-to-one once rows are deduplicated (``event_id`` hashes the event).
    """
    calls: Counter[bytes] = Counter()
    _decode_counters.append(calls)
    try:
        yield calls
    finally:
        _decode_counters[:] = [c for c in _decode_counters if c is not calls]  # by identity: counters compare equal


def decode_payload(payload_type: str, payload: bytes) -> Message:
    """Re-decode a stored ``payload`` column value into its protobuf message (for re-processing without SQS)."""
    for calls in _decode_counters:
        calls[payload] += 1
    for _, cls in (*_ADMIN_TYPES.values(), *_V2_TYPES.values()):
        if cls.DESCRIPTOR.full_name == payload_type:
            return cls.FromString(payload)
    raise DecodeError(f"unknown payload_type {payload_type!r}")


def raw_event_of(message: Message) -> Message:
    """The ``flyteidl.event`` message inside a decoded payload (admin request ``event`` or v2 ``raw_event``)."""
    if "raw_event" in message.DESCRIPTOR.fields_by_name:
        return getattr(message, "raw_event")  # noqa: B009
    return getattr(message, "event")  # noqa: B009


# ---- log redaction of quarantine reasons ---------------------------------------------------------------------------

MAX_LOGGED_REASON_CHARS = 300
_BODY_ECHO_MIN_CHARS = 8
_KNOWN_NAMES = frozenset(
    {
        *_ADMIN_TYPES,
        *_V2_TYPES,
        *(_CE_TYPE_PREFIX + name for name in (*_ADMIN_TYPES, *_V2_TYPES)),
        *(cls.DESCRIPTOR.full_name for _, cls in _V2_TYPES.values()),
        "Notification",
    }
)
"""Names a reason may repeat from a body without leaking anything: the SNS ``Type``, the Subjects and CloudEvent
types the decoder accepts (its type tables above) and the protobuf names of the v2 payloads."""
_TOKEN = re.compile(r"[^\s'\"`,;:()\[\]{}<>]+")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{12,}")
_MAX_BASE64_RUNS = 16


def loggable_reason(reason: str, body: str) -> str:
    """``reason`` safe for logs: tokens of eight or more characters found in ``body`` (or in the base64 payload it
    carries) are elided, protocol names excepted, then the text is cut to ``MAX_LOGGED_REASON_CHARS``.

    Decoder reasons may quote parts of the message (an unknown Subject, a value protobuf could not parse); the body
    can hold anything a publisher put there, so logs never repeat it. The quarantine row keeps the full reason.
    """
    haystack = _body_texts(body)

    def elide(match: re.Match[str]) -> str:
        token = match.group(0)
        if len(token) < _BODY_ECHO_MIN_CHARS or token in _KNOWN_NAMES or token not in haystack:
            return token
        return "<elided>"

    safe = _TOKEN.sub(elide, reason)
    if len(safe) > MAX_LOGGED_REASON_CHARS:
        safe = safe[:MAX_LOGGED_REASON_CHARS] + "..."
    return safe


def _body_texts(body: str) -> str:
    """The body and the text of every base64 run in it (the SNS ``Message`` or a raw body).

    The body is never parsed as JSON here: it was quarantined, perhaps because parsing it fails (a deeply nested
    document exhausts the recursion limit), and logging must not fail where decoding did.
    """
    texts = [body]
    for run in _BASE64_RUN.findall(body)[:_MAX_BASE64_RUNS]:
        with contextlib.suppress(binascii.Error, ValueError):
            texts.append(base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8", "replace"))
    return "\n".join(texts)
