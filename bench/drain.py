"""Throughput benchmark of the drain: SQS API calls per message and messages per second on a full queue.

The code under test is ``DrainLoop`` with ``SqsBatchHook`` (SQS on fauxqs) and an ``S3Hook.load_bytes`` writer
(S3 on moto_server), draining a queue pre-filled with realistic FlyteAdmin SNS->SQS bodies from the project's
generator. Next to it the benchmark measures the emulator's own ceiling in the same run: a plain boto3 loop with a
few consumers doing ReceiveMessage(10) + DeleteMessageBatch and nothing else, on a queue of the same size.

The floor for calls per message is 0.20 (one receive and one delete per ten messages); the target is <= 0.22.
Filling the queues is not timed. Every server started here is bound to 127.0.0.1 and stopped by pid at the end::

    cd /work/main && .venv/bin/python -m bench.drain                 # 20,000 messages
    cd /work/main && .venv/bin/python -m bench.drain --messages 50000
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bench import fauxqs_server
from include.local_aws import moto_server

if TYPE_CHECKING:
    from flytelineage.engine.drain_loop import DrainReport, DrainSettings
    from flytelineage.hooks.sqs_batch_hook import ReceivedMessage, SqsBatchHook

# Airflow (imported by the hooks) reads its home and log levels once, on import: the project modules are imported
# inside the functions, after ``prepare_process`` has set these.
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(fauxqs_server.PROJECT_ROOT / ".local" / "bench" / "airflow"),
    "AIRFLOW__LOGGING__NAMESPACE_LEVELS": "airflow.providers.amazon=WARNING botocore=WARNING boto3=WARNING",
}
SQS_BATCH_LIMIT = 10
"""Entries per ReceiveMessage / DeleteMessageBatch call (the SQS limit; ``sqs_batch_hook.SQS_BATCH_LIMIT``)."""

STATE_ROOT = fauxqs_server.PROJECT_ROOT / ".local" / "bench"
BUCKET = "bench-drain"
PREFIX = "flyte-lineage"
INGEST_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TARGET_CALLS_PER_MESSAGE = 0.22
FLOOR_CALLS_PER_MESSAGE = 2 / SQS_BATCH_LIMIT
DRAIN_LAZY_IMPORTS = ("flytelineage.domain.event_decoding", "flytelineage.domain.event_table")
"""Modules ``DrainLoop`` imports on first use (protobuf, pyarrow); imported before the timed run."""
FILL_CHUNK_BATCHES = 20
"""SendMessageBatch calls per task while filling a queue (small, so an interrupted fill stops quickly)."""
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class ReceiveTally:
    """How full each ReceiveMessage answer was (number of messages -> number of calls); thread-safe."""

    sizes: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, size: int) -> None:
        """Record one receive call that returned ``size`` messages."""
        with self.lock:
            self.sizes[size] += 1

    def summary(self) -> str:
        """``full/partial/empty`` receive counts, e.g. ``1998 full, 3 partial, 4 empty``."""
        full = self.sizes[SQS_BATCH_LIMIT]
        empty = self.sizes[0]
        partial = sum(self.sizes.values()) - full - empty
        return f"{full} full, {partial} partial, {empty} empty"


class TallyingQueue:
    """Wraps ``SqsBatchHook`` for the drain: same calls, plus receive sizes and time spent in each kind of call."""

    def __init__(self, hook: SqsBatchHook, tally: ReceiveTally) -> None:
        self.hook = hook
        self.tally = tally
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def batch_limit(self) -> int:
        """``SqsBatchHook.batch_limit``."""
        return self.hook.batch_limit

    def _timed(self, kind: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return call()
        finally:
            with self._lock:
                self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started

    def receive(
        self, queue_url: str, *, max_messages: int = SQS_BATCH_LIMIT, wait_seconds: int = 1, visibility_timeout: int
    ) -> list[ReceivedMessage]:
        """``SqsBatchHook.receive``, recording the answer's size."""
        got: list[ReceivedMessage] = self._timed(
            "receive",
            lambda: self.hook.receive(
                queue_url, max_messages=max_messages, wait_seconds=wait_seconds, visibility_timeout=visibility_timeout
            ),
        )
        self.tally.add(len(got))
        return got

    def delete_batch(self, queue_url: str, receipt_handles: Sequence[str]) -> list[dict[str, Any]]:
        """``SqsBatchHook.delete_batch``."""
        failed: list[dict[str, Any]] = self._timed("delete", lambda: self.hook.delete_batch(queue_url, receipt_handles))
        return failed

    def change_visibility_batch(
        self, queue_url: str, receipt_handles: Sequence[str], visibility_timeout: int
    ) -> list[dict[str, Any]]:
        """``SqsBatchHook.change_visibility_batch``."""
        failed: list[dict[str, Any]] = self._timed(
            "visibility", lambda: self.hook.change_visibility_batch(queue_url, receipt_handles, visibility_timeout)
        )
        return failed


