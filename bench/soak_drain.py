"""Soak: SIGKILL the drain at random points, then let a normal run finish; count what was lost (must be 0).

Each killed run is a real process (``python -m bench.soak_drain child``) draining the queue with small flushes, so
kills land before, during and after S3 writes and between delete batches. After the kills and one visibility timeout,
a normal run drains the rest. Then every stored object is read back: every sent message id must be in ``events/`` or
``quarantine/``, the queue must be empty, and after deduplication by ``event_id`` (what the grouping step does)
each distinct event must be present exactly once.

    python -m bench.soak_drain [--runs 20] [--messages 300] [--seed 1]

It starts its own moto_server on 127.0.0.1 and stops it by pid at the end. The test suite runs a bounded version.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "soak"
VISIBILITY = 6


def _clients(endpoint: str) -> tuple[Any, Any]:
    import boto3

    kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    return boto3.client("sqs", **kwargs), boto3.client("s3", **kwargs)


def drain_once(queue_url: str, bucket: str, *, flush_messages: int, ingest_minute: int) -> dict[str, Any]:
    """One drain run in this process (what each child does, and the final clean run)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from flytelineage.engine.drain_loop import DrainLoop, DrainSettings
    from flytelineage.hooks.sqs_batch_hook import SqsBatchHook

    s3 = S3Hook(aws_conn_id=None)

    def write(key: str, data: bytes) -> None:
        s3.load_bytes(data, key=key, bucket_name=bucket, replace=True)

    settings = DrainSettings(
        # one receiver: moto's receive_message has no lock, concurrent receives corrupt its in-flight bookkeeping
        receivers=1,
        wait_seconds=0,
        flush_messages=flush_messages,
        flush_seconds=2,
        visibility_timeout=VISIBILITY,
    )
    ingest = datetime(2026, 11, 21, 12, ingest_minute % 60, tzinfo=UTC)
    drain = DrainLoop(
        SqsBatchHook(aws_conn_id=None), queue_url, write, prefix=PREFIX, ingest_time=ingest, settings=settings
    )
    return drain.run().as_dict()


def _stored(s3: Any, bucket: str) -> tuple[list[str], Any]:
    """Every stored message id (events and quarantine) and the concatenated event rows."""
    import pyarrow as pa

    from flytelineage.domain.event_table import EVENT_SCHEMA, parquet_bytes_to_table

    message_ids: list[str] = []
    event_tables = [EVENT_SCHEMA.empty_table()]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/"):
        for obj in page.get("Contents", []):
            table = parquet_bytes_to_table(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            message_ids.extend(table.column("message_id").to_pylist())
            if "event_id" in table.column_names:
                event_tables.append(table.cast(EVENT_SCHEMA))
    return message_ids, pa.concat_tables(event_tables)


def run_soak(endpoint: str, *, runs: int, messages: int, seed: int, work_dir: Path) -> dict[str, int]:
    """Kill ``runs`` drain processes at random points, finish with a clean run, and count the outcome."""
    from flytelineage.domain.execution_grouping import iter_execution_slices, split_ready
    from flytelineage.testing.flyte_event_generator import mixed_workload
    from flytelineage.testing.malformed_bodies import MALFORMED_BODIES

    rng = random.Random(seed)
    sqs, s3 = _clients(endpoint)
    name = f"soak{seed}x{int(time.time() * 1000) % 10**8}"
    s3.create_bucket(Bucket=name)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    workload = mixed_workload(max(1, messages // 25), seed=seed, redelivery_rate=0.05)
    bodies = [m.body for m in workload.messages] + MALFORMED_BODIES[:3]  # whole executions: every one completes
    sent_ids = _send(sqs, queue_url, bodies)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    kills = 0
    for run in range(runs):
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.soak_drain", "child", queue_url, name, str(run)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(work_dir / f"child-{run}.log").open("wb"),
        )
        time.sleep(rng.uniform(1.0, 4.0))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
    time.sleep(VISIBILITY + 1)  # messages held by killed runs become visible again
    drain_once(queue_url, name, flush_messages=50, ingest_minute=runs + 1)
    stored, stored_rows = _stored(s3, name)
    depth = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    sent_events = _event_ids_of(bodies)
    # What the targets receive: the grouping step's ready events, per execution (settled, far after the runs).
    split = split_ready(None, stored_rows, as_of=datetime(2100, 1, 1, tzinfo=UTC), settle=timedelta(0))
    ready_ids = split.ready.column("event_id").to_pylist()
    executions = [eid for eid, _ in iter_execution_slices(split.ready)]
    sent_executions = {e.execution for e in workload.executions} | {
        x for e in workload.executions for x in e.executions
    }
    return {
        "runs": runs,
        "kills": kills,
        "messages_sent": len(sent_ids),
        "messages_stored": len(set(stored) & set(sent_ids)),
        "messages_lost": len(set(sent_ids) - set(stored)),
        "events_sent": len(sent_events),
        "event_rows_stored": stored_rows.num_rows,
        "events_to_targets": len(ready_ids),
        "events_held_back": split.state.pending.num_rows + split.late.num_rows + split.expired.num_rows,
        "events_lost": len(sent_events - _ids(split.ready, split.state.pending, split.late, split.expired)),
        "duplicate_events_to_targets": len(ready_ids) - len(set(ready_ids)),
        "executions_sent": len(sent_executions),
        "executions_to_targets": len(set(executions)),
        "duplicate_executions_to_targets": len(executions) - len(set(executions)),
        "left_in_queue": int(depth["ApproximateNumberOfMessages"])
        + int(depth["ApproximateNumberOfMessagesNotVisible"]),
    }


def _ids(*tables: Any) -> set[str]:
    return {i for table in tables for i in table.column("event_id").to_pylist()}


def _event_ids_of(bodies: list[str]) -> set[str]:
    from flytelineage.domain.event_decoding import SqsMessage, decode_messages

    received = datetime(2026, 11, 21, tzinfo=UTC)
    result = decode_messages([SqsMessage(str(i), b) for i, b in enumerate(bodies)], received_at=received)
    return {row["event_id"] for row in result.events}


def _send(sqs: Any, queue_url: str, bodies: list[str]) -> list[str]:
    """Send with SendMessageBatch and return the SQS message ids."""
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS rejected messages: {response['Failed'][:3]}")
        ids.extend(r["MessageId"] for r in response["Successful"])
    return ids


def main() -> None:
    """``child`` runs one drain (to be killed); otherwise run the soak and print its counts."""
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _, _, queue_url, bucket, run = sys.argv
        drain_once(queue_url, bucket, flush_messages=15, ingest_minute=int(run))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=300, help="about this many (whole executions are sent)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from include.local_aws import moto_server

    with tempfile.TemporaryDirectory() as tmp:
        server = moto_server.start(Path(tmp) / "moto")
        os.environ.update(
            AWS_ENDPOINT_URL=server.endpoint_url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
        try:
            result = run_soak(
                server.endpoint_url, runs=args.runs, messages=args.messages, seed=args.seed, work_dir=Path(tmp)
            )
        finally:
            moto_server.stop(Path(tmp) / "moto")
    for key, value in result.items():
        print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
