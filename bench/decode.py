"""Benchmark: events/s of the decode-to-Arrow path on one core, next to a bare protobuf-parsing loop.

Both loops take the same SQS bodies (a generated mixed workload in one publisher format). The bare loop does only
what any consumer must: parse the SNS envelope JSON, base64-decode the Message, parse the protobuf (for cloudEvents,
the CloudEvent and then its JSON data). The product loop runs ``decode_messages`` and builds the Arrow table of
``EVENT_SCHEMA`` rows in batches, as the drain does. Target: product >= 60% of the bare loop.

    python -m bench.decode [--executions 600] [--format external] [--repeat 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from datetime import UTC, datetime

from flyteidl.admin import event_pb2 as admin_events
from flyteidl.event import cloudevents_pb2
from google.protobuf import json_format

from flytelineage.domain.cloudevent_proto import CloudEvent
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table
from flytelineage.testing.flyte_event_generator import mixed_workload

BATCH = 5_000
_TYPES = {
    "flyteidl.admin.WorkflowExecutionEventRequest": admin_events.WorkflowExecutionEventRequest,
    "flyteidl.admin.NodeExecutionEventRequest": admin_events.NodeExecutionEventRequest,
    "flyteidl.admin.TaskExecutionEventRequest": admin_events.TaskExecutionEventRequest,
    "cloudevents.WorkflowExecution": cloudevents_pb2.CloudEventWorkflowExecution,
    "cloudevents.NodeExecution": cloudevents_pb2.CloudEventNodeExecution,
    "cloudevents.TaskExecution": cloudevents_pb2.CloudEventTaskExecution,
}


def bare_parse(bodies: list[str], publisher_format: str) -> int:
    """Parse the envelope, base64 and protobuf of every body; nothing else."""
    parsed = 0
    for body in bodies:
        envelope = json.loads(body)
        data = base64.b64decode(envelope["Message"])
        cls = _TYPES[envelope["Subject"]]
        if publisher_format == "external":
            cls.FromString(data)
        else:
            json_format.Parse(CloudEvent.FromString(data).binary_data, cls(), ignore_unknown_fields=True)
        parsed += 1
    return parsed


def product_decode(bodies: list[str], publisher_format: str) -> int:
    """The drain's decode path: SQS messages -> event rows -> Arrow tables of ``BATCH`` rows."""
    received = datetime(2026, 11, 21, tzinfo=UTC)
    rows = 0
    for start in range(0, len(bodies), BATCH):
        chunk = [SqsMessage(str(i), b) for i, b in enumerate(bodies[start : start + BATCH], start)]
        result = decode_messages(chunk, received_at=received)
        if result.quarantine:
            raise RuntimeError(f"unexpected quarantine: {result.quarantine[0]['reason']}")
        rows += events_to_table(result.events).num_rows
    return rows


def best_rates(bodies: list[str], fmt: str, repeat: int) -> tuple[float, float]:
    """Events per second of the fastest of ``repeat`` runs of each loop, the two loops interleaved so that a change
    in the machine's load affects both alike."""
    best = {bare_parse: float("inf"), product_decode: float("inf")}
    count = len(bodies)
    for _ in range(repeat):
        for fn in best:
            t0 = time.perf_counter()
            fn(bodies, fmt)
            best[fn] = min(best[fn], time.perf_counter() - t0)
    return count / best[bare_parse], count / best[product_decode]


def main() -> None:
    """Run both loops on one core and print events/s and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=600)
    parser.add_argument("--format", default="all", choices=["all", "external", "cloudevents_v1", "cloudevents_v2"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    formats = ["external", "cloudevents_v1", "cloudevents_v2"] if args.format == "all" else [args.format]
    header = f"{'format':<16}{'events':>8}{'bare ev/s':>12}{'product ev/s':>14}{'ratio':>8}"
    print(f"{header}  (one core, best of {args.repeat})")
    for fmt in formats:
        workload = mixed_workload(args.executions, seed=1, publisher_format=fmt)
        bodies = [m.body for m in workload.messages]
        product_decode(bodies[:500], fmt)  # first-use imports (pyarrow's lazy modules) stay out of the timing
        bare, product = best_rates(bodies, fmt, args.repeat)
        print(f"{fmt:<16}{len(bodies):>8}{bare:>12,.0f}{product:>14,.0f}{product / bare:>8.0%}")


if __name__ == "__main__":
    main()
