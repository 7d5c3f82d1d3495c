"""End to end over real flytekit artefacts: the DAG's Glue tables and DataHub schemas equal what the files hold.

One execution is generated with the project's event generator (cloudEvents v2 on SNS, reference raw-output policy),
one task node per fixture case (every case of ``tests/flytekit_fixtures/build.py``: frames, Arrow tables, CSV,
legacy schemas, external URIs, single files, typed and plain files and directories, lists, dicts, map tasks,
optionals, unions, dataclasses, pydantic models, offloaded literals, wide frames). Each node's ``outputs.pb`` is
replaced by the byte-exact LiteralMap flytekit wrote for that case (``tests/flytekit_fixtures``), so the events
point at real flytekit LiteralMaps whose data files stay where flytekit put them. ``airflow dags test`` then drains,
groups and writes DataHub Lite and Glue; the test reads the Glue columns (tables and list partitions) and the
DataHub schema fields back and compares their names with what the test reads from the files: the Parquet footer,
or the header line of a CSV file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from flytelineage.testing.flyte_event_generator import send_to_queue, write_objects
from include import demo
from tests.flytekit_fixtures.build import CASES as FIXTURE_CASES
from tests.flytekit_fixtures.events import flytekit_execution
from tests.flytekit_fixtures.session import BUCKET, Artefacts
from tests.integration.test_flytekit_artefacts import file_truth

pytestmark = [pytest.mark.dag, pytest.mark.integration]

CASES = tuple(case.name for case in FIXTURE_CASES)
QUEUE = "flytekit-artefact-events"
LINEAGE_BUCKET = "flytekit-artefact-lineage"


def _norm(uri: str) -> str:
    return uri.rstrip("/")


def _expected(entry: dict[str, Any]) -> tuple[list[str], bool]:
    """The column names the product must report for one dataset of the manifest, and whether Glue gets a table.

    Parquet data (whatever was declared): the footer's names, a Parquet table. CSV data: the header's names and a
    text table when the output declares CSV (``"csv"`` structured dataset, ``FlyteFile[csv]``); a plain
    ``FlyteFile``/``FlyteDirectory`` of CSV carries no format, so no columns and no table.
    """
    kind, columns = file_truth(entry["files"])
    names = [name for name, _ in columns]
    if kind == "parquet":
        return names, True
    if kind == "csv" and (entry["kind"] == "structured_dataset" or entry["format"] == "csv"):
        return names, True
    return [], False


def _top_level(field_path: str) -> str | None:
    """The column name of a top-level DataHub v2 field path (``[version=2.0].[type=long].order_id``), else None."""
    parts = [p for p in re.sub(r"\[[^\]]*\]", "", field_path).split(".") if p]
    return parts[0] if len(parts) == 1 else None


def _datahub_columns(lite_path: Path) -> dict[str, list[str]]:
    """Location -> top-level column names, for every location a DataHub Lite dataset names in its properties.

    A list dataset names its element locations (``element.<indices>``) beside its ``uri``: each maps to its columns.
    """
    from datahub.lite.lite_util import get_datahub_lite

    lite = get_datahub_lite({"type": "sqlite", "config": {"file": str(lite_path)}}, read_only=True)
    try:
        found: dict[str, list[str]] = {}
        for urn in lite.list_ids():
            if not urn.startswith("urn:li:dataset:"):
                continue
            aspects = lite.get(urn, ["schemaMetadata", "datasetProperties"]) or {}
            props = (aspects.get("datasetProperties") or {}).get("customProperties", {})
            fields = (aspects.get("schemaMetadata") or {}).get("fields", [])
            names = [n for f in fields if (n := _top_level(f["fieldPath"])) is not None]
            for value in props.values():
                if isinstance(value, str) and value.startswith("s3://"):
                    found.setdefault(_norm(value), names)
        return found
    finally:
        lite.close()


def _glue_columns(glue: Any) -> dict[str, list[str]]:
    """Dataset or element location -> Glue column names: a table by its ``flyte.dataset_uri``, a list's partitions
    by their locations (each partition reads the table's columns)."""
    found: dict[str, list[str]] = {}
    for db in glue.get_databases()["DatabaseList"]:
        for table in glue.get_tables(DatabaseName=db["Name"])["TableList"]:
            columns = [c["Name"] for c in table["StorageDescriptor"].get("Columns", [])]
            found[_norm(table["Parameters"]["flyte.dataset_uri"])] = columns
            if table.get("PartitionKeys"):
                partitions = glue.get_partitions(DatabaseName=db["Name"], TableName=table["Name"])["Partitions"]
                for partition in partitions:
                    found[_norm(partition["StorageDescriptor"]["Location"])] = columns
    return found


def _glue_location(entry: dict[str, Any]) -> str:
    """Where Glue names a dataset of the manifest: a list element by its partition's directory, others by uri."""
    if entry["element"] and len(entry["files"]) == 1 and entry["files"][0] == entry["uri"]:
        return entry["uri"].rsplit("/", 1)[0]
    return _norm(entry["uri"])


def test_dag_over_real_flytekit_outputs(flytekit_artefacts: Artefacts, moto_endpoint: str, tmp_path: Path) -> None:
    stack = demo.Stack(endpoint_url=moto_endpoint, home=tmp_path)
    s3, sqs, glue = (demo.boto_client(stack, s) for s in ("s3", "sqs", "glue"))
    s3.create_bucket(Bucket=LINEAGE_BUCKET)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    execution = flytekit_execution(flytekit_artefacts, CASES, name="fkdagrun01")
    write_objects(s3, execution.objects)
    send_to_queue(sqs, queue_url, [m.body for m in execution.messages])

    demo.run_dag(stack, sqs_queue=QUEUE, bucket=LINEAGE_BUCKET, read_buckets=[BUCKET])

    entries = [entry for name in CASES for entry in flytekit_artefacts.case(name)["datasets"]]
    assert {name for name in CASES if flytekit_artefacts.case(name)["datasets"]} == set(CASES) - {
        "frame_optional_none",
        "consume_frame",
    }, "fixture: every other case holds datasets"
    datahub_columns = _datahub_columns(stack.lite_path)
    glue_columns = _glue_columns(glue)
    registered = 0
    for entry in entries:
        names, in_glue = _expected(entry)
        location = _norm(entry["uri"])
        assert datahub_columns.get(location) == names, f"DataHub schema fields of {location}"
        if in_glue:
            registered += 1
            glue_location = _glue_location(entry)
            assert glue_columns.get(glue_location) == [n.lower() for n in names], f"Glue columns of {glue_location}"
        else:
            assert location not in glue_columns, f"{location} holds no data Glue can describe"
    assert registered >= len(entries) // 2, "most fixture datasets are Parquet or declared CSV"
