"""Run a local emulator as a separate process that a later command finds again and stops by its process id.

Shared by ``include.local_aws.moto_server`` (demo, tests) and ``bench.fauxqs_server`` (benchmarks). A state directory
holds ``<name>.pid``, ``<name>.port`` and ``<name>.log``; the process runs in its own session (so a Ctrl-C of the
caller does not reach it) and is stopped with SIGTERM, then SIGKILL, then reaped, and its pid and port files removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

HOST = "127.0.0.1"


@dataclass(frozen=True)
class StateFiles:
    """Where one named server keeps its pid, port and log inside a state directory."""

    state_dir: Path
    name: str

    @property
    def pid_file(self) -> Path:
        """``<name>.pid``: the server's process id."""
        return self.state_dir / f"{self.name}.pid"

    @property
    def port_file(self) -> Path:
        """``<name>.port``: the loopback port the server answers on."""
        return self.state_dir / f"{self.name}.port"

    @property
    def log_file(self) -> Path:
        """``<name>.log``: the server's stdout and stderr, appended across starts."""
        return self.state_dir / f"{self.name}.log"

    def read_pid(self) -> int | None:
        """The recorded pid, or None when there is none (or it is unreadable)."""
        return _read_int(self.pid_file)

    def read_port(self) -> int | None:
        """The recorded port, or None when there is none yet (or it is unreadable)."""
        return _read_int(self.port_file)

    def forget(self) -> None:
        """Remove the pid and port files (the log is kept for post-mortems)."""
        for path in (self.pid_file, self.port_file):
            path.unlink(missing_ok=True)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def http_ok(url: str) -> bool:
    """True when a GET of ``url`` answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def launch(
    argv: Sequence[str], files: StateFiles, *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with its output appended to the log, and record its pid at once."""
    files.state_dir.mkdir(parents=True, exist_ok=True)
    with files.log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    files.pid_file.write_text(str(proc.pid))
    return proc


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    ready_port: Callable[[], int | None],
    *,
    what: str,
    log: Path,
    timeout: float,
    interval: float = 0.05,
) -> int:
    """Poll ``ready_port`` until it gives the port of a server that answers; raise if ``proc`` exits or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log}")
        port = ready_port()
        if port:
            return port
        time.sleep(interval)
    raise RuntimeError(f"{what} did not answer within {timeout}s; see {log}")


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our exited child (so it does not linger as a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (an exited child of ours is reaped first, so it does not count)."""
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """Stop ``pid`` with SIGTERM, then SIGKILL after ``timeout`` seconds, and reap it; True if it was running."""
    if not alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, timeout)
    return True


def stop_recorded(files: StateFiles, timeout: float = 10.0) -> bool:
    """Stop the server recorded in ``files`` by its pid and remove its pid and port files; True if one was stopped.

    Returns False without touching anything when no pid is recorded.
    """
    pid = files.read_pid()
    if pid is None:
        return False
    stopped = stop_pid(pid, timeout)
    files.forget()
    return stopped


def recorded_server(files: StateFiles, healthy: Callable[[int], bool]) -> tuple[int, int] | None:
    """``(pid, port)`` of the server recorded in ``files`` if it is alive and ``healthy(port)``, else None."""
    pid, port = files.read_pid(), files.read_port()
    if pid is None or port is None:
        return None
    if alive(pid) and healthy(port):
        return pid, port
    return None


class RunningServer(Protocol):
    """What the command line prints of a server: its pid and endpoint."""

    @property
    def pid(self) -> int: ...

    @property
    def endpoint_url(self) -> str: ...


def run_command(
    action: str,
    *,
    start: Callable[[], RunningServer],
    stop: Callable[[], bool],
    running: Callable[[], RunningServer | None],
    endpoint_variable: str,
    pid_variable: str,
) -> int:
    """The ``start``/``stop``/``status`` actions of a server script; returns the exit code.

    ``start`` prints ``<endpoint_variable>=<url>`` and ``<pid_variable>=<pid>`` (shell-sourceable); ``status`` exits 1
    when nothing runs.
    """
    if action == "start":
        server = start()
        print(f"{endpoint_variable}={server.endpoint_url}")
        print(f"{pid_variable}={server.pid}")
        return 0
    if action == "stop":
        print("stopped" if stop() else "not running")
        return 0
    if action != "status":
        raise ValueError(f"unknown action {action!r}; expected start, stop or status")
    found = running()
    print(f"running pid={found.pid} {found.endpoint_url}" if found else "not running")
    return 0 if found else 1
