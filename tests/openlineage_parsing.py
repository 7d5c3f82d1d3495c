"""Read OpenLineage event JSON back into the openlineage-python client's classes (the client has no deserializer).

``parse_run_event`` rebuilds a ``RunEvent`` with the client's own model and facet classes, which validate what they
can (run ids are UUIDs, times are ISO 8601 with a time); an unknown facet key or field is an error. Tests then compare
``Serde.to_dict`` of the result with the JSON, so every field the target wrote is one the client's model has.
"""

from __future__ import annotations

from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    error_message_run,
    job_type_job,
    nominal_time_run,
    parent_run,
    schema_dataset,
    symlinks_dataset,
)

from flytelineage.domain.openlineage_events import FlyteElementsDatasetFacet, FlyteRunFacet


def _plain(cls: type, data: dict[str, Any], **nested: Any) -> Any:
    kwargs = {k: v for k, v in data.items() if not k.startswith("_")}
    kwargs.update(nested)
    instance = cls(**kwargs, producer=data["_producer"]) if "_producer" in data else cls(**kwargs)
    if "_schemaURL" in data:
        assert instance._schemaURL == data["_schemaURL"], (cls, data["_schemaURL"])
    return instance


def _schema_field(data: dict[str, Any]) -> schema_dataset.SchemaDatasetFacetFields:
    return _plain(
        schema_dataset.SchemaDatasetFacetFields, data, fields=[_schema_field(f) for f in data.get("fields", [])]
    )


def _run_facet(key: str, data: dict[str, Any]) -> Any:
    if key == "parent":
        run = _plain(parent_run.Run, data["run"])
        job = _plain(parent_run.Job, data["job"])
        root = None
        if "root" in data:
            root = parent_run.Root(
                run=_plain(parent_run.RootRun, data["root"]["run"]), job=_plain(parent_run.RootJob, data["root"]["job"])
            )
        return _plain(parent_run.ParentRunFacet, data, run=run, job=job, root=root)
    classes = {
        "errorMessage": error_message_run.ErrorMessageRunFacet,
        "nominalTime": nominal_time_run.NominalTimeRunFacet,
        "flyte": FlyteRunFacet,
    }
    return _plain(classes[key], data)


def _dataset_facet(key: str, data: dict[str, Any]) -> Any:
    if key == "schema":
        return _plain(schema_dataset.SchemaDatasetFacet, data, fields=[_schema_field(f) for f in data["fields"]])
    if key == "symlinks":
        identifiers = [_plain(symlinks_dataset.Identifier, i) for i in data["identifiers"]]
        return _plain(symlinks_dataset.SymlinksDatasetFacet, data, identifiers=identifiers)
    if key == "flyteElements":
        return _plain(FlyteElementsDatasetFacet, data)
    raise KeyError(f"unexpected dataset facet {key!r}")


def _dataset(cls: type, data: dict[str, Any]) -> Any:
    facets = {k: _dataset_facet(k, v) for k, v in data.get("facets", {}).items()}
    extra = {"inputFacets": {}} if cls is InputDataset else {"outputFacets": {}}
    assert not data.get("inputFacets") and not data.get("outputFacets")
    return cls(namespace=data["namespace"], name=data["name"], facets=facets, **extra)


def parse_run_event(data: dict[str, Any]) -> RunEvent:
    """A ``RunEvent`` of the client's classes from its JSON form (raises on anything the model does not have)."""
    allowed = {"eventTime", "eventType", "producer", "schemaURL", "run", "job", "inputs", "outputs"}
    assert set(data) <= allowed, set(data) - allowed
    job_facets = {}
    for key, value in data["job"].get("facets", {}).items():
        assert key == "jobType", key
        job_facets[key] = _plain(job_type_job.JobTypeJobFacet, value)
    event = RunEvent(
        eventType=RunState(data["eventType"]),
        eventTime=data["eventTime"],
        producer=data["producer"],
        run=Run(runId=data["run"]["runId"], facets={k: _run_facet(k, v) for k, v in data["run"]["facets"].items()}),
        job=Job(namespace=data["job"]["namespace"], name=data["job"]["name"], facets=job_facets),
        inputs=[_dataset(InputDataset, d) for d in data.get("inputs", [])],
        outputs=[_dataset(OutputDataset, d) for d in data.get("outputs", [])],
    )
    assert event.schemaURL == data["schemaURL"]
    return event
