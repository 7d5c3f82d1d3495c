"""The times a pipeline run works on, from plain datetimes (the operators take them from Airflow's context).

- The **ingest time** of a run is its data interval end; a manual run without an interval uses its ``run_after``
  (or, on older Airflow, its logical date). The drain stamps every object it writes with it.
- The **grouping interval** is an explicit replay window when there is one, else the run's data interval, else the
  hour before its ingest time (a manual run without an interval).
"""

from __future__ import annotations

from datetime import datetime, timedelta

MANUAL_WINDOW = timedelta(hours=1)
"""The interval a manual run without a data interval groups: this long before its ingest time."""


def ingest_time(data_interval_end: datetime | None, run_after: datetime | None) -> datetime:
    """The run's ingest time: its data interval end, else its ``run_after``."""
    if data_interval_end is not None:
        return data_interval_end
    if run_after is None:
        raise ValueError("the DAG run has neither a data interval end nor run_after")
    return run_after


def grouping_interval(
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime | None,
    replay: tuple[datetime, datetime] | None = None,
) -> tuple[datetime, datetime]:
    """The ``(start, end]`` a grouping run covers (see the module docstring for the rule)."""
    if replay is not None:
        return replay
    if data_interval_start is not None and data_interval_end is not None and data_interval_end > data_interval_start:
        return data_interval_start, data_interval_end
    end = ingest_time(data_interval_end, run_after)
    return end - MANUAL_WINDOW, end
