"""Dataset names: distinct (project, domain, task, variable path components) never share a name, a DataHub URN, a
Glue table or an OpenLineage dataset; plain names are unchanged. Concrete cases, then properties over generated
names with dots, percent signs, colons, commas, parentheses and unicode."""

from __future__ import annotations

from typing import Any

from datahub.emitter.mce_builder import make_dataset_urn
from hypothesis import given, settings
from hypothesis import strategies as st

from flytelineage.domain.datahub_mcps import dataset_urn
from flytelineage.domain.execution_grouping import order_events
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.glue_tables import GLUE_NAME_PATTERN, plan_glue_tables, stable_hash, table_name
from flytelineage.domain.lineage_model import (
    Dataset,
    DatasetUse,
    Execution,
    ExecutionId,
    NodeRun,
    SchemaField,
    TaskRef,
)
from flytelineage.domain.literal_datasets import find_datasets
from flytelineage.domain.openlineage_events import dataset_location
from flytelineage.domain.urn_names import DATASET_NAME_MAX_BYTES, flyte_dataset_name, path_component, variable_path
from flytelineage.testing import flyte_literals as lit
from flytelineage.testing.in_memory_objects import InMemoryObjectReader
from tests.unit.domain.event_rows import row, table

# ---- concrete cases -------------------------------------------------------------------------------------------------

COMPONENTS = [
    ("o0", "o0"),
    (3, "3"),
    ("eu", "eu"),
    ("x.y", "x%2Ey"),
    ("50%", "50%25"),
    ("x%2Ey", "x%252Ey"),
    ("a:b", "a%3Ab"),
    ("a,b", "a%2Cb"),
    ("f(x)", "f%28x%29"),
    ("café", "café"),
    ("", ""),
]


def test_path_components() -> None:
    for component, expected in COMPONENTS:
        assert path_component(component) == expected, component


NAMES = [
    # one component: ``P.D.<task>.<output>``, as before
    (("p", "d", "app.wf.extract", ("o0",)), "p.d.app.wf.extract.o0"),
    # levels: ``P.D.<task>:<path>``, so a dotted task and a dotted path cannot trade components
    (("p", "d", "a.b", ("c", "d")), "p.d.a.b:c.d"),
    (("p", "d", "a.b.c", ("d",)), "p.d.a.b.c.d"),
    (("p", "d", "a", ("b", "c", "d")), "p.d.a:b.c.d"),
    # a map key with a dot vs a map inside a map
    (("p", "d", "t", ("o1", "x.y")), "p.d.t:o1.x%2Ey"),
    (("p", "d", "t", ("o1", "x", "y")), "p.d.t:o1.x.y"),
    # list elements
    (("p", "d", "t", ("o0", 0)), "p.d.t:o0.0"),
    # the separators and reserved characters inside fields
    (("a.b", "c", "t", ("o",)), "a%2Eb.c.t.o"),
    (("p", "d", "t:x", ("o",)), "p.d.t%3Ax.o"),
    (("p", "d", "t", ("a,b",)), "p.d.t.a%2Cb"),
    (("p", "d", "t", ("a%2Cb",)), "p.d.t.a%252Cb"),
]


def test_dataset_names() -> None:
    for (project, domain, task, components), expected in NAMES:
        assert flyte_dataset_name(project, domain, task, variable_path(components)) == expected


def _walked(**outputs: Any) -> list[str]:
    return [d.variable for d in find_datasets(lit.literal_map_of(outputs))]


def test_a_dotted_map_key_and_a_nested_map_get_distinct_paths() -> None:
    nested = lit.map_literal({"x.y": _sd("s3://b/1"), "x": lit.map_literal({"y": _sd("s3://b/2")})})
    assert _walked(o1=nested) == ["o1.x%2Ey", "o1.x.y"]
    record = lit.msgpack_literal({"x.y": lit.sd_value("s3://b/1"), "x": {"y": lit.sd_value("s3://b/2")}})
    assert sorted(_walked(o0=record)) == ["o0.x%2Ey", "o0.x.y"]
    assert _walked(**{"out.put": _sd("s3://b/3")}) == ["out%2Eput"]


