"""Coercion of templated flags, left for the operators not yet on ``LineageOperator`` (typed settings).

The shard read moved to ``operators/shard_target.py``. Delete this module once nothing imports it.
"""

from __future__ import annotations


def as_bool(value: object) -> bool:
    """A templated flag: a real boolean, or a string rendered from the Variable (``true``/``false``, any case)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def as_str_list(value: object) -> list[str]:
    """A templated list of strings: a real list, or its JSON rendering (DAGs without native rendering give that)."""
    import json

    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError as e:
            raise ValueError(f"expected a JSON list of strings, got {text[:200]!r}") from e
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return list(value)
