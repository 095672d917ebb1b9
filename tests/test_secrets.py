"""Secrets never leak: failing jobs with recognisable fake keys, servers that echo the request's
headers and query back in their error bodies, and a grep of everything the run printed or
wrote (stdout, stderr with progress lines, every file under the results folder) for the keys.

Each echo is also looked for in masked form, so the test proves the keys were echoed and
masked, not merely never echoed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from asyncbench.core.redact import Redactor, env_secrets, redact_url, url_secrets

from .faultkit import finish, numbered_dataset, run_args, server, start
from .loopback import Action, free_port, serve
from .support import cli_env, run_cli

ALDEA_KEY = "sk-ASYNCBENCH-FAKE-aldea-7f3a9c21d4e5b6"
QUERY_KEY = "qp-ASYNCBENCH-FAKE-query-0a1b2c3d4e5f"
DEEPGRAM_KEY = "dg-ASYNCBENCH-FAKE-deepgram-9e8d7c6b5a"
ELEVENLABS_KEY = "xi-ASYNCBENCH-FAKE-eleven-1234abcd5678"
OPENAI_KEY = "sk-ASYNCBENCH-FAKE-openai-cafef00d1234"
KEYS = (ALDEA_KEY, QUERY_KEY, DEEPGRAM_KEY, ELEVENLABS_KEY, OPENAI_KEY)


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return numbered_dataset(tmp_path_factory.mktemp("secrets") / "esb", 6)


class EchoServer:
    """Any path, any method: answers `status` with the request line and headers in the body,
    as some gateways and debug builds do."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.port = free_port()
        self.seen: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        echoed = {"request": f"{request.method} {request.path_qs}", **request.headers}
        self.seen.append(echoed)
        body = {"error": {"message": f"internal error; your request was {echoed}"}}
        return web.json_response(body, status=self.status)

    async def __aenter__(self) -> EchoServer:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = await serve(app, [self.port])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def leaks(out: str, err: str, results: Path) -> list[str]:
    """Where any of the keys appears: in the output, or in a file under `results`."""
    found = [
        f"{name}: {k}"
        for name, text in (("stdout", out), ("stderr", err))
        for k in KEYS
        if k in text
    ]
    for path in results.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {k}" for k in KEYS if k.encode() in data]
    return found


def errors_in(results: Path) -> str:
    return " ".join(
        str(orjson.loads(line).get("error"))
        for p in results.glob("*.jsonl")
        for line in p.read_bytes().splitlines()
    )


async def test_keys_echoed_by_failing_servers_never_reach_any_output(
    esb: Path, tmp_path: Path
) -> None:
    def echo_all(port: int, n: int, body: bytes) -> Action:
        return Action(status=500 if n % 2 else 400, echo=True)

    progress = {"ASYNCBENCH_PROGRESS_S": "0.2"}
    async with (
        server(2, plan=echo_all) as aldea,
        server(1, plan=lambda p, n, b: Action(status=401, echo=True)) as rejecting,
        EchoServer(500) as deepgram,
        EchoServer(500) as elevenlabs,
        EchoServer(502) as openai,
    ):
        a, b = aldea.ports
        keyed = f"127.0.0.1:{a} http://127.0.0.1:{b}/asr/transcribe?api_key={QUERY_KEY}"

        def run(model: str, endpoints: str | None, out: str, *extra: str) -> list[str]:
            args = run_args(esb, endpoints or "-", tmp_path / out, "--max_retries", 0, *extra)
            args.remove("--no_progress")  # progress lines are output too
            args[args.index("--model_name") + 1] = model
            if endpoints is None:  # not an Aldea run: its --base_url says where to go
                del args[args.index("--aldea_endpoints") : args.index("--aldea_endpoints") + 2]
            return args

        jobs = [
            (run("aldea/default", keyed, "aldea"), cli_env(ALDEA_API_KEY=ALDEA_KEY, **progress)),
            (
                run("aldea/default", rejecting.endpoints, "rejected"),
                cli_env(ALDEA_API_KEY=ALDEA_KEY),
            ),
            (
                run("deepgram/nova-3", None, "deepgram", "--base_url", deepgram.url),
                cli_env(DEEPGRAM_API_KEY=DEEPGRAM_KEY, **progress),
            ),
            (
                run("elevenlabs/scribe_v1", None, "elevenlabs", "--base_url", elevenlabs.url),
                cli_env(ELEVENLABS_API_KEY=ELEVENLABS_KEY),
            ),
            (
                run(
                    "openai/whisper-1",
                    None,
                    "openai",
                    "--base_url",
                    openai.url,
                    "--api_key",
                    OPENAI_KEY,
                ),
                cli_env(),
            ),
        ]
        procs = [await start(args, env=env) for args, env in jobs]
        runs = await asyncio.gather(*(finish(p) for p in procs))

    # the keys were really sent, and really echoed
    assert any(s.headers.get("Authorization") == f"Bearer {ALDEA_KEY}" for s in aldea.seen)
    assert any(QUERY_KEY in s.path_qs for s in aldea.seen)
    assert deepgram.seen[0]["Authorization"] == f"Token {DEEPGRAM_KEY}"
    assert elevenlabs.seen[0]["xi-api-key"] == ELEVENLABS_KEY
    assert openai.seen[0]["Authorization"] == f"Bearer {OPENAI_KEY}"

    # ... and appear nowhere: not in output, progress, results, summaries or manifests
    for (_, out, err), (args, _) in zip(runs, jobs, strict=True):
        assert leaks(out, err, tmp_path) == [], args
        assert "Traceback" not in err

    # failing samples were recorded with their echoes masked
    for name in ("aldea", "deepgram", "elevenlabs", "openai"):
        code, _, err = runs[["aldea", "rejected", "deepgram", "elevenlabs", "openai"].index(name)]
        assert code == 3, err  # every sample failed: exit 3 since #25 item 6
        assert "6 failed" in err
    assert "Bearer ***" in errors_in(tmp_path / "aldea") and "api_key=***" in errors_in(
        tmp_path / "aldea"
    )
    assert "Token ***" in errors_in(tmp_path / "deepgram")
    assert "'xi-api-key': '***'" in errors_in(tmp_path / "elevenlabs")
    assert "Bearer ***" in errors_in(tmp_path / "openai")
    # the endpoint that carries a key in its URL is shown masked in lines and in the table
    masked = f"http://127.0.0.1:{b}/asr/transcribe?api_key=***"
    assert masked in runs[0][2]
    assert masked in next((tmp_path / "aldea").glob("*.jsonl")).read_text()

    # a rejected key stops the run: one error line, the echo masked
    code, _, err = runs[1]
    assert code == 2
    error = err.strip().splitlines()[-1]
    assert error.startswith("error: HTTP 401: key rejected; check ALDEA_API_KEY: ")
    assert "Bearer ***" in error


