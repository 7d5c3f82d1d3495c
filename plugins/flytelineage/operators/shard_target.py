"""``ShardTargetOperator``: the base of the target tasks, which take one ``executions/`` shard each.

``group_executions`` returns the keys of the shards it wrote; every target task (``push_datahub``, ``register_glue``,
``push_openlineage``, and any later one) is mapped over them and does the same first steps, here and only here:

1. its settings (``LineageOperator.lineage_settings``: the Variable with the task's explicit arguments over it);
2. the run's mode (``domain.run_params.RunMode``): a dry run, or a run whose targets do not include this task's
   ``target``, skips the task with the rule's reason; a run without shards (empty ``shard_key``) skips too;
3. the shard, read through ``S3BulkReaderHook.read_objects`` (the S3 read path every stage uses) from the
   ``bucket`` setting: a missing shard or bucket fails the task once, naming both and the connection; throttling,
   5xx and timeouts are retried (``fail_fast``);
4. ``send(executions, settings, mode, context)``, the one method a target implements: it writes to its system and
   returns a small dict of counts (the task's XCom).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from flytelineage.operators.lineage_operator import LineageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.domain.lineage_model import Execution
    from flytelineage.domain.lineage_settings import LineageSettings
    from flytelineage.domain.run_params import RunMode
    from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook


class ShardTargetOperator(LineageOperator):
    """Send the executions of one shard to one target (see the module docstring for the steps).

    :param shard_key: S3 key of the gzip JSON Lines shard written by ``group_executions`` (in the ``bucket``
        setting); empty skips the task.
    """

    target: ClassVar[str]
    """The target name this task sends to (one of ``lineage_settings.TARGETS``), as in ``targets``."""
    action: ClassVar[str]
    """What the task does with a shard, for the log of a run without one (``push to DataHub``)."""

    template_fields: Sequence[str] = (*LineageOperator.template_fields, "shard_key")

    def __init__(
        self,
        *,
        shard_key: str,
        overrides: Mapping[str, Any] | None = None,
        run_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(overrides=overrides, run_params=run_params, **kwargs)
        self.shard_key = shard_key

    def execute(self, context: Context) -> dict[str, int]:
        """Skip, or read the shard and ``send`` it; return the target's counts."""
        from airflow.sdk.exceptions import AirflowSkipException

        settings = self.lineage_settings()
        mode = self.run_mode(context, settings)
        reason = mode.skip_reason(self.target)
        if reason is not None:
            raise AirflowSkipException(reason)
        if not self.shard_key:
            raise AirflowSkipException(f"No executions shard for this run: nothing to {self.action}.")
        return self.send(self.read_shard(settings), settings, mode, context)

    @abstractmethod
    def send(
        self, executions: list[Execution], settings: LineageSettings, mode: RunMode, context: Context
    ) -> dict[str, int]:
        """Write the shard's ``executions`` to the target; return a small dict of counts.

        ``mode.full_resend`` asks a target that skips what it recorded as sent to send everything (replays and
        backfills); ``mode.sends(other)`` says whether another target runs too.
        """

    def read_shard(self, settings: LineageSettings) -> list[Execution]:
        """The executions of the shard ``s3://<bucket>/<shard_key>``.

        A missing shard or bucket fails the task once, naming both and the connection; throttling and 5xx are
        retried.
        """
        from flytelineage.domain.execution_store import executions_from_jsonl_gz
        from flytelineage.operators.fail_fast import failing_fast

        uri = f"s3://{settings.bucket}/{self.shard_key}"
        with failing_fast(f"read executions shard {uri} (written by group_executions)", conn_id=self.aws_conn_id):
            data = self.s3.read_objects([uri])[uri]
            if isinstance(data, Exception):
                raise data
        return executions_from_jsonl_gz(data)

    @cached_property
    def s3(self) -> S3BulkReaderHook:
        """The task's S3 hook, on its Amazon connection arguments: the shard read and the target's own objects
        (digest state, pending lists). Only use it after ``lineage_settings()``, which sets ``aws_conn_id``."""
        from flytelineage.hooks.s3_bulk_reader_hook import S3BulkReaderHook

        return S3BulkReaderHook(concurrency=1, **self._hook_parameters)
