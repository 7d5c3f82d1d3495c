"""The error hierarchy of flytelineage. Messages say what went wrong and what to do about it."""

from __future__ import annotations


class FlyteLineageError(Exception):
    """Base class of every error raised by flytelineage."""


class ConfigurationError(FlyteLineageError):
    """The Airflow Variable, connection or params are invalid; the message lists every problem."""


class DecodeError(FlyteLineageError):
    """An SQS message could not be decoded into a Flyte event; the message goes to quarantine with this reason."""


class StorageError(FlyteLineageError):
    """Reading or writing the S3 batches failed."""


class QueueError(FlyteLineageError):
    """Receiving from or deleting on the SQS queue failed; messages not deleted are redelivered by SQS."""


class DatasetReadError(FlyteLineageError):
    """A LiteralMap or dataset footer could not be read (missing object, bucket not allowed, corrupt data)."""


class TargetError(FlyteLineageError):
    """A lineage target (DataHub, Glue) rejected or failed part of a batch; the task fails so Airflow retries."""
