"""The local emulator scripts: start answers on loopback, stop ends the process by pid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from include.local_aws import moto_server

pytestmark = pytest.mark.integration


def test_start_and_stop_by_pid(tmp_path: Path) -> None:
    server = moto_server.start(tmp_path)
    assert server.endpoint_url.startswith("http://127.0.0.1:")
    assert moto_server.running(tmp_path) == server
    assert moto_server.stop(tmp_path) is True
    try:
        os.kill(server.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    assert moto_server.running(tmp_path) is None
    assert moto_server.stop(tmp_path) is False


def test_session_server_serves_sqs_s3_glue(sqs_client, s3_client, glue_client, unique_name: str) -> None:  # type: ignore[no-untyped-def]
    url = sqs_client.create_queue(QueueName=unique_name)["QueueUrl"]
    sqs_client.send_message(QueueUrl=url, MessageBody="x")
    assert sqs_client.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "x"
    s3_client.create_bucket(Bucket=unique_name)
    s3_client.put_object(Bucket=unique_name, Key="k", Body=b"v")
    assert s3_client.get_object(Bucket=unique_name, Key="k")["Body"].read() == b"v"
    glue_client.create_database(DatabaseInput={"Name": unique_name})
    assert glue_client.get_database(Name=unique_name)["Database"]["Name"] == unique_name
