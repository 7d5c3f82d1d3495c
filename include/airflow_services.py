"""Run the Airflow 3 components a real (not ``dags test``) DAG run needs, locally on 127.0.0.1, stopped by pid.

``airflow dags test`` executes a run in-process; ``airflow backfill create`` only creates queued DAG runs that a
scheduler must pick up. In Airflow 3 the scheduler's LocalExecutor workers run tasks through the Task SDK, which
talks to the execution API of an API server (``[core] execution_api_server_url``). This module starts

- ``airflow api-server --apps execution`` on 127.0.0.1 and a free port (only the execution API: no UI, no REST API);
- ``airflow scheduler --skip-serve-logs`` with the LocalExecutor (its log server would bind 0.0.0.0), with
  ``[scheduler] use_job_schedule = False`` so that unpausing the DAG creates no scheduled run next to the backfill;

sharing one throw-away ``AIRFLOW_HOME`` (SQLite) with ``include.demo``. No DAG processor runs: ``airflow dags
reserialize`` stores the serialized DAG once, which is all the backfill command and the scheduler read. Each process
is recorded in a state directory (``<name>.pid``, ``<name>.port``, ``<name>.log``) and stopped by its pid on exit.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.local_aws import server_process
from include.local_aws.moto_server import free_port
from include.local_aws.server_process import HOST

TERMINAL_RUN_STATES = frozenset({"success", "failed"})


def airflow_executable() -> str:
    """The ``airflow`` script of the running interpreter's environment."""
    return str(Path(sys.executable).with_name("airflow"))


def service_env(base: Mapping[str, str], api_port: int) -> dict[str, str]:
    """``base`` (``include.demo.airflow_env``) plus what the scheduler, its workers and the API server share."""
    env = dict(base)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{api_port}/execution/",
            "AIRFLOW__API__HOST": HOST,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://{HOST}:{api_port}",
            # the scheduler signs the workers' tokens and the API server checks them: one secret for both
            "AIRFLOW__API_AUTH__JWT_SECRET": base64.b64encode(os.urandom(48)).decode(),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        }
    )
    return env


