"""End to end over real flytekit artefacts: the DAG's Glue tables and DataHub schemas equal the files' schemas.

One execution is generated with the project's event generator (cloudEvents v2 on SNS, reference raw-output policy),
one task node per fixture case. Each node's ``outputs.pb`` is replaced by the byte-exact LiteralMap flytekit wrote
for that case (``tests/flytekit_fixtures``), so the events point at real flytekit LiteralMaps whose data files stay
where flytekit put them. ``airflow dags test`` then drains, groups and writes DataHub Lite and Glue; the test reads
the Glue columns and DataHub schema fields back and compares their names with the Parquet footers of the real files.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flyteidl.core import literals_pb2

from flytelineage.testing import node_steps as steps
from flytelineage.testing.event_timeline import ExecutionSettings, ExecutionTimeline
from flytelineage.testing.flyte_event_generator import DEFAULT_START, encode_records, send_to_queue, write_objects
from flytelineage.testing.node_steps import TaskRef, drive
from include import demo
from tests.flytekit_fixtures.session import BUCKET, Artefacts

pytestmark = [pytest.mark.dag, pytest.mark.integration]

# Cases whose every dataset the product resolves from the file on this branch (see test_flytekit_artefacts.py).
CASES = ("frame_plain", "arrow_plain", "frame_wide", "sd_directory", "sd_spark_layout", "frame_dict", "consume_frame")
QUEUE = "flytekit-artefact-events"
LINEAGE_BUCKET = "flytekit-artefact-lineage"


def _s3() -> Any:
    return boto3.client("s3")


def _bytes(uri: str) -> bytes:
    bucket, _, key = uri[5:].partition("/")
    return bytes(_s3().get_object(Bucket=bucket, Key=key)["Body"].read())


def _footer_names(files: list[str]) -> list[str]:
    parquet = [f for f in files if _bytes(f)[-4:] == b"PAR1"]
    schemas = {tuple(pq.read_schema(pa.BufferReader(_bytes(f))).names) for f in parquet}
    assert len(schemas) == 1, f"fixture: one schema per dataset ({files})"
    return list(schemas.pop())


def _generate(artefacts: Artefacts) -> tuple[list[str], dict[str, bytes]]:
    """The execution's SQS bodies and objects: generator events, flytekit's own outputs.pb per node."""
    settings = ExecutionSettings("flytesnacks", "development", "fkreal0001", BUCKET, DEFAULT_START)
    timeline = ExecutionTimeline(settings, random.Random("fk:events"), random.Random("fk:data"))
    steps.begin_workflow(timeline, {})
    real_outputs: dict[str, str] = {}
    produced: dict[str, literals_pb2.LiteralMap] = {}
    for index, name in enumerate(CASES):
        case = artefacts.case(name)
        real = literals_pb2.LiteralMap.FromString(_bytes(case["outputs"]))
        node_inputs = {}
        if name == "consume_frame":
            node_inputs = {"frame": produced["frame_plain"].literals["o0"]}
        result = drive(
            steps.task_node(
                timeline, f"n{index}", TaskRef(case["task"]), node_inputs, lambda _d, real=real: dict(real.literals)
            )
        )
        produced[name] = real
        real_outputs[timeline.outputs_uri(result.node, result.attempt)] = case["outputs"]
    steps.succeed_workflow(timeline, {}, {})
    objects = dict(timeline.objects)
    for uri, flytekit_uri in real_outputs.items():
        objects[uri] = _bytes(flytekit_uri)  # the exact bytes flytekit wrote
    published = [r for r in timeline.records if r.published]
    messages = encode_records(published, publisher_format="cloudevents_v2", rng=random.Random("fk:sns"))
    return [m.body for m in messages], objects


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
    bodies, objects = _generate(flytekit_artefacts)
    write_objects(s3, objects)
    send_to_queue(sqs, queue_url, bodies)

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
