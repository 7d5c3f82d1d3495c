"""Find the datasets inside Flyte LiteralMaps and resolve their schemas, with all I/O injected.

What counts as a dataset (flyte-events.md section 4): structured datasets (``kind=structured_dataset``, ``uri`` a
directory), legacy schemas (``schema``, a directory of Parquet parts), single-file blobs (``blob``) and multipart
blobs (``multipart_blob``, a directory), at any depth inside collections and maps, and behind offloaded literals
(``Literal.offloaded_metadata.uri`` holds a serialized ``core.Literal``). A dataset's variable path is the variable
name, then ``.<key>`` per map level. Collection levels add nothing to the path: a dataset reached through a list is
an *element* of the list dataset of that path, and ``FoundDataset.element`` holds its list indices (``3``, or
``0.1`` for a list of lists); list indices carry no meaning across runs, map keys are names a user chose.
``Optional``/``Union`` values (``scalar.union``) are walked with the type of the stored variant. Dataclasses and
pydantic models (``scalar.binary`` with tag ``msgpack``, or the older ``scalar.generic`` Struct) are decoded and
searched for flytekit's serialized StructuredDataset (``{"uri", "file_format"}``) and FlyteFile/FlyteDirectory
(``{"path"}``) values at any depth, their path continuing with ``.<field>``; a list inside them follows the same rule
as a collection (its items are elements, the path does not change).

Every component of a variable path (variable name, key, field, index) is escaped by ``urn_names.path_component``
when the path is built: a key ``x.y`` is ``x%2Ey``, so it never reads as a map ``x`` holding ``y``.

Reading happens in phases, each asking the ``ObjectReader`` once with the full set of URIs of all executions, so the
implementation can read concurrently and every URI is read at most once per run:

1. ``read_objects``: the LiteralMaps (``inputs.pb``/``outputs.pb``); inline maps from event payloads need no read;
2. ``read_objects``: the offloaded literals found in them (repeated while new ones appear, bounded depth);
3. ``list_files``: the directories of datasets without annotated columns whose format is Parquet (or unknown);
4. ``read_tails``: the last ``TAIL_BYTES`` of the first data file of each (sorted order), then once more for the
   footers that did not fit;
5. ``read_heads``: for datasets with format ``csv``, the first ``HEAD_BYTES`` of their first CSV file, whose
   header line names the columns (``read_csv_headers``); their directories are listed with those of phase 3, in
   the same ``list_files`` call (``read_data_schemas``).

``read_buckets`` (an allowlist of bucket names, empty = any; the rule is ``location_policy.in_read_buckets``) is
enforced here, before the reader is asked: a URI outside it is never requested. Every refused, missing or corrupt
object becomes a problem string attached to the URI; nothing raises.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import msgpack
import pyarrow as pa
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtoDecodeError

from flytelineage.domain.arrow_schema_fields import (
    NeedMoreBytes,
    fields_from_arrow_schema,
    fields_from_literal_type,
    fields_from_schema_type,
    fields_from_structured_dataset_type,
    first_data_file,
    is_parquet_tail,
    parse_parquet_tail,
)
from flytelineage.domain.lineage_model import SchemaField
from flytelineage.domain.location_policy import bucket_of, in_read_buckets
from flytelineage.domain.urn_names import path_component
from flytelineage.errors import DatasetReadError

TAIL_BYTES = 64 * 1024
_ReadFn = Callable[[Sequence[str]], Mapping[str, bytes | Exception]]
MAX_OFFLOAD_DEPTH = 4
_FOOTER_FORMATS = frozenset({"parquet", ""})


class ObjectReader(Protocol):
    """Read access to blob storage, implemented by the operator (S3) and by ``InMemoryObjectReader`` (tests).

    Each method receives the full, deduplicated set of URIs of one phase and returns one entry per URI: the
    value, or the exception that prevented reading it (missing object, access denied...). It must not raise for a
    single bad URI.
    """

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        """Whole objects (LiteralMaps, offloaded literals: small)."""
        ...

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Sequence[str] | Exception]:
        """The file URIs under each directory prefix (recursively), in any order."""
        ...

    def read_tails(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        """The last ``nbytes`` of each file (the whole file when it is shorter)."""
        ...

    def read_heads(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        """The first ``nbytes`` of each file (the whole file when it is shorter)."""
        ...


@dataclass(frozen=True)
class FoundDataset:
    """One dataset literal found in a LiteralMap, before naming (naming needs the execution graph)."""

    variable: str
    kind: str
    uri: str
    format: str = ""
    fields: tuple[SchemaField, ...] = ()
    schema_source: str = "none"
    layout: str = ""
    """``file``, ``directory``, or ``unknown`` (a dataclass ``path``: the footer phase decides); empty = by kind."""
    properties: tuple[tuple[str, str], ...] = ()
    element: str = ""
    """The list indices (``.``-joined, outermost first) of a dataset found inside a collection; empty = not in one."""


@dataclass(frozen=True)
class LiteralRef:
    """Where a LiteralMap is: an object ``uri``, or inline ``data`` (serialized LiteralMap from an event payload).

    Inline maps get a synthetic ``inline://<event_id>/<inputs|outputs>`` uri so they are keyed like the others.
    """

    uri: str
    data: bytes | None = None


@dataclass
class ReadOutcome:
    """Parsed LiteralMaps by ref uri, and the problems met while reading them or their datasets, by uri."""

    maps: dict[str, literals_pb2.LiteralMap] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def read_literal_maps(
    refs: Iterable[LiteralRef], reader: ObjectReader, *, read_buckets: Sequence[str] = ()
) -> ReadOutcome:
    """Read and parse every LiteralMap in ``refs`` and replace offloaded literals by their content."""
    outcome = ReadOutcome()
    unique = {ref.uri: ref for ref in refs}
    raw: dict[str, bytes] = {uri: ref.data for uri, ref in unique.items() if ref.data is not None}
    to_read = sorted(uri for uri, ref in unique.items() if ref.data is None)
    raw.update(_read_allowed(to_read, reader.read_objects, read_buckets, outcome.problems, "LiteralMap"))
    for uri in sorted(raw):
        try:
            outcome.maps[uri] = literals_pb2.LiteralMap.FromString(raw[uri])
        except ProtoDecodeError as exc:
            outcome.problems[uri] = f"corrupt LiteralMap {uri}: {exc}"
    _inline_offloaded(outcome, reader, read_buckets)
    return outcome


def _read_allowed(
    uris: Sequence[str],
    read: _ReadFn,
    read_buckets: Sequence[str],
    problems: dict[str, str],
    what: str,
) -> dict[str, bytes]:
    """Ask ``read`` (a reader method) for the allowed URIs; record refusals and failures as problems."""
    allowed = _allowed(uris, read_buckets, problems, what)
    if not allowed:
        return {}
    results = read(allowed)
    found: dict[str, bytes] = {}
    for uri in allowed:
        value = results.get(uri, DatasetReadError("reader returned nothing"))
        if isinstance(value, Exception):
            problems[uri] = f"{what} {uri} could not be read: {value}"
        else:
            found[uri] = value
    return found


def _allowed(uris: Iterable[str], read_buckets: Sequence[str], problems: dict[str, str], what: str) -> list[str]:
    """The URIs inside ``read_buckets``, in order; each refused one gets a problem naming ``what`` it is."""
    buckets = frozenset(read_buckets)
    allowed: list[str] = []
    for uri in uris:
        if in_read_buckets(uri, buckets):
            allowed.append(uri)
        else:
            problems[uri] = f"{what} {uri} not read: bucket {bucket_of(uri)!r} is not in read_buckets"
    return allowed


def _inline_offloaded(outcome: ReadOutcome, reader: ObjectReader, read_buckets: Sequence[str]) -> None:
    """Replace offloaded literals in place, reading all pending offloaded URIs of one depth at a time."""
    for _ in range(MAX_OFFLOAD_DEPTH):
        pending = sorted({lit.offloaded_metadata.uri for m in outcome.maps.values() for lit in _offloaded(m)})
        if not pending:
            return
        contents = _read_allowed(pending, reader.read_objects, read_buckets, outcome.problems, "offloaded literal")
        parsed: dict[str, literals_pb2.Literal] = {}
        for uri, data in contents.items():
            try:
                parsed[uri] = literals_pb2.Literal.FromString(data)
            except ProtoDecodeError as exc:
                outcome.problems[uri] = f"corrupt offloaded literal {uri}: {exc}"
        for map_uri, literal_map in outcome.maps.items():
            for lit in _offloaded(literal_map):
                uri = lit.offloaded_metadata.uri
                if uri in parsed:
                    lit.CopyFrom(parsed[uri])
                else:
                    # unreadable: report it against the map that referenced it, and stop following it
                    outcome.problems.setdefault(map_uri, outcome.problems.get(uri, f"offloaded literal {uri} lost"))
                    lit.ClearField("offloaded_metadata")
    for literal_map in outcome.maps.values():
        for lit in _offloaded(literal_map):
            lit.ClearField("offloaded_metadata")


def _offloaded(literal_map: literals_pb2.LiteralMap) -> list[literals_pb2.Literal]:
    found: list[literals_pb2.Literal] = []
    stack = list(literal_map.literals.values())
    while stack:
        lit = stack.pop()
        which = lit.WhichOneof("value")
        if which == "offloaded_metadata":
            found.append(lit)
        elif which == "collection":
            stack.extend(lit.collection.literals)
        elif which == "map":
            stack.extend(lit.map.literals.values())
        elif which == "scalar" and lit.scalar.WhichOneof("value") == "union":
            stack.append(lit.scalar.union.value)
    return found


# ---- finding datasets -----------------------------------------------------------------------------------------------


def find_datasets(
    literal_map: literals_pb2.LiteralMap,
    interface: Mapping[str, types_pb2.LiteralType] | None = None,
) -> list[FoundDataset]:
    """All datasets in a LiteralMap, sorted by variable path.

    ``interface`` (variable -> declared ``LiteralType``, from cloudEvents v2 ``output_interface``) supplies columns
    when the literal itself carries none.
    """
    found: list[FoundDataset] = []
    for name in sorted(literal_map.literals):
        declared = (interface or {}).get(name)
        _walk(path_component(name), literal_map.literals[name], declared, found)
    return sorted(found, key=lambda d: (d.variable, element_order(d.element), d.uri))


def element_order(element: str) -> tuple[int, ...]:
    """Sort key of an ``element`` (list indices): numeric, outermost first (``2`` before ``10``); none sorts first."""
    return tuple(int(part) for part in element.split(".")) if element else ()


def _walk(
    path: str,
    lit: literals_pb2.Literal,
    declared: types_pb2.LiteralType | None,
    found: list[FoundDataset],
    element: str = "",
) -> None:
    which = lit.WhichOneof("value")
    if which == "collection":
        item_type = declared.collection_type if declared is not None and declared.HasField("collection_type") else None
        for index, item in enumerate(lit.collection.literals):
            _walk(path, item, item_type, found, _element_of(element, index))
    elif which == "map":
        value_type = declared.map_value_type if declared is not None and declared.HasField("map_value_type") else None
        for key in sorted(lit.map.literals):
            _walk(f"{path}.{path_component(key)}", lit.map.literals[key], value_type, found, element)
    elif which == "scalar" and lit.scalar.WhichOneof("value") == "union":
        # Optional[...] / Union[...]: the value is wrapped with the type of the variant stored (``Union.type``,
        # flytekit's ``stored_type``)
        union = lit.scalar.union
        stored = union.type if union.HasField("type") else declared
        _walk(path, union.value, stored, found, element)
    elif which == "scalar" and lit.scalar.WhichOneof("value") in ("binary", "generic"):
        found.extend(_embedded_datasets(path, lit.scalar, element))
    elif which == "scalar":
        dataset = _scalar_dataset(path, lit.scalar, declared)
        if dataset is not None:
            found.append(replace(dataset, element=element) if element else dataset)


def _element_of(outer: str, index: int) -> str:
    """The list indices of an item: the enclosing lists' indices, then its own (``0.1``)."""
    return f"{outer}.{index}" if outer else str(index)


