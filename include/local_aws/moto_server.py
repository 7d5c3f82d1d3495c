"""Start and stop a local ``moto_server`` (SQS, S3, Glue) on 127.0.0.1 for the demo and the integration tests.

The server runs as a separate process. Its pid, port and log live in a state directory, so a later command (or a
crashed test session's cleanup) can find and stop it by process id. Usage from a shell::

    python -m include.local_aws.moto_server start --state-dir .local/moto   # prints AWS_ENDPOINT_URL=...
    python -m include.local_aws.moto_server stop --state-dir .local/moto
"""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from include.local_aws import server_process
from include.local_aws.server_process import HOST

_NAME = "moto"


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
    return server_process.http_ok(f"http://{HOST}:{port}/moto-api/")


def start(state_dir: Path, timeout: float = 20.0) -> MotoServer:
    """Start moto_server on a free loopback port and wait until it answers; raise (and stop it) if it does not."""
    existing = running(state_dir)
    if existing is not None:
        return existing
    files = server_process.StateFiles(state_dir, _NAME)
    port = free_port()
    proc = server_process.launch([_moto_executable(), "-H", HOST, "-p", str(port)], files)
    files.port_file.write_text(str(port))
    try:
        server_process.wait_until_ready(
            proc,
            lambda: port if _healthy(port) else None,
            what=f"moto_server on port {port}",
            log=files.log_file,
            timeout=timeout,
            interval=0.1,
        )
    except BaseException:
        server_process.stop_recorded(files)
        raise
    return MotoServer(pid=proc.pid, port=port, state_dir=state_dir)


def running(state_dir: Path) -> MotoServer | None:
    """The server recorded in ``state_dir`` if it is still alive and answering, else None."""
    found = server_process.recorded_server(server_process.StateFiles(state_dir, _NAME), _healthy)
    if found is None:
        return None
    pid, port = found
    return MotoServer(pid=pid, port=port, state_dir=state_dir)


def stop(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the server recorded in ``state_dir`` by its pid (SIGTERM, then SIGKILL); True if one was stopped."""
    return server_process.stop_recorded(server_process.StateFiles(state_dir, _NAME), timeout)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``start`` prints ``AWS_ENDPOINT_URL=...``; ``stop`` stops the recorded server."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, default=Path(".local/moto"))
    args = parser.parse_args(argv)
    return server_process.run_command(
        args.action,
        start=lambda: start(args.state_dir),
        stop=lambda: stop(args.state_dir),
        running=lambda: running(args.state_dir),
        endpoint_variable="AWS_ENDPOINT_URL",
        pid_variable="MOTO_PID",
    )


if __name__ == "__main__":
    raise SystemExit(main())
