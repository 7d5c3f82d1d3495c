"""Secrets in connections never reach a log line, an exception text, a traceback or stdout/stderr.

Every connection below (Airflow connections through ``AIRFLOW_CONN_*`` JSON) holds known secret values in every
field that can carry one: passwords, tokens, user info in URLs, Kafka SASL and schema-registry credentials, HTTP
headers, AWS secret keys and session tokens. Each scenario forces one error path of one target (unreachable server,
rejected write, invalid config, unwritable path, missing AWS resource), with every logger at DEBUG and the process's
file descriptors 1 and 2 captured; the test then greps everything captured, and the whole text of the raised
exception with its causes (``traceback.format_exception``), for the secrets. The scenarios also check that the error
did happen (a scenario that raised nothing would prove nothing).
"""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from flytelineage.hooks.connection_secrets import mask_connection_secrets

pytestmark = pytest.mark.integration

SECRETS = {
    "rest_url": "Pw-RestUrl-7d1e",
    "rest_token": "Tok-Rest-93ab",
    "rest_header": "Hdr-Rest-55c2",
    "kafka_sasl": "Pw-Sasl-0f4e",
    "kafka_ssl": "Pw-SslKey-61aa",
    "registry_url": "Pw-RegUrl-2b8d",
    "registry_info": "Pw-RegInfo-4c19",
    "file_url": "Pw-FileUrl-8e07",
    "lite_password": "Pw-Lite-3a6f",
    "ol_url": "Pw-OlUrl-1c5b",
    "ol_key": "Key-Ol-77de",
    "ol_header": "Hdr-Ol-0a9c",
    "aws_secret": "AwsSecret-5e3f9c1d",
    "aws_token": "AwsToken-48b2e6aa",
}
"""Every secret value set in some connection; none may appear in any captured output."""


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **conn: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def aws_conn(endpoint: str) -> dict[str, Any]:
    """An Amazon connection with a secret key and a session token, pointed at ``endpoint``, one attempt per call."""
    return {
        "conn_type": "aws",
        "login": "AKIASECRETSTEST0001",
        "password": SECRETS["aws_secret"],
        "extra": {
            "region_name": "us-east-1",
            "endpoint_url": endpoint,
            "aws_session_token": SECRETS["aws_token"],
            "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1, "read_timeout": 2},
        },
    }


