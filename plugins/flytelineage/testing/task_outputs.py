"""`OutputData`: what a task attempt writes to blob storage, returned as the literals of its outputs.pb.

Each method creates one output value under the attempt's raw output prefix (or, for a cache hit's original run,
under another execution's prefix), stores the data objects it points to, and returns the literal.
"""

from __future__ import annotations

from flyteidl.core import literals_pb2

from flytelineage.testing import flyte_literals as lit
from flytelineage.testing import parquet_samples as samples
from flytelineage.testing.event_timeline import ExecutionTimeline, NodeRef


class OutputData:
    """Factory for the output values of one task attempt (`node`, `attempt`) of `timeline`."""

    def __init__(
        self,
        timeline: ExecutionTimeline,
        node: NodeRef,
        attempt: int = 0,
        *,
        execution_name: str | None = None,
        raw_suffix: str = "",
    ) -> None:
        self.timeline = timeline
        self.node = node
        self.attempt = attempt
        self.raw = timeline.raw_dir(node.node_id + raw_suffix, attempt, execution_name)

    def _new_dir(self) -> str:
        return f"{self.raw}/{self.timeline.random_hex()}"

    def dataset(
        self,
        shape: str = "rich",
        *,
        annotated: bool = True,
        files: int = 1,
        rows: int = 6,
        trailing_slash: bool = False,
    ) -> literals_pb2.Literal:
        """A structured dataset: Parquet part files `<uri>/00000`, `<uri>/00001`, … of the given shape.

        ``trailing_slash``: the literal's URI ends in ``/`` (``StructuredDataset(uri="s3://b/dir/")``).
        """
        uri = self._new_dir()
        if self.timeline.with_objects:
            for index in range(files):
                table = samples.table_for(shape, self.timeline.data_rng, rows)
                self.timeline.put(f"{uri}/{index:05d}", samples.parquet_bytes(table))
        columns = samples.ANNOTATED_COLUMNS[shape] if annotated else None
        return lit.structured_dataset_literal(uri + "/" if trailing_slash else uri, columns)

    def legacy_schema(self, *, rows: int = 5) -> literals_pb2.Literal:
        """A legacy `FlyteSchema[kwtypes(...)]` of the `orders` shape, one Parquet part file."""
        uri = self._new_dir()
        if self.timeline.with_objects:
            table = samples.orders_table(self.timeline.data_rng, rows)
            self.timeline.put(f"{uri}/00000", samples.parquet_bytes(table))
        return lit.schema_literal(uri, samples.ORDERS_SCHEMA_COLUMNS)

    def csv_file(self, filename: str = "readings.csv") -> literals_pb2.Literal:
        """A `FlyteFile[csv]`: a single-part blob."""
        uri = f"{self._new_dir()}/{filename}"
        if self.timeline.with_objects:
            self.timeline.put(uri, samples.csv_bytes(self.timeline.data_rng, 8))
        return lit.blob_literal(uri, "csv", multipart=False)

    def directory(self, *, files: int = 3) -> literals_pb2.Literal:
        """A `FlyteDirectory[csv]`: a multipart blob (directory of CSV files)."""
        uri = self._new_dir()
        if self.timeline.with_objects:
            for index in range(files):
                self.timeline.put(f"{uri}/part-{index:05d}.csv", samples.csv_bytes(self.timeline.data_rng, 4))
        return lit.blob_literal(uri, "csv", multipart=True)

    # ---- shapes flytekit 1.16 writes (issue 10) ----------------------------------------------------------------

    def csv_dataset(self, *, rows: int = 5) -> literals_pb2.Literal:
        """A ``StructuredDataset`` of format ``csv``: flytekit's pandas CSV encoder writes one object ``<uri>/.csv``."""
        uri = self._new_dir()
        if self.timeline.with_objects:
            self.timeline.put(f"{uri}/.csv", samples.csv_bytes(self.timeline.data_rng, rows))
        return lit.structured_dataset_literal(uri, file_format="csv")

    def single_file_dataset(self, filename: str = "data.parquet", *, rows: int = 4) -> literals_pb2.Literal:
        """``StructuredDataset(uri=".../data.parquet")``: the URI names one Parquet object, not a directory."""
        uri = f"{self._new_dir()}/{filename}"
        if self.timeline.with_objects:
            self.timeline.put(uri, samples.parquet_bytes(samples.orders_table(self.timeline.data_rng, rows)))
        return lit.structured_dataset_literal(uri)

    def plain_file(self, filename: str = "scores.parquet", *, rows: int = 4) -> literals_pb2.Literal:
        """A plain ``FlyteFile`` (no declared format) that holds Parquet: only the footer magic tells."""
        uri = f"{self._new_dir()}/{filename}"
        if self.timeline.with_objects:
            self.timeline.put(uri, samples.parquet_bytes(samples.table_for("rich", self.timeline.data_rng, rows)))
        return lit.blob_literal(uri, "", multipart=False)

    def bundle(self) -> literals_pb2.Literal:
        """A dataclass (msgpack, flytekit >= 1.14) holding a DataFrame field and a ``FlyteFile`` field."""
        frame = self._new_dir()
        report = f"{self._new_dir()}/report.csv"
        if self.timeline.with_objects:
            rows = self.timeline.data_rng.randrange(3, 7)
            self.timeline.put(
                f"{frame}/00000", samples.parquet_bytes(samples.orders_table(self.timeline.data_rng, rows))
            )
            self.timeline.put(report, samples.csv_bytes(self.timeline.data_rng, 3))
        return lit.msgpack_literal(
            {"name": "weekly", "frame": lit.sd_value(frame), "report": lit.file_value(report), "rows": 5}
        )

    def legacy_bundle(self) -> literals_pb2.Literal:
        """The same dataclass as older flytekit stored it: ``scalar.generic`` (a protobuf ``Struct``)."""
        frame = self._new_dir()
        if self.timeline.with_objects:
            self.timeline.put(f"{frame}/00000", samples.parquet_bytes(samples.orders_table(self.timeline.data_rng, 3)))
        return lit.generic_literal({"name": "legacy", "frame": lit.sd_value(frame)})

    def offloaded(self, key: str, literal: literals_pb2.Literal) -> literals_pb2.Literal:
        """Offload `literal` as propeller does: the serialized `core.Literal` goes next to outputs.pb."""
        uri = f"{self.timeline.attempt_dir(self.node, self.attempt)}/{key}_offloaded_metadata.pb"
        stub, payload = lit.offloaded_literal(uri, literal)
        self.timeline.put(uri, payload)
        return stub
