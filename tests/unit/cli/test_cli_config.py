"""``flytelineage`` options, config file and ``config export|check``: the predecessor's interface, the Variable out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flytelineage.domain.lineage_settings import settings_from_dict
from tests.unit.cli.cli_runner import run_main, run_script

PREDECESSOR_CONFIG = """\
c.FlyteLineage.sqs_queue = "103020-flyte-events2"
c.FlyteLineage.aws_region = "eu-west-1"
c.FlyteLineage.log_format = "%(asctime)s %(levelname)-5.5s [%(name)s] %(message)s"
c.WorkflowEvents.emit = True
c.WorkflowEvents.datasets_only = True
c.FlyteLineage.bucket = "lineage-store"
c.FlyteLineage.targets = ["datahub", "glue", "openlineage"]
c.FlyteLineage.settle_seconds = 120
"""


def test_help_all_lists_the_predecessor_options() -> None:
    result = run_script("--help-all")
    assert result.code == 0, result.err
    for option in (
        "--help-all",
        "--show-config",
        "--show-config-json",
        "--log-level",
        "--debug",
        "--FlyteLineage.sqs_queue=<Unicode>",
        "--FlyteLineage.aws_region=<Unicode>",
        "--FlyteLineage.config_file=<Unicode>",
        "--FlyteLineage.bucket=<Unicode>",
        "--FlyteLineage.settle_seconds=<Int>",
        "--FlyteLineage.targets=<list-item-1>...",
        "--WorkflowEvents.datasets_only=<Bool>",
    ):
        assert option in result.out, option
    for subcommand in ("config", "quarantine", "decode", "run"):
        assert f"\n{subcommand}\n" in result.out


def test_no_subcommand_lists_them_and_fails() -> None:
    result = run_script()
    assert result.code == 2
    assert "Choose a subcommand" in result.out and "quarantine" in result.out


def test_export_reads_the_config_file_and_flags_win(tmp_path: Path) -> None:
    (tmp_path / "flytelineage_config.py").write_text(PREDECESSOR_CONFIG)
    result = run_script("config", "export", "--FlyteLineage.settle_seconds=30", cwd=tmp_path)
    assert result.code == 0, result.err
    exported = json.loads(result.out)
    assert exported == {
        "sqs_queue": "103020-flyte-events2",
        "bucket": "lineage-store",
        "targets": ["datahub", "glue", "openlineage"],
        "settle_seconds": 30,
        "datasets_only": True,
    }
    assert settings_from_dict(exported).settle_seconds == 30
    assert "aws_region 'eu-west-1' is not a Variable key" in result.err


def test_show_config_json_shows_the_file_and_flags(tmp_path: Path) -> None:
    (tmp_path / "flytelineage_config.py").write_text(PREDECESSOR_CONFIG)
    result = run_script("config", "export", "--show-config-json", "--FlyteLineage.prefix=p2", cwd=tmp_path)
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    assert shown["FlyteLineage"]["sqs_queue"] == "103020-flyte-events2"
    assert shown["FlyteLineage"]["prefix"] == "p2"
    assert shown["WorkflowEvents"] == {"emit": True, "datasets_only": True}


def test_named_config_file_and_a_broken_one(tmp_path: Path) -> None:
    good = tmp_path / "other_config.py"
    good.write_text('c.FlyteLineage.sqs_queue = "q"\nc.FlyteLineage.bucket = "b"\n')
    result = run_script("config", "export", f"--config-file={good}", cwd=tmp_path)
    assert (result.code, json.loads(result.out)) == (0, {"sqs_queue": "q", "bucket": "b"})
    # The predecessor's target classes do not exist here: the file fails loudly, never silently ignored.
    broken = tmp_path / "flytelineage_config.py"
    broken.write_text("from flytelineage.datahub import DataHubTarget\nc.FlyteLineage.sqs_queue = 'q'\n")
    result = run_script("config", "export", cwd=tmp_path)
    assert result.code == 1
    assert "flytelineage_config.py" in result.err and "flytelineage.datahub" in result.err


EXPORT_CASES = [
    # (flags, expected Variable JSON or the problems of the error)
    (["--FlyteLineage.sqs_queue=q", "--FlyteLineage.bucket=b"], {"sqs_queue": "q", "bucket": "b"}),
    (
        ["--FlyteLineage.sqs_queue=q", "--FlyteLineage.bucket=b", "--WorkflowEvents.emit=False"],
        {"sqs_queue": "q", "bucket": "b", "targets": []},
    ),
    (
        [
            "--FlyteLineage.sqs_queue=q",
            "--FlyteLineage.bucket=b",
            "--FlyteLineage.read_buckets=x",
            "--FlyteLineage.read_buckets=y",
        ],
        {"sqs_queue": "q", "bucket": "b", "read_buckets": ["x", "y"]},
    ),
    (
        ["--FlyteLineage.sqs_queue=q", "--FlyteLineage.bucket=b", "--FlyteLineage.glue_versioning=True"],
        {"sqs_queue": "q", "bucket": "b", "glue_versioning": True},
    ),
    (["--FlyteLineage.sqs_queue=q"], ["bucket is required"]),
    (
        ["--FlyteLineage.bucket=b", "--FlyteLineage.targets=glu", "--FlyteLineage.receivers=0"],
        ["sqs_queue is required", "targets must be a list drawn from", "receivers must be an integer from 1 to 32"],
    ),
]


@pytest.mark.parametrize(("flags", "expected"), EXPORT_CASES)
def test_export_table(
    flags: list[str],
    expected: object,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_main(capsys, monkeypatch, "config", "export", *flags)
    if isinstance(expected, dict):
        assert (result.code, json.loads(result.out)) == (0, expected)
    else:
        assert result.code == 1 and result.out == ""
        assert isinstance(expected, list)
        assert f"({len(expected)} problems)" in result.err
        for problem in expected:
            assert problem in result.err


def test_export_with_defaults_is_the_whole_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_main(
        capsys,
        monkeypatch,
        "config",
        "export",
        "--with-defaults",
        "--FlyteLineage.sqs_queue=q",
        "--FlyteLineage.bucket=b",
    )
    assert result.code == 0
    assert json.loads(result.out) == settings_from_dict({"sqs_queue": "q", "bucket": "b"}).as_dict()


def test_check_a_file_stdin_and_the_airflow_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    good = {"sqs_queue": "q", "bucket": "b", "targets": ["glue"]}
    (tmp_path / "good.json").write_text(json.dumps(good))
    result = run_main(capsys, monkeypatch, "config", "check", "good.json")
    assert result.code == 0 and "good.json: valid" in result.err
    assert json.loads(result.out) == settings_from_dict(good).as_dict()

    bad = {"bucket": "b", "max_seconds": 0, "colour": "red"}
    result = run_main(capsys, monkeypatch, "config", "check", "-", stdin=json.dumps(bad))
    assert result.code == 1 and result.out == ""
    for problem in ("unknown key 'colour'", "sqs_queue is required", "max_seconds must be an integer from 1 to 86400"):
        assert problem in result.err

    result = run_main(capsys, monkeypatch, "config", "check", "-", stdin="{not json")
    assert result.code == 1 and "is not valid JSON" in result.err

    monkeypatch.setenv("AIRFLOW_VAR_FLYTE_LINEAGE", json.dumps(good))
    result = run_main(capsys, monkeypatch, "config", "check")
    assert result.code == 0 and "Airflow Variable 'flyte_lineage': valid" in result.err
    monkeypatch.delenv("AIRFLOW_VAR_FLYTE_LINEAGE")
    result = run_main(capsys, monkeypatch, "config", "check")
    assert result.code == 1 and "is not set" in result.err
