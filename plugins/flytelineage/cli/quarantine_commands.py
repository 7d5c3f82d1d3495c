"""``flytelineage quarantine list|show|redrive``: the quarantined messages of a time window, from S3.

Quarantine objects are ``<prefix>/quarantine/ingest_date=…/ingest_hour=…/batch-<stamp>-<digest>.parquet``
(``domain/storage_keys.py``), one row per message the drain could not decode: ``message_id``, the raw ``body``, the
``reason``, ``received_at`` and ``sent_at``. The window (``--start``/``--end``, ISO 8601 with an offset; by default the
last 24 hours) selects objects by the ingest stamp in their name, the run's interval end.

``redrive`` re-sends chosen bodies to the queue once the cause is fixed (for example after setting ``raw_format``),
printing one line per message with the id SQS gave the new copy; the next drain stores or quarantines it again. It
never deletes quarantine rows (they stay as the record of what happened); re-sending twice sends two copies, which
collapse downstream by ``event_id`` when they decode.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from traitlets import Bool, Unicode

from flytelineage.cli.app import CommandError, Subcommand, _subcommand, logs_to_stderr, out, print_json
from flytelineage.domain import storage_keys
from flytelineage.domain.run_params import parse_bound

_WINDOW_ALIASES = {"start": "QuarantineWindow.window_start", "end": "QuarantineWindow.window_end"}


def window_partitions(prefix: str, start: datetime, end: datetime) -> list[str]:
    """The hourly quarantine partition folders that can hold objects stamped in ``[start, end)``."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    folders = []
    while hour < end:
        folders.append(storage_keys.partition_prefix(prefix, storage_keys.QUARANTINE, hour))
        hour += timedelta(hours=1)
    return folders


def in_window(key: str, start: datetime, end: datetime) -> bool:
    """True for a quarantine batch whose ingest stamp lies in ``[start, end)``."""
    stamped = storage_keys.batch_time_of(key)
    return stamped is not None and start <= stamped < end


@contextmanager
def aws_action(action: str, conn_id: str | None) -> Iterator[None]:
    """Turn an AWS error into a ``CommandError`` naming the action, its resource and the connection (its secrets
    cut out, ``connection_secrets``: an endpoint quoting the request quotes the session token)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from flytelineage.hooks.connection_secrets import mask_aws_secrets, quotes_secret
    from flytelineage.operators.fail_fast import describe_aws_error

    try:
        yield
    except (BotoCoreError, ClientError) as e:
        mask_aws_secrets(conn_id)
        error = CommandError(f"could not {action} through connection {conn_id!r}: {describe_aws_error(e)}")
        raise error from (None if quotes_secret(e) else e)


class QuarantineCommand(Subcommand):
    """List, show and re-send the messages the drain quarantined."""

    name = "flytelineage quarantine"
    description = __doc__
    subcommands = {
        "list": (_subcommand("flytelineage.cli.quarantine_commands.QuarantineList"), "Rows of a time window"),
        "show": (_subcommand("flytelineage.cli.quarantine_commands.QuarantineShow"), "One row with body and reason"),
        "redrive": (_subcommand("flytelineage.cli.quarantine_commands.QuarantineRedrive"), "Re-send bodies"),
    }

    def start(self) -> int:  # type: ignore[override]
        """Run ``list``, ``show`` or ``redrive``."""
        if self.subapp is not None:
            return int(self.subapp.start() or 0)
        self.print_subcommands()
        return 2


class QuarantineWindow(Subcommand):
    """Shared by the quarantine commands: the S3 reads and the time window."""

    window_start = Unicode("", help="Window start, ISO 8601 with offset (default: 24 hours before --end)").tag(
        config=True
    )
    window_end = Unicode("", help="Window end, ISO 8601 with offset (default: now)").tag(config=True)
    aliases = {**Subcommand.aliases, **_WINDOW_ALIASES}

    def window(self) -> tuple[datetime, datetime]:
        """The validated ``[start, end)`` window."""
        problems: list[str] = []
        end = parse_bound("--end", self.window_end, problems) if self.window_end else datetime.now(UTC)
        start = parse_bound("--start", self.window_start, problems) if self.window_start else None
        if problems or end is None:
            raise CommandError("; ".join(problems))
        start = start or end - timedelta(days=1)
        if start >= end:
            raise CommandError(f"--start {start.isoformat()} must be before --end {end.isoformat()}")
        return start, end

    def s3(self) -> Any:
        """An S3 hook on the Variable's Amazon connection."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        logs_to_stderr(self.log_level)
        settings = self.settings()
        return S3Hook(aws_conn_id=settings.aws_conn_id, region_name=self.aws_region or None)

    def keys(self) -> list[str]:
        """The quarantine objects stamped in the window, oldest first."""
        settings = self.settings()
        start, end = self.window()
        s3 = self.s3()
        keys: list[str] = []
        for folder in window_partitions(settings.prefix, start, end):
            with aws_action(f"list s3://{settings.bucket}/{folder}", settings.aws_conn_id):
                found = s3.list_keys(bucket_name=settings.bucket, prefix=folder) or []
            keys.extend(k for k in found if in_window(k, start, end))
        return sorted(keys, key=lambda k: (storage_keys.batch_stamp_of(k) or "", k))

    def rows(self, key: str) -> list[dict[str, Any]]:
        """The rows of one quarantine object."""
        from flytelineage.domain.event_table import parquet_bytes_to_table

        settings = self.settings()
        with aws_action(f"read s3://{settings.bucket}/{key}", settings.aws_conn_id):
            data = self.s3().get_key(key, bucket_name=settings.bucket).get()["Body"].read()
        rows: list[dict[str, Any]] = parquet_bytes_to_table(data).to_pylist()
        return rows

    def reason_now(self, body: str) -> str | None:
        """None when the body decodes with the current settings, else the reason it would be quarantined again."""
        from flytelineage.domain.event_decoding import SqsMessage, decode_messages
        from flytelineage.domain.event_table import storable_events_table

        result = decode_messages(
            [SqsMessage("redrive", body)], received_at=datetime.now(UTC), raw_format=self.settings().raw_format
        )
        if result.quarantine:
            return str(result.quarantine[0]["reason"])
        _, rejected = storable_events_table(result.events)
        return rejected[0][1] if rejected else None


