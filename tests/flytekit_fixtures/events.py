"""Flyte events for the real flytekit fixtures: one execution, one task node per case, made by the project's generator.

The generator (``flytelineage.testing``) writes the events and propeller's objects (``inputs.pb``, the end node...);
each task node's ``outputs.pb`` is then replaced by the exact bytes flytekit wrote for its case, so the events point
at real flytekit LiteralMaps whose data files stay where flytekit put them. A case named in ``consumes`` gets the
upstream case's output ``o0`` as its input ``frame`` (an edge, as propeller would wire it).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from flyteidl.core import literals_pb2

from flytelineage.testing import node_steps as steps
from flytelineage.testing.event_timeline import ExecutionSettings, ExecutionTimeline
from flytelineage.testing.flyte_event_generator import DEFAULT_START, GeneratedMessage, encode_records
from flytelineage.testing.node_steps import TaskRef, drive
from tests.flytekit_fixtures.session import BUCKET, Artefacts

CONSUMES = {"consume_frame": "frame_plain"}


@dataclass(frozen=True)
class FlytekitExecution:
    messages: list[GeneratedMessage]
    objects: dict[str, bytes]
    node_of_case: dict[str, str]  # case -> node id
    outputs_of_node: dict[str, str]  # node id -> outputs.pb uri the events name


def read_object(uri: str) -> bytes:
    bucket, _, key = uri[5:].partition("/")
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def flytekit_execution(
    artefacts: Artefacts,
    cases: Sequence[str],
    *,
    name: str = "fkreal0001",
    publisher_format: str = "cloudevents_v2",
    consumes: Mapping[str, str] = CONSUMES,
) -> FlytekitExecution:
    """The SQS messages and S3 objects of one execution whose task outputs are the named flytekit cases."""
    settings = ExecutionSettings("flytesnacks", "development", name, BUCKET, DEFAULT_START)
    timeline = ExecutionTimeline(settings, random.Random(f"{name}:events"), random.Random(f"{name}:data"))
    steps.begin_workflow(timeline, {})
    real_bytes: dict[str, bytes] = {}
    produced: dict[str, literals_pb2.LiteralMap] = {}
    node_of_case: dict[str, str] = {}
    outputs_of_node: dict[str, str] = {}
    for index, case_name in enumerate(cases):
        case = artefacts.case(case_name)
        data = read_object(case["outputs"])
        real = literals_pb2.LiteralMap.FromString(data)
        node_inputs: dict[str, Any] = {}
        if case_name in consumes:
            node_inputs = {"frame": produced[consumes[case_name]].literals["o0"]}

        def outputs(_data: Any, real: literals_pb2.LiteralMap = real) -> dict[str, literals_pb2.Literal]:
            return dict(real.literals)

        result = drive(steps.task_node(timeline, f"n{index}", TaskRef(case["task"]), node_inputs, outputs))
        produced[case_name] = real
        uri = timeline.outputs_uri(result.node, result.attempt)
        real_bytes[uri] = data
        node_of_case[case_name] = f"n{index}"
        outputs_of_node[f"n{index}"] = uri
    steps.succeed_workflow(timeline, {}, {})
    objects = {**timeline.objects, **real_bytes}  # flytekit's own bytes replace the generator's outputs.pb
    published = [r for r in timeline.records if r.published]
    messages = encode_records(published, publisher_format=publisher_format, rng=random.Random(f"{name}:sns"))
    return FlytekitExecution(messages, objects, node_of_case, outputs_of_node)
