"""Golden-file option for the domain tests until ``tests/conftest.py`` loads ``tests.golden_files`` as a plugin."""

from __future__ import annotations

from tests.golden_files import pytest_addoption, update_golden_files

__all__ = ["pytest_addoption", "update_golden_files"]