def _sd(uri: str) -> Any:
    return lit.structured_dataset_literal(uri, {"a": lit.simple_type(1)})


def _task_run(node_id: str, task: str, output_uri: str) -> dict[str, Any]:
    entity = {"entity_type": "TASK", "entity_project": "p", "entity_domain": "d", "entity_name": task}
    return row("node", "SUCCEEDED", node_id=node_id, output_uri=output_uri, entity_version="v1", **entity)


def test_datasets_that_used_to_share_a_name_stay_apart_in_an_execution() -> None:
    """Before, ``a.b`` + ``c.d`` and ``a.b.c`` + ``d`` were one dataset (``p.d.a.b.c.d``), and so were a key ``x.y``
    and a map ``x`` holding ``y``: the lineage merged them into one node with one location."""
    objects = {
        "s3://b/1.pb": lit.literal_map_of({"c": lit.map_literal({"d": _sd("s3://b/ab-c-d")})}).SerializeToString(),
        "s3://b/2.pb": lit.literal_map_of({"d": _sd("s3://b/abc-d")}).SerializeToString(),
        "s3://b/3.pb": lit.literal_map_of(
            {"o1": lit.map_literal({"x.y": _sd("s3://b/key"), "x": lit.map_literal({"y": _sd("s3://b/nested")})})}
        ).SerializeToString(),
    }
    rows = [
        row("workflow", "SUCCEEDED", occurred=9),
        _task_run("n0", "a.b", "s3://b/1.pb"),
        _task_run("n1", "a.b.c", "s3://b/2.pb"),
        _task_run("n2", "t", "s3://b/3.pb"),
    ]
    (execution,) = resolve_executions(order_events(table(rows)), InMemoryObjectReader(objects))
    assert sorted((d.name, d.uri) for d in execution.datasets) == [
        ("p.d.a.b.c.d", "s3://b/abc-d"),
        ("p.d.a.b:c.d", "s3://b/ab-c-d"),
        ("p.d.t:o1.x%2Ey", "s3://b/key"),
        ("p.d.t:o1.x.y", "s3://b/nested"),
    ]
    urns = {dataset_urn(d, "PROD") for d in execution.datasets}
    assert len(urns) == 4
    tables = {(t.database, t.name) for t in plan_glue_tables([execution]).tables}
    assert len(tables) == 4


GLUE_TABLES = [
    (("app.split", "o1.eu"), "app_split_o1_eu"),
    (("app.split", "o1.x.y"), "app_split_o1_x_y"),
    # a path with an escape is hashed: ``o1.x%2Ey`` would otherwise read as the path ``o1.x_2ey``
    (("app.split", "o1.x%2Ey"), "app_split_o1_x_2ey_" + stable_hash("app.split\x1fo1.x%2Ey")),
    (("app.split", "o1.x_2ey"), "app_split_o1_x_2ey"),
]


def test_glue_table_names() -> None:
    for args, expected in GLUE_TABLES:
        assert table_name(*args) == expected


def test_urns_of_older_shards_are_unchanged_for_plain_names() -> None:
    """A shard written before this naming holds the plain join as the name: its URN is computed from the parts."""
    for name, task, path, expected in [
        ("p.d.app.t.o0", "app.t", "o0", "p.d.app.t.o0"),
        ("a.b.c.app.t.o0", "app.t", "o0", "a%2Eb.c.app.t.o0"),  # project a.b: escaped, as before
        ("p.d.app.t.o0.0", "app.t", "o0.0", "p.d.app.t:o0.0"),  # a path with levels: named by this version's rule
    ]:
        project = "a.b" if name.startswith("a.b") else "p"
        domain = "c" if name.startswith("a.b") else "d"
        old = Dataset(
            "flyte", name, "s3://b/x", "blob", producer_task=task, output_name=path, project=project, domain=domain
        )
        assert dataset_urn(old, "PROD") == f"urn:li:dataset:(urn:li:dataPlatform:flyte,{expected},PROD)"


