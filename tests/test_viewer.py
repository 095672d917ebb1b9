"""The dataset viewer source and URL-mode prepare, against the mock viewer on 127.0.0.1.

The mock serves real hub-layout folders through `/splits`, `/size`, `/rows` and signed,
expiring asset URLs; faults are injected with an aiohttp middleware on that real server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from asyncbench.core.errors import ConfigError
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.providers.openai import OpenAIProvider
from asyncbench.runs.runner import make_url_prepare
from asyncbench.scoring import normalize
from asyncbench.servers.mock import MockConfig
from asyncbench.sources import watermark
from asyncbench.sources.audio import parse_wav
from asyncbench.sources.dataset import Sample, SourceStats
from asyncbench.sources.viewer import ViewerClient, ViewerSource, pick_audio

from .loopback import closed_port, served
from .support import MockHandle, MockServer, make_dataset, sentence

DATASET = "test-org/esb-mini"
MP3_DATASET = "test-org/mp3-mini"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test.clean has 7 rows (two with unscorable references), test.other 3: the config's
    total (10) is not the split's count. The MP3 set's first clip is too short to send."""
    root = tmp_path_factory.mktemp("viewer")
    clean = [sentence(i) for i in range(7)]
    clean[2], clean[5] = "ignore time segment in scoring", ""
    make_dataset(
        root / DATASET,
        {("librispeech", "test.clean"): clean, ("librispeech", "test.other"): 3},
        fmt="wav",
        seconds=0.5,
    )
    make_dataset(root / MP3_DATASET, {("mp3", "test"): 3}, fmt="mp3", seconds=0.1)
    return root


def viewer_mock(hub: Path, **config: Any) -> MockServer:
    """The mock serving only the dataset viewer, over the `hub` folders."""
    return MockServer(MockConfig(viewer_root=hub, **config), protocols=("viewer",))


@contextlib.asynccontextmanager
async def viewer_source(
    mock: MockHandle,
    split: str = "test.clean",
    *,
    dataset: str = DATASET,
    config: str = "librispeech",
    token: str | None = None,
    **kw: Any,
) -> AsyncIterator[ViewerSource]:
    """A source on its own session (not opened: `open()` is what some tests check)."""
    async with aiohttp.ClientSession() as session:
        client = ViewerClient(session, mock.url, token, backoff_base=0.01)
        yield ViewerSource(client, dataset, config, split, normalize=normalize, **kw)


async def samples_of(src: ViewerSource) -> list[Sample]:
    await src.open()
    return [s async for batch in src.batches() for s in batch]


async def first_sample(src: ViewerSource) -> Sample:
    await src.open()
    return (await anext(src.batches()))[0]


def from_wav(data: bytes) -> str | None:
    info = parse_wav(data)
    return watermark.extract(data[info.data_offset :]) if info else None


def test_pick_audio_prefers_wav_by_type_not_position() -> None:
    mp3 = {"src": "https://x/audio.mp3?sig=1", "type": "audio/mpeg"}
    wav = {"src": "https://x/audio.wav?sig=1", "type": "audio/wav"}
    assert pick_audio([mp3, wav]).src == wav["src"]  # type: ignore[union-attr]
    assert pick_audio([mp3]).mime == "audio/mpeg"  # type: ignore[union-attr]
    assert pick_audio(wav).src == wav["src"]  # type: ignore[union-attr]
    assert pick_audio([]) is None
    assert pick_audio(None) is None
    assert pick_audio([{"type": "audio/wav"}]) is None


async def test_split_rows_are_the_splits_own_and_pages_stop_at_its_end(hub: Path) -> None:
    stats = SourceStats()
    async with (
        viewer_mock(hub) as mock,
        viewer_source(mock, stats=stats, page_rows=3) as src,
    ):
        samples = await samples_of(src)
    assert src.num_rows == 7  # not the config's 10
    # offsets 0, 3, 6 and not one request past the split's end
    assert mock.state.counters["viewer.rows"] == 3
    assert mock.state.counters["viewer.rows_past_end"] == 0
    assert len(samples) == 5
    assert (stats.rows, stats.dropped_empty_reference, stats.yielded) == (7, 2, 5)
    assert [s.index for s in samples] == sorted(s.index for s in samples)
    assert len({s.id for s in samples}) == 5
    assert all(s.id.startswith("librispeech-test.clean-") for s in samples)
    assert all(s.mime == "audio/wav" and s.url and "sig=" in s.url for s in samples)
    assert all(s.duration and s.duration >= 0.5 for s in samples)


