"""The name parts of every URN and lineage id the product emits, escaped so distinct names never collide (pure).

DataHub reserves ``(``, ``)`` and ``␟`` anywhere in a URN and ``,`` inside a tuple; its SDK percent-encodes them
(``a,b`` -> ``a%2Cb``) but leaves ``%`` alone, so ``a,b`` and the literal ``a%2Cb`` would share a URN. Composite
names join Flyte fields with a separator (``P.D.W`` for flows, ``P-D-<execution>`` for run ids), so a separator
inside a field (``a.b`` + ``c`` vs ``a`` + ``b.c``) would also make distinct entities share a URN. The rules:

- ``%``, the reserved characters, control characters and, in a composite, the separator inside a field are
  percent-encoded (``%25``, ``%2C``, ``%2E``, ``%2D``...). The last field of a composite keeps its separators
  (workflow and task names are dotted paths): since every earlier field is escaped, the split stays unambiguous.
  Names made of letters, digits and underscores (and any character not listed) are never changed.
- A part longer than its cap keeps its first characters and ends in ``~`` + 16 hex digits of the SHA-256 of the
  whole original text, so it stays stable and distinct. DataHub refuses URNs over 512 bytes (``Urn.java``, and
  Elasticsearch ids are bounded too); the caps below keep every URN the product builds under that with room for
  the URN's own frame (``urn:li:dataJob:(urn:li:dataFlow:(flyte,...,cluster),...)``).
- Schema field names inside a v2 field path escape ``%``, ``.``, ``[`` and ``]``: a column named ``a.[type=x]b``
  cannot add path segments.

Dataset variable paths and names. A variable path (``o0``, ``o1.eu``, ``o0.model.weights``) joins its components
(the output variable name, then one map key or dataclass field per level; list levels add none) with ``.``; each is
escaped with ``path_component`` when the path is built (``%``, ``.``, ``:`` and the reserved characters), so a map key
``x.y`` gives ``o1.x%2Ey`` and a map ``x`` holding a map ``y`` gives ``o1.x.y``. Flyte constrains neither task names
nor variable names (flyteadmin only refuses empty ones), so a dataset name needs a boundary between the task's dotted
name and the path: ``flyte_dataset_name`` gives ``P.D.<task>.<output>`` for a one-component path, the common case,
and ``P.D.<task>:<path>`` for a path with levels (``:`` is escaped in the task name and in every component). Task
``a.b`` + path ``c.d`` (``P.D.a.b:c.d``) and task ``a.b.c`` + output ``d`` (``P.D.a.b.c.d``) stay apart.
"""

from __future__ import annotations

import hashlib

URN_MAX_BYTES = 512
"""The longest URN DataHub accepts, in bytes."""

NAME_MAX_BYTES = 200
"""Cap of one escaped name part (flow name, job name); a job URN nests a flow URN, so two parts must fit."""

DATASET_NAME_MAX_BYTES = 400
"""Cap of an escaped dataset name (a dataset URN holds one name besides its platform and fabric)."""

PATH_SEPARATOR = "."
"""Joins the components of a variable path (``o1.eu``)."""

TASK_PATH_BOUNDARY = ":"
"""Separates the task name from a variable path with levels in a dataset name (``P.D.app.split:o1.eu``)."""

HASH_HEX = 16
_RESERVED = frozenset("%,()\u241f")
_FIELD_RESERVED = frozenset("%.[]")


def escape(text: str, separators: str = "") -> str:
    """``text`` with ``%``, URN-reserved and control characters, and ``separators``, percent-encoded (UTF-8)."""
    return "".join(_encoded(c) if c in _RESERVED or c in separators or _is_control(c) else c for c in text)


def capped(text: str, original: str, limit: int = NAME_MAX_BYTES) -> str:
    """``text`` when it fits in ``limit`` UTF-8 bytes, else its start + ``~`` + a hash of ``original``."""
    if len(text.encode("utf-8")) <= limit:
        return text
    suffix = "~" + hashlib.sha256(original.encode("utf-8")).hexdigest()[:HASH_HEX]
    room = limit - len(suffix)
    head = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    if "%" in head[-2:]:  # never end in half an escape
        head = head[: head.rindex("%")]
    return head + suffix


