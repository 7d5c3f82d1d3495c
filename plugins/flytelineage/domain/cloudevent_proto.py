"""Protobuf classes for the CloudEvents protobuf format (`io.cloudevents.v1.CloudEvent`).

FlyteAdmin's `cloudEvents` publisher serializes each event with the cloudevents sdk-go protobuf format and publishes
the bytes (base64) on SNS. No Python package ships these classes with the same field numbers, so they are built here at
import time from a hand-written descriptor, in a private descriptor pool so that they can never clash with another
registration of the same proto package.

Field numbers (CloudEvents protobuf format spec, identical in sdk-go `binding/format/protobuf/v2/pb`):
`CloudEvent{id=1, source=2, spec_version=3, type=4, attributes=5 map<string, CloudEventAttributeValue>,
oneof data {binary_data=6, text_data=7, proto_data=8 (google.protobuf.Any)}}` and
`CloudEventAttributeValue{oneof attr {ce_boolean=1, ce_integer=2, ce_string=3, ce_bytes=4, ce_uri=5, ce_uri_ref=6,
ce_timestamp=7}}`.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

PACKAGE = "io.cloudevents.v1"
CLOUD_EVENT_FULL_NAME = f"{PACKAGE}.CloudEvent"
ATTRIBUTE_VALUE_FULL_NAME = f"{PACKAGE}.CloudEventAttributeValue"

_F = descriptor_pb2.FieldDescriptorProto


def _field(
    name: str,
    number: int,
    field_type: int,
    *,
    type_name: str = "",
    oneof_index: int | None = None,
    repeated: bool = False,
) -> descriptor_pb2.FieldDescriptorProto:
    """Describe one field; `type_name` is a fully qualified (leading dot) message name when needed."""
    field = _F(
        name=name,
        number=number,
        type=field_type,  # type: ignore[arg-type]
        label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
        json_name=_json_name(name),
    )
    if type_name:
        field.type_name = type_name
    if oneof_index is not None:
        field.oneof_index = oneof_index
    return field


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _attribute_value_descriptor() -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name="CloudEventAttributeValue")
    message.oneof_decl.add(name="attr")
    message.field.extend(
        [
            _field("ce_boolean", 1, _F.TYPE_BOOL, oneof_index=0),
            _field("ce_integer", 2, _F.TYPE_INT32, oneof_index=0),
            _field("ce_string", 3, _F.TYPE_STRING, oneof_index=0),
            _field("ce_bytes", 4, _F.TYPE_BYTES, oneof_index=0),
            _field("ce_uri", 5, _F.TYPE_STRING, oneof_index=0),
            _field("ce_uri_ref", 6, _F.TYPE_STRING, oneof_index=0),
            _field("ce_timestamp", 7, _F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp", oneof_index=0),
        ]
    )
    return message


def _cloud_event_descriptor() -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name="CloudEvent")
    entry = message.nested_type.add(name="AttributesEntry")
    entry.options.map_entry = True
    entry.field.extend(
        [
            _field("key", 1, _F.TYPE_STRING),
            _field("value", 2, _F.TYPE_MESSAGE, type_name=f".{ATTRIBUTE_VALUE_FULL_NAME}"),
        ]
    )
    message.oneof_decl.add(name="data")
    message.field.extend(
        [
            _field("id", 1, _F.TYPE_STRING),
            _field("source", 2, _F.TYPE_STRING),
            _field("spec_version", 3, _F.TYPE_STRING),
            _field("type", 4, _F.TYPE_STRING),
            _field(
                "attributes",
                5,
                _F.TYPE_MESSAGE,
                type_name=f".{CLOUD_EVENT_FULL_NAME}.AttributesEntry",
                repeated=True,
            ),
            _field("binary_data", 6, _F.TYPE_BYTES, oneof_index=0),
            _field("text_data", 7, _F.TYPE_STRING, oneof_index=0),
            _field("proto_data", 8, _F.TYPE_MESSAGE, type_name=".google.protobuf.Any", oneof_index=0),
        ]
    )
    return message


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for dependency in (timestamp_pb2, any_pb2):
        pool.AddSerializedFile(dependency.DESCRIPTOR.serialized_pb)
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="io/cloudevents/v1/cloudevents.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=["google/protobuf/any.proto", "google/protobuf/timestamp.proto"],
    )
    file_proto.message_type.extend([_attribute_value_descriptor(), _cloud_event_descriptor()])
    pool.Add(file_proto)
    return pool


_POOL = _build_pool()

#: Message class for `io.cloudevents.v1.CloudEvent`.
CloudEvent: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(CLOUD_EVENT_FULL_NAME))
#: Message class for `io.cloudevents.v1.CloudEventAttributeValue`.
CloudEventAttributeValue: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(ATTRIBUTE_VALUE_FULL_NAME))

__all__ = ["CloudEvent", "CloudEventAttributeValue", "PACKAGE"]