@pytest.fixture
def capture(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Every logger at DEBUG and fds 1/2; the callable returns all text captured so far.

    A record of the product's own loggers (``flytelineage.*``) is taken as formatted, traceback included. A record
    of a library (botocore's signed requests, the DataHub SDK's curl lines, the OpenLineage client's transport
    line quote URLs, headers and tokens at DEBUG) is taken as the Airflow task log writes it: through Airflow's
    secrets masker, which holds what the hooks registered. Output on fds 1/2 (librdkafka writes there) is raw.
    """
    from airflow.sdk._shared.secrets_masker import redact

    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "boto3", "urllib3", "datahub", "openlineage", "airflow", "flytelineage"):
        caplog.set_level(logging.DEBUG, logger=name)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    seen: list[str] = []

    def text() -> str:
        out, err = capfd.readouterr()
        seen.append(out + err)
        lines = []
        for record in caplog.records:
            line = formatter.format(record) + f" {record.args!r}"
            lines.append(line if record.name.startswith("flytelineage") else str(redact(line)))
        return "\n".join([*lines, *seen])

    yield text


def leaked(text: str) -> list[str]:
    """Each secret found in ``text``: its name and the text around its first occurrence."""
    found = []
    for name, value in SECRETS.items():
        at = text.find(value)
        if at >= 0:
            found.append(f"{name}: ...{text[max(0, at - 150) : at + 40]}...")
    return found


def run_failing(action: Callable[[], Any], capture: Callable[[], str]) -> tuple[BaseException, str]:
    """Run ``action``, which must raise; return the exception and all output with the exception's full text."""
    try:
        action()
    except Exception as e:
        return e, capture() + "\n" + "".join(traceback.format_exception(e))
    raise AssertionError("the scenario did not fail: it proves nothing about error paths")


# ---- DataHub -------------------------------------------------------------------------------------------------------


def rest_conn(host: str, **extra: Any) -> dict[str, Any]:
    return {
        "conn_type": "datahub-rest",
        "host": host,
        "password": SECRETS["rest_token"],
        "extra": {"extra_headers": {"X-Gms-Secret": SECRETS["rest_header"]}, "retry_max_times": 0, **extra},
    }


def userinfo_url(url: str, secret: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://someone:{secret}@{rest}"


def datahub_emit(conn_id: str) -> Callable[[], Any]:
    from flytelineage.domain.datahub_mcps import build_mcps
    from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
    from flytelineage.testing import lineage_samples

    def action() -> Any:
        hook = DataHubEmitterHook(datahub_conn_id=conn_id)
        try:
            return hook.emit_all(build_mcps(lineage_samples.linear_success(), env="PROD")[:5])
        finally:
            hook._sink = None  # a sink that failed to build or write is not closed again (its close may raise)

    return action


def datahub_delete(conn_id: str) -> Callable[[], Any]:
    from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook

    return lambda: DataHubEmitterHook(datahub_conn_id=conn_id).hard_delete(["urn:li:corpuser:nobody"])


def test_datahub_rest_unreachable_gms(monkeypatch: pytest.MonkeyPatch, capture: Callable[[], str]) -> None:
    url = userinfo_url(f"http://127.0.0.1:{closed_port()}", SECRETS["rest_url"])
    set_conn(monkeypatch, "sec_dh", **rest_conn(url))
    error, text = run_failing(datahub_emit("sec_dh"), capture)
    assert "Cannot reach DataHub GMS" in str(error) and "127.0.0.1" in str(error)
    assert leaked(text) == []


def test_datahub_rest_rejected_writes_and_deletes(
    fake_gms: Any, monkeypatch: pytest.MonkeyPatch, capture: Callable[[], str]
) -> None:
    fake_gms.policy = lambda call, body: 500
    set_conn(monkeypatch, "sec_dh", **rest_conn(userinfo_url(fake_gms.url, SECRETS["rest_url"])))
    error, text = run_failing(datahub_emit("sec_dh"), capture)
    assert "failed 1 write(s)" in str(error)
    assert fake_gms.ingests() and fake_gms.ingests()[0].headers["x-gms-secret"] == SECRETS["rest_header"]
    fake_gms.hard_delete = lambda urn: (_ for _ in ()).throw(RuntimeError("no"))  # not used: deletes hit HTTP
    error, more = run_failing(datahub_delete("sec_dh"), capture)
    assert "hard delete" in str(error)
    assert leaked(text + more) == []


def test_datahub_rest_invalid_extra(monkeypatch: pytest.MonkeyPatch, capture: Callable[[], str]) -> None:
    url = userinfo_url(f"http://127.0.0.1:{closed_port()}", SECRETS["rest_url"])
    set_conn(monkeypatch, "sec_dh", **rest_conn(url, no_such_option=SECRETS["rest_header"]))
    error, text = run_failing(datahub_emit("sec_dh"), capture)
    assert "invalid extra" in str(error)
    assert leaked(text) == []


def kafka_conn(registry_userinfo: bool = False, **connection: Any) -> dict[str, Any]:
    registry = f"http://127.0.0.1:{closed_port()}"
    if registry_userinfo:
        registry = userinfo_url(registry, SECRETS["registry_url"])
    return {
        "conn_type": "datahub-kafka",
        "host": f"127.0.0.1:{closed_port()}",
        "password": SECRETS["kafka_sasl"],
        "extra": {
            "connection": {
                "schema_registry_url": registry,
                "schema_registry_config": {"basic.auth.user.info": f"reg:{SECRETS['registry_info']}"},
                "producer_config": {
                    "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": "PLAIN",
                    "sasl.username": "kafka-user",
                    "sasl.password": SECRETS["kafka_sasl"],
                    "ssl.key.password": SECRETS["kafka_ssl"],
                    "message.timeout.ms": 1500,
                },
                **connection,
            },
            "max_queue_full_block_seconds": 2,  # the flush gives up after 2 s instead of 300
        },
    }


def test_datahub_kafka_unreachable_broker_and_registry(
    monkeypatch: pytest.MonkeyPatch, capture: Callable[[], str]
) -> None:
    from confluent_kafka._serde_builder import SharedClusterIdResolver

    # the serializer waits 60 s per message for a broker to tell the cluster id; 1 s shows the same error path
    monkeypatch.setattr(SharedClusterIdResolver.__init__, "__defaults__", (1.0,))
    set_conn(monkeypatch, "sec_dh", **kafka_conn())
    error, text = run_failing(datahub_emit("sec_dh"), capture)
    assert "datahub-kafka" in str(error)
    assert leaked(text) == []


def test_datahub_kafka_invalid_config(monkeypatch: pytest.MonkeyPatch, capture: Callable[[], str]) -> None:
    set_conn(monkeypatch, "sec_dh", **kafka_conn(schema_registry_config=SECRETS["registry_info"]))
    error, text = run_failing(datahub_emit("sec_dh"), capture)
    assert "invalid Kafka config" in str(error)
    set_conn(monkeypatch, "sec_dh", **kafka_conn(registry_userinfo=True))  # refused by the registry client
    error, more = run_failing(datahub_emit("sec_dh"), capture)
    assert "userinfo credentials in the URL" in str(error)
    assert leaked(text + more) == []


def test_datahub_file_remote_url_and_unwritable_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capture: Callable[[], str]
) -> None:
    url = userinfo_url("https://files.example.invalid/proposals.json", SECRETS["file_url"])
    set_conn(monkeypatch, "sec_dh", conn_type="datahub-file", host=url, password=SECRETS["file_url"])
    error, text = run_failing(datahub_emit("sec_dh"), capture)
    assert "local path" in str(error)
    (tmp_path / "afile").write_text("")
    set_conn(monkeypatch, "sec_dh", conn_type="datahub-file", host=f"{tmp_path}/afile/p.json", password="x" * 8)
    error, more = run_failing(datahub_emit("sec_dh"), capture)
    assert leaked(text + more) == []


def test_datahub_lite_unwritable_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capture: Callable[[], str]
) -> None:
    (tmp_path / "afile").write_text("")
    set_conn(
        monkeypatch,
        "sec_dh",
        conn_type="datahub-lite",
        host=f"{tmp_path}/afile/lite.db",
        password=SECRETS["lite_password"],
        extra={"options": {"password": SECRETS["lite_password"]}},
    )
    error, text = run_failing(datahub_emit("sec_dh"), capture)
    assert "afile" in str(error)  # the Lite store cannot be created under a file
    assert leaked(text) == []


