"""S3 key layout of everything the pipeline stores (docs/storage.md). Pure functions: the one place that builds or
parses a key or a stamp; every other module calls these.

- batches: ``<prefix>/events/ingest_date=YYYY-MM-DD/ingest_hour=HH/batch-<stamp>-<digest>.parquet`` where
  ``stamp`` is the run's ingest time (its data interval end) and ``digest`` hashes the message ids the object holds.
  A retried run that receives the same messages writes the same key (an overwrite, not a duplicate); a retry that
  receives other messages writes another key, so an object whose messages were already deleted is never
  overwritten by different content. Quarantine objects mirror the layout under ``quarantine/`` with the same digest
  as their sibling events object.
- grouping state: ``<prefix>/state/interval_end=<stamp>/{pending,ledger,emitted}.parquet``;
- reports: ``<prefix>/reports/interval_end=<stamp>/{late,expired,rejected}.parquet``;
- executions shards: ``<prefix>/executions/interval=<start stamp>_<end stamp>/shard-NNNNN.jsonl.gz``;
- the Glue pending lists and problem reports, the DataHub digests and the retention ledger (below).

A stamp is a UTC instant written ``YYYYMMDDTHHMMSSZ`` (``stamp``/``parse_stamp``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
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


STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_STAMP = r"\d{8}T\d{6}Z"


def stamp(ingest_time: datetime) -> str:
    """The compact UTC form of an ingest time used in object names."""
    return ingest_time.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_stamp(value: str) -> datetime:
    """The UTC time of a stamp written by ``stamp`` (``ValueError`` for anything else, e.g. missing digits, which
    ``strptime`` alone would accept)."""
    if not re.fullmatch(_STAMP, value):
        raise ValueError(f"not a stamp (YYYYMMDDTHHMMSSZ): {value[:40]!r}")
    return datetime.strptime(value, STAMP_FORMAT).replace(tzinfo=UTC)


def area_prefix(prefix: str, area: str) -> str:
    """The folder of one storage area (``events``, ``state``, ``executions``...), with a trailing slash: the root a
    listing of that area starts from."""
    return f"{prefix.strip('/')}/{area}/"


def partition_prefix(prefix: str, area: str, ingest_time: datetime) -> str:
    """The hive-style partition folder (``ingest_date=/ingest_hour=``) of an ingest time, with a trailing slash."""
    t = ingest_time.astimezone(UTC)
    return f"{area_prefix(prefix, area)}ingest_date={t:%Y-%m-%d}/ingest_hour={t:%H}/"


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
STATE_PARTS = ("pending", "ledger", "emitted")
"""The objects of one grouping state, in the order they are written (``emitted`` last)."""
STATE_COMPLETE_MARK = f"{STATE_PARTS[-1]}.parquet"
"""The state object written last: a state directory holding it is complete."""
_INTERVAL_END = "interval_end="


def interval_end_key(prefix: str, area: str, end_stamp: str, name: str) -> str:
    """The key of one object an interval's grouping wrote under ``area`` (``state`` or ``reports``) at its end."""
    return f"{area_prefix(prefix, area)}{_INTERVAL_END}{end_stamp}/{name}"


def state_key(prefix: str, state_stamp: str, name: str) -> str:
    """The key of one object (``pending``/``emitted``/``ledger`` Parquet) of the grouping state written at a stamp."""
    return interval_end_key(prefix, STATE, state_stamp, name)


def state_part_key(prefix: str, state_stamp: str, part: str) -> str:
    """The key of one of the ``STATE_PARTS`` of the grouping state written at a stamp."""
    if part not in STATE_PARTS:
        raise ValueError(f"{part!r} is not a grouping state part ({', '.join(STATE_PARTS)})")
    return state_key(prefix, state_stamp, f"{part}.parquet")


def state_listing_from(prefix: str, state_stamp: str) -> str:
    """A ``StartAfter`` key from which a listing of ``state/`` returns every state stamped at or after the stamp."""
    return f"{area_prefix(prefix, STATE)}{_INTERVAL_END}{state_stamp}"


