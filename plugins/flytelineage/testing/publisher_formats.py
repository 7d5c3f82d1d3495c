"""Encode recorded events the way FlyteAdmin's publishers put them on SNS, and wrap them as SQS bodies.

Formats (flyte-events.md §1.2-1.4):
- `external`: Subject = admin request proto name, Message = base64(serialized admin request).
- `cloudevents_v1`: same Subject, Message = base64(protobuf CloudEvent) whose `binary_data` is the Go-jsonpb JSON of
  the admin request.
- `cloudevents_v2`: Subject `cloudevents.{Workflow,Node,Task}Execution`, Message = base64(protobuf CloudEvent) whose
  `binary_data` is the jsonpb of `flyteidl.event.CloudEvent*Execution` with FlyteAdmin's enrichment.
With raw delivery the SQS body is the bare base64 string; otherwise it is the SNS notification JSON.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import time
from typing import Any

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.event import cloudevents_pb2
from google.protobuf import descriptor, json_format, timestamp_pb2

from flytelineage.domain.cloudevent_proto import CloudEvent
from flytelineage.testing import flyte_literals as lit
from flytelineage.testing.event_timeline import NODE_PHASE, TASK_PHASE, WF_PHASE, EventRecord

PUBLISHER_FORMATS = ("external", "cloudevents_v1", "cloudevents_v2")

DEFAULT_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:flyte-events"

CLOUD_EVENT_SOURCE = "https://github.com/flyteorg/flyte/flyteadmin"
CLOUD_EVENT_TYPE_PREFIX = "com.flyte.resource"
V1_JSON_SCHEMA_URL = "https://github.com/flyteorg/flyteidl/blob/v0.24.14/jsonschema/workflow_execution.json"

_ADMIN_REQUESTS: dict[str, Any] = {
    "workflow": admin_event_pb2.WorkflowExecutionEventRequest,
    "node": admin_event_pb2.NodeExecutionEventRequest,
    "task": admin_event_pb2.TaskExecutionEventRequest,
}
_PHASE_ENUMS = {"workflow": WF_PHASE, "node": NODE_PHASE, "task": TASK_PHASE}
_V2_TOPICS = {
    "workflow": "cloudevents.WorkflowExecution",
    "node": "cloudevents.NodeExecution",
    "task": "cloudevents.TaskExecution",
}


def admin_request(record: EventRecord) -> Any:
    """The `flyteidl.admin.*EventRequest` propeller sent (request_id is always empty)."""
    return _ADMIN_REQUESTS[record.kind](event=record.event)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def admin_request_bytes(record: EventRecord) -> bytes:
    """Serialized admin request, framed by hand (field 2, length-delimited) to skip copying the event.

    Byte-identical to `admin_request(record).SerializeToString()` because `request_id` (field 1) is always empty.
    """
    event_bytes = record.event.SerializeToString()
    return b"\x12" + _varint(len(event_bytes)) + event_bytes


def subject_for(kind: str, publisher_format: str) -> str:
    """The SNS Subject (gizmo key) a publisher uses for an event kind."""
    if publisher_format == "cloudevents_v2":
        return _V2_TOPICS[kind]
    return str(_ADMIN_REQUESTS[kind].DESCRIPTOR.full_name)


def go_jsonpb(message: Any) -> bytes:
    """JSON like golang/protobuf `jsonpb.Marshaler{}`: compact, lowerCamelCase, enum names, int64 as strings,
    zero values omitted."""
    as_dict = json_format.MessageToDict(message)
    return json.dumps(as_dict, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _go_text_value(field: descriptor.FieldDescriptor, value: Any) -> str:
    if field.message_type is not None:
        return "{" + go_text(value) + "}"
    if field.enum_type is not None:
        return str(field.enum_type.values_by_number[value].name)
    if isinstance(value, str):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def go_text(message: Any) -> str:
    """A Go prototext `String()` rendering of an identifier message (Go randomizes its spacing; this is one form)."""
    return " ".join(f"{field.name}:{_go_text_value(field, value)}" for field, value in message.ListFields())


def _phase_name(record: EventRecord) -> str:
    return str(_PHASE_ENUMS[record.kind].Name(record.event.phase))


def _cloud_event_id(record: EventRecord) -> str:
    event = record.event
    identity = {"workflow": "execution_id", "node": "id", "task": "task_id"}[record.kind]
    return f"{go_text(getattr(event, identity))}.{_phase_name(record)}"


def _v2_source(record: EventRecord) -> str:
    event = record.event
    if record.kind == "workflow":
        return f"{event.execution_id.name}/end-node"
    if record.kind == "node":
        return f"{event.id.execution_id.name}/{event.id.node_id}"
    parent = event.parent_node_execution_id
    return f"{parent.execution_id.name}/{parent.node_id}/{event.retry_attempt}"


def _enrich_workflow(record: EventRecord) -> Any:
    message = cloudevents_pb2.CloudEventWorkflowExecution(raw_event=record.event)
    info = record.enrichment
    if record.event.phase != WF_PHASE.SUCCEEDED or info is None:
        return message
    inputs, outputs = info.interface or ({}, {})
    message.output_interface.CopyFrom(lit.typed_interface(inputs, outputs))
    message.principal = info.principal
    if info.launch_plan_id is not None:
        message.launch_plan_id.CopyFrom(info.launch_plan_id)
    message.labels.update(info.labels)
    return message


def _enrich_node(record: EventRecord) -> Any:
    message = cloudevents_pb2.CloudEventNodeExecution(raw_event=record.event)
    info = record.enrichment
    succeeded = record.event.phase == NODE_PHASE.SUCCEEDED
    if not succeeded or record.event.id.node_id == "start-node" or info is None:
        return message
    if info.task_exec_id is not None:
        message.task_exec_id.CopyFrom(info.task_exec_id)
    if info.interface is not None:
        message.output_interface.CopyFrom(lit.typed_interface(*info.interface))
    message.principal = info.principal
    if info.launch_plan_id is not None:
        message.launch_plan_id.CopyFrom(info.launch_plan_id)
    message.labels.update(info.labels)
    return message


def v2_payload(record: EventRecord) -> Any:
    """The `flyteidl.event.CloudEvent*Execution` FlyteAdmin's v2 publisher builds for a record."""
    if record.kind == "workflow":
        return _enrich_workflow(record)
    if record.kind == "node":
        return _enrich_node(record)
    message = cloudevents_pb2.CloudEventTaskExecution(raw_event=record.event)
    if record.enrichment is not None:
        message.labels.update(record.enrichment.labels)
    return message