# ---- OpenLineage ---------------------------------------------------------------------------------------------------


def ol_emit(conn_id: str) -> Callable[[], Any]:
    from flytelineage.domain.openlineage_events import build_shard_events
    from flytelineage.hooks.openlineage_hook import OpenLineageHook
    from flytelineage.testing import lineage_samples

    def action() -> Any:
        hook = OpenLineageHook(openlineage_conn_id=conn_id, aws_conn_id="sec_aws")
        events = build_shard_events([lineage_samples.linear_success()], env="PROD")[:3]
        try:
            return hook.emit_all(events)
        finally:
            hook.close()

    return action


def ol_http_conn(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "conn_type": "openlineage-http",
        "host": userinfo_url(url, SECRETS["ol_url"]),
        "password": SECRETS["ol_key"],
        "extra": {"custom_headers": {"X-Ol-Secret": SECRETS["ol_header"]}, "timeout": 2, **extra},
    }


def test_openlineage_http_unreachable_and_rejecting(
    monkeypatch: pytest.MonkeyPatch, capture: Callable[[], str]
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Reject(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    retry = {"total": 0, "read": 0, "connect": 0}
    set_conn(monkeypatch, "sec_ol", **ol_http_conn(f"http://127.0.0.1:{closed_port()}", retry=retry))
    error, text = run_failing(ol_emit("sec_ol"), capture)
    assert "failed 3 of 3 events" in str(error)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Reject)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        set_conn(monkeypatch, "sec_ol", **ol_http_conn(f"http://127.0.0.1:{server.server_address[1]}", retry=retry))
        error, more = run_failing(ol_emit("sec_ol"), capture)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert "failed 3 of 3 events" in str(error)
    set_conn(monkeypatch, "sec_ol", **ol_http_conn("http://127.0.0.1:1", compression=SECRETS["ol_header"]))
    error, third = run_failing(ol_emit("sec_ol"), capture)
    assert "is invalid" in str(error)
    assert leaked(text + more + third) == []


def test_openlineage_file_remote_url_and_unwritable_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capture: Callable[[], str]
) -> None:
    url = userinfo_url("https://files.example.invalid/events.jsonl", SECRETS["file_url"])
    set_conn(monkeypatch, "sec_ol", conn_type="openlineage-file", host=url, password=SECRETS["ol_key"])
    error, text = run_failing(ol_emit("sec_ol"), capture)
    assert "local" in str(error)
    (tmp_path / "afile").write_text("")
    set_conn(monkeypatch, "sec_ol", conn_type="openlineage-file", host=f"{tmp_path}/afile/e.jsonl")
    error, more = run_failing(ol_emit("sec_ol"), capture)
    assert "openlineage-file" in str(error) and "afile" in str(error)
    assert leaked(text + more) == []


