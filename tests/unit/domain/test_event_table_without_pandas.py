"""The drain's Arrow conversion and the batch round trip never import pandas; explicit pandas use still works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CODE = """
import sys
from datetime import UTC, datetime
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import (
    events_to_table, parquet_bytes_to_table, quarantine_to_table, table_to_parquet_bytes,
)
from flytelineage.testing.flyte_event_generator import mixed_workload

bodies = [m.body for m in mixed_workload(2, seed=3, with_objects=False).messages]
decoded = decode_messages([SqsMessage(str(i), b) for i, b in enumerate(bodies)], received_at=datetime.now(UTC))
table = parquet_bytes_to_table(table_to_parquet_bytes(events_to_table(decoded.events)))
quarantine_to_table([])
assert table.num_rows == len(decoded.events) > 0, table.num_rows
assert "pandas" not in sys.modules, "the event table imported pandas"
frame = table.to_pandas()  # an explicit conversion still gets pandas
assert "pandas" in sys.modules and len(frame) == table.num_rows
print("ok")
"""


def test_the_drain_conversion_does_not_import_pandas() -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}
    out = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
