"""Loaded by Python at start-up when ``bench.soak_pipeline`` puts this folder first on ``PYTHONPATH``.

With ``FLYTE_LINEAGE_SOAK_FAULTS=<rate>,<seed>`` set, a share ``rate`` of all botocore API calls of the process fail
with a transient AWS error (throttling or 5xx) before they are sent, as when botocore's own retries are exhausted.
Without the variable it does nothing.
"""

from __future__ import annotations

import os
import random
from typing import Any

_SPEC = os.environ.get("FLYTE_LINEAGE_SOAK_FAULTS", "")
_CODES = ("ThrottlingException", "InternalError", "ServiceUnavailable", "SlowDown")


def _install(rate: float, seed: int) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    rng = random.Random(seed + os.getpid())
    original = botocore.client.BaseClient._make_api_call

    def faulty(self: Any, operation_name: str, api_params: Any) -> Any:
        if rng.random() < rate:
            error = {"Code": rng.choice(_CODES), "Message": "injected by bench.soak_pipeline"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 503}}, operation_name)
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = faulty  # type: ignore[method-assign]


if _SPEC:
    _rate, _seed = _SPEC.split(",")
    _install(float(_rate), int(_seed))
