"""Run every fixture task through flytekit's container entrypoint onto S3 and write a manifest of what was made.

Usage (inside ``.venv-flytekit``, from the repository root, with ``AWS_ENDPOINT_URL`` and credentials set)::

    python -m tests.flytekit_fixtures.build s3://bucket/prefix manifest.json

For each case this writes ``inputs.pb`` (what propeller would hand the pod), then calls flytekit's own entrypoint
functions (the ones behind ``pyflyte-execute`` / ``pyflyte-map-execute``), which run the task, serialize its outputs
with the TypeEngine, upload the data under the raw-output prefix and write ``outputs.pb`` under the output prefix.
A task that fails leaves ``error.pb`` instead: the build then stops with an error. The only step done here rather
than by flytekit is what propeller does for an array node: gather the sub-tasks' outputs into one collection.

The manifest lists, per case, the LiteralMap URIs and every dataset the outputs hold (variable path, list indices,
location, declared format), read back from ``outputs.pb`` with flytekit's models and msgpack, so tests can compare
the project's resolution with it and read the data files themselves. The variable path follows the product's naming
rule (``.<key>`` per map level and dataclass field); list levels add the item's index to ``element`` instead
(``0``, ``0.1`` for a list of lists), the element of one list dataset.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
from flyteidl.core import literals_pb2

RESOLVER = "flytekit.core.python_auto_container.default_task_resolver"
MAP_RESOLVER = "flytekit.core.array_node_map_task.ArrayNodeMapTaskResolver"
MODULE = "tests.flytekit_fixtures.tasks"


@dataclass(frozen=True)
class Case:
    name: str
    task: str
    inputs_from: str = ""  # another case whose output ``o0`` becomes input ``frame``
    map_over: tuple[int, ...] = ()  # a map task over these ``shard`` values
    env: dict[str, str] = field(default_factory=dict)


CASES = (
    Case("frame_plain", "frame_plain"),
    Case("frame_annotated", "frame_annotated"),
    Case("frame_partly_annotated", "frame_partly_annotated"),
    Case("frame_wrongly_annotated", "frame_wrongly_annotated"),
    Case("arrow_plain", "arrow_plain"),
    Case("arrow_schema_annotated", "arrow_schema_annotated"),
    Case("frame_wide", "frame_wide"),
    Case("frame_csv", "frame_csv"),
    Case("schema_legacy", "schema_legacy"),
    Case("sd_directory", "sd_directory"),
    Case("sd_spark_layout", "sd_spark_layout"),
    Case("sd_single_file", "sd_single_file"),
    Case("sd_trailing_slash", "sd_trailing_slash"),
    Case("file_parquet_typed", "file_parquet_typed"),
    Case("file_csv_typed", "file_csv_typed"),
    Case("file_plain_parquet", "file_plain_parquet"),
    Case("file_plain_csv", "file_plain_csv"),
    Case("dir_parquet_typed", "dir_parquet_typed"),
    Case("dir_plain_parquet", "dir_plain_parquet"),
    Case("dir_plain_csv", "dir_plain_csv"),
    Case("frame_list", "frame_list"),
    Case("frame_dict", "frame_dict"),
    Case("frame_nested", "frame_nested"),
    Case("map_shards", "one_frame", map_over=(0, 1, 2)),
    Case("frame_optional", "frame_optional"),
    Case("frame_optional_none", "frame_optional_none"),
    Case("file_or_text", "file_or_text"),
    Case("dataclass_bundle", "dataclass_bundle"),
    Case("pydantic_delivery", "pydantic_delivery"),
    Case("frame_list_offloaded", "frame_list_offloaded", env={"_F_L_MIN_SIZE_MB": "0"}),
    Case("consume_frame", "consume_frame", inputs_from="frame_plain"),
)


def _flytekit_s3_env() -> None:
    """Point flytekit's fsspec S3 access at the same endpoint and credentials as boto3."""
    mapping = {
        "FLYTE_AWS_ENDPOINT": "AWS_ENDPOINT_URL",
        "FLYTE_AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
        "FLYTE_AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY",
    }
    for flyte_key, aws_key in mapping.items():
        if aws_key in os.environ:
            os.environ.setdefault(flyte_key, os.environ[aws_key])