@dataclass
class Result:
    """One timed drain of a full queue."""

    label: str
    messages: int
    seconds: float
    calls: dict[str, int]
    tally: ReceiveTally

    @property
    def total_calls(self) -> int:
        """All SQS calls made while draining."""
        return sum(self.calls.values())

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds if self.seconds else math.inf

    @property
    def calls_per_message(self) -> float:
        """SQS calls per drained message."""
        return self.total_calls / self.messages if self.messages else math.inf


# ---- set-up (not timed) -----------------------------------------------------------------------------------------


def make_bodies(count: int, seed: int) -> list[str]:
    """``count`` SQS bodies of a shuffled mixed workload (whole executions, cut to size), without S3 objects."""
    from flytelineage.testing.flyte_event_generator import mixed_workload

    executions = max(1, math.ceil(count / 20))
    while True:
        workload = mixed_workload(executions, seed, with_objects=False, shuffle=True)
        if len(workload.messages) >= count:
            return [message.body for message in workload.messages[:count]]
        executions = math.ceil(executions * count / max(1, len(workload.messages)) * 1.1) + 1


def sqs_client(pool: int) -> Any:
    """A boto3 SQS client (endpoint from ``AWS_ENDPOINT_URL_SQS``) with room for ``pool`` concurrent calls."""
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", config=Config(max_pool_connections=max(10, pool), retries={"mode": "standard"}))


def fill(client: Any, queue_url: str, bodies: Sequence[str], senders: int) -> None:
    """Send every body with SendMessageBatch from ``senders`` threads; raise on any rejected entry."""
    from flytelineage.testing.flyte_event_generator import send_to_queue

    chunk = FILL_CHUNK_BATCHES * SQS_BATCH_LIMIT
    chunks = [bodies[i : i + chunk] for i in range(0, len(bodies), chunk)]
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="sqs-send") as pool:
        try:
            sent = sum(pool.map(lambda part: send_to_queue(client, queue_url, part), chunks))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C or SIGTERM, do not send the rest first
            raise
    if sent != len(bodies):
        raise RuntimeError(f"sent {sent} of {len(bodies)} messages")


def queue_depth(client: Any, queue_url: str) -> int:
    """Visible plus in-flight messages."""
    attributes = client.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def full_queue(client: Any, name: str, bodies: Sequence[str], senders: int) -> str:
    """Create queue ``name``, fill it with ``bodies`` and check its depth; return its URL."""
    url = str(client.create_queue(QueueName=name)["QueueUrl"])
    fill(client, url, bodies, senders)
    depth = queue_depth(client, url)
    if depth != len(bodies):
        raise RuntimeError(f"queue {name} holds {depth} messages after sending {len(bodies)}")
    return url


# ---- the two measured drains ------------------------------------------------------------------------------------


