"""Prepare DataHub proposals for one push: drop the ones that change nothing, serialize each aspect exactly once.

``prepare_push`` takes the proposals of a push in emission order and returns those worth sending, in the same order:

- Deduplication within the push. A versioned aspect is replaced whole by each upsert, so only the last upsert of an
  (urn, aspect) decides what DataHub holds: earlier ones are dropped (38% of a shard's proposals repeat an earlier
  one exactly: every execution of a workflow re-describes its flow, jobs and shared datasets). A timeseries aspect
  (run events) keeps every distinct event; only exact repeats go. PATCH proposals are kept as they are, in order
  (a later upsert replaces what an earlier patch did, exactly as it would have in DataHub).
- Serialization once. Each kept upsert becomes a ``PreparedProposal``: a ``MetadataChangeProposalWrapper`` whose
  ``make_mcp()`` returns the aspect the SDK serialized the first time (``MetadataChangeProposalWrapper.make_mcp``),
  so every emitter that calls ``to_obj()`` (REST batches, Kafka, the file sink, DataHub Lite) reuses it. Equal aspect
  values (the same ``status``, browse path or schema on many entities) share one serialization.
- Skipping unchanged static aspects (``digests``): a digest per (urn, aspect) of the value last emitted; an upsert
  whose digest is already there is not sent, nor a PATCH proposal (owners added) sent before unchanged. Timeseries
  aspects and the per-run DataProcessInstance aspects are always sent. ``PreparedPush.emitted`` are the digests of
  what this push sends, to be stored once it succeeded.

The digest state (``digests_from_bytes``/``digests_to_bytes``, gzip JSON) records, per (urn, aspect), the digest and
the time it was sent. ``live_digests`` keeps those younger than the TTL: an aspect is re-sent at least once per TTL,
so an entity deleted in DataHub comes back. Skipping never refreshes a digest's time; only sending does.

Pure: no I/O, no clock (the caller passes digests, the time, and stores the state).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import GenericAspectClass, MetadataChangeProposalClass

DIGESTS_FORMAT_VERSION = 1
DigestEntries = dict[str, tuple[str, int]]
"""``digest_key`` -> (digest, epoch seconds when it was sent)."""

ALWAYS_SENT_ENTITY_TYPES = frozenset({"dataProcessInstance"})
"""Entities whose aspects describe one run: sent every time (their run events are timeseries anyway)."""


@dataclasses.dataclass
class PreparedProposal(MetadataChangeProposalWrapper):
    """An upsert whose aspect is serialized once, by the SDK, and reused by every ``to_obj()`` an emitter makes."""

    serialized: GenericAspectClass | None = field(default=None, compare=False, repr=False)

    def make_mcp(self) -> MetadataChangeProposalClass:
        """The SDK's ``MetadataChangeProposalClass`` for this upsert; the aspect is serialized on the first call only.

        The envelope (system metadata, headers) is built on every call, because emitters fill in system metadata
        (``lastObserved``, client id) just before they serialize.
        """
        if self.serialized is None:
            self.serialized = super().make_mcp().aspect
        return MetadataChangeProposalClass(
            entityType=self.entityType,
            entityUrn=self.entityUrn,
            changeType=self.changeType,
            auditHeader=self.auditHeader,
            aspectName=self.aspectName,
            aspect=self.serialized,
            systemMetadata=self.systemMetadata,
            headers=self.headers,
        )

    @property
    def digest(self) -> str:
        """A digest of the serialized aspect (what DataHub stores), the same for equal values."""
        if self.serialized is None:
            self.make_mcp()
        assert self.serialized is not None
        return hashlib.sha256(self.serialized.value).hexdigest()[:32]


@dataclass(frozen=True)
class PreparedPush:
    """The proposals to send, in emission order, and what the push left out."""

    proposals: list[Any]
    built: int
    duplicates: int
    unchanged: int
    emitted: dict[str, str] = field(default_factory=dict)
    """``digest_key(urn, aspect)`` -> digest of each static upsert sent (store them once the push succeeded)."""


def digest_key(urn: str, aspect_name: str) -> str:
    """The key of one (urn, aspect) in the digest state."""
    return f"{urn}\t{aspect_name}"


def prepare_push(proposals: Sequence[Any], digests: Mapping[str, str] | None = None) -> PreparedPush:
    """Deduplicate ``proposals``, serialize each aspect once, and leave out static upserts ``digests`` already hold.

    ``digests`` maps ``digest_key(urn, aspect)`` to the digest last emitted (None or empty: send everything).
    """
    kept = _deduplicated(proposals)
    cache: dict[tuple[type, str], GenericAspectClass] = {}
    sent: list[Any] = []
    emitted: dict[str, str] = {}
    unchanged = 0
    for proposal in kept:
        if _is_patch(proposal):
            key, digest = _patch_digest(proposal)
            if digests and digests.get(key) == digest:
                unchanged += 1
                continue
            emitted[key] = digest
            sent.append(proposal)
            continue
        if not _is_plain_upsert(proposal):
            sent.append(proposal)
            continue
        prepared = _prepared(proposal, cache)
        if _always_sent(prepared):
            sent.append(prepared)
            continue
        key = digest_key(prepared.entityUrn or "", prepared.aspectName or "")
        digest = prepared.digest
        if digests and digests.get(key) == digest:
            unchanged += 1
            continue
        emitted[key] = digest
        sent.append(prepared)
    return PreparedPush(
        proposals=sent,
        built=len(proposals),
        duplicates=len(proposals) - len(kept),
        unchanged=unchanged,
        emitted=emitted,
    )


def _is_plain_upsert(proposal: Any) -> bool:
    return (
        isinstance(proposal, MetadataChangeProposalWrapper)
        and str(proposal.changeType) == "UPSERT"
        and proposal.aspect is not None
        and proposal.entityKeyAspect is None
        and bool(proposal.entityUrn)
    )


def _is_patch(proposal: Any) -> bool:
    aspect = getattr(proposal, "aspect", None)
    return str(getattr(proposal, "changeType", "")) == "PATCH" and isinstance(aspect, GenericAspectClass)


def _patch_digest(proposal: Any) -> tuple[str, str]:
    """The digest key and digest of a PATCH proposal (its JSON patch, as sent)."""
    key = digest_key(proposal.entityUrn or "", f"{proposal.aspectName}#PATCH")
    return key, hashlib.sha256(proposal.aspect.value).hexdigest()[:32]


def _is_timeseries(proposal: Any) -> bool:
    aspect = getattr(proposal, "aspect", None)
    return getattr(aspect, "ASPECT_TYPE", None) == "timeseries"


def _always_sent(proposal: PreparedProposal) -> bool:
    return _is_timeseries(proposal) or proposal.entityType in ALWAYS_SENT_ENTITY_TYPES


def _deduplicated(proposals: Iterable[Any]) -> list[Any]:
    """The proposals without earlier upserts of a versioned (urn, aspect) and without exact repeats of run events."""
    indexed = list(proposals)
    last: dict[tuple[Any, ...], int] = {}
    for index, proposal in enumerate(indexed):
        if not _is_plain_upsert(proposal):
            continue
        key: tuple[Any, ...] = (proposal.entityUrn, proposal.aspectName)
        if _is_timeseries(proposal):
            key += (type(proposal.aspect), repr(proposal.aspect))
            last.setdefault(key, index)  # an exact repeat of an event: the first one stays
        else:
            last[key] = index
    keep = set(last.values())
    return [p for index, p in enumerate(indexed) if not _is_plain_upsert(p) or index in keep]


def _prepared(proposal: MetadataChangeProposalWrapper, cache: dict[tuple[type, str], GenericAspectClass]) -> Any:
    """The proposal as a ``PreparedProposal``, its aspect serialized by the SDK (once per distinct value).

    The value's ``repr`` is the cache key: avrogen renders a record as its class name and field dict, every nested
    value included, so equal reprs of one class are equal aspects (and serialize to the same JSON).
    """
    prepared = PreparedProposal(
        entityType=proposal.entityType,
        changeType=proposal.changeType,
        entityUrn=proposal.entityUrn,
        auditHeader=proposal.auditHeader,
        aspectName=proposal.aspectName,
        aspect=proposal.aspect,
        systemMetadata=proposal.systemMetadata,
        headers=proposal.headers,
    )
    key = (type(proposal.aspect), repr(proposal.aspect))
    serialized = cache.get(key)
    if serialized is None:
        prepared.make_mcp()
        assert prepared.serialized is not None
        cache[key] = prepared.serialized
    else:
        prepared.serialized = serialized
    return prepared


# ---- digest state --------------------------------------------------------------------------------------------------


class DigestStateError(ValueError):
    """A digest state object this version cannot read (the caller then re-sends everything and rewrites it)."""


def digests_from_bytes(data: bytes) -> DigestEntries:
    """The entries of a stored digest state; ``DigestStateError`` if it is not one this version writes."""
    try:
        document = json.loads(gzip.decompress(data))
        if document.get("version") != DIGESTS_FORMAT_VERSION:
            raise DigestStateError(
                f"digest state version {document.get('version')!r}, this version reads {DIGESTS_FORMAT_VERSION}"
            )
        return {key: (str(digest), int(sent)) for key, (digest, sent) in document["digests"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        if isinstance(e, DigestStateError):
            raise
        raise DigestStateError(f"not a digest state: {type(e).__name__}: {e}") from e


def digests_to_bytes(entries: DigestEntries) -> bytes:
    """The stored form of a digest state (gzip JSON, keys sorted, so equal states give equal bytes)."""
    document = {"version": DIGESTS_FORMAT_VERSION, "digests": {k: list(v) for k, v in sorted(entries.items())}}
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode(), mtime=0)


def live_digests(entries: DigestEntries, now: int, ttl_hours: int) -> dict[str, str]:
    """The digests sent less than ``ttl_hours`` before ``now`` (epoch seconds): the ones a push may trust."""
    oldest = now - ttl_hours * 3600
    return {key: digest for key, (digest, sent) in entries.items() if sent > oldest}


def merged_digests(entries: DigestEntries, emitted: Mapping[str, str], now: int, ttl_hours: int) -> DigestEntries:
    """The state after a push that sent ``emitted`` at ``now``: expired entries dropped, the sent ones stamped."""
    oldest = now - ttl_hours * 3600
    merged = {key: entry for key, entry in entries.items() if entry[1] > oldest}
    merged.update((key, (digest, now)) for key, digest in emitted.items())
    return merged
