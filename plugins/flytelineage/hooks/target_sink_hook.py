"""The base of the target hooks whose Airflow connection picks a sink: ``DataHubEmitterHook``, ``OpenLineageHook``.

A target hook reads its connection once, on first use: ``_target_connection`` fetches it, registers its secrets
with Airflow's masker (``connection_secrets``) and checks its conn type against the hook's ``conn_types``; the
subclass's ``_build_sink`` maps the connection's fields to a sink. ``get_conn`` builds the sink under
``build_without_secrets``, so no error raised while connecting quotes a secret; ``close`` releases it.
``raise_failures`` turns the errors of a batch into one ``TargetError`` (the first few quoted, the rest counted,
the secrets cut out), raised after the whole batch was tried so Airflow retries the task. Knows nothing about Flyte.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from flytelineage.errors import ConfigurationError, TargetError
from flytelineage.hooks.connection_secrets import build_without_secrets, mask_connection_secrets, redact

if TYPE_CHECKING:
    from airflow.sdk import Connection

MAX_REPORTED_ERRORS = 5
"""How many of a batch's errors a ``TargetError`` quotes (the others are counted)."""


class Sink(Protocol):
    """What every target hook's sink has: a name for logs (no secrets) and ``close``."""

    target: str

    def close(self) -> None: ...


S = TypeVar("S", bound=Sink)


class TargetSinkHook(BaseHook, Generic[S]):
    """A hook whose connection (named by ``conn_name_attr``) picks a sink, built on first use."""

    conn_name_attr: str
    conn_types: tuple[str, ...] = ()
    """The conn types the hook reads (``_`` and ``-`` alike, as Airflow normalizes them)."""
    form_labels: dict[str, str] = {}
    """Labels of the connection form's host and password fields (port, schema and login are hidden)."""

    def __init__(self) -> None:
        super().__init__()
        self._sink: S | None = None
        self._secrets: set[str] = set()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: port, schema and login hidden, host and password relabeled (``form_labels``)."""
        return {"hidden_fields": ["port", "schema", "login"], "relabeling": dict(cls.form_labels)}

    @property
    def target_conn_id(self) -> str:
        """The id of the hook's connection."""
        return str(getattr(self, self.conn_name_attr))

    def get_conn(self) -> S:
        """The sink of the connection, built on first use (never in ``__init__``); errors carry no secret."""
        if self._sink is None:
            self._sink = build_without_secrets(self._build_sink, lambda: self._secrets)
        return self._sink

    def close(self) -> None:
        """Release the sink (the next ``get_conn`` builds a new one)."""
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.close()

    def raise_failures(self, errors: Sequence[str], target: str, what: str, retry_note: str, check: str = "") -> None:
        """Raise ``TargetError`` when ``errors`` is not empty, reading ``<target> failed <n> <what>: <errors>``.

        ``retry_note`` says why retrying the task is safe; ``check`` (optional) where to look next.
        """
        if not errors:
            return
        errors = [redact(error, self._secrets) for error in errors]
        check = f" Check connection {self.target_conn_id!r} and {check}." if check else ""
        raise TargetError(
            f"{target} failed {len(errors)} {what}: {error_summary(errors)}. "
            f"The task fails so Airflow retries; {retry_note}.{check}"
        )

    def _build_sink(self) -> S:
        raise NotImplementedError

    def _target_connection(self) -> tuple[Connection, str] | None:
        """The connection and its conn type (``-`` form), its secrets masked; None when it is not defined."""
        try:
            conn = self.get_connection(self.target_conn_id)
        except AirflowNotFoundException:
            return None
        self._secrets = mask_connection_secrets(conn)
        kind = (conn.conn_type or "").replace("_", "-")
        if kind not in self.conn_types:
            raise ConfigurationError(
                f"Connection {self.target_conn_id!r} has conn type {conn.conn_type!r}; "
                f"use one of {', '.join(self.conn_types)}."
            )
        return conn, kind


def error_summary(errors: Sequence[str], most: int = MAX_REPORTED_ERRORS) -> str:
    """The first ``most`` errors joined with ``; ``, then how many more there are."""
    more = f" (and {len(errors) - most} more)" if len(errors) > most else ""
    return "; ".join(errors[:most]) + more


def connection_url(conn: Connection) -> str:
    """The connection's host with its port, when it has one and the host names none."""
    host = conn.host or ""
    if conn.port and ":" not in host.split("//", 1)[-1]:
        host = f"{host}:{conn.port}"
    return host
