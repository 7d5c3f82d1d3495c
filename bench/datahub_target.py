"""Benchmark of the DataHub target: serialization, REST pushes to a local fake GMS, pushes into DataHub Lite.

Run from the repository root: ``.venv/bin/python -m bench.datahub_target [--executions 500] [--skip-lite]``.
It builds the proposals of N sample executions (``flytelineage.testing.lineage_samples``, each renamed so every run
is a distinct entity) and measures, each time next to the path this project used before (the SDK's emitter or Lite
store given every built proposal, each serialized by the emitter), in the same run:

- serialization: the SDK's ``to_obj`` + JSON of every proposal, against ``datahub_push.prepare_push`` (deduplicated,
  each aspect serialized once) followed by what the REST emitter still does per proposal sent;
- REST: built proposals per second of client CPU (``time.process_time`` of this process) pushed to the fake GMS of
  the tests (``flytelineage.testing.fake_gms``), which runs in a child process on 127.0.0.1 so its CPU is not
  counted; the emitter is the SDK's ``DataHubRestEmitter`` (``ingestProposalBatch`` calls) in both cases. Then a
  steady-state re-run of the same executions with the digests of the first push: the proposals it still sends;
- DataHub Lite (``--skip-lite`` leaves it out): a fresh store and the same push again, proposals per second.

The server is stopped by its pid when the benchmark ends, also on failure. Figures are wall clock unless marked CPU;
the machine load (1-minute average) is printed because the cores are shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the measurements, print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--skip-lite", action="store_true", help="leave out the DataHub Lite pushes")
    parser.add_argument("--serve-gms", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.serve_gms:
        serve_fake_gms()
        return
    from flytelineage.domain.datahub_mcps import build_mcps
    from flytelineage.testing.lineage_samples import many_executions

    executions = many_executions(args.executions)
    print(f"load {os.getloadavg()[0]:.2f} (1-minute average), pid {os.getpid()}")
    start = time.perf_counter()
    mcps = [mcp for execution in executions for mcp in build_mcps(execution)]
    report("build_mcps", len(executions), len(mcps), time.perf_counter() - start)
    print(f"  {len(mcps) / len(executions):.1f} proposals built per execution")
    compare_serialization(executions, build_mcps)
    compare_rest(executions, build_mcps)
    if not args.skip_lite:
        compare_lite(executions, build_mcps)
    print(f"load {os.getloadavg()[0]:.2f} at the end")


# ---- serialization -------------------------------------------------------------------------------------------------


def legacy_serialize(mcps: list[Any]) -> list[str]:
    """What the REST emitter does per proposal it is given: ``to_obj``, the JSON transform, ``json.dumps``."""
    from datahub.emitter.serialization_helper import pre_json_transform

    return [json.dumps(pre_json_transform(m.to_obj())) for m in mcps]


def prepared_serialize(mcps: list[Any]) -> list[str]:
    """``prepare_push`` (dedupe, each aspect serialized once), then what the emitter does per proposal sent."""
    from flytelineage.domain.datahub_push import prepare_push

    return legacy_serialize(prepare_push(mcps).proposals)


def compare_serialization(executions: list[Any], build_mcps: Callable[..., list[Any]]) -> None:
    """Serialization of every built proposal before and after, fresh proposals each time (no cached state)."""
    for label, serialize in (
        ("serialize (before)", legacy_serialize),
        ("serialize (prepare_push)", prepared_serialize),
    ):
        mcps = [mcp for execution in executions for mcp in build_mcps(execution)]
        start = time.perf_counter()
        payloads = serialize(mcps)
        seconds = time.perf_counter() - start
        report(label, len(executions), len(mcps), seconds)
        print(f"  {len(payloads)} payloads, {sum(map(len, payloads)) / len(executions) / 1024:.1f} KiB per execution")


# ---- REST ----------------------------------------------------------------------------------------------------------


def serve_fake_gms() -> None:
    """Child process: the tests' fake GMS on a free 127.0.0.1 port; prints its URL, serves until terminated."""
    from flytelineage.testing.fake_gms import FakeGms, server

    fake = FakeGms()
    http = server(fake)
    print(fake.url, flush=True)
    http.serve_forever()


