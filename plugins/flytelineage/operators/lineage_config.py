"""Reading the ``flyte_lineage`` Variable at task run time (never at DAG parse time).

``lineage_setting`` is registered as the DAG's ``cfg`` template macro: ``"{{ cfg('bucket') }}"`` renders one
validated setting when a task starts, so a bad Variable fails the task once, with one message listing every problem.
"""

from __future__ import annotations

from typing import Any

from flytelineage.domain.lineage_settings import VARIABLE_NAME, LineageSettings, settings_from_dict
from flytelineage.errors import ConfigurationError


def load_settings() -> LineageSettings:
    """Read and validate the ``flyte_lineage`` Variable."""
    from airflow.sdk import Variable

    try:
        data = Variable.get(VARIABLE_NAME, default=None, deserialize_json=True)
    except ValueError as e:  # not JSON: a retry reads the same text
        raise ConfigurationError(f"Airflow Variable {VARIABLE_NAME!r} is not valid JSON: {e}") from e
    if data is None:
        raise ConfigurationError(
            f"Airflow Variable {VARIABLE_NAME!r} is not set; create it with at least "
            '{"sqs_queue": "<queue name or URL>", "bucket": "<bucket>"} (see the README)'
        )
    return settings_from_dict(data)


def lineage_setting(key: str) -> Any:
    """One validated setting (with its default) of the ``flyte_lineage`` Variable, for templates.

    A missing or invalid Variable fails the task once (``AirflowFailException``): a retry would read the same one.
    """
    from flytelineage.operators.fail_fast import failing_fast

    with failing_fast(f"render setting {key!r}"):
        settings = load_settings()
        if not hasattr(settings, key):
            raise ConfigurationError(f"{key!r} is not a flyte_lineage setting")
    value = getattr(settings, key)
    return list(value) if isinstance(value, tuple) else value
