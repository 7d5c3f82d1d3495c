"""The one run-mode rule (``run_params.run_mode``) and the run's times (``run_interval``), as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flytelineage.domain.run_interval import MANUAL_WINDOW, grouping_interval, ingest_time
from flytelineage.domain.run_params import RunMode, run_mode
from flytelineage.errors import ConfigurationError

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=10)
REPLAY = {"replay_start": "2026-11-21T00:00:00+00:00", "replay_end": "2026-11-21T06:00:00Z"}
WINDOW = (datetime(2026, 11, 21, 0, tzinfo=UTC), datetime(2026, 11, 21, 6, tzinfo=UTC))
DEFAULT = ("datahub", "glue")
BOTH = ["datahub", "glue"]

# params, run type -> drains, persists_state, chains, full_resend, targets that send
MODES = [
    ({}, "scheduled", (True, True, True, False), BOTH),
    (None, None, (True, True, True, False), BOTH),  # a DAG without params: the scheduled behaviour
    ({"replay_start": None, "replay_end": None, "dry_run": False}, "manual", (True, True, True, False), BOTH),
    (REPLAY, "manual", (False, False, False, True), BOTH),
    ({"dry_run": True}, "manual", (False, False, True, False), []),
    ({**REPLAY, "dry_run": True}, "manual", (False, False, False, True), []),
    ({}, "backfill", (False, True, False, True), BOTH),
    ({}, "BACKFILL", (False, True, False, True), BOTH),
    ({"targets": ["openlineage"]}, "manual", (True, True, True, False), ["openlineage"]),
    ({"targets": ["glue", "openlineage"], "dry_run": True}, "manual", (False, False, True, False), []),
]


@pytest.mark.parametrize(("params", "run_type", "switches", "sending"), MODES)
def test_run_mode_table(params: dict | None, run_type: str | None, switches: tuple, sending: list[str]) -> None:
    mode = run_mode(params, run_type, DEFAULT)
    assert (mode.drains, mode.persists_state, mode.chains, mode.full_resend) == switches
    assert [t for t in ("datahub", "glue", "openlineage") if mode.sends(t)] == sending
    assert (mode.skip_reason("drain") is None) == mode.drains
    for target in ("datahub", "glue", "openlineage"):
        assert (mode.skip_reason(target) is None) == mode.sends(target)


def test_replay_window_is_parsed_once_with_its_offsets() -> None:
    assert run_mode(REPLAY, "manual", DEFAULT).replay == WINDOW
    assert run_mode({}, "scheduled", DEFAULT).replay is None


@pytest.mark.parametrize(
    ("mode", "step", "reason"),
    [
        (RunMode(dry_run=True), "drain", "Drain switched off for this run (dry run)"),
        (RunMode(replay=WINDOW), "drain", "Drain switched off for this run (replay)"),
        (RunMode(backfill=True), "drain", "Drain switched off for this run (backfill)"),
        (RunMode(dry_run=True, targets=DEFAULT), "glue", "The glue target sends nothing in a dry run."),
        (RunMode(targets=DEFAULT), "openlineage", "The openlineage target is switched off (targets: ['datahub', "),
    ],
)
def test_skip_reasons_say_why(mode: RunMode, step: str, reason: str) -> None:
    assert (mode.skip_reason(step) or "").startswith(reason)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"replay_start": REPLAY["replay_start"]}, "replay_start is set but replay_end is not"),
        ({"replay_start": "2026-11-21T06:00:00Z", "replay_end": "2026-11-21T00:00:00Z"}, "must be after"),
        ({"replay_start": "2026-11-21T00:00:00", "replay_end": "2026-11-21T06:00:00Z"}, "needs a time zone"),
        ({"targets": ["kafka"]}, "are not target names"),
        ({"targets": []}, "targets must be a non-empty list"),
    ],
)
def test_invalid_params_raise_one_configuration_error(params: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        run_mode(params, "manual", DEFAULT)


@pytest.mark.parametrize(
    ("end", "run_after", "expected"),
    [(T1, None, T1), (T1, T0, T1), (None, T0, T0)],
)
def test_ingest_time_is_the_interval_end_else_run_after(
    end: datetime | None, run_after: datetime | None, expected: datetime
) -> None:
    assert ingest_time(end, run_after) == expected


def test_ingest_time_needs_one_of_them() -> None:
    with pytest.raises(ValueError, match="neither a data interval end nor run_after"):
        ingest_time(None, None)


@pytest.mark.parametrize(
    ("start", "end", "run_after", "replay", "expected"),
    [
        (T0, T1, T1, None, (T0, T1)),  # a scheduled run: its data interval
        (T0, T1, T1, WINDOW, WINDOW),  # a replay window wins
        (T1, T1, T1, None, (T1 - MANUAL_WINDOW, T1)),  # a point interval (manual trigger): the hour before
        (None, None, T1, None, (T1 - MANUAL_WINDOW, T1)),  # no interval: the hour before run_after
    ],
)
def test_grouping_interval_table(
    start: datetime | None,
    end: datetime | None,
    run_after: datetime | None,
    replay: tuple[datetime, datetime] | None,
    expected: tuple[datetime, datetime],
) -> None:
    assert grouping_interval(start, end, run_after, replay) == expected
