"""``flytelineage run``: one pass of the ``flyte_lineage`` DAG in this process, through Airflow's ``dag.test()``.

The same tasks as a scheduled run (drain, group, the targets), for a first try or a cron job without a scheduler.
The DAG is loaded from ``--dag-file`` (default: the configured Airflow dags folder); the Variable the tasks read is
the stored one overridden by the config file and the command line (validated first, exported to the run as
``AIRFLOW_VAR_FLYTE_LINEAGE``); connections come from Airflow as usual. ``--init-db`` migrates the Airflow metadata
database first (for a throw-away ``AIRFLOW_HOME``). ``--conf`` passes run params (a replay window, targets, a dry
run) as JSON. The exit status is 0 when the run succeeded and 1 otherwise, with each task's final state printed.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from traitlets import Bool, Unicode

from flytelineage.cli.app import CommandError, Subcommand, logs_to_stderr, out
from flytelineage.domain.lineage_settings import VARIABLE_NAME
from flytelineage.domain.run_params import param_problems, parse_bound

DAG_ID = "flyte_lineage"


class RunCommand(Subcommand):
    """Run the DAG's tasks once, in-process, and report each task's state."""

    name = "flytelineage run"
    description = __doc__
    dag_file = Unicode("", help="The DAG file (default: flyte_lineage from the Airflow dags folder)").tag(config=True)
    logical_date = Unicode("", help="The run's logical date, ISO 8601 with offset (default: now)").tag(config=True)
    conf = Unicode("", help="Run params as JSON, e.g. '{\"dry_run\": true}'").tag(config=True)
    init_db = Bool(False, help="Migrate the Airflow metadata database first").tag(config=True)
    aliases = {
        **Subcommand.aliases,
        "dag-file": "RunCommand.dag_file",
        "logical-date": "RunCommand.logical_date",
        "conf": "RunCommand.conf",
    }
    flags = {
        **Subcommand.flags,
        "init-db": ({"RunCommand": {"init_db": True}}, "Migrate the Airflow metadata database first"),
    }

    def start(self) -> int:  # type: ignore[override]
        """Validate the inputs, run the DAG once and print the task states."""
        logs_to_stderr(self.log_level)
        settings = self.settings()
        run_conf, logical_date = self._run_conf(), self._logical_date()
        os.environ[f"AIRFLOW_VAR_{VARIABLE_NAME.upper()}"] = json.dumps(settings.as_dict())
        if self.aws_region:
            os.environ.setdefault("AWS_DEFAULT_REGION", self.aws_region)
        if self.init_db:
            from airflow.utils.db import upgradedb

            upgradedb()
        dag = self._dag()
        dag_run = dag.test(logical_date=logical_date, run_conf=run_conf)
        states = {ti.task_id + _map_suffix(ti): str(ti.state) for ti in dag_run.get_task_instances()}
        for task, state in sorted(states.items()):
            out(f"{task}: {state}")
        out(f"run {dag_run.run_id}: {dag_run.state}")
        return 0 if str(dag_run.state) == "success" else 1

    def _run_conf(self) -> dict[str, Any]:
        if not self.conf:
            return {}
        try:
            conf = json.loads(self.conf)
        except ValueError as e:
            raise CommandError(f"--conf is not valid JSON: {e}") from e
        if not isinstance(conf, dict):
            raise CommandError("--conf must be a JSON object of run params")
        problems = param_problems(conf)
        if problems:
            raise CommandError("invalid run params: " + "; ".join(problems))
        return conf

    def _logical_date(self) -> datetime:
        if not self.logical_date:
            return datetime.now(UTC)
        problems: list[str] = []
        parsed = parse_bound("--logical-date", self.logical_date, problems)
        if parsed is None:
            raise CommandError("; ".join(problems))
        return parsed

    def _dag(self) -> Any:
        from airflow.utils.cli import get_bagged_dag

        dag = get_bagged_dag(bundle_names=None, dag_id=DAG_ID, dagfile_path=self.dag_file or None)
        if dag is None:
            raise CommandError(f"DAG {DAG_ID!r} not found (give its file with --dag-file)")
        return dag


def _map_suffix(ti: Any) -> str:
    index = getattr(ti, "map_index", -1)
    return f"[{index}]" if index is not None and index >= 0 else ""
