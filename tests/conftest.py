"""Shared fixtures: a moto_server started once per test session, and unique AWS resource names per test.

The server binds 127.0.0.1 on a free port, is reached only through ``AWS_ENDPOINT_URL`` (as a deployment would
reach a real endpoint), and is stopped by its pid when the session ends. Airflow gets a temporary home.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Airflow reads its home when first imported: give the test session a throw-away one, never the developer's.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="flytelineage-airflow-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, True)
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.pop("AIRFLOW__CORE__DAGS_FOLDER", None)

from include.local_aws import moto_server  # noqa: E402

pytest_plugins = ["tests.golden_files", "tests.fake_gms", "tests.flytekit_fixtures.session"]

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start moto_server for the session; export ``AWS_ENDPOINT_URL`` and fake credentials; stop it at the end."""
    state_dir: Path = tmp_path_factory.mktemp("moto")
    server = moto_server.start(state_dir)
    saved = {k: os.environ.get(k) for k in [*AWS_TEST_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(AWS_TEST_ENV)
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    try:
        yield server.endpoint_url
    finally:
        moto_server.stop(state_dir)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def unique_name() -> str:
    """A short unique lowercase name for buckets, queues and databases of one test."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_client(moto_endpoint: str):  # type: ignore[no-untyped-def]
    """A boto3 S3 client on the emulator."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def sqs_client(moto_endpoint: str):  # type: ignore[no-untyped-def]
    """A boto3 SQS client on the emulator."""
    import boto3

    return boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def glue_client(moto_endpoint: str):  # type: ignore[no-untyped-def]
    """A boto3 Glue client on the emulator."""
    import boto3

    return boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3_client, unique_name: str) -> str:  # type: ignore[no-untyped-def]
    """A fresh S3 bucket on the emulator."""
    s3_client.create_bucket(Bucket=unique_name)
    return unique_name


# Fixtures that reach the emulator: a test whose fixture closure holds one of these must be marked ``integration``,
# so ``pytest -m "not integration"`` never starts moto_server (checked at collection below).
EMULATOR_FIXTURES = frozenset({"moto_endpoint", "s3_client", "sqs_client", "glue_client", "bucket"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the collection if a test uses an emulator fixture without the ``integration`` marker."""
    unmarked = [
        f"{item.nodeid} (uses {', '.join(sorted(EMULATOR_FIXTURES.intersection(item.fixturenames)))})"
        for item in items
        if EMULATOR_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("integration") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests using the AWS emulator must be marked integration (pytest.mark.integration):\n  "
            + "\n  ".join(unmarked)
        )


@pytest.fixture(autouse=True)
def _emulator_needs_the_integration_marker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test without the ``integration`` marker cannot start moto_server itself either (the runtime half of the
    collection check above, for tests that call ``moto_server.start`` directly instead of using a fixture)."""
    if request.node.get_closest_marker("integration") is not None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"{request.node.nodeid} starts the AWS emulator: mark it pytest.mark.integration")

    monkeypatch.setattr(moto_server, "start", refuse)
