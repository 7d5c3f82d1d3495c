"""The secret values of an Airflow connection, registered with Airflow's secrets masker and cut out of error texts.

Airflow masks a connection's password and the values of ``extra`` keys whose names look sensitive (``password``,
``token``, ``secret``...). It does not mask credentials written into a URL (``https://user:pw@host``, in the host
or in an extra value such as a schema-registry URL), nor Kafka client settings whose names it does not know
(``basic.auth.user.info``, ``sasl.username`` / ``sasl.oauthbearer.*``, ``ssl.key.password`` is caught). The hooks
call ``mask_connection_secrets`` when they read a connection, so every value found here is masked in task logs too,
and pass their error texts through ``redact`` before raising, so exception texts (which reach the task log, the UI
and any error tracker) never carry them, masker or not. ``build_without_secrets`` is the guard both target hooks
put around building their sink from the connection; ``without_userinfo`` is how they name a URL in a target.
"""

from __future__ import annotations

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

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"]+@")

T = TypeVar("T")


def connection_secrets(conn: Any) -> set[str]:
    """Every secret value of ``conn``: password, URL user info (host and extra), sensitive ``extra`` values."""
    found: set[str] = set()
    if conn.password:
        found.add(str(conn.password))
    if conn.login and conn.password:
        found.add(f"{conn.login}:{conn.password}")
    found.update(_url_secrets(conn.host or ""))
    extra = conn.extra_dejson if conn.extra else {}
    for key, value in _leaves(extra, ""):
        if any(part in key for part in SENSITIVE_KEY_PARTS):
            found.add(value)
        found.update(_url_secrets(value))
    return {s for s in found if s}


def mask_connection_secrets(conn: Any) -> set[str]:
    """Register every secret of ``conn`` with Airflow's secrets masker; return them (for ``redact``)."""
    from airflow.sdk.log import mask_secret

    secrets = connection_secrets(conn)
    for secret in secrets:
        mask_secret(secret)
    return secrets


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` and the user info of every URL removed."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _USERINFO.sub(r"\g<scheme>", text)


def without_secrets(error: BaseException, secrets: Iterable[str]) -> BaseException:
    """``error`` itself when neither it nor its causes quote a secret, else a copy of its message without them.

    The copy has the class of ``error`` when that is one of the product's errors, else ``TargetError``; raise it
    ``from None``, since the cause's text (and traceback) would carry the secret again.
    """
    from flytelineage.errors import FlyteLineageError, TargetError

    secrets = list(secrets)
    text = "".join(traceback.format_exception(error))
    if redact(text, secrets) == text:
        return error
    if isinstance(error, FlyteLineageError):
        try:
            return type(error)(redact(str(error), secrets))
        except TypeError:  # a subclass with other constructor arguments
            pass
    return TargetError(redact(f"{type(error).__name__}: {error}", secrets))


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


def _url_secrets(value: str) -> set[str]:
    """The user info of a URL, whole and its password part, raw and percent-decoded."""
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
    return {userinfo, password, unquote(userinfo), unquote(password)}


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
