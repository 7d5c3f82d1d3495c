"""No secret of any connection appears in anything a whole ``airflow dags test flyte_lineage`` run leaves behind.

Every connection the DAG reads holds known, distinctive secrets: the Amazon connection a secret key and a session
token; the DataHub REST connection a token, a secret header and a password in the GMS URL. The drain and the
grouping run on moto_server; every target is pointed at a local HTTP server that answers with an error quoting the
whole request it received (headers included: the session token, the secret header, the basic-auth header that the
URL's credentials become): 500 for DataHub writes, 400 ``AccessDeniedException`` for Glue (a deterministic error:
problem records written to S3) and 403 for Amazon DataZone, the OpenLineage target. A cluster policy switches task
retries off, so each error path runs once and the run stays short.

Then every secret is searched for, raw, percent-encoded and base64-encoded (alone, and as the ``user:password`` of
HTTP basic auth), in the command's stdout and stderr (``airflow dags test`` prints the task logs there; the
``logs`` directory is searched too), every value of the metadata database (XComs, rendered fields...), and every
object on the emulator's S3 (batches, quarantine rows, Glue problem records, state). The test also checks that the
errors happened and quoted the request, and that the server received the secrets, so it fails on a leak rather
than passing for want of errors. The OpenLineage HTTP target, the DataHub Kafka, file and Lite targets and refused
connections are forced hook by hook, with the same secrets checks, in ``tests/integration/test_secrets_never_leak.py``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from flytelineage.domain import storage_keys
from include import airflow_services, demo
from include.local_aws import moto_server

pytestmark = [pytest.mark.dag, pytest.mark.integration]

SECRETS = {
    "aws_secret_key": "AwsSecretKey-9f3c1e7a",
    "aws_session_token": "AwsSessionToken-5b2d8c4e",
    "gms_token": "GmsToken-71ac3f09",
    "gms_header": "GmsHeader-2e6b94d1",
    "gms_url_password": "GmsUrlPw-c83f0a52",
}
"""Every secret set in a connection; none may appear, in any encoding, in anything the run leaves behind."""
USERS = {"gms_url_password": "gmsuser"}
"""The user of each URL password (HTTP basic auth sends ``base64(user:password)``)."""
ACCESS_KEY_ID = "AKIASECRETSDAGRUN01"


def encodings(name: str, value: str) -> dict[str, str]:
    """The forms a secret can leak in: raw, percent-encoded, base64 (alone and as basic auth's user:password)."""
    forms = {"raw": value, "percent": quote(value, safe=""), "base64": base64.b64encode(value.encode()).decode()}
    if name in USERS:
        forms["basic"] = base64.b64encode(f"{USERS[name]}:{value}".encode()).decode()
    return forms


def leaks(text: str) -> list[str]:
    """Each secret form found in ``text``, with the text around its first occurrence."""
    found = []
    for name, value in SECRETS.items():
        for form, encoded in encodings(name, value).items():
            at = text.find(encoded)
            if at >= 0:
                found.append(f"{name} ({form}): ...{text[max(0, at - 300) : at + 60]}...")
    return found


class EchoServer:
    """Answers every request with an error that quotes the whole request (request line, headers, body).

    ``GET /gms/config`` is answered as GMS answers it, so the DataHub REST sink connects and its writes fail.
    ``requests`` keeps every request seen, so the test can check that the secrets were really sent.
    """

    GMS_CONFIG = {"noCode": "true", "versions": {"acryldata/datahub": {"version": "v1.2.0"}}}

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self._answer()

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                request = f"{self.requestline}\n{self.headers}\n{body[:4000].decode('utf-8', 'replace')}"
                with echo.lock:
                    echo.requests.append(request)
                if self.command == "GET" and self.path.startswith("/gms/config"):
                    self._reply(200, json.dumps(echo.GMS_CONFIG))
                elif self.path.startswith("/gms"):
                    self._reply(500, json.dumps({"message": f"GMS failed; you sent: {request}"}))
                elif self.path.startswith(("/glue", "/dz")):  # AWS JSON protocol: a deterministic error
                    error = {"__type": "AccessDeniedException", "message": f"denied; you sent: {request}"}
                    self._reply(400 if self.path.startswith("/glue") else 403, json.dumps(error))
                else:  # OpenLineage (the client joins its endpoint to the URL's host, dropping the URL's path)
                    self._reply(401, f"unauthorized; you sent: {request}")

            def _reply(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler

    @contextmanager
    def serving(self) -> Iterator[EchoServer]:
        thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.http.shutdown()
            self.http.server_close()
            thread.join(timeout=10)


def userinfo(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


def aws_conn(moto_url: str, **services: str) -> dict[str, Any]:
    """The Amazon connection: moto for SQS and S3, ``services`` (name -> endpoint) elsewhere; one attempt per call."""
    return {
        "conn_type": "aws",
        "login": ACCESS_KEY_ID,
        "password": SECRETS["aws_secret_key"],
        "extra": {
            "region_name": demo.REGION,
            "endpoint_url": moto_url,
            "aws_session_token": SECRETS["aws_session_token"],
            "service_config": {name: {"endpoint_url": url} for name, url in services.items()},
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2, "read_timeout": 5},
        },
    }


def datahub_conn(gms_url: str) -> dict[str, Any]:
    return {
        "conn_type": "datahub-rest",
        "host": userinfo(gms_url, USERS["gms_url_password"], SECRETS["gms_url_password"]),
        "password": SECRETS["gms_token"],
        "extra": {"extra_headers": {"X-Gms-Secret": SECRETS["gms_header"]}, "retry_max_times": 0, "timeout_sec": 5},
    }


POLICY = '''"""Test-only cluster policy: no task retries, so every error path runs once and the run ends quickly."""


def task_policy(task):
    task.retries = 0
'''


def seed(stack: demo.Stack) -> int:
    """Two executions (one succeeded, one failed) and two malformed messages (quarantined); the messages sent."""
    from flytelineage.testing.flyte_event_generator import generate, send_to_queue, write_objects
    from flytelineage.testing.malformed_bodies import MALFORMED_BODIES

    s3, sqs = demo.boto_client(stack, "s3"), demo.boto_client(stack, "sqs")
    for bucket in (demo.LINEAGE_BUCKET, demo.DATA_BUCKET):
        s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=demo.QUEUE)["QueueUrl"]
    bodies = []
    for index, scenario in enumerate(("linear", "failed")):
        run = generate(scenario, name=f"secrets{index}", bucket=demo.DATA_BUCKET, seed=index)
        write_objects(s3, run.objects)
        bodies.extend(m.body for m in run.messages)
    bodies.extend(MALFORMED_BODIES[:2])
    send_to_queue(sqs, queue_url, bodies)
    return len(bodies)


def run_dag(stack: demo.Stack, conns: dict[str, dict[str, Any]], *args: str) -> str:
    """``airflow dags test flyte_lineage`` with ``conns`` (conn id -> connection); return its stdout and stderr."""
    env = demo.airflow_env(stack)
    for conn_id, conn in conns.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    if not (stack.airflow_home / "airflow.db").exists():
        (stack.airflow_home / "config").mkdir(parents=True, exist_ok=True)
        (stack.airflow_home / "config" / "airflow_local_settings.py").write_text(POLICY)
        airflow_services.airflow(env, "db", "migrate")
    proc = subprocess.run(
        [airflow_services.airflow_executable(), "dags", "test", "flyte_lineage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.stdout + proc.stderr


def task_states(stack: demo.Stack) -> dict[tuple[str, str, int], str]:
    rows = airflow_services.query_db(
        stack.airflow_home, "SELECT run_id, task_id, map_index, state FROM task_instance", ()
    )
    return {(r["run_id"], r["task_id"], r["map_index"]): r["state"] for r in rows}


def database_text(stack: demo.Stack) -> str:
    """Every text value of every table of the metadata database (XComs, rendered fields, task notes, logs...)."""
    out: list[str] = []
    with contextlib.closing(sqlite3.connect(f"file:{stack.airflow_home / 'airflow.db'}?mode=ro", uri=True)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        out.append(value.decode("utf-8", "replace"))
                    elif value is not None:
                        out.append(str(value))
    return "\n".join(out)


def bucket_text(stack: demo.Stack) -> str:
    """Every object of every bucket on the emulator as text: Parquet (zstd-compressed) as its rows, gzip unpacked."""
    import gzip

    from flytelineage.domain.event_table import parquet_bytes_to_table

    s3 = demo.boto_client(stack, "s3")
    out: list[str] = []
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                data = s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"].read()
                if data[:4] == b"PAR1":
                    text = repr(parquet_bytes_to_table(data).to_pylist())
                elif data[:2] == b"\x1f\x8b":
                    text = gzip.decompress(data).decode("utf-8", "replace")
                else:
                    text = data.decode("utf-8", "replace")
                out.append(f"s3://{bucket['Name']}/{obj['Key']}\n{text}")
    return "\n".join(out)


def files_text(root: Path) -> str:
    return "\n".join(
        f"{path}\n{path.read_bytes().decode('utf-8', 'replace')}" for path in sorted(root.rglob("*")) if path.is_file()
    )


def test_no_secret_in_any_output_of_a_failing_run(tmp_path: Path) -> None:
    server = moto_server.start(tmp_path / "moto")
    echo = EchoServer()
    try:
        with echo.serving():
            stack = demo.Stack(endpoint_url=server.endpoint_url, home=tmp_path)
            seed(stack)
            # every target answers with an error quoting the request; Glue's is deterministic (problem records)
            out = run_dag(
                stack,
                {
                    "aws_default": aws_conn(server.endpoint_url, glue=f"{echo.url}/glue", datazone=f"{echo.url}/dz"),
                    "datahub_default": datahub_conn(f"{echo.url}/gms"),
                    "openlineage_default": {"conn_type": "amazon-datazone", "extra": {"domain_id": "dzd_secretsrun"}},
                },
                demo.LOGICAL_DATE,
            )
        (tmp_path / "dags-test.log").write_text(out)
        states = task_states(stack)
        buckets = bucket_text(stack)
        everything = {
            "stdout and stderr": out,
            "logs directory": files_text(stack.airflow_home / "logs"),
            "metadata database (XComs, rendered fields...)": database_text(stack),
            "S3 objects (batches, quarantine, problems, state)": buckets,
        }
    finally:
        moto_server.stop(tmp_path / "moto")

    # the error paths really ran, and the secrets really went out (so there was something to leak)
    assert sorted(states.values()) == ["failed", "failed", "success", "success", "success"], states
    assert "DataHub target datahub-rest:" in out and "GMS failed; you sent: POST /gms/aspects" in out
    assert "is a problem, not retried" in out and "denied; you sent: POST /glue" in out
    assert "OpenLineage target amazon-datazone:dzd_secretsrun failed" in out and "denied; you sent: POST /dz" in out
    assert f"/{storage_keys.REPORTS}/{storage_keys.GLUE_PROBLEMS}/" in buckets and "AccessDeniedException" in buckets
    assert f"/{storage_keys.QUARANTINE}/" in buckets
    assert "X-Amz-Security-Token: ***" in out and "X-Gms-Secret: ***" in out  # quoted back, and cut out
    sent = "\n".join(echo.requests)
    assert SECRETS["aws_session_token"] in sent and SECRETS["gms_header"] in sent
    assert encodings("gms_url_password", SECRETS["gms_url_password"])["basic"] in sent  # the URL's credentials

    assert {where: found for where, text in everything.items() if (found := leaks(text))} == {}
