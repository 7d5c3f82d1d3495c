"""Small deterministic Parquet/CSV payloads for the datasets the generated executions pass around.

Two table shapes exist: `rich` covers every column type the schema readers must map (int64, double, string, bool,
timestamp, date, decimal, list, struct, map) and `orders` is a plain fact table. Values come from the caller's seeded
`random.Random`, so the bytes are reproducible.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import random

import pyarrow as pa
import pyarrow.parquet as pq

from flytelineage.testing import flyte_literals as lit

RICH_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("score", pa.float64()),
        ("name", pa.string()),
        ("active", pa.bool_()),
        ("updated_at", pa.timestamp("us")),
        ("day", pa.date32()),
        ("amount", pa.decimal128(12, 2)),
        ("tags", pa.list_(pa.string())),
        ("address", pa.struct([("city", pa.string()), ("zip", pa.int32())])),
        ("attributes", pa.map_(pa.string(), pa.int64())),
    ]
)

ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("customer", pa.string()),
        ("total", pa.float64()),
        ("paid", pa.bool_()),
        ("ordered_at", pa.timestamp("us")),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {"rich": RICH_SCHEMA, "orders": ORDERS_SCHEMA}

#: The columns a task would annotate (`Annotated[pd.DataFrame, kwtypes(...)]`) for each shape: a subset on purpose.
ANNOTATED_COLUMNS = {
    "rich": {
        "id": lit.simple_type(lit.SIMPLE.INTEGER),
        "score": lit.simple_type(lit.SIMPLE.FLOAT),
        "name": lit.simple_type(lit.SIMPLE.STRING),
        "active": lit.simple_type(lit.SIMPLE.BOOLEAN),
        "updated_at": lit.simple_type(lit.SIMPLE.DATETIME),
        "tags": lit.list_type(lit.simple_type(lit.SIMPLE.STRING)),
        "attributes": lit.map_type(lit.simple_type(lit.SIMPLE.INTEGER)),
    },
    "orders": {
        "order_id": lit.simple_type(lit.SIMPLE.INTEGER),
        "customer": lit.simple_type(lit.SIMPLE.STRING),
        "total": lit.simple_type(lit.SIMPLE.FLOAT),
        "paid": lit.simple_type(lit.SIMPLE.BOOLEAN),
        "ordered_at": lit.simple_type(lit.SIMPLE.DATETIME),
    },
}

#: Legacy `FlyteSchema` columns for the `orders` shape.
ORDERS_SCHEMA_COLUMNS = {
    "order_id": lit.SCHEMA_COLUMN.INTEGER,
    "customer": lit.SCHEMA_COLUMN.STRING,
    "total": lit.SCHEMA_COLUMN.FLOAT,
    "paid": lit.SCHEMA_COLUMN.BOOLEAN,
    "ordered_at": lit.SCHEMA_COLUMN.DATETIME,
}

_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
#: flytekit's encoders write a declared ``datetime`` column as a naive ``timestamp[us]`` (pandas datetime64)
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)
_CITIES = ["Lisbon", "Oslo", "Denver", "Osaka", "Lagos"]


def rich_table(rng: random.Random, rows: int) -> pa.Table:
    """A table with one column of every supported type."""
    ids = list(range(rows))
    data = {
        "id": ids,
        "score": [round(rng.random() * 100, 3) for _ in ids],
        "name": [f"item-{rng.randrange(10_000)}" for _ in ids],
        "active": [rng.random() < 0.5 for _ in ids],
        "updated_at": [_NAIVE_EPOCH + dt.timedelta(seconds=rng.randrange(86_400 * 30)) for _ in ids],
        "day": [(_EPOCH + dt.timedelta(days=rng.randrange(365))).date() for _ in ids],
        "amount": [decimal.Decimal(rng.randrange(1_000_000)) / 100 for _ in ids],
        "tags": [[f"t{rng.randrange(5)}" for _ in range(rng.randrange(3))] for _ in ids],
        "address": [{"city": rng.choice(_CITIES), "zip": rng.randrange(10_000, 99_999)} for _ in ids],
        "attributes": [[(f"k{rng.randrange(3)}", rng.randrange(100))] for _ in ids],
    }
    return pa.Table.from_pydict(data, schema=RICH_SCHEMA)


def orders_table(rng: random.Random, rows: int) -> pa.Table:
    """A plain fact table."""
    ids = list(range(rows))
    data = {
        "order_id": [1000 + i for i in ids],
        "customer": [f"c{rng.randrange(500)}" for _ in ids],
        "total": [round(rng.random() * 500, 2) for _ in ids],
        "paid": [rng.random() < 0.8 for _ in ids],
        "ordered_at": [_NAIVE_EPOCH + dt.timedelta(minutes=rng.randrange(60 * 24 * 30)) for _ in ids],
    }
    return pa.Table.from_pydict(data, schema=ORDERS_SCHEMA)


def table_for(shape: str, rng: random.Random, rows: int) -> pa.Table:
    """A table of the named shape (`rich` or `orders`)."""
    return rich_table(rng, rows) if shape == "rich" else orders_table(rng, rows)


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialize a table to Parquet bytes."""
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def csv_bytes(rng: random.Random, rows: int) -> bytes:
    """A small CSV file (header + rows), as a `FlyteFile[csv]` task output would contain."""
    lines = ["sensor,reading,ok"]
    lines += [f"s{rng.randrange(20)},{rng.random() * 10:.4f},{rng.random() < 0.9}" for _ in range(rows)]
    return ("\n".join(lines) + "\n").encode()
