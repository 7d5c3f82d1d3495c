"""``make airflow`` as a user meets it: log in, trigger a run with params over the REST API, and the UI in Chromium.

One stack (moto_server seeded with the demo data; api-server, dag-processor, scheduler, triggerer) serves the module
and is stopped by pid at its end; afterwards no recorded process may be left.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include import demo
from include.airflow_ui import DAG_ID, AirflowUi, RestClient, airflow_ui
from include.local_aws import server_process
from tests import demo_expected as expected

pytestmark = [pytest.mark.dag, pytest.mark.integration]

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowUi]:
    home = tmp_path_factory.mktemp("airflow-ui")
    with airflow_ui(home, schedule=False) as running:
        pids = [running.services.api.pid, *(p.pid for p in running.services.components.values())]
        yield running
    assert not [pid for pid in pids if server_process.alive(pid)], "every process is stopped by its pid"
    assert not list((home / "services").glob("*.pid")) and not list((home / "moto").glob("*.pid"))


def _http_status(call: Any) -> int:
    try:
        call()
    except urllib.error.HTTPError as e:
        return e.code
    return 200


def _wait_run(client: RestClient, run_id: str, timeout: float = 420) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        if run["state"] in ("success", "failed"):
            return run  # type: ignore[no-any-return]
        time.sleep(2)
    raise TimeoutError(f"run {run_id} not finished in {timeout}s")


def test_login_and_a_triggered_run_with_params(ui: AirflowUi) -> None:
    assert _http_status(lambda: RestClient(ui.url, ui.username, "not-the-password")) == 401
    client = ui.client()
    client.call("PATCH", f"/dags/{DAG_ID}", {"is_paused": False})

    # the params' schemas refuse bad input before a run exists
    for conf in ({"replay_start": "yesterday"}, {"targets": ["datahub", "glu"]}):
        status = _http_status(
            lambda c=conf: client.call("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": c})
        )  # type: ignore[misc]
        assert status == 400, conf
    assert client.call("GET", f"/dags/{DAG_ID}/dagRuns")["total_entries"] == 0

    run = client.call("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"targets": ["glue"]}})
    finished = _wait_run(client, run["dag_run_id"])
    states = {
        ti["task_id"]: ti["state"]
        for ti in client.call("GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
    }
    assert finished["state"] == "success", states
    assert states["drain_events"] == "success" and states["group_executions"] == "success"
    assert states["register_glue"] == "success" and states["push_datahub"] == "skipped"  # targets: ["glue"]
    glue = demo.boto_client(ui.stack, "glue")
    tables = [
        t["Name"]
        for db in glue.get_databases()["DatabaseList"]
        for t in glue.get_tables(DatabaseName=db["Name"])["TableList"]
    ]
    assert len(tables) == expected.GLUE_TABLES  # the demo's seeded input, see tests/demo_expected.py
    assert not ui.stack.lite_path.exists()  # DataHub was switched off by the params: no Lite file was written


def test_the_connection_forms_are_served(ui: AirflowUi) -> None:
    meta = {m["connection_type"]: m for m in ui.client().call("GET", "/connections/hook_meta", api="/ui")}
    rest, lite = meta["datahub-rest"], meta["datahub-lite"]
    assert rest["hook_name"] == "DataHub REST (GMS)"
    assert rest["standard_fields"]["host"]["title"] == "GMS URL"
    assert rest["standard_fields"]["password"]["title"] == "Token"
    assert rest["standard_fields"]["login"]["hidden"] is True
    assert lite["standard_fields"]["host"]["title"] == "SQLite file path"
    assert lite["standard_fields"]["password"]["hidden"] is True and lite["standard_fields"]["port"]["hidden"] is True


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_the_dag_page_and_the_trigger_form_in_chromium(ui: AirflowUi, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1200",
    ):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(f"{ui.url}/dags/{DAG_ID}")
        wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys(ui.username)
        driver.find_element(By.NAME, "password").send_keys(ui.password)
        driver.find_element(By.XPATH, "//button[@type='submit']").click()
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "register_glue"))
        page = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(tmp_path / "dag.png"))
        for shown in (DAG_ID, "drain_events", "group_executions", "push_datahub", "register_glue", "data-platform"):
            assert shown in page, shown

        wait.until(lambda d: [b for b in d.find_elements(By.TAG_NAME, "button") if b.text == "Trigger"])[0].click()
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Run Parameters"))
        time.sleep(1)  # the form's fields render after its heading
        form = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(tmp_path / "trigger.png"))
        for shown in (
            "Trigger Dag - flyte_lineage",
            "replay_start",
            "replay from (ISO 8601 with offset)",
            "replay_end",
            "targets",
            "override the Variable's targets",
            "dry_run",
        ):
            assert shown in form, shown
        print(json.dumps({"screenshots": [str(tmp_path / "dag.png"), str(tmp_path / "trigger.png")]}))
        assert (tmp_path / "trigger.png").stat().st_size > 10_000
    finally:
        driver.quit()