class QuarantineList(QuarantineWindow):
    """One JSON line per quarantined message of the window: key, message_id, received_at, sent_at, reason."""

    name = "flytelineage quarantine list"
    description = __doc__

    def start(self) -> int:  # type: ignore[override]
        """Print the rows and, on stderr, how many."""
        import json

        keys, total = self.keys(), 0
        for key in keys:
            for row in self.rows(key):
                line = {k: row[k] for k in ("message_id", "reason", "received_at", "sent_at")}
                out(json.dumps({"key": key, **line}, default=str, sort_keys=True))
                total += 1
        start, end = self.window()
        print(f"{total} quarantined messages in {len(keys)} objects from {start} to {end}", file=sys.stderr)
        return 0


class QuarantineShow(QuarantineWindow):
    """``show KEY MESSAGE_ID``: the row with its raw body, its reason, and whether it decodes now."""

    name = "flytelineage quarantine show"
    description = __doc__

    def start(self) -> int:  # type: ignore[override]
        """Print the row."""
        if len(self.extra_args) != 2:
            raise CommandError("usage: flytelineage quarantine show KEY MESSAGE_ID (both as printed by list)")
        key, message_id = self.extra_args
        matches = [row for row in self.rows(key) if row["message_id"] == message_id]
        if not matches:
            raise CommandError(f"no quarantine row for message {message_id!r} in {key}")
        row = matches[0]
        print_json({"key": key, **row, "reason_now": self.reason_now(row["body"])})
        return 0


class QuarantineRedrive(QuarantineWindow):
    """``redrive KEY [MESSAGE_ID ...]`` (every row of KEY without ids) or ``redrive --window`` (every row of the
    window): send the bodies to the Variable's queue, one JSON line per message with the new SQS message id."""

    name = "flytelineage quarantine redrive"
    description = __doc__
    whole_window = Bool(False, help="Re-send every row of the --start/--end window").tag(config=True)
    only_decodable = Bool(False, help="Skip bodies that still fail to decode with the current settings").tag(
        config=True
    )
    dry_run = Bool(False, help="Print what would be sent; send nothing").tag(config=True)
    flags = {
        **Subcommand.flags,
        "window": ({"QuarantineRedrive": {"whole_window": True}}, "Re-send every row of the window"),
        "only-decodable": ({"QuarantineRedrive": {"only_decodable": True}}, "Skip bodies that still fail"),
        "dry-run": ({"QuarantineRedrive": {"dry_run": True}}, "Send nothing"),
    }

    def chosen(self) -> list[tuple[str, dict[str, Any]]]:
        """(key, row) of every chosen message, in key order."""
        if self.whole_window:
            if self.extra_args:
                raise CommandError("give either --window or KEY [MESSAGE_ID ...], not both")
            return [(key, row) for key in self.keys() for row in self.rows(key)]
        if not self.extra_args:
            raise CommandError("usage: flytelineage quarantine redrive KEY [MESSAGE_ID ...] | --window")
        key, wanted = self.extra_args[0], set(self.extra_args[1:])
        rows = self.rows(key)
        missing = wanted - {row["message_id"] for row in rows}
        if missing:
            raise CommandError(f"no quarantine rows for {sorted(missing)} in {key}")
        return [(key, row) for row in rows if not wanted or row["message_id"] in wanted]

    def start(self) -> int:  # type: ignore[override]
        """Send the chosen bodies and report each."""
        import json

        from flytelineage.hooks.sqs_batch_hook import SqsBatchHook

        logs_to_stderr(self.log_level)
        settings = self.settings()
        sqs = SqsBatchHook(aws_conn_id=settings.aws_conn_id, region_name=self.aws_region or None)
        chosen = self.chosen()
        queue_url = ""
        if not self.dry_run:
            with aws_action(f"find SQS queue {settings.sqs_queue!r}", settings.aws_conn_id):
                queue_url = sqs.queue_url(settings.sqs_queue)
        sent = skipped = 0
        for key, row in chosen:
            reason_now = self.reason_now(row["body"])
            report: dict[str, Any] = {"key": key, "message_id": row["message_id"], "reason_now": reason_now}
            if self.only_decodable and reason_now is not None:
                report["skipped"] = "still fails to decode"
                skipped += 1
            elif self.dry_run:
                report["would_send"] = True
            else:
                with aws_action(f"send to SQS queue {queue_url}", settings.aws_conn_id):
                    response = sqs.get_conn().send_message(QueueUrl=queue_url, MessageBody=row["body"])
                report["sent_message_id"] = response["MessageId"]
                sent += 1
            out(json.dumps(report, sort_keys=True))
        target = queue_url or settings.sqs_queue
        verb = "would send" if self.dry_run else "sent"
        print(
            f"{verb} {len(chosen) - skipped if self.dry_run else sent} of {len(chosen)} to {target}; {skipped} skipped",
            file=sys.stderr,
        )
        return 0
