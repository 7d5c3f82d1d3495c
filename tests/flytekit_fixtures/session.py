"""The ``flytekit_artefacts`` session fixture: build every flytekit fixture once per test session on the emulator.

It makes sure ``.venv-flytekit`` exists (``make flytekit-venv``, a no-op when installed), creates a bucket on the
session's moto_server and runs ``build.py`` in that venv as one subprocess, which writes all cases (about a minute
on a loaded machine). The manifest it returns names, per case, the LiteralMaps and the datasets with their files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLYTEKIT_PYTHON = ROOT / ".venv-flytekit" / "bin" / "python"
BUCKET = "flytekit-fixtures"
PREFIX = f"s3://{BUCKET}/flytekit"


@dataclass(frozen=True)
class Artefacts:
    """The manifest written by ``build.py``: the cases by name, and the S3 root they live under."""

    root: str
    cases: dict[str, dict[str, Any]]
    seconds: float

    def case(self, name: str) -> dict[str, Any]:
        return self.cases[name]


def _ensure_venv() -> None:
    if sys.platform.startswith("win"):  # pragma: no cover - the project runs on Linux
        raise RuntimeError("the flytekit fixture venv is built on Linux only")
    subprocess.run(["make", "--no-print-directory", "-s", "flytekit-venv"], cwd=ROOT, check=True, timeout=600)


@pytest.fixture(scope="session")
def flytekit_artefacts(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Artefacts:
    """Run the real flytekit tasks once for the session; return the manifest of what they wrote."""
    import boto3

    _ensure_venv()
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    work = tmp_path_factory.mktemp("flytekit-fixtures")
    manifest = work / "manifest.json"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "TMPDIR": str(work),
        "HOME": str(work),  # flytekit may write a config cache under ~/.flyte
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [str(FLYTEKIT_PYTHON), "-m", "tests.flytekit_fixtures.build", PREFIX, str(manifest)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    (work / "build.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(
            f"flytekit fixture build failed ({result.returncode}):\n{(result.stdout + result.stderr)[-6000:]}"
        )
    data = json.loads(manifest.read_text())
    return Artefacts(root=data["root"], cases={c["name"]: c for c in data["cases"]}, seconds=data["seconds"])
