"""Benchmark: group ~1,000,000 stored events into complete executions, vectorized vs the old per-event approach.

Usage: ``.venv/bin/python -m bench.group [--executions 37000] [--workers 2] [--data /tmp/flytelineage-bench]
[--publisher-format external|cloudevents_v1|cloudevents_v2] [--graphs-only]``

1. Prepare (not timed, cached on disk): the generator's mixed workload (every scenario, shuffled, 5% SNS
   redeliveries), decoded with ``decode_messages`` and written to local Parquet parts.
2. Measure, each in a fresh subprocess so peak RSS belongs to that step only:
   - ``vectorized``: read the Parquet parts, ``split_ready`` (dedup, readiness, semantic order), cut per execution;
   - ``per_event``: the old project's shape: load the rows as Python dicts, add each event to a dict keyed by
     execution and rescan that execution's events for a terminal workflow event after every event; then dedupe and
     sort the complete ones. Converting the rows to dicts is timed separately and not counted.
3. ``graphs``: one whole grouping run (``split_ready`` then ``resolve_executions``, with an object store that holds
   nothing) counting the calls of the stored-payload decoder (``decode_payload``), printed as decoder calls per
   stored row (0 expected: grouping reads the columns the decoder derived); then ``build_graph`` on each execution's
   rows timed in µs per event (best of three passes). ``graphs_legacy`` does the same on the batches with those
   columns removed (batches written before they existed), where grouping decodes a row's payload at most once.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
RECEIVED = START + timedelta(days=1, hours=2)
AS_OF = START + timedelta(days=2)
SETTLE = timedelta(minutes=10)
CHUNK = 1000
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})


def _prepare_chunk(args: tuple[int, int, str, str]) -> int:
    """Generate, decode and write one chunk of executions; returns the number of event rows."""
    from flytelineage.domain.event_decoding import SqsMessage, decode_messages
    from flytelineage.domain.event_table import events_to_table
    from flytelineage.testing.flyte_event_generator import mixed_workload

    seed, count, out, publisher_format = args
    workload = mixed_workload(count, seed=seed, start=START, redelivery_rate=0.05, publisher_format=publisher_format)
    messages = [SqsMessage(m.message_id, m.body) for m in workload.messages]
    decoded = decode_messages(messages, received_at=RECEIVED)
    if decoded.quarantine:
        raise RuntimeError(f"chunk {seed}: {len(decoded.quarantine)} messages quarantined")
    pq.write_table(events_to_table(decoded.events), out)
    return len(decoded.events)


def prepare(data: Path, executions: int, workers: int, publisher_format: str = "external") -> None:
    """Write the Parquet parts unless a previous run left them for the same size."""
    from flytelineage.domain.event_table import EVENT_SCHEMA

    marker = data / "prepared.json"
    wanted = {"executions": executions, "columns": EVENT_SCHEMA.names, "publisher_format": publisher_format}
    if marker.exists() and {k: json.loads(marker.read_text()).get(k) for k in wanted} == wanted:
        return  # same size, written by a decoder with the same columns
    data.mkdir(parents=True, exist_ok=True)
    for old in data.glob("part-*.parquet"):
        old.unlink()
    chunks = [
        (seed, min(CHUNK, executions - seed * CHUNK), str(data / f"part-{seed:04d}.parquet"), publisher_format)
        for seed in range((executions + CHUNK - 1) // CHUNK)
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        rows = sum(pool.map(_prepare_chunk, chunks))
    print(f"prepared {executions} executions, {rows} event rows in {time.perf_counter() - started:.0f} s")
    marker.write_text(json.dumps({**wanted, "rows": rows}))


def _read_parts(data: Path, columns: list[str] | None = None) -> list[pa.Table]:
    # ParquetFile, not read_table: read_table imports pyarrow.dataset (and pandas), seconds of one-off setup
    return [pq.ParquetFile(path).read(columns=columns) for path in sorted(data.glob("part-*.parquet"))]


def measure_vectorized(data: Path) -> dict[str, float]:
    """Time reading + ``split_ready`` + per-execution slicing."""
    from flytelineage.domain.execution_grouping import iter_execution_slices, split_ready

    started = time.perf_counter()
    parts = _read_parts(data)
    rows = sum(part.num_rows for part in parts)
    read_s = time.perf_counter() - started
    # the list is handed over (split_ready empties it), so input columns are freed as the outputs are built
    result = split_ready(None, parts, as_of=AS_OF, settle=SETTLE)
    executions = sum(1 for _ in iter_execution_slices(result.ready))
    total = time.perf_counter() - started
    return {
        "rows": rows,
        "ready_rows": result.ready.num_rows,
        "executions": executions,
        "pending_rows": result.state.pending.num_rows,
        "read_s": read_s,
        "seconds": total,
    }


_BASELINE_COLUMNS = [
    "event_id", "event_kind", "project", "domain", "execution_name", "phase", "node_id", "retry_attempt",
    "phase_version", "occurred_at", "received_at", "message_id",
]  # fmt: skip


def measure_per_event(data: Path) -> dict[str, float]:
    """The old approach on the same rows (without the payload column, to fit in memory as dicts)."""
    started = time.perf_counter()
    rows = pa.concat_tables(_read_parts(data, _BASELINE_COLUMNS)).to_pylist()
    convert_s = time.perf_counter() - started
    started = time.perf_counter()
    by_execution: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    complete: set[tuple[str, str, str]] = set()
    for event in rows:
        key = (str(event["project"]), str(event["domain"]), str(event["execution_name"]))
        events = by_execution.setdefault(key, [])
        events.append(event)
        if any(e["event_kind"] == "workflow" and e["phase"] in TERMINAL for e in events):
            complete.add(key)
    ready = 0
    for key in sorted(complete):
        unique = {str(e["event_id"]): e for e in by_execution[key]}
        ordered = sorted(unique.values(), key=lambda e: (str(e["event_kind"]), str(e["node_id"]), str(e["phase"])))
        ready += len(ordered)
    return {"rows": len(rows), "ready_rows": ready, "executions": len(complete), "convert_s": convert_s,
            "seconds": time.perf_counter() - started}  # fmt: skip


#: columns the decoder derives from the payload for grouping (absent from batches written before them)
_PAYLOAD_DERIVED = ("has_payload_fields", "log_uris", "input_data", "output_data", "output_interface")


class _NoObjects:
    """An ``ObjectReader`` with nothing stored: the prepared data keeps no LiteralMaps or datasets, and reading them
    never decodes an event payload (every read answers "missing", so the lineage has problems but no datasets)."""

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        return {uri: FileNotFoundError(uri) for uri in uris}

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Sequence[str] | Exception]:
        return {uri: FileNotFoundError(uri) for uri in dir_uris}

    def read_tails(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        return {uri: FileNotFoundError(uri) for uri in file_uris}

    def read_heads(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        return {uri: FileNotFoundError(uri) for uri in file_uris}


def measure_graphs(data: Path, *, legacy: bool = False) -> dict[str, float]:
    """Count the stored-payload decoder calls of one grouping run, then time ``build_graph`` over every execution.

    The count covers the whole grouping of the stored rows (``split_ready``, then ``resolve_executions``, as the
    group task runs them); ``decode_payload`` counts its own calls (``counting_payload_decodes``), so no caller is
    missed. Copies of one event share its payload and are deduplicated before grouping, so a payload stands for one
    stored row.
    """
    from flytelineage.domain import execution_graph
    from flytelineage.domain.event_decoding import counting_payload_decodes
    from flytelineage.domain.execution_grouping import iter_execution_slices, split_ready
    from flytelineage.domain.execution_lineage import RejectedExecution, resolve_executions

    parts = _read_parts(data)
    if legacy:
        parts = [p.drop_columns([c for c in _PAYLOAD_DERIVED if c in p.column_names]) for p in parts]
    stored_rows = sum(p.num_rows for p in parts)
    rejected: list[RejectedExecution] = []
    with counting_payload_decodes() as run_calls:
        result = split_ready(None, parts, as_of=AS_OF, settle=SETTLE)
        resolved = resolve_executions(result.ready, _NoObjects(), link_events=result.state.pending, rejected=rejected)
    slices = list(iter_execution_slices(result.ready))
    rows = sum(table.num_rows for _, table in slices)
    passes = []
    for _ in range(3):  # the machine is shared: the best of three passes is the figure; decodes count per pass
        with counting_payload_decodes() as pass_calls:
            started = time.perf_counter()
            for eid, table in slices:
                execution_graph.build_graph(eid, table.to_pylist())
            passes.append(time.perf_counter() - started)
    return {
        "stored_rows": stored_rows,
        "rows": rows,
        "executions": len(slices),
        "resolved": len(resolved),
        "rejected": len(rejected),
        "run_decode_calls": sum(run_calls.values()),
        "run_rows_decoded": len(run_calls),
        "run_max_decodes_of_one_row": max(run_calls.values(), default=0),
        "decode_calls": sum(pass_calls.values()),
        "max_decodes_of_one_row": max(pass_calls.values(), default=0),
        "seconds": min(passes),
    }


def _child(mode: str, data: Path) -> None:
    # pyarrow imports pandas lazily on its first datetime or numpy conversion; with PYTHONDONTWRITEBYTECODE that
    # one-off import costs seconds, so pay it before any timer starts
    import pandas  # noqa: F401

    if mode == "vectorized_jemalloc":
        # Arrow's jemalloc pool with immediate page return: freed input columns go back to the OS while the outputs
        # are built, instead of being retained by the allocator (mimalloc, the default, keeps them)
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    if mode in ("graphs", "graphs_legacy"):
        figures = measure_graphs(data, legacy=mode == "graphs_legacy")
    elif mode == "per_event":
        figures = measure_per_event(data)
    else:
        figures = measure_vectorized(data)
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def _run_child(mode: str, data: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", mode, "--data", str(data)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_grouping(data: Path) -> None:
    """The grouping steps (vectorized, with jemalloc, per-event baseline), measured in subprocesses and printed."""
    for mode in ("vectorized", "vectorized_jemalloc"):
        vectorized = _run_child(mode, data)
        print(
            f"{mode}: {vectorized['rows']:.0f} rows -> {vectorized['executions']:.0f} executions "
            f"({vectorized['ready_rows']:.0f} rows after dedup) in {vectorized['seconds']:.2f} s "
            f"(Parquet read {vectorized['read_s']:.2f} s), peak RSS {vectorized['peak_rss_mib']:.0f} MiB"
        )
    baseline = _run_child("per_event", data)
    print(
        f"per-event dict: {baseline['executions']:.0f} executions in {baseline['seconds']:.2f} s "
        f"(+{baseline['convert_s']:.2f} s converting rows to dicts, not counted), "
        f"peak RSS {baseline['peak_rss_mib']:.0f} MiB"
    )
    with_convert = baseline["seconds"] + baseline["convert_s"]
    print(
        f"ratio per-event / vectorized: {baseline['seconds'] / vectorized['seconds']:.2f}x grouping only, "
        f"{with_convert / vectorized['seconds']:.2f}x counting the per-event approach's row-to-dict conversion"
    )


def main() -> None:
    """Prepare once, then measure every step in its own subprocess and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=37_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=Path("/tmp/flytelineage-bench"))
    parser.add_argument("--publisher-format", default="external", help="external, cloudevents_v1 or cloudevents_v2")
    parser.add_argument("--graphs-only", action="store_true", help="measure only the build_graph steps")
    parser.add_argument(
        "--measure", choices=["vectorized", "vectorized_jemalloc", "per_event", "graphs", "graphs_legacy"]
    )
    args = parser.parse_args()
    if args.measure:
        _child(args.measure, args.data)
        return
    prepare(args.data, args.executions, args.workers, args.publisher_format)
    if not args.graphs_only:
        measure_grouping(args.data)
    for mode in ("graphs", "graphs_legacy"):
        g = _run_child(mode, args.data)
        batches = "batches written before the payload-derived columns" if mode == "graphs_legacy" else "current batches"
        print(
            f"{mode} ({batches}): one grouping run (split_ready + resolve_executions) over {g['stored_rows']:.0f} "
            f"stored rows ({g['rows']:.0f} after dedup, {g['resolved']:.0f} executions resolved, {g['rejected']:.0f} "
            f"rejected): decoder calls per stored row {g['run_decode_calls'] / g['stored_rows']:.3f} "
            f"({g['run_decode_calls']:.0f} calls, {g['run_rows_decoded']:.0f} rows decoded, at most "
            f"{g['run_max_decodes_of_one_row']:.0f} per row)"
        )
        print(
            f"{mode}: build_graph over {g['executions']:.0f} executions, {g['rows']:.0f} rows: "
            f"{g['seconds'] / g['rows'] * 1e6:.1f} µs/event (best of 3 passes, rows to dicts included), "
            f"{g['decode_calls'] / g['rows']:.3f} decoder calls per row per pass (at most "
            f"{g['max_decodes_of_one_row']:.0f} per row)"
        )


if __name__ == "__main__":
    main()
