"""A fake DataHub GMS on 127.0.0.1, for the integration tests (the ``fake_gms`` fixture) and ``bench.datahub_target``.

``serving()`` runs it on a free port in a daemon thread and stops it on exit; ``server(fake)`` gives the HTTP server for
a caller that serves it itself (the benchmark's child process). It answers ``GET /config`` for the SDK's connection
check and ``POST /aspects?action=ingestProposal`` and ``?action=ingestProposalBatch``. It records every request (method,
path, lower-cased headers, raw and parsed body, the status it answered) and keeps the state a real GMS would: the latest
aspect per entity aspect, with timeseries aspects keyed by their event time and message id too. A PATCH proposal is
applied to the stored aspect with GMS's generic JSON patch rules (``flytelineage.hooks.datahub_patch_apply``, the code
the Lite sink uses), and ``POST /entities?action=delete`` (a hard delete) removes every aspect of the urn and is
recorded in ``deleted``. ``policy(call, body)`` picks the outcome of each ingest call (0-based call number, parsed
body): an HTTP status (only 200 applies the proposals) or ``"hang"`` (sleep ``hang_seconds``, longer than the client
timeout, then close without answering or applying anything).

A test points an Airflow connection at it, e.g.::

    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_REST", fake_gms.connection(password="tok", retry_max_times=1))
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from flytelineage.hooks.datahub_patch_apply import apply_patch

GMS_CONFIG = {"noCode": "true", "versions": {"acryldata/datahub": {"version": "v1.2.0"}}}

Outcome = int | Literal["hang"]
Policy = Callable[[int, dict[str, Any]], Outcome]
"""(ingest call number, parsed request body) -> HTTP status to answer, or ``"hang"``."""


def always_ok(call: int, body: dict[str, Any]) -> Outcome:
    """The default policy: every ingest call is accepted."""
    return 200


@dataclass(frozen=True)
class Request:
    """One request as the fake GMS received it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    data: bytes
    body: Any
    status: Outcome

    @property
    def is_ingest(self) -> bool:
        """A ``POST /aspects`` call (single or batch proposal)."""
        return self.method == "POST" and self.path.startswith("/aspects")


@dataclass
class FakeGms:
    """What the fake GMS received and applied; ``policy`` decides each ingest call."""

    url: str = ""
    policy: Policy = always_ok
    hang_seconds: float = 2.5
    calls: int = 0
    requests: list[Request] = field(default_factory=list)
    state: dict[tuple[Any, ...], str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connection(self, password: str | None = None, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_*`` value (JSON) for a ``datahub-rest`` connection to this server."""
        conn: dict[str, Any] = {"conn_type": "datahub-rest", "host": self.url, "extra": extra}
        if password is not None:
            conn["password"] = password
        return json.dumps(conn)

    def ingests(self) -> list[Request]:
        """The ingest calls, in arrival order, whatever they were answered."""
        return [r for r in self.requests if r.is_ingest]

    def accepted(self) -> list[Request]:
        """The ingest calls answered with 200."""
        return [r for r in self.ingests() if r.status == 200]

    def batches(self) -> list[list[dict[str, Any]]]:
        """The proposal lists of the accepted ``ingestProposalBatch`` calls, in arrival order."""
        return [r.body["proposals"] for r in self.accepted() if "ingestProposalBatch" in r.path]

    def apply(self, proposals: list[dict[str, Any]]) -> None:
        """Upsert each proposal: timeseries aspects are keyed by their event time and message id too."""
        for proposal in proposals:
            value = proposal["aspect"]["value"]
            aspect = json.loads(value)
            key: tuple[Any, ...] = (proposal["entityUrn"], proposal["aspectName"])
            if proposal.get("changeType") == "PATCH":
                current = json.loads(self.state[key]) if key in self.state else None
                self.state[key] = json.dumps(apply_patch(current, aspect))
                continue
            if "timestampMillis" in aspect:
                key += (aspect["timestampMillis"], json.dumps(aspect.get("messageId")))
            self.state[key] = value

    def hard_delete(self, urn: str) -> int:
        """Remove every aspect of ``urn`` (a GMS hard delete); returns the number of rows removed."""
        keys = [key for key in self.state if key[0] == urn]
        for key in keys:
            del self.state[key]
        self.deleted.append(urn)
        return len(keys)

    def _record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)


def _proposals(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The proposals of an ``ingestProposal`` (one) or ``ingestProposalBatch`` (a list) body."""
    return body["proposals"] if "proposals" in body else [body["proposal"]]


def request_handler(gms: FakeGms) -> type[BaseHTTPRequestHandler]:
    """The request handler class of a server that answers as ``gms`` and records into it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path.startswith("/config") else 404
            self._record(b"", None, status)
            self._reply(status, GMS_CONFIG if status == 200 else {"message": "not found"})

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body: Any = json.loads(data) if data else None
            if self.path.startswith("/entities?action=delete"):
                self._record(data, body, 200)
                with gms.lock:
                    rows = gms.hard_delete(body["urn"])
                self._reply(200, {"value": {"rows": rows, "timeseriesRows": 0}})
                return
            if not self.path.startswith("/aspects"):
                self._record(data, body, 404)
                self._reply(404, {"message": "not found"})
                return
            with gms.lock:
                call, gms.calls = gms.calls, gms.calls + 1
            outcome = gms.policy(call, body)
            self._record(data, body, outcome)  # recorded on arrival, before the client sees the answer
            if outcome == "hang":
                time.sleep(gms.hang_seconds)  # the client has given up; what a slow GMS does later is not applied
                return
            if outcome == 200:
                with gms.lock:
                    gms.apply(_proposals(body))
                self._reply(200, {"value": "ok"})
            else:
                self._reply(outcome, {"message": f"fake GMS answered {outcome}"})

        def _record(self, data: bytes, body: Any, status: Outcome) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            gms._record(Request(self.command, self.path, headers, data, body, status))

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


def server(fake: FakeGms) -> ThreadingHTTPServer:
    """An HTTP server answering as ``fake`` on a free 127.0.0.1 port, ``fake.url`` set; not serving yet."""
    http = ThreadingHTTPServer(("127.0.0.1", 0), request_handler(fake))
    http.daemon_threads = True  # a hanging handler never delays the shutdown
    fake.url = f"http://127.0.0.1:{http.server_address[1]}"
    return http


@contextmanager
def serving() -> Iterator[FakeGms]:
    """A fake GMS served from a daemon thread while the block runs; stopped after it."""
    fake = FakeGms()
    http = server(fake)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=10)
