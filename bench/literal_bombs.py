"""Benchmark: memory and time of dataset resolution on crafted LiteralMaps, footers and objects, with default limits.

Each bomb (``flytelineage.testing.literal_bombs`` plus oversized objects) is put in the outputs of node ``n2`` of
one generated ``linear`` execution, next to a clean execution, and both are resolved with ``resolve_executions``
(the part of ``group_executions`` that reads objects) and the default ``ReadLimits``. Every bomb runs in its own
child process; the peak RSS of resolution is measured by resetting the kernel's high-water mark just before it
(``/proc/self/clear_refs``), so building the input does not count. The object store is an in-memory reader, so the
oversized objects sit in the child's memory before resolution starts (they are in ``before``, not in the peak's
increase); S3 would not send more than ``max_literal_bytes + 1`` bytes of them either (a ranged read).

    python -m bench.literal_bombs [--only NAME ...]

Prints one row per bomb: bytes of the crafted objects, RSS before resolution, peak RSS during it and the increase,
seconds, requests made (objects read, bytes asked for, directories listed, tails read), whether the clean execution
came out as without the bomb, and the limit problem recorded. Exit status 1 if a bomb gave no problem or changed the
clean execution.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

MIB = 1024 * 1024
BUCKET = "flyte-data"
AS_OF = datetime(2024, 1, 3, tzinfo=UTC)


def _bombs() -> dict[str, Callable[[str], Any]]:
    from flytelineage.testing import literal_bombs as bombs

    def raw(size: int) -> Callable[[str], Any]:
        return lambda base: ("raw", size)

    return {
        "none": lambda base: None,
        "self_reference": lambda base: bombs.self_reference(base, n=20),
        "cycle": bombs.cycle,
        "fan_out_40x4": lambda base: bombs.fan_out(base, n=40, levels=4),
        "deep_chain": bombs.deep_chain,
        "many_datasets_20000": lambda base: bombs.many_datasets(base, n=20_000),
        "many_datasets_60mib": lambda base: bombs.many_datasets(base, n=1_150_000),  # just under max_literal_bytes
        "footer_claims_4gib": bombs.huge_footer,
        "offloaded_128mib": lambda base: bombs.large_offloaded(base, size=128 * MIB),
        "literal_map_256mib": raw(256 * MIB),
    }


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def run_one(name: str) -> dict[str, Any]:
    """Build the input for one bomb, resolve it, and return the figures (in this process)."""
    from flyteidl.core import literals_pb2

    from flytelineage.domain.event_decoding import SqsMessage, decode_messages
    from flytelineage.domain.event_table import events_to_table
    from flytelineage.domain.execution_grouping import split_ready
    from flytelineage.domain.execution_lineage import resolve_executions
    from flytelineage.domain.read_limits import DEFAULT_LIMITS
    from flytelineage.testing.flyte_event_generator import generate
    from flytelineage.testing.in_memory_objects import InMemoryObjectReader

    runs = [generate("linear", name=n, bucket=BUCKET, seed=5) for n in ("bombed", "beside")]
    objects = {k: v for run in runs for k, v in run.objects.items()}
    target = f"s3://{BUCKET}/metadata/propeller/flytesnacks-development-bombed/n2/data/0/outputs.pb"
    crafted = _bombs()[name](f"s3://{BUCKET}/bombs")
    crafted_bytes = 0
    if isinstance(crafted, tuple):  # an oversized LiteralMap replacing the node's outputs
        objects[target] = b"\n" * crafted[1]
        crafted_bytes = crafted[1]
    elif crafted is not None:
        outputs = literals_pb2.LiteralMap.FromString(objects[target])
        outputs.literals["z_bomb"].CopyFrom(crafted.literal)
        objects[target] = outputs.SerializeToString()
        objects.update(crafted.objects)
        crafted_bytes = len(objects[target]) + sum(len(v) for v in crafted.objects.values())
    messages = [SqsMessage(m.message_id, m.body) for run in runs for m in run.messages]
    decoded = decode_messages(messages, received_at=AS_OF - timedelta(hours=1))
    split = split_ready(None, [events_to_table(decoded.events)], as_of=AS_OF, settle=timedelta(0))
    clean_objects = {k: v for run in runs for k, v in run.objects.items()}
    (clean,) = [
        e for e in resolve_executions(split.ready, InMemoryObjectReader(clean_objects)) if e.id.name == "beside"
    ]
    reader = InMemoryObjectReader(objects)
    before = _rss_mib("VmRSS")
    reset = _reset_peak()
    started = time.perf_counter()
    executions = resolve_executions(split.ready, reader, link_events=split.state.pending, limits=DEFAULT_LIMITS)
    seconds = time.perf_counter() - started
    peak = _rss_mib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    by_name = {e.id.name: e for e in executions}
    limit_problems = sorted(
        p for p in by_name["bombed"].problems if "max_" in p or "refers back to itself" in p or "corrupt" in p
    )
    calls = reader.calls
    return {
        "bomb": name,
        "crafted_bytes": crafted_bytes,
        "rss_before_mib": round(before, 1),
        "peak_mib": round(peak, 1),
        "increase_mib": round(max(0.0, peak - before), 1),
        "seconds": round(seconds, 2),
        "objects_read": sum(len(u) for m, u, _ in calls if m in ("read_objects", "read_heads")),
        "bytes_asked_max": max((n or 0 for m, _, n in calls if m in ("read_heads", "read_tails")), default=0),
        "listed": sum(len(u) for m, u, _ in calls if m == "list_files"),
        "tails": sum(len(u) for m, u, _ in calls if m == "read_tails"),
        "clean_unchanged": by_name["beside"] == clean,
        "datasets": len(by_name["bombed"].datasets),
        "problem": limit_problems[0][:150] if limit_problems else "",
        "peak_measured": "VmHWM after clear_refs" if reset else "ru_maxrss (whole process)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="bomb names (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child)))
        return 0
    names = args.only or list(_bombs())
    rows = []
    for name in names:
        out = subprocess.run(
            [sys.executable, "-m", "bench.literal_bombs", "--child", name],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        print(
            f"{row['bomb']:<22} crafted {row['crafted_bytes']:>10} B  before {row['rss_before_mib']:7.1f} MiB"
            f"  peak {row['peak_mib']:7.1f} MiB (+{row['increase_mib']:6.1f})  {row['seconds']:6.2f} s  "
            f"read {row['objects_read']} objects (max {row['bytes_asked_max']} B asked)  listed {row['listed']}  "
            f"tails {row['tails']}  clean execution unchanged: {row['clean_unchanged']}",
            flush=True,
        )
        print(f"{'':<22} problem: {row['problem'] or '-'}", flush=True)
    worst = max(rows, key=lambda r: r["increase_mib"])
    print(
        f"\nlargest peak RSS increase during resolution: +{worst['increase_mib']} MiB ({worst['bomb']}, peak "
        f"{worst['peak_mib']} MiB with the in-memory object store); slowest: {max(r['seconds'] for r in rows)} s; "
        f"peak measured as {rows[0]['peak_measured']}"
    )
    failed = [r["bomb"] for r in rows if not r["clean_unchanged"] or (r["bomb"] != "none" and not r["problem"])]
    if failed:
        print(f"FAILED: {failed} (no limit problem, or the clean execution changed)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
