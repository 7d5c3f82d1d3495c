"""Golden-file checks for lineage output, reusable by every target's tests (a pytest plugin module).

``check_golden(path, data, update)`` compares ``data`` serialized as stable JSON (sorted keys, 2-space indent, final
newline) with the file at ``path``; with ``update`` it rewrites the file instead. Regenerate with
``pytest <tests> --update-golden-files`` (or ``UPDATE_GOLDEN_FILES=1``), then review the diff like code.

Register the option once for the whole suite with ``pytest_plugins = ["tests.golden_files"]`` in ``tests/conftest.py``;
until then a ``conftest.py`` may re-export ``pytest_addoption`` from here (registering twice is harmless).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

OPTION = "--update-golden-files"
ENV_VAR = "UPDATE_GOLDEN_FILES"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--update-golden-files`` (idempotent, so a conftest and the plugin may both call it)."""
    with contextlib.suppress(ValueError):
        parser.addoption(OPTION, action="store_true", default=False, help="rewrite golden files with the output")


@pytest.fixture
def update_golden_files(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be rewritten (the command-line option or ``UPDATE_GOLDEN_FILES=1``)."""
    try:
        from_option = bool(request.config.getoption(OPTION))
    except ValueError:
        from_option = False
    return from_option or os.environ.get(ENV_VAR, "") not in ("", "0", "false")


def golden_text(data: Any) -> str:
    """The canonical text of golden data: JSON, sorted keys, indent 2, trailing newline, non-ASCII kept."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def check_golden(path: Path, data: Any, update: bool) -> None:
    """Assert ``data`` matches the golden file at ``path`` (or rewrite it when ``update``)."""
    text = golden_text(data)
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; create it with {OPTION} and review it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = _first_difference(expected, text)
        pytest.fail(f"output differs from {path} ({diff}); if intended, rerun with {OPTION} and review the diff")


def _first_difference(expected: str, actual: str) -> str:
    for number, (old, new) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
        if old != new:
            return f"line {number}: expected {old.strip()!r}, got {new.strip()!r}"
    return f"expected {len(expected.splitlines())} lines, got {len(actual.splitlines())}"
