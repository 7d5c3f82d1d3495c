"""Start and stop a local ``moto_server`` (SQS, S3, Glue) on 127.0.0.1 for the demo and the integration tests.

The server runs as a separate process. Its pid, port and log live in a state directory, so a later command (or a
crashed test session's cleanup) can find and stop it by process id. Usage from a shell::

    python -m include.local_aws.moto_server start --state-dir .local/moto   # prints AWS_ENDPOINT_URL=...
    python -m include.local_aws.moto_server stop --state-dir .local/moto
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: its process id, port and endpoint URL."""

    pid: int
    port: int
    state_dir: Path

    @property
    def endpoint_url(self) -> str:
        """The URL to put in ``AWS_ENDPOINT_URL``."""
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """Ask the kernel for a free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _moto_executable() -> str:
    candidate = Path(sys.executable).with_name("moto_server")
    if candidate.exists():
        return str(candidate)
    return "moto_server"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/moto-api/", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def start(state_dir: Path, timeout: float = 20.0) -> MotoServer:
    """Start moto_server on a free loopback port and wait until it answers; raise if it does not."""
    state_dir.mkdir(parents=True, exist_ok=True)
    existing = running(state_dir)
    if existing is not None:
        return existing
    port = free_port()
    log = (state_dir / "moto.log").open("ab")
    proc = subprocess.Popen(
        [_moto_executable(), "-H", HOST, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}; see {state_dir / 'moto.log'}")
        if _healthy(port):
            (state_dir / "moto.pid").write_text(str(proc.pid))
            (state_dir / "moto.port").write_text(str(port))
            return MotoServer(pid=proc.pid, port=port, state_dir=state_dir)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"moto_server did not answer on port {port} within {timeout}s; see {state_dir / 'moto.log'}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(state_dir: Path) -> MotoServer | None:
    """The server recorded in ``state_dir`` if it is still alive and answering, else None."""
    try:
        pid = int((state_dir / "moto.pid").read_text())
        port = int((state_dir / "moto.port").read_text())
    except (OSError, ValueError):
        return None
    if _alive(pid) and _healthy(port):
        return MotoServer(pid=pid, port=port, state_dir=state_dir)
    return None


def stop(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the server recorded in ``state_dir`` by its pid (SIGTERM, then SIGKILL); True if one was stopped."""
    try:
        pid = int((state_dir / "moto.pid").read_text())
    except (OSError, ValueError):
        return False
    stopped = False
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        stopped = True
    for name in ("moto.pid", "moto.port"):
        (state_dir / name).unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``start`` prints ``AWS_ENDPOINT_URL=...``; ``stop`` stops the recorded server."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, default=Path(".local/moto"))
    args = parser.parse_args(argv)
    if args.action == "start":
        server = start(args.state_dir)
        print(f"AWS_ENDPOINT_URL={server.endpoint_url}")
        print(f"MOTO_PID={server.pid}")
        return 0
    if args.action == "stop":
        print("stopped" if stop(args.state_dir) else "not running")
        return 0
    server = running(args.state_dir)
    print(f"running pid={server.pid} {server.endpoint_url}" if server else "not running")
    return 0 if server else 1


if __name__ == "__main__":
    raise SystemExit(main())
