import re

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError, PermanentError, TransientError
from asyncbench.providers import resolve
from asyncbench.providers.aldea import DEFAULT_URL, AldeaProvider, parse_reply
from asyncbench.providers.base import AudioPayload, ProviderSettings

from .loopback import Action, LoopbackAldea


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"text": "hello there"}', "hello there"),
        (b'{"transcript": "from transcript"}', "from transcript"),
        (b'{"data": {"text": "nested"}}', "nested"),
        (
            b'{"seq": 1}\n{"text": ""}\n{"text": "first lines"}\n{"text": "second"}\n',
            "first lines second",
        ),
        (b'"a json string"', "a json string"),
        (b"plain words back\n", "plain words back"),
        (b'{"text": ""}', ""),
    ],
)
def test_reply_shapes(body: bytes, text: str) -> None:
    assert parse_reply(body) == text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty reply body"),
        (b"   \n", "empty reply body"),
        (b'{"text": "torn', "malformed JSON reply"),
        (b'{"status": "done"}', "no transcript in reply"),
    ],
)
def test_broken_replies_are_retryable(body: bytes, message: str) -> None:
    with pytest.raises(TransientError, match=message) as info:
        parse_reply(body)
    assert info.value.kind == "bad_response"


def _provider(**kw: str | None) -> AldeaProvider:
    return AldeaProvider(ProviderSettings(model="default", **kw))  # type: ignore[arg-type]


def test_endpoint_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ALDEA_ENDPOINTS", "ALDEA_API_URL", "ALDEA_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    # the public default speaks /v1/listen and needs a key (tests/test_aldea_listen.py)
    assert _provider(api_key="k").endpoint_urls() == ["https://api.aldea.ai/v1/listen"]
    assert _provider(api_key="k", options={"aldea_api": "transcribe"}).endpoint_urls() == [  # type: ignore[arg-type]
        DEFAULT_URL
    ]
    monkeypatch.setenv("ALDEA_API_URL", "http://single:9000")
    assert _provider().endpoint_urls() == ["http://single:9000/asr/transcribe"]
    monkeypatch.setenv("ALDEA_ENDPOINTS", "127.0.0.1:8800 127.0.0.1:8801")
    assert _provider().endpoint_urls() == [
        "http://127.0.0.1:8800/asr/transcribe",
        "http://127.0.0.1:8801/asr/transcribe",
    ]
    assert _provider(base_url="http://flag:1").endpoint_urls() == ["http://flag:1/asr/transcribe"]
    assert _provider(endpoints="10.0.0.1:1,10.0.0.2:2").endpoint_urls() == [
        "http://10.0.0.1:1/asr/transcribe",
        "http://10.0.0.2:2/asr/transcribe",
    ]


def test_bad_env_list_names_the_variable_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALDEA_ENDPOINTS", "127.0.0.1:8800 127.0.0.1:port")
    with pytest.raises(ConfigError, match=re.escape("bad endpoint '127.0.0.1:port'")):
        _provider().endpoint_urls()


def test_registry_resolves_prefix_and_rejects_unknown() -> None:
    cls, model = resolve("aldea/default")
    assert cls is AldeaProvider and model == "default"
    with pytest.raises(
        ConfigError,
        match=r"unknown provider prefix 'nope' in --model_name 'nope/x'; known providers: .*aldea",
    ):
        resolve("nope/x")
    with pytest.raises(ConfigError, match="must be PROVIDER/MODEL"):
        resolve("aldea")


async def test_wire_format_with_and_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALDEA_API_KEY", raising=False)
    audio = AudioPayload(b"RIFF....WAVEdata", "audio/wav", "audio.wav", 1.0)
    async with LoopbackAldea(1) as srv, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{srv.ports[0]}/asr/transcribe"
        assert await _provider(endpoints=url).transcribe(session, url, audio) == "hello world"
        monkeypatch.setenv("ALDEA_API_KEY", "sekrit-key")
        assert await _provider(endpoints=url).transcribe(session, url, audio) == "hello world"
    first, second = srv.seen
    assert first.headers["Content-Type"] == "wave" and "Authorization" not in first.headers
    assert second.headers["Authorization"] == "Bearer sekrit-key"
    assert first.body == audio.data


@pytest.mark.parametrize(
    ("action", "kind", "cls"),
    [
        (Action(status=401, body=b'{"error":"bad key"}'), "auth", PermanentError),
        (Action(status=400, body=b"bad wav"), "bad_request", PermanentError),
        (Action(status=429, headers={"Retry-After": "3"}), "rate_limited", TransientError),
        (Action(status=503), "server_error", TransientError),
    ],
)
async def test_status_meaning(action: Action, kind: str, cls: type) -> None:
    audio = AudioPayload(b"x", "audio/wav", "audio.wav", 1.0)
    async with (
        LoopbackAldea(1, plan=lambda p, n, b: action) as srv,
        aiohttp.ClientSession() as session,
    ):
        url = f"http://127.0.0.1:{srv.ports[0]}/transcribe"
        with pytest.raises(cls) as info:
            await _provider(endpoints=url).transcribe(session, url, audio)
    assert info.value.kind == kind and info.value.status == action.status
    if kind == "rate_limited":
        assert info.value.retry_after == 3.0