def ceiling(client: Any, queue_url: str, consumers: int, wait_seconds: int, visibility_timeout: int) -> Result:
    """The emulator's ceiling: ``consumers`` threads doing receive(10) + delete_batch until a receive is empty."""
    tally = ReceiveTally()
    calls = Counter[str]()
    lock = threading.Lock()
    stop = threading.Event()

    def consume() -> int:
        receives = deletes = drained = 0
        while not stop.is_set():
            messages = client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=SQS_BATCH_LIMIT,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
            ).get("Messages", [])
            receives += 1
            tally.add(len(messages))
            if not messages:
                break
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            failed = client.delete_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")
            deletes += 1
            if failed:
                raise RuntimeError(f"DeleteMessageBatch failed for {len(failed)} entries: {failed[:3]}")
            drained += len(messages)
        with lock:
            calls["receive"] += receives
            calls["delete"] += deletes
        return drained

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=consumers, thread_name_prefix="ceiling") as pool:
        try:
            drained = sum(pool.map(lambda _: consume(), range(consumers)))
        except BaseException:
            stop.set()
            raise
    seconds = time.perf_counter() - started
    calls["visibility"] += 0
    return Result(f"ceiling: boto3 loop, {consumers} consumers", drained, seconds, dict(calls), tally)


@dataclass
class DrainRun:
    """What ``drain`` measured: the result row, the drain's own report, and where its time went."""

    result: Result
    report: DrainReport
    call_seconds: dict[str, float]
    write_seconds: float
    written_bytes: int


