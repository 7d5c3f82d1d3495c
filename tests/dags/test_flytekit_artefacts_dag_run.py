"""End to end over real flytekit artefacts: the DAG's Glue tables and DataHub schemas equal the files' schemas.

One execution is generated with the project's event generator (cloudEvents v2 on SNS, reference raw-output policy),
one task node per fixture case. Each node's ``outputs.pb`` is replaced by the byte-exact LiteralMap flytekit wrote
for that case (``tests/flytekit_fixtures``), so the events point at real flytekit LiteralMaps whose data files stay
where flytekit put them. ``airflow dags test`` then drains, groups and writes DataHub Lite and Glue; the test reads
the Glue columns and DataHub schema fields back and compares their names with the Parquet footers of the real files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flytelineage.testing.flyte_event_generator import send_to_queue, write_objects
from include import demo
from tests.flytekit_fixtures.events import flytekit_execution, read_object
from tests.flytekit_fixtures.session import BUCKET, Artefacts

pytestmark = [pytest.mark.dag, pytest.mark.integration]

# Cases whose every dataset the product resolves from the file on this branch (see test_flytekit_artefacts.py).
CASES = ("frame_plain", "arrow_plain", "frame_wide", "sd_directory", "sd_spark_layout", "frame_dict", "consume_frame")
QUEUE = "flytekit-artefact-events"
LINEAGE_BUCKET = "flytekit-artefact-lineage"


def _footer_names(files: list[str]) -> list[str]:
    parquet = [f for f in files if read_object(f)[-4:] == b"PAR1"]
    schemas = {tuple(pq.read_schema(pa.BufferReader(read_object(f))).names) for f in parquet}
    assert len(schemas) == 1, f"fixture: one schema per dataset ({files})"
    return list(schemas.pop())


def _top_level(field_path: str) -> str | None:
    """The column name of a top-level DataHub v2 field path (``[version=2.0].[type=long].order_id``), else None."""
    parts = [p for p in re.sub(r"\[[^\]]*\]", "", field_path).split(".") if p]
    return parts[0] if len(parts) == 1 else None


def _datahub_columns(lite_path: Path) -> dict[str, list[str]]:
    """Dataset location (from its properties) -> top-level column names, for every dataset in DataHub Lite."""
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
                    found.setdefault(value.rstrip("/"), names)
        return found
    finally:
        lite.close()


def test_dag_over_real_flytekit_outputs(flytekit_artefacts: Artefacts, moto_endpoint: str, tmp_path: Path) -> None:
    stack = demo.Stack(endpoint_url=moto_endpoint, home=tmp_path)
    s3, sqs, glue = (demo.boto_client(stack, s) for s in ("s3", "sqs", "glue"))
    s3.create_bucket(Bucket=LINEAGE_BUCKET)
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    execution = flytekit_execution(flytekit_artefacts, CASES)
    write_objects(s3, execution.objects)
    send_to_queue(sqs, queue_url, [m.body for m in execution.messages])

    demo.run_dag(stack, sqs_queue=QUEUE, bucket=LINEAGE_BUCKET, read_buckets=[BUCKET])

    expected = {
        d["uri"].rstrip("/"): _footer_names(d["files"])
        for name in CASES
        for d in flytekit_artefacts.case(name)["datasets"]
    }
    assert len(expected) == 7  # five single datasets and the two entries of the dict
    glue_columns: dict[str, list[str]] = {}
    for db in glue.get_databases()["DatabaseList"]:
        for table in glue.get_tables(DatabaseName=db["Name"])["TableList"]:
            sd = table["StorageDescriptor"]
            glue_columns[sd["Location"].rstrip("/")] = [c["Name"] for c in sd.get("Columns", [])]
    datahub_columns = _datahub_columns(stack.lite_path)
    for location, names in expected.items():
        assert glue_columns.get(location) == [n.lower() for n in names], f"Glue columns of {location}"
        assert datahub_columns.get(location) == names, f"DataHub schema fields of {location}"