# ---- properties -----------------------------------------------------------------------------------------------------

# Text with the characters that matter (separators, escapes, reserved, unicode) made likely.
TRICKY = st.text(
    alphabet=st.sampled_from("ab.%:,()_-2E3AC é数🙂\u241f\x1f") | st.characters(blacklist_categories=("Cs",)),
    max_size=8,
)
NONEMPTY = TRICKY.filter(bool)
COMPONENT = st.one_of(TRICKY, st.integers(min_value=0, max_value=12))
IDENTITY = st.tuples(NONEMPTY, NONEMPTY, NONEMPTY, st.lists(COMPONENT, min_size=1, max_size=4).map(tuple))


@st.composite
def _regrouped(draw: st.DrawFn) -> tuple[Any, Any]:
    """Two identities cut from one sequence of words: the dotted spellings that collided are likely, not rare.

    The words go, in order, to the project, domain, task (joined by dots) and path components; each identity cuts
    them at its own places, and may glue two neighbouring components into one holding a dot (a key ``x.y``).
    """
    words = draw(st.lists(TRICKY, min_size=4, max_size=7))

    def cut() -> Any:
        i, j, k = sorted(draw(st.lists(st.integers(1, len(words) - 1), min_size=3, max_size=3)))
        components = list(words[k:])
        if len(components) > 1 and draw(st.booleans()):
            components[:2] = [f"{components[0]}.{components[1]}"]
        return ".".join(words[:i]), ".".join(words[i:j]), ".".join(words[j:k]), tuple(components)

    return cut(), cut()


def _name(identity: tuple[str, str, str, tuple[str | int, ...]]) -> str:
    project, domain, task, components = identity
    return flyte_dataset_name(project, domain, task, variable_path(components))


def _canonical(identity: tuple[str, str, str, tuple[str | int, ...]]) -> tuple[str, str, str, tuple[str, ...]]:
    """A list index ``3`` and a map key ``"3"`` are one path component (the path says ``.3`` for both)."""
    project, domain, task, components = identity
    return project, domain, task, tuple(str(c) for c in components)


@settings(max_examples=400)
@given(st.one_of(_regrouped(), st.tuples(IDENTITY, IDENTITY)))
def test_distinct_identities_never_share_a_name_or_urn(pair: tuple[Any, Any]) -> None:
    a, b = pair
    if _canonical(a) != _canonical(b):
        assert _name(a) != _name(b)
        assert make_dataset_urn("flyte", _name(a), "PROD") != make_dataset_urn("flyte", _name(b), "PROD")


@given(
    st.from_regex(r"[a-z][a-z0-9_]{0,12}(\.[a-z][a-z0-9_]{0,12}){0,3}", fullmatch=True),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
)
def test_plain_single_outputs_keep_their_name(task: str, output: str) -> None:
    assert _name(("flytesnacks", "development", task, (output,))) == f"flytesnacks.development.{task}.{output}"


def _produced(execution_name: str, identities: list[Any]) -> Execution:
    nodes, datasets = [], []
    for index, (project, domain, task, components) in enumerate(identities):
        path = variable_path(components)
        dataset = Dataset(
            platform="flyte",
            name=flyte_dataset_name(project, domain, task, path),
            uri=f"s3://b/{execution_name}/{index}",
            kind="structured_dataset",
            format="parquet",
            fields=(SchemaField("a", "int64"),),
            schema_source="literal_type",
            producer_task=task,
            output_name=path,
            project=project,
            domain=domain,
        )
        datasets.append(dataset)
        nodes.append(
            NodeRun(
                node_id=f"n{index}",
                kind="task",
                phase="SUCCEEDED",
                result="SUCCESS",
                task=TaskRef(project, domain, task),
                outputs=(DatasetUse(path, dataset.key),),
            )
        )
    return Execution(
        id=ExecutionId("p", "d", execution_name),
        workflow_name="wf",
        phase="SUCCEEDED",
        nodes=tuple(nodes),
        datasets=tuple(sorted(set(datasets))),
    )