def drain(queue_url: str, settings: DrainSettings) -> DrainRun:
    """Run ``DrainLoop`` once over the queue, writing Parquet objects to the bench bucket through ``S3Hook``."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from flytelineage.engine.drain_loop import DrainLoop
    from flytelineage.hooks.sqs_batch_hook import SqsBatchHook

    s3 = S3Hook(aws_conn_id=None)
    s3.get_conn()
    writes: dict[str, float] = {"seconds": 0.0, "bytes": 0}

    def write(key: str, data: bytes) -> None:
        started = time.perf_counter()
        s3.load_bytes(data, key=key, bucket_name=BUCKET, replace=True)
        writes["seconds"] += time.perf_counter() - started
        writes["bytes"] += len(data)

    hook = SqsBatchHook(aws_conn_id=None)
    hook.get_conn()  # create the client before timing, as a running operator would have
    for module in DRAIN_LAZY_IMPORTS:  # a fixed start-up cost (seconds on a busy machine), not throughput
        importlib.import_module(module)
    tally = ReceiveTally()
    sqs = TallyingQueue(hook, tally)
    runner = DrainLoop(sqs, queue_url, write, prefix=PREFIX, ingest_time=INGEST_TIME, settings=settings)
    started = time.perf_counter()
    report = runner.run()
    seconds = time.perf_counter() - started
    label = f"DrainLoop, {settings.receivers} receivers"
    result = Result(label, report.received, seconds, dict(report.api_calls), tally)
    return DrainRun(result, report, dict(sqs.seconds), float(writes["seconds"]), int(writes["bytes"]))


# ---- output -----------------------------------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    """A fixed-width table of the results."""
    header = ("", "messages", "seconds", "msg/s", "receive", "delete", "visibility", "calls", "calls/msg")
    rows = [header]
    for r in results:
        rows.append(
            (
                r.label,
                f"{r.messages:,}",
                f"{r.seconds:.2f}",
                f"{r.rate:,.0f}",
                f"{r.calls.get('receive', 0):,}",
                f"{r.calls.get('delete', 0):,}",
                f"{r.calls.get('visibility', 0):,}",
                f"{r.total_calls:,}",
                f"{r.calls_per_message:.4f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def verdict(under_test: Result, emulator: Result, worst: Result) -> list[str]:
    """The lines that judge the drain: calls/message (of ``worst``) against the target, speed against the ceiling."""
    ok = worst.calls_per_message <= TARGET_CALLS_PER_MESSAGE
    return [
        f"receives (full/partial/empty): drain {worst.tally.summary()}; ceiling {emulator.tally.summary()}",
        f"drain calls/message {worst.calls_per_message:.4f} "
        f"(floor {FLOOR_CALLS_PER_MESSAGE:.2f}, target <= {TARGET_CALLS_PER_MESSAGE:.2f}): {'PASS' if ok else 'FAIL'}",
        f"drain throughput {under_test.rate / emulator.rate:.0%} of the emulator's ceiling",
    ]


# ---- the run ----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def local_aws() -> Iterator[tuple[fauxqs_server.FauxqsServer, moto_server.MotoServer]]:
    """fauxqs for SQS and moto_server for S3, both on 127.0.0.1, stopped by pid on the way out (even on error)."""
    fauxqs_dir, moto_dir = STATE_ROOT / "fauxqs", STATE_ROOT / "moto"
    with contextlib.ExitStack() as stack:
        stack.callback(fauxqs_server.stop, fauxqs_dir)
        sqs = fauxqs_server.start(fauxqs_dir)
        stack.callback(moto_server.stop, moto_dir)
        s3 = moto_server.start(moto_dir)
        yield sqs, s3


def prepare_process() -> None:
    """Settings Airflow reads on import (home under ``.local/bench``, quiet AWS loggers); call before any import."""
    for name, value in AIRFLOW_ENV.items():
        os.environ.setdefault(name, value)
    for name in ("botocore", "boto3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_aws(sqs_endpoint: str, s3_endpoint: str) -> None:
    """Fake credentials and per-service endpoints for this process, so nothing can reach a real AWS account."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(FAKE_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL_SQS"] = sqs_endpoint
    os.environ["AWS_ENDPOINT_URL_S3"] = s3_endpoint


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    from flytelineage.engine.drain_loop import DrainSettings

    defaults = DrainSettings()
    parser = argparse.ArgumentParser(description="SQS calls per message and msg/s of DrainLoop on a full queue.")
    parser.add_argument("--messages", type=int, default=20_000, help="messages per queue (default 20000)")
    parser.add_argument("--receivers", type=int, default=defaults.receivers, help="DrainLoop receiver threads")
    parser.add_argument("--consumers", type=int, default=4, help="threads of the ceiling loop (default 4)")
    parser.add_argument("--wait-seconds", type=int, default=defaults.wait_seconds, help="long-poll wait, both runs")
    parser.add_argument("--flush-messages", type=int, default=defaults.flush_messages, help="DrainLoop flush size")
    parser.add_argument("--senders", type=int, default=8, help="threads filling the queues (not timed)")
    parser.add_argument("--seed", type=int, default=0, help="workload seed")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of (ceiling, drain); the fastest of each counts")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.repeat < 1:
        parser.error("--messages and --repeat must be positive")
    return args


@dataclass
class Round:
    """One ceiling run and one drain run, each on its own freshly filled queue."""

    emulator: Result
    drained: DrainRun
    left_ceiling: int
    left_drain: int

    def complete(self, sent: int) -> bool:
        """Every message was received, stored and deleted once, and both queues ended empty."""
        report = self.drained.report
        stored = report.events + report.quarantined
        return report.received == report.deleted == stored == sent and self.left_drain == self.left_ceiling == 0


def measure(client: Any, bodies: Sequence[str], settings: DrainSettings, args: argparse.Namespace, n: int) -> Round:
    """Fill a queue and time the ceiling loop on it, then fill another and time ``DrainLoop`` on it."""
    ceiling_url = full_queue(client, f"bench-ceiling-{n}", bodies, args.senders)
    emulator = ceiling(client, ceiling_url, args.consumers, settings.wait_seconds, settings.visibility_timeout)
    left_ceiling = queue_depth(client, ceiling_url)
    client.delete_queue(QueueUrl=ceiling_url)
    drain_url = full_queue(client, f"bench-drain-{n}", bodies, args.senders)
    drained = drain(drain_url, settings)
    left_drain = queue_depth(client, drain_url)
    client.delete_queue(QueueUrl=drain_url)
    if args.repeat > 1:
        emulator.label += f" #{n + 1}"
        drained.result.label += f" #{n + 1}"
    return Round(emulator, drained, left_ceiling, left_drain)


