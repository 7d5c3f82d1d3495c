"""Bad SQS bodies: each one becomes a quarantine row with a clear reason, and the batch goes on."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from flyteidl.admin import event_pb2 as admin_events
from flyteidl.core import execution_pb2, identifier_pb2
from flyteidl.event import event_pb2

from flytelineage.domain.cloudevent_proto import CloudEvent
from flytelineage.domain.event_decoding import SqsMessage, decode_messages

RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NODE_SUBJECT = "flyteidl.admin.NodeExecutionEventRequest"
WF_SUBJECT = "flyteidl.admin.WorkflowExecutionEventRequest"
TASK_SUBJECT = "flyteidl.admin.TaskExecutionEventRequest"


def _exec_id(project: str = "p", domain: str = "d", name: str = "e1") -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)


def node_request(**overrides: object) -> admin_events.NodeExecutionEventRequest:
    event = event_pb2.NodeExecutionEvent(
        id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=_exec_id()),
        phase=execution_pb2.NodeExecution.SUCCEEDED,
        output_uri="s3://b/m/n0/data/0/outputs.pb",
    )
    event.occurred_at.FromSeconds(1_790_000_000)
    for key, value in overrides.items():
        setattr(event, key, value)
    return admin_events.NodeExecutionEventRequest(event=event)


def task_request() -> admin_events.TaskExecutionEventRequest:
    event = event_pb2.TaskExecutionEvent(
        task_id=identifier_pb2.Identifier(resource_type=1, project="p", domain="d", name="app.wf.t", version="v1"),
        parent_node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=_exec_id()),
        phase=execution_pb2.TaskExecution.RUNNING,
        phase_version=1,
    )
    return admin_events.TaskExecutionEventRequest(event=event)


def envelope(subject: object, message: object, **extra: object) -> str:
    body: dict[str, object] = {"Type": "Notification", "MessageId": "sns-1", "Subject": subject, "Message": message}
    body.update(extra)
    return json.dumps(body)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bad_phase() -> bytes:
    req = node_request()
    data = req.SerializeToString()
    # Re-encode with an out-of-range enum value; python protobuf keeps open-enum values on parse.
    parsed = admin_events.NodeExecutionEventRequest.FromString(data)
    parsed.event.phase = 42  # type: ignore[assignment]
    return parsed.SerializeToString()


def _cloudevent(ce_type: str, data: bytes, spec: str = "1.0") -> bytes:
    event = CloudEvent(id="x", source="s", spec_version=spec, type=ce_type, binary_data=data)
    return bytes(event.SerializeToString())


def _far_timestamp() -> bytes:
    req = node_request()
    req.event.occurred_at.seconds = 253_402_300_800 * 4  # far beyond year 9999
    return req.SerializeToString()


VALID_NODE = node_request().SerializeToString()

BAD_BODIES: list[tuple[str, str, str]] = [
    ("empty body", "", "not an SNS JSON envelope"),
    ("invalid json", "{not json", "not valid JSON"),
    ("json array", "[1, 2]", "not an SNS JSON envelope"),
    ("json scalar object-like", '{"a": 1', "not valid JSON"),
    ("json object not envelope", json.dumps({"hello": "world"}), "no Subject"),
    ("subscription confirmation", envelope(NODE_SUBJECT, b64(VALID_NODE), Type="SubscriptionConfirmation"), "Type"),
    ("missing subject", json.dumps({"Type": "Notification", "Message": b64(VALID_NODE)}), "no Subject"),
    ("subject not a string", envelope(7, b64(VALID_NODE)), "no Subject"),
    ("documented but wrong subject", envelope("admin_event_pb2.NodeExecutionEventRequest", b64(VALID_NODE)), "unknown"),
    ("unknown subject", envelope("flyteidl.admin.Something", b64(VALID_NODE)), "unknown Subject"),
    ("missing message", envelope(NODE_SUBJECT, None), "no Message"),
    ("message not a string", envelope(NODE_SUBJECT, {"a": 1}), "no Message"),
    ("bad base64", envelope(NODE_SUBJECT, "!!!not-base64!!!"), "not valid base64"),
    ("truncated base64", envelope(NODE_SUBJECT, b64(VALID_NODE)[:-3]), "base64"),
    ("garbage protobuf", envelope(NODE_SUBJECT, b64(b"\xff\xfe\xfd\xfc garbage")), "not a valid"),
    ("truncated protobuf", envelope(NODE_SUBJECT, b64(VALID_NODE[: len(VALID_NODE) // 2])), "not a valid"),
    (
        "request without event",
        envelope(NODE_SUBJECT, b64(admin_events.NodeExecutionEventRequest(request_id="r").SerializeToString())),
        "has no event",
    ),
    (
        "missing execution id",
        envelope(
            NODE_SUBJECT,
            b64(
                admin_events.NodeExecutionEventRequest(event=event_pb2.NodeExecutionEvent(phase=3)).SerializeToString()
            ),
        ),
        "no execution",
    ),
    (
        "missing node id",
        envelope(
            NODE_SUBJECT,
            b64(
                admin_events.NodeExecutionEventRequest(
                    event=event_pb2.NodeExecutionEvent(
                        id=identifier_pb2.NodeExecutionIdentifier(execution_id=_exec_id()), phase=3
                    )
                ).SerializeToString()
            ),
        ),
        "no node id",
    ),
    ("unknown phase enum value", envelope(NODE_SUBJECT, b64(_bad_phase())), "unknown phase value 42"),
    ("timestamp beyond year 9999", envelope(NODE_SUBJECT, b64(_far_timestamp())), "outside the representable"),
    ("raw body without raw_format", b64(VALID_NODE), "raw message delivery"),
    ("oversized body", envelope(NODE_SUBJECT, "A" * 1_100_000), "larger than any SNS message"),
    (
        "cloudevent type mismatching subject",
        envelope(WF_SUBJECT, b64(_cloudevent("com.flyte.resource.flyteidl.admin.NodeExecutionEventRequest", b"{}"))),
        "does not match",
    ),
    (
        "cloudevent with invalid json data",
        envelope(
            NODE_SUBJECT, b64(_cloudevent("com.flyte.resource.flyteidl.admin.NodeExecutionEventRequest", b"{oops"))
        ),
        "not valid",
    ),
    (
        "cloudevent v2 unknown type",
        envelope("cloudevents.NodeExecution", b64(_cloudevent("com.flyte.resource.cloudevents.Other", b"{}"))),
        "does not match",
    ),
    (
        "cloudevent v2 without raw event",
        envelope("cloudevents.NodeExecution", b64(_cloudevent("com.flyte.resource.cloudevents.NodeExecution", b"{}"))),
        "no raw_event",
    ),
    ("cloudevent v2 not a cloudevent", envelope("cloudevents.NodeExecution", b64(b"\xff\x00junk")), "CloudEvent"),
    (
        "cloudevent with non-utf8 data",
        envelope(
            NODE_SUBJECT, b64(_cloudevent("com.flyte.resource.flyteidl.admin.NodeExecutionEventRequest", b"\xff\xfe"))
        ),
        "not valid",
    ),
    (
        "non-utf8 garbage wrapped as text",
        envelope(NODE_SUBJECT, b64("\udcff".encode("utf-8", "surrogatepass"))),
        "not a valid",
    ),
]


@pytest.mark.parametrize(("name", "body", "reason"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_body_is_quarantined_with_reason(name: str, body: str, reason: str) -> None:
    result = decode_messages([SqsMessage("m-bad", body)], received_at=RECEIVED)
    assert result.events == []
    assert len(result.quarantine) == 1
    row = result.quarantine[0]
    assert row["message_id"] == "m-bad"
    assert row["body"] == body
    assert reason in row["reason"], row["reason"]


def test_corpus_has_at_least_thirty_kinds() -> None:
    assert len({b[0] for b in BAD_BODIES}) >= 30


def test_a_bad_message_does_not_stop_the_batch() -> None:
    good = envelope(NODE_SUBJECT, b64(VALID_NODE))
    messages = [SqsMessage(f"m{i}", body) for i, (_, body, _) in enumerate(BAD_BODIES)]
    messages.insert(5, SqsMessage("good", good))
    result = decode_messages(messages, received_at=RECEIVED)
    assert [r["message_id"] for r in result.events] == ["good"]
    assert len(result.quarantine) == len(BAD_BODIES)


def test_raw_external_needs_configured_kind_and_is_never_guessed() -> None:
    # A serialized task request parses without error as a workflow request (flyte-events.md 1.4): the decoder must
    # trust the configuration, so a task topic configured as task decodes as a task event.
    raw = b64(task_request().SerializeToString())
    as_task = decode_messages([SqsMessage("m", raw)], received_at=RECEIVED, raw_format="external:task")
    assert [r["event_kind"] for r in as_task.events] == ["task"]
    unconfigured = decode_messages([SqsMessage("m", raw)], received_at=RECEIVED)
    assert unconfigured.events == [] and "raw message delivery" in unconfigured.quarantine[0]["reason"]


def test_invalid_raw_format_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="raw_format"):
        decode_messages([], received_at=RECEIVED, raw_format="external")
