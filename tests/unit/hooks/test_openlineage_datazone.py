"""``OpenLineageHook`` over ``amazon-datazone`` through botocore's Stubber (no emulator has DataZone).

The Stubber checks every ``PostLineageEvent`` request against the DataZone service model shipped with botocore
(required members, types, minimum lengths) before answering it. A recorder on the client's parameter-build event
serializes each request with botocore's own REST-JSON serializer, so the tests read what would have gone on the
wire (path, ``Client-Token`` header, body).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.serialize import create_serializer
from botocore.stub import Stubber

from flytelineage.domain.lineage_model import execution_from_dict, execution_to_dict
from flytelineage.domain.openlineage_events import build_shard_events, event_json
from flytelineage.errors import TargetError
from flytelineage.hooks.openlineage_hook import DATAZONE_MAX_EVENT_BYTES, OpenLineageHook
from flytelineage.testing import lineage_samples

DOMAIN = "dzd_4p9n6ffbvnqpjz"
TOKEN = re.compile(r"[\x21-\x7E]{1,128}")


@pytest.fixture
def datazone_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    """An ``amazon-datazone`` connection whose AWS side is connection ``aws_dz`` (fake keys, eu-west-1)."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DZ", json.dumps({"conn_type": "aws", "extra": {"region_name": "eu-west-1"}}))
    conn = {"conn_type": "amazon-datazone", "extra": {"domain_id": DOMAIN, "aws_conn_id": "aws_dz"}}
    monkeypatch.setenv("AIRFLOW_CONN_OPENLINEAGE_DZ", json.dumps(conn))
    return "openlineage_dz"


class Recorder:
    """The DataZone requests a client made: the API parameters, and the HTTP request botocore serializes from them."""

    def __init__(self, client: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        self._model = client.meta.service_model.operation_model("PostLineageEvent")
        self._serializer = create_serializer(client.meta.service_model.metadata["protocol"])
        client.meta.events.register("before-parameter-build.datazone.PostLineageEvent", self._record)

    def _record(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.requests.append(self._serializer.serialize_to_request(dict(params), self._model))


def _emit(conn_id: str, events: list[Any], errors: dict[int, str] | None = None) -> tuple[list[dict[str, Any]], Any]:
    """Emit through the hook with every call stubbed; return the recorded requests and the raised error, if any."""
    hook = OpenLineageHook(openlineage_conn_id=conn_id)
    client = hook.get_conn().client  # type: ignore[attr-defined]
    assert client.meta.region_name == "eu-west-1"
    recorder = Recorder(client)
    raised = None
    with Stubber(client) as stubber:
        for i, event in enumerate(events):
            if len(event_json(event).encode()) > DATAZONE_MAX_EVENT_BYTES:
                continue
            if errors and i in errors:
                stubber.add_client_error("post_lineage_event", service_error_code=errors[i], http_status_code=400)
            else:
                stubber.add_response("post_lineage_event", {"id": f"evt-{i}", "domainId": DOMAIN})
        try:
            hook.emit_all(events)
        except TargetError as e:
            raised = e
        stubber.assert_no_pending_responses()
    hook.close()
    return recorder.requests, raised


def _fresh_shard() -> list[Any]:
    """The samples' events, built from executions that went through the persisted format (as a replay reads them)."""
    executions = [
        execution_from_dict(json.loads(json.dumps(execution_to_dict(e)))) for e in lineage_samples.all_samples()
    ]
    return build_shard_events(executions)


@pytest.fixture
def shard_events() -> Iterator[list[Any]]:
    yield _fresh_shard()


def test_every_event_is_one_valid_post_with_a_stable_client_token(datazone_conn: str, shard_events: list[Any]) -> None:
    first, raised = _emit(datazone_conn, shard_events)
    assert raised is None
    assert len(first) == len(shard_events)
    for request, event in zip(first, shard_events, strict=True):
        assert request["url_path"] == f"/v2/domains/{DOMAIN}/lineage/events"
        assert json.loads(request["body"]) == json.loads(event_json(event))
        assert len(request["body"]) <= DATAZONE_MAX_EVENT_BYTES
        assert TOKEN.fullmatch(request["headers"]["Client-Token"])
    tokens = [r["headers"]["Client-Token"] for r in first]
    assert len(set(tokens)) == len(tokens), "distinct events get distinct tokens"

    replay, raised = _emit(datazone_conn, _fresh_shard())
    assert raised is None
    assert [r["headers"]["Client-Token"] for r in replay] == tokens
    assert [r["body"] for r in replay] == [r["body"] for r in first]


def test_rejected_posts_fail_the_batch_after_every_event_was_tried(datazone_conn: str, shard_events: list[Any]) -> None:
    requests, raised = _emit(datazone_conn, shard_events, errors={0: "AccessDeniedException", 5: "ThrottlingException"})
    assert len(requests) == len(shard_events)
    assert raised is not None
    message = str(raised)
    assert f"failed 2 of {len(shard_events)} events" in message
    assert "AccessDeniedException" in message and "ThrottlingException" in message
    assert "testing" not in message, "no credential in the error"


def test_an_event_over_the_limit_is_reported_not_sent(datazone_conn: str, shard_events: list[Any]) -> None:
    import copy

    from openlineage.client.facet_v2 import documentation_job

    big = copy.deepcopy(shard_events[0])
    big.job.facets["documentation"] = documentation_job.DocumentationJobFacet(description="x" * 300_001)  # type: ignore[index]
    requests, raised = _emit(datazone_conn, [big, *shard_events[1:3]])
    assert len(requests) == 2
    assert raised is not None and "event 0 (START of run" in str(raised) and "over the backend's 300000" in str(raised)


def test_the_hook_reports_the_datazone_limit(datazone_conn: str) -> None:
    assert OpenLineageHook(openlineage_conn_id=datazone_conn).max_event_bytes == 300_000
