"""``settings_from_dict`` as a table: input documents -> expected settings, or -> the exact problems reported.

Every key's rule is listed once here (type, range, allowed values, default), independently of the module's own
tables, so a changed rule or default shows up as a failing row. Only the public behaviour with default arguments
is tested (``sqs_queue`` and ``bucket`` required). The openlineage keys have their own file
(``test_lineage_settings_openlineage.py``); the README's reference is checked by ``test_settings_documented.py``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from flytelineage.domain.lineage_settings import PLATFORM_TYPES, RAW_FORMATS, LineageSettings, settings_from_dict
from flytelineage.domain.read_limits import ReadLimits
from flytelineage.errors import ConfigurationError

REQUIRED = {"sqs_queue": "flyte-events", "bucket": "lineage"}

DEFAULTS: dict[str, Any] = {
    "prefix": "flyte-lineage",
    "aws_conn_id": "aws_default",
    "datahub_conn_id": "datahub_default",
    "openlineage_conn_id": "openlineage_default",
    "env": "PROD",
    "targets": ("datahub", "glue"),
    "glue_database": None,
    "glue_versioning": False,
    "glue_max_versions": None,
    "datasets_only": False,
    "read_buckets": (),
    "flyte_console_url": None,
    "raw_format": None,
    "max_messages": 100_000,
    "max_seconds": 240,
    "receivers": 4,
    "wait_seconds": 1,
    "visibility_timeout": 300,
    "flush_messages": 5_000,
    "flush_seconds": 60,
    "settle_seconds": 300,
    "pending_max_days": 7,
    "shard_size": 200,
    "read_concurrency": 16,
    "max_literal_bytes": 64 * 1024 * 1024,
    "max_literals": 250_000,
    "max_literal_depth": 64,
    "max_footer_bytes": 16 * 1024 * 1024,
    "max_dataset_reads": 1_000,
    "service_principals": ("flytepropeller",),
    "platform_display_name": "Flyte",
    "platform_type": "OTHERS",
    "platform_delimiter": ".",
    "platform_logo_url": None,
    "dpi_retention_days": None,
    "dpi_retention_max_per_run": 10_000,
    "dpi_retention_hard_delete": False,
    "datahub_digest_ttl_hours": 24,
}

# integer keys: (lowest, highest) accepted
INT_RANGES = {
    "max_messages": (1, 10_000_000),
    "max_seconds": (1, 86_400),
    "receivers": (1, 32),
    "wait_seconds": (0, 20),
    "visibility_timeout": (10, 43_200),
    "flush_messages": (10, 1_000_000),
    "flush_seconds": (1, 14_400),
    "settle_seconds": (0, 86_400),
    "pending_max_days": (1, 365),
    "shard_size": (1, 100_000),
    "read_concurrency": (1, 256),
    "max_literal_bytes": (1_024, 2 * 1024**3),
    "max_literals": (1_000, 100_000_000),
    "max_literal_depth": (4, 500),
    "max_footer_bytes": (64 * 1024, 2 * 1024**3),
    "max_dataset_reads": (0, 1_000_000),
    "dpi_retention_days": (1, 36_500),
    "dpi_retention_max_per_run": (1, 1_000_000),
    "datahub_digest_ttl_hours": (0, 8_760),
}
NULLABLE_INTS = ("dpi_retention_days",)  # null = keep every run; the others take their default when null
STRINGS = (
    "sqs_queue",
    "bucket",
    "prefix",
    "datahub_conn_id",
    "openlineage_conn_id",
    "env",
    "platform_display_name",
    "platform_delimiter",
)
OPTIONAL_STRINGS = ("glue_database", "flyte_console_url", "platform_logo_url")
BOOLS = ("glue_versioning", "datasets_only", "dpi_retention_hard_delete")

TARGETS_PROBLEM = "targets must be a list drawn from ['datahub', 'glue', 'openlineage']"
READ_BUCKETS_PROBLEM = "read_buckets must be a list of bucket names (empty = any bucket the credentials can read)"
PRINCIPALS_PROBLEM = "service_principals must be a list of principal names (client ids)"
RAW_FORMAT_PROBLEM = f"raw_format must be one of {list(RAW_FORMATS)} or null"
PLATFORM_TYPE_PROBLEM = f"platform_type must be one of {list(PLATFORM_TYPES)}"
REAPPEAR = "so messages are stored and deleted before they reappear"


def problems_of(data: Any) -> list[str]:
    """The problems listed by the one ``ConfigurationError`` (the message's ``; ``-separated list)."""
    with pytest.raises(ConfigurationError) as raised:
        settings_from_dict(data)
    message = str(raised.value)
    match = re.fullmatch(
        r"Variable 'flyte_lineage' is invalid \((\d+) problems\): (.*)\. See the README's configuration reference\.",
        message,
    )
    assert match, message
    problems = match.group(2).split("; ")
    assert int(match.group(1)) == len(problems), message
    return problems


# ---- defaults ------------------------------------------------------------------------------------------------------


def test_the_table_covers_every_setting() -> None:
    assert set(DEFAULTS) | set(REQUIRED) == {f.name for f in dataclasses.fields(LineageSettings)}
    ruled = {*INT_RANGES, *STRINGS, *OPTIONAL_STRINGS, *BOOLS}
    ruled |= {"targets", "read_buckets", "service_principals", "glue_max_versions", "raw_format", "platform_type"}
    ruled |= {"aws_conn_id"}  # test_aws_conn_id_may_be_null_for_boto3_default_credentials
    assert ruled == set(DEFAULTS) | set(REQUIRED)


def test_only_the_required_keys_give_every_default() -> None:
    settings = settings_from_dict(dict(REQUIRED))
    assert settings == LineageSettings(**REQUIRED)
    assert settings.as_dict() == {
        **REQUIRED,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in DEFAULTS.items()},
    }


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_default_of_each_key(key: str) -> None:
    assert getattr(settings_from_dict(dict(REQUIRED)), key) == DEFAULTS[key]


