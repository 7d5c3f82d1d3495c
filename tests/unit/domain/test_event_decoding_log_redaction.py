"""Log redaction of quarantine reasons (``event_decoding.loggable_reason``): protocol names come from the decoder's
type tables, anything else a reason copied from the body is elided."""

from __future__ import annotations

import base64
import json

import pytest

from flytelineage.domain import event_decoding
from flytelineage.domain.event_decoding import MAX_LOGGED_REASON_CHARS, loggable_reason

KINDS = ("Workflow", "Node", "Task")


def test_the_names_kept_in_logs_are_every_type_the_decoder_accepts() -> None:
    expected = {
        name
        for kind in KINDS
        for name in (
            f"flyteidl.admin.{kind}ExecutionEventRequest",
            f"com.flyte.resource.flyteidl.admin.{kind}ExecutionEventRequest",
            f"cloudevents.{kind}Execution",
            f"com.flyte.resource.cloudevents.{kind}Execution",
            f"flyteidl.event.CloudEvent{kind}Execution",
        )
    } | {"Notification"}
    assert expected == event_decoding._KNOWN_NAMES


@pytest.mark.parametrize("name", sorted(event_decoding._KNOWN_NAMES))
def test_a_protocol_name_quoted_from_the_body_stays(name: str) -> None:
    body = json.dumps({"Type": "Notification", "Subject": name, "Message": "AAAA"})
    assert loggable_reason(f"cannot decode {name!r} here", body) == f"cannot decode {name!r} here"


def test_text_from_the_body_or_its_base64_payload_is_elided() -> None:
    secret = "hunter2-very-secret"
    body = json.dumps({"Type": "Notification", "Message": base64.b64encode(f"x {secret} y".encode()).decode()})
    assert loggable_reason(f"value {secret} is not a timestamp; short ok", body) == (
        "value <elided> is not a timestamp; short ok"
    )
    assert loggable_reason(f"value {secret}", "unrelated body") == f"value {secret}"


def test_long_reasons_are_cut() -> None:
    assert loggable_reason("y" * 5000, "") == "y" * MAX_LOGGED_REASON_CHARS + "..."
