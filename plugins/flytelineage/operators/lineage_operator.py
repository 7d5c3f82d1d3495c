"""``LineageOperator``: the base of every flyte-lineage operator.

One configuration path: a task's settings are the ``flyte_lineage`` Variable (read once, when the task starts, and
validated as a whole), or the ``settings`` argument when one is given (a dict, or its JSON, e.g. rendered from
another Variable with ``"{{ var.value.my_settings }}"``), with the operator's explicit arguments over them. A task
whose required settings are all given as arguments runs without any Variable, so the operators are reusable in
other DAGs. A missing or invalid Variable, or invalid arguments, fail the task once (a retry reads the same ones).

One run-mode rule: what a task does in this run (drain or not, persist the grouping state or not, send to which
targets, re-send everything or not) comes from ``flytelineage.domain.run_params.run_mode``, from the run's params
(``replay_start``/``replay_end``/``targets``/``dry_run``; a DAG without them gets the scheduled behaviour) and its
run type.

Amazon conventions: every task reads or writes S3, so the base is the Amazon provider's ``AwsBaseOperator``
(``aws_conn_id``, ``region_name``, ``verify``, ``botocore_config``); ``aws_conn_id`` is also a setting, so an
explicit argument overrides the Variable's and ``None`` means boto3's default credentials.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from flytelineage.domain.lineage_settings import LineageSettings
    from flytelineage.domain.run_params import RunMode


class _NotGiven:
    """The default of an operator argument that was not passed (``None`` is a value: no connection, no limit)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


def given(**arguments: Any) -> dict[str, Any]:
    """The arguments that were passed (those not left at ``NOT_GIVEN``)."""
    return {k: v for k, v in arguments.items() if v is not NOT_GIVEN}


def variable_document() -> Any:
    """The JSON of the ``flyte_lineage`` Variable, or None when it is not set; not JSON fails with its reason."""
    from airflow.sdk import Variable

    from flytelineage.domain.lineage_settings import VARIABLE_NAME
    from flytelineage.errors import ConfigurationError

    text = Variable.get(VARIABLE_NAME, default=None)  # parsed here: every secrets backend gives the same error
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise ConfigurationError(f"Airflow Variable {VARIABLE_NAME!r} is not valid JSON: {e}") from e


class LineageOperator(AwsBaseOperator[S3Hook]):
    """Base of the flyte-lineage operators: settings from the Variable with explicit arguments over them, the run's
    mode from its params, and the Amazon provider's connection arguments.

    :param settings: the settings document to use instead of the ``flyte_lineage`` Variable (dict or JSON text).
    :param overrides: settings given as explicit arguments (subclasses fill this from their named arguments).
    :param run_params: run params given explicitly, over the run's own ``params``.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = ("settings", "overrides", "run_params", "region_name", "verify")
    required_settings: ClassVar[tuple[str, ...]] = ("bucket",)
    """The settings this operator cannot run without (the Variable as a whole needs ``sqs_queue`` and ``bucket``)."""

    def __init__(
        self,
        *,
        settings: Mapping[str, Any] | str | None = None,
        overrides: Mapping[str, Any] | None = None,
        run_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        overrides = dict(overrides or {})
        if "aws_conn_id" in kwargs:
            overrides["aws_conn_id"] = kwargs.pop("aws_conn_id")
        super().__init__(**kwargs)
        self.settings = settings
        self.overrides = overrides
        self.run_params = dict(run_params or {})

    def lineage_settings(self) -> LineageSettings:
        """The validated settings of this task (see the module docstring); sets ``aws_conn_id`` from them."""
        from flytelineage.domain.lineage_settings import REQUIRED, VARIABLE_NAME, settings_from_dict
        from flytelineage.errors import ConfigurationError
        from flytelineage.hooks.connection_secrets import mask_aws_secrets
        from flytelineage.operators.fail_fast import failing_fast

        with failing_fast("read the flyte_lineage settings"):
            from_variable = self.settings is None
            document = variable_document() if from_variable else self.settings
            if isinstance(document, str):
                try:
                    document = json.loads(document) if document.strip() else None
                except ValueError as e:
                    raise ConfigurationError(f"the settings argument is not valid JSON: {e}") from e
            if document is None:
                document = {}
                missing = [k for k in self.required_settings if k not in self.overrides]
                if missing:
                    raise ConfigurationError(
                        f"Airflow Variable {VARIABLE_NAME!r} is not set and {', '.join(missing)} not given as "
                        'arguments; create it with at least {"sqs_queue": "<queue name or URL>", "bucket": '
                        '"<bucket>"} (see the README)'
                    )
            if not isinstance(document, Mapping):
                raise ConfigurationError(
                    f"Variable {VARIABLE_NAME!r} must be a JSON object, not {type(document).__name__}"
                )
            merged = {**document, **{k: _plain(v) for k, v in self.overrides.items()}}
            # the Variable is validated as a whole (every task fails on the same bad Variable); arguments only
            # need what this operator uses
            required = (*REQUIRED, *self.required_settings) if from_variable and document else self.required_settings
            settings = settings_from_dict(merged, required=tuple(dict.fromkeys(required)))
        self.aws_conn_id = settings.aws_conn_id
        mask_aws_secrets(settings.aws_conn_id)  # error texts quoting the session token are redacted from now on
        return settings

    def run_mode(self, context: Context, settings: LineageSettings) -> RunMode:
        """This run's mode, from its params (explicit ``run_params`` over them) and run type."""
        from flytelineage.domain.run_params import param_problems, run_mode
        from flytelineage.operators.fail_fast import fail_on_bad_params

        params = {**dict(_context_get(context, "params") or {}), **self.run_params}
        dag_run = _context_get(context, "dag_run")
        fail_on_bad_params(param_problems(params))
        return run_mode(params, getattr(dag_run, "run_type", None), settings.targets)


def _plain(value: Any) -> Any:
    """An argument as the Variable's JSON would hold it (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value


def _context_get(context: Context | Mapping[str, Any] | None, key: str) -> Any:
    return context.get(key) if context is not None and hasattr(context, "get") else None