@pytest.mark.parametrize("key", OPTIONAL_STRINGS)
def test_null_optional_string_is_unset(key: str) -> None:
    assert getattr(settings_from_dict({**REQUIRED, key: None}), key) is None


@pytest.mark.parametrize("key", [k for k in sorted(INT_RANGES) if k not in NULLABLE_INTS])
def test_null_integer_is_reported(key: str) -> None:
    low, high = INT_RANGES[key]
    assert problems_of({**REQUIRED, key: None}) == [f"{key} must be an integer from {low} to {high}"]


def test_aws_conn_id_may_be_null_for_boto3_default_credentials() -> None:
    assert settings_from_dict({**REQUIRED, "aws_conn_id": None}).aws_conn_id is None
    assert settings_from_dict({**REQUIRED, "aws_conn_id": "aws_x"}).aws_conn_id == "aws_x"
    for value in ("", "   ", 3, ["x"]):
        assert problems_of({**REQUIRED, "aws_conn_id": value}) == ["aws_conn_id must be a non-empty string or null"]


# ---- accepted values -----------------------------------------------------------------------------------------------

COMPANIONS = {
    ("visibility_timeout", 10): {"flush_seconds": 3},
    ("flush_seconds", 14_400): {"visibility_timeout": 43_200},
}
"""A bound of one key that needs another key set, for flush_seconds <= visibility_timeout / 3 to hold."""


def _bound(key: str, value: int) -> dict[str, Any]:
    return {key: value, **COMPANIONS.get((key, value), {})}


ACCEPTED: list[tuple[dict[str, Any], dict[str, Any]]] = [
    *((_bound(k, low), _bound(k, low)) for k, (low, _) in INT_RANGES.items()),
    *((_bound(k, high), _bound(k, high)) for k, (_, high) in INT_RANGES.items()),
    ({"flush_seconds": 100, "visibility_timeout": 300}, {"flush_seconds": 100, "visibility_timeout": 300}),
    ({"dpi_retention_days": None}, {"dpi_retention_days": None}),
    *(({k: " x "}, {k: " x "}) for k in STRINGS),  # kept as given (only blank is refused)
    *(({k: "v"}, {k: "v"}) for k in OPTIONAL_STRINGS),
    *(({k: "v"}, {k: "v"}) for k in OPTIONAL_STRINGS),
    *(({k: True}, {k: True}) for k in BOOLS),
    *(({k: False}, {k: False}) for k in BOOLS),
    ({"targets": []}, {"targets": ()}),
    ({"targets": ["glue", "datahub", "glue"]}, {"targets": ("glue", "datahub", "glue")}),
    ({"read_buckets": ["a", "b"]}, {"read_buckets": ("a", "b")}),
    ({"read_buckets": []}, {"read_buckets": ()}),
    ({"service_principals": []}, {"service_principals": ()}),
    ({"service_principals": ["p1", "p2"]}, {"service_principals": ("p1", "p2")}),
    ({"glue_max_versions": 1}, {"glue_max_versions": 1}),
    ({"glue_max_versions": 10**9}, {"glue_max_versions": 10**9}),
    ({"glue_max_versions": None}, {"glue_max_versions": None}),
    *(({"raw_format": f}, {"raw_format": f}) for f in RAW_FORMATS),
    *(({"platform_type": t}, {"platform_type": t}) for t in PLATFORM_TYPES),
    (
        {"max_seconds": 60, "targets": ["openlineage"], "env": "DEV", "glue_versioning": True},
        {"max_seconds": 60, "targets": ("openlineage",), "env": "DEV", "glue_versioning": True},
    ),
]


