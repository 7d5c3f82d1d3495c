"""Run-history retention: which DataProcessInstances to remove, planned from the shards the pipeline wrote.

DataHub never expires DataProcessInstances by itself. This project keeps what it emitted: every execution pushed
to DataHub is in an ``executions/interval=<start>_<end>/shard-NNNNN.jsonl.gz`` shard on S3. Retention therefore needs
no search API and works for every sink (REST, Kafka, file, Lite): a shard whose interval ended at or before the
cutoff (``as_of - dpi_retention_days``) has its instances removed, and only those. The urns come from
``datahub_mcps.instance_urns``, the code the push uses; flows, jobs and datasets are never named here.

The contract:

- ``due_shards``: every listed shard older than the cutoff that the ledger does not record as complete for the
  same object version (ETag), oldest interval first. A shard rewritten since it was handled (a replay of the same
  window) is handled again from its start: re-removing an instance is a no-op in every sink.
- ``plan_shard``: the next slice of a shard's instances within the run's remaining budget, resuming at the offset
  the ledger holds, and the ledger entry to record once that slice is removed. Instance order is the shard's order,
  so an offset means the same instances on the next run.
- The ledger (``retention/ledger.json``) maps a shard key to its ETag and progress; entries of shards no longer
  listed (an S3 lifecycle rule removed them) are dropped, so it stays as small as the history kept.

A re-run with the same shards and ledger removes nothing; a run stopped by its budget continues on the next one.
Pure: no I/O, no clock (``as_of`` is the run's data interval end).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from datahub.emitter.mcp import MetadataChangeProposalWrapper
from datahub.metadata.schema_classes import StatusClass

from flytelineage.domain.datahub_mcps import instance_urns
from flytelineage.domain.lineage_model import Execution
from flytelineage.domain.lineage_settings import LineageSettings
from flytelineage.domain.storage_keys import executions_prefix as executions_prefix
from flytelineage.domain.storage_keys import retention_ledger_key
from flytelineage.domain.storage_keys import shard_interval_end as shard_interval_end
from flytelineage.errors import ConfigurationError

LEDGER_FORMAT_VERSION = 1

# The shard and ledger keys are built and parsed by ``storage_keys``; these are its functions under the names the
# retention operator calls.
ledger_key = retention_ledger_key


@dataclass(frozen=True, order=True)
class ShardObject:
    """One listed executions shard: its key and the ETag of the version listed."""

    key: str
    etag: str


@dataclass(frozen=True)
class Progress:
    """How far retention got in one version (``etag``) of a shard: ``done`` of its ``total`` instances."""

    etag: str
    done: int
    total: int

    @property
    def complete(self) -> bool:
        """Every instance of this shard version was removed."""
        return self.done >= self.total


@dataclass(frozen=True)
class ShardStep:
    """The instances to remove from one shard in this run, and the ledger entry to record afterwards."""

    urns: tuple[str, ...]
    progress: Progress


Ledger = Mapping[str, Progress]


def retention_cutoff(as_of: datetime, days: int) -> datetime:
    """Shards whose interval ended at or before this moment are expired."""
    if days < 1:
        raise ValueError(f"dpi_retention_days must be at least 1, got {days}")
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError(f"the retention run's time must carry a time zone, got {as_of!r}")
    # via the epoch: ``astimezone`` on a pendulum DateTime (Airflow's context) drops the zone
    return datetime.fromtimestamp(as_of.timestamp(), UTC) - timedelta(days=days)


def due_shards(objects: Iterable[ShardObject], ledger: Ledger, cutoff: datetime) -> list[ShardObject]:
    """The expired shards still to handle, oldest interval first (see the module contract)."""
    due: list[tuple[datetime, ShardObject]] = []
    for obj in objects:
        end = shard_interval_end(obj.key)
        if end is None or end > cutoff:
            continue
        progress = ledger.get(obj.key)
        if progress is not None and progress.etag == obj.etag and progress.complete:
            continue
        due.append((end, obj))
    return [obj for _, obj in sorted(due)]


def shard_instance_urns(executions: Iterable[Execution], env: str) -> list[str]:
    """Every DataProcessInstance urn the push wrote for a shard's executions, in shard order, each once."""
    seen: dict[str, None] = {}
    for execution in executions:
        for urn in instance_urns(execution, env=env):
            seen.setdefault(urn, None)
    return list(seen)


def plan_shard(urns: Sequence[str], progress: Progress | None, etag: str, budget: int) -> ShardStep:
    """The next at most ``budget`` instances of a shard, resuming where the ledger left this version."""
    start = min(progress.done, len(urns)) if progress is not None and progress.etag == etag else 0
    taken = tuple(urns[start : start + max(0, budget)])
    return ShardStep(urns=taken, progress=Progress(etag=etag, done=start + len(taken), total=len(urns)))


def removal_mcps(urns: Iterable[str]) -> list[MetadataChangeProposalWrapper]:
    """A soft delete per instance: the ``status`` aspect with ``removed`` true (what DataHub's UI and SDK write)."""
    return [MetadataChangeProposalWrapper(entityUrn=urn, aspect=StatusClass(removed=True)) for urn in urns]


def pruned(ledger: Ledger, listed_keys: Iterable[str]) -> dict[str, Progress]:
    """The ledger without the entries of shards that are no longer listed."""
    keep = set(listed_keys)
    return {key: progress for key, progress in ledger.items() if key in keep}


def ledger_to_bytes(ledger: Ledger) -> bytes:
    """The ledger as stable JSON (sorted keys)."""
    shards = {key: {"etag": p.etag, "done": p.done, "total": p.total} for key, p in sorted(ledger.items())}
    return json.dumps({"format_version": LEDGER_FORMAT_VERSION, "shards": shards}, sort_keys=True).encode()


def ledger_from_bytes(data: bytes | None) -> dict[str, Progress]:
    """Parse a ledger written by ``ledger_to_bytes``; None (no ledger yet) is the empty ledger.

    A ledger of another format version raises ``ConfigurationError`` (a retry would read the same one)."""
    if data is None:
        return {}
    try:
        document = json.loads(data)
    except ValueError as e:
        raise ConfigurationError(f"retention ledger is not JSON ({e}); delete it to start over.") from e
    version = document.get("format_version") if isinstance(document, dict) else None
    if version != LEDGER_FORMAT_VERSION:
        raise ConfigurationError(
            f"retention ledger has format_version {version!r}; this version reads {LEDGER_FORMAT_VERSION}. "
            "Upgrade flyte-lineage, or delete the ledger to handle every expired shard again (re-removing is a no-op)."
        )
    try:
        return {
            key: Progress(etag=str(entry["etag"]), done=int(entry["done"]), total=int(entry["total"]))
            for key, entry in document["shards"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigurationError(
            f"retention ledger is damaged ({type(e).__name__}: {e}); delete it to handle every expired shard again."
        ) from e


def retention_skip_reason(settings: LineageSettings) -> str | None:
    """Why run-history retention has nothing to do with these settings; None when it runs.

    It runs when run history is pushed to DataHub (``datahub`` is a target and ``datasets_only`` is off) and
    ``dpi_retention_days`` is set.
    """
    if "datahub" not in settings.targets or settings.datasets_only:
        return "DataHub run history is not pushed (targets, datasets_only): nothing to expire."
    if settings.dpi_retention_days is None:
        return "dpi_retention_days is not set: every run is kept."
    return None
