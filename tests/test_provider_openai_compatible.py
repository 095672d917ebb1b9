"""`openai-compatible/<model>`: the OpenAI client at a server the user names (vLLM, local
Whisper servers): `--base_url` required, the key optional, replies in JSON or plain text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from asyncbench.core.errors import ConfigError
from asyncbench.providers.openai import OpenAICompatibleProvider

from .loopback import served
from .provider_runs import (
    assert_split_end_to_end,
    client,
    split_fixture,
    sync_env,
    transcribe_one,
    wav_clip,
)
from .support import read_results, run_cli_async

ENV = "OPENAI_COMPATIBLE_API_KEY"
NEEDS_URL = (
    "error: openai-compatible/ needs --base_url (or OPENAI_COMPATIBLE_BASE_URL), "
    "e.g. http://127.0.0.1:8000/v1"
)


split = split_fixture("compatible")


async def test_split_end_to_end(split: Path, tmp_path: Path) -> None:
    state = await assert_split_end_to_end(
        "openai-compatible/Systran/faster-whisper-small",
        split,
        tmp_path,
        ENV,
        "vllm-key-1234",
        "openai",  # the mock's OpenAI endpoint stands for the user's server
    )
    assert state.last_request["openai form"]["model"] == "Systran/faster-whisper-small"
    assert state.last_request["openai"]["Authorization"] == "Bearer vllm-key-1234"


async def test_missing_base_url_is_one_line_before_any_work(split: Path, tmp_path: Path) -> None:
    code, out, err = await run_cli_async(
        "run", "--model_name", "openai-compatible/whisper", "--dataset", "librispeech",
        "--split", "test.clean", "--dataset_path", split, "--results_dir", tmp_path,
        env=sync_env(),
    )  # fmt: skip
    assert code == 2 and err.strip().splitlines() == [NEEDS_URL], err
    assert out == "" and not any(read_results(p) for p in tmp_path.glob("*.jsonl"))


def test_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_COMPATIBLE_BASE_URL", raising=False)
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ConfigError) as info:
        client("openai-compatible/m", None, key=None)
    assert f"error: {info.value}" == NEEDS_URL
    monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", "http://10.0.0.5:8000/v1")
    provider = client("openai-compatible/m", None, key=None)
    assert provider.endpoint_urls() == ["http://10.0.0.5:8000/v1/audio/transcriptions"]
    assert provider.secrets() == []
    assert isinstance(provider, OpenAICompatibleProvider) and provider.default_concurrency == 20


@asynccontextmanager
async def local_server(reply: web.Response) -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A bare `/v1/audio/transcriptions` like a local Whisper server: no key, one reply."""
    seen: list[dict[str, str]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        await request.read()
        return reply

    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", handle)
    async with served(app) as base:
        yield f"{base}/v1", seen


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda: web.json_response({"text": " local words "}), id="json"),
        pytest.param(lambda: web.Response(text="local words\n"), id="text-plain"),
    ],
)
async def test_keyless_server_with_json_or_text_replies(monkeypatch: pytest.MonkeyPatch, reply):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENV, raising=False)
    async with local_server(reply()) as (base, seen):
        text = await transcribe_one(
            client("openai-compatible/m", base, key=None), wav_clip("x", 0.5)
        )
    assert text.strip() == "local words"
    assert "Authorization" not in seen[0]
    assert seen[0]["Content-Type"].startswith("multipart/form-data; boundary=")
