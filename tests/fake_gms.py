"""The ``fake_gms`` fixture: a fake DataHub GMS (``flytelineage.testing.fake_gms``) for one test.

A pytest plugin module, registered once for the suite with ``pytest_plugins = ["tests.fake_gms"]`` in
``tests/conftest.py``. The server listens on 127.0.0.1 (a free port) and is stopped when the fixture is torn down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flytelineage.testing.fake_gms import FakeGms, serving


@pytest.fixture
def fake_gms() -> Iterator[FakeGms]:
    """A fake GMS on 127.0.0.1 (free port), serving from a daemon thread; stopped after the test."""
    with serving() as fake:
        yield fake
