"""``make demo``: the whole pipeline on local defaults, end to end, on a fresh machine.

It starts moto_server on 127.0.0.1 (SQS, S3, Glue), seeds it with generated Flyte executions (every scenario, in
the three publisher formats, reordered, with duplicate deliveries and a few malformed messages), runs
``airflow dags test flyte_lineage`` with a throw-away ``AIRFLOW_HOME``, DataHub Lite as the DataHub target and a JSON
Lines file as the OpenLineage target (all three targets on), prints what landed, and stops the server by its pid.
The functions are reused by the DAG's end-to-end test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.local_aws import moto_server

ROOT = Path(__file__).resolve().parent.parent
LINEAGE_BUCKET = "flyte-lineage-demo"
DATA_BUCKET = "flyte-data"
QUEUE = "flyte-events"
LOGICAL_DATE = "2026-11-21T12:00:00+00:00"
REGION = "us-east-1"


@dataclass(frozen=True)
class Stack:
    """A local stack: the emulator endpoint and the paths of the Airflow home and the DataHub Lite file."""

    endpoint_url: str
    home: Path

    @property
    def airflow_home(self) -> Path:
        """The throw-away AIRFLOW_HOME."""
        return self.home / "airflow"

    @property
    def lite_path(self) -> Path:
        """The DataHub Lite store the DAG writes to."""
        return self.home / "datahub" / "lite.db"

    @property
    def openlineage_path(self) -> Path:
        """The JSON Lines file of OpenLineage events the DAG writes to."""
        return self.home / "openlineage" / "events.jsonl"


def boto_client(stack: Stack, service: str) -> Any:
    """A boto3 client on the emulator."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=stack.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed(stack: Stack, *, executions_per_scenario: int = 1) -> dict[str, int]:
    """Create the buckets and queue, write the executions' objects, and send their messages (shuffled, duplicated)."""
    from flytelineage.testing.flyte_event_generator import (
        duplicate_deliveries,
        generate,
        reorder,
        scenario_names,
        send_to_queue,
        write_objects,
    )
    from flytelineage.testing.malformed_bodies import MALFORMED_BODIES

    s3, sqs = boto_client(stack, "s3"), boto_client(stack, "sqs")
    for bucket in (LINEAGE_BUCKET, DATA_BUCKET):
        s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    formats = ["external", "cloudevents_v1", "cloudevents_v2"]
    messages, objects, runs = [], 0, 0
    for index, scenario in enumerate(sorted(scenario_names())):
        for copy in range(executions_per_scenario):
            run = generate(
                scenario,
                name=f"demo{index:02d}{copy:02d}{scenario.replace('_', '')[:8]}",
                bucket=DATA_BUCKET,
                publisher_format=formats[(index + copy) % len(formats)],
                seed=index * 100 + copy,
            )
            objects += write_objects(s3, run.objects)
            messages.extend(run.messages)
            runs += 1
    delivered = reorder(duplicate_deliveries(messages, seed=7, redelivery_rate=0.1, exact_rate=0.05), seed=7)
    bodies = [m.body for m in delivered] + MALFORMED_BODIES[:4]
    send_to_queue(sqs, queue_url, bodies)
    return {"executions": runs, "objects": objects, "messages": len(bodies), "malformed": 4}


def airflow_env(stack: Stack, **overrides: Any) -> dict[str, str]:
    """The environment of the Airflow subprocess: project dags/plugins, the Variable and the connections."""
    settings = {
        "sqs_queue": QUEUE,
        "bucket": LINEAGE_BUCKET,
        "settle_seconds": 0,
        "wait_seconds": 0,
        "max_seconds": 120,
        "read_buckets": [DATA_BUCKET],
        "flyte_console_url": "http://localhost:30080",
        "targets": ["datahub", "glue", "openlineage"],
        **overrides,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(stack.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_VAR_FLYTE_LINEAGE": json.dumps(settings),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {"conn_type": "aws", "extra": {"endpoint_url": stack.endpoint_url, "region_name": REGION}}
            ),
            "AIRFLOW_CONN_DATAHUB_DEFAULT": json.dumps({"conn_type": "datahub-lite", "host": str(stack.lite_path)}),
            "AIRFLOW_CONN_OPENLINEAGE_DEFAULT": json.dumps(
                {"conn_type": "openlineage-file", "host": str(stack.openlineage_path)}
            ),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        }
    )
    return env


