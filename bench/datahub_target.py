"""Benchmark of the DataHub target: proposals built per second, and executions pushed per second into DataHub Lite.

Run from the repository root: ``.venv/bin/python -m bench.datahub_target [--executions 500]``.
It builds the proposals of N sample executions (``tests.lineage_samples``, each renamed so every run is a
distinct entity), then pushes them through ``DataHubEmitterHook`` into a fresh DataHub Lite file in a temporary
directory, twice (the second push is the idempotent re-run a retried task or a backfill does).
Figures are wall-clock on this machine, single process.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Parse arguments, run the three measurements, print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    args = parser.parse_args()
    from flytelineage.domain.datahub_mcps import build_mcps
    from tests.lineage_samples import many_executions

    executions = many_executions(args.executions)
    start = time.perf_counter()
    mcps = [mcp for execution in executions for mcp in build_mcps(execution)]
    build_seconds = time.perf_counter() - start
    report("build_mcps", len(executions), len(mcps), build_seconds)

    start = time.perf_counter()
    payload_bytes = sum(len(json.dumps(mcp.to_obj())) for mcp in mcps)
    report("serialize (to_obj + json)", len(executions), len(mcps), time.perf_counter() - start)
    print(f"  {payload_bytes / len(executions) / 1024:.1f} KiB of JSON per execution")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lite.db"
        os.environ["AIRFLOW_CONN_DATAHUB_BENCH"] = json.dumps({"conn_type": "datahub-lite", "host": str(path)})
        for label in ("push to Lite (new store)", "push to Lite (same again)"):
            seconds = push(executions, build_mcps)
            report(label, len(executions), len(mcps), seconds)
        print(
            f"  Lite file: {path.stat().st_size / 1024 / 1024:.1f} MiB for {len({m.entityUrn for m in mcps})} entities"
        )


def push(executions: list, build_mcps: object) -> float:  # type: ignore[type-arg]
    """Build and emit every execution through the hook (as the operator does), close included; return seconds."""
    from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook

    start = time.perf_counter()
    hook = DataHubEmitterHook(datahub_conn_id="datahub_bench")
    try:
        hook.emit_all([mcp for execution in executions for mcp in build_mcps(execution)])  # type: ignore[operator]
    finally:
        hook.close()
    return time.perf_counter() - start


def report(label: str, executions: int, mcps: int, seconds: float) -> None:
    """Print one measurement: rate of executions and of proposals."""
    print(
        f"{label:28s} {executions / seconds:9.1f} executions/s {mcps / seconds:10.1f} MCPs/s"
        f"   ({executions} executions, {mcps} MCPs, {seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()
