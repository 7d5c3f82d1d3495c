"""Soak of the whole DAG: drain, grouping and the three targets under SIGKILLs and injected AWS faults.

Two stacks get the same seeded input (the demo's executions in the three publisher formats, redelivered and
reordered, with malformed messages), each on its own moto_server and Airflow home:

- the reference: one clean ``airflow dags test flyte_lineage`` run;
- the soaked one: ``--rounds`` runs of ``airflow dags test`` at successive logical dates, each with AWS faults
  injected at ``--fault-rate`` (a botocore call answered with a throttling or 5xx error, in every process of the
  run); every second round is also SIGKILLed at a random moment (the others get time for Airflow's retries); then
  clean runs (no faults, no kill) until one succeeds with the queue empty.

Then both end states are compared: every sent message stored (events or quarantine), executions emitted, DataHub
Lite entities and aspects, Glue tables, OpenLineage runs. Printed: messages sent / stored / quarantined / lost,
executions expected / emitted / missing / emitted more than once by grouping (re-emitted after a kill, harmless
because every target is idempotent) and duplicated in a target (must be 0), and the DataHub, Glue and OpenLineage
differences from the reference (must be empty).

    python -m bench.soak_pipeline [--rounds 6] [--fault-rate 0.02] [--seed 1]

Every server it starts is stopped by its pid; the work directory is temporary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from include import demo
from include.local_aws import moto_server

FAULTS_ENV = "FLYTE_LINEAGE_SOAK_FAULTS"
VISIBILITY = 30
"""The drain's visibility timeout in both stacks: messages a killed run held are visible again this soon."""
FAULT_ROUND_SECONDS = 300.0
"""How long a round with faults but no planned kill may run (Airflow's retries wait 30 s, then 60 s...)."""
FAULT_INJECTOR = Path(__file__).resolve().parent / "soak_faults"
"""Holds the ``sitecustomize.py`` that injects the faults into every Python process of a run."""


def _dag_command(stack: demo.Stack, logical_date: str) -> list[str]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    return [airflow, "dags", "test", "flyte_lineage", logical_date]


def _migrate(stack: demo.Stack) -> None:
    env = demo.airflow_env(stack)
    stack.airflow_home.mkdir(parents=True, exist_ok=True)
    stack.lite_path.parent.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, text=True)


def soak_round(
    stack: demo.Stack, logical_date: str, *, fault_rate: float, kill_after: float | None, seed: int, log: Path
) -> str:
    """One ``airflow dags test`` run with faults injected; returns ``killed``, ``failed`` or ``success``."""
    env = demo.airflow_env(stack, visibility_timeout=VISIBILITY, flush_seconds=VISIBILITY // 3)
    if fault_rate > 0:
        env["PYTHONPATH"] = os.pathsep.join([str(FAULT_INJECTOR), env["PYTHONPATH"]])
        env[FAULTS_ENV] = f"{fault_rate},{seed}"
    with log.open("wb") as out:
        # its own session, so the kill reaches every process of the run (task runners included)
        proc = subprocess.Popen(
            _dag_command(stack, logical_date), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "killed"
    text = log.read_text(errors="replace")
    return "failed" if proc.returncode != 0 or "state=failed" in text else "success"


def end_state(stack: demo.Stack) -> dict[str, Any]:
    """Everything a user sees at the end: stored message ids, executions, Lite aspects, Glue tables, OpenLineage."""
    from datahub.lite.lite_util import get_datahub_lite

    from flytelineage.domain.execution_store import executions_from_jsonl_gz

    s3, glue = demo.boto_client(stack, "s3"), demo.boto_client(stack, "glue")
    emitted: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=demo.LINEAGE_BUCKET, Prefix="flyte-lineage/executions/"
    ):
        for obj in page.get("Contents", []):
            data = s3.get_object(Bucket=demo.LINEAGE_BUCKET, Key=obj["Key"])["Body"].read()
            # a replayed or re-run interval rewrites its own shard keys, so each shard object counts once
            emitted.extend(e.id.name for e in executions_from_jsonl_gz(data))
    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(stack.lite_path)}}, read_only=True)
    aspects: dict[tuple[str, str], str] = {}
    for urn in lite.list_ids():
        for aspect_name, value in (lite.get(urn, aspects=None, typed=False, details=False) or {}).items():
            if aspect_name != "urn":
                aspects[(urn, aspect_name)] = json.dumps(_without_stamps(value), sort_keys=True)
    lite.close()
    tables = set()
    for db in glue.get_databases()["DatabaseList"]:
        for table in glue.get_tables(DatabaseName=db["Name"])["TableList"]:
            tables.add((db["Name"], table["Name"], table.get("StorageDescriptor", {}).get("Location", "")))
    lines = stack.openlineage_path.read_text().splitlines() if stack.openlineage_path.exists() else []
    events = [json.loads(line) for line in lines]
    openlineage = Counter((e["run"]["runId"], e["eventType"]) for e in events)
    return {
        "events_ids": set(demo._stored_message_ids(s3, "events")),
        "quarantine_ids": set(demo._stored_message_ids(s3, "quarantine")),
        "executions": Counter(emitted),
        "aspects": aspects,
        "tables": tables,
        "openlineage": openlineage,
    }


