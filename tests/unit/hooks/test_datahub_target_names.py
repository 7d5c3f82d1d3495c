"""The DataHub target name that reaches logs and errors never carries a credential."""

from __future__ import annotations

import pytest

from flytelineage.hooks.datahub_emitter_hook import _without_userinfo


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("http://gms:8080", "http://gms:8080"),
        ("https://user:s3cr3t@gms.example.com:8080/api", "https://gms.example.com:8080/api"),
        ("https://token@gms.example.com", "https://gms.example.com"),
        ("gms:8080", "gms:8080"),
    ],
)
def test_userinfo_is_removed(host: str, shown: str) -> None:
    assert _without_userinfo(host) == shown
    assert "s3cr3t" not in _without_userinfo(host)
