"""Bad input end to end through the real domain code: decode -> group -> resolve -> DataHub proposals and Glue tables.

Names are crafted to break DataHub urns and Glue names (commas, parentheses, spaces, unicode, 300 characters,
``urn:li:`` inside), timestamps sit at the edges of the representable range, and URIs point into buckets outside
``read_buckets``. Every urn must parse back with DataHub's own parser to the same parts, every Glue name must be
valid, and an out-of-allowlist URI must be recorded as a problem without the reader ever being asked for it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from datahub.metadata.urns import DataFlowUrn, DataJobUrn, DatasetUrn
from datahub.utilities.urns.urn import Urn

from flytelineage.domain import urn_names
from flytelineage.domain.datahub_mcps import build_mcps, dataset_urn
from flytelineage.domain.event_decoding import SqsMessage, decode_messages
from flytelineage.domain.event_table import events_to_table
from flytelineage.domain.execution_grouping import GroupingState, split_ready
from flytelineage.domain.execution_lineage import resolve_executions
from flytelineage.domain.glue_tables import GLUE_NAME_PATTERN, MAX_NAME_LENGTH, plan_glue_tables
from flytelineage.domain.lineage_model import Execution
from flytelineage.testing.flyte_event_generator import GeneratedExecution, encode_records, generate
from flytelineage.testing.in_memory_objects import InMemoryObjectReader

AS_OF = datetime(2024, 1, 3, tzinfo=UTC)
LONG = "x" * 300
ODD_PROJECTS = ["proj,with,commas", "p (paren)", "urn:li:corpuser:(a,b)", "projé ünï 数据", LONG]
ODD_DOMAINS = ["dev elopment", "d,(x)", "urn:li:dataset:(urn:li:dataPlatform:s3,x,PROD)", "dômaine", LONG[:120]]
ODD_TASK = "mod.sub.task, (v2) urn:li:dataJob:(a,b) ünï "


def rename_tasks(run: GeneratedExecution, rename: dict[str, str]) -> GeneratedExecution:
    """Re-encode ``run`` with its task names replaced (task events and the node events that target the task)."""
    for record in run.records:
        event = record.event
        if record.kind == "task" and event.task_id.name in rename:
            event.task_id.name = rename[event.task_id.name]
        if record.kind == "node" and event.target_entity.name in rename:
            event.target_entity.name = rename[event.target_entity.name]
    run.messages = encode_records(run.records, rng=random.Random(7))
    return run


def pipeline(
    runs: list[GeneratedExecution], read_buckets: list[str], objects: dict[str, bytes] | None = None
) -> tuple[list[Execution], InMemoryObjectReader]:
    """Decode every body (none may be quarantined), group at ``AS_OF`` and resolve through an in-memory reader."""
    messages = [SqsMessage(m.message_id, m.body) for run in runs for m in run.messages]
    decoded = decode_messages(messages, received_at=AS_OF - timedelta(hours=1))
    assert decoded.quarantine == [], [q["reason"] for q in decoded.quarantine]
    split = split_ready(GroupingState.empty(), [events_to_table(decoded.events)], as_of=AS_OF, settle=timedelta(0))
    reader = InMemoryObjectReader(
        objects if objects is not None else {k: v for r in runs for k, v in r.objects.items()}
    )
    return resolve_executions(split.ready, reader, read_buckets=read_buckets), reader


def assert_urns_round_trip(execution: Execution) -> set[str]:
    """Every urn of the execution's proposals parses back to the parts it was built from; returns the urns."""
    urns = {mcp.entityUrn for mcp in build_mcps(execution, env="PROD") if mcp.entityUrn}
    project, domain = execution.id.project, execution.id.domain
    flow_id = urn_names.flow_name(project, domain, execution.workflow_name)  # escaped and capped, never raw
    for urn in urns:
        parsed = Urn.from_string(urn)
        assert str(parsed) == urn
        assert len(urn.encode()) <= urn_names.URN_MAX_BYTES, urn
        if urn.startswith("urn:li:dataFlow:"):
            flow = DataFlowUrn.from_string(urn)
            assert (flow.orchestrator, flow.flow_id, flow.cluster) == ("flyte", flow_id, "prod")
        elif urn.startswith("urn:li:dataJob:"):
            job = DataJobUrn.from_string(urn)
            assert DataFlowUrn.from_string(job.flow).flow_id == flow_id
            assert job.job_id in {urn_names.name_part(j.task.name) for j in execution.jobs}
    expected = {
        ds.key: ("urn:li:dataPlatform:" + ds.platform, DatasetUrn.from_string(dataset_urn(ds, "PROD")).name)
        for ds in execution.datasets
    }
    assert len(set(expected.values())) == len(expected)  # distinct datasets never share a urn
    dataset_urns = {u for u in urns if u.startswith("urn:li:dataset:")}
    assert len(dataset_urns) == len(expected)
    for urn in dataset_urns:
        dataset = DatasetUrn.from_string(urn)
        assert (dataset.platform, dataset.name) in expected.values() and dataset.env == "PROD"
    return urns


