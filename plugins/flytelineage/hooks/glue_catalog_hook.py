"""A thin Glue Data Catalog hook: create databases, upsert tables without spurious versions, prune old versions.

It extends the Amazon provider's ``GlueCatalogHook`` (so it honours the ``aws_default``-style connection, its
``endpoint_url`` extra and ``AWS_ENDPOINT_URL``) and knows nothing about Flyte: it takes Glue ``TableInput`` dicts.
The client is built on first use. AWS errors become ``TargetError`` carrying the AWS code and message (the
connection's secrets cut out, ``connection_secrets.redact``), chained to the botocore error.

Upsert semantics: a table whose relevant parts (storage descriptor, partition keys, table type, the parameters the
caller sets) already match is left alone, so re-running the same input writes nothing and adds no table version.
A changed table is updated with ``VersionId`` set to the version that was compared (so a concurrent writer makes the
call fail instead of being overwritten); on ``ConcurrentModificationException`` the table is read again and the
comparison redone, a few times with backoff. Parameters set by others (crawlers, Athena) are kept on update.

Partitions (``sync_partitions``): the caller gives the complete set a partitioned table should have; partitions
that are missing are created, those that differ (location, columns, formats, the parameters the caller sets) are
updated and those not in the set are deleted, in batches of the size Glue accepts. Re-running with the same set
reads the partitions and writes nothing. A batch entry Glue refuses becomes a ``TargetError`` chained to a
``ClientError`` carrying that entry's error code, so the caller classifies it (transient or not) like any other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
from botocore.exceptions import ClientError

from flytelineage.errors import ConfigurationError, TargetError
from flytelineage.hooks.connection_secrets import mask_aws_secrets, redact

UpsertResult = Literal["created", "updated", "unchanged"]

DELETE_VERSIONS_BATCH_LIMIT = 100
"""The most version ids one BatchDeleteTableVersion call accepts."""

CREATE_PARTITIONS_BATCH_LIMIT = 100
"""The most partitions one BatchCreatePartition (or BatchUpdatePartition) call accepts."""
DELETE_PARTITIONS_BATCH_LIMIT = 25
"""The most partitions one BatchDeletePartition call accepts."""

_CONFLICT = "ConcurrentModificationException"
_NOT_FOUND = "EntityNotFoundException"
_ALREADY_EXISTS = "AlreadyExistsException"


class _Conflict(Exception):
    """Another writer changed the table between our read and our write."""

    def __init__(self, cause: ClientError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class GlueTablesHook(GlueCatalogHook):
    """Idempotent writes of Glue databases and tables (see the module docstring for the upsert rules)."""

    hook_name = "Glue Data Catalog tables (flytelineage)"

    retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0)
    """Seconds to wait before each retry after a ConcurrentModificationException."""

    @property
    def glue(self) -> Any:
        """The boto3 Glue client (built on first use, then cached by the base hook); the connection's secrets are
        registered first (``connection_secrets``), so the errors below never quote them."""
        if not getattr(self, "_secrets_masked", False):
            mask_aws_secrets(self.aws_conn_id)
            self._secrets_masked = True
        return self.get_conn()

    def ensure_database(self, name: str, description: str = "") -> bool:
        """Create database ``name`` when missing; True when this call created it (losing a creation race is fine)."""
        try:
            self.glue.get_database(Name=name)
            return False
        except ClientError as e:
            if _code(e) != _NOT_FOUND:
                raise _target_error(e, f"read Glue database {name!r}") from e
        try:
            self.glue.create_database(DatabaseInput={"Name": name, "Description": description})
        except ClientError as e:
            if _code(e) == _ALREADY_EXISTS:
                return False
            raise _target_error(e, f"create Glue database {name!r}") from e
        self.log.info("Created Glue database %s", name)
        return True

    def find_table(self, database_name: str, table_name: str) -> dict[str, Any] | None:
        """The table as GetTable returns it, or None when it does not exist."""
        try:
            return dict(self.glue.get_table(DatabaseName=database_name, Name=table_name)["Table"])
        except ClientError as e:
            if _code(e) == _NOT_FOUND:
                return None
            raise _target_error(e, f"read Glue table {database_name}.{table_name}") from e

    def upsert_table(
        self, database: str, table_input: dict[str, Any], *, versioning: bool, max_versions: int | None = None
    ) -> UpsertResult:
        """Create or update one table; return ``created``, ``updated`` or ``unchanged`` (no write call made).

        ``versioning`` keeps the previous definition as a table version (``SkipArchive`` is its negation).
        With versioning and ``max_versions``, versions beyond the newest ``max_versions`` are deleted afterwards, on
        every call (only reads when there is nothing to delete), so a retry finishes an interrupted prune.
        """
        if max_versions is not None and max_versions < 1:
            raise ConfigurationError(f"glue_max_versions must be at least 1 (got {max_versions}); fix the Variable.")
        name = table_input["Name"]
        result = self._upsert_with_retries(database, table_input, versioning)
        self.log.info("Glue table %s.%s: %s", database, name, result)
        if versioning and max_versions is not None:
            self.prune_versions(database, name, keep=max_versions)
        return result

    def _upsert_with_retries(self, database: str, table_input: dict[str, Any], versioning: bool) -> UpsertResult:
        name = table_input["Name"]
        for delay in self.retry_delays:
            try:
                return self._upsert_once(database, table_input, versioning)
            except _Conflict as conflict:
                self.log.warning(
                    "Glue table %s.%s changed concurrently (%s); re-reading in %.1fs", database, name, conflict, delay
                )
                time.sleep(delay)
        try:
            return self._upsert_once(database, table_input, versioning)
        except _Conflict as conflict:
            raise _target_error(
                conflict.cause,
                f"update Glue table {database}.{name} after {len(self.retry_delays) + 1} attempts "
                "(another writer keeps changing it)",
            ) from conflict.cause

    def _upsert_once(self, database: str, table_input: dict[str, Any], versioning: bool) -> UpsertResult:
        name = table_input["Name"]
        existing = self.find_table(database, name)
        if existing is None:
            self._write("create_table", database, name, DatabaseName=database, TableInput=table_input)
            return "created"
        if table_matches(existing, table_input):
            return "unchanged"
        request: dict[str, Any] = {
            "DatabaseName": database,
            "TableInput": merged_table_input(existing, table_input),
            "SkipArchive": not versioning,
        }
        if existing.get("VersionId"):
            request["VersionId"] = existing["VersionId"]
        self._write("update_table", database, name, **request)
        return "updated"

    def _write(self, operation: str, database: str, name: str, **request: Any) -> None:
        try:
            getattr(self.glue, operation)(**request)
        except ClientError as e:
            if _code(e) in (_CONFLICT, _ALREADY_EXISTS):
                raise _Conflict(e) from e
            raise _target_error(e, f"{operation} for Glue table {database}.{name}") from e

    def table_versions(self, database: str, name: str) -> list[str]:
        """Every version id of a table (all pages), oldest first."""
        try:
            ids = [v["VersionId"] for v in self._version_pages(database, name)]
        except ClientError as e:
            raise _target_error(e, f"list versions of Glue table {database}.{name}") from e
        return sorted(ids, key=_version_order)

    def _version_pages(self, database: str, name: str) -> Iterator[dict[str, Any]]:
        paginator = self.glue.get_paginator("get_table_versions")
        for page in paginator.paginate(DatabaseName=database, TableName=name):
            yield from page.get("TableVersions", [])

    def prune_versions(self, database: str, name: str, *, keep: int) -> list[str]:
        """Delete all but the newest ``keep`` versions (never the current one); return the ids deleted."""
        table = self.find_table(database, name)
        current = table.get("VersionId") if table else None
        versions = self.table_versions(database, name)
        doomed = [v for v in versions[: max(len(versions) - keep, 0)] if v != current]
        for start in range(0, len(doomed), DELETE_VERSIONS_BATCH_LIMIT):
            self._delete_versions(database, name, doomed[start : start + DELETE_VERSIONS_BATCH_LIMIT])
        if doomed:
            self.log.info("Pruned %d old version(s) of Glue table %s.%s", len(doomed), database, name)
        return doomed

    def _delete_versions(self, database: str, name: str, version_ids: list[str]) -> None:
        try:
            response = self.glue.batch_delete_table_version(
                DatabaseName=database, TableName=name, VersionIds=version_ids
            )
        except ClientError as e:
            raise _target_error(e, f"delete old versions of Glue table {database}.{name}") from e
        errors = response.get("Errors", [])
        if errors:
            details = redact("; ".join(f"{x.get('VersionId')}: {x.get('ErrorDetail', {})}" for x in errors))
            raise TargetError(
                f"Glue refused to delete {len(errors)} version(s) of {database}.{name}: {details}. "
                "Check the role's glue:BatchDeleteTableVersion permission; the next run prunes again."
            )

    def sync_partitions(self, database: str, name: str, partitions: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Make the partitions of table ``database.name`` exactly ``partitions`` (``PartitionInput`` dicts); return
        how many were ``created``, ``updated`` and ``deleted``."""
        existing = {tuple(p["Values"]): p for p in self._partition_pages(database, name)}
        wanted = {tuple(p["Values"]): p for p in partitions}
        create = [p for values, p in wanted.items() if values not in existing]
        update = [
            p for values, p in wanted.items() if values in existing and not partition_matches(existing[values], p)
        ]
        delete = [list(values) for values in existing if values not in wanted]
        for start in range(0, len(create), CREATE_PARTITIONS_BATCH_LIMIT):
            batch = create[start : start + CREATE_PARTITIONS_BATCH_LIMIT]
            self._batch("batch_create_partition", database, name, PartitionInputList=batch)
        for start in range(0, len(update), CREATE_PARTITIONS_BATCH_LIMIT):
            entries = [
                {"PartitionValueList": p["Values"], "PartitionInput": p}
                for p in update[start : start + CREATE_PARTITIONS_BATCH_LIMIT]
            ]
            self._batch("batch_update_partition", database, name, Entries=entries)
        for start in range(0, len(delete), DELETE_PARTITIONS_BATCH_LIMIT):
            doomed = [{"Values": v} for v in delete[start : start + DELETE_PARTITIONS_BATCH_LIMIT]]
            self._batch("batch_delete_partition", database, name, PartitionsToDelete=doomed)
        counts = {"created": len(create), "updated": len(update), "deleted": len(delete)}
        if any(counts.values()):
            self.log.info("Glue table %s.%s partitions: %s", database, name, counts)
        return counts

    def _partition_pages(self, database: str, name: str) -> Iterator[dict[str, Any]]:
        try:
            for page in self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name):
                yield from page.get("Partitions", [])
        except ClientError as e:
            raise _target_error(e, f"read the partitions of Glue table {database}.{name}") from e

    def _batch(self, operation: str, database: str, name: str, **request: Any) -> None:
        try:
            response = getattr(self.glue, operation)(DatabaseName=database, TableName=name, **request)
        except ClientError as e:
            raise _target_error(e, f"{operation} for Glue table {database}.{name}") from e
        errors = response.get("Errors", [])
        if errors:
            detail = errors[0].get("ErrorDetail", {})
            cause = ClientError(
                {"Error": {"Code": detail.get("ErrorCode", ""), "Message": detail.get("ErrorMessage", "")}}, operation
            )
            raise _target_error(
                cause, f"{operation} for {len(errors)} partition(s) of Glue table {database}.{name}"
            ) from cause


