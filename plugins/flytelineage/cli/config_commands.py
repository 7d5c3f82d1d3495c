"""``flytelineage config export|check``: migrate a predecessor configuration and validate a Variable."""

from __future__ import annotations

import sys
from typing import Any

from traitlets import Bool

from flytelineage.cli.app import Subcommand, _subcommand, airflow_variable, print_json, read_variable_file
from flytelineage.domain.lineage_settings import VARIABLE_NAME, settings_from_dict
from flytelineage.errors import ConfigurationError


class ConfigCommand(Subcommand):
    """Export the options as the ``flyte_lineage`` Variable JSON, or check a Variable."""

    name = "flytelineage config"
    description = __doc__
    subcommands = {
        "export": (_subcommand("flytelineage.cli.config_commands.ConfigExport"), "Options -> Variable JSON"),
        "check": (_subcommand("flytelineage.cli.config_commands.ConfigCheck"), "Validate a Variable"),
    }

    def start(self) -> int:  # type: ignore[override]
        """Run ``export`` or ``check``."""
        if self.subapp is not None:
            return int(self.subapp.start() or 0)
        self.print_subcommands()
        return 2


class ConfigExport(Subcommand):
    """Print the ``flyte_lineage`` Variable JSON built from ``flytelineage_config.py`` and the command-line options.

    Only the keys that were given are written (the others keep their defaults); the document is validated first.
    Store it with ``airflow variables set flyte_lineage "$(flytelineage config export)"``.
    """

    name = "flytelineage config export"
    description = __doc__
    with_defaults = Bool(False, help="Write every key, with the defaults filled in").tag(config=True)
    flags = {
        **Subcommand.flags,
        "with-defaults": ({"ConfigExport": {"with_defaults": True}}, "Write every key, with the defaults"),
    }

    def start(self) -> int:  # type: ignore[override]
        """Validate and print the Variable JSON; notes on options that belong elsewhere go to stderr."""
        given = self.explicit_settings()
        settings = settings_from_dict(given)
        print_json(settings.as_dict() if self.with_defaults else given)
        if self.aws_region:
            print(
                f"note: aws_region {self.aws_region!r} is not a Variable key; set it as region_name in the extra "
                f"of the Amazon connection {settings.aws_conn_id!r}",
                file=sys.stderr,
            )
        return 0


class ConfigCheck(Subcommand):
    """Validate a Variable JSON file (``-`` = stdin) or, without one, the Airflow Variable ``flyte_lineage``.

    Prints the settings with their defaults when valid; otherwise every problem, and exits with status 1.
    """

    name = "flytelineage config check"
    description = __doc__

    def start(self) -> int:  # type: ignore[override]
        """Check the document and print the result."""
        source, data = self._document()
        try:
            settings = settings_from_dict(data)
        except ConfigurationError as e:
            print(f"{source}: invalid\n{e}", file=sys.stderr)
            return 1
        print(f"{source}: valid", file=sys.stderr)
        print_json(settings.as_dict())
        return 0

    def _document(self) -> tuple[str, Any]:
        if len(self.extra_args) > 1:
            raise ConfigurationError("config check takes at most one file")
        path = self.extra_args[0] if self.extra_args else self.variable_file
        if path:
            return path, read_variable_file(path)
        data = airflow_variable()
        if data is None:
            raise ConfigurationError(f"the Airflow Variable {VARIABLE_NAME!r} is not set; give a file to check")
        return f"Airflow Variable {VARIABLE_NAME!r}", data