@pytest.mark.parametrize(("extra", "expected"), ACCEPTED, ids=[str(sorted(e)) for e, _ in ACCEPTED])
def test_accepted_values(extra: dict[str, Any], expected: dict[str, Any]) -> None:
    settings = settings_from_dict({**REQUIRED, **extra})
    assert {k: getattr(settings, k) for k in expected} == expected
    others = {k: v for k, v in DEFAULTS.items() if k not in expected}
    assert {k: getattr(settings, k) for k in others} == others  # nothing else moves


# ---- refused values: one problem each -------------------------------------------------------------------------------


def _int_rows() -> list[tuple[dict[str, Any], str]]:
    rows = []
    for key, (low, high) in INT_RANGES.items():
        problem = f"{key} must be an integer from {low} to {high}"
        rows += [({key: v}, problem) for v in (low - 1, high + 1, True, False, "5", 1.5, float(low), [low])]
    return rows


REFUSED: list[tuple[dict[str, Any], str]] = [
    *_int_rows(),
    *(({k: v}, f"{k} must be a non-empty string") for k in STRINGS[2:] for v in ("", "   ", 3, None, ["x"])),
    *(({k: v}, f"{k} must be a string or null") for k in OPTIONAL_STRINGS for v in (3, True, ["x"], {})),
    *(({k: v}, f"{k} must be true or false") for k in BOOLS for v in ("true", 1, 0, None)),
    *(({"targets": v}, TARGETS_PROBLEM) for v in ("datahub", ["DataHub"], ["datahub", "marquez"], None, [None])),
    *(({"read_buckets": v}, READ_BUCKETS_PROBLEM) for v in ("bucket", [""], [3], None, ["a", None])),
    *(({"service_principals": v}, PRINCIPALS_PROBLEM) for v in ("flytepropeller", [""], [1], None)),
    *(
        ({"glue_max_versions": v}, "glue_max_versions must be a positive integer or null")
        for v in (0, -1, True, "3", 2.0)
    ),
    *(({"raw_format": v}, RAW_FORMAT_PROBLEM) for v in ("external", "CLOUDEVENTS", "")),
    *(({"platform_type": v}, PLATFORM_TYPE_PROBLEM) for v in ("others", "", None, 3)),
    ({"unknown": 1}, "unknown key 'unknown'"),
    ({"Bucket": "x"}, "unknown key 'Bucket'"),  # keys are case-sensitive
]


@pytest.mark.parametrize(("extra", "problem"), REFUSED, ids=[f"{sorted(e.items())}" for e, _ in REFUSED])
def test_refused_value_is_the_only_problem(extra: dict[str, Any], problem: str) -> None:
    assert problems_of({**REQUIRED, **extra}) == [problem]


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        ({}, ["sqs_queue is required", "bucket is required"]),
        ({"bucket": "b"}, ["sqs_queue is required"]),
        ({"sqs_queue": "q"}, ["bucket is required"]),
        # a present but empty required key is both missing and not a non-empty string
        ({"sqs_queue": "", "bucket": "b"}, ["sqs_queue is required", "sqs_queue must be a non-empty string"]),
        ({"sqs_queue": "q", "bucket": None}, ["bucket is required", "bucket must be a non-empty string"]),
        ({"sqs_queue": "q", "bucket": 0}, ["bucket is required", "bucket must be a non-empty string"]),
        ({"sqs_queue": "q", "bucket": 7}, ["bucket must be a non-empty string"]),
        ({"sqs_queue": "q", "bucket": " "}, ["bucket must be a non-empty string"]),
    ],
)
def test_required_keys(data: dict[str, Any], problems: list[str]) -> None:
    assert problems_of(data) == problems


