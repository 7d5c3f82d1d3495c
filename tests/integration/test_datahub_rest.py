"""The hook against a local stand-in for DataHub GMS: what it sends, how it batches, retries and fails."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from datahub.emitter.aspect import ASPECT_MAP
from datahub.emitter.rest_emitter import BATCH_INGEST_MAX_PAYLOAD_LENGTH, INGEST_MAX_PAYLOAD_BYTES
from datahub.emitter.serialization_helper import post_json_transform
from datahub.metadata.schema_classes import MetadataChangeProposalClass

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.errors import TargetError
from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
from tests import lineage_samples

TOKEN = "fake-gms-token"
GMS_CONFIG = {"noCode": "true", "versions": {"acryldata/datahub": {"version": "v1.2.0"}}}


@dataclass
class FakeGms:
    """What the fake GMS received, and a policy choosing the HTTP status of each ingest call."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status_for: Callable[[int, dict[str, Any]], int] = lambda index, body: 200
    ingest_calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def batches(self) -> list[list[dict[str, Any]]]:
        """The proposal lists of the accepted ``ingestProposalBatch`` calls, in arrival order."""
        return [json.loads(body)["proposals"] for path, _, body in self.accepted() if "ingestProposalBatch" in path]

    def accepted(self) -> list[tuple[str, dict[str, str], bytes]]:
        """Requests answered with 200 (recorded on arrival, marked by the handler)."""
        return [r for r in self.requests if r[1].get("x-fake-status") == "200"]


def _handler(gms: FakeGms) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/config"):
                self._reply(200, GMS_CONFIG)
            else:
                self._reply(404, {"message": "not found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with gms.lock:
                index = gms.ingest_calls
                gms.ingest_calls += 1
            status = gms.status_for(index, json.loads(body)) if self.path.startswith("/aspects") else 404
            headers = {k.lower(): v for k, v in self.headers.items()} | {"x-fake-status": str(status)}
            with gms.lock:
                gms.requests.append((self.path, headers, body))
            self._reply(status, {"value": "ok"} if status == 200 else {"message": f"fake GMS answered {status}"})

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@pytest.fixture
def gms(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGms]:
    """A fake GMS on 127.0.0.1 (free port) behind connection ``datahub_rest``; stopped after the test."""
    fake = FakeGms()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {"conn_type": "datahub-rest", "host": fake.url, "password": TOKEN, "extra": {"retry_max_times": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_REST", json.dumps(conn))
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def emit(mcps: list[Any]) -> Any:
    """Emit through a fresh hook on connection ``datahub_rest``."""
    hook = DataHubEmitterHook(datahub_conn_id="datahub_rest")
    try:
        return hook.emit_all(mcps)
    finally:
        hook.close()


def sample_mcps(count: int = 6) -> list[Any]:
    """Proposals of ``count`` distinct sample executions."""
    return [m for e in lineage_samples.many_executions(count) for m in build_mcps(e)]


def test_every_proposal_arrives_and_parses_back(gms: FakeGms) -> None:
    mcps = sample_mcps()
    report = emit(mcps)
    assert report.proposals == len(mcps) and report.target == f"datahub-rest:{gms.url}"
    received = [p for batch in gms.batches() for p in batch]
    assert len(received) == len(mcps)
    for sent, obj in zip(mcps, received, strict=True):
        proposal = MetadataChangeProposalClass.from_obj(obj)
        assert proposal.validate()
        assert (proposal.entityUrn, proposal.aspectName, proposal.changeType) == (
            sent.entityUrn,
            sent.aspectName,
            "UPSERT",
        )
        # the emitter sends unions in DataHub's simplified JSON; undo that like GMS clients do
        aspect = ASPECT_MAP[obj["aspectName"]].from_obj(post_json_transform(json.loads(obj["aspect"]["value"])))
        assert aspect.validate() and aspect.to_obj() == sent.aspect.to_obj()
    assert all(h["authorization"] == f"Bearer {TOKEN}" for path, h, _ in gms.requests)


def test_batches_respect_the_sdk_limits(gms: FakeGms) -> None:
    mcps = sample_mcps(40)
    assert len(mcps) > 3 * BATCH_INGEST_MAX_PAYLOAD_LENGTH
    report = emit(mcps)
    sizes = [len(batch) for batch in gms.batches()]
    assert sum(sizes) == len(mcps)
    assert max(sizes) == BATCH_INGEST_MAX_PAYLOAD_LENGTH
    assert report.calls == len(sizes) == -(-len(mcps) // BATCH_INGEST_MAX_PAYLOAD_LENGTH)
    assert all(len(body) <= INGEST_MAX_PAYLOAD_BYTES for _, _, body in gms.requests)


def test_a_503_is_retried_then_succeeds(gms: FakeGms) -> None:
    gms.status_for = lambda index, body: 503 if index == 0 else 200
    mcps = sample_mcps(1)
    emit(mcps)
    statuses = [h["x-fake-status"] for _, h, _ in gms.requests]
    assert statuses[:2] == ["503", "200"]
    assert gms.requests[0][2] == gms.requests[1][2]  # the same batch was sent again
    assert sum(len(b) for b in gms.batches()) == len(mcps)


def test_a_persistent_failure_raises_after_the_whole_batch(gms: FakeGms) -> None:
    first_urn = sample_mcps(1)[0].entityUrn

    def fail_first_chunk(index: int, body: dict[str, Any]) -> int:
        return 500 if body["proposals"][0]["entityUrn"] == first_urn else 200

    gms.status_for = fail_first_chunk
    mcps = sample_mcps(10)
    with pytest.raises(TargetError, match=r"failed 1 write\(s\) out of a batch of \d+ proposals") as raised:
        emit(mcps)
    assert "proposals 0-199" in str(raised.value) and "datahub_rest" in str(raised.value)
    # the later chunks were still delivered before the error was raised
    assert sum(len(b) for b in gms.batches()) == len(mcps) - BATCH_INGEST_MAX_PAYLOAD_LENGTH


def test_unreachable_gms_is_a_target_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket_free_port() as port:
        conn = {"conn_type": "datahub_rest", "host": f"http://127.0.0.1:{port}", "extra": {"retry_max_times": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_REST", json.dumps(conn))
    with pytest.raises(TargetError, match="Cannot reach DataHub GMS"):
        emit(sample_mcps(1))


class socket_free_port:  # lowercase: reads as a function in `with socket_free_port() as port`
    """A port that was free a moment ago (nothing listens on it)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_the_token_never_reaches_logs_or_errors(gms: FakeGms, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emit(sample_mcps(1))
    gms.status_for = lambda index, body: 500
    with pytest.raises(TargetError) as raised:
        emit(sample_mcps(1))
    assert TOKEN not in caplog.text
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value.__cause__)
