"""Public API of the Flyte event generator: realistic SQS messages for whole Flyte executions.

Typical use::

    from flytelineage.testing.flyte_event_generator import generate, send_to_queue, write_objects

    run = generate("linear", project="flytesnacks", domain="development", name="abc123", bucket="my-bucket",
                   start=datetime(2024, 1, 1, tzinfo=UTC), publisher_format="cloudevents_v1", seed=7)
    write_objects(s3_client, run.objects)            # inputs.pb / outputs.pb / parquet / csv the events point at
    send_to_queue(sqs_client, queue_url, run.bodies())

Everything is deterministic given the arguments (seeded RNGs, no wall clock). The events follow what FlyteAdmin really
publishes (the first task event of each attempt is withheld, and cloudEvents v2 drops the SUCCEEDED event of a node
whose task FlyteAdmin cannot look up; see `GeneratedExecution.unpublished`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from flytelineage.testing import publisher_formats as fmt
from flytelineage.testing.event_timeline import EventRecord, ExecutionSettings, ExecutionTimeline
from flytelineage.testing.flyte_scenarios import SCENARIOS

DEFAULT_START = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)
SQS_BATCH_SIZE = 10
SQS_BATCH_BYTES = 262_144

ExecutionKey = tuple[str, str, str]


@dataclass(frozen=True)
class GeneratedMessage:
    """One SQS message: its body, and what it carries (event kind, the inner `flyteidl.event` proto, execution)."""

    body: str
    kind: str
    event: Any
    execution: ExecutionKey
    subject: str
    message: str
    message_id: str
    publisher_format: str
    raw: bool = False


@dataclass
class GeneratedExecution:
    """A generated execution (plus any launch-plan child executions) and the objects its events point at."""

    scenario: str
    execution: ExecutionKey
    messages: list[GeneratedMessage]
    objects: dict[str, bytes]
    terminal_phase: str
    executions: list[ExecutionKey] = field(default_factory=list)
    records: list[EventRecord] = field(default_factory=list)
    unpublished: list[EventRecord] = field(default_factory=list)

    def bodies(self) -> list[str]:
        """The SQS bodies, in send order."""
        return [message.body for message in self.messages]


@dataclass
class Workload:
    """A benchmark workload: the executions and all their messages (shuffled and duplicated as requested)."""

    executions: list[GeneratedExecution]
    messages: list[GeneratedMessage]


def scenario_names() -> list[str]:
    """The registered scenario names."""
    return list(SCENARIOS)


def default_execution_name(seed: int, salt: str = "") -> str:
    """A Flyte-like 20 character execution name derived from the seed."""
    rng = random.Random(f"name:{seed}:{salt}")
    return "a" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(19))


def encode_records(
    records: Sequence[EventRecord],
    *,
    publisher_format: str = "external",
    raw: bool = False,
    rng: random.Random,
    topic_arn: str = fmt.DEFAULT_TOPIC_ARN,
) -> list[GeneratedMessage]:
    """Encode published records as SQS messages (SNS envelope unless `raw`); `rng` drives ids and signatures."""
    messages = []
    for record in records:
        subject, message = fmt.encode_message(record, publisher_format)
        message_id = fmt.deterministic_uuid(rng)
        if raw:
            body = message
        else:
            timestamp = fmt.sns_timestamp(record.event.occurred_at, 5 + int(rng.random() * 115))
            body = fmt.sns_envelope(
                subject, message, message_id=message_id, timestamp=timestamp, topic_arn=topic_arn, rng=rng
            )
        messages.append(
            GeneratedMessage(
                body, record.kind, record.event, record.execution, subject, message, message_id, publisher_format, raw
            )
        )
    return messages


def generate(
    scenario: str,
    *,
    project: str = "flytesnacks",
    domain: str = "development",
    name: str | None = None,
    bucket: str = "flyte-data",
    start: dt.datetime = DEFAULT_START,
    publisher_format: str = "external",
    raw: bool = False,
    seed: int = 0,
    with_objects: bool = True,
    topic_arn: str = fmt.DEFAULT_TOPIC_ARN,
    principal: str | None = None,
    labels: dict[str, str] | None = None,
) -> GeneratedExecution:
    """Generate one execution of a named scenario (see `scenario_names()`), encoded in one publisher format.

    ``principal`` and ``labels`` replace the launching principal and the execution labels that cloudEvents v2
    carries (defaults: ``ExecutionSettings``); the other formats do not carry them.
    """
    if scenario not in SCENARIOS:
        raise KeyError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}")
    if publisher_format not in fmt.PUBLISHER_FORMATS:
        raise ValueError(f"unknown publisher format {publisher_format!r}")
    entry = SCENARIOS[scenario]
    name = name or default_execution_name(seed, scenario)
    settings = ExecutionSettings(
        project,
        domain,
        name,
        bucket,
        start,
        launch_plan=entry.launch_plan,
        raw_output_policy=entry.raw_output_policy,
        event_version=entry.event_version,
    )
    if principal is not None:
        settings = dataclasses.replace(settings, principal=principal)
    if labels is not None:
        settings = dataclasses.replace(settings, labels=dict(labels))
    salt = f"{seed}:{project}:{domain}:{name}"
    timeline = ExecutionTimeline(
        settings, random.Random(f"{salt}:events"), random.Random(f"{salt}:data"), with_objects=with_objects
    )
    entry.run(timeline)
    published = [r for r in timeline.records if r.published and fmt.publishes(r, publisher_format)]
    messages = encode_records(
        published, publisher_format=publisher_format, raw=raw, rng=random.Random(f"{salt}:sns"), topic_arn=topic_arn
    )
    executions = list(dict.fromkeys(record.execution for record in timeline.records))
    return GeneratedExecution(
        scenario=scenario,
        execution=(project, domain, name),
        messages=messages,
        objects=timeline.objects,
        terminal_phase=entry.terminal_phase,
        executions=executions,
        records=published,
        unpublished=[r for r in timeline.records if not (r.published and fmt.publishes(r, publisher_format))],
    )


def to_sqs_bodies(items: GeneratedExecution | Iterable[GeneratedMessage]) -> list[str]:
    """The SQS bodies of an execution or of any sequence of messages."""
    messages = items.messages if isinstance(items, GeneratedExecution) else items
    return [message.body for message in messages]


def reorder(messages: Sequence[GeneratedMessage], seed: int = 0) -> list[GeneratedMessage]:
    """A seeded shuffle (SNS → SQS standard delivers in any order)."""
    shuffled = list(messages)
    random.Random(f"reorder:{seed}").shuffle(shuffled)
    return shuffled


def _redelivered(message: GeneratedMessage, rng: random.Random) -> GeneratedMessage:
    """The same SNS Message delivered again under a new SNS MessageId (raw bodies cannot differ)."""
    if message.raw:
        return message
    envelope = json.loads(message.body)
    new_id = fmt.deterministic_uuid(rng)
    envelope["MessageId"] = new_id
    envelope["Signature"] = base64.b64encode(rng.randbytes(256)).decode("ascii")
    body = fmt.render_envelope(envelope)
    return dataclasses.replace(message, body=body, message_id=new_id)


def duplicate_deliveries(
    messages: Sequence[GeneratedMessage],
    *,
    seed: int = 0,
    redelivery_rate: float = 0.1,
    exact_rate: float = 0.05,
) -> list[GeneratedMessage]:
    """Add duplicates: SNS redeliveries (new MessageId, identical Message) and exact body duplicates.

    Each copy follows its original; combine with `reorder` for realistic arrival.
    """
    rng = random.Random(f"duplicate:{seed}")
    out: list[GeneratedMessage] = []
    for message in messages:
        out.append(message)
        if rng.random() < redelivery_rate:
            out.append(_redelivered(message, rng))
        if rng.random() < exact_rate:
            out.append(message)
    return out


_MIX = [
    ("linear", 25),
    ("fan_out_fan_in", 12),
    ("retry", 10),
    ("cache_hit", 10),
    ("subworkflow", 8),
    ("dynamic", 7),
    ("map", 8),
    ("failed", 6),
    ("aborted", 4),
    ("launch_plan_child", 6),
    ("linear_inline", 4),
]


def mixed_workload(
    n_executions: int,
    seed: int = 0,
    *,
    publisher_format: str = "external",
    raw: bool = False,
    projects: Sequence[str] = ("flytesnacks", "analytics"),
    domains: Sequence[str] = ("development", "production"),
    bucket: str = "flyte-data",
    start: dt.datetime = DEFAULT_START,
    with_objects: bool = False,
    shuffle: bool = True,
    redelivery_rate: float = 0.0,
    exact_duplicate_rate: float = 0.0,
) -> Workload:
    """N executions of mixed shapes (weighted like a real deployment), optionally shuffled and duplicated."""
    rng = random.Random(f"workload:{seed}")
    names, weights = zip(*_MIX, strict=True)
    executions = []
    for index in range(n_executions):
        scenario = rng.choices(names, weights)[0]
        executions.append(
            generate(
                scenario,
                project=rng.choice(projects),
                domain=rng.choice(domains),
                name=default_execution_name(seed, f"workload-{index}"),
                bucket=bucket,
                start=start + dt.timedelta(seconds=rng.randrange(86_400)),
                publisher_format=publisher_format,
                raw=raw,
                seed=seed,
                with_objects=with_objects,
            )
        )
    messages = [message for execution in executions for message in execution.messages]
    if redelivery_rate or exact_duplicate_rate:
        messages = duplicate_deliveries(
            messages, seed=seed, redelivery_rate=redelivery_rate, exact_rate=exact_duplicate_rate
        )
    if shuffle:
        messages = reorder(messages, seed)
    return Workload(executions, messages)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3 uri: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def write_objects(s3_client: Any, objects: dict[str, bytes]) -> int:
    """Put every object with the given boto3 S3 client (buckets must exist); returns the number written."""
    for uri, payload in objects.items():
        bucket, key = split_s3_uri(uri)
        s3_client.put_object(Bucket=bucket, Key=key, Body=payload)
    return len(objects)


def _batches(bodies: Sequence[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    size = 0
    for body in bodies:
        length = len(body.encode("utf-8"))
        if batch and (len(batch) == SQS_BATCH_SIZE or size + length > SQS_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += length
    if batch:
        yield batch


def send_to_queue(sqs_client: Any, queue_url: str, bodies: Sequence[str]) -> int:
    """Send bodies with SendMessageBatch (10 per call, within the batch size limit); raises on any failure."""
    sent = 0
    for batch in _batches(bodies):
        entries = [{"Id": str(index), "MessageBody": body} for index, body in enumerate(batch)]
        response = sqs_client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        failed = response.get("Failed") or []
        if failed:
            raise RuntimeError(f"SQS rejected {len(failed)} message(s): {failed[:3]}")
        sent += len(batch)
    return sent
