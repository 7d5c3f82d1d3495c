"""Apply a DataHub PATCH proposal to a stored aspect locally, for sinks that store aspects without a GMS.

GMS applies PATCH proposals itself; DataHub Lite does not (its ``write`` stores whatever aspect it is given and takes
only typed upserts), so the Lite sink reads the stored aspect, applies the patch here and writes the result as an
upsert. Two payload forms are handled, the two the SDK's patch builders produce:

- a plain list of RFC 6902 operations, applied as is (right for map fields such as ``customProperties``);
- a ``{"arrayPrimaryKeys": {field: [key fields]}, "patch": [...]}`` envelope (GMS's generic JSON patch): each listed
  array field is turned into nested objects keyed by the values of its key fields (a missing key is ``""``; a key
  field may name a nested field with ``␟`` between its parts), the operations are applied to that form, then the
  nested objects are flattened back into the array. Missing intermediate objects of an ``add`` path are created,
  as GMS does.

``patched_upsert`` turns a PATCH proposal and the stored aspect into the upsert to write, checked by parsing the
result with the aspect's DataHub class. This module knows nothing about Flyte.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datahub.emitter.mcp import MetadataChangeProposalWrapper
    from datahub.metadata.schema_classes import MetadataChangeProposalClass

UNIT_SEPARATOR = "\u241f"


class PatchApplyError(ValueError):
    """A patch that cannot be applied to the stored aspect (its message says which path failed)."""


def apply_patch(current: dict[str, Any] | None, payload: Any) -> dict[str, Any]:
    """The aspect (plain JSON) after applying a PATCH proposal's payload (decoded JSON) to ``current``."""
    import jsonpatch

    document: dict[str, Any] = json.loads(json.dumps(current or {}))
    if isinstance(payload, dict) and "patch" in payload:
        keys: dict[str, list[str]] = payload.get("arrayPrimaryKeys") or {}
        operations = list(payload["patch"])
    else:
        keys, operations = {}, list(payload)
    for field, key_fields in keys.items():
        document[field] = _array_to_map(document.get(field) or [], key_fields)
    for operation in operations:
        if operation.get("op") == "add":
            _create_parents(document, operation["path"])
    try:
        document = jsonpatch.apply_patch(document, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
        raise PatchApplyError(f"cannot apply patch {operations!r}: {e}") from e
    for field, key_fields in keys.items():
        document[field] = _map_to_array(document.get(field), len(key_fields))
    return document


def patched_upsert(
    proposal: MetadataChangeProposalClass, current: dict[str, Any] | None
) -> MetadataChangeProposalWrapper:
    """The upsert of ``proposal``'s aspect after applying its patch to ``current`` (the stored aspect, or None)."""
    from datahub.emitter.mcp import MetadataChangeProposalWrapper
    from datahub.metadata.schema_classes import ASPECT_NAME_MAP

    name = proposal.aspectName or ""
    if name not in ASPECT_NAME_MAP or proposal.aspect is None or not proposal.entityUrn:
        raise PatchApplyError(f"PATCH proposal for {proposal.entityUrn} names no known aspect ({name!r})")
    patched = apply_patch(current, json.loads(proposal.aspect.value))
    try:
        aspect = ASPECT_NAME_MAP[name].from_obj(patched)
    except Exception as e:  # avro validation errors have no common base class
        raise PatchApplyError(f"patched {name} of {proposal.entityUrn} is not a valid aspect: {e}") from e
    return MetadataChangeProposalWrapper(entityUrn=proposal.entityUrn, aspect=aspect)


def is_patch(proposal: Any) -> bool:
    """True for a PATCH proposal (the SDK's patch builders return ``MetadataChangeProposalClass`` objects)."""
    return str(getattr(proposal, "changeType", "")) == "PATCH"


def _key_of(element: dict[str, Any], key_field: str) -> str:
    value: Any = element
    for part in key_field.split(UNIT_SEPARATOR):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _array_to_map(array: list[Any], key_fields: list[str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for element in array:
        if not key_fields:
            nested[str(element)] = element
            continue
        level = nested
        for key_field in key_fields:
            level = level.setdefault(_key_of(element, key_field), {})
        level.update(element)
    return nested


def _map_to_array(nested: Any, depth: int) -> list[Any]:
    if nested is None:
        return []
    if isinstance(nested, list):  # a ``replace``/``add`` of the whole field
        return nested
    if depth == 0:
        return [nested]
    return [element for value in nested.values() for element in _map_to_array(value, depth - 1)]


def _create_parents(document: dict[str, Any], path: str) -> None:
    import jsonpatch

    parts = jsonpatch.JsonPointer(path).parts[:-1]
    level: Any = document
    for part in parts:
        if not isinstance(level, dict):
            return
        level = level.setdefault(part, {})
