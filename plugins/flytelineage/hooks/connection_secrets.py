"""The secret values of Airflow connections, registered with Airflow's secrets masker and cut out of every text.

Airflow masks a connection's password and the values of ``extra`` keys whose names look sensitive (``password``,
``token``, ``secret``...). It does not mask credentials written into a URL (``https://user:pw@host``, in the host
or in an extra value such as a schema-registry URL), nor Kafka client settings whose names it does not know
(``basic.auth.user.info``, ``sasl.username`` / ``sasl.oauthbearer.*``, ``ssl.key.password`` is caught), nor the
base64 ``user:password`` that HTTP clients send as basic auth for a URL with user info (a server that quotes the
request in its error answer sends it back). The hooks call ``mask_connection_secrets`` when they read a connection,
and the operators ``mask_aws_secrets`` for their Amazon connection, so every value found here is masked in task logs
too and remembered for this process. Every text the product builds from an error (exception messages, problem
records written to S3, log lines) passes through ``redact``, which cuts out the given secrets and every one
remembered, so those texts never carry them, masker or not. ``without_secrets`` is the same guard for an exception
with its causes; ``build_without_secrets`` the one both target hooks put around building their sink;
``without_userinfo`` is how they name a URL in a target.
"""

from __future__ import annotations

import base64
import re
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "authorization",
    "auth.user.info",
    "sasl.username",
    "sasl.oauthbearer",
    "private_key",
    "credential",
)
"""An ``extra`` value whose key (lower-cased, at any depth) contains one of these is a secret."""

MIN_SECRET_LENGTH = 4
"""Shorter values are not registered: cutting every ``ab`` out of every text would garble it (Airflow's masker has
the same kind of floor, ``min_length_to_mask``)."""
MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"]+@")

T = TypeVar("T")

_remembered: set[str] = set()
"""Every secret registered in this process (a task runs in its own process); ``redact`` always cuts these out."""


def connection_secrets(conn: Any) -> set[str]:
    """Every secret value of ``conn``: password, URL user info (host and extra), sensitive ``extra`` values."""
    found: set[str] = set()
    if conn.password:
        found.add(str(conn.password))
    if conn.login and conn.password:
        found.update(_with_basic_auth(f"{conn.login}:{conn.password}"))
    found.update(_url_secrets(conn.host or ""))
    extra = conn.extra_dejson if conn.extra else {}
    for key, value in _leaves(extra, ""):
        if any(part in key for part in SENSITIVE_KEY_PARTS):
            found.add(value)
        found.update(_url_secrets(value))
    return {s for s in found if s}


def register_secrets(secrets: Iterable[str]) -> set[str]:
    """Register ``secrets`` with Airflow's secrets masker and remember them for ``redact``; return them."""
    from airflow.sdk.log import mask_secret

    found = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
    for secret in found - _remembered:
        mask_secret(secret)
    _remembered.update(found)
    return found


def mask_connection_secrets(conn: Any) -> set[str]:
    """Register every secret of ``conn`` (``register_secrets``); return them."""
    return register_secrets(connection_secrets(conn))


def mask_aws_secrets(aws_conn_id: str | None) -> set[str]:
    """Register the secrets of the Amazon connection ``aws_conn_id``; none when it is None or does not exist.

    The secret access key (the password) is never sent, requests are signed; the session token (an ``extra`` key)
    travels in a header, which an endpoint quoting the request in its error answer (a proxy, an emulator, an
    S3-compatible store) sends back. Credentials boto3 finds itself (environment, instance profile, an assumed
    role) are not the connection's and are not known here.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    if not aws_conn_id:
        return set()
    try:
        conn = BaseHook.get_connection(aws_conn_id)
    except AirflowNotFoundException:
        return set()
    return register_secrets(connection_secrets(conn))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret (``secrets`` and every one registered in this process) replaced by ``***`` and
    the user info of every URL removed."""
    for secret in sorted({*secrets, *_remembered}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return _USERINFO.sub(r"\g<scheme>", text)


def without_secrets(error: BaseException, secrets: Iterable[str]) -> BaseException:
    """``error`` itself when neither it nor its causes quote a secret, else a copy of its message without them.

    The copy has the class of ``error`` when that is one of the product's errors or a botocore ``ClientError``
    (rebuilt with the error message of its response redacted, so its code and status, which decide retries, stay),
    else it is a ``TargetError``; raise it ``from None``, since the cause's text (and traceback) would carry the
    secret again.
    """
    from flytelineage.errors import FlyteLineageError, TargetError

    secrets = [*secrets, *_remembered]
    if not quotes_secret(error, secrets):
        return error
    aws = _clean_client_error(error, secrets)
    if aws is not None:
        return aws
    if isinstance(error, FlyteLineageError):
        try:
            return type(error)(redact(str(error), secrets))
        except TypeError:  # a subclass with other constructor arguments
            pass
    return TargetError(redact(f"{type(error).__name__}: {error}", secrets))


def quotes_secret(error: BaseException, secrets: Iterable[str] = ()) -> bool:
    """True when the text of ``error`` with its causes and tracebacks quotes a secret (or a URL's user info)."""
    text = "".join(traceback.format_exception(error))
    return redact(text, secrets) != text


def _clean_client_error(error: BaseException, secrets: list[str]) -> BaseException | None:
    """A botocore ``ClientError`` rebuilt from its response with every text field redacted (None for others)."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return None
    response = dict(error.response)
    info = {k: redact(v, secrets) if isinstance(v, str) else v for k, v in response.get("Error", {}).items()}
    response["Error"] = info
    response.pop("ResponseMetadata", None)  # headers may quote the request too; the status is kept below
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    clean = type(error)(response, error.operation_name)  # type: ignore[arg-type]
    return clean if not quotes_secret(clean, secrets) else None


def build_without_secrets(build: Callable[[], T], secrets: Callable[[], Iterable[str]]) -> T:
    """``build()``; an error it raises that quotes a secret is raised again as ``without_secrets`` makes it.

    ``secrets`` is called only after a failure, so it sees the secrets ``build`` registered before it failed (a hook
    masks its connection's secrets while building its sink). The cleaned copy is raised ``from None``.
    """
    try:
        return build()
    except Exception as e:
        if (clean := without_secrets(e, secrets())) is e:
            raise
        raise clean from None  # the cause's text would carry the secret again


def without_userinfo(url: str) -> str:
    """The URL without ``user:password@``, so a credential written into a host never reaches logs or errors."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _with_basic_auth(userinfo: str) -> set[str]:
    """``user:password`` and its base64 form, the ``Authorization: Basic`` value an HTTP client sends for it."""
    return {userinfo, base64.b64encode(userinfo.encode()).decode()}


def _url_secrets(value: str) -> set[str]:
    """The user info of a URL, whole and its password part, raw and percent-decoded, and its basic-auth form."""
    if "://" not in value or "@" not in value:
        return set()
    try:
        netloc = urlsplit(value.strip()).netloc
    except ValueError:
        return set()
    if "@" not in netloc:
        return set()
    userinfo = netloc.rsplit("@", 1)[0]
    password = userinfo.split(":", 1)[1] if ":" in userinfo else userinfo
    return {password, unquote(password), *_with_basic_auth(userinfo), *_with_basic_auth(unquote(userinfo))}


def _leaves(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """(lower-cased dotted key path, value) for every string leaf of a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{key}.{str(k).lower()}" if key else str(k).lower())
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)
    elif isinstance(value, str) and value:
        yield key, value