def publishes(record: EventRecord, publisher_format: str) -> bool:
    """Whether a publisher puts a (published) record on SNS at all.

    cloudEvents v2 enriches a node SUCCEEDED event (not the top-level start-node) with the task of the node's latest
    task execution; when FlyteAdmin cannot find that task (unregistered, e.g. inside a dynamic workflow) the lookup
    error drops the event (`CloudEventWrappedPublisher.TransformNodeExecutionEvent`). The other publishers send all.
    """
    if publisher_format != "cloudevents_v2" or record.kind != "node":
        return True
    info = record.enrichment
    if record.event.phase != NODE_PHASE.SUCCEEDED or record.event.id.node_id == "start-node" or info is None:
        return True
    return info.task_exec_id is None or info.task_registered


def cloud_event(record: EventRecord, version: str) -> Any:
    """The protobuf CloudEvent (`io.cloudevents.v1.CloudEvent`) for a record; `version` is `v1` or `v2`."""
    if version == "v1":
        # The request's only set field is `event`, so its JSON is `{"event": <event JSON>}`.
        data = b'{"event":' + go_jsonpb(record.event) + b"}"
        event_type = f"{CLOUD_EVENT_TYPE_PREFIX}.{subject_for(record.kind, 'external')}"
        source, schema_url = CLOUD_EVENT_SOURCE, V1_JSON_SCHEMA_URL
    else:
        data = go_jsonpb(v2_payload(record))
        event_type = f"{CLOUD_EVENT_TYPE_PREFIX}.{_V2_TOPICS[record.kind]}"
        source, schema_url = _v2_source(record), ""
    message = CloudEvent(
        id=_cloud_event_id(record), source=source, spec_version="1.0", type=event_type, binary_data=data
    )
    # The CloudEvent classes live in a private descriptor pool, so the Timestamp is copied field by field.
    occurred = record.event.occurred_at
    message.attributes["time"].ce_timestamp.seconds = occurred.seconds
    message.attributes["time"].ce_timestamp.nanos = occurred.nanos
    message.attributes["datacontenttype"].ce_string = "application/json"
    message.attributes["jsonschemaurl"].ce_string = schema_url
    return message


