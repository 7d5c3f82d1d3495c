"""Benchmark of the whole CPU path, in one process: SQS body to serialized DataHub proposals and a Glue plan.

Run from the repository root: ``.venv/bin/python -m bench.pipeline`` (``make bench`` runs it).

For each workload size (``--sizes``, default 1,000 and 4,000 executions, so growth in µs/event shows) and each
variant (without storage objects: the events point at LiteralMaps nobody wrote; with them: LiteralMaps and Parquet
files on an in-memory store, so datasets and footers are resolved), a generated workload
(``flytelineage.testing.flyte_event_generator.mixed_workload``, untimed) goes through every step the DAG's tasks
run, minus the network:

- ``decode``: ``decode_messages`` in batches of the drain's size; ``table``: ``events_to_table``;
- ``store``: each event batch to Parquet and back (the drain writes it, ``group_executions`` reads it);
- ``group``: ``split_ready``; ``resolve``: ``resolve_executions`` on an ``InMemoryObjectReader``;
- ``shard``: the executions shards written (gzip JSON Lines) and read back once;
- ``mcps``: ``build_mcps``; ``serialize``: the proposals prepared for a push (``datahub_push.prepare_push``:
  deduplicated, each aspect serialized once), then what the REST emitter does per proposal sent (``to_obj``, the
  JSON transform, ``json.dumps``); ``glue``: ``plan_glue_tables``.

Next to the total, ``legacy ser`` is the serialization this project did before (the emitter given every built
proposal), measured in the same run on the same proposals and not counted in the total; ``sent/ex`` the proposals
sent per execution; ``rerun/ex`` those a steady-state re-run of the same executions still sends (with the digests of
the first push): the per-run ones only.

The ``bare`` line, measured in the same run on the same bodies, is what any consumer must do: parse the SNS
envelope, base64-decode the message, parse the protobuf. Figures are µs per event (wall clock, one process); the
machine load (1-minute average) is printed next to them because the machine's cores are shared.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from bench.decode import bare_parse

T = TypeVar("T")
DRAIN_BATCH = 5_000
SHARD_SIZE = 200
STAGES = ("decode", "table", "store", "group", "resolve", "shard", "mcps", "serialize", "glue")


@dataclass
class Run:
    """The figures of one workload: seconds per stage, counts, and the load when it ran."""

    label: str
    executions: int
    events: int
    seconds: dict[str, float] = field(default_factory=dict)
    proposals: int = 0
    sent: int = 0
    rerun: int = 0
    load: float = 0.0

    def timed(self, stage: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` and add its wall-clock time to ``stage``."""
        start = time.perf_counter()
        result = fn()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
        return result

    def us(self, stage: str) -> float:
        """µs per event of a stage."""
        return self.seconds.get(stage, 0.0) / self.events * 1e6

    @property
    def total_us(self) -> float:
        """µs per event of the whole product path (every stage but ``bare``)."""
        return sum(self.us(s) for s in STAGES)


def run_pipeline(executions: int, *, with_objects: bool, seed: int = 1) -> Run:
    """Generate a workload (untimed) and time every stage of the CPU path on it."""
    from flytelineage.domain.datahub_mcps import build_mcps
    from flytelineage.domain.datahub_push import prepare_push
    from flytelineage.domain.event_decoding import SqsMessage, decode_messages
    from flytelineage.domain.event_table import events_to_table, parquet_bytes_to_table, table_to_parquet_bytes
    from flytelineage.domain.execution_grouping import split_ready
    from flytelineage.domain.execution_lineage import resolve_executions
    from flytelineage.domain.execution_store import executions_from_jsonl_gz, executions_to_jsonl_gz
    from flytelineage.domain.glue_tables import plan_glue_tables
    from flytelineage.testing.flyte_event_generator import DEFAULT_START, mixed_workload
    from flytelineage.testing.in_memory_objects import InMemoryObjectReader

    workload = mixed_workload(executions, seed=seed, with_objects=with_objects)
    bodies = [m.body for m in workload.messages]
    objects = {uri: data for e in workload.executions for uri, data in e.objects.items()}
    label = "with objects" if with_objects else "without objects"
    run = Run(label, executions, len(bodies))
    received = DEFAULT_START + timedelta(days=1)
    gc.collect()
    run.load = os.getloadavg()[0]
    run.timed("bare", lambda: bare_parse(bodies, "external"))
    tables = []
    for first in range(0, len(bodies), DRAIN_BATCH):
        chunk = [SqsMessage(str(i), b) for i, b in enumerate(bodies[first : first + DRAIN_BATCH], first)]
        decoded = run.timed("decode", lambda c=chunk: decode_messages(c, received_at=received))  # type: ignore[misc]
        if decoded.quarantine:
            raise RuntimeError(f"unexpected quarantine: {decoded.quarantine[0]['reason']}")
        table = run.timed("table", lambda d=decoded: events_to_table(d.events))  # type: ignore[misc]
        tables.append(run.timed("store", lambda t=table: parquet_bytes_to_table(table_to_parquet_bytes(t))))  # type: ignore[misc]
    split = run.timed(
        "group", lambda: split_ready(None, tables, as_of=received + timedelta(hours=1), settle=timedelta(minutes=5))
    )
    reader = InMemoryObjectReader(objects)
    resolved = run.timed("resolve", lambda: resolve_executions(split.ready, reader, link_events=split.state.pending))
    shards = run.timed(
        "shard",
        lambda: [
            executions_from_jsonl_gz(executions_to_jsonl_gz(resolved[i : i + SHARD_SIZE]))
            for i in range(0, len(resolved), SHARD_SIZE)
        ],
    )
    for shard in shards:
        mcps = run.timed("mcps", lambda s=shard: [m for e in s for m in build_mcps(e)])  # type: ignore[misc]
        prepared = run.timed("serialize", lambda m=mcps: push_serialize(m))  # type: ignore[misc]
        run.proposals += len(mcps)
        run.sent += len(prepared.proposals)
        again = prepare_push([m for e in shard for m in build_mcps(e)], prepared.emitted)
        run.rerun += len(again.proposals)
        run.timed("legacy", lambda s=shard: legacy_serialize([m for e in s for m in build_mcps(e)]))  # type: ignore[misc]
        run.timed("glue", lambda s=shard: plan_glue_tables(s))  # type: ignore[misc]
    if len(resolved) < executions:
        raise RuntimeError(f"only {len(resolved)} of {executions} executions were resolved")
    return run