def test_openlineage_datazone_errors(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, capture: Callable[[], str]
) -> None:
    for endpoint in (moto_endpoint, f"http://127.0.0.1:{closed_port()}"):  # moto has no DataZone: an error answer
        set_conn(monkeypatch, "sec_aws", **aws_conn(endpoint))
        set_conn(monkeypatch, "sec_ol", conn_type="amazon-datazone", extra={"domain_id": "dzd_secretstest"})
        error, text = run_failing(ol_emit("sec_ol"), capture)
        assert "amazon-datazone" in str(error)
        assert leaked(text) == []


# ---- AWS: Glue and the drain ---------------------------------------------------------------------------------------


def test_glue_errors(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, capture: Callable[[], str]) -> None:
    from flytelineage.hooks.glue_catalog_hook import GlueTablesHook

    set_conn(monkeypatch, "sec_aws", **aws_conn(moto_endpoint))
    table = {"Name": "t", "StorageDescriptor": {"Location": "s3://b/t", "Columns": []}}
    error, text = run_failing(
        lambda: GlueTablesHook(aws_conn_id="sec_aws").upsert_table("no_such_db_secrets", table, versioning=False),
        capture,
    )
    assert "EntityNotFound" in str(error)
    set_conn(monkeypatch, "sec_aws", **aws_conn(f"http://127.0.0.1:{closed_port()}"))
    error, more = run_failing(lambda: GlueTablesHook(aws_conn_id="sec_aws").ensure_database("db"), capture)
    assert leaked(text + more) == []


def drain(queue: str, bucket: str) -> Callable[[], Any]:
    from flytelineage.operators.drain_events import DrainEventsOperator

    operator = DrainEventsOperator(
        task_id="drain_events", sqs_queue=queue, bucket=bucket, prefix="fl", aws_conn_id="sec_aws", wait_seconds=0
    )
    return lambda: operator.execute(context={"data_interval_end": datetime(2026, 11, 21, 12, tzinfo=UTC)})  # type: ignore[arg-type]


def test_drain_sqs_and_s3_errors(
    monkeypatch: pytest.MonkeyPatch,
    moto_endpoint: str,
    sqs_client: Any,
    unique_name: str,
    capture: Callable[[], str],
) -> None:
    from tests.event_bodies import node_event_body
    from tests.sqs_s3_helpers import send_batches

    set_conn(monkeypatch, "sec_aws", **aws_conn(moto_endpoint))
    error, missing_queue = run_failing(drain(f"{unique_name}-missing", "any-bucket"), capture)
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    send_batches(sqs_client, url, [node_event_body("e1", f"n{i}") for i in range(3)])
    error, missing_bucket = run_failing(drain(unique_name, f"{unique_name}-no-bucket"), capture)
    assert "NoSuchBucket" in "".join(traceback.format_exception(error))
    set_conn(monkeypatch, "sec_aws", **aws_conn(f"http://127.0.0.1:{closed_port()}"))
    error, down = run_failing(drain(unique_name, "any-bucket"), capture)
    assert leaked(missing_queue + missing_bucket + down) == []


# ---- the secrets masker --------------------------------------------------------------------------------------------


def test_secrets_outside_the_password_are_registered_with_the_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow masks the password and extra keys with sensitive names; URL user info and Kafka auth are ours."""
    from airflow.sdk import BaseHook
    from airflow.sdk._shared.secrets_masker import redact

    set_conn(monkeypatch, "sec_dh", **kafka_conn(registry_userinfo=True))
    conn = BaseHook.get_connection("sec_dh")
    found = mask_connection_secrets(conn)
    assert {SECRETS["kafka_sasl"], SECRETS["kafka_ssl"], SECRETS["registry_url"]} <= found
    assert f"reg:{SECRETS['registry_info']}" in found
    line = f"url {conn.extra_dejson['connection']['schema_registry_url']} info reg:{SECRETS['registry_info']}"
    assert leaked(str(redact(line))) == []
    set_conn(monkeypatch, "sec_ol", **ol_http_conn("http://127.0.0.1:1"))
    conn = BaseHook.get_connection("sec_ol")
    assert {SECRETS["ol_url"], SECRETS["ol_key"], SECRETS["ol_header"]} <= mask_connection_secrets(conn)
    assert leaked(str(redact(f"host {conn.host}"))) == []