def encode_message(record: EventRecord, publisher_format: str) -> tuple[str, str]:
    """Return (SNS Subject, SNS Message) for a record in the given publisher format."""
    if publisher_format == "external":
        payload = admin_request_bytes(record)
    elif publisher_format == "cloudevents_v1":
        payload = cloud_event(record, "v1").SerializeToString()
    elif publisher_format == "cloudevents_v2":
        payload = cloud_event(record, "v2").SerializeToString()
    else:
        raise ValueError(f"unknown publisher format {publisher_format!r}; expected one of {PUBLISHER_FORMATS}")
    return subject_for(record.kind, publisher_format), base64.b64encode(payload).decode("ascii")


def deterministic_uuid(rng: random.Random) -> str:
    """A version-4-shaped UUID drawn from a seeded RNG."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_DAY_PREFIXES: dict[int, str] = {}


def sns_timestamp(at: timestamp_pb2.Timestamp, delay_ms: int) -> str:
    """SNS's `Timestamp` format (UTC, milliseconds, `Z`) for the publish time `at + delay_ms`."""
    millis = at.seconds * 1000 + at.nanos // 1_000_000 + delay_ms
    day, in_day = divmod(millis, 86_400_000)
    prefix = _DAY_PREFIXES.get(day)
    if prefix is None:
        # strftime is slow, so the date part is formatted once per day.
        prefix = _DAY_PREFIXES[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
    seconds, ms = divmod(in_day, 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{prefix}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{ms:03d}Z"


def render_envelope(values: dict[str, str]) -> str:
    """Render SNS notification JSON in SNS's own layout (2-space indent, `" : "`), keys in the order of `values`.

    `values` is normally a parsed `sns_envelope` body (JSON objects keep their key order), so the keys stay in SNS's
    order. Values are JSON-escaped only when they contain characters that need it; the pure-Python indenting encoder
    of `json.dumps(indent=…)` is far too slow for benchmark workloads.
    """
    lines = ",\n".join(f'  "{key}" : {_json_string(value)}' for key, value in values.items())
    return "{\n" + lines + "\n}"


def _json_string(value: str) -> str:
    if '"' in value or "\\" in value or not value.isascii() or not value.isprintable():
        return json.dumps(value)
    return f'"{value}"'


@functools.lru_cache(maxsize=64)
def _subscription_urls(topic_arn: str) -> tuple[str, str]:
    """SigningCertURL and UnsubscribeURL: fixed per region and subscription, as on a real SNS subscription."""
    region = topic_arn.split(":")[3]
    digest = hashlib.sha256(topic_arn.encode()).hexdigest()
    subscription = f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"
    cert = f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{digest[32:64]}.pem"
    unsubscribe = f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:{subscription}"
    return _json_string(cert), _json_string(unsubscribe)


def sns_envelope(
    subject: str, message: str, *, message_id: str, timestamp: str, topic_arn: str, rng: random.Random
) -> str:
    """The SQS body SNS delivers without raw delivery: the notification JSON, in SNS's own layout.

    `message` must be base64 (as every FlyteAdmin publisher produces), so it needs no JSON escaping.
    """
    cert, unsubscribe = _subscription_urls(topic_arn)
    signature = base64.b64encode(rng.randbytes(256)).decode("ascii")
    # One template instead of a generic renderer: this runs once per message in benchmark workloads.
    return (
        f'{{\n  "Type" : "Notification",\n  "MessageId" : "{message_id}",\n'
        f'  "TopicArn" : {_json_string(topic_arn)},\n  "Subject" : {_json_string(subject)},\n'
        f'  "Message" : "{message}",\n  "Timestamp" : "{timestamp}",\n'
        f'  "SignatureVersion" : "1",\n  "Signature" : "{signature}",\n'
        f'  "SigningCertURL" : {cert},\n  "UnsubscribeURL" : {unsubscribe}\n}}'
    )
