"""Undecodable SQS bodies of a dozen kinds, for demos and tests of the quarantine path."""

from __future__ import annotations

import base64
import json

NODE_SUBJECT = "flyteidl.admin.NodeExecutionEventRequest"

MALFORMED_BODIES: list[str] = [
    "",
    "{not json",
    "[1, 2, 3]",
    json.dumps({"hello": "world"}),
    json.dumps({"Type": "Notification", "Subject": NODE_SUBJECT}),
    json.dumps({"Type": "Notification", "Subject": "nope", "Message": "AAAA"}),
    json.dumps({"Type": "Notification", "Subject": NODE_SUBJECT, "Message": "***"}),
    json.dumps({"Type": "Notification", "Subject": NODE_SUBJECT, "Message": base64.b64encode(b"\xff\xfe").decode()}),
    json.dumps({"Type": "Notification", "Subject": NODE_SUBJECT, "Message": ""}),
    json.dumps({"Type": "SubscriptionConfirmation", "Subject": NODE_SUBJECT, "Message": "AAAA"}),
    base64.b64encode(b"raw delivery without configuration").decode(),
    "\u00e9\u00e8 plain text, not JSON",
]
"""Twelve kinds of undecodable bodies (the full bad-input corpus is in the decoder's unit tests)."""
