"""Up-front checks (#28 item 4): a key with a line break or a space inside it, or a base URL
with `user:password@` or a key in its query, is one line and exit 2 before any request,
saying how to pass the key instead (before: every clip failed as `internal`, exit 0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.credentials import check_key
from asyncbench.core.errors import ConfigError

from .faultkit import dataset_fixture
from .inproc import cli, one_error_line
from .loopback import closed_port

esb = dataset_fixture("preflight", 2)
KEY = "sk-ASYNCBENCH-FAKE-preflight-0a1b2c3d"


def _openai(esb: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--model_name",
        "openai/whisper-1",
        "--dataset_path",
        str(esb),
        "--dataset",
        "ami",
        "--results_dir",
        str(tmp_path / "r"),
        "--no_progress",
        *extra,
    ]


@pytest.mark.parametrize(
    ("key", "said"),
    [
        (KEY[:10] + "\r\n" + KEY[10:], "a carriage return (CR) at position 11 of 39"),
        (KEY[:5] + " " + KEY[5:], "a space at position 6 of 38"),
        (KEY[:3] + "\x1b" + KEY[3:], "the control character U+001B at position 4 of 38"),
        (KEY[:3] + "\u2019" + KEY[3:], "the non-ASCII character U+2019 at position 4 of 38"),
    ],
)
def test_a_key_with_a_bad_character_inside_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], esb: Path, tmp_path: Path, key: str, said: str
) -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1"
    code, _out, err = cli(capsys, *_openai(esb, tmp_path, "--api_key", key, "--base_url", base))
    assert code == 2
    assert one_error_line(err) == (
        f"error: the API key from --api_key contains {said}; a key is one word of printable "
        "ASCII: copy it again, or put it alone in a file and pass --api_key_file FILE (or "
        "OPENAI_API_KEY_FILE=FILE)"
    )
    assert KEY[12:] not in err


def test_a_key_from_the_environment_is_checked_and_its_final_newline_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert check_key(KEY + "\r\n", "OPENAI_API_KEY", "OPENAI_API_KEY") == KEY
    with pytest.raises(ConfigError, match=r"^the API key from OPENAI_API_KEY contains a line feed"):
        check_key("sk-abc\ndef", "OPENAI_API_KEY", "OPENAI_API_KEY")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "http://bob:hunter2hunter2@127.0.0.1:{port}/v1",
            "--base_url carries a user name or password (user:password@host)",
        ),
        (
            "http://127.0.0.1:{port}/v1?model=x&api_key=sk-abcdefgh12345678",
            "--base_url carries a credential in its query (parameter api_key)",
        ),
        (
            "http://127.0.0.1:{port}/v1?access_token=abc&Subscription-Key=zzz",
            "--base_url carries a credential in its query "
            "(parameter Subscription-Key, access_token)",
        ),
    ],
)
def test_a_base_url_with_a_credential_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], esb: Path, tmp_path: Path, url: str, said: str
) -> None:
    bad = url.format(port=closed_port())
    code, _out, err = cli(capsys, *_openai(esb, tmp_path, "--api_key", KEY, "--base_url", bad))
    assert code == 2
    assert one_error_line(err) == (
        f"error: {said}; pass the key with --api_key_file FILE or OPENAI_API_KEY instead, and "
        "give the URL without it"
    )
    assert "hunter2hunter2" not in err and "abcdefgh12345678" not in err


def test_the_base_url_variable_is_named_when_it_is_the_one(
    capsys: pytest.CaptureFixture[str],
    esb: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"https://user:pw@127.0.0.1:{closed_port()}/v1")
    code, _out, err = cli(capsys, *_openai(esb, tmp_path, "--api_key", KEY))
    assert code == 2
    assert one_error_line(err).startswith(
        "error: OPENAI_BASE_URL carries a user name or password (user:password@host); "
    )
