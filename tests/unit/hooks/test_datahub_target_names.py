"""The DataHub target name that reaches logs and errors never carries a credential."""

from __future__ import annotations

import pytest

from flytelineage.hooks.connection_secrets import without_userinfo


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
    assert without_userinfo(host) == shown
    assert "s3cr3t" not in without_userinfo(host)
