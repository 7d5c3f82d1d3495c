"""``flytelineage quarantine list|show|redrive`` on moto_server, on what the real drain quarantined.

A raw-delivery subscription (bare base64 cloudEvents bodies) without ``raw_format`` is quarantined whole; after the
fix (``raw_format = cloudevents``), ``redrive --only-decodable`` re-sends those bodies and not the malformed ones, and
the next drain stores every re-sent body as an event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flytelineage.engine.drain_loop import DrainLoop, DrainSettings
from flytelineage.hooks.sqs_batch_hook import SqsBatchHook
from flytelineage.testing.flyte_event_generator import generate
from flytelineage.testing.malformed_bodies import MALFORMED_BODIES
from tests.sqs_s3_helpers import queue_depth, send_batches, stored_rows
from tests.unit.cli.cli_runner import run_main, run_script

pytestmark = pytest.mark.integration

PREFIX = "fl"
INGEST = datetime(2026, 11, 21, 12, 10, tzinfo=UTC)
EARLIER = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WINDOW = ["--start=2026-11-21T12:00:00+00:00", "--end=2026-11-21T13:00:00+00:00"]
SETTINGS = DrainSettings(receivers=1, wait_seconds=0, flush_messages=500, flush_seconds=5, visibility_timeout=120)


def _drain(url: str, bucket: str, ingest_time: datetime, raw_format: str | None = None) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook(aws_conn_id=None)

    def write(key: str, data: bytes) -> None:
        s3.load_bytes(data, key=key, bucket_name=bucket, replace=True)

    settings = DrainSettings(**{**SETTINGS.__dict__, "raw_format": raw_format})
    drain = DrainLoop(
        SqsBatchHook(aws_conn_id=None), url, write, prefix=PREFIX, ingest_time=ingest_time, settings=settings
    )
    return drain.run()


@pytest.fixture
def quarantined(sqs_client: Any, s3_client: Any, unique_name: str, tmp_path: Path) -> dict[str, Any]:
    """A queue and bucket where one drain at INGEST quarantined raw bodies and malformed ones, another at EARLIER."""
    s3_client.create_bucket(Bucket=unique_name)
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    run = generate("linear", name="cliquar1", publisher_format="cloudevents_v1", raw=True, with_objects=False)
    raw = [m.body for m in run.messages]
    raw_ids = send_batches(sqs_client, url, raw)
    malformed_ids = send_batches(sqs_client, url, MALFORMED_BODIES[1:3])
    report = _drain(url, unique_name, INGEST)
    assert (report.received, report.quarantined, report.events) == (len(raw) + 2, len(raw) + 2, 0)
    earlier_ids = send_batches(sqs_client, url, MALFORMED_BODIES[3:4])
    assert _drain(url, unique_name, EARLIER).quarantined == 1
    variable = tmp_path / "variable.json"
    variable.write_text(json.dumps({"sqs_queue": unique_name, "bucket": unique_name, "prefix": PREFIX}))
    return {
        "url": url,
        "bucket": unique_name,
        "bodies": dict(zip(raw_ids, raw, strict=True)) | dict(zip(malformed_ids, MALFORMED_BODIES[1:3], strict=True)),
        "raw_ids": raw_ids,
        "malformed_ids": malformed_ids,
        "earlier_ids": earlier_ids,
        "variable": f"--variable-file={variable}",
    }


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_list_show_and_redrive_after_the_fix(
    quarantined: dict[str, Any],
    sqs_client: Any,
    s3_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    q, bucket = quarantined, quarantined["bucket"]
    stored = {r["message_id"]: r for r in stored_rows(s3_client, bucket, f"{PREFIX}/quarantine/")}

    # list: exactly the window's rows, with the stored reasons
    result = run_main(capsys, monkeypatch, "quarantine", "list", q["variable"], *WINDOW)
    assert result.code == 0, result.err
    rows = _lines(result.out)
    assert sorted(r["message_id"] for r in rows) == sorted(q["raw_ids"] + q["malformed_ids"])
    assert all(r["reason"] == stored[r["message_id"]]["reason"] for r in rows)
    assert {r["key"] for r in rows} == {
        k
        for k in {r["key"] for r in rows}
        if k.startswith(f"{PREFIX}/quarantine/ingest_date=2026-11-21/ingest_hour=12/")
    }
    assert f"{len(rows)} quarantined messages in 1 objects" in result.err
    # a wider window also finds the earlier drain's row
    result = run_main(
        capsys, monkeypatch, "quarantine", "list", q["variable"], "--start=2026-11-20T00:00:00+00:00", WINDOW[1]
    )
    assert {r["message_id"] for r in _lines(result.out)} >= set(q["earlier_ids"])
    assert len(_lines(result.out)) == len(rows) + 1

    # show: the raw body and reason; whether it decodes with the settings given now
    key, raw_id = rows[0]["key"], q["raw_ids"][0]
    result = run_main(capsys, monkeypatch, "quarantine", "show", q["variable"], key, raw_id)
    shown = json.loads(result.out)
    assert (shown["body"], shown["reason"]) == (q["bodies"][raw_id], stored[raw_id]["reason"])
    assert "set raw_format" in shown["reason"] and "set raw_format" in shown["reason_now"]
    result = run_main(
        capsys, monkeypatch, "quarantine", "show", q["variable"], key, raw_id, "--FlyteLineage.raw_format=cloudevents"
    )
    assert json.loads(result.out)["reason_now"] is None
    result = run_main(capsys, monkeypatch, "quarantine", "show", q["variable"], key, "no-such-id")
    assert result.code == 1 and "no quarantine row for message 'no-such-id'" in result.err

    # redrive before the fix: nothing decodes, nothing is sent
    result = run_main(
        capsys, monkeypatch, "quarantine", "redrive", q["variable"], "--window", *WINDOW, "--only-decodable"
    )
    assert result.code == 0 and all("skipped" in r for r in _lines(result.out))
    assert queue_depth(sqs_client, q["url"]) == 0

    # after the fix: the raw bodies are sent (each with its new message id), the malformed ones are not
    fixed = [q["variable"], "--FlyteLineage.raw_format=cloudevents"]
    result = run_main(capsys, monkeypatch, "quarantine", "redrive", *fixed, "--window", *WINDOW, "--only-decodable")
    assert result.code == 0, result.err
    reports = {r["message_id"]: r for r in _lines(result.out)}
    assert set(reports) == set(q["raw_ids"]) | set(q["malformed_ids"])
    sent = {m: r["sent_message_id"] for m, r in reports.items() if "sent_message_id" in r}
    assert set(sent) == set(q["raw_ids"])
    assert all(reports[m]["skipped"] == "still fails to decode" for m in q["malformed_ids"])
    assert f"sent {len(q['raw_ids'])} of {len(reports)}" in result.err
    assert queue_depth(sqs_client, q["url"]) == len(q["raw_ids"])

    # the next drain, with raw_format set, stores every re-sent body as an event
    later = datetime(2026, 11, 21, 12, 20, tzinfo=UTC)
    report = _drain(q["url"], bucket, later, raw_format="cloudevents")
    assert (report.events, report.quarantined) == (len(q["raw_ids"]), 0)
    events = stored_rows(s3_client, bucket, f"{PREFIX}/events/")
    assert sorted(r["message_id"] for r in events) == sorted(sent.values())
    assert {r["execution_name"] for r in events} == {"cliquar1"}


def test_redrive_chosen_ids_dry_run_and_errors(
    quarantined: dict[str, Any], sqs_client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    q = quarantined
    key = _lines(run_main(capsys, monkeypatch, "quarantine", "list", q["variable"], *WINDOW).out)[0]["key"]
    chosen = q["malformed_ids"][0]
    result = run_main(capsys, monkeypatch, "quarantine", "redrive", q["variable"], key, chosen, "--dry-run")
    assert [r["message_id"] for r in _lines(result.out)] == [chosen] and _lines(result.out)[0]["would_send"]
    assert queue_depth(sqs_client, q["url"]) == 0
    result = run_main(capsys, monkeypatch, "quarantine", "redrive", q["variable"], key, chosen)
    assert result.code == 0 and "sent 1 of 1" in result.err
    received = sqs_client.receive_message(QueueUrl=q["url"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in received] == [q["bodies"][chosen]]
    assert received[0]["MessageId"] == _lines(result.out)[0]["sent_message_id"]

    result = run_main(capsys, monkeypatch, "quarantine", "redrive", q["variable"], key, "nope")
    assert result.code == 1 and "no quarantine rows for ['nope']" in result.err
    result = run_main(capsys, monkeypatch, "quarantine", "list", q["variable"], "--start=yesterday")
    assert result.code == 1 and "--start must be an ISO 8601 date-time" in result.err
    missing = f"--variable-file={Path(q['variable'].split('=', 1)[1]).with_name('missing.json')}"
    Path(missing.split("=", 1)[1]).write_text(json.dumps({"sqs_queue": "q", "bucket": "no-such-bucket-cli"}))
    result = run_main(capsys, monkeypatch, "quarantine", "list", missing, *WINDOW)
    assert result.code == 1
    assert "list s3://no-such-bucket-cli/flyte-lineage/quarantine/" in result.err and "NoSuchBucket" in result.err
    assert "connection 'aws_default'" in result.err


def test_installed_script_lists_the_window(quarantined: dict[str, Any]) -> None:
    result = run_script("quarantine", "list", quarantined["variable"], *WINDOW)
    assert result.code == 0, result.err
    ids = {r["message_id"] for r in _lines(result.out)}
    assert ids == set(quarantined["raw_ids"]) | set(quarantined["malformed_ids"])
