"""Fault injection: drain processes SIGKILLed at random points lose nothing; duplicates collapse by event_id."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak_drain import run_soak


@pytest.mark.integration
def test_killed_drains_lose_nothing(moto_endpoint: str, tmp_path: Path) -> None:
    result = run_soak(moto_endpoint, runs=3, messages=120, seed=5, work_dir=tmp_path)
    assert result["kills"] >= 1, result
    assert result["messages_lost"] == 0, result
    assert result["messages_stored"] == result["messages_sent"], result
    assert result["events_lost"] == 0, result
    assert result["events_to_targets"] == result["events_sent"], result
    assert result["executions_to_targets"] == result["executions_sent"], result
    assert result["duplicate_events_to_targets"] == 0, result
    assert result["duplicate_executions_to_targets"] == 0, result
    assert result["left_in_queue"] == 0, result
