"""Run-history retention planning: shard ages, the ledger, the budget, and urns shared with the push."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from datahub.metadata.schema_classes import MetadataChangeProposalClass, StatusClass

from flytelineage.domain import dpi_retention as plan
from flytelineage.domain.datahub_mcps import build_mcps, instance_urns
from flytelineage.domain.dpi_retention import Progress, ShardObject
from flytelineage.domain.lineage_settings import settings_from_dict
from flytelineage.errors import ConfigurationError
from flytelineage.testing.lineage_samples import SAMPLES, many_executions

P = "flyte-lineage/executions"


def shard(start: str, end: str, number: int = 0, etag: str = '"e1"') -> ShardObject:
    return ShardObject(f"{P}/interval={start}_{end}/shard-{number:05d}.jsonl.gz", etag)


# ---- the urns are the push's -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("env", ["PROD", "DEV"])
def test_instance_urns_are_exactly_the_instances_the_push_writes(name: str, env: str) -> None:
    execution = SAMPLES[name]()
    pushed = [m.entityUrn for m in build_mcps(execution, env=env) if m.entityType == "dataProcessInstance"]
    assert instance_urns(execution, env=env) == list(dict.fromkeys(pushed))


def test_shard_urns_keep_shard_order_and_name_each_instance_once() -> None:
    executions = many_executions(4)
    urns = plan.shard_instance_urns([*executions, executions[0]], "PROD")
    assert urns == [u for e in executions for u in instance_urns(e, env="PROD")]
    assert len(urns) == len(set(urns))
    assert all(u.startswith("urn:li:dataProcessInstance:") for u in urns)


def test_removal_is_a_status_removed_upsert_per_instance() -> None:
    mcps = plan.removal_mcps(["urn:li:dataProcessInstance:a", "urn:li:dataProcessInstance:b"])
    parsed = [MetadataChangeProposalClass.from_obj(m.make_mcp().to_obj()) for m in mcps]
    assert [(p.entityUrn, p.entityType, p.changeType, p.aspectName) for p in parsed] == [
        ("urn:li:dataProcessInstance:a", "dataProcessInstance", "UPSERT", "status"),
        ("urn:li:dataProcessInstance:b", "dataProcessInstance", "UPSERT", "status"),
    ]
    assert all(isinstance(m.aspect, StatusClass) and m.aspect.removed is True for m in mcps)


# ---- ages and the cutoff -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "end"),
    [
        (
            f"{P}/interval=20260101T000000Z_20260101T001000Z/shard-00000.jsonl.gz",
            datetime(2026, 1, 1, 0, 10, tzinfo=UTC),
        ),
        (f"x/{P}/interval=20251231T235000Z_20260101T000000Z/shard-00012.jsonl.gz", datetime(2026, 1, 1, tzinfo=UTC)),
        (f"{P}/interval=20260101T000000Z_20260101T001000Z/shard-00000.json", None),
        (f"{P}/interval=20260101T000000Z/shard-00000.jsonl.gz", None),
        ("flyte-lineage/state/interval_end=20260101T001000Z/pending.parquet", None),
        ("flyte-lineage/retention/ledger.json", None),
    ],
)
def test_shard_interval_end(key: str, end: datetime | None) -> None:
    assert plan.shard_interval_end(key) == end


def test_cutoff_is_the_run_time_minus_the_days() -> None:
    as_of = datetime(2026, 3, 10, 3, 30, tzinfo=UTC)
    assert plan.retention_cutoff(as_of, 30) == datetime(2026, 2, 8, 3, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="at least 1"):
        plan.retention_cutoff(as_of, 0)
    with pytest.raises(ValueError, match="time zone"):
        plan.retention_cutoff(as_of.replace(tzinfo=None), 30)


def test_cutoff_from_airflows_pendulum_times_compares_with_shard_ends() -> None:
    import pendulum

    for as_of in (pendulum.datetime(2026, 1, 11, 0, 5), pendulum.datetime(2026, 1, 11, 1, 5, tz="Europe/Paris")):
        cutoff = plan.retention_cutoff(as_of, 1)
        assert cutoff == datetime(2026, 1, 10, 0, 5, tzinfo=UTC) and cutoff.tzinfo is not None
        assert plan.due_shards([OLD_B, YOUNG], {}, cutoff) == [OLD_B]


CUTOFF = datetime(2026, 1, 10, tzinfo=UTC)
OLD_A = shard("20260101T000000Z", "20260101T001000Z")
OLD_A2 = shard("20260101T000000Z", "20260101T001000Z", number=1)
OLD_B = shard("20260109T235000Z", "20260110T000000Z")  # ends exactly at the cutoff: expired
YOUNG = shard("20260110T000000Z", "20260110T001000Z")


@pytest.mark.parametrize(
    ("ledger", "due"),
    [
        ({}, [OLD_A, OLD_A2, OLD_B]),
        ({OLD_A.key: Progress('"e1"', 3, 3)}, [OLD_A2, OLD_B]),
        ({OLD_A.key: Progress('"e1"', 1, 3)}, [OLD_A, OLD_A2, OLD_B]),  # partly done: resumed
        ({OLD_A.key: Progress('"e0"', 3, 3)}, [OLD_A, OLD_A2, OLD_B]),  # rewritten since: handled again
        (
            {OLD_A.key: Progress('"e1"', 0, 0), OLD_A2.key: Progress('"e1"', 2, 2), OLD_B.key: Progress('"e1"', 5, 5)},
            [],
        ),
    ],
)
def test_due_shards(ledger: dict[str, Progress], due: list[ShardObject]) -> None:
    listed = [YOUNG, OLD_B, OLD_A2, OLD_A, ShardObject("flyte-lineage/executions/README", '"x"')]
    assert plan.due_shards(listed, ledger, CUTOFF) == due


URNS = ["u0", "u1", "u2", "u3", "u4"]


@pytest.mark.parametrize(
    ("progress", "etag", "budget", "taken", "after"),
    [
        (None, '"e1"', 10, URNS, Progress('"e1"', 5, 5)),
        (None, '"e1"', 2, ["u0", "u1"], Progress('"e1"', 2, 5)),
        (Progress('"e1"', 2, 5), '"e1"', 2, ["u2", "u3"], Progress('"e1"', 4, 5)),
        (Progress('"e1"', 4, 5), '"e1"', 2, ["u4"], Progress('"e1"', 5, 5)),
        (Progress('"e1"', 5, 5), '"e1"', 2, [], Progress('"e1"', 5, 5)),
        (Progress('"e0"', 5, 5), '"e1"', 3, ["u0", "u1", "u2"], Progress('"e1"', 3, 5)),  # new version: from 0
        (Progress('"e1"', 9, 9), '"e1"', 3, [], Progress('"e1"', 5, 5)),  # offset past the end is clamped
        (None, '"e1"', 0, [], Progress('"e1"', 0, 5)),
    ],
)
def test_plan_shard(progress: Progress | None, etag: str, budget: int, taken: list[str], after: Progress) -> None:
    step = plan.plan_shard(URNS, progress, etag, budget)
    assert (list(step.urns), step.progress) == (taken, after)


def test_a_bounded_history_is_removed_once_across_runs() -> None:
    """Three shards of 5 instances, a budget of 4 per run: every instance exactly once, then nothing."""
    history = {OLD_A.key: [f"a{i}" for i in range(5)], OLD_A2.key: [f"b{i}" for i in range(5)]}
    history[OLD_B.key] = [f"c{i}" for i in range(5)]
    history[YOUNG.key] = [f"young{i}" for i in range(5)]
    listed = [OLD_A, OLD_A2, OLD_B, YOUNG]
    ledger: dict[str, Progress] = {}
    runs: list[list[str]] = []
    for _ in range(6):
        budget, removed = 4, []
        for obj in plan.due_shards(listed, ledger, CUTOFF):
            if budget <= 0:
                break
            step = plan.plan_shard(history[obj.key], ledger.get(obj.key), obj.etag, budget)
            ledger[obj.key] = step.progress
            removed += step.urns
            budget -= len(step.urns)
        runs.append(removed)
    assert [len(r) for r in runs] == [4, 4, 4, 3, 0, 0]
    flat = [u for r in runs for u in r]
    assert flat == history[OLD_A.key] + history[OLD_A2.key] + history[OLD_B.key]


# ---- the ledger ----------------------------------------------------------------------------------------------------


def test_ledger_round_trips_and_is_stable() -> None:
    ledger = {OLD_B.key: Progress('"e2"', 1, 4), OLD_A.key: Progress('"e1"', 3, 3)}
    data = plan.ledger_to_bytes(ledger)
    assert plan.ledger_from_bytes(data) == ledger
    assert data == plan.ledger_to_bytes(dict(reversed(list(ledger.items()))))
    assert json.loads(data)["format_version"] == plan.LEDGER_FORMAT_VERSION
    assert plan.ledger_from_bytes(None) == {}


def test_ledger_forgets_shards_that_are_gone() -> None:
    ledger = {OLD_A.key: Progress('"e1"', 3, 3), OLD_B.key: Progress('"e1"', 1, 2)}
    assert plan.pruned(ledger, [OLD_B.key, YOUNG.key]) == {OLD_B.key: Progress('"e1"', 1, 2)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"format_version": 2, "shards": {}}', "format_version 2"),
        (b"[]", "format_version None"),
        (b"not json", "not JSON"),
        (b'{"format_version": 1, "shards": {"k": {"etag": "e"}}}', "damaged"),
        (b'{"format_version": 1, "shards": {"k": {"etag": "e", "done": "x", "total": 1}}}', "damaged"),
    ],
)
def test_bad_ledgers_are_refused_with_what_to_do(data: bytes, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        plan.ledger_from_bytes(data)
    assert "delete" in str(raised.value)


def test_keys() -> None:
    assert plan.ledger_key("/flyte-lineage/") == "flyte-lineage/retention/ledger.json"
    assert plan.executions_prefix("flyte-lineage") == "flyte-lineage/executions/"


# ---- settings ------------------------------------------------------------------------------------------------------

REQUIRED = {"sqs_queue": "q", "bucket": "b"}


def test_retention_keeps_everything_by_default() -> None:
    settings = settings_from_dict(REQUIRED)
    assert (settings.dpi_retention_days, settings.dpi_retention_max_per_run) == (None, 10_000)
    assert settings.dpi_retention_hard_delete is False
    set_ = settings_from_dict({**REQUIRED, "dpi_retention_days": 90, "dpi_retention_max_per_run": 500})
    assert (set_.dpi_retention_days, set_.dpi_retention_max_per_run) == (90, 500)
    assert settings_from_dict({**REQUIRED, "dpi_retention_days": None}).dpi_retention_days is None
    assert settings_from_dict({**REQUIRED, "dpi_retention_hard_delete": True}).dpi_retention_hard_delete is True


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"dpi_retention_days": 0}, "dpi_retention_days must be an integer from 1 to 36500"),
        ({"dpi_retention_days": "30"}, "dpi_retention_days must be an integer from 1 to 36500"),
        ({"dpi_retention_days": True}, "dpi_retention_days must be an integer from 1 to 36500"),
        ({"dpi_retention_max_per_run": 0}, "dpi_retention_max_per_run must be an integer from 1 to 1000000"),
        ({"dpi_retention_hard_delete": "yes"}, "dpi_retention_hard_delete must be true or false"),
    ],
)
def test_bad_retention_settings_are_reported(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        settings_from_dict({**REQUIRED, **extra})
    assert problem in str(raised.value)
