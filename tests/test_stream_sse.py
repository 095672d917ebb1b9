"""`--stream` for openai/ and openai-compatible/: the transcript read as server-sent events
(OpenAI's `transcript.text.*` events and vLLM's `transcription.chunk`s), each line's time to
first delta, inter-delta gaps and usage, the summary and report sections, the one-line
refusals, and the mock proven with the official openai SDK's streaming transcription."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from asyncbench.core.sse import SSEMetrics, SSEParser, nearest_rank
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.openai import OpenAICompatibleProvider
from asyncbench.reporting.stream_report import stream_html
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import run_eval
from .provider_runs import (
    CONFIG,
    N_SAMPLES,
    SPLIT,
    CliRun,
    assert_all_correct,
    env_with,
    run_clips,
    run_split,
    small_split,
    transcribe_one,
    wav_clip,
)
from .support import MockServer, only_file, read_results

KEY = "sk-stream-0123456789"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, CliRun], MockServer]:
    root = tmp_path_factory.mktemp("sse")
    dataset = small_split(root / "esb")
    env = env_with(OPENAI_API_KEY=KEY, GROQ_API_KEY=KEY)

    async def main() -> tuple[dict[str, CliRun], MockServer]:
        async with MockServer(MockConfig(sse_delta_gap=0.02)) as mock:
            jobs = {
                "openai": run_eval(
                    "openai/gpt-4o-transcribe", dataset, root / "openai", mock.url, env, "--stream"
                ),
                "vllm": run_split(
                    "openai-compatible/whisper-large-v3", dataset, root / "vllm",
                    mock.url + "/vllm/v1", env, "--stream",
                ),
                "whisper1": run_eval(
                    "openai/whisper-1", dataset, root / "whisper1", mock.url, env, "--stream"
                ),
                "groq": run_eval(
                    "groq/whisper-large-v3", dataset, root / "groq", mock.url, env, "--stream"
                ),
            }  # fmt: skip
            out = await asyncio.gather(*jobs.values())
        return {n: CliRun(*o, root / n) for n, o in zip(jobs, out, strict=True)}, mock

    return asyncio.run(main())


def sse_fields(rows: list[dict]) -> None:
    for row in rows:
        words = len(row["text"].split())
        assert row["deltas"] == words, row
        assert 0 < row["first_delta_s"] < 30, row
        # one word a delta, 20 ms apart: every gap is at least that (a lower bound only)
        assert row["delta_gap_p50_s"] >= 0.015 and row["delta_gap_p99_s"] >= 0.015, row
        assert row["usage_output_tokens"] == words, row


def test_openai_stream_through_run_eval(runs: tuple[dict[str, CliRun], MockServer]) -> None:
    cli, mock = runs
    rows = assert_all_correct(cli["openai"])
    sse_fields(rows)
    for row in rows:
        assert row["usage_input_audio_tokens"] == row["usage_input_tokens"] > 0
        assert row["usage_total_tokens"] == row["usage_input_tokens"] + row["usage_output_tokens"]
    err = cli["openai"].err
    assert f"stream (server-sent events): {N_SAMPLES} replies" in err, err
    assert "  first_delta_s      p50 " in err and "  delta_gap_p99_s    p50 " in err
    assert "usage (sum): input_tokens " in err
    assert mock.state.counters["openai.streamed"] == N_SAMPLES
    assert mock.state.last_request["openai form"]["stream"] == "true"


def test_vllm_chunks_through_openai_compatible(
    runs: tuple[dict[str, CliRun], MockServer],
) -> None:
    cli, mock = runs
    rows = assert_all_correct(cli["vllm"])
    sse_fields(rows)
    assert all(r["usage_input_tokens"] > 0 and "usage_input_audio_tokens" not in r for r in rows)
    assert mock.state.counters["vllm.streamed"] == N_SAMPLES
    assert mock.state.last_request["vllm form"]["stream_include_usage"] == "true"


def test_models_and_providers_that_do_not_stream_are_one_line(
    runs: tuple[dict[str, CliRun], MockServer],
) -> None:
    cli, _ = runs
    for name, line in (
        (
            "whisper1",
            "error: openai/whisper-1 does not stream transcripts (the service ignores "
            "stream=true); use gpt-4o-transcribe or gpt-4o-mini-transcribe, or drop --stream",
        ),
        (
            "groq",
            "error: --stream is for openai/ and openai-compatible/ models (transcripts as "
            "server-sent events); groq/ does not stream them",
        ),
    ):
        run = cli[name]
        assert run.code == 2 and run.err.strip().splitlines() == [line], run.err
        assert not list(run.results.glob("*.jsonl"))


def test_the_report_shows_the_stream_figures(runs: tuple[dict[str, CliRun], MockServer]) -> None:
    cli, _ = runs
    path = only_file(cli["openai"].results)
    hostile = SimpleNamespace(
        score=SimpleNamespace(path=str(path), model_id="<b>openai</b>"), name="x&y"
    )
    page = "".join(stream_html([hostile]))
    assert "<h2>Streamed replies (server-sent events)</h2>" in page
    assert "&lt;b&gt;openai&lt;/b&gt; x&amp;y" in page and "<b>openai" not in page
    assert "first_delta_s p50 ms" in page and "delta_gap_p99_s p50 ms" in page
    assert "Streaming latency" not in page  # no WebSocket figures in this file


async def test_a_server_that_ignores_stream_is_a_bad_response(tmp_path: Path) -> None:
    """whisper-1 answers JSON whatever `stream` says: no delta can be timed, so the line
    fails as a retryable bad_response naming the reply's type, never as a silent success."""
    async with MockServer() as mock:
        settings = ProviderSettings(
            model="whisper-1", api_key=KEY, base_url=mock.url, options={"stream": "1"}
        )
        _, rows = await run_clips(
            OpenAICompatibleProvider(settings), [("x", wav_clip("x", 0.5))], tmp_path / "r",
            max_retries=0,
        )  # fmt: skip
    assert (rows[0]["status"], rows[0]["error_kind"]) == ("failed", "bad_response")
    assert rows[0]["error"] == (
        "--stream asked for server-sent events but the reply is application/json (does this "
        "server or model stream transcripts?)"
    )


