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


DATAHUB_DIGESTS = "state/datahub-digests"


def datahub_digests_key(prefix: str, datahub_conn_id: str) -> str:
    """The state object holding the digests of the aspects last sent to one DataHub connection (``push_datahub``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in datahub_conn_id)
    return f"{prefix.strip('/')}/{DATAHUB_DIGESTS}/{safe}.json.gz"
