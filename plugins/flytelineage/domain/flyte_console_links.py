"""Links into the Flyte console (pure string building, one place for the URL shapes).

The shapes are those of flyteconsole's route table (``packages/oss-console/src/routes/routes.ts``):

- an execution: ``<base>/console/projects/<P>/domains/<D>/executions/<name>`` (route ``ExecutionDetails``);
- a node's task attempt: ``…/executions/<name>/nodeId/<node id>/taskId/<task name>/attempt/<retry attempt>/view/
  <tab>`` (route ``ExecutionTaskDetails``, tab ``resources`` by default, ``retry attempt`` counted from 0).

The open-source console defines the task route but registers only the execution page, whose route is not exact,
so a node link there opens the node's execution; consoles that register the task route open the attempt itself.
A node without a task attempt (cache hit, branch, subworkflow, launch plan) links to its execution.
"""

from __future__ import annotations

from urllib.parse import quote

from flytelineage.domain.lineage_model import ExecutionId, NodeRun

TASK_VIEW = "resources"


def execution_url(console_url: str, execution: ExecutionId) -> str:
    """The console page of a workflow execution."""
    base = console_url.rstrip("/")
    return (
        f"{base}/console/projects/{_part(execution.project)}/domains/{_part(execution.domain)}"
        f"/executions/{_part(execution.name)}"
    )


def node_url(console_url: str, execution: ExecutionId, node: NodeRun) -> str:
    """The console page of a node's last task attempt, or of its execution when the node ran no task attempt."""
    page = execution_url(console_url, execution)
    if node.task is None or not node.attempts:
        return page
    retry_attempt = max(a.number for a in node.attempts) - 1
    return (
        f"{page}/nodeId/{_part(node.node_id)}/taskId/{_part(node.task.name)}/attempt/{retry_attempt}/view/{TASK_VIEW}"
    )


def _part(value: str) -> str:
    return quote(value, safe="")