async def test_the_official_sdk_streams_through_the_mock() -> None:
    import openai

    clip = wav_clip("Streamed words arrive one by one.", 1.0)
    async with MockServer() as mock:
        sdk = openai.AsyncOpenAI(api_key=KEY, base_url=f"{mock.url}/v1", max_retries=0)
        stream = await sdk.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("a.wav", clip.data or b"", "audio/wav"), stream=True
        )
        events = [event async for event in stream]
        await sdk.close()
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    done = events[-1]
    assert "".join(deltas) == "Streamed words arrive one by one." == done.text
    assert done.type == "transcript.text.done" and done.usage is not None
    assert done.usage.output_tokens == 6 and done.usage.total_tokens > 6


def test_the_event_parser_and_the_figures() -> None:
    wire = b': keep-alive\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: x\ndata: [DONE]\n\n'
    parser = SSEParser()
    events = [e for i in range(len(wire)) for e in parser.feed(wire[i : i + 1])]
    assert events == ['{"a":\n1}', "[DONE]"]
    tail = SSEParser()
    assert list(tail.feed(b"data: last")) == [] and list(tail.close()) == ["last"]
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([0.3, 0.1, 0.2], 0.5) == 0.2
    assert nearest_rank([float(i) for i in range(1, 101)], 0.99) == 99.0
    metrics = SSEMetrics(0.1234567, [0.01, 0.03, 0.02], 4, {"output_tokens": 4})
    assert metrics.fields() == {
        "first_delta_s": 0.123457,
        "delta_gap_p50_s": 0.02,
        "delta_gap_p99_s": 0.03,
        "deltas": 4,
        "usage_output_tokens": 4,
    }


async def test_the_batch_clients_reject_nothing_new_without_stream() -> None:
    """Without --stream nothing changes: no stream field, a JSON reply, no stream figures."""
    async with MockServer() as mock:
        settings = ProviderSettings(model="gpt-4o-transcribe", api_key=KEY, base_url=mock.url)
        text = await transcribe_one(OpenAICompatibleProvider(settings), wav_clip("Plain.", 0.5))
    assert text == "Plain." and not hasattr(text, "stream")
    assert "stream" not in mock.state.last_request["openai form"]
    assert mock.state.counters["openai.streamed"] == 0


def test_results_are_readable_as_the_boards(runs: tuple[dict[str, CliRun], MockServer]) -> None:
    cli, _ = runs
    rows = read_results(only_file(cli["openai"].results))
    assert {"audio_filepath", "duration", "time", "text", "pred_text"} <= set(rows[0])
    assert CONFIG in only_file(cli["openai"].results).name and SPLIT in rows[0]["id"]
