"""The ``flytelineage`` application: options shared by every subcommand and the console script's ``main``.

Every key of the ``flyte_lineage`` Variable is an option ``--FlyteLineage.<key>=…`` (also settable as
``c.FlyteLineage.<key> = …`` in ``flytelineage_config.py``, read from the working directory unless
``--FlyteLineage.config_file`` names another). An option left unset keeps the Variable's default. The predecessor's
``aws_region`` and ``WorkflowEvents.datasets_only`` / ``WorkflowEvents.emit`` are accepted too.

Settings used by a subcommand are, in increasing precedence: the Airflow Variable (or the JSON file given with
``--variable-file``), then the config file, then the command line; the result is validated by
``settings_from_dict`` exactly as a task validates the Variable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from traitlets import Bool, Int, List, TraitType, Unicode, default
from traitlets.config import Application, Configurable
from traitlets.utils.importstring import import_item

from flytelineage.domain.lineage_settings import VARIABLE_NAME, LineageSettings, settings_from_dict
from flytelineage.errors import ConfigurationError, FlyteLineageError

CONFIG_FILE = "flytelineage_config.py"
_results: TextIO | None = None  # where results go while a command runs (stdout, which logs are kept off)


def out(text: str) -> None:
    """Print one result line on the command's standard output."""
    print(text, file=_results or sys.stdout, flush=True)


class CommandError(FlyteLineageError):
    """A subcommand cannot do what was asked; the message says why (exit status 1)."""


def _setting_trait(field: dataclasses.Field[Any]) -> TraitType[Any, Any]:
    """The traitlets option of one Variable key: unset (None) unless given, so the Variable's default applies."""
    kind = str(field.type)
    default_value = field.default if field.default is not dataclasses.MISSING else None
    shown = "required" if default_value is None and "None" not in kind else json.dumps(default_value)
    help_text = f"Variable key {field.name!r} (when unset: {shown})"
    trait: TraitType[Any, Any]
    if kind.startswith("tuple"):
        trait = List(Unicode(), default_value=None, allow_none=True, help=help_text)
    elif kind.startswith("bool"):
        trait = Bool(None, allow_none=True, help=help_text)
    elif kind.startswith("int"):
        trait = Int(None, allow_none=True, help=help_text)
    else:
        trait = Unicode(None, allow_none=True, help=help_text)
    return trait.tag(config=True)


SETTING_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LineageSettings))


def _subcommand(path: str) -> Callable[[Application], Application]:
    """A factory that imports the subcommand's class only when it is chosen (``--help`` stays light)."""

    def make(parent: Application) -> Application:
        app: Application = import_item(path)(parent=parent)
        return app

    return make


class WorkflowEvents(Configurable):
    """The predecessor's ``WorkflowEvents`` options that still have a meaning here (``config export`` maps them)."""

    emit = Bool(None, allow_none=True, help="False exports targets = [] (nothing is sent)").tag(config=True)
    datasets_only = Bool(None, allow_none=True, help="Exported as the Variable key 'datasets_only'").tag(config=True)