def print_report(rounds: Sequence[Round], settings: DrainSettings) -> None:
    """The table of every run, then the verdict on the fastest of each kind, the time breakdown and the checks."""
    print(f"load average after the runs: {os.getloadavg()[0]:.2f} (other processes share these cores)")
    print(
        f"DrainLoop settings: receivers={settings.receivers} wait_seconds={settings.wait_seconds} "
        f"flush_messages={settings.flush_messages} max_messages={settings.max_messages}"
    )
    print()
    print(table([row for r in rounds for row in (r.drained.result, r.emulator)]))
    print()
    best = max(rounds, key=lambda r: r.drained.result.rate)
    fastest_ceiling = max((r.emulator for r in rounds), key=lambda e: e.rate)
    worst_calls = max((r.drained.result for r in rounds), key=lambda d: d.calls_per_message)
    if len(rounds) > 1:
        print(
            f"best of {len(rounds)}: {best.drained.result.label} against {fastest_ceiling.label}; calls/message of "
            f"the worst drain run ({worst_calls.label})"
        )
    for line in verdict(best.drained.result, fastest_ceiling, worst_calls):
        print(line)
    run = best.drained
    calls = ", ".join(f"{kind} {secs:.1f}" for kind, secs in sorted(run.call_seconds.items()))
    print(
        f"drain time: {run.result.seconds:.1f}s wall; S3 writes {run.write_seconds:.1f}s "
        f"({run.written_bytes / 2**20:.1f} MiB); thread-seconds inside SQS calls: {calls}"
    )
    for n, r in enumerate(rounds, start=1):
        report = r.drained.report
        print(
            f"checks{f' #{n}' if len(rounds) > 1 else ''}: "
            f"drain received {report.received:,}, stored {report.events + report.quarantined:,} "
            f"({report.events:,} events, {report.quarantined:,} quarantined) in {len(report.objects)} objects, "
            f"deleted {report.deleted:,} ({report.delete_failures} failures); "
            f"left in queue: drain {r.left_drain}, ceiling {r.left_ceiling}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Fill queues, drain them with the plain loop and with DrainLoop, print the table."""
    prepare_process()
    # A plain SIGTERM would end the process without unwinding; as SystemExit it stops the servers on the way out.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    from flytelineage.engine.drain_loop import DrainSettings

    args = parse_args(argv)
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    defaults = DrainSettings()
    settings = DrainSettings(
        max_messages=max(defaults.max_messages, args.messages),
        max_seconds=max(defaults.max_seconds, args.messages / 100),
        receivers=args.receivers,
        wait_seconds=args.wait_seconds,
        flush_messages=args.flush_messages,
    )
    generated = time.perf_counter()
    bodies = make_bodies(args.messages, args.seed)
    generated = time.perf_counter() - generated
    mean_body = sum(len(b.encode()) for b in bodies) / len(bodies)
    print(f"generated {len(bodies):,} SQS bodies (mean {mean_body:,.0f} B) in {generated:.1f}s", flush=True)

    with local_aws() as (sqs_server, s3_server):
        configure_aws(sqs_server.endpoint_url, s3_server.endpoint_url)
        import boto3

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        client = sqs_client(max(args.senders, args.consumers))
        print(
            f"fauxqs {fauxqs_server.FAUXQS_VERSION} (SQS) pid {sqs_server.pid} at {sqs_server.endpoint_url}; "
            f"moto_server (S3) pid {s3_server.pid} at {s3_server.endpoint_url}; {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        rounds = [measure(client, bodies, settings, args, n) for n in range(args.repeat)]

    print_report(rounds, settings)
    complete = all(r.complete(len(bodies)) for r in rounds)
    if not complete:
        print("WARNING: a queue was not drained exactly once; the figures above are suspect", file=sys.stderr)
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
