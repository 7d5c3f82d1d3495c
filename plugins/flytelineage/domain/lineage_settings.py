"""The behaviour settings of the pipeline: the JSON of the Airflow Variable ``flyte_lineage`` (DESIGN.md section 3).

``settings_from_dict`` validates the whole document at once and raises one ``ConfigurationError`` listing every
problem, so an operator fixes the Variable in one go. Endpoints and secrets are not here: they live in connections.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from flytelineage.domain.read_limits import DEFAULT_LIMITS, MIB, ReadLimits
from flytelineage.errors import ConfigurationError

VARIABLE_NAME = "flyte_lineage"
TARGETS = ("datahub", "glue", "openlineage")
DEFAULT_TARGETS = ("datahub", "glue")
RAW_FORMATS = ("cloudevents", "external:workflow", "external:node", "external:task")
# DataHub's PlatformType enum (checked against the SDK's PlatformTypeClass in the tests)
PLATFORM_TYPES = (
    "FILE_SYSTEM",
    "KEY_VALUE_STORE",
    "MESSAGE_BROKER",
    "OBJECT_STORE",
    "OLAP_DATASTORE",
    "OTHERS",
    "QUERY_ENGINE",
    "RELATIONAL_DB",
    "SEARCH_ENGINE",
)


@dataclass(frozen=True)
class LineageSettings:
    """Validated settings with their defaults. Every key is documented in the README's configuration reference."""

    sqs_queue: str
    bucket: str
    prefix: str = "flyte-lineage"
    aws_conn_id: str | None = "aws_default"  # None: boto3's default credentials (no Airflow connection)
    datahub_conn_id: str = "datahub_default"
    openlineage_conn_id: str = "openlineage_default"
    env: str = "PROD"
    targets: tuple[str, ...] = DEFAULT_TARGETS
    glue_database: str | None = None
    glue_versioning: bool = False
    glue_max_versions: int | None = None
    datasets_only: bool = False
    read_buckets: tuple[str, ...] = ()
    flyte_console_url: str | None = None
    raw_format: str | None = None
    max_messages: int = 100_000
    max_seconds: int = 240
    receivers: int = 4
    wait_seconds: int = 1
    visibility_timeout: int = 300
    flush_messages: int = 5_000
    flush_seconds: int = 60
    settle_seconds: int = 300
    pending_max_days: int = 7
    shard_size: int = 200
    read_concurrency: int = 16
    # hard limits of dataset resolution (``read_limits.ReadLimits``: one place for the defaults and their reasons)
    max_literal_bytes: int = DEFAULT_LIMITS.max_literal_bytes
    max_literals: int = DEFAULT_LIMITS.max_literals
    max_literal_depth: int = DEFAULT_LIMITS.max_literal_depth
    max_footer_bytes: int = DEFAULT_LIMITS.max_footer_bytes
    max_dataset_reads: int = DEFAULT_LIMITS.max_dataset_reads
    service_principals: tuple[str, ...] = ("flytepropeller",)
    platform_display_name: str = "Flyte"
    platform_type: str = "OTHERS"
    platform_delimiter: str = "."
    platform_logo_url: str | None = None
    # run-history retention (the flyte_lineage_retention DAG, ``dpi_retention``): None keeps every run
    dpi_retention_days: int | None = None
    dpi_retention_max_per_run: int = 10_000
    dpi_retention_hard_delete: bool = False
    datahub_digest_ttl_hours: int = 24

    def read_limits(self) -> ReadLimits:
        """The resolution limits these settings set."""
        return ReadLimits(
            max_literal_bytes=self.max_literal_bytes,
            max_literals=self.max_literals,
            max_literal_depth=self.max_literal_depth,
            max_footer_bytes=self.max_footer_bytes,
            max_dataset_reads=self.max_dataset_reads,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists), e.g. for logging or templating."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


_INT_RANGES: dict[str, tuple[int, int]] = {
    "max_messages": (1, 10_000_000),
    "max_seconds": (1, 86_400),
    "receivers": (1, 32),
    "wait_seconds": (0, 20),
    "visibility_timeout": (10, 43_200),
    "flush_messages": (10, 1_000_000),
    "flush_seconds": (1, 14_400),
    "settle_seconds": (0, 86_400),
    "pending_max_days": (1, 365),
    "shard_size": (1, 100_000),
    "read_concurrency": (1, 256),
    "max_literal_bytes": (1_024, 2_048 * MIB),
    "max_literals": (1_000, 100_000_000),
    "max_literal_depth": (4, 500),  # the walk recurses once per level: Python's own limit is 1,000 frames
    "max_footer_bytes": (64 * 1_024, 2_048 * MIB),  # below the 64 KiB first tail it would change nothing
    "max_dataset_reads": (0, 1_000_000),
    # how long the digest of an aspect sent to DataHub is trusted (push_datahub skips unchanged aspects); 0 = never
    "datahub_digest_ttl_hours": (0, 8_760),
    "dpi_retention_days": (1, 36_500),
    "dpi_retention_max_per_run": (1, 1_000_000),
}
_STRINGS = (
    "sqs_queue",
    "bucket",
    "prefix",
    "datahub_conn_id",
    "openlineage_conn_id",
    "env",
    "platform_display_name",
    "platform_delimiter",
)
_NULLABLE_NAMES = ("aws_conn_id",)  # null: boto3's default credentials, as in the Amazon provider
_NULLABLE_INTS = ("dpi_retention_days",)  # null: keep every run
_OPTIONAL_STRINGS = ("glue_database", "flyte_console_url", "raw_format", "platform_logo_url")
_BOOLS = ("glue_versioning", "datasets_only", "dpi_retention_hard_delete")


