"""Crafted LiteralMap contents that once exhausted memory or time, for the limit tests and ``bench/literal_bombs.py``.

Each ``Bomb`` is one variable's literal plus the objects it needs (offloaded literals, data files) under ``base``. The
tests put it beside good variables and check that only a problem comes out; the benchmark measures the cost.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from flyteidl.core import literals_pb2

from flytelineage.testing import flyte_literals as lit

PAR1 = b"PAR1"


@dataclass(frozen=True)
class Bomb:
    """A variable's ``literal`` and the ``objects`` (uri -> bytes) it refers to."""

    name: str
    literal: literals_pb2.Literal
    objects: dict[str, bytes] = field(default_factory=dict)


def offloaded_ref(uri: str) -> literals_pb2.Literal:
    """A literal standing for the serialized ``core.Literal`` at ``uri`` (propeller's ``offloaded_metadata``)."""
    return literals_pb2.Literal(offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(uri=uri))


def self_reference(base: str, n: int = 20) -> Bomb:
    """An offloaded literal that is a list of ``n`` references to itself (about n^4 literals when copied in place)."""
    uri = f"{base}/self_offloaded_metadata.pb"
    content = lit.collection_literal([offloaded_ref(uri) for _ in range(n)])
    return Bomb("self_reference", offloaded_ref(uri), {uri: content.SerializeToString()})


def cycle(base: str) -> Bomb:
    """Offloaded literal A is a list holding B, B a list holding A (and a dataset, to show B is still searched)."""
    a, b = f"{base}/a_offloaded_metadata.pb", f"{base}/b_offloaded_metadata.pb"
    content_a = lit.collection_literal([offloaded_ref(b)])
    content_b = lit.collection_literal([lit.structured_dataset_literal(f"{base}/in_b"), offloaded_ref(a)])
    objects = {a: content_a.SerializeToString(), b: content_b.SerializeToString()}
    return Bomb("cycle", offloaded_ref(a), objects)


def fan_out(base: str, n: int = 40, levels: int = 4) -> Bomb:
    """``levels`` offloaded literals, each a list of ``n`` references to the next, the last referring to a dataset.
    Acyclic, so each object is read once, but the dataset is reached n^levels times (2.56 million for 40 and 4)."""
    uris = [f"{base}/level{i}_offloaded_metadata.pb" for i in range(levels + 1)]
    objects = {uris[-1]: lit.structured_dataset_literal(f"{base}/leaf").SerializeToString()}
    for i in range(levels):
        objects[uris[i]] = lit.collection_literal([offloaded_ref(uris[i + 1]) for _ in range(n)]).SerializeToString()
    return Bomb("fan_out", offloaded_ref(uris[0]), objects)


def deep_chain(base: str, hops: int = 40, nesting: int = 10) -> Bomb:
    """``hops`` offloaded literals, each ``nesting`` lists deep around a reference to the next: deeper than any
    single object may be (protobuf refuses about 50 levels), reached through offloading."""
    uris = [f"{base}/deep{i}_offloaded_metadata.pb" for i in range(hops)]
    objects: dict[str, bytes] = {}
    for i, uri in enumerate(uris):
        inner = offloaded_ref(uris[i + 1]) if i + 1 < hops else lit.structured_dataset_literal(f"{base}/bottom")
        for _ in range(nesting):
            inner = lit.collection_literal([inner])
        objects[uri] = inner.SerializeToString()
    return Bomb("deep_chain", offloaded_ref(uris[0]), objects)


def many_datasets(base: str, n: int = 20_000) -> Bomb:
    """A list of ``n`` structured datasets in distinct directories (about 845 KB for 20,000): one listing each."""
    items = [lit.structured_dataset_literal(f"{base}/many/{i:06d}") for i in range(n)]
    return Bomb("many_datasets", lit.collection_literal(items))


def huge_footer(base: str, claimed: int = 0xFFFF_FFFF, size: int = 70_000) -> Bomb:
    """A Parquet-looking file of ``size`` bytes whose trailer claims a ``claimed``-byte footer (4 GiB by default)."""
    uri = f"{base}/huge_footer.parquet"
    data = PAR1 + b"\0" * (size - 12) + struct.pack("<I", claimed) + PAR1
    return Bomb("huge_footer", lit.blob_literal(uri, "parquet", multipart=False), {uri: data})


def large_offloaded(base: str, size: int) -> Bomb:
    """An offloaded literal of about ``size`` bytes (a string scalar), to be refused by ``max_literal_bytes``."""
    uri = f"{base}/large_offloaded_metadata.pb"
    return Bomb("large_offloaded", offloaded_ref(uri), {uri: lit.str_literal("x" * size).SerializeToString()})


BOMBS: dict[str, Callable[[str], Bomb]] = {
    "self_reference": self_reference,
    "cycle": cycle,
    "fan_out": fan_out,
    "deep_chain": deep_chain,
    "many_datasets": many_datasets,
    "huge_footer": huge_footer,
}
"""The bombs at their measured sizes, by name (``large_offloaded`` takes its size from the limit under test)."""