def composite(parts: tuple[str, ...], separator: str, limit: int = NAME_MAX_BYTES) -> str:
    """``parts`` joined by ``separator``, every part but the last escaped for it too, capped at ``limit``."""
    escaped = [escape(p, separator) for p in parts[:-1]] + [escape(parts[-1])]
    return capped(separator.join(escaped), "\u241f".join(parts), limit)


def name_part(text: str, limit: int = NAME_MAX_BYTES) -> str:
    """One name inside a URN (a task name, a dataset name), escaped and capped."""
    return capped(escape(text), text, limit)


def flow_name(project: str, domain: str, workflow: str) -> str:
    """``P.D.W``, the DataFlow id and OpenLineage workflow job name."""
    return composite((project, domain, workflow), ".")


def instance_id(project: str, domain: str, execution: str, node_id: str | None = None) -> str:
    """``P-D-<execution>`` (workflow run) or ``P-D-<execution>-<node id>`` (node run), the DataProcessInstance id."""
    run = "-".join(escape(p, "-") for p in (project, domain, execution))
    if node_id is None:  # the execution is escaped even here: ``x-y`` must not read as execution x, node y
        return capped(run, "\u241f".join((project, domain, execution)), URN_MAX_BYTES)
    return capped(f"{run}-{escape(node_id)}", "\u241f".join((project, domain, execution, node_id)), URN_MAX_BYTES)


def path_component(component: str | int) -> str:
    """One component of a variable path (a variable name, map key or field name), escaped for the path.

    ``%``, ``.``, ``:``, the URN-reserved and control characters are percent-encoded; identifiers and indices are
    unchanged. A path built from escaped components splits back into them at its dots.
    """
    return escape(str(component), PATH_SEPARATOR + TASK_PATH_BOUNDARY)


def variable_path(components: tuple[str | int, ...]) -> str:
    """The variable path of ``components`` (output name first): escaped components joined by ``.``."""
    return PATH_SEPARATOR.join(path_component(c) for c in components)


def flyte_dataset_name(project: str, domain: str, task: str, path: str) -> str:
    """The name of the dataset ``task`` produced at variable ``path``: ``P.D.<task>.<output>``, ``P.D.<task>:<path>``.

    ``path`` is a variable path (``variable_path``): it keeps its dots and escapes, and a ``.`` in it means it has
    levels, which puts ``:`` before it. Project and domain are escaped for dots, the task for ``:``; characters a
    path built by ``variable_path`` never holds unescaped (``:``, the reserved ones except ``%``) are escaped in
    ``path`` too, so a raw output name from an older shard still gives a valid URN.
    """
    boundary = TASK_PATH_BOUNDARY if PATH_SEPARATOR in path else PATH_SEPARATOR
    scope = ".".join((escape(project, "."), escape(domain, ".")))
    name = f"{scope}.{escape(task, TASK_PATH_BOUNDARY)}{boundary}{_escaped_path(path)}"
    return capped(name, "\u241f".join((project, domain, task, path)), DATASET_NAME_MAX_BYTES)


def field_name(name: str) -> str:
    """A column name as one segment of a DataHub v2 field path."""
    return "".join(_encoded(c) if c in _FIELD_RESERVED or _is_control(c) else c for c in name)


def _escaped_path(path: str) -> str:
    """``path`` with what ``path_component`` escapes percent-encoded, except ``%`` (already escaped) and ``.``."""
    return "".join(
        _encoded(c) if (c in _RESERVED and c != "%") or c == TASK_PATH_BOUNDARY or _is_control(c) else c for c in path
    )


def _encoded(char: str) -> str:
    return "".join(f"%{b:02X}" for b in char.encode("utf-8", errors="surrogatepass"))


def _is_control(char: str) -> bool:
    return ord(char) < 0x20 or ord(char) == 0x7F
