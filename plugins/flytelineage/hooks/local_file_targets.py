"""Local files as lineage targets: the path a file connection names, and the lock its appenders share.

The DataHub file sink (a JSON array of proposals) and the OpenLineage file sink (JSON Lines) both append to a file
on the worker's disk; mapped tasks on one machine may append at once, so each append runs under ``file_lock``.
``default_target_path`` is the file under ``$AIRFLOW_HOME`` a target hook writes to when its connection is not
defined. Knows nothing about Flyte.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flytelineage.errors import ConfigurationError
from flytelineage.hooks.connection_secrets import without_userinfo


def local_path(host: str, conn_id: str, conn_type: str, appends_to: str, hint: str = "") -> str:
    """The local path of a file connection's host (``file://`` accepted); any other URL is a configuration error.

    ``appends_to`` says what the target writes (for the message), ``hint`` is appended to the advice.
    """
    if host.startswith("file://"):
        return host.removeprefix("file://")
    if "://" in host:
        raise ConfigurationError(
            f"Connection {conn_id!r} ({conn_type}) points at {without_userinfo(host)!r}; the file target appends "
            f"to {appends_to}, so give a local path{hint}."
        )
    return host


def default_target_path(
    conn_id: str, parts: tuple[str, ...], warned: set[str], warning: str, log: logging.Logger
) -> str:
    """``$AIRFLOW_HOME/<parts>`` (``~/airflow`` without it); logs ``warning`` % (conn id, path) once per conn id."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    path = os.path.join(home, *parts)
    if conn_id not in warned:
        warned.add(conn_id)
        log.warning(warning, conn_id, path)
    return path


@contextmanager
def file_lock(path: str) -> Iterator[None]:
    """Serialize appenders of one file on one machine through an advisory lock on ``<path>.lock``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
