"""aiohttp's per-request proxy and netrc lookups are kept only when they can matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.runs.runner import env_has_proxy_or_netrc

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy", "no_proxy")


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_no_proxy_and_no_netrc_means_nothing_to_trust(bare_env: Path) -> None:
    assert env_has_proxy_or_netrc() is False


def test_a_proxy_variable_keeps_trust_env(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert env_has_proxy_or_netrc() is True


@pytest.mark.parametrize("where", ["home", "NETRC"])
def test_a_netrc_file_keeps_trust_env(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path = bare_env / (".netrc" if where == "home" else "elsewhere")
    path.write_text("machine example.com login a password b\n")
    if where == "NETRC":
        monkeypatch.setenv("NETRC", str(path))
    assert env_has_proxy_or_netrc() is True
