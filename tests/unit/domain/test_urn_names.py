"""URN name parts: ordinary names unchanged, distinct names never share a URN, every URN within DataHub's limit."""

from __future__ import annotations

from datahub.emitter.mce_builder import make_data_flow_urn, make_data_job_urn_with_flow, make_dataset_urn
from hypothesis import given
from hypothesis import strategies as st

from flytelineage.domain.urn_names import (
    URN_MAX_BYTES,
    escape,
    field_name,
    flow_name,
    flyte_dataset_name,
    instance_id,
    name_part,
)

ORDINARY = st.from_regex(r"[A-Za-z0-9_]{1,30}", fullmatch=True)
ANY = st.text(alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(".-,()%[]\u241f"), min_size=1)

TABLE = [
    (escape("a,b"), "a%2Cb"),
    (escape("a%2Cb"), "a%252Cb"),
    (escape("a(b)"), "a%28b%29"),
    (flow_name("a.b", "c", "app.wf"), "a%2Eb.c.app.wf"),
    (flow_name("a", "b.c", "app.wf"), "a.b%2Ec.app.wf"),
    (instance_id("my-proj", "dev", "x"), "my%2Dproj-dev-x"),
    (instance_id("p", "d", "x-y"), "p-d-x%2Dy"),
    (instance_id("p", "d", "x", "y"), "p-d-x-y"),
    (field_name("a.[type=int]b"), "a%2E%5Btype=int%5Db"),
]


def test_table() -> None:
    for got, expected in TABLE:
        assert got == expected


@given(ORDINARY, ORDINARY, ORDINARY, ORDINARY)
def test_ordinary_names_are_unchanged(p: str, d: str, w: str, n: str) -> None:
    assert flow_name(p, d, w) == f"{p}.{d}.{w}"
    assert instance_id(p, d, w, n) == f"{p}-{d}-{w}-{n}" and instance_id(p, d, w) == f"{p}-{d}-{w}"
    assert flyte_dataset_name(p, d, w, n) == f"{p}.{d}.{w}.{n}"
    assert name_part(w) == w and field_name(w) == w


@given(st.tuples(ANY, ANY, ANY), st.tuples(ANY, ANY, ANY))
def test_distinct_flows_and_runs_never_collide(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    if a != b:
        assert flow_name(*a) != flow_name(*b)
        assert instance_id(*a) != instance_id(*b)
        assert instance_id(*a, "n0") != instance_id(*b, "n0")
    assert instance_id(*a) != instance_id(a[0], a[1], a[2], "n0")


@given(ANY, ANY)
def test_distinct_names_give_distinct_urns(a: str, b: str) -> None:
    if a != b:
        assert make_dataset_urn("flyte", name_part(a, 400), "PROD") != make_dataset_urn(
            "flyte", name_part(b, 400), "PROD"
        )
        assert field_name(a) != field_name(b)


@given(st.text(min_size=1, max_size=3000), st.text(min_size=1, max_size=3000), ORDINARY)
def test_urns_stay_within_datahub_limit(project: str, workflow: str, task: str) -> None:
    flow = make_data_flow_urn("flyte", flow_name(project, "development", workflow), "prod")
    job = make_data_job_urn_with_flow(flow, name_part(workflow * 3))
    dataset = make_dataset_urn("flyte", flyte_dataset_name(project, "development", workflow, task), "PROD")
    for urn in (flow, job, dataset):
        assert len(urn.encode("utf-8")) <= URN_MAX_BYTES
