"""Local application of DataHub PATCH proposals (what DataHub Lite cannot do), checked on tables of aspects."""

from __future__ import annotations

import json
from typing import Any

import pytest
from datahub.metadata.schema_classes import OwnerClass, OwnershipClass
from datahub.specific.aspect_helpers.ownership import HasOwnershipPatch

from flytelineage.hooks.datahub_patch_apply import PatchApplyError, apply_patch, is_patch, patched_upsert

FLOW = "urn:li:dataFlow:(flyte,p.d.wf,prod)"
ALICE = {"owner": "urn:li:corpuser:alice", "type": "DATAOWNER"}
BOB = {"owner": "urn:li:corpuser:bob", "type": "TECHNICAL_OWNER"}


def add_owner_patch(owner: str, owner_type: str = "TECHNICAL_OWNER") -> Any:
    """The SDK's ownership add patch (GenericJsonPatch envelope) for one owner of FLOW."""
    (proposal,) = HasOwnershipPatch(FLOW).add_owner(OwnerClass(owner=owner, type=owner_type)).build()
    return proposal


def payload(proposal: Any) -> Any:
    return json.loads(proposal.aspect.value)


@pytest.mark.parametrize(
    ("current", "owner", "expected_owners"),
    [
        (None, "urn:li:corpuser:bob", [BOB]),
        ({"owners": []}, "urn:li:corpuser:bob", [BOB]),
        ({"owners": [ALICE]}, "urn:li:corpuser:bob", [ALICE, BOB]),
        ({"owners": [ALICE, BOB]}, "urn:li:corpuser:bob", [ALICE, BOB]),  # adding again changes nothing
        ({"owners": [ALICE]}, "urn:li:corpuser:alice", [ALICE, {**ALICE, "type": "TECHNICAL_OWNER"}]),
    ],
)
def test_add_owner_keeps_the_other_owners(current: Any, owner: str, expected_owners: list[Any]) -> None:
    result = apply_patch(current, payload(add_owner_patch(owner)))
    assert result["owners"] == expected_owners


def test_other_fields_of_the_aspect_are_kept() -> None:
    current = {"owners": [ALICE], "lastModified": {"time": 5, "actor": "urn:li:corpuser:alice"}}
    result = apply_patch(current, payload(add_owner_patch(BOB["owner"])))
    assert result["lastModified"] == current["lastModified"]
    assert current["owners"] == [ALICE]  # the input is not modified


def test_plain_operation_list_is_applied_as_json_patch() -> None:
    operations = [{"op": "add", "path": "/customProperties/team", "value": "data"}]
    assert apply_patch({"name": "x"}, operations) == {"name": "x", "customProperties": {"team": "data"}}


def test_a_patch_that_does_not_apply_is_a_clear_error() -> None:
    with pytest.raises(PatchApplyError, match="cannot apply patch"):
        apply_patch({"owners": []}, [{"op": "remove", "path": "/missing"}])


def test_patched_upsert_is_a_typed_ownership_upsert() -> None:
    upsert = patched_upsert(add_owner_patch(BOB["owner"]), {"owners": [ALICE]})
    assert upsert.changeType == "UPSERT" and upsert.entityUrn == FLOW
    assert isinstance(upsert.aspect, OwnershipClass)
    assert [(o.owner, o.type) for o in upsert.aspect.owners] == [
        (ALICE["owner"], "DATAOWNER"),
        (BOB["owner"], BOB["type"]),
    ]
    assert is_patch(add_owner_patch(BOB["owner"])) and not is_patch(upsert)
