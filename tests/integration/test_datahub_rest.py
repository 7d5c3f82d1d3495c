"""The hook against a local stand-in for DataHub GMS: what it sends, how it batches, retries and fails."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from datahub.emitter.aspect import ASPECT_MAP
from datahub.emitter.rest_emitter import BATCH_INGEST_MAX_PAYLOAD_LENGTH, INGEST_MAX_PAYLOAD_BYTES
from datahub.emitter.serialization_helper import post_json_transform
from datahub.metadata.schema_classes import MetadataChangeProposalClass

from flytelineage.domain.datahub_mcps import build_mcps
from flytelineage.errors import TargetError
from flytelineage.hooks.datahub_emitter_hook import DataHubEmitterHook
from flytelineage.testing import lineage_samples
from flytelineage.testing.fake_gms import FakeGms

TOKEN = "fake-gms-token"


@pytest.fixture
def gms(fake_gms: FakeGms, monkeypatch: pytest.MonkeyPatch) -> FakeGms:
    """The fake GMS (``tests.fake_gms``) behind connection ``datahub_rest``."""
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_REST", fake_gms.connection(password=TOKEN, retry_max_times=1))
    return fake_gms


def emit(mcps: list[Any]) -> Any:
    """Emit through a fresh hook on connection ``datahub_rest``."""
    hook = DataHubEmitterHook(datahub_conn_id="datahub_rest")
    try:
        return hook.emit_all(mcps)
    finally:
        hook.close()


def sample_mcps(count: int = 6) -> list[Any]:
    """Proposals of ``count`` distinct sample executions."""
    return [m for e in lineage_samples.many_executions(count) for m in build_mcps(e)]


def test_every_proposal_arrives_and_parses_back(gms: FakeGms) -> None:
    mcps = sample_mcps()
    report = emit(mcps)
    assert report.proposals == len(mcps) and report.target == f"datahub-rest:{gms.url}"
    received = [p for batch in gms.batches() for p in batch]
    assert len(received) == len(mcps)
    for sent, obj in zip(mcps, received, strict=True):
        proposal = MetadataChangeProposalClass.from_obj(obj)
        assert proposal.validate()
        assert (proposal.entityUrn, proposal.aspectName, proposal.changeType) == (
            sent.entityUrn,
            sent.aspectName,
            "UPSERT",
        )
        # the emitter sends unions in DataHub's simplified JSON; undo that like GMS clients do
        aspect = ASPECT_MAP[obj["aspectName"]].from_obj(post_json_transform(json.loads(obj["aspect"]["value"])))
        assert aspect.validate() and aspect.to_obj() == sent.aspect.to_obj()
    assert gms.requests and all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in gms.requests)


def test_batches_respect_the_sdk_limits(gms: FakeGms) -> None:
    mcps = sample_mcps(40)
    assert len(mcps) > 3 * BATCH_INGEST_MAX_PAYLOAD_LENGTH
    report = emit(mcps)
    sizes = [len(batch) for batch in gms.batches()]
    assert sum(sizes) == len(mcps)
    assert max(sizes) == BATCH_INGEST_MAX_PAYLOAD_LENGTH
    assert report.calls == len(sizes) == -(-len(mcps) // BATCH_INGEST_MAX_PAYLOAD_LENGTH)
    assert all(len(r.data) <= INGEST_MAX_PAYLOAD_BYTES for r in gms.ingests())


def test_a_503_is_retried_then_succeeds(gms: FakeGms) -> None:
    gms.policy = lambda index, body: 503 if index == 0 else 200
    mcps = sample_mcps(1)
    emit(mcps)
    ingests = gms.ingests()
    assert [r.status for r in ingests[:2]] == [503, 200]
    assert ingests[0].data == ingests[1].data  # the same batch was sent again
    assert sum(len(b) for b in gms.batches()) == len(mcps)


def test_a_persistent_failure_raises_after_the_whole_batch(gms: FakeGms) -> None:
    first_urn = sample_mcps(1)[0].entityUrn

    def fail_first_chunk(index: int, body: dict[str, Any]) -> int:
        return 500 if body["proposals"][0]["entityUrn"] == first_urn else 200

    gms.policy = fail_first_chunk
    mcps = sample_mcps(10)
    with pytest.raises(TargetError, match=r"failed 1 write\(s\) out of a batch of \d+ proposals") as raised:
        emit(mcps)
    assert "proposals 0-199" in str(raised.value) and "datahub_rest" in str(raised.value)
    # the later chunks were still delivered before the error was raised
    assert sum(len(b) for b in gms.batches()) == len(mcps) - BATCH_INGEST_MAX_PAYLOAD_LENGTH


def test_unreachable_gms_is_a_target_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket_free_port() as port:
        conn = {"conn_type": "datahub_rest", "host": f"http://127.0.0.1:{port}", "extra": {"retry_max_times": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_DATAHUB_REST", json.dumps(conn))
    with pytest.raises(TargetError, match="Cannot reach DataHub GMS"):
        emit(sample_mcps(1))


class socket_free_port:  # lowercase: reads as a function in `with socket_free_port() as port`
    """A port that was free a moment ago (nothing listens on it)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_the_token_never_reaches_logs_or_errors(gms: FakeGms, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emit(sample_mcps(1))
    gms.policy = lambda index, body: 500
    with pytest.raises(TargetError) as raised:
        emit(sample_mcps(1))
    assert TOKEN not in caplog.text
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value.__cause__)