def _without_stamps(value: Any) -> Any:
    """An aspect without the wall-clock fields a later write changes (``lastObserved``, ``lastRunId``)."""
    if isinstance(value, dict):
        return {k: _without_stamps(v) for k, v in value.items() if k not in ("lastObserved", "lastRunId", "runId")}
    if isinstance(value, list):
        return [_without_stamps(v) for v in value]
    return value


def _queue_depth(stack: demo.Stack) -> int:
    sqs = demo.boto_client(stack, "sqs")
    url = sqs.get_queue_url(QueueName=demo.QUEUE)["QueueUrl"]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def compare(reference: dict[str, Any], soaked: dict[str, Any], sent: int) -> dict[str, Any]:
    """The figures printed: counts of the soaked stack and its differences from the reference."""
    stored = soaked["events_ids"] | soaked["quarantine_ids"]
    ref_stored = reference["events_ids"] | reference["quarantine_ids"]
    expected = set(reference["executions"])
    emitted = soaked["executions"]
    ref_aspects, aspects = reference["aspects"], soaked["aspects"]
    return {
        "messages_sent": sent,
        "messages_stored": len(stored),
        "messages_quarantined": len(soaked["quarantine_ids"]),
        "messages_lost": sent - len(stored),
        "reference_messages_stored": len(ref_stored),
        "executions_expected": len(expected),
        "executions_emitted": len(set(emitted)),
        "executions_missing": len(expected - set(emitted)),
        "executions_unexpected": len(set(emitted) - expected),
        "executions_emitted_more_than_once": sum(1 for n in emitted.values() if n > 1),
        "datahub_aspects": len(aspects),
        "datahub_aspects_missing": len(set(ref_aspects) - set(aspects)),
        "datahub_aspects_extra": len(set(aspects) - set(ref_aspects)),
        "datahub_aspects_different": sum(1 for k in set(ref_aspects) & set(aspects) if ref_aspects[k] != aspects[k]),
        "glue_tables": len(soaked["tables"]),
        "glue_tables_missing": len(reference["tables"] - soaked["tables"]),
        "glue_tables_extra": len(soaked["tables"] - reference["tables"]),
        "openlineage_events": sum(soaked["openlineage"].values()),
        "openlineage_missing": len(set(reference["openlineage"]) - set(soaked["openlineage"])),
        "openlineage_duplicated": sum(n - 1 for n in soaked["openlineage"].values()),
    }


def run(rounds: int, fault_rate: float, seed: int, work: Path) -> dict[str, Any]:
    """The reference stack, then the soaked one; both servers are stopped by pid before returning."""
    rng = random.Random(seed)
    states: dict[str, Any] = {}
    outcomes: list[str] = []
    for name in ("reference", "soaked"):
        home = work / name
        home.mkdir(parents=True)
        server = moto_server.start(home / "moto")
        try:
            stack = demo.Stack(endpoint_url=server.endpoint_url, home=home)
            demo.seed(stack)
            sent = _queue_depth(stack)
            _migrate(stack)
            start = datetime.fromisoformat(demo.LOGICAL_DATE)
            if name == "reference":
                outcome = soak_round(
                    stack, demo.LOGICAL_DATE, fault_rate=0, kill_after=None, seed=0, log=home / "r.log"
                )
                if outcome != "success":
                    raise RuntimeError(f"the reference run ended {outcome}; see {home / 'r.log'}")
            else:
                for index in range(rounds):
                    date = (start + timedelta(minutes=10 * index)).isoformat()
                    # odd rounds: SIGKILL at a random moment of the run (drain, grouping or targets); even rounds:
                    # faults only, with time for Airflow's retries (killed too if they are not done by then)
                    kill_after = rng.uniform(5.0, 110.0) if index % 2 else FAULT_ROUND_SECONDS
                    outcomes.append(
                        soak_round(
                            stack,
                            date,
                            fault_rate=fault_rate,
                            kill_after=kill_after,
                            seed=seed * 1000 + index,
                            log=home / f"round-{index}.log",
                        )
                    )
                # clean runs until the queue is empty and the last run was clean (at most 4)
                for extra in range(4):
                    time.sleep(
                        VISIBILITY + 1
                    )  # the drain's visibility timeout: messages held by killed runs are visible again
                    date = (start + timedelta(minutes=10 * (rounds + extra))).isoformat()
                    outcome = soak_round(
                        stack, date, fault_rate=0, kill_after=None, seed=0, log=home / f"clean-{extra}.log"
                    )
                    outcomes.append(f"clean:{outcome}")
                    if outcome == "success" and _queue_depth(stack) == 0:
                        break
            states[name] = end_state(stack)
            states[f"{name}_sent"] = sent
        finally:
            moto_server.stop(home / "moto")
    result = compare(states["reference"], states["soaked"], states["soaked_sent"])
    counts = Counter(outcomes)
    return {"rounds": rounds, "fault_rate": fault_rate, "outcomes": dict(counts), **result}


def main() -> None:
    """Parse the options, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--fault-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, help="keep the stacks and logs here (default: a temporary folder)")
    args = parser.parse_args()
    started = time.monotonic()
    if args.work_dir:
        result = run(args.rounds, args.fault_rate, args.seed, args.work_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args.rounds, args.fault_rate, args.seed, Path(tmp))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}; took {time.monotonic() - started:.0f} s")
    for key, value in result.items():
        print(f"{key:>34}: {value}")


if __name__ == "__main__":
    main()
