"""A check every ``LineageOperator`` subclass passes: each constructor argument is templated.

An argument is either a template field itself (``shard_key``), or a setting that lands, under its settings key, in
the templated ``overrides`` (so a DAG may pass ``"{{ ... }}"`` for it and it is validated like the Variable), or a
run param in the templated ``run_params``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from flytelineage.domain.lineage_settings import LineageSettings
from flytelineage.operators.lineage_operator import LineageOperator

SETTINGS_KEYS = {f.name for f in dataclasses.fields(LineageSettings)}


def assert_every_argument_is_templated(
    cls: type[LineageOperator], renamed: dict[str, str] | None = None, **required: Any
) -> None:
    """Construct ``cls`` once per argument with a distinct value and find that value in a templated place.

    ``renamed`` maps an argument to the settings key it sets when the names differ (``digest_ttl_hours``);
    ``required`` are the arguments every construction needs besides ``task_id``.
    """
    renamed = renamed or {}
    parameters = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    assert set(LineageOperator.template_fields) <= set(cls.template_fields)
    for name in [*parameters, "aws_conn_id"]:
        value = f"<{name}>"
        operator = cls(task_id="t", **{**required, name: value})
        if name in cls.template_fields:
            assert getattr(operator, name) == value, name
            continue
        key = renamed.get(name, name)
        assert key in SETTINGS_KEYS, f"{name} sets {key!r}, which is not a settings key"
        assert operator.overrides == {key: value}, (name, operator.overrides)
        assert operator.run_params == {}, (name, operator.run_params)
    for name, key in renamed.items():
        assert name in parameters, f"{name} is no argument of {cls.__name__}"
        assert key in SETTINGS_KEYS, key
