"""Node ids and child execution names computed the way flytepropeller computes them.

Propeller joins the non-empty prefix of its parts with `-`; when the result is longer than the limit (20) it replaces
it with `"f"` followed by the unpadded base32 (alphabet `a-z1-6`) of an FNV-1a hash of the joined string: 32-bit for
node ids (8 characters in total), 64-bit for launch-plan child executions of workflows with definition version 1,
which is what propeller stamps on every new workflow (14 characters in total).
"""

from __future__ import annotations

import base64

MAX_UNIQUE_ID_LENGTH = 20

_STANDARD_B32 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_PROPELLER_B32 = b"abcdefghijklmnopqrstuvwxyz123456"
_B32_TRANSLATION = bytes.maketrans(_STANDARD_B32, _PROPELLER_B32)

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3


def fnv1a(data: bytes, bits: int = 32) -> bytes:
    """Return the big-endian FNV-1a digest of `data` (`bits` is 32 or 64), as Go's `hash/fnv` `Sum(nil)` does."""
    if bits == 32:
        value, prime, mask = _FNV32_OFFSET, _FNV32_PRIME, 0xFFFFFFFF
    elif bits == 64:
        value, prime, mask = _FNV64_OFFSET, _FNV64_PRIME, 0xFFFFFFFFFFFFFFFF
    else:
        raise ValueError(f"unsupported FNV width {bits}")
    for byte in data:
        value = ((value ^ byte) * prime) & mask
    return value.to_bytes(bits // 8, "big")


def propeller_base32(data: bytes) -> str:
    """Unpadded base32 with propeller's lowercase alphabet (`a-z` then `1-6`)."""
    return base64.b32encode(data).translate(_B32_TRANSLATION).rstrip(b"=").decode("ascii")


def fixed_length_unique_id(input_id: str, max_length: int = MAX_UNIQUE_ID_LENGTH, *, bits: int = 32) -> str:
    """Return `input_id` unchanged when it fits in `max_length`, else `"f"` + base32(fnv1a(input_id))."""
    if len(input_id) <= max_length:
        return input_id
    hashed = "f" + propeller_base32(fnv1a(input_id.encode("utf-8"), bits))
    if len(hashed) > max_length:
        raise ValueError(f"max length {max_length} is too small for a hashed id")
    return hashed


def join_id_parts(parts: list[str]) -> str:
    """Join like propeller: a `-` goes before a part only once something non-empty has been written."""
    joined = ""
    for index, part in enumerate(parts):
        if index > 0 and joined:
            joined += "-"
        joined += part
    return joined


def fixed_length_unique_id_for_parts(
    parts: list[str], max_length: int = MAX_UNIQUE_ID_LENGTH, *, bits: int = 32
) -> str:
    """`FixedLengthUniqueIDForParts`: join `parts`, then shorten with a hash if the result is too long."""
    return fixed_length_unique_id(join_id_parts(parts), max_length, bits=bits)


def node_unique_id(spec_node_id: str, parent_unique_id: str | None = None, parent_attempt: int = 0) -> str:
    """The `node_id` propeller reports for `spec_node_id`, nested under `parent_unique_id` (None = top level)."""
    if parent_unique_id is None:
        return fixed_length_unique_id_for_parts(["", "", spec_node_id])
    return fixed_length_unique_id_for_parts([parent_unique_id, str(parent_attempt), spec_node_id])


def child_execution_name(parent_execution_name: str, node_id: str, attempt: int = 0, *, bits: int = 64) -> str:
    """Name of the execution a launch-plan node starts (`bits=32` for workflow definition version 0)."""
    return fixed_length_unique_id_for_parts([parent_execution_name, node_id, str(attempt)], bits=bits)
