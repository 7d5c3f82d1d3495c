"""Owners set by hand survive pushes, in DataHub Lite and against the fake GMS; the Flyte platform exists after one run.

A push runs ``PushDataHubOperator`` on a shard on the emulator's S3. "By hand" is what the DataHub UI does: an
``ownership`` upsert holding the full owner list. GMS applies the push's PATCH proposals itself (the fake applies
them with GMS's generic JSON patch rules); Lite cannot, so the Lite sink reads, patches and writes the aspect.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import MetadataChangeProposalClass, OwnerClass, OwnershipClass

from flytelineage.domain.execution_store import executions_to_jsonl_gz
from flytelineage.domain.lineage_model import Execution, execution_from_dict
from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
from flytelineage.operators.push_datahub import PushDataHubOperator
from flytelineage.testing.fake_gms import FakeGms

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "executions"
SHARD = "flyte-lineage/executions/interval=20240101T120000Z_20240101T121000Z/shard-00000.jsonl.gz"
ALICE = OwnerClass(owner="urn:li:corpuser:alice", type="DATAOWNER")
CAROL = OwnerClass(owner="urn:li:corpuser:carol", type="BUSINESS_OWNER")


def execution(principal: str = "bob") -> Execution:
    """The reviewed cloudEvents v2 linear execution, launched by ``principal``."""
    (data,) = json.loads((GOLDEN / "linear_cloudevents_v2.json").read_text())
    return dataclasses.replace(execution_from_dict(data), principal=principal)


FLOW = "urn:li:dataFlow:(flyte,flytesnacks.development.app.pipelines.orders.linear_wf,prod)"
JOB = f"urn:li:dataJob:({FLOW},app.pipelines.orders.extract)"


def push(s3_client: Any, bucket: str, conn_id: str, executions: list[Execution]) -> dict[str, int]:
    s3_client.put_object(Bucket=bucket, Key=SHARD, Body=executions_to_jsonl_gz(executions))
    operator = PushDataHubOperator(
        task_id="push_datahub", shard_key=SHARD, bucket=bucket, aws_conn_id="aws_test", datahub_conn_id=conn_id
    )
    return operator.execute(context={})  # type: ignore[arg-type]


def set_by_hand(conn_id: str, urn: str, owners: list[OwnerClass]) -> None:
    hook = DataHubEmitterHook(datahub_conn_id=conn_id)
    try:
        hook.emit_all([MetadataChangeProposalWrapper(entityUrn=urn, aspect=OwnershipClass(owners=owners))])
    finally:
        hook.close()


def owners_of(aspect: dict[str, Any] | None) -> list[tuple[str, str]]:
    assert aspect is not None
    return sorted((o.owner, str(o.type)) for o in OwnershipClass.from_obj(aspect).owners)


# ---- DataHub Lite --------------------------------------------------------------------------------------------------


@pytest.fixture
def lite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "lite.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_LITE", json.dumps({"conn_type": "datahub-lite", "host": str(path)}))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    return path


def lite_aspect(path: Path, urn: str, name: str) -> dict[str, Any] | None:
    from datahub.lite.lite_util import get_datahub_lite

    store = get_datahub_lite({"type": "sqlite", "config": {"file": str(path)}}, read_only=True)
    try:
        found = store.get(urn, [name])
        return found.get(name) if found else None  # type: ignore[return-value]
    finally:
        store.close()


def test_lite_keeps_owners_set_by_hand_and_adds_the_launcher(s3_client: Any, bucket: str, lite: Path) -> None:
    set_by_hand("datahub_lite", FLOW, [ALICE])
    push(s3_client, bucket, "datahub_lite", [execution("bob")])
    assert owners_of(lite_aspect(lite, FLOW, "ownership")) == [
        ("urn:li:corpuser:alice", "DATAOWNER"),
        ("urn:li:corpuser:bob", "TECHNICAL_OWNER"),
    ]
    assert owners_of(lite_aspect(lite, JOB, "ownership")) == [("urn:li:corpuser:bob", "TECHNICAL_OWNER")]
    # an owner added by hand after a push (the UI writes the whole list) survives the next pushes
    set_by_hand("datahub_lite", FLOW, [ALICE, OwnerClass(owner="urn:li:corpuser:bob", type="TECHNICAL_OWNER"), CAROL])
    push(s3_client, bucket, "datahub_lite", [execution("bob")])
    push(s3_client, bucket, "datahub_lite", [execution("flytepropeller")])  # a service principal adds nobody
    assert owners_of(lite_aspect(lite, FLOW, "ownership")) == [
        ("urn:li:corpuser:alice", "DATAOWNER"),
        ("urn:li:corpuser:bob", "TECHNICAL_OWNER"),
        ("urn:li:corpuser:carol", "BUSINESS_OWNER"),
    ]
    platform = lite_aspect(lite, "urn:li:dataPlatform:flyte", "dataPlatformInfo")
    assert platform is not None and platform["displayName"] == "Flyte"


# ---- REST (fake GMS) -----------------------------------------------------------------------------------------------


@pytest.fixture
def gms(fake_gms: FakeGms, monkeypatch: pytest.MonkeyPatch) -> FakeGms:
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_REST", fake_gms.connection(password="tok", retry_max_times=1))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({"conn_type": "aws"}))
    return fake_gms


def test_rest_sends_owner_patches_that_keep_owners_set_by_hand(s3_client: Any, bucket: str, gms: FakeGms) -> None:
    set_by_hand("datahub_rest", FLOW, [ALICE])
    hand_calls = len(gms.batches())
    push(s3_client, bucket, "datahub_rest", [execution("bob")])
    sent = [MetadataChangeProposalClass.from_obj(p) for batch in gms.batches()[hand_calls:] for p in batch]
    ownership = [p for p in sent if p.aspectName == "ownership"]
    assert {p.entityUrn for p in ownership} >= {FLOW, JOB}
    for proposal in ownership:  # only PATCH proposals with add operations: nothing of the stored owners is replaced
        assert proposal.validate() and proposal.changeType == "PATCH"
        operations = json.loads(proposal.aspect.value)["patch"]  # type: ignore[union-attr]
        assert [(o["op"], o["value"]["owner"]) for o in operations] == [("add", "urn:li:corpuser:bob")]
    assert owners_of(json.loads(gms.state[(FLOW, "ownership")])) == [
        ("urn:li:corpuser:alice", "DATAOWNER"),
        ("urn:li:corpuser:bob", "TECHNICAL_OWNER"),
    ]
    push(s3_client, bucket, "datahub_rest", [execution("bob")])
    assert len(OwnershipClass.from_obj(json.loads(gms.state[(FLOW, "ownership")])).owners) == 2
    platform = json.loads(gms.state[("urn:li:dataPlatform:flyte", "dataPlatformInfo")])
    assert (platform["name"], platform["displayName"], platform["type"]) == ("flyte", "Flyte", "OTHERS")


def test_lite_itself_cannot_take_a_patch_proposal(tmp_path: Path) -> None:
    """Why the Lite sink patches locally: Lite's own ``write`` refuses the SDK's PATCH proposals."""
    from datahub.lite.lite_util import get_datahub_lite
    from datahub.specific.aspect_helpers.ownership import HasOwnershipPatch

    (patch,) = HasOwnershipPatch(FLOW).add_owner(ALICE).build()
    store = get_datahub_lite({"type": "sqlite", "config": {"file": str(tmp_path / "lite.db")}})
    try:
        with pytest.raises(ValueError, match="only supports MCEs and MCPs"):
            store.write(patch)  # type: ignore[arg-type]
    finally:
        store.close()
