"""The params a manual run of ``flyte_lineage`` takes, as JSON schemas, and the checks that span several params.

The schemas go into the DAG's ``Param`` objects, so Airflow (the trigger form, the REST API, ``dags test --conf``)
refuses a value before a run exists: a replay bound must be an RFC 3339 date-time with its offset, ``targets`` a
non-empty list of the real target names. What one ``Param`` cannot see, ``param_problems`` checks when the run
starts: both replay bounds or neither, and the end after the start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flytelineage.domain.lineage_settings import TARGETS
from flytelineage.errors import ConfigurationError

TARGET_NAMES: tuple[str, ...] = TARGETS

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


@dataclass(frozen=True)
class RunMode:
    """What a run of the pipeline does, decided once from its params and run type (the one rule every task uses).

    - a **scheduled** or plain **manual** run drains, groups from the newest grouping state, writes the next state
      and sends to its targets;
    - a **replay** (``replay_start``/``replay_end``) drains nothing, re-derives its window from the state at or
      before its start, leaves the state alone and sends everything again (no digest skipping);
    - a **backfill** (``airflow backfill create``) is a replay of its data interval that may write the state
      (grouping writes it only when no newer state exists);
    - a **dry run** drains nothing, writes no state and sends nothing: grouping only.
    """

    dry_run: bool = False
    replay: tuple[datetime, datetime] | None = None
    backfill: bool = False
    targets: tuple[str, ...] = ()

    @property
    def drains(self) -> bool:
        """The drain runs (replays, backfills and dry runs read only what is stored)."""
        return not (self.dry_run or self.replay or self.backfill)

    @property
    def persists_state(self) -> bool:
        """Grouping writes the grouping state for the next run (never for replays and dry runs)."""
        return not (self.dry_run or self.replay)

    @property
    def chains(self) -> bool:
        """Grouping continues from the newest state before the run's end (else from the state before its start)."""
        return not (self.replay or self.backfill)

    @property
    def full_resend(self) -> bool:
        """Targets send everything, whatever they recorded as sent (replays and backfills)."""
        return bool(self.replay or self.backfill)

    def sends(self, target: str) -> bool:
        """The target task sends (it is one of the run's targets and this is no dry run)."""
        return not self.dry_run and target in self.targets

    def skip_reason(self, step: str) -> str | None:
        """Why ``step`` (``drain`` or a target name) does nothing in this run; None when it runs."""
        if step == "drain":
            if self.drains:
                return None
            kind = "dry run" if self.dry_run else "replay" if self.replay else "backfill"
            return f"Drain switched off for this run ({kind}): lineage is derived from the stored batches only."
        if self.dry_run:
            return f"The {step} target sends nothing in a dry run."
        if step not in self.targets:
            return f"The {step} target is switched off (targets: {list(self.targets)})."
        return None


def run_mode(params: Mapping[str, Any] | None, run_type: str | None, default_targets: tuple[str, ...]) -> RunMode:
    """The ``RunMode`` of a run from its params (missing ones take their defaults, so the operators work in any DAG)
    and its run type; raises ``ConfigurationError`` listing every problem of invalid params."""
    params = params or {}
    problems = param_problems(params)
    if problems:
        raise ConfigurationError(f"the run's params are invalid ({len(problems)} problem(s)): " + "; ".join(problems))
    start, end = params.get("replay_start"), params.get("replay_end")
    replay = None
    if start and end:
        low, high = parse_bound("replay_start", start, []), parse_bound("replay_end", end, [])
        assert low is not None and high is not None  # param_problems checked both
        replay = (low, high)
    targets = params.get("targets")
    return RunMode(
        dry_run=bool(params.get("dry_run")),
        replay=replay,
        backfill=str(run_type or "").lower().endswith("backfill"),
        targets=tuple(targets) if targets else tuple(default_targets),
    )
