"""Crafted LiteralMaps through SQS and the real operators on moto_server: each one is a problem on its own execution,
and every execution around it (in the same batch, the same grouping run) is emitted whole.

One ``linear`` execution per crafted input (``flytelineage.testing.literal_bombs``: a literal offloaded into itself,
a cycle, a fan-out, a chain deeper than ``max_literal_depth``, thousands of datasets, a 4 GiB footer claim, a
LiteralMap larger than ``max_literal_bytes``) carries it in its node ``n2`` outputs, beside two executions without
one. The events go through SQS, the drain and ``group_executions`` with the limits as operator arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flyteidl.core import literals_pb2

from flytelineage.domain.execution_store import executions_from_jsonl_gz
from flytelineage.domain.lineage_model import Execution
from flytelineage.engine.drain_loop import DrainSettings
from flytelineage.testing import flyte_literals as lit
from flytelineage.testing import literal_bombs as bombs
from flytelineage.testing.flyte_event_generator import GeneratedExecution, generate, write_objects
from tests.integration.test_faults_drain import INGEST, Drain, queue  # noqa: F401 - the queue fixture
from tests.sqs_s3_helpers import queue_depth, send_batches
from tests.unit.operators.test_group_executions import _group

pytestmark = pytest.mark.integration

SETTINGS = DrainSettings(receivers=1, wait_seconds=0, flush_messages=200, flush_seconds=1, visibility_timeout=120)
LIMITS = {"max_literals": 20_000, "max_dataset_reads": 40, "max_literal_bytes": 1_000_000}
CRAFTED: dict[str, tuple[Callable[[str], bombs.Bomb], str]] = {
    "selfref": (bombs.self_reference, "refers back to itself"),
    "cycle": (bombs.cycle, "refers back to itself"),
    "fanout": (bombs.fan_out, "more than max_literals (20000) literals"),
    "deep": (bombs.deep_chain, "nests deeper than max_literal_depth (64)"),
    "many": (lambda base: bombs.many_datasets(base, n=2_000), "(max_dataset_reads is 40)"),
    "footer": (bombs.huge_footer, "more than max_footer_bytes (16777216); not read"),
    "bigoffload": (
        lambda base: bombs.large_offloaded(base, 2_000_000),
        "not read: larger than max_literal_bytes (1000000 bytes)",
    ),
    # the outputs.pb itself over the limit: never downloaded, so n2's outputs are missing (and said to be)
    "bigmap": (
        lambda base: bombs.Bomb("big", lit.str_literal("x" * 2_000_000)),
        "not read: larger than max_literal_bytes (1000000 bytes)",
    ),
}
LOSES_OUTPUTS = {"bigmap"}
GOOD = ("goodone", "goodtwo")


def _with_bomb(run: GeneratedExecution, bucket: str, name: str) -> str:
    """Put the crafted input ``name`` into the run's n2 outputs (and its objects beside them); return the problem."""
    make, problem = CRAFTED[name]
    crafted = make(f"s3://{bucket}/bombs/{name}")
    [outputs_uri] = [u for u in run.objects if u.endswith("/n2/data/0/outputs.pb")]
    outputs = literals_pb2.LiteralMap.FromString(run.objects[outputs_uri])
    outputs.literals["z_bomb"].CopyFrom(crafted.literal)
    run.objects[outputs_uri] = outputs.SerializeToString()
    run.objects.update(crafted.objects)
    return problem


def _emitted(s3_client: Any, bucket: str, keys: list[str]) -> dict[str, Execution]:
    out: dict[str, Execution] = {}
    for key in keys:
        data = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        out.update((e.id.name, e) for e in executions_from_jsonl_gz(data))
    return out


def test_crafted_literal_maps_through_sqs_are_problems_on_their_executions_alone(
    sqs_client: Any,
    s3_client: Any,
    bucket: str,
    queue: str,  # noqa: F811
) -> None:
    runs = {name: generate("linear", name=name, bucket=bucket, seed=3) for name in (*CRAFTED, *GOOD)}
    expected = {name: _with_bomb(runs[name], bucket, name) for name in CRAFTED}
    for run in runs.values():
        write_objects(s3_client, run.objects)
        send_batches(sqs_client, queue, run.bodies())

    report = Drain(queue, bucket, SETTINGS).run()
    assert queue_depth(sqs_client, queue) == 0
    assert report.quarantined == 0

    keys, summary = _group(bucket, INGEST.replace(minute=0), INGEST, **LIMITS)
    emitted = _emitted(s3_client, bucket, keys)
    assert sorted(emitted) == sorted(runs), "every execution is emitted, crafted or not"
    assert summary["rejected_executions"] == 0
    for name in GOOD:
        assert emitted[name].problems == (), f"{name}: an execution beside the crafted ones is untouched"
    clean_datasets = {(d.name, d.fields) for d in emitted["goodone"].datasets}
    assert clean_datasets, "the linear scenario produces datasets"
    for name, problem in expected.items():
        execution = emitted[name]
        assert any(problem in p for p in execution.problems), f"{name}: {execution.problems}"
        # the execution's own datasets (those of every linear run) are still there, with their schemas
        named = {(d.name, d.fields) for d in execution.datasets}
        if name in LOSES_OUTPUTS:
            assert any(p.startswith("LiteralMap ") and "/n2/data/0/outputs.pb" in p for p in execution.problems)
            [n2] = [n for n in execution.nodes if n.node_id == "n2"]
            [clean_n2] = [n for n in emitted["goodone"].nodes if n.node_id == "n2"]
            assert n2.outputs == () and clean_n2.outputs != ()
        else:
            assert clean_datasets <= named, f"{name}: lost datasets {clean_datasets - named}"
        assert [n.node_id for n in execution.nodes] == [n.node_id for n in emitted["goodone"].nodes]
