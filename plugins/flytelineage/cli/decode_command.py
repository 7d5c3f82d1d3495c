"""``flytelineage decode [FILE]``: decode one SQS body the way the drain does and print the result.

The body is read from FILE or, without one (or with ``-``), from stdin; one trailing newline is dropped (what
``echo`` and editors add). A body that decodes prints its event row (``payload`` as base64) and exits 0; one that
does not prints the reason its quarantine row would hold and exits 1. ``--FlyteLineage.raw_format`` (or the
Variable's ``raw_format``) says what a raw-delivery body holds, as in the drain.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from flytelineage.cli.app import CommandError, Subcommand, print_json

MESSAGE_ID = "flytelineage-decode"


class DecodeCommand(Subcommand):
    """Decode one SQS body (SNS envelope or raw) into an event row, or print why it would be quarantined."""

    name = "flytelineage decode"
    description = __doc__
    aliases = {**Subcommand.aliases, "raw-format": "FlyteLineage.raw_format"}

    def start(self) -> int:  # type: ignore[override]
        """Decode the body and print the row or the reason."""
        from flytelineage.domain.event_decoding import SqsMessage, decode_messages
        from flytelineage.domain.event_table import storable_events_table

        body = self._read_body()
        raw_format = self.explicit_settings().get("raw_format")
        if raw_format is None and self.variable_file:
            raw_format = self.settings().raw_format
        now = datetime.now(UTC)
        result = decode_messages([SqsMessage(MESSAGE_ID, body)], received_at=now, raw_format=raw_format)
        if result.events:
            _, rejected = storable_events_table(result.events)
            if not rejected:
                print_json(result.events[0])
                return 0
            reason = rejected[0][1]
        else:
            reason = result.quarantine[0]["reason"]
        print_json({"quarantined": True, "reason": reason})
        return 1

    def _read_body(self) -> str:
        if len(self.extra_args) > 1:
            raise CommandError("decode takes at most one file (or - for stdin)")
        path = self.extra_args[0] if self.extra_args else "-"
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise CommandError(f"cannot read the body from {path}: {e}") from e
        return text[:-1] if text.endswith("\n") else text