def _check_types(data: dict[str, Any], problems: list[str]) -> None:
    for key in _STRINGS:
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            problems.append(f"{key} must be a non-empty string")
    for key in _NULLABLE_NAMES:
        if data.get(key) is not None and (not isinstance(data[key], str) or not data[key].strip()):
            problems.append(f"{key} must be a non-empty string or null")
    for key in _OPTIONAL_STRINGS:
        if data.get(key) is not None and not isinstance(data[key], str):
            problems.append(f"{key} must be a string or null")
    for key in _BOOLS:
        if key in data and not isinstance(data[key], bool):
            problems.append(f"{key} must be true or false")
    for key, (low, high) in _INT_RANGES.items():
        value = data.get(key)
        if value is None:
            bad = key in data and key not in _NULLABLE_INTS
        else:
            bad = isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
        if bad:
            problems.append(f"{key} must be an integer from {low} to {high}")


def _check_lists(data: dict[str, Any], problems: list[str]) -> None:
    targets = data.get("targets", list(DEFAULT_TARGETS))
    if not isinstance(targets, list) or any(t not in TARGETS for t in targets):
        problems.append(f"targets must be a list drawn from {list(TARGETS)}")
    buckets = data.get("read_buckets", [])
    if not isinstance(buckets, list) or not all(isinstance(b, str) and b for b in buckets):
        problems.append("read_buckets must be a list of bucket names (empty = any bucket the credentials can read)")
    max_versions = data.get("glue_max_versions")
    if max_versions is not None and (
        isinstance(max_versions, bool) or not isinstance(max_versions, int) or max_versions < 1
    ):
        problems.append("glue_max_versions must be a positive integer or null")
    if data.get("raw_format") is not None and data.get("raw_format") not in RAW_FORMATS:
        problems.append(f"raw_format must be one of {list(RAW_FORMATS)} or null")
    principals = data.get("service_principals", [])
    if not isinstance(principals, list) or not all(isinstance(p, str) and p for p in principals):
        problems.append("service_principals must be a list of principal names (client ids)")
    if "platform_type" in data and data["platform_type"] not in PLATFORM_TYPES:
        problems.append(f"platform_type must be one of {list(PLATFORM_TYPES)}")


def _check_relations(data: dict[str, Any], problems: list[str]) -> None:
    """Rules between keys, checked when both are valid (with their defaults when absent)."""
    flush = data.get("flush_seconds", LineageSettings.flush_seconds)
    visibility = data.get("visibility_timeout", LineageSettings.visibility_timeout)
    valid = all(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        for value, (low, high) in (
            (flush, _INT_RANGES["flush_seconds"]),
            (visibility, _INT_RANGES["visibility_timeout"]),
        )
    )
    if valid and flush * 3 > visibility:
        problems.append(
            f"flush_seconds ({flush}) must be at most a third of visibility_timeout ({visibility}), "
            "so messages are stored and deleted before they reappear"
        )


REQUIRED = ("sqs_queue", "bucket")
"""The keys without a default. A task that does not use one (grouping and the targets never read the queue) passes
the keys it needs as ``required``."""


def settings_from_dict(data: Any, *, required: tuple[str, ...] = REQUIRED) -> LineageSettings:
    """Validate the Variable's JSON and apply defaults; raise one error that lists every problem.

    ``required`` names the keys that must be set (the Variable as a whole needs ``REQUIRED``); a key left out when
    it is not required takes an empty placeholder, so a task that does not use it cannot mistake it for a value.
    """
    if not isinstance(data, dict):
        raise ConfigurationError(f"Variable {VARIABLE_NAME!r} must be a JSON object, not {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(LineageSettings)}
    problems = [f"unknown key {k!r}" for k in sorted(data) if k not in known]
    problems += [f"{k} is required" for k in required if not data.get(k)]
    _check_types(data, problems)
    _check_lists(data, problems)
    _check_relations(data, problems)
    if problems:
        raise ConfigurationError(
            f"Variable {VARIABLE_NAME!r} is invalid ({len(problems)} problems): "
            + "; ".join(problems)
            + ". See the README's configuration reference."
        )
    values = {k: v for k, v in data.items() if k in known}
    values.update((k, "") for k in REQUIRED if not values.get(k))
    for key in ("targets", "read_buckets", "service_principals"):
        if key in values:
            values[key] = tuple(values[key])
    return LineageSettings(**values)