class Store:
    """Small helpers over flytekit's own fsspec S3 filesystem."""

    def __init__(self) -> None:
        from flytekit.core.data_persistence import FileAccessProvider

        self.fap = FileAccessProvider(local_sandbox_dir="/tmp/flytekit-fixture-sandbox", raw_output_prefix="s3://x/")

    def fs(self) -> Any:
        return self.fap.get_filesystem("s3")

    def put_bytes(self, uri: str, data: bytes) -> None:
        with self.fs().open(uri, "wb") as out:
            out.write(data)

    def get_bytes(self, uri: str) -> bytes:
        with self.fs().open(uri, "rb") as src:
            return bytes(src.read())

    def exists(self, uri: str) -> bool:
        self.fs().invalidate_cache()
        return bool(self.fs().exists(uri))


def _run_case(case: Case, root: str, store: Store, made: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from flytekit.bin.entrypoint import _execute_map_task, _execute_task

    node = f"{root}/metadata/{case.name}"
    raw = f"{root}/raw/{case.name}"
    inputs_uri = f"{node}/inputs.pb"
    inputs = literals_pb2.LiteralMap()
    if case.inputs_from:
        upstream = literals_pb2.LiteralMap.FromString(store.get_bytes(made[case.inputs_from]["outputs"]))
        inputs.literals["frame"].CopyFrom(upstream.literals["o0"])
    if case.map_over:
        shards = inputs.literals["shard"].collection
        for value in case.map_over:
            shards.literals.add().scalar.primitive.integer = value
    store.put_bytes(inputs_uri, inputs.SerializeToString())
    saved = {k: os.environ.get(k) for k in case.env}
    os.environ.update(case.env)
    try:
        if case.map_over:
            outputs = _run_map(case, node, raw, inputs_uri, store, _execute_map_task)
        else:
            task_args = ["task-module", MODULE, "task-name", case.task]
            _execute_task(inputs_uri, node, False, raw, RESOLVER, task_args)
            outputs = f"{node}/outputs.pb"
            _check_written(case.name, node, store)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    literal_map = literals_pb2.LiteralMap.FromString(store.get_bytes(outputs))
    return {
        "name": case.name,
        "task": f"{MODULE}.{case.task}",
        "inputs": inputs_uri,
        "outputs": outputs,
        "raw_prefix": raw,
        "offloaded": any(lit.HasField("offloaded_metadata") for lit in literal_map.literals.values()),
        "datasets": sorted(_datasets(literal_map, store), key=lambda d: (d["variable"], d["element"], d["uri"])),
    }


def _run_map(case: Case, node: str, raw: str, inputs_uri: str, store: Store, execute: Any) -> str:
    """One sub-task per element (as the array plugin starts them), then the gather propeller does."""
    gathered = literals_pb2.LiteralMap()
    args = ["vars", "", "resolver", RESOLVER, "task-module", MODULE, "task-name", case.task]
    for index in range(len(case.map_over)):
        os.environ["BATCH_JOB_ARRAY_INDEX_VAR_NAME"] = "FIXTURE_ARRAY_INDEX"
        os.environ["FIXTURE_ARRAY_INDEX"] = str(index)
        sub = f"{node}/{index}"
        execute(inputs_uri, sub, f"{raw}/{index}", 0, False, MAP_RESOLVER, args)
        _check_written(f"{case.name}[{index}]", sub, store)
        sub_map = literals_pb2.LiteralMap.FromString(store.get_bytes(f"{sub}/outputs.pb"))
        for name, literal in sub_map.literals.items():
            gathered.literals[name].collection.literals.add().CopyFrom(literal)
    os.environ.pop("BATCH_JOB_ARRAY_INDEX_VAR_NAME", None)
    outputs = f"{node}/outputs.pb"
    store.put_bytes(outputs, gathered.SerializeToString())
    return outputs


def _check_written(name: str, prefix: str, store: Store) -> None:
    if not store.exists(f"{prefix}/outputs.pb"):
        errors = [p for p in store.fs().ls(prefix) if "error" in p]
        detail = store.get_bytes(f"s3://{errors[0]}").decode("utf-8", "replace")[-3000:] if errors else "no error.pb"
        raise SystemExit(f"fixture task {name} did not write outputs.pb: {detail}")


# ---- what the outputs hold, read back with flytekit's models ------------------------------------------------------


def _datasets(literal_map: literals_pb2.LiteralMap, store: Store) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for name, literal in literal_map.literals.items():
        _walk_literal(name, literal, store, found)
    return found


def _item(element: str, index: int) -> str:
    return f"{element}.{index}" if element else str(index)


def _walk_literal(
    path: str, literal: literals_pb2.Literal, store: Store, found: list[dict[str, str]], element: str = ""
) -> None:
    from flytekit.models import literals as models

    model = models.Literal.from_flyte_idl(literal)
    if model.offloaded_metadata is not None:
        inner = literals_pb2.Literal.FromString(store.get_bytes(model.offloaded_metadata.uri))
        _walk_literal(path, inner, store, found, element)
    elif model.collection is not None:
        for index, item in enumerate(literal.collection.literals):
            _walk_literal(path, item, store, found, _item(element, index))
    elif model.map is not None:
        for key, item in literal.map.literals.items():
            _walk_literal(f"{path}.{key}", item, store, found, element)
    elif model.scalar is not None:
        _walk_scalar(path, literal.scalar, store, found, element)


def _walk_scalar(
    path: str, scalar: literals_pb2.Scalar, store: Store, found: list[dict[str, str]], element: str
) -> None:
    which = scalar.WhichOneof("value")
    if which == "union":
        _walk_literal(path, scalar.union.value, store, found, element)
    elif which == "structured_dataset":
        fmt = scalar.structured_dataset.metadata.structured_dataset_type.format
        found.append(_entry(path, element, "structured_dataset", scalar.structured_dataset.uri, fmt, store))
    elif which == "schema":
        found.append(_entry(path, element, "schema", scalar.schema.uri, "parquet", store))
    elif which == "blob":
        multipart = scalar.blob.metadata.type.dimensionality == 1
        kind = "multipart_blob" if multipart else "blob"
        found.append(_entry(path, element, kind, scalar.blob.uri, scalar.blob.metadata.type.format, store))
    elif which == "binary" and scalar.binary.tag == "msgpack":
        _walk_plain(path, msgpack.unpackb(scalar.binary.value), store, found, element)


def _walk_plain(path: str, value: Any, store: Store, found: list[dict[str, str]], element: str) -> None:
    """A decoded msgpack value: StructuredDatasets are ``{uri, file_format}``, files/directories ``{path}``."""
    if isinstance(value, dict):
        if isinstance(value.get("uri"), str) and "file_format" in value:
            found.append(_entry(path, element, "structured_dataset", value["uri"], value["file_format"], store))
        elif isinstance(value.get("path"), str) and "://" in value["path"]:
            uri = value["path"]
            kind = "multipart_blob" if store.fs().isdir(uri) else "blob"
            found.append(_entry(path, element, kind, uri, "", store))
        else:
            for key, item in value.items():
                _walk_plain(f"{path}.{key}", item, store, found, element)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_plain(path, item, store, found, _item(element, index))


def _entry(path: str, element: str, kind: str, uri: str, fmt: str, store: Store) -> dict[str, str]:
    """The dataset with the data files under it (a single object is its own file), as the store lists them."""
    fs = store.fs()
    fs.invalidate_cache()
    files = [uri] if fs.isfile(uri) else sorted(f"s3://{p}" for p in fs.find(uri))
    entry = {"variable": path, "element": element, "kind": kind, "uri": uri, "format": fmt, "files": files}
    return entry  # type: ignore[return-value]


def main(argv: list[str]) -> int:
    root, manifest_path = argv[0].rstrip("/"), argv[1]
    _flytekit_s3_env()
    os.environ.setdefault("FIXTURE_EXTERNAL_ROOT", f"{root}/external")
    store = Store()
    started = time.monotonic()
    made: dict[str, dict[str, Any]] = {}
    only = set(argv[2:])
    for case in CASES:
        if only and case.name not in only:
            continue
        case_started = time.monotonic()
        made[case.name] = _run_case(case, root, store, made)
        print(f"{case.name}: {time.monotonic() - case_started:.1f} s", flush=True)
    manifest = {"root": root, "seconds": round(time.monotonic() - started, 1), "cases": list(made.values())}
    with open(manifest_path, "w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=1, sort_keys=True)
    print(f"{len(made)} flytekit fixture cases written under {root} in {manifest['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
