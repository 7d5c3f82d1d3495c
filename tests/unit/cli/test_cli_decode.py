"""``flytelineage decode``: the event row or the quarantine reason, exactly what the drain's decoding gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.testing.flyte_event_generator import generate
from flytelineage.testing.malformed_bodies import MALFORMED_BODIES
from tests.unit.cli.cli_runner import run_main, run_script

FORMATS = ["external", "cloudevents_v1", "cloudevents_v2"]


def _expected_row(body: str, raw_format: str | None = None) -> dict[str, object]:
    result = decode_messages([SqsMessage("m", body)], received_at=datetime.now(UTC), raw_format=raw_format)
    assert len(result.events) == 1
    return result.events[0]


@pytest.mark.parametrize("publisher_format", FORMATS)
def test_decodes_every_publisher_format(
    publisher_format: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = generate("linear", name="clidecode1", publisher_format=publisher_format, with_objects=False)
    kinds = set()
    for message in run.messages:
        result = run_main(capsys, monkeypatch, "decode", stdin=message.body + "\n")
        assert result.code == 0, result.out
        printed = json.loads(result.out)
        expected = _expected_row(message.body)
        assert printed["event_id"] == expected["event_id"]
        assert (printed["event_kind"], printed["execution_name"], printed["phase"]) == (
            expected["event_kind"],
            "clidecode1",
            expected["phase"],
        )
        assert printed["publisher_format"] == publisher_format
        kinds.add(printed["event_kind"])
    assert kinds == {"workflow", "node", "task"}


@pytest.mark.parametrize("body", MALFORMED_BODIES)
def test_malformed_bodies_print_the_quarantine_reason(
    body: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = decode_messages([SqsMessage("m", body)], received_at=datetime.now(UTC)).quarantine[0]["reason"]
    result = run_main(capsys, monkeypatch, "decode", stdin=body)
    assert result.code == 1
    assert json.loads(result.out) == {"quarantined": True, "reason": expected}


def test_raw_delivery_needs_raw_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = generate("linear", name="clidecode2", publisher_format="cloudevents_v1", raw=True, with_objects=False)
    body = run.messages[0].body
    path = tmp_path / "body.txt"
    path.write_text(body)
    result = run_main(capsys, monkeypatch, "decode", str(path))
    assert result.code == 1 and "set raw_format" in json.loads(result.out)["reason"]
    result = run_main(capsys, monkeypatch, "decode", str(path), "--raw-format=cloudevents")
    assert result.code == 0 and json.loads(result.out)["event_id"] == _expected_row(body, "cloudevents")["event_id"]
    variable = tmp_path / "variable.json"
    variable.write_text(json.dumps({"sqs_queue": "q", "bucket": "b", "raw_format": "cloudevents"}))
    result = run_main(capsys, monkeypatch, "decode", str(path), f"--variable-file={variable}")
    assert result.code == 0 and json.loads(result.out)["execution_name"] == "clidecode2"


def test_unstorable_row_is_reported_like_the_drain(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flytelineage.testing.poison_bodies import poison_bodies

    name, body = next((n, b) for n, b in poison_bodies() if n == "retry_attempt 2**31")
    result = run_main(capsys, monkeypatch, "decode", stdin=body)
    assert result.code == 1, name
    assert "column retry_attempt (int32): 2147483648 is outside the int32 range" in json.loads(result.out)["reason"]


def test_installed_script_reads_stdin_and_files(tmp_path: Path) -> None:
    run = generate("linear", name="clidecode3", publisher_format="external", with_objects=False)
    result = run_script("decode", stdin=run.messages[0].body)
    assert result.code == 0, result.err
    assert json.loads(result.out)["execution_name"] == "clidecode3"
    result = run_script("decode", str(tmp_path / "missing.txt"))
    assert result.code == 1 and "cannot read the body" in result.err