def run_dag(
    stack: Stack, logical_date: str = LOGICAL_DATE, conf: dict[str, Any] | None = None, **overrides: Any
) -> subprocess.CompletedProcess[str]:
    """``airflow db migrate`` (once) and ``airflow dags test flyte_lineage``; raise with the log tail on failure.

    ``conf`` are the run's params (replay window, targets, dry run); ``overrides`` change the Variable.
    """
    env = airflow_env(stack, **overrides)
    airflow = str(Path(sys.executable).with_name("airflow"))
    stack.airflow_home.mkdir(parents=True, exist_ok=True)
    stack.lite_path.parent.mkdir(parents=True, exist_ok=True)
    if not (stack.airflow_home / "airflow.db").exists():
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, text=True)
    command = [airflow, "dags", "test", "flyte_lineage", logical_date]
    if conf:
        command += ["--conf", json.dumps(conf)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    (stack.home / "dags-test.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or "state=failed" in proc.stdout + proc.stderr:
        tail = (proc.stdout + proc.stderr)[-6000:]
        raise RuntimeError(f"airflow dags test failed (exit {proc.returncode}); log tail:\n{tail}")
    return proc


def _parquet_rows(s3: Any, area: str) -> int:
    return len(_stored_message_ids(s3, area))


def _stored_message_ids(s3: Any, area: str) -> list[str]:
    """The SQS message id of every row stored under ``area`` (a redelivered message appears once per delivery)."""
    from flytelineage.domain.event_table import parquet_bytes_to_table

    ids: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LINEAGE_BUCKET, Prefix=f"flyte-lineage/{area}/"):
        for obj in page.get("Contents", []):
            table = parquet_bytes_to_table(s3.get_object(Bucket=LINEAGE_BUCKET, Key=obj["Key"])["Body"].read())
            ids.extend(str(v) for v in table.column("message_id").to_pylist())
    return ids


def summarize(stack: Stack) -> dict[str, Any]:
    """What landed: stored events, quarantined messages, executions, DataHub entities and runs, Glue tables."""
    from datahub.lite.lite_util import get_datahub_lite

    from flytelineage.domain.execution_store import executions_from_jsonl_gz

    s3, glue, sqs = boto_client(stack, "s3"), boto_client(stack, "glue"), boto_client(stack, "sqs")
    executions = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LINEAGE_BUCKET, Prefix="flyte-lineage/executions/"):
        for obj in page.get("Contents", []):
            data = s3.get_object(Bucket=LINEAGE_BUCKET, Key=obj["Key"])["Body"].read()
            executions.extend(executions_from_jsonl_gz(data))
    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(stack.lite_path)}}, read_only=True)
    urns = list(lite.list_ids())
    lite.close()
    entity_types = Counter(urn.split(":")[2] for urn in urns)
    tables = {}
    for db in glue.get_databases()["DatabaseList"]:
        tables[db["Name"]] = sorted(t["Name"] for t in glue.get_tables(DatabaseName=db["Name"])["TableList"])
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return {
        "events_stored": _parquet_rows(s3, "events"),
        "event_messages_stored": len(set(_stored_message_ids(s3, "events"))),
        "quarantined": _parquet_rows(s3, "quarantine"),
        "queue_left": int(attrs["Attributes"]["ApproximateNumberOfMessages"]),
        "executions": len(executions),
        "execution_phases": dict(Counter(e.phase for e in executions)),
        "datahub_entities": dict(entity_types),
        "glue_tables": tables,
        "openlineage": openlineage_summary(stack.openlineage_path),
    }


def openlineage_summary(path: Path) -> dict[str, Any]:
    """The OpenLineage file: events by type, runs, jobs, runs lacking a terminal event, datasets linked to Glue."""
    events = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    runs: dict[str, list[str]] = {}
    for event in events:
        runs.setdefault(event["run"]["runId"], []).append(event["eventType"])
    linked = {
        (d["namespace"], d["name"])
        for e in events
        for d in [*e.get("inputs", []), *e.get("outputs", [])]
        if "symlinks" in d.get("facets", {})
    }
    return {
        "events": dict(Counter(e["eventType"] for e in events)),
        "runs": len(runs),
        "jobs": len({(e["job"]["namespace"], e["job"]["name"]) for e in events}),
        "runs_without_terminal": sum(1 for types in runs.values() if len(types) < 2),
        "datasets_linked_to_glue": len(linked),
    }


def print_summary(seeded: dict[str, int], summary: dict[str, Any], stack: Stack) -> None:
    """Print the demo's result and how to look further."""
    print("\n=== flyte-lineage demo ===")
    print(
        f"seeded: {seeded['executions']} executions, {seeded['messages']} SQS messages "
        f"({seeded['malformed']} malformed), {seeded['objects']} S3 objects"
    )
    print(
        f"drained: {summary['events_stored']} events stored, {summary['quarantined']} quarantined, "
        f"{summary['queue_left']} left in the queue"
    )
    print(f"rebuilt: {summary['executions']} executions {summary['execution_phases']}")
    print(f"DataHub Lite ({stack.lite_path}): {summary['datahub_entities']}")
    n_tables = sum(len(t) for t in summary["glue_tables"].values())
    print(f"Glue: {n_tables} tables in {len(summary['glue_tables'])} databases")
    for db, names in sorted(summary["glue_tables"].items()):
        print(f"  {db}: {', '.join(names)}")
    ol = summary["openlineage"]
    print(
        f"OpenLineage ({stack.openlineage_path}): {sum(ol['events'].values())} events {ol['events']}, "
        f"{ol['runs']} runs of {ol['jobs']} jobs, {ol['runs_without_terminal']} without a terminal event, "
        f"{ol['datasets_linked_to_glue']} datasets linked to Glue tables"
    )
    print("\nLook further:")
    print(f"  DataHub Lite store: {stack.lite_path} (read it with the Lite API snippet in the README)")
    print(f"  the Airflow log of the run: {stack.home / 'dags-test.log'}")


def main() -> int:
    """Run the demo in ``.local/demo`` (recreated each time)."""
    import shutil

    home = ROOT / ".local" / "demo"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    server = moto_server.start(home / "moto")
    try:
        stack = Stack(endpoint_url=server.endpoint_url, home=home)
        print(f"moto_server pid {server.pid} on {server.endpoint_url}")
        seeded = seed(stack)
        print(f"seeded {seeded}; running airflow dags test flyte_lineage {LOGICAL_DATE} ...")
        started = datetime.now(UTC)
        run_dag(stack)
        print(f"DAG run finished in {(datetime.now(UTC) - started).total_seconds():.1f}s")
        print_summary(seeded, summarize(stack), stack)
    finally:
        moto_server.stop(home / "moto")
        print(f"stopped moto_server pid {server.pid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
