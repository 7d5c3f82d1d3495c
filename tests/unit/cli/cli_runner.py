"""Run the ``flytelineage`` command: as the installed console script (a subprocess) or through ``main``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from flytelineage.cli.app import main

SCRIPT = Path(sys.executable).with_name("flytelineage")


@dataclass(frozen=True)
class Result:
    """Exit status and output of one command."""

    code: int
    out: str
    err: str


def run_script(*args: str, cwd: Path | None = None, stdin: str = "", env: dict[str, str] | None = None) -> Result:
    """The installed console script in a subprocess."""
    assert SCRIPT.exists(), "the console script is installed with the package (make venv)"
    proc = subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = ""
) -> Result:
    """``main(args)`` in this process, with ``stdin`` as standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
