"""An ``ObjectReader`` over a dict of ``uri -> bytes``: for tests, benchmarks and replaying generated scenarios.

It behaves like blob storage: directories are key prefixes, missing objects are ``FileNotFoundError`` values, and
it records every request so tests can assert that each URI is read at most once per phase.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class InMemoryObjectReader:
    """Serve reads from ``objects``; ``calls`` logs ``(method, uris, nbytes)`` for every request."""

    objects: Mapping[str, bytes]
    calls: list[tuple[str, tuple[str, ...], int | None]] = field(default_factory=list)

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        """Whole objects; a missing one maps to ``FileNotFoundError``."""
        self.calls.append(("read_objects", tuple(uris), None))
        return {uri: self._get(uri) for uri in uris}

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Sequence[str] | Exception]:
        """Keys under each prefix (a trailing ``/`` is implied); an empty listing is ``FileNotFoundError``."""
        self.calls.append(("list_files", tuple(dir_uris), None))
        result: dict[str, Sequence[str] | Exception] = {}
        ordered = sorted(self.objects)  # once per call: each prefix is then a range found by bisection, as in S3
        for uri in dir_uris:
            prefix = uri.rstrip("/") + "/"
            keys = []
            index = bisect.bisect_left(ordered, prefix)
            while index < len(ordered) and ordered[index].startswith(prefix):
                keys.append(ordered[index])
                index += 1
            result[uri] = keys if keys else FileNotFoundError(f"no objects under {prefix}")
        return result

    def read_tails(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        """The last ``nbytes`` of each object (all of it when shorter)."""
        self.calls.append(("read_tails", tuple(file_uris), nbytes))
        result: dict[str, bytes | Exception] = {}
        for uri in file_uris:
            value = self._get(uri)
            result[uri] = value[-nbytes:] if isinstance(value, bytes) else value
        return result

    def read_heads(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        """The first ``nbytes`` of each object (all of it when shorter)."""
        self.calls.append(("read_heads", tuple(file_uris), nbytes))
        result: dict[str, bytes | Exception] = {}
        for uri in file_uris:
            value = self._get(uri)
            result[uri] = value[:nbytes] if isinstance(value, bytes) else value
        return result

    def _get(self, uri: str) -> bytes | Exception:
        data = self.objects.get(uri)
        return data if data is not None else FileNotFoundError(f"no object {uri}")