@contextmanager
def fake_gms_process() -> Iterator[str]:
    """Start the fake GMS in a child process; yield its URL; stop it by pid."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.datahub_target", "--serve-gms"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake GMS did not start (printed {url!r})")
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def legacy_rest_push(url: str, mcps: list[Any]) -> int:
    """Before: every built proposal to the SDK emitter's ``emit_mcps``, in batches of the SDK's batch length."""
    from datahub.emitter.rest_emitter import BATCH_INGEST_MAX_PAYLOAD_LENGTH, DataHubRestEmitter

    emitter = DataHubRestEmitter(url)
    try:
        for start in range(0, len(mcps), BATCH_INGEST_MAX_PAYLOAD_LENGTH):
            emitter.emit_mcps(mcps[start : start + BATCH_INGEST_MAX_PAYLOAD_LENGTH])
    finally:
        emitter.close()
    return len(mcps)


def hook_push(conn_id: str, mcps: list[Any], digests: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """Now: ``prepare_push`` then ``DataHubEmitterHook.emit_all``, as ``push_datahub`` does; (sent, digests)."""
    from flytelineage.domain.datahub_push import prepare_push
    from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook

    prepared = prepare_push(mcps, digests)
    hook = DataHubEmitterHook(datahub_conn_id=conn_id)
    try:
        hook.emit_all(prepared.proposals)
    finally:
        hook.close()
    return len(prepared.proposals), prepared.emitted


def cpu_timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, client CPU seconds, wall seconds) of ``fn``."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def compare_rest(executions: list[Any], build_mcps: Callable[..., list[Any]]) -> None:
    """Built proposals per client CPU second, before and after, then the steady-state re-run."""
    with fake_gms_process() as url:
        os.environ["AIRFLOW_CONN_DATAHUB_BENCH_REST"] = json.dumps({"conn_type": "datahub-rest", "host": url})
        warm = [mcp for execution in executions[:3] for mcp in build_mcps(execution)]
        legacy_rest_push(url, warm)  # first-use imports (requests, Airflow's connection code) stay out of the timing
        hook_push("datahub_bench_rest", warm)
        built = [mcp for execution in executions for mcp in build_mcps(execution)]
        sent, cpu, wall = cpu_timed(lambda: legacy_rest_push(url, built))
        before = len(built) / cpu
        print(
            f"REST push (before)          {before:10.0f} MCPs/s per client core  {len(built) / wall:8.0f} MCPs/s wall"
            f"   ({len(built)} built, {sent} sent, {cpu:.2f} s CPU, {wall:.2f} s)"
        )
        built = [mcp for execution in executions for mcp in build_mcps(execution)]
        (sent, digests), cpu, wall = cpu_timed(lambda: hook_push("datahub_bench_rest", built))
        after = len(built) / cpu
        print(
            f"REST push (prepare + hook)  {after:10.0f} MCPs/s per client core  {len(built) / wall:8.0f} MCPs/s wall"
            f"   ({len(built)} built, {sent} sent, {cpu:.2f} s CPU, {wall:.2f} s)   x{after / before:.2f}"
        )
        built = [mcp for execution in executions for mcp in build_mcps(execution)]
        (sent, _), cpu, wall = cpu_timed(lambda: hook_push("datahub_bench_rest", built, digests))
        print(
            f"REST re-run, unchanged      {len(built) / cpu:10.0f} MCPs/s per client core"
            f"   ({len(built)} built, {sent} sent = {sent / len(executions):.1f} per execution, {cpu:.2f} s CPU)"
        )


# ---- DataHub Lite --------------------------------------------------------------------------------------------------


def legacy_lite_push(path: Path, mcps: list[Any]) -> int:
    """Before: every built upsert written with the SDK's Lite ``write`` (one transaction each), then ``close``."""
    from datahub.lite.lite_util import get_datahub_lite

    options = {"journal_mode": "WAL", "synchronous": "NORMAL", "busy_timeout": 30_000}
    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(path), "options": options}})
    try:
        for mcp in mcps:
            lite.write(mcp)
    finally:
        lite.close()
    return len(mcps)


def compare_lite(executions: list[Any], build_mcps: Callable[..., list[Any]]) -> None:
    """A fresh Lite store and the same push again: the SDK store given every proposal, then through the hook."""
    with tempfile.TemporaryDirectory() as tmp:
        legacy_lite_push(Path(tmp) / "warm.db", [])  # first-use imports stay out of the timing
        path = Path(tmp) / "before.db"
        for label in ("Lite (before), new store", "Lite (before), same again"):
            built = [mcp for execution in executions for mcp in build_mcps(execution)]
            start = time.perf_counter()
            legacy_lite_push(path, built)
            report(label, len(executions), len(built), time.perf_counter() - start)
        path = Path(tmp) / "lite.db"
        os.environ["AIRFLOW_CONN_DATAHUB_BENCH_LITE"] = json.dumps({"conn_type": "datahub-lite", "host": str(path)})
        hook_push("datahub_bench_lite", [])  # first-use imports stay out of the timing
        for label in ("Lite (hook), new store", "Lite (hook), same again"):
            built = [mcp for execution in executions for mcp in build_mcps(execution)]
            start = time.perf_counter()
            hook_push("datahub_bench_lite", built)
            report(label, len(executions), len(built), time.perf_counter() - start)
        print(f"  Lite file: {path.stat().st_size / 1024 / 1024:.1f} MiB")


def report(label: str, executions: int, mcps: int, seconds: float) -> None:
    """Print one measurement: rate of executions and of proposals."""
    print(
        f"{label:28s} {executions / seconds:9.1f} executions/s {mcps / seconds:10.1f} MCPs/s"
        f"   ({executions} executions, {mcps} MCPs, {seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()
