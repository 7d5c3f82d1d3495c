"""Flyte tasks written as a Flyte user writes them; run by ``build.py`` inside the flytekit fixture venv.

This module imports flytekit, so it is only importable in ``.venv-flytekit`` (``make flytekit-venv``), never in the
project's runtime venv. Every task is executed through flytekit's own container entrypoint, which serializes the
outputs to ``outputs.pb`` and uploads the data files exactly as in a task pod. Tasks that return data kept outside
the raw-output prefix (external StructuredDataset URIs, Spark-style layouts) write it under ``FIXTURE_EXTERNAL_ROOT``.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from flytekit import kwtypes, map_task, task
from flytekit.core.context_manager import FlyteContextManager
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekit.types.schema import FlyteSchema
from flytekit.types.structured import StructuredDataset
from pydantic import BaseModel

ParquetFile = FlyteFile[typing.TypeVar("parquet")]
CsvFile = FlyteFile[typing.TypeVar("csv")]
ParquetDir = FlyteDirectory[typing.TypeVar("parquet")]
CsvDir = FlyteDirectory[typing.TypeVar("csv")]

ALL_COLUMNS = kwtypes(
    order_id=int,
    customer=str,
    amount=float,
    paid=bool,
    placed_at=dt.datetime,
    country=str,
    items=int,
    discount=float,
    channel=str,
    note=str,
    score=float,
)


def orders(rows: int = 4, offset: int = 0) -> pd.DataFrame:
    """An 11-column frame of the kinds of values a pipeline writes (ints, floats, strings, bools, timestamps)."""
    ids = list(range(offset, offset + rows))
    return pd.DataFrame(
        {
            "order_id": ids,
            "customer": [f"c{i}" for i in ids],
            "amount": [10.5 * (i + 1) for i in ids],
            "paid": [i % 2 == 0 for i in ids],
            "placed_at": [dt.datetime(2026, 11, 1, 12, 0) + dt.timedelta(hours=i) for i in ids],
            "country": ["FR" if i % 2 else "DE" for i in ids],
            "items": [i + 1 for i in ids],
            "discount": [0.1 * i for i in ids],
            "channel": ["web"] * rows,
            "note": [f"n{i}" for i in ids],
            "score": [float(i) / 3 for i in ids],
        }
    )


def _external(relative: str) -> str:
    return f"{os.environ['FIXTURE_EXTERNAL_ROOT'].rstrip('/')}/{relative}"


def _upload_dir(local: Path, remote: str) -> None:
    FlyteContextManager.current_context().file_access.put_data(str(local), remote, is_multipart=True)


def _upload_file(local: Path, remote: str) -> None:
    FlyteContextManager.current_context().file_access.put_data(str(local), remote)


def _local_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fixture-"))


# ---- DataFrames and Arrow tables ------------------------------------------------------------------------------------


@task
def frame_plain() -> pd.DataFrame:
    return orders()


@task
def frame_annotated() -> Annotated[pd.DataFrame, ALL_COLUMNS]:
    return orders()


@task
def frame_partly_annotated() -> Annotated[pd.DataFrame, kwtypes(order_id=int)]:
    return orders()


@task
def frame_wrongly_annotated() -> Annotated[pd.DataFrame, kwtypes(region=str, revenue=float)]:
    return orders()


@task
def arrow_plain() -> pa.Table:
    return pa.Table.from_pandas(orders(), preserve_index=False)


ARROW_SCHEMA = pa.schema([("order_id", pa.int64()), ("customer", pa.string()), ("amount", pa.float64())])


@task
def arrow_schema_annotated() -> Annotated[StructuredDataset, ARROW_SCHEMA]:
    return StructuredDataset(dataframe=pa.Table.from_pandas(orders(), preserve_index=False))


@task
def frame_wide() -> pd.DataFrame:
    """2,500 columns: a footer larger than the first tail read."""
    return pd.DataFrame({f"measurement_{i:04d}_with_a_long_descriptive_name": [float(i)] for i in range(2500)})


@task
def frame_csv() -> Annotated[StructuredDataset, "csv"]:
    return StructuredDataset(dataframe=orders())


@task
def schema_legacy() -> FlyteSchema[kwtypes(order_id=int, customer=str, amount=float)]:
    return orders()[["order_id", "customer", "amount"]]


# ---- StructuredDatasets at external URIs ----------------------------------------------------------------------------


@task
def sd_directory() -> StructuredDataset:
    local = _local_dir()
    pq.write_table(pa.Table.from_pandas(orders(), preserve_index=False), local / "00000")
    uri = _external("warehouse/orders_dir")
    _upload_dir(local, uri)
    return StructuredDataset(uri=uri)


@task
def sd_spark_layout() -> StructuredDataset:
    """What Spark leaves behind: several part files and an empty ``_SUCCESS`` marker."""
    local = _local_dir()
    for part in range(3):
        table = pa.Table.from_pandas(orders(rows=2, offset=2 * part), preserve_index=False)
        pq.write_table(table, local / f"part-{part:05d}-3f1e2d4c-c000.snappy.parquet", compression="snappy")
    (local / "_SUCCESS").write_bytes(b"")
    uri = _external("warehouse/orders_spark")
    _upload_dir(local, uri)
    return StructuredDataset(uri=uri)


@task
def sd_single_file() -> StructuredDataset:
    local = _local_dir() / "data.parquet"
    pq.write_table(pa.Table.from_pandas(orders(), preserve_index=False), local)
    uri = _external("warehouse/single/data.parquet")
    _upload_file(local, uri)
    return StructuredDataset(uri=uri)


@task
def sd_trailing_slash() -> typing.Tuple[StructuredDataset, StructuredDataset]:  # noqa: UP006
    """The same directory once with and once without a trailing slash."""
    local = _local_dir()
    pq.write_table(pa.Table.from_pandas(orders(), preserve_index=False), local / "00000")
    uri = _external("warehouse/orders_slash")
    _upload_dir(local, uri)
    return StructuredDataset(uri=uri), StructuredDataset(uri=uri + "/")


# ---- files and directories ------------------------------------------------------------------------------------------


def _parquet_file(name: str) -> Path:
    path = _local_dir() / name
    pq.write_table(pa.Table.from_pandas(orders(), preserve_index=False), path)
    return path


def _csv_file(name: str) -> Path:
    path = _local_dir() / name
    orders().to_csv(path, index=False)
    return path


@task
def file_parquet_typed() -> ParquetFile:
    return ParquetFile(path=str(_parquet_file("orders.parquet")))


@task
def file_csv_typed() -> CsvFile:
    return CsvFile(path=str(_csv_file("orders.csv")))


@task
def file_plain_parquet() -> FlyteFile:
    return FlyteFile(path=str(_parquet_file("orders.parquet")))


@task
def file_plain_csv() -> FlyteFile:
    return FlyteFile(path=str(_csv_file("orders.csv")))


def _parquet_dir() -> Path:
    local = _local_dir()
    for part in range(2):
        pq.write_table(
            pa.Table.from_pandas(orders(rows=2, offset=2 * part), preserve_index=False),
            local / f"part-{part}.parquet",
        )
    return local


def _csv_dir() -> Path:
    local = _local_dir()
    for part in range(2):
        orders(rows=2, offset=2 * part).to_csv(local / f"part-{part}.csv", index=False)
    return local


@task
def dir_parquet_typed() -> ParquetDir:
    return ParquetDir(path=str(_parquet_dir()))


@task
def dir_plain_parquet() -> FlyteDirectory:
    return FlyteDirectory(path=str(_parquet_dir()))


@task
def dir_plain_csv() -> FlyteDirectory:
    return FlyteDirectory(path=str(_csv_dir()))


# ---- collections, map tasks, optionals and unions -------------------------------------------------------------------


@task
def frame_list() -> list[pd.DataFrame]:
    return [orders(rows=2, offset=2 * i) for i in range(3)]


@task
def frame_dict() -> dict[str, pd.DataFrame]:
    return {"europe": orders(rows=2), "america": orders(rows=3, offset=10)}


@task
def frame_nested() -> list[dict[str, pd.DataFrame]]:
    return [{"train": orders(rows=2), "test": orders(rows=1, offset=5)}, {"train": orders(rows=3, offset=7)}]


@task
def one_frame(shard: int) -> pd.DataFrame:
    return orders(rows=2, offset=10 * shard)


shard_frames = map_task(one_frame)


@task
def frame_optional() -> typing.Optional[pd.DataFrame]:  # noqa: UP045
    return orders()


@task
def frame_optional_none() -> typing.Optional[pd.DataFrame]:  # noqa: UP045
    return None


@task
def file_or_text() -> typing.Union[FlyteFile, str]:  # noqa: UP007
    return FlyteFile(path=str(_parquet_file("orders.parquet")))


# ---- dataclasses and pydantic models --------------------------------------------------------------------------------


@dataclass
class Bundle:
    name: str
    frame: StructuredDataset
    report: FlyteFile
    parts: list[StructuredDataset]


@task
def dataclass_bundle() -> Bundle:
    return Bundle(
        name="weekly",
        frame=StructuredDataset(dataframe=orders()),
        report=FlyteFile(path=str(_csv_file("report.csv"))),
        parts=[StructuredDataset(dataframe=orders(rows=1, offset=i)) for i in range(2)],
    )


class Delivery(BaseModel):
    label: str
    frame: StructuredDataset
    folder: FlyteDirectory


@task
def pydantic_delivery() -> Delivery:
    return Delivery(
        label="daily", frame=StructuredDataset(dataframe=orders()), folder=FlyteDirectory(str(_parquet_dir()))
    )


# ---- offloaded literals and consumers -------------------------------------------------------------------------------


@task
def frame_list_offloaded() -> list[pd.DataFrame]:
    """Run with literal offloading on (``_F_L_MIN_SIZE_MB=0``): outputs.pb holds only a pointer."""
    return [orders(rows=2, offset=2 * i) for i in range(2)]


@task
def consume_frame(frame: pd.DataFrame) -> int:
    return len(frame)
