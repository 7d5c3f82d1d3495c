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

Every component of a variable path (variable name, map key, field) is escaped by ``urn_names.path_component``
when the path is built: a key ``x.y`` is ``x%2Ey``, so it never reads as a map ``x`` holding ``y``.

Reading happens in phases, each asking the ``ObjectReader`` once with the full set of URIs of all executions, so the
implementation can read concurrently and every URI is read at most once per run:

1. ``read_heads`` of ``max_literal_bytes + 1`` bytes: the LiteralMaps (``inputs.pb``/``outputs.pb``), so a larger
   object is a problem and is never downloaded whole; inline maps from event payloads need no read;
2. the same for the offloaded literals found in them, one level at a time while new ones appear; each is parsed
   once and followed by the search (``find_datasets``), never copied, so the work is linear in the bytes read;
3. ``list_files``: the directories of datasets without annotated columns whose format is Parquet (or unknown);
4. ``read_tails``: the last ``TAIL_BYTES`` of the first data file of each (sorted order), then once more for the
   footers that did not fit, unless they claim more than ``max_footer_bytes``;
5. ``read_heads``: for datasets with format ``csv``, the first ``HEAD_BYTES`` of their first CSV file, whose
   header line names the columns (``read_csv_headers``); their directories are listed with those of phase 3, in
   the same ``list_files`` call (``read_data_schemas``).

``read_buckets`` (an allowlist of bucket names, empty = any; the rule is ``location_policy.in_read_buckets``) is
enforced here, before the reader is asked: a URI outside it is never requested. Every refused, missing or corrupt
object becomes a problem string attached to the URI; nothing raises. The other hard limits (``read_limits``) are
per execution: ``search_literal_maps`` (literals walked, nesting depth) and ``capped_reads`` (datasets read for a
schema) are applied by the caller, which knows which LiteralMaps belong to which execution.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

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
from flytelineage.domain.read_limits import DEFAULT_LIMITS, ReadLimits
from flytelineage.domain.urn_names import path_component
from flytelineage.errors import DatasetReadError

TAIL_BYTES = 64 * 1024
_ReadFn = Callable[[Sequence[str]], Mapping[str, bytes | Exception]]
_FOOTER_FORMATS = frozenset({"parquet", ""})


class ObjectReader(Protocol):
    """Read access to blob storage, implemented by the operator (S3) and by ``InMemoryObjectReader`` (tests).

    Each method receives the full, deduplicated set of URIs of one phase and returns one entry per URI: the
    value, or the exception that prevented reading it (missing object, access denied...). It must not raise for a
    single bad URI.
    """

    def read_objects(self, uris: Sequence[str]) -> Mapping[str, bytes | Exception]:
        """Whole objects (the grouping's own batches and state; LiteralMaps are read with ``read_heads``)."""
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
    """Parsed LiteralMaps by ref uri, the offloaded literals they reach by uri (each read and parsed once), and the
    problems met while reading them or their datasets, by uri."""

    maps: dict[str, literals_pb2.LiteralMap] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    offloaded: dict[str, literals_pb2.Literal] = field(default_factory=dict)