class FlyteLineage(Application):
    """Flyte data lineage on Airflow: migrate configuration, handle the quarantine, decode bodies, run one pass."""

    name = "flytelineage"
    description = __doc__
    version = "0.1.0"
    raise_config_file_errors = True  # a config file that fails to load stops the command (never ignored)

    config_file = Unicode(CONFIG_FILE, help="The config file to load (ignored when it does not exist)").tag(config=True)
    aws_region = Unicode(
        "", help="AWS region of the SQS and S3 clients (empty: the Amazon connection's or the environment's)"
    ).tag(config=True)
    variable_file = Unicode(
        "", help="Read the Variable JSON from this file instead of the Airflow Variable 'flyte_lineage'"
    ).tag(config=True)
    locals().update({f.name: _setting_trait(f) for f in dataclasses.fields(LineageSettings)})

    aliases = {
        **Application.aliases,
        "config-file": "FlyteLineage.config_file",
        "variable-file": "FlyteLineage.variable_file",
        "aws-region": "FlyteLineage.aws_region",
    }
    classes = [WorkflowEvents]
    subcommands = {
        "config": (_subcommand("flytelineage.cli.config_commands.ConfigCommand"), "Export or check the Variable"),
        "quarantine": (
            _subcommand("flytelineage.cli.quarantine_commands.QuarantineCommand"),
            "List, show and re-send quarantined messages",
        ),
        "decode": (_subcommand("flytelineage.cli.decode_command.DecodeCommand"), "Decode one SQS body"),
        "run": (_subcommand("flytelineage.cli.run_command.RunCommand"), "One pass of the DAG through dag.test()"),
    }

    @default("log_level")
    def _log_level_default(self) -> int:
        return logging.WARNING

    def initialize(self, argv: list[str] | None = None) -> None:
        """Parse the command line, then load the config file (command-line values keep precedence)."""
        super().initialize(argv)
        if self.subapp is None and Path(self.config_file).is_file():
            self.load_config_file(str(Path(self.config_file).resolve()))

    def start(self) -> int:  # type: ignore[override]
        """Run the chosen subcommand (its logs on stderr, its results on stdout); without one, list them."""
        if self.subapp is not None:
            leaf = self.subapp
            while leaf.subapp is not None:
                leaf = leaf.subapp
            if leaf.show_config or leaf.show_config_json:
                return int(self.subapp.start() or 0)
            global _results
            _results = sys.stdout
            try:
                with contextlib.redirect_stdout(sys.stderr):  # Airflow's logging writes to stdout
                    return int(self.subapp.start() or 0)
            finally:
                _results = None
        self.print_subcommands()
        print(f"Choose a subcommand, e.g. `{self.name} run`; `{self.name} --help-all` lists every option.")
        return 2

    # ---- settings ---------------------------------------------------------------------------------------------

    def explicit_settings(self) -> dict[str, Any]:
        """The Variable keys given by the config file or the command line (the predecessor's options mapped)."""
        given: dict[str, Any] = {}
        for key in SETTING_KEYS:
            value = getattr(self, key)
            if value is not None:
                given[key] = list(value) if isinstance(value, list | tuple) else value
        workflow_events = WorkflowEvents(parent=self)
        if workflow_events.datasets_only is not None and "datasets_only" not in given:
            given["datasets_only"] = workflow_events.datasets_only
        if workflow_events.emit is False:
            given["targets"] = []
        return given

    def stored_variable(self) -> dict[str, Any]:
        """The Variable JSON: from ``--variable-file``, else the Airflow Variable, else empty."""
        if self.variable_file:
            return read_variable_file(self.variable_file)
        data = airflow_variable()
        return data if isinstance(data, dict) else {}

    def settings(self) -> LineageSettings:
        """Validated settings: the stored Variable overridden by the config file and the command line (read once)."""
        cached: LineageSettings | None = getattr(self, "_settings", None)
        if cached is None:
            cached = settings_from_dict({**self.stored_variable(), **self.explicit_settings()})
            self._settings = cached
        return cached


def read_variable_file(path: str) -> dict[str, Any]:
    """A Variable JSON document from a file (``-`` = stdin); raise ``ConfigurationError`` when it is not JSON."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigurationError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def logs_to_stderr(level: Any = logging.WARNING) -> None:
    """Send log records to stderr at ``level``: Airflow's logging setup writes to stdout, which holds the results."""
    import airflow  # noqa: F401 - its import configures logging; redirect after it

    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # not files, not test capture handlers
            handler.setStream(sys.__stderr__)
            handler.setLevel(level)


def airflow_variable() -> Any:
    """The Airflow Variable ``flyte_lineage`` (JSON), or None when it is not set (env ``AIRFLOW_VAR_…`` or the DB)."""
    logs_to_stderr()
    from airflow.models import Variable

    try:
        return Variable.get(VARIABLE_NAME, default_var=None, deserialize_json=True)
    except ValueError as e:
        raise ConfigurationError(f"Airflow Variable {VARIABLE_NAME!r} is not valid JSON: {e}") from e


class Subcommand(FlyteLineage):
    """Base of the leaf commands: they share every option (and the config file) and have no subcommands."""

    subcommands: dict[str, Any] = {}

    def initialize(self, argv: list[str] | None = None) -> None:
        """Parse the subcommand's arguments and load the config file."""
        Application.initialize(self, argv)
        if Path(self.config_file).is_file():
            self.load_config_file(str(Path(self.config_file).resolve()))


def print_json(data: Any) -> None:
    """One JSON document on stdout (sorted keys; datetimes and bytes made printable)."""
    out(json.dumps(data, indent=2, sort_keys=True, default=_printable))


def _printable(value: Any) -> Any:
    import base64
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run one command and return its exit status (1 with a message on a known error)."""
    app = FlyteLineage()
    try:
        app.initialize(list(sys.argv[1:] if argv is None else argv))
        return app.start()
    except FlyteLineageError as e:
        print(f"flytelineage: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        if not _from_config_file(e):
            raise
        print(f"flytelineage: the config file {app.config_file!r} failed to load: {e!r}", file=sys.stderr)
        return 1


def _from_config_file(error: BaseException) -> bool:
    """True when ``error`` was raised while executing a Python config file."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "load_config_file":
            return True
        tb = tb.tb_next
    return False


def console_main() -> None:
    """The ``flytelineage`` entry point."""
    sys.exit(main())