def assert_glue_names_valid(executions: list[Execution]) -> int:
    """Every planned database, table and column name is a valid Glue/Athena name; returns the table count."""
    plan = plan_glue_tables(executions)
    for name in plan.databases:
        assert GLUE_NAME_PATTERN.fullmatch(name) and len(name.encode()) <= MAX_NAME_LENGTH, name
    for table in plan.tables:
        names = [table.database, table.table_input["Name"]]
        names += [c["Name"] for c in table.table_input["StorageDescriptor"]["Columns"]]
        for name in names:
            assert GLUE_NAME_PATTERN.fullmatch(name) and len(name.encode()) <= MAX_NAME_LENGTH, name
    table_keys = [(t.database, t.table_input["Name"]) for t in plan.tables]
    assert len(table_keys) == len(set(table_keys))  # normalizing never merged two tables into one
    return len(plan.tables)


@pytest.mark.parametrize(("project", "domain"), list(zip(ODD_PROJECTS, ODD_DOMAINS, strict=True)))
def test_odd_names_give_parseable_urns_and_valid_glue_names(project: str, domain: str) -> None:
    run = generate("fan_out_fan_in", project=project, domain=domain, name="a" + "n" * 19, bucket="flyte-data")
    tasks = sorted({r.event.task_id.name for r in run.records if r.kind == "task"})
    rename_tasks(run, {t: f"{ODD_TASK}{i} " + LONG for i, t in enumerate(tasks)})

    executions, _ = pipeline([run], read_buckets=["flyte-data"])

    assert [(e.id.project, e.id.domain) for e in executions] == [(project, domain)]
    execution = executions[0]
    assert execution.problems == ()
    assert {j.task.name for j in execution.jobs} == {f"{ODD_TASK}{i} " + LONG for i in range(len(tasks))}
    # datasets are named after the odd tasks: escaped, and capped with a hash suffix when too long
    assert any(d.platform == "flyte" and LONG in (d.producer_task or "") for d in execution.datasets)
    assert all(len(d.name.encode("utf-8")) <= urn_names.DATASET_NAME_MAX_BYTES for d in execution.datasets)
    urns = assert_urns_round_trip(execution)
    assert sum(u.startswith("urn:li:dataJob:") for u in urns) == len(tasks)
    # as many tables as the same scenario with plain names (the reviewed golden): odd names merge and drop none
    import json
    from pathlib import Path

    from flytelineage.domain.lineage_model import execution_from_dict

    golden = Path(__file__).resolve().parents[1] / "golden" / "executions" / "fan_out_fan_in.json"
    plain = [execution_from_dict(d) for d in json.loads(golden.read_text())]
    assert (
        assert_glue_names_valid(executions) == len(plan_glue_tables(plain).tables) == 5
    )  # split's list output o0 is one table


