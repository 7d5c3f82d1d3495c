"""Small builders of valid and malformed SQS bodies for drain tests (scenario-level events come from the generator)."""

from __future__ import annotations

import base64
import json

from flyteidl.admin import event_pb2 as admin_events
from flyteidl.core import execution_pb2, identifier_pb2
from flyteidl.event import event_pb2

NODE_SUBJECT = "flyteidl.admin.NodeExecutionEventRequest"


def node_event_body(execution: str, node: str, phase: int = execution_pb2.NodeExecution.SUCCEEDED) -> str:
    """An externalEvents SNS envelope carrying one node event."""
    event = event_pb2.NodeExecutionEvent(
        id=identifier_pb2.NodeExecutionIdentifier(
            node_id=node,
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=execution),
        ),
        phase=phase,  # type: ignore[arg-type]
        output_uri=f"s3://data/metadata/p-d-{execution}/{node}/data/0/outputs.pb",
    )
    event.occurred_at.FromSeconds(1_790_000_000)
    payload = admin_events.NodeExecutionEventRequest(event=event).SerializeToString()
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": f"sns-{execution}-{node}-{phase}",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:flyte-events",
            "Subject": NODE_SUBJECT,
            "Message": base64.b64encode(payload).decode(),
        }
    )


from flytelineage.testing.malformed_bodies import MALFORMED_BODIES  # noqa: E402,F401