# ---- several problems: one message, in a fixed order ---------------------------------------------------------------


def test_every_problem_is_listed_in_one_message_in_order() -> None:
    data = {
        "zeta": 1,
        "alpha": 2,
        "bucket": "",
        "prefix": 3,
        "glue_database": 4,
        "datasets_only": "yes",
        "receivers": 0,
        "targets": ["nope"],
        "read_buckets": "one",
        "glue_max_versions": 0,
        "raw_format": "xml",
        "service_principals": [""],
        "platform_type": "x",
        "datahub_digest_ttl_hours": -1,
    }
    # unknown keys (sorted), required keys, then type/range rules, then list/enum rules
    expected = [
        "unknown key 'alpha'",
        "unknown key 'zeta'",
        "sqs_queue is required",
        "bucket is required",
        "bucket must be a non-empty string",
        "prefix must be a non-empty string",
        "glue_database must be a string or null",
        "datasets_only must be true or false",
        "receivers must be an integer from 1 to 32",
        "datahub_digest_ttl_hours must be an integer from 0 to 8760",
        TARGETS_PROBLEM,
        READ_BUCKETS_PROBLEM,
        "glue_max_versions must be a positive integer or null",
        RAW_FORMAT_PROBLEM,
        PRINCIPALS_PROBLEM,
        PLATFORM_TYPE_PROBLEM,
    ]
    assert problems_of(data) == expected
    with pytest.raises(ConfigurationError) as raised:
        settings_from_dict(data)
    assert str(raised.value).startswith(f"Variable 'flyte_lineage' is invalid ({len(expected)} problems): ")


@pytest.mark.parametrize(
    ("data", "type_name"), [([], "list"), (None, "NoneType"), ("{}", "str"), (3, "int"), ((("a", 1),), "tuple")]
)
def test_a_document_that_is_not_an_object(data: Any, type_name: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        settings_from_dict(data)
    assert str(raised.value) == f"Variable 'flyte_lineage' must be a JSON object, not {type_name}"


def test_the_input_is_not_modified() -> None:
    data = {**REQUIRED, "targets": ["glue"], "read_buckets": ["a"]}
    snapshot = {k: list(v) if isinstance(v, list) else v for k, v in data.items()}
    settings_from_dict(data)
    assert data == snapshot


RELATIONS: list[tuple[dict[str, Any], list[str]]] = [
    (
        {"flush_seconds": 101, "visibility_timeout": 300},
        ["flush_seconds (101) must be at most a third of visibility_timeout (300), " + REAPPEAR],
    ),
    (
        {"visibility_timeout": 20},
        ["flush_seconds (60) must be at most a third of visibility_timeout (20), " + REAPPEAR],
    ),
    ({"flush_seconds": 101}, ["flush_seconds (101) must be at most a third of visibility_timeout (300), " + REAPPEAR]),
    # an invalid value is reported as such, not compared
    ({"flush_seconds": "x", "visibility_timeout": 20}, ["flush_seconds must be an integer from 1 to 14400"]),
    ({"visibility_timeout": 9}, ["visibility_timeout must be an integer from 10 to 43200"]),
]


@pytest.mark.parametrize(("extra", "expected"), RELATIONS, ids=[str(e) for e, _ in RELATIONS])
def test_rules_between_keys_are_reported_before_any_task_runs(extra: dict[str, Any], expected: list[str]) -> None:
    assert problems_of({**REQUIRED, **extra}) == expected


def test_read_limits_are_the_limit_keys() -> None:
    settings = settings_from_dict(
        {
            **REQUIRED,
            "max_literal_bytes": 2048,
            "max_literals": 5000,
            "max_literal_depth": 8,
            "max_footer_bytes": 70_000,
            "max_dataset_reads": 3,
        }
    )
    assert settings.read_limits() == ReadLimits(
        max_literal_bytes=2048, max_literals=5000, max_literal_depth=8, max_footer_bytes=70_000, max_dataset_reads=3
    )
    assert settings_from_dict(dict(REQUIRED)).read_limits() == ReadLimits()
