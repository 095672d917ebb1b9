"""Zoom Scribe fast mode: `run_eval.py` end to end against the mock (with the raw key and with
a signed JWT), each error kind through the real engine, URL mode, and the leaderboard's
config (en-US, segmentation off up to 29.9 s, gpu_pipeline_vnext, timestamps, and the model
of `scribe_v2_pro`)."""

from __future__ import annotations

import base64
import time

import aiohttp
import orjson
import pytest

from asyncbench.core.errors import ConfigError, PermanentError
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.zoom import ZoomProvider, make_jwt
from asyncbench.servers.mock.state import MockConfig
from asyncbench.servers.mock.zoom import token_key

from .eval_runs import assert_leaderboard_run, assert_one_error_line, eval_runs, lb_env
from .provider_runs import (
    N_SAMPLES,
    CliRuns,
    assert_key_rejected,
    assert_missing_key,
    client_of,
    key_runs,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

KEY = "zoom-test-key-99"
SECRET = "zoom-test-secret-00"
ENV = "ZOOM_API_KEY"
MODEL = "zoom/scribe_v1"
V2 = "zoom/scribe_v2_pro"


@pytest.fixture(autouse=True)
def no_zoom_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ZOOM_BASE_URL", "ZOOM_API_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    good = lb_env(**{ENV: KEY})
    return eval_runs(
        MockConfig(keys={"zoom": KEY, "zoom_secret": SECRET}),
        tmp_path_factory.mktemp("zoom"),
        {
            "raw_key": (MODEL, good, ()),
            "jwt": (V2, {**good, "ZOOM_API_SECRET": SECRET}, ()),
            "bad_secret": (MODEL, {**good, "ZOOM_API_SECRET": "not-the-secret"}, ()),
            "bad_url": (MODEL, good, ("--base_url", "zoom.us:http")),
            **key_runs(MODEL, ENV, "not-the-key"),
        },
    )


def provider(url: str | None, key: str = KEY) -> ZoomProvider:
    return client_of(ZoomProvider, MODEL, url, key)


# -- end to end ------------------------------------------------------------------------------


def test_split_end_to_end_through_run_eval(cli: CliRuns) -> None:
    for name, model in (("raw_key", MODEL), ("jwt", V2)):
        run = cli.runs[name]
        rows = assert_leaderboard_run(run, model, run.results.parent / "esb")
        assert all(r["attempts"] == 1 for r in rows)
    assert cli.mock.counters["zoom.requests"] >= 2 * N_SAMPLES
    # scribe_v1 sends no model, scribe_v2_pro the board's (PR #210)
    assert cli.mock.counters["zoom.model.-"] >= N_SAMPLES
    assert cli.mock.counters["zoom.model.zoom-scribe-en-pro"] == N_SAMPLES
    # the clips are 1-2 s long: no voice-activity segmentation, as the leaderboard sends it
    config = dict(cli.mock.last_request["zoom config"])
    config.pop("model", None)
    assert config == {
        "language": "en-US",
        "segmentation_mode": "none",
        "experimental_feature": {"gpu_pipeline_vnext": True},
        "timestamps": True,
    }


def test_rejected_key_or_secret_is_one_error_line(cli: CliRuns) -> None:
    assert_key_rejected(cli.runs["bad_key"], ENV)
    assert "Invalid access token." in assert_key_rejected(cli.runs["bad_secret"], ENV)


def test_missing_key_is_one_line(cli: CliRuns) -> None:
    assert_missing_key(cli.runs["no_key"], ENV)  # through run_eval.py


def test_bad_base_url_is_one_line(cli: CliRuns) -> None:
    assert_one_error_line(cli.runs["bad_url"], "--base_url", "'zoom.us:http'", "port")


def test_unknown_variant_is_refused_before_any_request() -> None:
    with pytest.raises(ConfigError) as info:
        client_of(ZoomProvider, "zoom/scribe_v3", None, KEY)
    assert str(info.value) == (
        "unknown Zoom model 'scribe_v3' in zoom/scribe_v3; use zoom/scribe_v1 or zoom/scribe_v2_pro"
    )


def test_config_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    zoom = provider(None)
    assert zoom.endpoint_urls() == ["https://api.zoom.us/v2/aiservices/scribe/transcribe"]
    long = AudioPayload(None, "audio/wav", "a.wav", 30.0, url="http://x/a.wav")
    short = AudioPayload(None, "audio/wav", "a.wav", 29.9, url="http://x/a.wav")
    assert zoom.config(long)["segmentation_mode"] == "auto"
    assert zoom.config(short)["segmentation_mode"] == "none"
    assert zoom.bearer() == KEY  # no secret: the key itself, as the leaderboard sends it
    monkeypatch.setenv("ZOOM_API_SECRET", SECRET)
    signed = provider(None)
    token = signed.bearer()
    assert token_key(token, SECRET) == KEY and token_key(token, "other") is None
    claims = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["iss"] == KEY and 0 < claims["exp"] - claims["iat"] <= 3600
    assert SECRET in signed.secrets() and signed.bearer() == token  # reused until renewal
    expired = make_jwt(KEY, SECRET, time.time() - 7200)
    assert token_key(expired, SECRET) is None
    assert ZoomProvider.default_concurrency == 32 and ZoomProvider.fetches_urls


# -- each error kind, through the engine ----------------------------------------------------


async def test_over_100_mb_is_refused_before_any_request() -> None:
    big = AudioPayload(b"\x00" * (100 * 10**6 + 1), "audio/wav", "a.wav", 60.0)
    async with MockServer() as mock:
        with pytest.raises(PermanentError, match="over Zoom's 100 MB limit"):
            await transcribe_one(provider(mock.url), big)
    assert mock.state.counters["zoom.requests"] == 0


# -- URL mode and the mock's strictness -------------------------------------------------------


async def test_mock_refuses_what_zoom_refuses() -> None:
    clip = wav_clip("x", 0.5)
    data_uri = "data:audio/wav;base64," + base64.b64encode(clip.data or b"").decode()
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        url = f"{mock.url}/v2/aiservices/scribe/transcribe"
        auth = {"Authorization": f"Bearer {KEY}"}
        bad_mode = {"file": data_uri, "config": {"segmentation_mode": "vad"}}
        async with session.post(url, json=bad_mode, headers=auth) as resp:
            mode = (resp.status, await resp.json())
        unknown = {"file": data_uri, "config": {"diarize": True}}
        async with session.post(url, json=unknown, headers=auth) as resp:
            field = resp.status
        async with session.post(url, data=b"{}", headers=auth) as resp:
            not_json = resp.status
        not_audio = {"file": "data:text/plain;base64,aGk=", "config": {}}
        async with session.post(url, json=not_audio, headers=auth) as resp:
            text_uri = resp.status
    assert mode == (400, {"code": 300, "message": "config.segmentation_mode must be auto or none"})
    assert (field, not_json, text_uri) == (400, 400, 400)
