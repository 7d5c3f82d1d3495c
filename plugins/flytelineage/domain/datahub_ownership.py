"""Owners of DataFlows and DataJobs from the principal that launched a Flyte execution (pure: no I/O).

The principal is the subject FlyteAdmin records for the caller of ``CreateExecution`` (cloudEvents v2 carries it):
a user's ``sub`` claim when a person launched the run, the client id of an app when a machine did (the native
scheduler and propeller, which launches child launch plans, authenticate as ``flytepropeller`` in Flyte's Helm
charts). The rule:

- a principal listed in ``service_principals`` is a machine: it owns nothing (it would otherwise own every
  scheduled workflow); it is still recorded on the run's ``principal`` property;
- any other non-empty principal is a person: ``urn:li:corpuser:<principal>`` becomes a ``TECHNICAL_OWNER`` of the
  execution's DataFlow and of each of its DataJobs;
- an empty principal (FlyteAdmin without authentication, or the external/v1 publishers) adds no owner.

Owners are sent as PATCH proposals built with the SDK's ownership patch helper (``add`` of one owner keyed by owner,
type, type urn and attribution source), never as an ``ownership`` upsert, so owners set by hand in DataHub (or by
earlier runs) are kept: every person who launched a workflow stays one of its owners. The pinned SDK has a patch
builder for DataJobs (``DataJobPatchBuilder``) but none for DataFlows, so flows use the ownership helper directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import MetadataChangeProposalClass, OwnerClass, OwnershipTypeClass
from datahub.specific.aspect_helpers.ownership import HasOwnershipPatch
from datahub.specific.datajob import DataJobPatchBuilder

from flytelineage.domain.lineage_model import Execution

OWNER_TYPE = OwnershipTypeClass.TECHNICAL_OWNER
OWNED_ENTITY_ASPECTS = {"dataFlowInfo": "dataFlow", "dataJobInfo": "dataJob"}


def owner_urn(principal: str | None, service_principals: Iterable[str]) -> str | None:
    """The DataHub user that owns what a principal launched, or None (no principal, or a service principal)."""
    if not principal or not principal.strip() or principal in set(service_principals):
        return None
    return f"urn:li:corpuser:{principal.strip()}"


def ownership_patches(
    execution: Execution,
    proposals: Sequence[MetadataChangeProposalWrapper],
    service_principals: Iterable[str] = (),
) -> list[MetadataChangeProposalClass]:
    """PATCH proposals adding the execution's launching user as owner of the flow and jobs in ``proposals``.

    ``proposals`` are the execution's ``build_mcps`` output: the owned entities are exactly the DataFlow and
    DataJobs it describes (by their ``dataFlowInfo``/``dataJobInfo`` aspects), so the urns are never rebuilt here.
    """
    owner = owner_urn(execution.principal, service_principals)
    if owner is None:
        return []
    urns = sorted({m.entityUrn for m in proposals if m.aspectName in OWNED_ENTITY_ASPECTS and m.entityUrn})
    patches: list[MetadataChangeProposalClass] = []
    for urn in urns:
        builder = DataJobPatchBuilder(urn) if urn.startswith("urn:li:dataJob:") else HasOwnershipPatch(urn)
        patches.extend(builder.add_owner(OwnerClass(owner=owner, type=OWNER_TYPE)).build())
    return patches