def partition_matches(existing: dict[str, Any], desired: dict[str, Any]) -> bool:
    """True when ``existing`` (a GetPartitions entry) already has every part of ``desired`` (a PartitionInput)."""
    return _partition_parts(existing, desired) == _partition_parts(desired, desired)


def _partition_parts(partition: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    descriptor = partition.get("StorageDescriptor") or {}
    serde = descriptor.get("SerdeInfo") or {}
    parameters = partition.get("Parameters") or {}
    return {
        "Parameters": {k: parameters.get(k) for k in (desired.get("Parameters") or {})},
        "Columns": [_column(c) for c in descriptor.get("Columns") or []],
        "Location": descriptor.get("Location"),
        "InputFormat": descriptor.get("InputFormat"),
        "OutputFormat": descriptor.get("OutputFormat"),
        "SerializationLibrary": serde.get("SerializationLibrary"),
        "SerdeParameters": serde.get("Parameters") or {},
    }


def table_matches(existing: dict[str, Any], desired: dict[str, Any]) -> bool:
    """True when ``existing`` (a GetTable result) already has every part of ``desired`` (a TableInput) we manage."""
    return _managed_parts(existing, desired) == _managed_parts(desired, desired)


def _managed_parts(table: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    descriptor = table.get("StorageDescriptor") or {}
    serde = descriptor.get("SerdeInfo") or {}
    owned_keys = (desired.get("Parameters") or {}).keys()
    parameters = table.get("Parameters") or {}
    return {
        "TableType": table.get("TableType"),
        "Description": table.get("Description"),
        "PartitionKeys": [_column(c) for c in table.get("PartitionKeys") or []],
        "Parameters": {k: parameters.get(k) for k in owned_keys},
        "Columns": [_column(c) for c in descriptor.get("Columns") or []],
        "Location": descriptor.get("Location"),
        "InputFormat": descriptor.get("InputFormat"),
        "OutputFormat": descriptor.get("OutputFormat"),
        "Compressed": bool(descriptor.get("Compressed", False)),
        "SerializationLibrary": serde.get("SerializationLibrary"),
        "SerdeParameters": serde.get("Parameters") or {},
    }


def _column(column: dict[str, Any]) -> tuple[str, str, str]:
    return (column["Name"], column.get("Type", ""), column.get("Comment", ""))


def merged_table_input(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """``desired`` with the existing table's other parameters kept (ours win), for UpdateTable."""
    parameters = {**(existing.get("Parameters") or {}), **(desired.get("Parameters") or {})}
    return {**desired, "Parameters": parameters}


def _version_order(version_id: str) -> tuple[int, str]:
    return (int(version_id), "") if version_id.isdigit() else (0, version_id)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _target_error(error: ClientError, action: str) -> TargetError:
    info = error.response.get("Error", {})
    return TargetError(
        redact(
            f"Could not {action}: {info.get('Code', 'unknown error')}: {info.get('Message', str(error))}. "
            "Check the AWS connection's permissions and the Glue catalog; the task retries."
        )
    )