def read_literal_maps(
    refs: Iterable[LiteralRef],
    reader: ObjectReader,
    *,
    read_buckets: Sequence[str] = (),
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ReadOutcome:
    """Read and parse every LiteralMap in ``refs`` and every offloaded literal they reach (``ReadOutcome.offloaded``).

    Objects are read with ``read_heads`` of ``max_literal_bytes + 1`` bytes: a larger object is a problem and is
    never downloaded whole. Offloaded literals are not copied into the maps: ``find_datasets`` follows them, so one
    read once is reused wherever it is referenced, and one that refers back to itself is a cycle, not an expansion.
    """
    outcome = ReadOutcome()
    unique = {ref.uri: ref for ref in refs}
    raw: dict[str, bytes] = {uri: ref.data for uri, ref in unique.items() if ref.data is not None}
    to_read = sorted(uri for uri, ref in unique.items() if ref.data is None)
    raw.update(_read_bounded(to_read, reader, read_buckets, outcome.problems, "LiteralMap", limits))
    for uri in sorted(raw):
        data = raw.pop(uri)  # the bytes are dropped as soon as parsed: only one copy of each map is held
        if len(data) > limits.max_literal_bytes:
            outcome.problems[uri] = _too_large("LiteralMap", uri, limits)
            continue
        try:
            outcome.maps[uri] = literals_pb2.LiteralMap.FromString(data)
        except ProtoDecodeError as exc:
            outcome.problems[uri] = f"corrupt LiteralMap {uri}: {exc}"
    _read_offloaded(outcome, reader, read_buckets, limits)
    return outcome


def _too_large(what: str, uri: str, limits: ReadLimits) -> str:
    return f"{what} {uri} not read: larger than max_literal_bytes ({limits.max_literal_bytes} bytes)"


def _read_bounded(
    uris: Sequence[str],
    reader: ObjectReader,
    read_buckets: Sequence[str],
    problems: dict[str, str],
    what: str,
    limits: ReadLimits,
) -> dict[str, bytes]:
    """``_read_allowed`` of at most ``max_literal_bytes + 1`` bytes per object (more than the limit: too large)."""

    def read(batch: Sequence[str]) -> Mapping[str, bytes | Exception]:
        return reader.read_heads(batch, limits.max_literal_bytes + 1)

    return _read_allowed(uris, read, read_buckets, problems, what)


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


def _read_offloaded(
    outcome: ReadOutcome, reader: ObjectReader, read_buckets: Sequence[str], limits: ReadLimits
) -> None:
    """Read the offloaded literals the maps reach, one level per ``read_heads`` call, each URI at most once.

    Linear in the bytes read: an object is parsed once and only URIs not tried yet are read at the next level. A
    literal that the walk would find deeper than ``max_literal_depth`` (``find_datasets``) is not read.
    """
    tried: set[str] = set()
    pending = _offloaded_uris(((lit, 1) for m in outcome.maps.values() for lit in m.literals.values()), limits)
    while pending:
        todo = sorted(set(pending) - tried)
        if not todo:
            return
        tried.update(todo)
        contents = _read_bounded(todo, reader, read_buckets, outcome.problems, "offloaded literal", limits)
        reached: dict[str, int] = {}
        for uri in sorted(contents):
            data = contents.pop(uri)
            if len(data) > limits.max_literal_bytes:
                outcome.problems[uri] = _too_large("offloaded literal", uri, limits)
                continue
            try:
                literal = literals_pb2.Literal.FromString(data)
            except ProtoDecodeError as exc:
                outcome.problems[uri] = f"corrupt offloaded literal {uri}: {exc}"
                continue
            outcome.offloaded[uri] = literal
            for inner, depth in _offloaded_uris([(literal, pending[uri])], limits).items():
                reached[inner] = min(depth, reached.get(inner, depth))
        pending = reached


def _offloaded_uris(literals: Iterable[tuple[literals_pb2.Literal, int]], limits: ReadLimits) -> dict[str, int]:
    """The offloaded literal URIs directly inside ``literals`` (given with their depth, as ``find_datasets`` counts
    it), each with the least depth its content is reached at; those deeper than ``max_literal_depth`` are left out.

    Depth first over iterators, so the memory held is one iterator per level, not one wrapper per literal.
    """
    found: dict[str, int] = {}
    stack: list[Iterator[tuple[literals_pb2.Literal, int]]] = [iter(literals)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        lit, depth = item
        if depth > limits.max_literal_depth:
            continue
        which = lit.WhichOneof("value")
        if which == "offloaded_metadata":
            uri = lit.offloaded_metadata.uri
            found[uri] = min(depth + 1, found.get(uri, depth + 1))
        elif which == "collection":
            stack.append((child, depth + 1) for child in lit.collection.literals)
        elif which == "map":
            stack.append((child, depth + 1) for child in lit.map.literals.values())
        elif which == "scalar" and lit.scalar.WhichOneof("value") == "union":
            stack.append(iter([(lit.scalar.union.value, depth + 1)]))
    return {uri: depth for uri, depth in found.items() if depth <= limits.max_literal_depth}


# ---- finding datasets -----------------------------------------------------------------------------------------------


@dataclass
class LiteralBudget:
    """What one search may walk (``allowance``, by default ``max_literals``), what it walked and the problems met.

    ``search_literal_maps`` gives each LiteralMap of an execution its own budget out of the execution's
    ``max_literals``, so an expansion (an offloaded literal used many times over) costs a bounded number of steps
    whatever its shape.
    """

    limits: ReadLimits = DEFAULT_LIMITS
    allowance: int | None = None
    walked: int = 0
    problems: set[str] = field(default_factory=set)

    @property
    def exhausted(self) -> bool:
        """True once more literals were walked than allowed."""
        allowance = self.allowance if self.allowance is not None else self.limits.max_literals
        return self.walked > allowance


_K = TypeVar("_K")


@dataclass(frozen=True)
class MapToSearch(Generic[_K]):
    """One LiteralMap of an execution for ``search_literal_maps``: a key chosen by the caller, the map, its declared
    variable types and how problems name it (``LiteralMap <uri>``)."""

    key: _K
    literal_map: literals_pb2.LiteralMap
    interface: Mapping[str, types_pb2.LiteralType]
    where: str


def search_literal_maps(
    maps: Sequence[MapToSearch[_K]], read: ReadOutcome, limits: ReadLimits = DEFAULT_LIMITS
) -> tuple[dict[_K, list[FoundDataset]], set[str]]:
    """The datasets of one execution's LiteralMaps (by key) and the problems met, within ``max_literals`` in all.

    Each map first gets an equal share of ``max_literals``; the maps that needed more are searched again, in order,
    with what the others left. A bomb in one map is cut at its share (at worst) and never starves the other maps,
    a single large map still gets nearly the whole limit, and the work stays under twice ``max_literals``.
    """
    share = limits.max_literals // max(1, len(maps))
    found: dict[_K, list[FoundDataset]] = {}
    budgets: dict[_K, LiteralBudget] = {}
    for item in maps:
        budgets[item.key] = LiteralBudget(limits, allowance=share)
        found[item.key] = find_datasets(
            item.literal_map, item.interface, read=read, budget=budgets[item.key], where=item.where
        )
    left = limits.max_literals - sum(min(b.walked, share) for b in budgets.values())
    for item in maps:
        if not budgets[item.key].exhausted or left <= 0:
            continue
        budget = LiteralBudget(limits, allowance=left + share)
        found[item.key] = find_datasets(item.literal_map, item.interface, read=read, budget=budget, where=item.where)
        budgets[item.key] = budget
        left = left + share - min(budget.walked, left + share)
    return found, {p for b in budgets.values() for p in b.problems}


class _Exhausted(Exception):
    """Raised inside a walk when its budget's ``max_literals`` is passed."""


@dataclass
class _Walk:
    """One LiteralMap's search: where it is (for problems), the offloaded literals read, the shared budget."""

    where: str
    read: ReadOutcome
    budget: LiteralBudget
    found: list[FoundDataset] = field(default_factory=list)
    variable: str = ""

    def charge(self, steps: int = 1) -> None:
        self.budget.walked += steps
        if self.budget.exhausted:
            raise _Exhausted

    def offloaded(self, uri: str, via: tuple[str, ...]) -> literals_pb2.Literal | None:
        """The literal an offloaded reference stands for, or None with the problem recorded (unread, a cycle)."""
        if uri in via:
            cycle = " -> ".join((*via[via.index(uri) :], uri))
            self.budget.problems.add(f"offloaded literal {uri} refers back to itself ({cycle}): not followed")
            return None
        content = self.read.offloaded.get(uri)
        if content is None:
            self.budget.problems.add(self.read.problems.get(uri, f"offloaded literal {uri} not read"))
        return content

    def too_deep(self) -> None:
        limit = self.budget.limits.max_literal_depth
        self.budget.problems.add(
            f"{self.where}: variable {self.variable!r} nests deeper than max_literal_depth ({limit}): "
            f"not searched below level {limit}"
        )


def find_datasets(
    literal_map: literals_pb2.LiteralMap,
    interface: Mapping[str, types_pb2.LiteralType] | None = None,
    *,
    read: ReadOutcome | None = None,
    budget: LiteralBudget | None = None,
    where: str = "LiteralMap",
) -> list[FoundDataset]:
    """All datasets in a LiteralMap, sorted by variable path.

    ``interface`` (variable -> declared ``LiteralType``, from cloudEvents v2 ``output_interface``) supplies columns
    when the literal itself carries none. Offloaded literals are looked up in ``read.offloaded`` (one reaching itself
    is a cycle problem); ``budget`` bounds the walk (``max_literals``, ``max_literal_depth``) and collects its
    problems, ``where`` names the map in them. Reaching the budget stops the search: what was found before is kept.
    """
    budget = budget if budget is not None else LiteralBudget()
    walk = _Walk(where, read if read is not None else ReadOutcome(), budget)
    for name in sorted(literal_map.literals):
        walk.variable = name
        declared = (interface or {}).get(name)
        try:
            _walk(walk, path_component(name), literal_map.literals[name], declared, 1, ())
        except _Exhausted:
            budget.problems.add(
                f"{where}: more than max_literals ({budget.limits.max_literals}) literals in the execution's "
                f"LiteralMaps; the search for datasets stopped in variable {name!r}"
            )
            break
    return sorted(walk.found, key=lambda d: (d.variable, element_order(d.element), d.uri))


def element_order(element: str) -> tuple[int, ...]:
    """Sort key of an ``element`` (list indices): numeric, outermost first (``2`` before ``10``); none sorts first."""
    return tuple(int(part) for part in element.split(".")) if element else ()


def _walk(
    walk: _Walk,
    path: str,
    lit: literals_pb2.Literal,
    declared: types_pb2.LiteralType | None,
    depth: int,
    via: tuple[str, ...],
    element: str = "",
) -> None:
    walk.charge()
    if depth > walk.budget.limits.max_literal_depth:
        walk.too_deep()
        return
    which = lit.WhichOneof("value")
    if which == "offloaded_metadata":
        content = walk.offloaded(lit.offloaded_metadata.uri, via)
        if content is not None:
            _walk(walk, path, content, declared, depth + 1, (*via, lit.offloaded_metadata.uri), element)
    elif which == "collection":
        item_type = declared.collection_type if declared is not None and declared.HasField("collection_type") else None
        for index, item in enumerate(lit.collection.literals):
            _walk(walk, path, item, item_type, depth + 1, via, _element_of(element, index))
    elif which == "map":
        value_type = declared.map_value_type if declared is not None and declared.HasField("map_value_type") else None
        for key in sorted(lit.map.literals):
            _walk(walk, f"{path}.{path_component(key)}", lit.map.literals[key], value_type, depth + 1, via, element)
    elif which == "scalar" and lit.scalar.WhichOneof("value") == "union":
        # Optional[...] / Union[...]: the value is wrapped with the type of the variant stored (``Union.type``,
        # flytekit's ``stored_type``)
        union = lit.scalar.union
        stored = union.type if union.HasField("type") else declared
        _walk(walk, path, union.value, stored, depth + 1, via, element)
    elif which == "scalar" and lit.scalar.WhichOneof("value") in ("binary", "generic"):
        scalar = lit.scalar
        size = len(scalar.binary.value) if scalar.WhichOneof("value") == "binary" else scalar.generic.ByteSize()
        walk.charge(size // _EMBEDDED_BYTES_PER_LITERAL)  # decoding it is the cost, paid at every use
        walk.found.extend(_embedded_datasets(path, scalar, element))
    elif which == "scalar":
        dataset = _scalar_dataset(path, lit.scalar, declared)
        if dataset is not None:
            walk.found.append(replace(dataset, element=element) if element else dataset)


def _element_of(outer: str, index: int) -> str:
    """The list indices of an item: the enclosing lists' indices, then its own (``0.1``)."""
    return f"{outer}.{index}" if outer else str(index)


_EMBEDDED_BYTES_PER_LITERAL = 100
"""A dataclass value (msgpack or Struct) counts as one literal per this many bytes of its encoding."""


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
    datasets: Iterable[FoundDataset],
    reader: ObjectReader,
    *,
    read_buckets: Sequence[str] = (),
    limits: ReadLimits = DEFAULT_LIMITS,
) -> FooterOutcome:
    """Schemas from the Parquet footers of the datasets that need one (``needs_footer``), keyed by dataset uri.

    A declared single-file blob is its own data file. Every other dataset is listed as a directory; when nothing
    is under it, its URI is tried as one object (``StructuredDataset(uri=".../data.parquet")``) and, if it exists,
    it is a file (``layouts``). Data files without the ``PAR1`` magic are "not Parquet": a problem for datasets
    declared Parquet (or structured datasets with no format), silence for blobs with no declared format. A file
    claiming a footer longer than ``max_footer_bytes`` is a problem; the longer tail is never requested.
    """
    outcome = FooterOutcome()
    wanted = {d.uri: d for d in datasets if needs_footer(d)}
    files = _data_files(wanted, reader, read_buckets, outcome)
    schemas, not_parquet = _footer_schemas(
        sorted(set(files.values())), reader, read_buckets, outcome.problems, limits.max_footer_bytes
    )
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
    file_uris: Sequence[str],
    reader: ObjectReader,
    read_buckets: Sequence[str],
    problems: dict[str, str],
    max_footer_bytes: int,
) -> tuple[dict[str, pa.Schema], dict[str, str]]:
    """Read ``TAIL_BYTES`` of every file, then once more (per needed size) for footers that did not fit, unless the
    footer claims more than ``max_footer_bytes``.

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
        if isinstance(parsed, NeedMoreBytes) and parsed.footer_bytes > max_footer_bytes:
            problems[file_uri] = (
                f"Parquet file {file_uri}: its footer claims {parsed.footer_bytes} bytes, more than max_footer_bytes "
                f"({max_footer_bytes}); not read"
            )
        elif isinstance(parsed, NeedMoreBytes):
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
    datasets: Iterable[FoundDataset],
    reader: ObjectReader,
    *,
    read_buckets: Sequence[str] = (),
    limits: ReadLimits = DEFAULT_LIMITS,
) -> FooterOutcome:
    """``read_footer_schemas`` then ``read_csv_headers``, merged (``with_csv_headers``), with one ``list_files`` call
    for the directories of both phases.

    Every dataset given is read: ``max_dataset_reads`` is applied per execution before, by ``capped_reads``."""
    wanted = list(datasets)
    shared = _ListingOnce(reader, _csv_dirs(wanted, read_buckets, {}))
    footers = read_footer_schemas(wanted, shared, read_buckets=read_buckets, limits=limits)
    return with_csv_headers(footers, read_csv_headers(wanted, shared, read_buckets=read_buckets))


def needs_data_read(dataset: FoundDataset) -> bool:
    """True when ``read_data_schemas`` looks at the dataset's data (a footer or a CSV header, perhaps a listing)."""
    return needs_footer(dataset) or needs_csv_header(dataset)


@dataclass(frozen=True)
class CappedReads:
    """The dataset URIs of one execution left unread by ``max_dataset_reads``, and the problem saying so."""

    uris: frozenset[str] = frozenset()
    problem: str | None = None


def capped_reads(
    datasets_by_map: Iterable[Sequence[FoundDataset]],
    *,
    read_buckets: Sequence[str] = (),
    limits: ReadLimits = DEFAULT_LIMITS,
) -> CappedReads:
    """Of one execution's datasets that need a data read (in ``read_buckets``), given per LiteralMap, those past
    ``max_dataset_reads``: they are not listed or read, and keep the columns their literals declare.

    The reads are dealt out in turns, one dataset of each map per turn (in each map's order), so one map with
    thousands of datasets cannot crowd out the few of the others. Applied per execution, so what an execution gets
    never depends on the others grouped in the same run.
    """
    buckets = frozenset(read_buckets)
    queues = [
        [d.uri for d in datasets if needs_data_read(d) and in_read_buckets(d.uri, buckets)]
        for datasets in datasets_by_map
    ]
    chosen: dict[str, None] = {}
    for turn in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if turn < len(queue) and len(chosen) < limits.max_dataset_reads:
                chosen.setdefault(queue[turn])
    wanted = {uri for queue in queues for uri in queue}
    over = sorted(wanted - chosen.keys())
    if not over:
        return CappedReads()
    problem = (
        f"{len(over)} of the execution's {len(wanted)} datasets to read were not listed or read for a schema "
        f"(max_dataset_reads is {limits.max_dataset_reads}); they keep the columns of their literals: {over[0]}"
        + (f" and {len(over) - 1} more" if len(over) > 1 else "")
    )
    return CappedReads(frozenset(over), problem)


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