def airflow(env: Mapping[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run one ``airflow`` command; raise with its output when it fails."""
    proc = subprocess.run([airflow_executable(), *args], env=dict(env), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


@dataclass
class Services:
    """The API server and (once started) the scheduler, their environment and state directory."""

    env: dict[str, str]
    state_dir: Path
    api_port: int
    api: subprocess.Popen[bytes]
    scheduler: subprocess.Popen[bytes] | None = None
    components: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api_files(self) -> server_process.StateFiles:
        """Pid, port and log of the API server."""
        return server_process.StateFiles(self.state_dir, "api-server")

    @property
    def scheduler_files(self) -> server_process.StateFiles:
        """Pid and log of the scheduler."""
        return server_process.StateFiles(self.state_dir, "scheduler")

    def wait_api_ready(self, timeout: float = 90.0) -> None:
        """Wait until the execution API answers its health check (the first request imports the app: seconds)."""
        url = f"http://{HOST}:{self.api_port}/execution/health"
        server_process.wait_until_ready(
            self.api,
            lambda: self.api_port if server_process.http_ok(url) else None,
            what=f"airflow api-server on port {self.api_port}",
            log=self.api_files.log_file,
            timeout=timeout,
            interval=0.2,
        )

    def start_scheduler(self) -> None:
        """Start the scheduler (LocalExecutor, no log server)."""
        self.scheduler = server_process.launch(
            [airflow_executable(), "scheduler", "--skip-serve-logs"], self.scheduler_files, env=self.env
        )

    def start_component(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start another ``airflow`` component (``dag-processor``, ``triggerer``...), recorded as ``name``."""
        proc = server_process.launch(
            [airflow_executable(), *args], server_process.StateFiles(self.state_dir, name), env=self.env
        )
        self.components[name] = proc
        return proc

    def check_alive(self) -> None:
        """Raise when the API server, the scheduler or another started component has exited."""
        for name, proc in (("api-server", self.api), ("scheduler", self.scheduler), *self.components.items()):
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.state_dir / (name + '.log')}")


@contextlib.contextmanager
def airflow_services(base_env: Mapping[str, str], state_dir: Path, apps: str = "execution") -> Iterator[Services]:
    """Launch the API server at once (it boots while the caller reserializes); stop everything by pid on exit.

    ``apps`` are the API server's applications: ``execution`` (enough for task workers) or ``all`` (with the UI and
    the REST API).
    """
    api_port = free_port()
    env = service_env(base_env, api_port)
    api_files = server_process.StateFiles(state_dir, "api-server")
    scheduler_files = server_process.StateFiles(state_dir, "scheduler")
    services: Services | None = None
    try:
        api = server_process.launch(
            [
                airflow_executable(),
                "api-server",
                "--host",
                HOST,
                "--port",
                str(api_port),
                "--workers",
                "1",
                "--apps",
                apps,
            ],
            api_files,
            env=env,
        )
        api_files.port_file.write_text(str(api_port))
        services = Services(env=env, state_dir=state_dir, api_port=api_port, api=api)
        yield services
    finally:
        # the scheduler first: on SIGTERM it ends its LocalExecutor workers, which may still call the API server
        others = [server_process.StateFiles(state_dir, name) for name in (services.components if services else ())]
        for files in (*reversed(others), scheduler_files, api_files):
            pid = files.read_pid()
            server_process.stop_recorded(files, timeout=30)
            if pid is not None:
                _stop_leftovers(pid)


def _stop_leftovers(session_pid: int) -> None:
    """SIGKILL what is left of the process group a launched service led (workers of a scheduler killed hard).

    ``server_process.launch`` starts each service in a new session, so its group holds only that service and the
    processes it spawned; after a graceful exit the group is empty and this does nothing.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session_pid, signal.SIGKILL)


def query_db(airflow_home: Path, query: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
    """Rows of a read-only query of the SQLite metadata DB (safe while the scheduler writes it)."""
    uri = f"file:{airflow_home / 'airflow.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        db.row_factory = sqlite3.Row
        return db.execute(query, params).fetchall()


def dag_runs(airflow_home: Path, dag_id: str) -> list[dict[str, Any]]:
    """The DAG's runs in the metadata DB (read-only): run id and type, state, logical date, data interval."""
    rows = query_db(
        airflow_home,
        "SELECT run_id, run_type, state, logical_date, data_interval_start, data_interval_end, backfill_id"
        " FROM dag_run WHERE dag_id = ? ORDER BY id",
        (dag_id,),
    )
    return [dict(r) for r in rows]


def task_states(airflow_home: Path, dag_id: str, run_id: str) -> dict[str, list[str | None]]:
    """``task_id -> [state of each map index]`` of one run."""
    rows = query_db(
        airflow_home,
        "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?"
        " ORDER BY task_id, map_index",
        (dag_id, run_id),
    )
    states: dict[str, list[str | None]] = {}
    for row in rows:
        states.setdefault(row["task_id"], []).append(row["state"])
    return states


def wait_for_backfill(
    services: Services, airflow_home: Path, dag_id: str, backfill_id: int, expected_runs: int, timeout: float
) -> list[dict[str, Any]]:
    """Poll the DB until the backfill's ``expected_runs`` runs are finished; raise (pointing at the logs) otherwise."""
    deadline = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = [r for r in dag_runs(airflow_home, dag_id) if r["backfill_id"] == backfill_id]
        if len(runs) >= expected_runs and all(r["state"] in TERMINAL_RUN_STATES for r in runs):
            return runs
        services.check_alive()
        time.sleep(0.5)
    raise TimeoutError(
        f"backfill {backfill_id} of {dag_id} not finished within {timeout}s: {json.dumps(runs, default=str)}; "
        f"logs in {services.state_dir}"
    )


def latest_backfill_id(airflow_home: Path, dag_id: str) -> int:
    """The id of the DAG's most recent backfill."""
    rows = query_db(airflow_home, "SELECT max(id) AS id FROM backfill WHERE dag_id = ?", (dag_id,))
    if not rows or rows[0]["id"] is None:
        raise RuntimeError(f"no backfill recorded for {dag_id}")
    return int(rows[0]["id"])