def test_distinct_odd_names_stay_distinct_after_normalization() -> None:
    """Names that normalize alike (``a,b`` and ``a b``) still get distinct Glue tables and DataHub urns."""
    runs = []
    for i, project in enumerate(["team,a", "team a", "team(a)"]):
        runs.append(generate("linear", project=project, domain="prod", name=f"a{i}" + "m" * 18, bucket="flyte-data"))
    executions, _ = pipeline(runs, read_buckets=["flyte-data"])
    assert len(executions) == 3
    flows = {u for e in executions for u in assert_urns_round_trip(e) if u.startswith("urn:li:dataFlow:")}
    assert len(flows) == 3
    # "team,a" and "team a" share database flyte_team_a_prod (DESIGN section 5 normalization); within one plan their
    # tables are disambiguated by hash, so no dataset overwrites another's table
    per_execution = assert_glue_names_valid(executions[:1])
    assert assert_glue_names_valid(executions) == 3 * per_execution


@pytest.mark.parametrize(
    "when", [datetime(9999, 12, 31, 23, 0, tzinfo=UTC), datetime(1, 1, 1, 1, 0, tzinfo=UTC)], ids=["9999", "0001"]
)
def test_timestamps_at_the_edges_of_the_range(when: datetime) -> None:
    """Events dated in year 1 or 9999 decode, group and produce valid proposals with the events' own times."""
    run = generate("linear", project="p", domain="d", name="a" + "t" * 19, bucket="flyte-data", start=when)
    executions, _ = pipeline([run], read_buckets=["flyte-data"])
    assert len(executions) == 1
    execution = executions[0]
    assert execution.started_at is not None and execution.started_at.year == when.year
    mcps = build_mcps(execution, env="PROD")
    times = [m.aspect.timestampMillis for m in mcps if m.aspect is not None and hasattr(m.aspect, "timestampMillis")]
    assert times and all(abs(t - when.timestamp() * 1000) < 86_400_000 for t in times)
    assert all(m.validate() for m in mcps)
    assert_glue_names_valid(executions)


def test_timestamps_outside_the_range_are_quarantined_not_crashing() -> None:
    run = generate("linear", project="p", domain="d", name="a" + "r" * 19, bucket="flyte-data")
    record = next(r for r in run.records if r.kind == "node")
    record.event.occurred_at.seconds = 253_402_300_800 * 4  # far past 9999-12-31
    messages = encode_records([record], rng=random.Random(3))
    decoded = decode_messages([SqsMessage("m1", messages[0].body)], received_at=AS_OF)
    assert decoded.events == []
    assert "outside the representable time range" in decoded.quarantine[0]["reason"]


def test_uris_outside_read_buckets_are_problems_and_never_read() -> None:
    inside = generate("linear", project="p", domain="d", name="a" + "i" * 19, bucket="flyte-data")
    outside = generate("fan_out_fan_in", project="p", domain="d", name="a" + "o" * 19, bucket="someone-elses")
    objects = {**inside.objects, **outside.objects}
    assert any(urlsplit(u).netloc == "someone-elses" for u in objects)

    executions, reader = pipeline([inside, outside], read_buckets=["flyte-data"], objects=objects)

    requested = [uri for _, uris, _ in reader.calls for uri in uris]
    assert requested and all(urlsplit(u).netloc == "flyte-data" for u in requested)
    by_name = {e.id.name: e for e in executions}
    blocked = by_name["a" + "o" * 19]
    assert blocked.problems and all("someone-elses" in p and "read_buckets" in p for p in blocked.problems)
    assert by_name["a" + "i" * 19].problems == ()
    assert_urns_round_trip(blocked)


def test_an_empty_allowlist_reads_everything_and_a_wrong_one_reads_nothing() -> None:
    run = generate("linear", project="p", domain="d", name="a" + "e" * 19, bucket="flyte-data")
    _, reader = pipeline([run], read_buckets=[])
    assert any(uris for _, uris, _ in reader.calls)
    executions, reader = pipeline([run], read_buckets=["nothing-here"])
    assert all(not uris for _, uris, _ in reader.calls)
    assert executions[0].problems and not any(d.fields for d in executions[0].datasets)
