"""The persisted ``executions/`` format: gzip-compressed JSON Lines, one resolved execution per line.

``group_executions`` writes the resolved executions of a data interval as shards in this format; the target tasks
(``push_datahub``, ``register_glue``) each read one shard. The line format is ``lineage_model.execution_to_dict``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable

from flytelineage.domain.lineage_model import Execution, execution_from_dict, execution_to_dict


def executions_to_jsonl_gz(executions: Iterable[Execution]) -> bytes:
    """Serialize executions to deterministic gzip JSON Lines (stable key order, no timestamp in the gzip header)."""
    lines = [json.dumps(execution_to_dict(e), sort_keys=True, separators=(",", ":")) for e in executions]
    text = "".join(line + "\n" for line in lines)
    return gzip.compress(text.encode("utf-8"), mtime=0)


def executions_from_jsonl_gz(data: bytes) -> list[Execution]:
    """Parse a shard written by ``executions_to_jsonl_gz``."""
    text = gzip.decompress(data).decode("utf-8")
    return [execution_from_dict(json.loads(line)) for line in text.splitlines() if line.strip()]
