"""Credentials inside URLs never leave the process, and keys can come from files (issue 18,
item 6).

An endpoint written as `http://user:password@host/...?token=...&subscription-key=...` is
shown masked everywhere asyncbench prints or writes: the console, the `endpoint` field of
results lines, the summary file, the HTML report and error messages. `--api_key_file` and
`<KEY_ENV>_FILE` read the key from a file so it never shows in `ps`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.redact import Redactor, redact_url, url_secrets

from .faultkit import dataset_fixture, finish, ledger, results_file, run_args, server, start
from .inproc import cli, one_error_line
from .loopback import Action
from .support import cli_env, run_cli

PASSWORD = "pw-ASYNCBENCH-FAKE-userinfo-5e6f7a8b"
TOKEN = "tk-ASYNCBENCH-FAKE-query-token-1c2d3e"
SUB_KEY = "sk-ASYNCBENCH-FAKE-subscription-9a8b7c"
FILE_KEY = "fk-ASYNCBENCH-FAKE-keyfile-4d5e6f7a8b"
SECRETS = (PASSWORD, TOKEN, SUB_KEY, FILE_KEY)

esb = dataset_fixture("urlsecrets", 4)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bob:hunter2hunter2@h:1/asr", "http://***@h:1/asr"),
        ("https://TOKENONLYUSER123@h/x", "https://***@h/x"),
        ("http://h/x?code=abc123456&sig=zz&model=m", "http://h/x?code=***&sig=***&model=m"),
        (
            "http://h/x?subscription-key=a&my_key=b&page=2",
            "http://h/x?subscription-key=***&my_key=***&page=2",
        ),
        (
            "http://h/x?refresh-token-v2=a&X-Goog-Signature=b",
            "http://h/x?refresh-token-v2=***&X-Goog-Signature=***",
        ),
        ("http://h/x?monkey=1&keyword=2", "http://h/x?monkey=1&keyword=2"),
    ],
)
def test_urls_are_shown_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert Redactor([])(f"error at {url} now") == f"error at {shown} now"


def test_url_credentials_are_known_secrets_even_without_their_url() -> None:
    url = f"http://bob:{PASSWORD}@h:1/asr?token={TOKEN}"
    assert {PASSWORD, TOKEN} <= set(url_secrets([url]))
    assert Redactor(url_secrets([url]))(f"server said: {PASSWORD} / {TOKEN}") == (
        "server said: *** / ***"
    )


def leaks(*texts: str, under: Path | None = None) -> list[str]:
    found = [s for s in SECRETS for t in texts if s in t]
    if under is not None:
        for path in under.rglob("*"):
            if path.is_file():
                found += [f"{path.name}: {s}" for s in SECRETS if s.encode() in path.read_bytes()]
    return found


async def test_url_credentials_are_masked_in_every_output(esb: Path, tmp_path: Path) -> None:
    """A run whose endpoint URL carries a password and two key-shaped query values, against a
    server that echoes the request (line and headers) in its error bodies: no output, results
    line, summary, meta file or report holds them; the results' `endpoint` is the masked URL.
    Before the fix the userinfo and `subscription-key` were written as they are."""

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=400, echo=True) if n == 1 else Action()

    results = tmp_path / "results"
    async with server(1, plan=plan) as srv:
        port = srv.ports[0]
        endpoint = (
            f"http://bob:{PASSWORD}@127.0.0.1:{port}/asr/transcribe"
            f"?token={TOKEN}&subscription-key={SUB_KEY}&model=x"
        )
        proc = await start(run_args(esb, endpoint, results, "--max_workers", "1"))
        code, out, err = await finish(proc)
        sent = srv.seen[0]
    assert code == 3, err  # one sample failed: exit 3 since #25 item 6
    assert TOKEN in sent.path_qs  # the server did get them: masking is in the output only
    rows = ledger(results_file(esb, results))
    shown = f"http://***@127.0.0.1:{port}/asr/transcribe?token=***&subscription-key=***&model=x"
    assert {r["endpoint"] for r in rows.values()} == {shown}
    assert any(r["status"] == "failed" and "***" in r["error"] for r in rows.values())
    report = run_cli("report", results, "-o", tmp_path / "report.html", env=cli_env())
    assert report.returncode == 0, report.stderr
    assert leaks(out, err, report.stdout, report.stderr, under=tmp_path) == []
    assert shown in err  # the endpoint table names it, masked


def test_a_bad_endpoint_with_a_password_is_one_masked_line(
    capsys: pytest.CaptureFixture[str], esb: Path, tmp_path: Path
) -> None:
    bad = f"http://bob:{PASSWORD}@127.0.0.1:99999/asr"
    code, _, err = cli(capsys, *run_args(esb, bad, tmp_path / "r"))
    assert code == 2
    assert one_error_line(err) == (
        "error: bad endpoint 'http://***@127.0.0.1:99999/asr': the port is not a number "
        "1-65535; expected host:port or a URL such as http://127.0.0.1:8800/asr/transcribe"
    )


# -- keys from files ------------------------------------------------------------------------


async def test_the_key_comes_from_a_file(esb: Path, tmp_path: Path) -> None:
    """--api_key_file and ALDEA_API_KEY_FILE: the key (its trailing newline dropped) is what
    the server gets, and it appears nowhere in what the run prints or writes."""
    key_file = tmp_path / "aldea.key"
    key_file.write_text(FILE_KEY + "\n")
    async with server(1) as srv:
        for how, extra, env in (
            ("flag", ["--api_key_file", str(key_file)], cli_env()),
            ("env", [], cli_env(ALDEA_API_KEY_FILE=str(key_file))),
        ):
            results = tmp_path / how
            proc = await start(run_args(esb, srv.endpoints, results, *extra), env)
            code, out, err = await finish(proc)
            assert code == 0, err
            assert leaks(out, err, under=results) == []
        assert {s.headers.get("Authorization") for s in srv.seen} == {f"Bearer {FILE_KEY}"}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "error: cannot read --api_key_file {dir}/nope.key (No such file or directory)"),
        ("empty", "error: --api_key_file {dir}/empty.key is empty; put the API key in it"),
        ("both_flags", "error: pass --api_key or --api_key_file, not both"),
        (
            "env_missing",
            "error: cannot read ALDEA_API_KEY_FILE {dir}/nope.key (No such file or directory)",
        ),
        ("both_env", "error: both ALDEA_API_KEY and ALDEA_API_KEY_FILE are set; unset one"),
    ],
)
def test_key_file_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    esb: Path,
    tmp_path: Path,
    case: str,
    message: str,
) -> None:
    (tmp_path / "empty.key").write_text("\n")
    (tmp_path / "good.key").write_text(FILE_KEY)
    for name in ("ALDEA_API_KEY", "ALDEA_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    extra: list[str] = []
    if case == "missing":
        extra = ["--api_key_file", str(tmp_path / "nope.key")]
    elif case == "empty":
        extra = ["--api_key_file", str(tmp_path / "empty.key")]
    elif case == "both_flags":
        extra = ["--api_key", "abc12345678", "--api_key_file", str(tmp_path / "good.key")]
    elif case == "env_missing":
        monkeypatch.setenv("ALDEA_API_KEY_FILE", str(tmp_path / "nope.key"))
    else:
        monkeypatch.setenv("ALDEA_API_KEY", "abc12345678")
        monkeypatch.setenv("ALDEA_API_KEY_FILE", str(tmp_path / "good.key"))
    code, _, err = cli(capsys, *run_args(esb, "127.0.0.1:9", tmp_path / "r", *extra))
    assert code == 2
    assert one_error_line(err) == message.format(dir=tmp_path)
