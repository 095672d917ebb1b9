"""The wire rules through the real CLI, against loopback servers that misbehave the way
proxies, gateways and broken servers do (issue 18, items 3, 4 and 5):

- bounded replies: a body announced as 2 GB, or streamed without end, fails that attempt as
  `bad_response` ("reply larger than ...") at once instead of filling memory or hanging;
- only transcripts are scored: an HTML login page, binary, NUL bytes, invalid UTF-8 or a JSON
  transcript that is not a string is a retried `bad_response`, never words;
- redirects are not followed (a 302 after a POST would become a GET of a login page, scored
  as a transcript); `--follow_redirects` follows only 307/308 within the origin, and no
  credential header ever reaches another origin.

Each server stops after sending a bounded amount, so these tests cannot eat the machine's
memory even against a client that reads without limit (they then fail by timing out).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from .faultkit import (
    Attempts,
    dataset_fixture,
    failed_by_kind,
    finish,
    ledger,
    number_of,
    numbered_texts,
    results_file,
    run_args,
    sample_id,
    server,
    start,
)
from .inproc import one_error_line
from .loopback import Action, served
from .support import cli_env, run_cli_async

N = 6
TEXTS = numbered_texts(N)
esb = dataset_fixture("wire", N)

MIB = 2**20


async def run_aldea(
    esb: Path, endpoints: str, results: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, str, str, dict[str, dict]]:
    proc = await start(run_args(esb, endpoints, results, "--max_workers", "4", *extra), env)
    code, out, err = await finish(proc, timeout=180)
    path = results_file(esb, results)
    return code, out, err, (ledger(path) if path.exists() else {})


# -- 3. bounded replies ---------------------------------------------------------------------


async def test_huge_and_endless_replies_fail_at_the_cap(esb: Path, tmp_path: Path) -> None:
    """Sample 0's reply announces 2 GB, sample 1's is chunked without end (each server stops
    after 40 MB and hangs, so an unbounded reader waits for --timeout); both fail their one
    attempt as bad_response at the default 16 MiB cap, at once (before the fix: `timeout`,
    after 40 MB read into memory); the others are answered."""

    def plan(port: int, n: int, body: bytes) -> Action:
        number = number_of(body)
        if number == 0:
            return Action(stream_bytes=40 * MIB, content_length=2 * 2**30)
        if number == 1:
            return Action(stream_bytes=40 * MIB)
        return Action()

    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(
            esb, srv.endpoints, tmp_path / "results", "--max_retries", "0", "--timeout", "10"
        )
    assert code == 3, err  # failed samples: exit 3 since #25 item 6 (was 0)
    for i in (0, 1):
        row = rows[sample_id(i)]
        assert row["status"] == "failed" and row["error_kind"] == "bad_response", row
        assert row["error"] == "reply larger than 16 MiB (--max_reply_bytes)", row
        assert row["time"] < 10, row  # refused at the cap, not timed out
    for i in range(2, N):
        assert rows[sample_id(i)]["pred_text"] == TEXTS[i]
    assert failed_by_kind(err) == {"bad_response": 2}, err


async def test_a_compressed_reply_is_capped_by_what_it_inflates_to(
    esb: Path, tmp_path: Path
) -> None:
    """A gzip reply of 60 KB that inflates to 20 MB fails at the 16 MiB cap (its small
    Content-Length must not let it be read in one piece); a gzip reply within the cap is
    inflated and scored; plain replies with a Content-Length are read whole."""
    big = gzip.compress(orjson.dumps({"text": "a" * (20 * MIB)}))
    assert len(big) < 100_000

    def plan(port: int, n: int, body: bytes) -> Action:
        number = number_of(body)
        gz = {"Content-Encoding": "gzip"}
        if number == 0:
            return Action(body=big, headers=gz, content_type="application/json")
        if number == 1:
            small = gzip.compress(orjson.dumps({"text": TEXTS[1]}))
            return Action(body=small, headers=gz, content_type="application/json")
        return Action()

    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(
            esb, srv.endpoints, tmp_path / "results", "--max_retries", "0"
        )
    assert code == 3, err  # failed samples: exit 3 since #25 item 6 (was 0)
    row = rows[sample_id(0)]
    assert (row["status"], row["error_kind"]) == ("failed", "bad_response"), row
    assert row["error"] == "reply larger than 16 MiB (--max_reply_bytes)", row
    for i in range(1, N):
        assert rows[sample_id(i)]["pred_text"] == TEXTS[i]


async def test_max_reply_bytes_sets_the_cap(esb: Path, tmp_path: Path) -> None:
    """--max_reply_bytes 1 MiB: a 300 KB transcript is read whole and scored, a 2 MB one is
    refused as larger than 1 MiB (and retried: the second reply is small)."""
    long_text = " ".join(["word"] * 60_000)
    attempts = Attempts()

    def plan(port: int, n: int, body: bytes) -> Action:
        number, attempt = attempts(body)
        words = long_text * (7 if number == 0 and attempt == 1 else 1)
        return Action(body=b'{"text": "' + words.encode() + b'"}', content_type="application/json")

    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(
            esb, srv.endpoints, tmp_path / "results", "--max_reply_bytes", str(MIB)
        )
    assert code == 0, err
    assert all(r["status"] == "ok" and r["pred_text"] == long_text for r in rows.values())
    assert rows[sample_id(0)]["attempts"] == 2
    assert "1 retries" in err, err


@pytest.mark.parametrize("value", ["0", "100", "-5"])
async def test_a_cap_too_small_is_one_line(esb: Path, tmp_path: Path, value: str) -> None:
    code, _, err = await run_cli_async(
        *run_args(esb, "127.0.0.1:9", tmp_path / "r", "--max_reply_bytes", value)
    )
    assert code == 2
    assert one_error_line(err) == (
        f"error: --max_reply_bytes must be at least 1024 (got {value}); "
        "the default is 16777216 (16 MiB)"
    )


# -- 4. only transcripts are scored ---------------------------------------------------------

#: what a misconfigured proxy, a gateway or a broken server answers with 200, and the words
#: of the error each must be recorded with
NOT_TRANSCRIPTS: dict[int, tuple[Action, str]] = {
    0: (
        Action(
            body=b"<!DOCTYPE html><html><title>Sign in</title><body>Sign in</body></html>",
            content_type="text/html",
        ),
        "reply is an HTML page (text/html)",
    ),
    1: (
        Action(body=b"<html><body>Portal login</body></html>", content_type="text/plain"),
        "reply is an HTML page (text/plain)",
    ),
    2: (
        Action(body=b"hello there", content_type="application/octet-stream"),
        "reply is binary (application/octet-stream)",
    ),
    3: (Action(body=b"hello\x00there", content_type="text/plain"), "reply is binary"),
    4: (Action(body=b"caf\xe9 ol\xe9", content_type="text/plain"), "reply is not valid UTF-8"),
    5: (
        Action(body=b'{"text": 42}', content_type="application/json"),
        "no transcript in reply",
    ),
}


async def test_only_transcripts_are_scored(esb: Path, tmp_path: Path) -> None:
    """Every sample's first reply is a 200 that is not a transcript: each is refused as
    bad_response and retried, and the retry's real transcript is what gets scored (before the
    fix the HTML pages and the binary body were scored as words, on the first attempt)."""
    attempts = Attempts()

    def plan(port: int, n: int, body: bytes) -> Action:
        number, attempt = attempts(body)
        if attempt == 1 and number in NOT_TRANSCRIPTS:
            return NOT_TRANSCRIPTS[number][0]
        return Action()

    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(esb, srv.endpoints, tmp_path / "results")
    assert code == 0, err
    for i in range(N):
        row = rows[sample_id(i)]
        assert row["status"] == "ok" and row["pred_text"] == TEXTS[i], row
        assert row["attempts"] == 2, row
    assert "6 retries" in err, err


async def test_the_ledger_names_each_refused_reply(esb: Path, tmp_path: Path) -> None:
    """With no retries left, each refusal is a failed line of kind bad_response whose error
    says what the reply was (the line the user reads in the results file)."""

    def plan(port: int, n: int, body: bytes) -> Action:
        number = attempts(body)[0]
        return NOT_TRANSCRIPTS[number][0] if number in NOT_TRANSCRIPTS else Action()

    attempts = Attempts()
    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(
            esb, srv.endpoints, tmp_path / "results", "--max_retries", "0"
        )
    assert code == 3, err  # failed samples: exit 3 since #25 item 6 (was 0)
    assert failed_by_kind(err) == {"bad_response": N}, err
    for i, (_, words) in NOT_TRANSCRIPTS.items():
        row = rows[sample_id(i)]
        assert row["error_kind"] == "bad_response" and row["pred_text"] == "", row
        assert row["error"].startswith(words), row


# -- 5. redirects ---------------------------------------------------------------------------


async def test_a_redirect_is_a_permanent_error_naming_the_location(
    esb: Path, tmp_path: Path
) -> None:
    """A 302 to a login page: before the fix aiohttp turned the POST into a GET of the page
    and its words were scored; now each sample fails once, kind redirect, naming where."""

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=302, body=b"", headers={"Location": "/login?next=/asr"})

    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(esb, srv.endpoints, tmp_path / "results")
        login_visits = [s for s in srv.seen if s.path == "/login"]
    assert code == 3, err  # failed samples: exit 3 since #25 item 6 (was 0)
    assert login_visits == []
    assert failed_by_kind(err) == {"redirect": N}, err
    port = srv.ports[0]
    for row in rows.values():
        assert row["status"] == "failed" and row["error_kind"] == "redirect", row
        assert row["attempts"] == 1, row  # permanent: never retried
        assert row["error"] == (
            f"HTTP 302: redirected to http://127.0.0.1:{port}/login?next=/asr (not followed; "
            "check the base URL or endpoint, or pass --follow_redirects to follow 307/308 "
            "within the same origin)"
        ), row


async def test_follow_redirects_takes_307_within_the_origin(esb: Path, tmp_path: Path) -> None:
    """--follow_redirects: a 307 to another path of the same server is followed with the
    same method and body (the transcript is the clip's own); a 302 still is not."""

    def plan(port: int, n: int, body: bytes) -> Action:
        if srv.seen[-1].path == "/asr/transcribe":  # this request's path
            if number_of(body) == 0:
                return Action(status=302, body=b"", headers={"Location": "/login"})
            return Action(status=307, body=b"", headers={"Location": "/transcribe"})
        return Action()

    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(
            esb, srv.endpoints, tmp_path / "results", "--follow_redirects"
        )
        posts = [s for s in srv.seen if s.path == "/transcribe"]
    assert code == 3, err  # failed samples: exit 3 since #25 item 6 (was 0)
    assert len(posts) == N - 1 and all(number_of(s.body) for s in posts)  # clip sent again
    assert rows[sample_id(0)]["error_kind"] == "redirect"
    assert "only 307/308 keep the method and body" in rows[sample_id(0)]["error"]
    for i in range(1, N):
        assert rows[sample_id(i)]["pred_text"] == TEXTS[i]


ELEVEN_KEY = "xi-ASYNCBENCH-FAKE-wire-0123456789abcdef"


async def test_credentials_never_follow_a_redirect_to_another_origin(
    esb: Path, tmp_path: Path
) -> None:
    """ElevenLabs' key is `xi-api-key`, a header aiohttp does not drop on a cross-origin
    hop. A 307 to another origin is not followed, even with --follow_redirects, so that
    origin never sees a request (before the fix it got every clip, key included)."""
    elsewhere: list[dict[str, str]] = []

    async def other(request: web.Request) -> web.Response:
        await request.read()
        elsewhere.append(dict(request.headers))
        return web.json_response({"text": "stolen"})

    other_app = web.Application(client_max_size=64 * 2**20)
    other_app.router.add_route("*", "/{tail:.*}", other)
    async with served(other_app) as other_base:

        async def moving(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=307, headers={"Location": f"{other_base}/v1/speech-to-text"})

        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/v1/speech-to-text", moving)
        async with served(app) as base:
            args = [
                "run",
                "--model_name",
                "elevenlabs/scribe_v1",
                "--dataset",
                "ami",
                "--dataset_path",
                str(esb),
                "--base_url",
                base,
                "--results_dir",
                str(tmp_path / "results"),
                "--no_progress",
                "--max_samples",
                "2",
            ]
            env = cli_env(ELEVENLABS_API_KEY=ELEVEN_KEY)
            for extra in ([], ["--follow_redirects"]):
                code, out, err = await finish(await start([*args, *extra], env), 180)
                assert code == 3, err  # failed samples: exit 3 since #25 item 6 (was 0)
                assert failed_by_kind(err) == {"redirect": 2}, err
    assert elsewhere == []
    assert ELEVEN_KEY not in out + err


async def test_follow_redirects_is_bounded(esb: Path, tmp_path: Path) -> None:
    """A 307 loop within the origin ends after a few hops as one failed sample each."""

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=307, body=b"", headers={"Location": "/asr/transcribe"})

    async with server(1, plan=plan) as srv:
        code, _, err, rows = await run_aldea(
            esb, srv.endpoints, tmp_path / "results", "--follow_redirects", "--max_samples", "1"
        )
    assert code == 3, err  # failed samples: exit 3 since #25 item 6 (was 0)
    (row,) = rows.values()
    assert row["error_kind"] == "redirect" and "more than 5 redirects" in row["error"], row