async def test_a_key_in_a_bad_endpoint_spec_is_masked_in_the_error(
    esb: Path, tmp_path: Path
) -> None:
    spec = f"http://127.0.0.1:88x0/asr/transcribe?api_key={QUERY_KEY}"
    code, out, err = await finish(await start(run_args(esb, spec, tmp_path)))
    assert code == 2
    assert err.strip() == (
        "error: bad endpoint 'http://127.0.0.1:88x0/asr/transcribe?api_key=***': the port is not "
        "a number 1-65535; expected host:port or a URL such as http://127.0.0.1:8800/asr/transcribe"
    )
    assert leaks(out, err, tmp_path) == []


# -- the redactor's rules, one by one ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('{"Authorization": "Bearer abc123xyz789"}', '{"Authorization": "Bearer ***"}'),
        ("authorization: Token abc123xyz789", "authorization: Token ***"),
        ("Authorization: abc123xyz789", "Authorization: ***"),
        ("{'xi-api-key': 'abc123xyz789'}", "{'xi-api-key': '***'}"),
        ("x-api-key=abc123xyz789&x=1", "x-api-key=***&x=1"),
        (
            "GET /v1?api_key=abc123&key=def456&token=ghi789 HTTP/1.1",
            "GET /v1?api_key=***&key=***&token=*** HTTP/1.1",
        ),
        (
            "https://h/a.mp3?Expires=1&Signature=zzz&Key-Pair-Id=k",
            "https://h/a.mp3?Expires=1&Signature=***&Key-Pair-Id=k",
        ),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.payload", "Bearer ***"),
    ],
)
def test_auth_headers_and_key_shaped_query_values_are_masked_by_shape(
    text: str, masked: str
) -> None:
    redact = Redactor([])
    assert redact(text) == masked
    assert redact(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "x-ratelimit-remaining-tokens: 5",
        "the token bucket allows 5 requests per second",
        "keyboard: 3, monkey=4, the key point",
        "error: unknown config 'gigaspeech'; available configs: ami, librispeech",
        "HTTP 400: audio_too_short (type invalid_request_error)",
        "Require 'Authorization: Bearer <key>' on transcription requests.",  # serve --help
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor(["sk-some-real-key-123"])(text) == text


def test_known_secrets_are_masked_anywhere_also_url_encoded_but_short_values_are_not() -> None:
    redact = Redactor(["sk/live+0123456789", "abc"])
    assert redact("echo sk/live+0123456789, sk%2Flive%2B0123456789") == "echo ***, ***"
    assert redact("abc is not masked") == "abc is not masked"


def test_where_secrets_come_from() -> None:
    env = {
        "OPENAI_API_KEY": "sk-1",
        "HF_TOKEN": "hf_x",
        "AWS_SECRET_ACCESS_KEY": "s",
        "HOME": "/root",
        "PATH": "/bin",
    }
    assert sorted(env_secrets(env)) == ["hf_x", "s", "sk-1"]
    assert url_secrets(["http://h:1/asr?api_key=a1&model=m&token=t2"]) == ["a1", "t2"]
    assert redact_url("http://h:1/asr?api_key=a1&model=m") == "http://h:1/asr?api_key=***&model=m"


def test_a_message_cut_short_does_not_end_in_the_start_of_a_key() -> None:
    redact = Redactor(["sk-ASYNCBENCH-FAKE-123456"])
    assert redact("HTTP 500: your key sk-ASYNCBEN...") == "HTTP 500: your key ***..."
    assert redact("HTTP 500: your key sk-ASYNCBEN") == "HTTP 500: your key ***"
    assert redact("ends with sk-A...") == "ends with sk-A..."  # too short to tell anything


@pytest.mark.parametrize("command", ["serve", "mock"])
def test_help_texts_are_not_masked(command: str) -> None:
    """The redacting layer covers --help too; placeholders in it must read as written."""
    done = run_cli(command, "--help", env=cli_env(COLUMNS="200"), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "***" not in done.stdout, done.stdout
