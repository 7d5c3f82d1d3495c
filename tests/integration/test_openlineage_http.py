"""``OpenLineageHook`` over ``openlineage-http`` against a local recording endpoint (127.0.0.1, stopped at the end).

The endpoint records every request (path, headers, body) and answers with the status a per-test policy picks. The
bodies are parsed back with the OpenLineage client's classes and compared with the events sent.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from openlineage.client.serde import Serde

from flytelineage.domain.openlineage_events import build_shard_events
from flytelineage.errors import ConfigurationError, TargetError
from flytelineage.hooks.openlineage_hook import OpenLineageHook
from flytelineage.testing import lineage_samples
from tests.openlineage_parsing import parse_run_event

API_KEY = "ol-secret-key-5f2c"
NO_RETRY = {"total": 0, "read": 0, "connect": 0}


@dataclass
class Endpoint:
    """The recording endpoint: its URL, the requests it got, and the policy picking each answer's status."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    policy: Callable[[int], int] = lambda call: 200


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """A threaded HTTP server on 127.0.0.1 (free port), shut down and closed when the test ends."""
    state = Endpoint(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                call = len(state.requests)
                status = state.policy(call)
                state.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": data}
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the recorded requests instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _connect(monkeypatch: pytest.MonkeyPatch, url: str, **extra: Any) -> OpenLineageHook:
    conn = {"conn_type": "openlineage-http", "host": url, "password": API_KEY, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_OPENLINEAGE_TEST", json.dumps(conn))
    return OpenLineageHook(openlineage_conn_id="openlineage_test")


def test_events_arrive_in_order_with_the_api_key_and_parse_back(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = build_shard_events(lineage_samples.all_samples())
    hook = _connect(monkeypatch, endpoint.url, retry=NO_RETRY)
    try:
        report = hook.emit_all(events)
    finally:
        hook.close()
    assert report.events == len(events) == len(endpoint.requests)
    assert report.target == f"openlineage-http:{endpoint.url}"
    for sent, request in zip(events, endpoint.requests, strict=True):
        assert request["path"] == "/api/v1/lineage"
        assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
        assert request["headers"]["content-type"] == "application/json"
        body = json.loads(request["body"])
        assert body == Serde.to_dict(sent)
        assert Serde.to_dict(parse_run_event(body)) == body


def test_extra_sets_the_endpoint_and_gzip(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    events = build_shard_events([lineage_samples.failed()])
    hook = _connect(monkeypatch, endpoint.url, endpoint="api/v2/lineage", compression="gzip", timeout=3)
    hook.emit_all(events)
    hook.close()
    assert {r["path"] for r in endpoint.requests} == {"/api/v2/lineage"}
    assert all(r["headers"]["content-encoding"] == "gzip" for r in endpoint.requests)
    assert [json.loads(gzip.decompress(r["body"])) for r in endpoint.requests] == [Serde.to_dict(e) for e in events]


def test_rejected_events_fail_after_the_whole_batch_without_leaking_the_key(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.policy = lambda call: 503 if call in (1, 4) else 200
    events = build_shard_events([lineage_samples.linear_success()])
    hook = _connect(monkeypatch, endpoint.url, retry=NO_RETRY)
    with pytest.raises(TargetError, match=r"failed 2 of 8 events: event 1 \(") as raised:
        hook.emit_all(events)
    hook.close()
    assert len(endpoint.requests) == len(events) == 8, "every event was tried"
    assert "event 4 (" in str(raised.value)
    assert API_KEY not in str(raised.value) and API_KEY not in caplog.text


def test_key_in_url_userinfo_stays_out_of_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _connect(monkeypatch, f"http://user:{API_KEY}@127.0.0.1:9")
    assert API_KEY not in hook.target and hook.target == "openlineage-http:http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"conn_type": "openlineage-http", "host": "http://x", "extra": {"bogus": 1}}, "unknown extra keys"),
        ({"conn_type": "openlineage-http"}, "has no host"),
        ({"conn_type": "http", "host": "http://x"}, "use one of openlineage-http"),
        ({"conn_type": "amazon-datazone", "extra": {}}, "needs extra domain_id"),
        ({"conn_type": "openlineage-file", "host": "s3://b/k.jsonl"}, "give a local path"),
    ],
)
def test_invalid_connections_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any], message: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENLINEAGE_BAD", json.dumps(conn))
    with pytest.raises(ConfigurationError, match=message):
        OpenLineageHook(openlineage_conn_id="openlineage_bad").get_conn()
