"""Golden, property and multi-run tests of grouping + resolution over the Flyte event generator's scenarios.

Regenerate the goldens with ``pytest tests/unit/domain/test_execution_lineage_scenarios.py --update-golden-files``
and review the diff.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from flyteidl.core import execution_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table
from flytelineage.domain.execution_grouping import GroupingState, split_ready
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.lineage_model import Execution, execution_to_dict
from flytelineage.testing.flyte_event_generator import (
    GeneratedExecution,
    GeneratedMessage,
    duplicate_deliveries,
    generate,
    reorder,
    scenario_names,
)
from flytelineage.testing.in_memory_objects import InMemoryObjectReader
from tests.golden_files import check_golden

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden" / "executions"
START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
RECEIVED = START + timedelta(hours=1)
AS_OF = START + timedelta(days=1)
SETTLE = timedelta(minutes=10)

SCENARIOS = scenario_names()  # every scenario has a golden file; a new one fails until its golden is reviewed


@functools.cache
def _generated(scenario: str, publisher_format: str = "external") -> GeneratedExecution:
    return generate(scenario, publisher_format=publisher_format, seed=3, start=START)


def _rows(messages: list[GeneratedMessage], received_at: datetime = RECEIVED) -> list[dict[str, Any]]:
    decoded = decode_messages([SqsMessage(m.message_id, m.body) for m in messages], received_at=received_at)
    assert decoded.quarantine == []
    return decoded.events


def _resolve(rows: list[dict[str, Any]], objects: dict[str, bytes]) -> list[Execution]:
    result = split_ready(None, events_to_table(rows), as_of=AS_OF, settle=SETTLE)
    assert result.state.pending.num_rows == 0
    return resolve_executions(result.ready, InMemoryObjectReader(objects), link_events=result.state.pending)


def _golden(executions: list[Execution]) -> list[dict[str, Any]]:
    return [execution_to_dict(e) for e in executions]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_matches_golden(scenario: str, update_golden_files: bool) -> None:
    run = _generated(scenario)
    executions = _resolve(_rows(run.messages), run.objects)
    assert executions[0].phase == run.terminal_phase
    assert len(executions) == len(run.executions)
    check_golden(GOLDEN_DIR / f"{scenario}.json", _golden(executions), update_golden_files)


def test_reordered_and_duplicated_delivery_matches_golden_and_in_order_output(update_golden_files: bool) -> None:
    run = _generated("subworkflow")
    messy = reorder(duplicate_deliveries(run.messages, seed=5, redelivery_rate=0.3, exact_rate=0.2), seed=5)
    assert len(messy) > len(run.messages)
    executions = _resolve(_rows(messy), run.objects)
    assert executions == _resolve(_rows(run.messages), run.objects)
    check_golden(GOLDEN_DIR / "reordered_duplicated.json", _golden(executions), update_golden_files)


@pytest.mark.parametrize(
    ("scenario", "publisher_format"),
    [
        ("linear", "cloudevents_v1"),
        ("linear", "cloudevents_v2"),
        ("launch_plan_child", "cloudevents_v2"),
        ("dynamic_unregistered", "cloudevents_v2"),
    ],
)
def test_cloudevent_formats_match_golden(scenario: str, publisher_format: str, update_golden_files: bool) -> None:
    run = _generated(scenario, publisher_format)
    executions = _resolve(_rows(run.messages), run.objects)
    check_golden(GOLDEN_DIR / f"{scenario}_{publisher_format}.json", _golden(executions), update_golden_files)


def _node_lineage(execution: Execution) -> dict[str, tuple[Any, ...]]:
    return {
        n.node_id: (
            n.kind,
            n.phase,
            n.result,
            n.task.name if n.task else None,
            sorted(u.dataset_key for u in n.inputs),
            sorted(u.dataset_key for u in n.outputs),
            n.upstream_node_ids,
        )
        for n in execution.nodes
    }


@pytest.mark.parametrize("publisher_format", ["cloudevents_v1", "cloudevents_v2"])
def test_nodes_whose_succeeded_event_v2_drops_keep_their_lineage(publisher_format: str) -> None:
    external = _generated("dynamic_unregistered")
    other = _generated("dynamic_unregistered", publisher_format)
    dropped = len(external.messages) - len(other.messages)
    assert dropped == (4 if publisher_format == "cloudevents_v2" else 0)
    (by_external,) = _resolve(_rows(external.messages), external.objects)
    (by_other,) = _resolve(_rows(other.messages), other.objects)
    assert _node_lineage(by_other) == _node_lineage(by_external)
    assert {d.key for d in by_other.datasets} == {d.key for d in by_external.datasets}
    assert by_other.problems == by_external.problems == ()
    nested = {n.node_id: n for n in by_other.nodes}
    assert nested["n1-0-dn0"].kind == "dynamic" and nested["n1-0-dn1"].kind == "array"
    assert all(nested[n].outputs for n in ("n1-0-dn0", "n1-0-dn0-0-dn0", "n1-0-dn0-0-dn1", "n1-0-dn1"))


def test_v2_carries_principal_and_labels_the_other_formats_do_not() -> None:
    runs = {fmt: _generated("launch_plan_child", fmt) for fmt in ("external", "cloudevents_v1", "cloudevents_v2")}
    by_format = {fmt: _resolve(_rows(run.messages), run.objects) for fmt, run in runs.items()}
    v2 = {e.id.name: (e.principal, e.labels) for e in by_format["cloudevents_v2"]}
    parent, child = sorted(by_format["cloudevents_v2"], key=lambda e: e.parent_execution is not None)
    assert v2[parent.id.name] == ("flyte-user", (("team", "data-platform"),))
    assert v2[child.id.name] == ("flytepropeller", (("team", "data-platform"),))
    for fmt in ("external", "cloudevents_v1"):
        assert {(e.principal, e.labels) for e in by_format[fmt]} == {(None, ())}


# ---- property: order and duplication never matter -------------------------------------------------------------------

_PROPERTY_SCENARIOS = ["retry", "cache_hit", "dynamic", "launch_plan_child", "map"]


@functools.cache
def _baseline(scenario: str) -> tuple[list[dict[str, Any]], list[Execution]]:
    run = _generated(scenario)
    rows = _rows(run.messages)
    return rows, _resolve(rows, run.objects)


@st.composite
def _delivery(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    scenario = draw(st.sampled_from(_PROPERTY_SCENARIOS))
    rows, _ = _baseline(scenario)
    copies = draw(st.lists(st.integers(0, len(rows) - 1), max_size=len(rows)))
    redelivered = [
        dict(rows[i], message_id=f"again-{n}", received_at=RECEIVED + timedelta(seconds=n + 1))
        for n, i in enumerate(copies)
    ]
    return scenario, draw(st.permutations(rows + redelivered))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_delivery())
def test_any_permutation_and_duplication_gives_identical_output(delivery: tuple[str, list[dict[str, Any]]]) -> None:
    scenario, rows = delivery
    _, expected = _baseline(scenario)
    got = _resolve(rows, _generated(scenario).objects)
    assert [execution_to_dict(e) for e in got] == [execution_to_dict(e) for e in expected]


# ---- an execution spread over three runs ----------------------------------------------------------------------------


def test_execution_split_across_three_runs_is_emitted_once_and_whole() -> None:
    run = _generated("subworkflow")
    messages = run.messages
    succeeded = execution_pb2.WorkflowExecution.SUCCEEDED
    terminal = next(i for i, m in enumerate(messages) if m.kind == "workflow" and m.event.phase == succeeded)
    # run 1: the first half; run 2: the rest except the last two node events, plus the terminal workflow event;
    # run 3: the last node events, which arrive after the terminal event (cloudEvents goroutines, SQS reordering).
    node_indices = [i for i, m in enumerate(messages) if m.kind == "node"]
    late = set(node_indices[-2:])
    first = [m for i, m in enumerate(messages[: len(messages) // 2]) if i not in late and i != terminal]
    second = [m for i, m in enumerate(messages) if i >= len(messages) // 2 and i not in late and i != terminal]
    second.append(messages[terminal])
    third = [messages[i] for i in sorted(late)]
    t1, t2 = START + timedelta(hours=1), START + timedelta(hours=2)
    t3 = t2 + timedelta(minutes=8)

    state: GroupingState | None = None
    emitted: list[Execution] = []
    batches = [
        (first, t1, t1 + timedelta(minutes=30)),
        (second, t2, t2 + timedelta(minutes=5)),
        (third, t3, t3 + timedelta(minutes=30)),
        ([], t3, t3 + timedelta(hours=5)),
    ]
    for batch, received_at, as_of in batches:
        rows = _rows(batch, received_at) if batch else []
        result = split_ready(state, events_to_table(rows), as_of=as_of, settle=SETTLE)
        assert result.late.num_rows == 0 and result.expired.num_rows == 0
        emitted.extend(resolve_executions(result.ready, InMemoryObjectReader(run.objects)))
        state = result.state
    assert state is not None and state.pending.num_rows == 0
    assert emitted == _resolve(_rows(messages), run.objects)
    assert len(emitted) == 1 and emitted[0].problems == ()


def test_reader_is_asked_once_per_phase_with_every_uri() -> None:
    runs = [_generated(s) for s in ("linear", "fan_out_fan_in", "map")]
    rows = [r for run in runs for r in _rows(run.messages)]
    objects = {k: v for run in runs for k, v in run.objects.items()}
    reader = InMemoryObjectReader(objects)
    result = split_ready(None, events_to_table(rows), as_of=AS_OF, settle=SETTLE)
    resolve_executions(result.ready, reader)
    methods = [call[0] for call in reader.calls]
    assert methods.count("list_files") == 1
    all_uris = [u for call in reader.calls for u in call[1]]
    assert len(all_uris) == len(set(all_uris)) or methods.count("read_tails") > 1


def test_refused_bucket_is_a_problem_not_a_crash() -> None:
    run = _generated("linear")
    result = split_ready(None, events_to_table(_rows(run.messages)), as_of=AS_OF, settle=SETTLE)
    (execution,) = resolve_executions(result.ready, InMemoryObjectReader(run.objects), read_buckets=["other"])
    assert execution.datasets == ()
    assert execution.problems and all("read_buckets" in p for p in execution.problems)
    assert [n.kind for n in execution.nodes] == ["end", "task", "task", "task", "start"]


def test_empty_ready_table_gives_no_executions() -> None:
    empty = events_to_table([])
    assert resolve_executions(empty, InMemoryObjectReader({})) == []
    assert isinstance(empty, pa.Table)


def test_list_datasets_survive_the_executions_format_and_other_datasets_are_written_as_before() -> None:
    from flytelineage.domain.lineage_model import execution_from_dict

    run = _generated("map")
    [execution] = _resolve(_rows(run.messages), run.objects)
    data = execution_to_dict(execution)
    assert execution_from_dict(data) == execution
    listed = [d for d in data["datasets"] if "elements" in d]
    assert [d["name"].rsplit(".", 2)[-2:] for d in listed] == [["split", "o0"], ["score_shard", "o0"]]
    assert all(len(d["elements"]) == 4 for d in listed)
    assert all(d.elements == () for d in execution.datasets if not d.name.endswith((".split.o0", ".score_shard.o0")))