async def test_max_samples_and_finished_ids_count_like_local_mode(hub: Path) -> None:
    async with (
        viewer_mock(hub) as mock,
        viewer_source(mock, page_rows=3, max_samples=2) as src,
    ):
        first_two = await samples_of(src)
        stats = SourceStats()
        done = {first_two[0].id}
        async with viewer_source(
            mock, page_rows=3, max_samples=2, skip_ids=done, stats=stats
        ) as src:
            rest = await samples_of(src)
    assert len(first_two) == 2
    assert [s.id for s in rest] == [first_two[1].id]  # the finished one still counts
    assert stats.skipped_done == 1
    # max_samples reached inside the first page: no second page fetched by either run
    assert mock.state.counters["viewer.rows"] == 2


def failing(path: str, answers: list[web.Response]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware answering the next requests to `path` with `answers`, then normally."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == path and answers:
            return answers.pop(0)
        return await handler(request)

    return middleware


async def test_size_unavailable_falls_back_to_num_rows_total(hub: Path) -> None:
    server = viewer_mock(hub)
    not_ready = [web.json_response({"error": "not ready"}, status=500) for _ in range(3)]
    server.app.middlewares.append(failing("/size", not_ready))
    async with server as mock, viewer_source(mock, page_rows=3) as src:
        samples = await samples_of(src)
    assert src.num_rows is None
    assert len(samples) == 5
    assert mock.state.counters["viewer.rows"] == 3
    assert mock.state.counters["viewer.rows_past_end"] == 0


async def test_rows_retried_on_5xx_and_429(hub: Path) -> None:
    server = viewer_mock(hub)
    answers = [
        web.json_response({"error": "The server is busier than usual"}, status=503),
        web.json_response({"error": "rate limited"}, status=429, headers={"Retry-After": "0"}),
    ]
    server.app.middlewares.append(failing("/rows", answers))
    async with server as mock, viewer_source(mock, "test.other") as src:
        samples = await samples_of(src)
    assert len(samples) == 3 and not answers


async def test_unknown_config_and_split_list_what_exists(hub: Path) -> None:
    async with (
        viewer_mock(hub) as mock,
        viewer_source(mock, "test.dirty") as src,
    ):
        with pytest.raises(ConfigError) as split_err:
            await src.open()
        async with viewer_source(mock, "test", config="tedlium") as src:
            with pytest.raises(ConfigError) as config_err:
                await src.open()
    assert str(split_err.value) == (
        f"unknown split 'test.dirty' for {DATASET} config 'librispeech' on the dataset viewer; "
        "available splits: test.clean, test.other"
    )
    assert "unknown config 'tedlium'" in str(config_err.value)
    assert "available configs: librispeech" in str(config_err.value)


async def test_a_card_that_does_not_parse_serves_no_configs(hub: Path) -> None:
    """The mock reads a card as the local loader does (`read_card`): YAML that does not
    parse is a dataset without splits, said in one line, not a mock that answers 500."""
    broken = hub / "test-org" / "broken-card"
    broken.mkdir(parents=True)
    (broken / "README.md").write_text("---\nconfigs: [unclosed\n---\n# card\n")
    async with (
        viewer_mock(hub) as mock,
        viewer_source(mock, dataset="test-org/broken-card") as src,
    ):
        with pytest.raises(ConfigError) as err:
            await src.open()
    assert str(err.value) == (
        "the dataset viewer lists no splits for 'test-org/broken-card' (not available); "
        "retry later, or drop --use_url to read it with datasets"
    )


async def test_gated_dataset_needs_the_token_and_only_the_viewer_sees_it(
    hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    async with (
        viewer_mock(hub, keys={"viewer": "hf_gatedtoken"}) as mock,
        viewer_source(mock) as src,
    ):
        with pytest.raises(ConfigError) as err:
            await src.open()
        async with viewer_source(mock, token="hf_gatedtoken") as src:
            assert await src.fetch_audio(await first_sample(src))
    message = str(err.value)
    assert "(HTTP 401)" in message and "not accessible without authentication" in message
    assert "export HF_TOKEN" in message
    assert mock.state.last_request["viewer"]["Authorization"] == "Bearer hf_gatedtoken"
    assert "Authorization" not in mock.state.last_request["viewer.assets"]


async def test_missing_dataset_and_unreachable_viewer(hub: Path) -> None:
    async with (
        viewer_mock(hub) as mock,
        viewer_source(mock, dataset="test-org/nothing-here") as src,
    ):
        with pytest.raises(ConfigError) as missing:
            await src.open()
    assert "cannot serve 'test-org/nothing-here' (HTTP 404)" in str(missing.value)
    port = closed_port()
    async with aiohttp.ClientSession() as session:
        client = ViewerClient(session, f"http://127.0.0.1:{port}", None, backoff_base=0.01)
        src = ViewerSource(client, DATASET, "librispeech", "test.clean", normalize=normalize)
        with pytest.raises(ConfigError) as down:
            await src.open()
    assert f"dataset viewer at http://127.0.0.1:{port} failed 3 times on /splits" in str(down.value)
    assert "HF_DATASETS_SERVER_URL" in str(down.value)


async def test_download_sends_bytes_as_they_are_named_by_real_type(hub: Path) -> None:
    async with (
        viewer_mock(hub) as mock,
        viewer_source(mock, "test", dataset=MP3_DATASET, config="mp3") as src,
    ):
        samples = await samples_of(src)
        prepare = make_url_prepare(src, fetches_urls=False)
        jobs = await asyncio.gather(*(prepare(s) for s in samples))
    short = [j for j in jobs if j.skip]
    sent = [j for j in jobs if not j.skip]
    assert len(short) == 1 and short[0].duration < 0.16  # decided by audio_length_s
    assert len(sent) == 2
    for job in sent:
        assert job.payload is not None and job.payload.data is not None
        assert (job.payload.mime, job.payload.filename) == ("audio/mpeg", "audio.mp3")
        assert job.payload.data[:3] == b"ID3" or job.payload.data[0] == 0xFF
        assert job.payload.url is None
    assert mock.state.counters["viewer.assets"] == 2  # the short clip was never downloaded
    # what a multipart provider puts on the wire for it
    received = await upload_through_openai(sent[0].payload)
    assert received == ("audio.mp3", "audio/mpeg", sent[0].payload.data)


async def upload_through_openai(payload: AudioPayload) -> tuple[str | None, str | None, bytes]:
    """POST `payload` with the OpenAI client to a loopback `/v1/audio/transcriptions` and
    return the file part's (filename, content type, bytes) as the server read them."""
    got: list[tuple[str | None, str | None, bytes]] = []

    async def transcriptions(request: web.Request) -> web.Response:
        form = await request.post()
        part = form["file"]
        assert isinstance(part, web.FileField)
        got.append((part.filename, part.content_type, part.file.read()))
        return web.json_response({"text": "ok"})

    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", transcriptions)
    async with served(app) as base, aiohttp.ClientSession() as session:
        settings = ProviderSettings(model="whisper-1", api_key="sk-test", base_url=f"{base}/v1")
        provider = OpenAIProvider(settings)
        assert await provider.transcribe(session, provider.endpoint_urls()[0], payload) == "ok"
    return got[0]


async def test_url_fetching_provider_gets_the_url_and_no_bytes(hub: Path) -> None:
    async with (
        viewer_mock(hub) as mock,
        viewer_source(mock, "test.other") as src,
    ):
        samples = await samples_of(src)
        prepare = make_url_prepare(src, fetches_urls=True)
        jobs = [await prepare(s) for s in samples]
        assert mock.state.counters["viewer.assets"] == 0
        for job in jobs:
            assert job.payload is not None and job.payload.data is None
            assert job.payload.url == job.sample.url
            assert (job.payload.mime, job.payload.filename) == ("audio/wav", "audio.wav")
            # what the provider will fetch is the clip itself
            async with src.client.session.get(job.payload.url) as resp:
                assert from_wav(await resp.read()) == job.sample.reference


async def test_legacy_mp3_first_cells_give_the_wav(hub: Path) -> None:
    async with (
        viewer_mock(hub, viewer_legacy_audio=True) as mock,
        viewer_source(mock, "test.other") as src,
    ):
        samples = await samples_of(src)
        prepare = make_url_prepare(src, fetches_urls=False)
        jobs = [await prepare(s) for s in samples]
    assert all(s.mime == "audio/wav" and "/audio.wav?" in (s.url or "") for s in samples)
    for job in jobs:
        assert job.payload is not None and job.payload.data is not None
        assert from_wav(job.payload.data) == job.sample.reference
    assert mock.state.counters["viewer.assets.mp3"] == 0


async def test_expired_url_is_refreshed_once_through_its_row(hub: Path) -> None:
    async with (
        viewer_mock(hub, viewer_url_ttl=0.2) as mock,
        viewer_source(mock, "test.other") as src,
    ):
        sample = await first_sample(src)
        stale = sample.url
        await asyncio.sleep(0.3)
        mock.state.config.viewer_url_ttl = 60.0
        job = await make_url_prepare(src, fetches_urls=False)(sample)
    assert job.error is None and job.payload is not None and job.payload.data is not None
    assert from_wav(job.payload.data) == sample.reference
    assert sample.url != stale
    assert mock.state.counters["viewer.expired"] == 1
    assert mock.state.counters["viewer.rows"] == 2  # the page, then that one row


async def test_url_refused_after_refresh_fails_the_sample_as_download(hub: Path) -> None:
    async with (
        viewer_mock(hub, viewer_url_ttl=0.0) as mock,
        viewer_source(mock, "test.other") as src,
    ):
        sample = await first_sample(src)
        job = await make_url_prepare(src, fetches_urls=False)(sample)
    assert job.payload is None and job.error is not None
    assert job.error.kind == "download"
    message = str(job.error)
    assert message.startswith("HTTP 403: signed audio URL still refused after fetching its row")
    assert "/assets/test-org/esb-mini/" in message and "sig=" not in message
    assert mock.state.counters["viewer.expired"] == 2
