"""SQS bodies that decode (or nearly decode) and then break a later step: the drain's poison-message corpus.

Each entry is ``(name, body)``. Every one must end in the quarantine with a reason while the messages around it are
stored; none may stop the drain.
"""

from __future__ import annotations

import base64
import json

from flyteidl.admin import event_pb2 as admin_events
from flyteidl.core import execution_pb2, identifier_pb2
from flyteidl.event import event_pb2

TASK_SUBJECT = "flyteidl.admin.TaskExecutionEventRequest"
NODE_SUBJECT = "flyteidl.admin.NodeExecutionEventRequest"
NESTING = 100_000
"""Depth of the nested JSON bodies: far beyond Python's recursion limit."""


def _envelope(subject: str, payload: bytes, **extra: object) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "sns-poison",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:flyte-events",
            "Subject": subject,
            "Message": base64.b64encode(payload).decode(),
            **extra,
        }
    )


def task_event_body(execution: str, node: str, *, retry_attempt: int = 0, phase_version: int = 0) -> str:
    """An externalEvents SNS envelope carrying one RUNNING task event (uint32 fields set as given)."""
    node_exec = identifier_pb2.NodeExecutionIdentifier(
        node_id=node,
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=execution),
    )
    event = event_pb2.TaskExecutionEvent(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="p", domain="d", name="app.wf.t", version="v1"
        ),
        parent_node_execution_id=node_exec,
        retry_attempt=retry_attempt,
        phase=execution_pb2.TaskExecution.RUNNING,
        phase_version=phase_version,
    )
    event.occurred_at.FromSeconds(1_790_000_000)
    return _envelope(TASK_SUBJECT, admin_events.TaskExecutionEventRequest(event=event).SerializeToString())


def node_event_with_nanos(execution: str, node: str, nanos: int) -> str:
    """A node event whose ``occurred_at`` nanos are outside 0..999,999,999 (protobuf encodes any int32)."""
    event = event_pb2.NodeExecutionEvent(
        id=identifier_pb2.NodeExecutionIdentifier(
            node_id=node,
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=execution),
        ),
        phase=execution_pb2.NodeExecution.RUNNING,
    )
    event.occurred_at.seconds = 1_790_000_000
    event.occurred_at.nanos = nanos
    return _envelope(NODE_SUBJECT, admin_events.NodeExecutionEventRequest(event=event).SerializeToString())


def nested_json(depth: int = NESTING) -> str:
    """``[[[...]]]`` nested ``depth`` times."""
    return "[" * depth + "]" * depth


def poison_bodies() -> list[tuple[str, str]]:
    """The named poison bodies that can travel through SQS (valid UTF-8, under 256 KiB)."""
    valid = task_event_body("poison", "n0")
    deep = nested_json()
    return [
        ("retry_attempt 2**31", task_event_body("poison", "n1", retry_attempt=2**31)),
        ("retry_attempt 2**32-1", task_event_body("poison", "n2", retry_attempt=2**32 - 1)),
        ("phase_version 2**31", task_event_body("poison", "n3", phase_version=2**31)),
        ("nanos out of range", node_event_with_nanos("poison", "n4", 2_000_000_000)),
        ("negative nanos", node_event_with_nanos("poison", "n5", -5)),
        ("nested JSON field in a valid envelope", valid[:-1] + f', "Extra": {deep}}}'),
        ("nested JSON body", deep),
        (
            "nested JSON as the SNS Message",
            json.dumps({"Type": "Notification", "Subject": NODE_SUBJECT})[:-1] + f', "Message": {deep}}}',
        ),
    ]
