"""S3 key layout of the stored batches (DESIGN.md section 4). Pure functions, one place for every key.

``<prefix>/events/ingest_date=YYYY-MM-DD/ingest_hour=HH/batch-<stamp>-<digest>.parquet`` where ``stamp`` is the
run's ingest time (its data interval end) and ``digest`` hashes the message ids the object holds. A retried run that
receives the same messages writes the same key (an overwrite, not a duplicate); a retry that receives other messages
writes another key, so an object whose messages were already deleted is never overwritten by different content.
Quarantine objects mirror the layout under ``quarantine/`` with the same digest as their sibling events object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

EVENTS = "events"
QUARANTINE = "quarantine"


def batch_digest(message_ids: Iterable[str]) -> str:
    """A stable digest of a set of SQS message ids (order-independent)."""
    digest = hashlib.sha256()
    for message_id in sorted(set(message_ids)):
        digest.update(message_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:20]


def stamp(ingest_time: datetime) -> str:
    """The compact UTC form of an ingest time used in object names."""
    return ingest_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def partition_prefix(prefix: str, area: str, ingest_time: datetime) -> str:
    """The hive-style partition folder (``ingest_date=/ingest_hour=``) of an ingest time, with a trailing slash."""
    t = ingest_time.astimezone(UTC)
    return f"{prefix.strip('/')}/{area}/ingest_date={t:%Y-%m-%d}/ingest_hour={t:%H}/"


def batch_key(prefix: str, area: str, ingest_time: datetime, digest: str) -> str:
    """The key of one events or quarantine object."""
    return f"{partition_prefix(prefix, area, ingest_time)}batch-{stamp(ingest_time)}-{digest}.parquet"


def batch_stamp_of(key: str) -> str | None:
    """The ingest stamp embedded in a batch key, or None if the key is not a batch object."""
    name = key.rsplit("/", 1)[-1]
    if not (name.startswith("batch-") and name.endswith(".parquet")):
        return None
    parts = name.split("-")
    return parts[1] if len(parts) >= 3 else None


# ---- grouping state (``<prefix>/state/interval_end=<stamp>/<name>.parquet``) ---------------------------------------

STATE = "state"
STATE_COMPLETE_MARK = "emitted.parquet"
"""The state object written last: a state directory holding it is complete."""


def parse_stamp(value: str) -> datetime:
    """The UTC time of a stamp written by ``stamp``."""
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def state_key(prefix: str, state_stamp: str, name: str) -> str:
    """The key of one object (``pending``/``emitted``/``ledger`` Parquet) of the grouping state written at a stamp."""
    return f"{prefix.strip('/')}/{STATE}/interval_end={state_stamp}/{name}"


def state_listing_from(prefix: str, state_stamp: str) -> str:
    """A ``StartAfter`` key from which a listing of ``state/`` returns every state stamped at or after the stamp."""
    return f"{prefix.strip('/')}/{STATE}/interval_end={state_stamp}"


def complete_state_stamp_of(key: str) -> str | None:
    """The stamp of the state directory ``key`` marks complete, or None if ``key`` is not a completion mark."""
    parts = key.rsplit("/", 2)
    if len(parts) != 3 or parts[2] != STATE_COMPLETE_MARK or not parts[1].startswith("interval_end="):
        return None
    return parts[1].removeprefix("interval_end=")


def batch_listing_from(prefix: str, area: str, watermark: str | None) -> str | None:
    """A ``StartAfter`` key from which a listing of ``area`` returns every batch stamped after ``watermark``
    (the watermark's hour partition onwards); None (list everything) without a watermark."""
    if watermark is None:
        return None
    return partition_prefix(prefix, area, parse_stamp(watermark)).rstrip("/")


# ---- executions shards and reports -------------------------------------------------------------------------------

EXECUTIONS = "executions"
REPORTS = "reports"


# ---- Glue registration state and reports -------------------------------------------------------------------------

GLUE_PENDING = "glue_pending"
GLUE_PROBLEMS = "glue_problems"


def prefix_of_shard_key(shard_key: str) -> str:
    """The storage prefix an executions shard key lives under (``<prefix>/executions/...``)."""
    marker = f"/{EXECUTIONS}/"
    if marker in f"/{shard_key}":
        return f"/{shard_key}".rsplit(marker, 1)[0].strip("/")
    return shard_key.rsplit("/", 2)[0] if shard_key.count("/") >= 2 else ""


def _shard_digest(shard_key: str) -> str:
    return hashlib.sha256(shard_key.encode()).hexdigest()[:20]


def glue_pending_prefix(prefix: str) -> str:
    """The folder of the Glue pending lists (tables still missing after a task's retries), with a trailing slash."""
    return f"{prefix.strip('/')}/{STATE}/{GLUE_PENDING}/".lstrip("/")


def glue_pending_key(shard_key: str) -> str:
    """The pending list a ``register_glue`` task leaves for its shard (one JSON object per shard)."""
    return f"{glue_pending_prefix(prefix_of_shard_key(shard_key))}{_shard_digest(shard_key)}.json"


def glue_problems_key(shard_key: str) -> str:
    """The report of the tables of a shard Glue refused for good (deterministic errors, not retried)."""
    prefix = prefix_of_shard_key(shard_key).strip("/")
    return f"{prefix}/{REPORTS}/{GLUE_PROBLEMS}/{_shard_digest(shard_key)}.json".lstrip("/")


DATAHUB_DIGESTS = "state/datahub-digests"


def datahub_digests_key(prefix: str, datahub_conn_id: str) -> str:
    """The state object holding the digests of the aspects last sent to one DataHub connection (``push_datahub``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in datahub_conn_id)
    return f"{prefix.strip('/')}/{DATAHUB_DIGESTS}/{safe}.json.gz"
