"""The hard limits on what resolving one execution may read and expand (one place for their defaults).

Resolution reads objects that anyone able to run a Flyte task can shape: LiteralMaps, offloaded literals, Parquet
footers, dataset directories. Each limit turns an input that would exhaust memory or time into a problem recorded on
its execution; the rest of that execution and every other execution are resolved as usual. The Variable keys of the
same names (``lineage_settings``) set them; the README's configuration reference and docs/operations.md say why
each default is what it is.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """What one grouping run may read and expand, per object or per execution."""

    max_literal_bytes: int = 64 * MIB
    """Per object: the largest LiteralMap or offloaded literal read (a larger one is not downloaded at all: at most
    this many bytes + 1 are requested). Propeller offloads literals from 10 MB by default, so 64 MiB leaves room
    while a parsed object still fits in a few hundred MiB."""
    max_literals: int = 250_000
    """Per execution: literals walked while searching its LiteralMaps for datasets, an offloaded literal counting
    at every place it is used, and each value inside a dataclass counting as one per 100 bytes of its encoding.
    One offloaded literal reached 2.56 million times cost about 340 MiB and 25 s to resolve at 1,000,000, and about
    82 MiB and 3 to 8 s at 250,000 (bench/literal_bombs.py), while a map task over 100,000 items still fits."""
    max_literal_depth: int = 64
    """Per execution: nesting levels of collections, maps, unions and offloaded literals below a variable."""
    max_footer_bytes: int = 16 * MIB
    """Per file: the longest Parquet footer read (a file claiming a longer one gets no schema from its data)."""
    max_dataset_reads: int = 1_000
    """Per execution: datasets whose data is looked at for a schema (a directory listing, a footer or header read
    each); the others, in sorted order of their URIs, keep the columns their literals declare."""


DEFAULT_LIMITS = ReadLimits()
