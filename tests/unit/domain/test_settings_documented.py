"""Every key of the ``flyte_lineage`` Variable has a row in the README's configuration reference."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flytelineage.domain.lineage_settings import LineageSettings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_setting_has_a_row_in_the_configuration_reference() -> None:
    text = README.read_text()
    reference = text[text.index("## Configuration reference") :]
    reference = reference[: reference.index("\n## ", 1)]
    rows = {line.split("|")[1].strip().strip("`") for line in reference.splitlines() if line.startswith("| `")}
    assert {f.name for f in dataclasses.fields(LineageSettings)} - rows == set()
