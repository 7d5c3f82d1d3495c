"""Run-history retention over a shard history on the emulator's S3, with a pinned clock, in every kind of sink.

The history is real: shards written in the ``executions/`` format, pushed with ``PushDataHubOperator`` (DataHub Lite,
the fake GMS, the file sink), then ``DataHubRetentionOperator`` runs with a pinned data interval end. What is checked
is read back from the sink: instances of expired shards carry ``status.removed = true``; instances of young shards
and every flow, job, dataset and the platform keep exactly the aspects the push wrote; a re-run removes nothing more;
a bounded run continues on the next one; the hard-delete path deletes exactly the expired instances through GMS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from datahub.metadata.schema_classes import MetadataChangeProposalClass, StatusClass

from flytelineage.domain.datahub_mcps import instance_urns
from flytelineage.domain.execution_store import executions_to_jsonl_gz
from flytelineage.domain.lineage_model import Execution
from flytelineage.operators.datahub_retention import DataHubRetentionOperator
from flytelineage.operators.push_datahub import PushDataHubOperator
from flytelineage.testing.fake_gms import FakeGms
from flytelineage.testing.lineage_samples import many_executions

pytestmark = pytest.mark.integration

PREFIX = "flyte-lineage"
AS_OF = datetime(2026, 1, 11, 3, 30, tzinfo=UTC)  # the pinned clock: the retention run's data interval end
DAYS = 3  # cutoff 2026-01-08T03:30Z
EXECUTIONS = many_executions(7)
# (interval, shard number, executions): two shards of one old interval, one old interval, one young interval
HISTORY: list[tuple[str, int, list[Execution]]] = [
    ("20260101T000000Z_20260101T001000Z", 0, EXECUTIONS[0:2]),
    ("20260101T000000Z_20260101T001000Z", 1, EXECUTIONS[2:3]),
    ("20260108T032000Z_20260108T033000Z", 0, EXECUTIONS[3:5]),  # ends exactly at the cutoff: expired
    ("20260108T033000Z_20260108T034000Z", 0, EXECUTIONS[5:7]),  # ends after the cutoff: kept
]
EXPIRED = [u for _, _, shard in HISTORY[:3] for e in shard for u in instance_urns(e, env="PROD")]
KEPT = [u for e in HISTORY[3][2] for u in instance_urns(e, env="PROD")]


def shard_key(interval: str, number: int) -> str:
    return f"{PREFIX}/executions/interval={interval}/shard-{number:05d}.jsonl.gz"


def write_and_push(s3_client: Any, bucket: str, conn_id: str) -> None:
    for interval, number, executions in HISTORY:
        key = shard_key(interval, number)
        s3_client.put_object(Bucket=bucket, Key=key, Body=executions_to_jsonl_gz(executions))
        PushDataHubOperator(
            task_id="push_datahub", shard_key=key, bucket=bucket, aws_conn_id="aws_test", datahub_conn_id=conn_id
        ).execute(context={})  # type: ignore[arg-type]


def expire(bucket: str, conn_id: str, *, max_per_run: int = 10_000, hard_delete: bool = False) -> dict[str, Any]:
    operator = DataHubRetentionOperator(
        task_id="dpi_retention",
        bucket=bucket,
        prefix=PREFIX,
        aws_conn_id="aws_test",
        datahub_conn_id=conn_id,
        retention_days=DAYS,
        max_per_run=max_per_run,
        hard_delete=hard_delete,
    )
    return operator.execute(context={"data_interval_end": AS_OF})  # type: ignore[arg-type]


def test_history_covers_both_sides_of_the_cutoff() -> None:
    assert len(EXPIRED) == len(set(EXPIRED)) and len(EXPIRED) > 10 and len(KEPT) > 3
    assert not set(EXPIRED) & set(KEPT)


# ---- DataHub Lite --------------------------------------------------------------------------------------------------


@pytest.fixture
def lite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "lite.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_LITE", json.dumps({"conn_type": "datahub-lite", "host": str(path)}))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    return path


def lite_state(path: Path) -> dict[tuple[str, str], Any]:
    """Every (urn, aspect) Lite holds, with its latest value."""
    from datahub.lite.lite_util import get_datahub_lite

    store = get_datahub_lite({"type": "sqlite", "config": {"file": str(path)}}, read_only=True)
    try:
        state: dict[tuple[str, str], Any] = {}
        for urn in store.list_ids():
            for name, value in (store.get(urn, None) or {}).items():
                state[(urn, name)] = value
        return state
    finally:
        store.close()


def removed(state: dict[tuple[str, str], Any]) -> set[str]:
    return {urn for (urn, name), value in state.items() if name == "status" and value == {"removed": True}}


def test_lite_expires_old_instances_once_and_touches_nothing_else(s3_client: Any, bucket: str, lite: Path) -> None:
    write_and_push(s3_client, bucket, "datahub_lite")
    before = lite_state(lite)
    assert set(EXPIRED) | set(KEPT) <= {urn for urn, _ in before}
    assert removed(before) == set()

    counts = expire(bucket, "datahub_lite")
    assert (counts["instances_soft_deleted"], counts["instances_hard_deleted"]) == (len(EXPIRED), 0)
    assert (counts["shards_listed"], counts["shards_due"], counts["shards_completed"]) == (4, 3, 3)
    assert counts["cutoff"] == "2026-01-08T03:30:00+00:00"
    after = lite_state(lite)
    assert removed(after) == set(EXPIRED)
    changed = {key for key in after if before.get(key) != after[key]}
    assert changed == {(urn, "status") for urn in EXPIRED}  # flows, jobs, datasets, young runs: as pushed

    again = expire(bucket, "datahub_lite")
    assert (again["instances_soft_deleted"], again["shards_due"]) == (0, 0)
    assert lite_state(lite) == after


def test_a_bounded_run_continues_on_the_next_run(s3_client: Any, bucket: str, lite: Path) -> None:
    write_and_push(s3_client, bucket, "datahub_lite")
    budget = 7
    runs = []
    for _ in range(len(EXPIRED) // budget + 2):
        counts = expire(bucket, "datahub_lite", max_per_run=budget)
        runs.append(counts["instances_soft_deleted"])
        assert len(removed(lite_state(lite))) == sum(runs)
    assert all(n == budget for n in runs[: len(EXPIRED) // budget])
    assert sum(runs) == len(EXPIRED) and runs[-1] == 0
    assert removed(lite_state(lite)) == set(EXPIRED)
    ledger = json.loads(s3_client.get_object(Bucket=bucket, Key=f"{PREFIX}/retention/ledger.json")["Body"].read())
    assert sorted(ledger["shards"]) == sorted(shard_key(i, n) for i, n, _ in HISTORY[:3])
    assert all(e["done"] == e["total"] > 0 for e in ledger["shards"].values())
    # each expired shard is done with exactly its own run instances
    expected_totals = {
        shard_key(i, n): len([u for e in shard for u in instance_urns(e, env="PROD")]) for i, n, shard in HISTORY[:3]
    }
    assert {k: e["total"] for k, e in ledger["shards"].items()} == expected_totals


def test_a_rewritten_shard_is_handled_again(s3_client: Any, bucket: str, lite: Path) -> None:
    write_and_push(s3_client, bucket, "datahub_lite")
    expire(bucket, "datahub_lite")
    interval, number, executions = HISTORY[0]
    late = many_executions(9)[8]  # a replay of that window found one more execution
    s3_client.put_object(
        Bucket=bucket, Key=shard_key(interval, number), Body=executions_to_jsonl_gz([*executions, late])
    )
    counts = expire(bucket, "datahub_lite")
    expected = {u for e in [*executions, late] for u in instance_urns(e, env="PROD")}
    assert counts["instances_soft_deleted"] == len(expected)
    assert removed(lite_state(lite)) == set(EXPIRED) | set(instance_urns(late, env="PROD"))


def test_without_retention_days_everything_is_kept(s3_client: Any, bucket: str, lite: Path) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    write_and_push(s3_client, bucket, "datahub_lite")
    operator = DataHubRetentionOperator(
        task_id="dpi_retention", bucket=bucket, aws_conn_id="aws_test", datahub_conn_id="datahub_lite"
    )
    with pytest.raises(AirflowSkipException, match="every run is kept"):
        operator.execute(context={"data_interval_end": AS_OF})  # type: ignore[arg-type]
    assert removed(lite_state(lite)) == set()


# ---- REST (fake GMS) -----------------------------------------------------------------------------------------------


@pytest.fixture
def gms(fake_gms: FakeGms, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGms]:
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_REST", fake_gms.connection(password="tok", retry_max_times=1))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    yield fake_gms


def sent_since(gms: FakeGms, first_batch: int) -> list[MetadataChangeProposalClass]:
    return [MetadataChangeProposalClass.from_obj(p) for batch in gms.batches()[first_batch:] for p in batch]


@pytest.mark.parametrize("hard_delete", [False, True])
def test_rest_soft_deletes_and_optionally_hard_deletes(
    s3_client: Any, bucket: str, gms: FakeGms, hard_delete: bool
) -> None:
    write_and_push(s3_client, bucket, "datahub_rest")
    pushed_batches = len(gms.batches())
    before = dict(gms.state)

    counts = expire(bucket, "datahub_rest", hard_delete=hard_delete)
    sent = sent_since(gms, pushed_batches)
    assert [p.entityUrn for p in sent] == EXPIRED  # the shards' order
    for proposal in sent:
        assert proposal.validate() and (proposal.changeType, proposal.aspectName) == ("UPSERT", "status")
        assert StatusClass.from_obj(json.loads(proposal.aspect.value)).removed is True  # type: ignore[union-attr]
    assert counts["instances_soft_deleted"] == len(EXPIRED)
    assert counts["hard_delete"] == ("on" if hard_delete else "off")
    if hard_delete:
        assert gms.deleted == EXPIRED and counts["instances_hard_deleted"] == len(EXPIRED)
        assert {urn for urn, *_ in gms.state} & set(EXPIRED) == set()
        assert gms.state == {k: v for k, v in before.items() if k[0] not in set(EXPIRED)}
    else:
        assert gms.deleted == [] and counts["instances_hard_deleted"] == 0
        changed = {k for k in gms.state if before.get(k) != gms.state[k]}
        assert changed == {(urn, "status") for urn in EXPIRED}

    calls = len(gms.requests)
    again = expire(bucket, "datahub_rest", hard_delete=hard_delete)
    assert again["instances_soft_deleted"] == 0
    assert [r for r in gms.requests[calls:] if r.method == "POST"] == []


def test_hard_delete_on_a_sink_that_cannot_soft_deletes_only(
    s3_client: Any, bucket: str, lite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_and_push(s3_client, bucket, "datahub_lite")
    counts = expire(bucket, "datahub_lite", hard_delete=True)
    assert (counts["instances_soft_deleted"], counts["instances_hard_deleted"]) == (len(EXPIRED), 0)
    assert counts["hard_delete"] == "unsupported"
    assert "soft-deleting only" in capsys.readouterr().out
    assert removed(lite_state(lite)) == set(EXPIRED)


# ---- file sink -----------------------------------------------------------------------------------------------------


def test_file_sink_gets_the_removals_appended(
    s3_client: Any, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datahub.ingestion.source.file import read_metadata_file

    path = tmp_path / "mcps.json"
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_FILE", json.dumps({"conn_type": "datahub-file", "host": str(path)}))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    write_and_push(s3_client, bucket, "datahub_file")
    pushed = len(list(read_metadata_file(path)))
    expire(bucket, "datahub_file")
    appended = list(read_metadata_file(path))[pushed:]
    assert [(m.entityUrn, m.aspectName) for m in appended] == [(u, "status") for u in EXPIRED]  # type: ignore[union-attr]
    assert all(m.aspect.removed is True for m in appended)  # type: ignore[union-attr]