def normalize_location(uri: str) -> str:
    """One spelling per location: trailing slashes removed (``s3://b/x/`` and ``s3://b/x`` are one dataset)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri.rstrip("/") or uri
    return f"{scheme}://{rest.rstrip('/')}"


def _embedded_datasets(path: str, scalar: literals_pb2.Scalar, element: str = "") -> list[FoundDataset]:
    """Datasets inside a dataclass / pydantic value: ``binary`` msgpack (flytekit >= 1.14) or ``generic`` Struct.

    flytekit serializes a StructuredDataset field as ``{"uri", "file_format"}`` and a FlyteFile / FlyteDirectory
    field as ``{"path"}`` (plus ``metadata`` for files); they may be nested at any depth in dicts and lists.
    A ``path`` does not say whether it is a file or a directory: it is found as a ``blob`` with no format and the
    footer phase tells which (an existing object is a file). A list field (``parts: List[StructuredDataset]``) is a
    collection like any other: its items are elements of one list dataset ``<path>.parts``, so a dataclass holding
    N parts gives one dataset, not N (``element`` continues the indices of the lists the value is in).
    """
    if scalar.WhichOneof("value") == "binary":
        if scalar.binary.tag != "msgpack":
            return []
        try:
            value = msgpack.unpackb(scalar.binary.value, strict_map_key=False, raw=False)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, UnicodeDecodeError):
            return []
    else:
        value = json_format.MessageToDict(scalar.generic)
    found: list[FoundDataset] = []
    stack: list[tuple[str, str, object]] = [(path, element, value)]
    while stack:
        where, at, item = stack.pop()
        if isinstance(item, dict):
            uri, fmt, file_path = item.get("uri"), item.get("file_format"), item.get("path")
            if isinstance(uri, str) and uri and "file_format" in item:
                sd_format = fmt if isinstance(fmt, str) else ""
                found.append(FoundDataset(where, "structured_dataset", normalize_location(uri), sd_format, element=at))
                continue
            if isinstance(file_path, str) and _is_remote(file_path) and set(item) <= {"path", "metadata"}:
                uri = normalize_location(file_path)
                found.append(FoundDataset(where, "blob", uri, "", layout="unknown", element=at))
                continue
            stack.extend(
                (f"{where}.{path_component(key)}", at, sub) for key, sub in item.items() if isinstance(key, str | int)
            )
        elif isinstance(item, list):
            stack.extend((where, _element_of(at, index), sub) for index, sub in enumerate(item))
    return found


def _is_remote(path: str) -> bool:
    """A location a lineage consumer can name (``s3://...``); local paths of a task pod are not datasets."""
    return "://" in path


def _scalar_dataset(
    path: str, scalar: literals_pb2.Scalar, declared: types_pb2.LiteralType | None
) -> FoundDataset | None:
    which = scalar.WhichOneof("value")
    if which == "structured_dataset":
        sd = scalar.structured_dataset
        sd_type = sd.metadata.structured_dataset_type
        fields = fields_from_structured_dataset_type(sd_type)
        fmt = sd_type.format
        sd_uri = normalize_location(sd.uri)
        return _with_declared(FoundDataset(path, "structured_dataset", sd_uri, fmt, fields), declared)
    if which == "schema":
        fields = fields_from_schema_type(scalar.schema.type)
        schema_uri = normalize_location(scalar.schema.uri)
        return _with_declared(FoundDataset(path, "schema", schema_uri, "parquet", fields), declared)
    if which == "blob":
        blob = scalar.blob
        multipart = blob.metadata.type.dimensionality == types_pb2.BlobType.MULTIPART
        kind = "multipart_blob" if multipart else "blob"
        return FoundDataset(path, kind, normalize_location(blob.uri), blob.metadata.type.format)
    return None


def _with_declared(dataset: FoundDataset, declared: types_pb2.LiteralType | None) -> FoundDataset:
    if dataset.fields:
        return _replace(dataset, schema_source="literal_type")
    declared_fields = fields_from_literal_type(declared) if declared is not None else ()
    if declared_fields:
        return _replace(dataset, fields=declared_fields, schema_source="literal_type")
    return dataset


def _replace(dataset: FoundDataset, **changes: object) -> FoundDataset:
    return replace(dataset, **changes)  # type: ignore[arg-type]


# ---- schemas from Parquet footers -----------------------------------------------------------------------------------


def needs_footer(dataset: FoundDataset) -> bool:
    """True when the dataset's data is (or may be) Parquet: the footer is the schema truth, declared columns or not.

    A blob with no declared format (a plain ``FlyteFile`` / ``FlyteDirectory``) may be Parquet: its data is looked
    at, and it is Parquet only if the file ends with the ``PAR1`` magic (no problem is recorded otherwise).
    """
    return bool(dataset.uri) and dataset.format.lower() in _FOOTER_FORMATS


@dataclass
class FooterOutcome:
    """Schemas, problems and the layout found (``file`` / ``directory``), all keyed by dataset uri."""

    fields: dict[str, tuple[SchemaField, ...]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    layouts: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """The ``schema_source`` of ``fields`` when it is not ``parquet_footer`` (``csv_header``)."""


def read_footer_schemas(
    datasets: Iterable[FoundDataset], reader: ObjectReader, *, read_buckets: Sequence[str] = ()
) -> FooterOutcome:
    """Schemas from the Parquet footers of the datasets that need one (``needs_footer``), keyed by dataset uri.

    A declared single-file blob is its own data file. Every other dataset is listed as a directory; when nothing
    is under it, its URI is tried as one object (``StructuredDataset(uri=".../data.parquet")``) and, if it exists,
    it is a file (``layouts``). Data files without the ``PAR1`` magic are "not Parquet": a problem for datasets
    declared Parquet (or structured datasets with no format), silence for blobs with no declared format.
    """
    outcome = FooterOutcome()
    wanted = {d.uri: d for d in datasets if needs_footer(d)}
    files = _data_files(wanted, reader, read_buckets, outcome)
    schemas, not_parquet = _footer_schemas(sorted(set(files.values())), reader, read_buckets, outcome.problems)
    for dataset_uri, file_uri in files.items():
        schema = schemas.get(file_uri)
        if schema is not None:
            outcome.fields[dataset_uri] = fields_from_arrow_schema(schema)
        elif file_uri in not_parquet:
            if not _may_be_other(wanted[dataset_uri]):
                outcome.problems[dataset_uri] = f"{_what(wanted[dataset_uri])} {dataset_uri}: {not_parquet[file_uri]}"
        elif file_uri in outcome.problems:
            outcome.problems[dataset_uri] = outcome.problems[file_uri]
    return outcome


def _may_be_other(dataset: FoundDataset) -> bool:
    """A blob with no declared format can hold anything: not being Parquet is not a problem."""
    return dataset.kind in ("blob", "multipart_blob") and not dataset.format


def _what(dataset: FoundDataset) -> str:
    return "Parquet file" if dataset.kind == "blob" else "dataset"


def _footer_schemas(
    file_uris: Sequence[str], reader: ObjectReader, read_buckets: Sequence[str], problems: dict[str, str]
) -> tuple[dict[str, pa.Schema], dict[str, str]]:
    """Read ``TAIL_BYTES`` of every file, then once more (per needed size) for footers that did not fit.

    Returns the schemas and, separately, the files that are not Parquet at all (no magic) with the reason.
    """
    schemas: dict[str, pa.Schema] = {}
    not_parquet: dict[str, str] = {}
    retry: dict[str, int] = {}
    tails = _read_allowed(file_uris, _tail_reader(reader, TAIL_BYTES), read_buckets, problems, "Parquet file")
    for file_uri, tail in tails.items():
        if not is_parquet_tail(tail):
            not_parquet[file_uri] = f"data file {file_uri} is not a Parquet file (no PAR1 magic at the end)"
            continue
        parsed = _parse_or_problem(file_uri, tail, len(tail) < TAIL_BYTES, problems)
        if isinstance(parsed, NeedMoreBytes):
            retry[file_uri] = parsed.nbytes
        elif parsed is not None:
            schemas[file_uri] = parsed
    for nbytes in sorted(set(retry.values())):
        uris = sorted(u for u, n in retry.items() if n == nbytes)
        longer = _read_allowed(uris, _tail_reader(reader, nbytes), read_buckets, problems, "Parquet file")
        for file_uri, tail in longer.items():
            parsed = _parse_or_problem(file_uri, tail, True, problems)
            if isinstance(parsed, pa.Schema):
                schemas[file_uri] = parsed
            elif isinstance(parsed, NeedMoreBytes):
                problems[file_uri] = f"Parquet file {file_uri}: footer still incomplete after reading {nbytes} bytes"
    return schemas, not_parquet


def _tail_reader(reader: ObjectReader, nbytes: int) -> _ReadFn:
    def read(uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        return reader.read_tails(uris, nbytes)

    return read


def _data_files(
    wanted: Mapping[str, FoundDataset], reader: ObjectReader, read_buckets: Sequence[str], outcome: FooterOutcome
) -> dict[str, str]:
    """Dataset uri -> the file whose footer is read (single-file blobs and single objects are their own file)."""
    files = {uri: uri for uri, d in wanted.items() if d.kind == "blob" and d.layout != "unknown"}
    outcome.layouts.update(dict.fromkeys(files, "file"))
    allowed = _allowed(sorted(uri for uri in wanted if uri not in files), read_buckets, outcome.problems, "dataset")
    listed, unlisted = _first_files(allowed, reader, first_data_file, outcome)
    files.update(listed)
    files.update(_single_objects(unlisted, reader, outcome))
    return files


def _first_files(
    dirs: Sequence[str], reader: ObjectReader, pick: Callable[[Sequence[str]], str | None], outcome: FooterOutcome
) -> tuple[dict[str, str], dict[str, Exception]]:
    """List ``dirs`` in one call: the file ``pick`` chooses in each directory (none is a problem), and the URIs the
    listing failed for, with the error (perhaps single objects: the caller decides)."""
    listing = reader.list_files(dirs) if dirs else {}
    files: dict[str, str] = {}
    unlisted: dict[str, Exception] = {}
    for uri in dirs:
        value = listing.get(uri, DatasetReadError("reader returned nothing"))
        if isinstance(value, Exception):
            unlisted[uri] = value
            continue
        outcome.layouts[uri] = "directory"
        first = pick(value)
        if first is None:
            outcome.problems[uri] = f"dataset {uri} has no data files"
        else:
            files[uri] = first
    return files, unlisted


def _single_objects(unlisted: Mapping[str, Exception], reader: ObjectReader, outcome: FooterOutcome) -> dict[str, str]:
    """Of the URIs nothing is listed under, those that are one existing object: they are their own data file.

    The existence check is a one-byte tail read (cheaper than a second listing, and the reader interface has it).
    """
    if not unlisted:
        return {}
    probes = reader.read_tails(sorted(unlisted), 1)
    files: dict[str, str] = {}
    for uri, error in unlisted.items():
        if isinstance(probes.get(uri, error), bytes):
            files[uri] = uri
            outcome.layouts[uri] = "file"
        else:
            outcome.problems[uri] = f"dataset {uri} could not be listed: {error}"
    return files


def _parse_or_problem(
    file_uri: str, tail: bytes, is_whole: bool, problems: dict[str, str]
) -> pa.Schema | NeedMoreBytes | None:
    try:
        return parse_parquet_tail(tail, is_whole_file=is_whole)
    except DatasetReadError as exc:
        problems[file_uri] = f"Parquet file {file_uri}: {exc}"
        return None


# ---- schemas from CSV headers ---------------------------------------------------------------------------------------

HEAD_BYTES = 64 * 1024
"""How much of a CSV file is read for its header line; a longer header is a problem, not a schema."""
CSV_HEADER_SOURCE = "csv_header"
"""The ``schema_source`` of columns named by a CSV header: names only, every type ``string`` (CSV has no types)."""
_CSV_FORMATS = frozenset({"csv"})


class CsvHeaderError(ValueError):
    """Why a CSV head has no usable header line (the message completes "CSV file <uri> ...")."""


def needs_csv_header(dataset: FoundDataset) -> bool:
    """True for datasets declared CSV (structured datasets and blobs): their first line names the columns."""
    return bool(dataset.uri) and dataset.format.lower() in _CSV_FORMATS


def parse_csv_header(head: bytes, *, is_whole_file: bool) -> tuple[SchemaField, ...]:
    """The columns named by the first record of ``head`` (the first bytes of a CSV file), each typed ``string``.

    The header is read with the ``csv`` module's default dialect (comma, ``"`` quotes, so a quoted name may hold a
    comma, a quote or a line break), after an optional UTF-8 byte order mark; ``\\n``, ``\\r\\n`` and ``\\r`` end it.
    Raises ``CsvHeaderError`` when the file is empty, is not UTF-8, the header line does not end within ``head``
    (unless ``head`` is the whole file), or a column name is empty or repeated: a CSV without a trustworthy header
    gets no columns rather than wrong ones.
    """
    if not head:
        raise CsvHeaderError("is empty")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=is_whole_file)  # a character cut at the end of a partial head waits
    except UnicodeDecodeError as exc:
        raise CsvHeaderError(f"does not start with UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    try:
        row = next(csv.reader(lines(), strict=True), None)
    except csv.Error as exc:
        if not is_whole_file:
            raise CsvHeaderError(f"has no header line ending within the first {len(head)} bytes") from exc
        raise CsvHeaderError(f"has an unreadable header line ({exc})") from exc
    if not is_whole_file and not (consumed and consumed[-1].endswith(("\n", "\r"))):
        raise CsvHeaderError(f"has no header line ending within the first {len(head)} bytes")
    if not row or not any(name.strip() for name in row):
        raise CsvHeaderError("has an empty header line")
    empty = [index for index, name in enumerate(row) if not name.strip()]
    if empty:
        raise CsvHeaderError(f"has an empty column name in its header line (column {empty[0] + 1} of {len(row)})")
    repeated = sorted({name for name in row if row.count(name) > 1})
    if repeated:
        raise CsvHeaderError(f"repeats column names in its header line: {', '.join(map(repr, repeated))}")
    return tuple(SchemaField(name, "string") for name in row)


def first_csv_file(file_uris: Iterable[str]) -> str | None:
    """The file whose header stands for a CSV dataset directory: the first ``*.csv`` in sorted order, else the first
    data file.

    flytekit's pandas CSV encoder writes a single object named ``.csv`` (``<uri>/.csv``), which counts as data;
    other names starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc``) are markers.
    """
    data = sorted(u for u in file_uris if _is_csv_data_name(u.rstrip("/").rsplit("/", 1)[-1]))
    named_csv = [u for u in data if u.lower().endswith(".csv")]
    return (named_csv or data)[0] if data else None


def _is_csv_data_name(name: str) -> bool:
    return name.lower() == ".csv" or not name.startswith(("_", "."))


def read_csv_headers(
    datasets: Iterable[FoundDataset], reader: ObjectReader, *, read_buckets: Sequence[str] = ()
) -> FooterOutcome:
    """Columns from the header line of the datasets declared CSV (``needs_csv_header``), keyed by dataset uri.

    A single-file blob is its own file; every other dataset is listed as a directory and its ``first_csv_file`` is
    read; a URI with nothing under it is read as one object (a file, in ``layouts``, when it exists). One
    ``read_heads`` call reads ``HEAD_BYTES`` of every file. An unreadable header (see ``parse_csv_header``), a
    missing file or a refused bucket is a problem for the dataset, which then has no columns from its data.
    """
    outcome = FooterOutcome()
    wanted = {d.uri: d for d in datasets if needs_csv_header(d)}
    files = {uri: uri for uri, d in wanted.items() if d.kind == "blob"}
    outcome.layouts.update(dict.fromkeys(files, "file"))
    dirs = _csv_dirs(wanted.values(), read_buckets, outcome.problems)
    listed, unlisted = _first_files(dirs, reader, first_csv_file, outcome)
    files.update(listed)
    files.update({uri: uri for uri in unlisted})  # perhaps one object: its head is read with the others
    problems: dict[str, str] = {}
    heads = _read_allowed(
        sorted(set(files.values())), _head_reader(reader, HEAD_BYTES), read_buckets, problems, "CSV file"
    )
    for dataset_uri, file_uri in sorted(files.items()):
        head = heads.get(file_uri)
        if dataset_uri in unlisted:
            if head is None:
                outcome.problems[dataset_uri] = f"dataset {dataset_uri} could not be listed: {unlisted[dataset_uri]}"
                continue
            outcome.layouts[dataset_uri] = "file"
        if head is None:
            outcome.problems[dataset_uri] = problems.get(file_uri, f"CSV file {file_uri} could not be read")
            continue
        try:
            outcome.fields[dataset_uri] = parse_csv_header(head, is_whole_file=len(head) < HEAD_BYTES)
        except CsvHeaderError as exc:
            outcome.problems[dataset_uri] = f"CSV dataset {dataset_uri}: CSV file {file_uri} {exc}; no columns from it"
        else:
            outcome.sources[dataset_uri] = CSV_HEADER_SOURCE
    return outcome


def _csv_dirs(datasets: Iterable[FoundDataset], read_buckets: Sequence[str], problems: dict[str, str]) -> list[str]:
    """The CSV datasets listed as directories (all but single-file blobs), in allowed buckets; refusals are problems."""
    uris = sorted({d.uri for d in datasets if needs_csv_header(d) and d.kind != "blob"})
    return _allowed(uris, read_buckets, problems, "dataset")


def read_data_schemas(
    datasets: Iterable[FoundDataset], reader: ObjectReader, *, read_buckets: Sequence[str] = ()
) -> FooterOutcome:
    """``read_footer_schemas`` then ``read_csv_headers``, merged (``with_csv_headers``), with one ``list_files`` call
    for the directories of both phases."""
    wanted = list(datasets)
    shared = _ListingOnce(reader, _csv_dirs(wanted, read_buckets, {}))
    footers = read_footer_schemas(wanted, shared, read_buckets=read_buckets)
    return with_csv_headers(footers, read_csv_headers(wanted, shared, read_buckets=read_buckets))


class _ListingOnce:
    """``reader`` with ``list_files`` answered from one call that also lists ``prefetch`` (results kept)."""

    def __init__(self, reader: ObjectReader, prefetch: Sequence[str]) -> None:
        self._reader = reader
        self._prefetch = prefetch
        self._listed: dict[str, Sequence[str] | Exception] = {}

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        return self._reader.read_objects(uris)

    def read_tails(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        return self._reader.read_tails(file_uris, nbytes)

    def read_heads(self, file_uris: Sequence[str], nbytes: int) -> Mapping[str, bytes | Exception]:
        return self._reader.read_heads(file_uris, nbytes)

    def list_files(self, dir_uris: Sequence[str]) -> Mapping[str, Sequence[str] | Exception]:
        missing = {uri: None for uri in dir_uris if uri not in self._listed}
        if missing:
            extra = [uri for uri in self._prefetch if uri not in self._listed and uri not in missing]
            self._listed.update(self._reader.list_files([*missing, *extra]))
        return {uri: self._listed.get(uri, DatasetReadError("reader returned nothing")) for uri in dir_uris}


def with_csv_headers(footers: FooterOutcome, headers: FooterOutcome) -> FooterOutcome:
    """One outcome for both phases: a footer schema (or footer problem) wins over a header for the same uri."""
    merged = FooterOutcome(
        fields=dict(footers.fields),
        problems=dict(footers.problems),
        layouts={**headers.layouts, **footers.layouts},
        sources=dict(footers.sources),
    )
    for uri, fields in headers.fields.items():
        if uri not in merged.fields and uri not in merged.problems:
            merged.fields[uri] = fields
            merged.sources[uri] = headers.sources.get(uri, CSV_HEADER_SOURCE)
    for uri, problem in headers.problems.items():
        if uri not in merged.fields:
            merged.problems.setdefault(uri, problem)
    return merged


def _head_reader(reader: ObjectReader, nbytes: int) -> _ReadFn:
    def read(uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        return reader.read_heads(uris, nbytes)

    return read