def push_serialize(mcps: list[Any]) -> Any:
    """``prepare_push``, then the REST emitter's ``to_obj`` + JSON transform + ``json.dumps`` of each sent proposal."""
    import json

    from datahub.emitter.serialization_helper import pre_json_transform

    from flytelineage.domain.datahub_push import prepare_push

    prepared = prepare_push(mcps)
    for proposal in prepared.proposals:
        json.dumps(pre_json_transform(proposal.to_obj()))
    return prepared


def legacy_serialize(mcps: list[Any]) -> list[str]:
    """What the REST emitter does per proposal: ``to_obj``, the JSON transform, ``json.dumps``."""
    import json

    from datahub.emitter.serialization_helper import pre_json_transform

    return [json.dumps(pre_json_transform(m.to_obj())) for m in mcps]


_FIRST_CONVERSION_BEFORE = """
import sys, time
import pyarrow as pa
start = time.perf_counter()
pa.array([1])  # what the first events_to_table of a process paid before: pyarrow's pandas probe
print(time.perf_counter() - start, "pandas" in sys.modules)
"""
_FIRST_CONVERSION_NOW = """
import sys, time
from datetime import datetime, UTC
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table, table_to_parquet_bytes
from flytelineage.testing.flyte_event_generator import mixed_workload
bodies = [m.body for m in mixed_workload(3, seed=1, with_objects=False).messages]
decoded = decode_messages([SqsMessage(str(i), b) for i, b in enumerate(bodies)], received_at=datetime.now(UTC))
start = time.perf_counter()
table_to_parquet_bytes(events_to_table(decoded.events))
print(time.perf_counter() - start, "pandas" in sys.modules)
"""


def first_conversion() -> None:
    """The drain's first Arrow conversion in a fresh process, before (pandas imported) and now, in two children."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root / 'plugins'}:{root}"}
    for label, code in (("before", _FIRST_CONVERSION_BEFORE), ("now", _FIRST_CONVERSION_NOW)):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
        )
        seconds, pandas = out.stdout.split()
        ms = float(seconds) * 1e3
        print(f"first Arrow conversion in a drain process ({label}): {ms:.0f} ms, pandas loaded: {pandas}")


def print_runs(runs: list[Run]) -> None:
    """One row per workload: µs/event per stage, total, bare baseline, proposals per execution, load."""
    head = f"{'workload':<17}{'execs':>6}{'events':>8}" + "".join(f"{s:>9}" for s in STAGES)
    print(
        head + f"{'TOTAL':>9}{'bare':>7}{'ev/s':>9}{'legacy ser':>11}{'MCP/ex':>7}{'sent/ex':>8}{'rerun/ex':>9}"
        f"{'load':>6}"
    )
    for r in runs:
        stages = "".join(f"{r.us(s):>9.1f}" for s in STAGES)
        print(
            f"{r.label:<17}{r.executions:>6}{r.events:>8}{stages}{r.total_us:>9.1f}{r.us('bare'):>7.1f}"
            f"{1e6 / r.total_us:>9,.0f}{r.us('legacy'):>11.1f}{r.proposals / r.executions:>7.1f}"
            f"{r.sent / r.executions:>8.1f}{r.rerun / r.executions:>9.1f}{r.load:>6.2f}"
        )


def print_growth(runs: list[Run]) -> None:
    """µs/event of the largest size over the smallest, per variant, for the whole path and for resolve."""
    for label in dict.fromkeys(r.label for r in runs):
        sized = sorted((r for r in runs if r.label == label), key=lambda r: r.executions)
        if len(sized) < 2:
            continue
        small, large = sized[0], sized[-1]
        print(
            f"growth {label}, {small.executions} -> {large.executions} executions: "
            f"total {large.total_us / small.total_us:.2f}x, resolve {large.us('resolve') / small.us('resolve'):.2f}x"
        )


def main(argv: list[str] | None = None) -> None:
    """Run every size and variant, then print the table and the growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,4000", help="comma-separated execution counts")
    parser.add_argument("--variants", default="without,with", help="without and/or with storage objects")
    args = parser.parse_args(argv)
    runs: list[Any] = []
    run_pipeline(50, with_objects=True)  # first-use imports and caches stay out of the timing
    for variant in args.variants.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            runs.append(run_pipeline(size, with_objects=variant == "with"))
    print(f"µs per event, one process, pid {os.getpid()}; load = 1-minute load average when the run started")
    print_runs(runs)
    print_growth(runs)
    first_conversion()


if __name__ == "__main__":
    main()
