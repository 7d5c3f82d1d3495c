"""``make airflow``: the demo data in a local emulator and a whole Airflow 3 behind its UI, on 127.0.0.1.

It starts moto_server (SQS, S3, Glue) seeded like ``make demo``, then Airflow's api-server (UI, REST API and
execution API), dag-processor, scheduler (LocalExecutor) and triggerer in a throw-away ``AIRFLOW_HOME`` under
``.local/airflow-ui/`` (recreated each time), with the demo's Variable and connections. The single user ``admin``
gets a password generated for this start (SimpleAuthManager reads it from a file in that home). It prints the URL and
the login, then waits; Ctrl-C (or SIGTERM, or any component exiting) stops every process by its pid.

No component serves logs on a network port (``--skip-serve-logs``): the API server reads the task logs from the
shared local log folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include import demo
from include.airflow_services import Services, airflow, airflow_services
from include.local_aws import moto_server
from include.local_aws.server_process import HOST

ADMIN = "admin"
DAG_ID = "flyte_lineage"


class RestClient:
    """The Airflow REST API (``/api/v2``) with a token from the SimpleAuthManager login (``POST /auth/token``)."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.token = self.login(username, password)

    def login(self, username: str, password: str) -> str:
        """A JWT for the user; raises ``urllib.error.HTTPError`` (401) for a wrong password."""
        body = self._send("POST", "/auth/token", {"username": username, "password": password}, token=None)
        return str(body["access_token"])

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None, *, api: str = "/api/v2") -> Any:
        """One call (``path`` under ``api``: the public ``/api/v2`` or the UI's ``/ui``) with the token; returns the
        decoded JSON answer."""
        return self._send(method, f"{api}{path}", payload, token=self.token)

    def _send(self, method: str, path: str, payload: dict[str, Any] | None, token: str | None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None


@dataclass
class AirflowUi:
    """A running UI stack: where it answers, the login, the emulator stack and the Airflow services."""

    url: str
    username: str
    password: str
    stack: demo.Stack
    services: Services
    seeded: dict[str, int]

    def client(self) -> RestClient:
        """A logged-in REST client."""
        return RestClient(self.url, self.username, self.password)

    def wait_dag_parsed(self, timeout: float = 180.0) -> None:
        """Wait until the dag-processor has stored the DAG (the UI and REST API show it from then on)."""
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            self.services.check_alive()
            with contextlib.suppress(urllib.error.HTTPError):
                client.call("GET", f"/dags/{DAG_ID}")
                return
            time.sleep(1)
        raise TimeoutError(f"{DAG_ID} was not parsed within {timeout}s; see {self.services.state_dir}")


def _auth_env(home: Path, password: str) -> dict[str, str]:
    password_file = home / "simple_auth_manager_passwords.json"
    password_file.write_text(json.dumps({ADMIN: password}))
    password_file.chmod(0o600)
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
    }


@contextlib.contextmanager
def airflow_ui(home: Path, *, schedule: bool = True) -> Iterator[AirflowUi]:
    """Start the emulator (seeded) and every Airflow component; stop them all by pid when the block ends.

    ``schedule`` False keeps the scheduler from creating scheduled runs (tests trigger their own).
    """
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    server = moto_server.start(home / "moto")
    try:
        stack = demo.Stack(endpoint_url=server.endpoint_url, home=home)
        seeded = demo.seed(stack)
        stack.airflow_home.mkdir(parents=True)
        stack.lite_path.parent.mkdir(parents=True)
        password = secrets.token_urlsafe(12)
        base = {**demo.airflow_env(stack), **_auth_env(stack.airflow_home, password)}
        airflow(base, "db", "migrate")
        with airflow_services(base, home / "services", apps="all") as services:
            services.env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = str(schedule)
            services.start_component("dag-processor", "dag-processor")
            services.start_scheduler()
            services.start_component("triggerer", "triggerer", "--skip-serve-logs")
            services.wait_api_ready(timeout=180)
            ui = AirflowUi(
                url=f"http://{HOST}:{services.api_port}",
                username=ADMIN,
                password=password,
                stack=stack,
                services=services,
                seeded=seeded,
            )
            ui.wait_dag_parsed()
            yield ui
    finally:
        moto_server.stop(home / "moto")


def _stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the same clean stop as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Run the stack until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=demo.ROOT / ".local" / "airflow-ui")
    parser.add_argument("--no-schedule", action="store_true", help="create no scheduled runs (trigger them yourself)")
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: a shell's background job starts with it ignored
        signal.signal(signum, _stop_on_signal)
    print(f"starting moto_server and Airflow in {args.home} (about a minute) ...", flush=True)
    try:
        with airflow_ui(args.home, schedule=not args.no_schedule) as ui:
            pids = {"api-server": ui.services.api.pid, **{n: p.pid for n, p in ui.services.components.items()}}
            if ui.services.scheduler is not None:
                pids["scheduler"] = ui.services.scheduler.pid
            print(f"seeded the emulator: {ui.seeded}")
            print(f"Airflow UI: {ui.url}/dags/{DAG_ID}")
            print(f"login: {ui.username} / {ui.password}")
            print(f"processes: {pids}; logs in {ui.services.state_dir}")
            print("The DAG starts paused: unpause it to start its schedule, or trigger a run. Ctrl-C stops all.")
            while True:
                ui.services.check_alive()
                time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping ...")
    print("stopped every process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