@settings(max_examples=150)
@given(_regrouped(), st.lists(IDENTITY, max_size=4), st.booleans())
def test_distinct_datasets_of_one_plan_get_distinct_glue_tables(
    pair: tuple[Any, Any], others: list[Any], override: bool
) -> None:
    identities = list({_canonical(i): i for i in [*pair, *others]}.values())
    execution = _produced("e1", identities)
    plan = plan_glue_tables([execution], database_override="lake" if override else None)
    placed = {(t.database, t.name): t.table_input["Parameters"]["flyte.dataset"] for t in plan.tables}
    assert plan.skipped == ()
    assert sorted(placed.values()) == sorted(_name(i) for i in identities)  # one table each, none shared
    assert all(GLUE_NAME_PATTERN.fullmatch(db) and GLUE_NAME_PATTERN.fullmatch(name) for db, name in placed)


@given(st.one_of(_regrouped(), st.tuples(IDENTITY, IDENTITY)))
def test_openlineage_names_of_distinct_datasets_differ(pair: tuple[Any, Any]) -> None:
    """Datasets are named by location; one without a location keeps its (injective) logical name."""
    a, b = pair
    if _canonical(a) != _canonical(b):
        first = Dataset("flyte", _name(a), "", "structured_dataset")
        second = Dataset("flyte", _name(b), "", "structured_dataset")
        assert dataset_location(first) != dataset_location(second)


def test_long_names_are_capped_and_stay_distinct() -> None:
    long_task = "app." + "x" * 500
    first, second = _name(("p", "d", long_task, ("o0",))), _name(("p", "d", long_task, ("o1",)))
    assert first != second
    assert all(len(n.encode("utf-8")) <= DATASET_NAME_MAX_BYTES for n in (first, second))


KEY = st.sampled_from(["a", "b", "a.b", "b.a", "a%2Eb", "a:b", ""])
"""Map keys and field names that spell each other's paths when the components are not escaped."""


def _tree(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nested maps and lists of ``leaf``, with keys that spell each other's paths when dots are not escaped."""
    return st.recursive(
        leaf, lambda inner: st.dictionaries(KEY, inner, max_size=3) | st.lists(inner, max_size=2), max_leaves=8
    )


def _literal(value: Any, uris: list[str]) -> Any:
    """The Flyte literal of a tree: maps and collections of structured datasets, each with its own location."""
    if isinstance(value, dict):
        return lit.map_literal({key: _literal(sub, uris) for key, sub in value.items()})
    if isinstance(value, list):
        return lit.collection_literal([_literal(sub, uris) for sub in value])
    uris.append(f"s3://b/{len(uris)}")
    return _sd(uris[-1])


def _record(value: Any, uris: list[str]) -> Any:
    """The msgpack value of a tree as a dataclass field holds it: dicts and lists of serialized datasets."""
    if isinstance(value, dict):
        return {key: _record(sub, uris) for key, sub in value.items()}
    if isinstance(value, list):
        return [_record(sub, uris) for sub in value]
    uris.append(f"s3://b/{len(uris)}")
    return lit.sd_value(uris[-1])


@settings(max_examples=300)
@given(st.dictionaries(KEY.filter(bool), _tree(st.none()), min_size=1, max_size=3), st.booleans())
def test_every_dataset_of_a_literal_map_gets_its_own_path_and_element(outputs: dict[str, Any], as_record: bool) -> None:
    uris: list[str] = []
    if as_record:
        literals = {name: lit.msgpack_literal(_record(value, uris)) for name, value in outputs.items()}
    else:
        literals = {name: _literal(value, uris) for name, value in outputs.items()}
    found = find_datasets(lit.literal_map_of(literals))
    assert sorted(d.uri for d in found) == sorted(uris)
    # list items share their list's path and differ by their element (list indices)
    assert len({(d.variable, d.element) for d in found}) == len(found)
