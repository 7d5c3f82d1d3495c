"""The params a manual run of ``flyte_lineage`` takes, as JSON schemas, and the checks that span several params.

The schemas go into the DAG's ``Param`` objects, so Airflow (the trigger form, the REST API, ``dags test --conf``)
refuses a value before a run exists: a replay bound must be an RFC 3339 date-time with its offset, ``targets`` a
non-empty list of the real target names. What one ``Param`` cannot see, ``param_problems`` checks when the run
starts: both replay bounds or neither, and the end after the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flytelineage.domain.lineage_settings import TARGETS

# openlineage is the third target (its task is added next to push_datahub); dict.fromkeys keeps one copy of each.
TARGET_NAMES: tuple[str, ...] = tuple(dict.fromkeys((*TARGETS, "openlineage")))

REPLAY_BOUND_SCHEMA: dict[str, Any] = {"type": ["null", "string"], "format": "date-time"}
TARGETS_SCHEMA: dict[str, Any] = {
    "type": ["null", "array"],
    "items": {"type": "string", "enum": list(TARGET_NAMES)},
    "examples": list(TARGET_NAMES),  # the trigger form shows a multi-select of these
    "minItems": 1,
    "uniqueItems": True,
}


def parse_bound(name: str, value: object, problems: list[str]) -> datetime | None:
    """A replay bound as an aware datetime; None (and a problem appended) when it is not one."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            problems.append(
                f"{name} must be an ISO 8601 date-time with its offset (2026-11-21T00:00:00+00:00), not {value!r}"
            )
            return None
    if parsed.tzinfo is None:
        problems.append(f"{name} needs a time zone offset (e.g. {parsed.isoformat()}+00:00), got {value!r}")
        return None
    return parsed


def param_problems(params: Mapping[str, Any]) -> list[str]:
    """Every problem of a run's params (empty when they are valid), including those no single schema can see."""
    problems: list[str] = []
    start, end = params.get("replay_start"), params.get("replay_end")
    if bool(start) != bool(end):
        given, missing = ("replay_start", "replay_end") if start else ("replay_end", "replay_start")
        problems.append(f"{given} is set but {missing} is not: a replay needs both bounds (or neither)")
    low = parse_bound("replay_start", start, problems) if start else None
    high = parse_bound("replay_end", end, problems) if end else None
    if low is not None and high is not None and high <= low:
        problems.append(f"replay_end {high.isoformat()} must be after replay_start {low.isoformat()}")
    targets = params.get("targets")
    if targets is not None:
        if not isinstance(targets, list | tuple) or not targets:
            problems.append(f"targets must be a non-empty list drawn from {list(TARGET_NAMES)}, not {targets!r}")
        else:
            unknown = [t for t in targets if t not in TARGET_NAMES]
            if unknown:
                problems.append(f"targets {unknown} are not target names; use some of {list(TARGET_NAMES)}")
    return problems