def interval_end_of(key: str) -> str | None:
    """The stamp of the ``interval_end=<stamp>`` folder ``key`` is directly in, or None when it is in none."""
    parts = key.rsplit("/", 2)
    if len(parts) != 3 or not parts[1].startswith(_INTERVAL_END):
        return None
    found = parts[1].removeprefix(_INTERVAL_END)
    return found if re.fullmatch(_STAMP, found) else None


def complete_state_stamp_of(key: str) -> str | None:
    """The stamp of the state directory ``key`` marks complete, or None if ``key`` is not a completion mark."""
    if key.rsplit("/", 1)[-1] != STATE_COMPLETE_MARK:
        return None
    return interval_end_of(key)


def batch_time_of(key: str) -> datetime | None:
    """The ingest time of a batch key (``batch_stamp_of`` as a UTC datetime), or None if it is not a batch object."""
    found = batch_stamp_of(key)
    if found is None:
        return None
    try:
        return parse_stamp(found)
    except ValueError:
        return None


def batch_listing_from(prefix: str, area: str, watermark: str | None) -> str | None:
    """A ``StartAfter`` key from which a listing of ``area`` returns every batch stamped after ``watermark``
    (the watermark's hour partition onwards); None (list everything) without a watermark."""
    if watermark is None:
        return None
    return partition_prefix(prefix, area, parse_stamp(watermark)).rstrip("/")


# ---- executions shards and reports -------------------------------------------------------------------------------

EXECUTIONS = "executions"
REPORTS = "reports"
SHARD_SUFFIX = ".jsonl.gz"
_SHARD_KEY = re.compile(
    rf"^(?:(?P<prefix>.*)/)?{EXECUTIONS}/interval=(?P<start>{_STAMP})_(?P<end>{_STAMP})/shard-(?P<number>\d+)"
    + re.escape(SHARD_SUFFIX)
    + "$"
)


@dataclass(frozen=True)
class ShardKeyParts:
    """What an executions shard key says: the storage prefix, the grouped interval and the shard's number."""

    prefix: str
    start: datetime
    end: datetime
    number: int


def report_key(prefix: str, end: datetime, name: str) -> str:
    """The key of one report (``late``/``expired``/``rejected`` Parquet) of the interval ending at ``end``."""
    return interval_end_key(prefix, REPORTS, stamp(end), name)


def executions_prefix(prefix: str) -> str:
    """The folder every executions shard is listed from, with a trailing slash."""
    return area_prefix(prefix, EXECUTIONS)


def shard_folder(prefix: str, start: datetime, end: datetime) -> str:
    """The folder of the shards of the interval ``(start, end]``, with a trailing slash."""
    return f"{executions_prefix(prefix)}interval={stamp(start)}_{stamp(end)}/"


def shard_key(prefix: str, start: datetime, end: datetime, number: int) -> str:
    """The key of shard ``number`` (from 0) of the interval ``(start, end]``."""
    return f"{shard_folder(prefix, start, end)}shard-{number:05d}{SHARD_SUFFIX}"


def parse_shard_key(key: str) -> ShardKeyParts | None:
    """The parts of an executions shard key (the inverse of ``shard_key``), or None when ``key`` is not one."""
    found = _SHARD_KEY.match(key.lstrip("/"))
    if found is None:
        return None
    return ShardKeyParts(
        prefix=found.group("prefix") or "",
        start=parse_stamp(found.group("start")),
        end=parse_stamp(found.group("end")),
        number=int(found.group("number")),
    )


def shard_interval_end(key: str) -> datetime | None:
    """The interval end encoded in an executions shard key, or None when the key is not a shard."""
    parts = parse_shard_key(key)
    return parts.end if parts is not None else None


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


RETENTION = "retention"


def retention_ledger_key(prefix: str) -> str:
    """The key of the DataProcessInstance retention ledger (``datahub_retention``)."""
    return f"{area_prefix(prefix, RETENTION)}ledger.json"
