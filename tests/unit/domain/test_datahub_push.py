"""prepare_push: dedupe within a push, each aspect serialized once, unchanged static aspects left out."""

from __future__ import annotations

import dataclasses
import gzip
import json
from typing import Any

import pytest
from datahub.emitter.mcp import MetadataChangeProposalWrapper as Mcp
from datahub.emitter.serialization_helper import pre_json_transform
from datahub.metadata.schema_classes import (
    DataFlowInfoClass,
    DataProcessInstanceRunEventClass,
    DataProcessRunStatusClass,
    StatusClass,
)

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.domain.datahub_ownership import ownership_patches
from flytelineage.domain.datahub_push import (
    DigestStateError,
    PreparedProposal,
    digest_key,
    digests_from_bytes,
    digests_to_bytes,
    live_digests,
    merged_digests,
    prepare_push,
)
from flytelineage.domain.lineage_settings import settings_from_dict
from flytelineage.errors import ConfigurationError
from flytelineage.testing import lineage_samples

FLOW = "urn:li:dataFlow:(flyte,p.d.wf,prod)"
OTHER = "urn:li:dataFlow:(flyte,p.d.other,prod)"
RUN = "urn:li:dataProcessInstance:abc"


def info(name: str, urn: str = FLOW) -> Mcp:
    return Mcp(entityUrn=urn, aspect=DataFlowInfoClass(name=name))


def event(millis: int, status: str = DataProcessRunStatusClass.STARTED) -> Mcp:
    aspect = DataProcessInstanceRunEventClass(timestampMillis=millis, status=status, messageId=f"1-{status}")
    return Mcp(entityUrn=RUN, aspect=aspect)


def described(proposals: list[Any]) -> list[tuple[str, str, str]]:
    """(urn, aspect, JSON value) of each proposal, as an emitter would send it."""
    return [(p.entityUrn, p.aspectName, p.to_obj()["aspect"]["value"]) for p in proposals]


def wire(proposals: list[Any]) -> list[Any]:
    """What the REST emitter puts on the wire for each proposal, minus the system metadata it adds."""
    return [{k: v for k, v in pre_json_transform(p.to_obj()).items() if k != "systemMetadata"} for p in proposals]


@pytest.mark.parametrize(
    ("built", "kept"),
    [
        # (proposals in emission order, indexes of those sent)
        ([info("a"), info("a")], [1]),  # an exact repeat: the last one stays
        ([info("a"), info("b")], [1]),  # an upsert replaces the whole aspect: only the last one decides
        ([info("a"), info("a", OTHER), info("b")], [1, 2]),
        ([Mcp(entityUrn=FLOW, aspect=StatusClass(removed=False)), info("a")], [0, 1]),  # other aspect, both stay
        ([event(1), event(1)], [0]),  # the same run event twice
        ([event(1), event(2), event(1, DataProcessRunStatusClass.COMPLETE)], [0, 1, 2]),  # distinct events all stay
    ],
)
def test_deduplication(built: list[Mcp], kept: list[int]) -> None:
    prepared = prepare_push(built)
    assert described(prepared.proposals) == described([built[i] for i in kept])
    assert prepared.built == len(built) and prepared.duplicates == len(built) - len(kept)


def test_patches_stay_in_order_after_the_upsert_they_follow() -> None:
    execution = dataclasses.replace(lineage_samples.linear_success(), principal="alice@example.com")
    built = build_mcps(execution)
    patches = ownership_patches(execution, built, ["flytepropeller"])
    assert patches  # the sample has a launching user
    prepared = prepare_push([*built, *patches, *patches])
    sent_patches = [p for p in prepared.proposals if str(p.changeType) == "PATCH"]
    assert sent_patches == [*patches, *patches]
    assert prepared.proposals[-len(sent_patches) :] == sent_patches


def test_every_push_serializes_to_what_the_sdk_serializes() -> None:
    built = [m for e in lineage_samples.all_samples() for m in build_mcps(e)]
    fresh = [m for e in lineage_samples.all_samples() for m in build_mcps(e)]
    prepared = prepare_push(built)
    assert all(isinstance(p, PreparedProposal) for p in prepared.proposals)
    # the same JSON on the wire as the SDK's own to_obj of the proposal it replaces, field for field
    by_key = {(m.entityUrn, m.aspectName, repr(m.aspect)): m for m in fresh}
    originals = [by_key[(p.entityUrn, p.aspectName, repr(p.aspect))] for p in prepared.proposals]
    assert wire(prepared.proposals) == wire(originals)
    # and DataHub's classes parse each payload back to the aspect that was built
    for proposal in prepared.proposals:
        parsed = Mcp.from_obj(json.loads(json.dumps(pre_json_transform(proposal.to_obj()))))
        assert isinstance(parsed, Mcp) and parsed.aspect == proposal.aspect


