"""The secrets of a connection, what Airflow's masker already hides, and ``redact`` / ``without_secrets`` on them.

Every value here is unique to its test: the masker and the module's register are per process, so a value another
test registered cannot make an assertion pass.
"""

from __future__ import annotations

import base64
import json
import traceback
import uuid

import pytest
from botocore.exceptions import ClientError

from flytelineage.hooks import connection_secrets as cs
from flytelineage.operators.fail_fast import is_transient


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}"


def basic(userinfo: str) -> str:
    return base64.b64encode(userinfo.encode()).decode()


def get_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **conn: object) -> object:
    from airflow.sdk import BaseHook

    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return BaseHook.get_connection(conn_id)


def test_url_credentials_count_raw_percent_decoded_and_as_basic_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    password = unique("p@ss")
    quoted = password.replace("@", "%40")
    conn = get_connection(
        monkeypatch,
        "cs_url",
        conn_type="datahub-rest",
        host=f"https://gms:{quoted}@gms.example:8080",
        login="me",
        password=unique("tok"),
        extra={"connection": {"schema_registry_url": f"http://reg:{quoted}@reg.example"}},
    )
    found = cs.connection_secrets(conn)
    assert {quoted, password, f"gms:{password}", basic(f"gms:{quoted}"), basic(f"gms:{password}")} <= found
    assert basic(f"reg:{password}") in found
    assert basic(f"me:{conn.password}") in found  # type: ignore[attr-defined]  # login and password as basic auth


def test_airflow_masks_the_password_but_not_url_credentials_until_they_are_registered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk._shared.secrets_masker import redact as airflow_redact

    password, url_password = unique("pw"), unique("urlpw")
    conn = get_connection(
        monkeypatch, "cs_masker", conn_type="openlineage-http", host=f"http://u:{url_password}@h", password=password
    )
    line = f"password {password} url {conn.host} basic {basic(f'u:{url_password}')}"  # type: ignore[attr-defined]
    masked = str(airflow_redact(line))
    assert password not in masked  # Airflow masks Connection.password when the connection is read
    assert url_password in masked and basic(f"u:{url_password}") in masked  # but not the URL's credentials
    cs.mask_connection_secrets(conn)
    masked = str(airflow_redact(line))
    assert url_password not in masked and basic(f"u:{url_password}") not in masked


def test_redact_cuts_out_every_registered_secret_without_being_given_it() -> None:
    secret = unique("registered")
    assert cs.redact(f"a {secret} b") == f"a {secret} b"
    cs.register_secrets([secret, "ab"])
    assert cs.redact(f"a {secret} b") == "a *** b"
    assert cs.redact("ab cab") == "ab cab"  # too short to register: cutting it out would garble every text
    assert cs.redact("see https://user:anything@host/x") == "see https://host/x"


def test_the_secrets_of_an_amazon_connection_are_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    key, token = unique("aws-secret"), unique("aws-token")
    extra = {"aws_session_token": token, "region_name": "us-east-1"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_CS_AWS", json.dumps({"conn_type": "aws", "login": "AKIA", "password": key, "extra": extra})
    )
    assert {key, token} <= cs.mask_aws_secrets("cs_aws")
    assert cs.redact(f"X-Amz-Security-Token: {token}") == "X-Amz-Security-Token: ***"
    assert cs.mask_aws_secrets("cs_no_such_connection") == set()
    assert cs.mask_aws_secrets(None) == set()


def test_a_client_error_quoting_a_secret_is_rebuilt_with_its_code_and_status() -> None:
    token = unique("echoed-token")
    cs.register_secrets([token])
    response = {
        "Error": {"Code": "ServiceUnavailable", "Message": f"you sent X-Amz-Security-Token: {token}"},
        "ResponseMetadata": {"HTTPStatusCode": 503, "HTTPHeaders": {"x-echo": token}},
    }
    error = ClientError(response, "GetObject")  # type: ignore[arg-type]
    clean = cs.without_secrets(error, ())
    assert isinstance(clean, ClientError) and clean is not error
    assert token not in "".join(traceback.format_exception(clean)) and token not in repr(clean.response)
    assert clean.response["Error"]["Code"] == "ServiceUnavailable" and is_transient(clean)  # still retried
    assert clean.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    plain = ClientError({"Error": {"Code": "NoSuchKey", "Message": "no"}}, "GetObject")  # type: ignore[arg-type]
    assert cs.without_secrets(plain, ()) is plain


def test_an_error_whose_cause_quotes_a_secret_is_copied_without_it() -> None:
    from flytelineage.errors import TargetError

    secret = unique("in-the-cause")
    cs.register_secrets([secret])
    try:
        try:
            raise RuntimeError(f"server said {secret}")
        except RuntimeError as inner:
            raise TargetError("the write failed") from inner
    except TargetError as e:
        outer = e
    clean = cs.without_secrets(outer, ())
    assert clean is not outer and isinstance(clean, TargetError) and str(clean) == "the write failed"
    assert cs.quotes_secret(outer) and not cs.quotes_secret(clean)