def test_equal_aspects_share_one_serialization_and_each_is_serialized_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    sdk_make_mcp = Mcp.make_mcp

    def counting(self: Mcp) -> Any:
        calls.append(self.entityUrn or "")
        return sdk_make_mcp(self)

    monkeypatch.setattr(Mcp, "make_mcp", counting)
    statuses = [
        Mcp(entityUrn=f"urn:li:dataFlow:(flyte,p.d.w{i},prod)", aspect=StatusClass(removed=False)) for i in range(5)
    ]
    prepared = prepare_push(statuses)
    assert len(calls) == 1  # five equal values, one serialization
    for proposal in prepared.proposals:
        proposal.to_obj()
        proposal.to_obj(simplified_structure=True)
    assert len(calls) == 1  # every later to_obj reuses it
    assert {p.make_mcp().aspect.value for p in prepared.proposals} == {b'{"removed": false}'}


def test_unchanged_static_aspects_are_left_out_and_run_aspects_always_sent() -> None:
    built = [m for e in lineage_samples.all_samples() for m in build_mcps(e)]
    first = prepare_push(built)
    again = prepare_push([m for e in lineage_samples.all_samples() for m in build_mcps(e)], first.emitted)
    per_run = [p for p in first.proposals if p.entityType == "dataProcessInstance"]
    assert per_run and described(again.proposals) == described(per_run)
    assert again.unchanged == len(first.emitted) == len(first.proposals) - len(per_run)
    assert again.emitted == {}


def test_a_changed_aspect_is_sent_and_its_new_digest_recorded() -> None:
    first = prepare_push([info("a"), info("a", OTHER)])
    changed = prepare_push([info("b"), info("a", OTHER)], first.emitted)
    assert described(changed.proposals) == described([info("b")])
    assert set(changed.emitted) == {digest_key(FLOW, "dataFlowInfo")}
    assert changed.emitted[digest_key(FLOW, "dataFlowInfo")] != first.emitted[digest_key(FLOW, "dataFlowInfo")]


HOUR = 3600


@pytest.mark.parametrize(
    ("sent_hours_ago", "ttl_hours", "trusted"),
    [(0, 24, True), (23, 24, True), (24, 24, False), (30, 24, False), (1, 0, False), (100, 168, True)],
)
def test_a_digest_is_trusted_for_ttl_hours_after_it_was_sent(
    sent_hours_ago: int, ttl_hours: int, trusted: bool
) -> None:
    now = 1_800_000_000
    entries = {"k": ("d", now - sent_hours_ago * HOUR)}
    assert live_digests(entries, now, ttl_hours) == ({"k": "d"} if trusted else {})


def test_merging_drops_expired_entries_and_stamps_what_was_sent() -> None:
    now = 1_800_000_000
    entries = {"old": ("a", now - 25 * HOUR), "kept": ("b", now - HOUR), "resent": ("c", now - 2 * HOUR)}
    merged = merged_digests(entries, {"resent": "c2", "new": "d"}, now, 24)
    assert merged == {"kept": ("b", now - HOUR), "resent": ("c2", now), "new": ("d", now)}


def test_digest_state_round_trip_and_unreadable_states() -> None:
    entries = {"b": ("d2", 2), "a": ("d1", 1)}
    data = digests_to_bytes(entries)
    assert digests_from_bytes(data) == entries and digests_to_bytes(dict(reversed(entries.items()))) == data
    newer = gzip.compress(json.dumps({"version": 99, "digests": {}}).encode())
    for bad in (b"not gzip", gzip.compress(b"[1]"), newer):
        with pytest.raises(DigestStateError):
            digests_from_bytes(bad)


@pytest.mark.parametrize(
    ("value", "problem"), [(None, None), (0, None), (168, None), (-1, "from 0 to 8760"), ("x", "")]
)
def test_digest_ttl_setting(value: Any, problem: str | None) -> None:
    document: dict[str, Any] = {"sqs_queue": "q", "bucket": "b"}
    if value is not None:
        document["datahub_digest_ttl_hours"] = value
    if problem is None:
        assert settings_from_dict(document).datahub_digest_ttl_hours == (24 if value is None else value)
    else:
        with pytest.raises(ConfigurationError, match=f"datahub_digest_ttl_hours must be an integer {problem}"):
            settings_from_dict(document)
