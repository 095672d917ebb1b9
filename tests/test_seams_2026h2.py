"""Where the second-half 2026 features meet: `--stream`, the board's newer providers (meta,
gemini, sprag and its account pacer), `--revision` and the saturation figures, each through
`--processes 2`, `batch` and a resumed run, and hostile text in what they print.

Each feature was tested alone on its own branch; these tests run them together, with the real
CLI against the real mock on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from asyncbench.engine.stats import RunStats
from asyncbench.reporting.saturation import (
    Warmup,
    client_line,
    loop_health,
    saturation_section,
    steady_throughput,
)
from asyncbench.runs.shard_worker import ShardEnd, clock_offset, provider_env
from asyncbench.runs.sharded import _merge, drain_start, on_driver_clock
from asyncbench.servers.mock.state import MockConfig
from asyncbench.sources.audio import parse_wav
from asyncbench.sources.dataset import in_shard

from .faultkit import start, wait_until, whole_lines
from .loopback import served
from .provider_runs import CONFIG, N_SAMPLES, SPLIT, env_with, run_split, small_split
from .raycluster import _procs
from .support import MockServer, make_dataset, read_results, run_cli_async, transcript_of

KEY = "sk-seams-0123456789"
STREAM_REFUSED = (
    "error: --stream is for openai/ and openai-compatible/ models (transcripts as server-sent "
    "events); groq/ does not stream them"
)


def batch_args(dataset: Path, results: Path, *extra: str) -> list[str | Path]:
    return [
        "batch",
        "--datasets",
        f"{CONFIG}:{SPLIT}",
        "--dataset_path",
        dataset,
        "--results_dir",
        results,
        "--max_workers",
        "4",
        "--no_progress",
        *extra,
    ]


def summary_of(results: Path, model_slug: str) -> dict:
    (path,) = results.glob(f"MODEL_{model_slug}_*.summary.json")
    return json.loads(path.read_text())


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


# -- the saturation figures merged from two event loops ------------------------------------


def shard_stats(started: float, lag_s: float, n: int) -> RunStats:
    """One shard's counters: n samples back over 10 s, its loop late by `lag_s` in all."""
    stats = RunStats(total=None, started=started)
    stats.done_at = [started + 10 * (k + 1) / n for k in range(n)]
    stats.loop_lags = [lag_s / 10] * 10
    stats.ended = started + 10
    return stats


def test_the_lag_free_throughput_of_two_processes_counts_each_loops_delay_once() -> None:
    """Two processes side by side, each loop 4 s late over a 10 s run: each could have done its
    samples in 6 s, so 200 samples lag-free is 200 / 6 per second. Summed over the loops the
    8 s of delay left 2 s of a 10 s run: 100/s, three times what the loops could have done."""
    merged = RunStats(total=None, started=0.0, loops=0)
    for _ in range(2):
        _merge(merged, shard_stats(0.0, 4.0, 100))
    merged.ended = 10.0
    figures = steady_throughput(merged, Warmup())
    assert merged.loops == 2
    assert figures["client_delay_s"] == pytest.approx(4.0)
    assert figures["hi_per_s"] == pytest.approx(200 / 6)
    # one process: its own delay, as before
    one = shard_stats(0.0, 4.0, 100)
    assert steady_throughput(one, Warmup())["hi_per_s"] == pytest.approx(100 / 6)


def test_one_saturated_process_of_two_makes_the_run_client_bound() -> None:
    """Process A's loop on the CPU 95 % of every tick, process B's 10 %: merged, the median
    tick was 52 % busy and the run passed as 'not the bottleneck', though half its samples
    came back through a loop that had nothing left to give."""
    saturated, idle = shard_stats(0.0, 0.0, 50), shard_stats(0.0, 0.0, 50)
    saturated.loop_busy, idle.loop_busy = [0.95] * 100, [0.10] * 100
    saturated.loop_lags = idle.loop_lags = [0.001] * 100
    for stats in (saturated, idle):
        stats.latencies = [0.5] * 50
    merged = RunStats(total=None, started=0.0, loops=0)
    for stats in (saturated, idle):
        _merge(merged, stats)
        merged.per_loop.append(loop_health(stats))
    merged.ended = 10.0
    section = saturation_section(merged)
    assert section["client_bound"] is True
    assert section["client_bound_loops"] == [1, 2]
    assert client_line(section, 2).startswith(
        "client-bound: 1 of 2 event loops (loop lag p99 over all 1 ms, max 1 ms, loop thread "
        "on the CPU 52 % of the time); "
    )
    # either process alone is judged as before
    assert saturation_section(saturated)["client_bound"] is True
    assert saturation_section(idle)["client_bound"] is False


def test_the_steady_window_of_two_shards_ends_when_the_first_runs_out() -> None:
    """The id hash splits a split unevenly: shard A (10 samples, 2/s) handed out its last at
    4.5 s, shard B (20 samples, 2/s) at 9.5 s. From 4.5 s on only B's requests were in flight:
    the window to 9.5 s mixed that half-load stretch in and said 3.05/s for a run that went
    at 4/s while both shards worked."""
    a, b = RunStats(started=0.0), RunStats(started=0.0)
    a.done_at, a.handed_out_at = [0.5 * (k + 1) for k in range(10)], [4.5]
    b.done_at, b.handed_out_at = [0.5 * (k + 1) for k in range(20)], [9.5]
    merged = RunStats(total=None, started=0.0, loops=0)
    for stats in (a, b):
        _merge(merged, stats)
    merged.ended = 10.0
    merged.handed_out_at = drain_start(merged.handed_out_at, 2)  # as the driver keeps it
    figures = steady_throughput(merged, Warmup())
    assert figures["steady_window_s"] == pytest.approx(4.5)
    assert figures["steady_per_s"] == pytest.approx(4.0)
    # shards that ran one after another (a Ray cluster with one slot): the last one's
    assert drain_start([4.5, 9.5], 1) == [9.5]
    assert drain_start([1.0, 2.0, 7.0, 9.0], 2) == [7.0]
    assert drain_start([], 2) == []


# -- a shard's environment on another machine (Ray) ----------------------------------------


def test_a_shard_gets_every_setting_of_the_newer_providers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ray worker does not inherit the driver's environment: without these a shard on
    another node ran sprag at the default 2400 requests a minute whatever the user set, and
    meta in its default mode."""
    settings = {
        "SPRAG_REQUESTS_PER_MINUTE": "600",
        "META_FILE_MODE": "PUSH_TO_TALK",
        "META_STREAM_MODE": "ENDPOINTING",
        "META_STREAMING_PACE": "0",
        "SOPHEA_API_URL": "http://127.0.0.1:9/v1/transcribe",
        "GEMINI_BASE_URL": "http://127.0.0.1:9",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("UNRELATED_SECRET", "x")
    env = provider_env()
    assert {k: env.get(k) for k in settings} == settings
    assert "UNRELATED_SECRET" not in env


# -- the CLI against the mock ----------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_split(tmp_path_factory.mktemp("seams"))


async def test_batch_stream_refuses_a_model_that_cannot_stream_before_any_request(
    dataset: Path, tmp_path: Path
) -> None:
    env = env_with(OPENAI_API_KEY=KEY, GROQ_API_KEY=KEY)
    async with MockServer() as mock:
        code, _out, err = await run_cli_async(
            *batch_args(dataset, tmp_path / "r", "--stream", "--processes", "2"),
            "--model",
            "openai-compatible/whisper-large-v3",
            "--model",
            "groq/whisper-large-v3",
            "--base_url",
            mock.url + "/vllm/v1",
            env=env,
        )
        assert (code, last_line(err)) == (2, STREAM_REFUSED), err
        assert err.count("error:") == 1, err
        assert not any(k.endswith(".requests") and v for k, v in mock.state.counters.items())
    assert not list((tmp_path / "r").glob("*.jsonl"))


@pytest.mark.parametrize("command", ["run", "batch"])
async def test_a_model_name_with_control_characters_is_one_visible_line(
    dataset: Path, tmp_path: Path, command: str
) -> None:
    """A pasted escape sequence in --model reached the terminal raw (the start line, the
    batch's announce and table) and the results file's name."""
    model = "openai-compatible/wh\x1b[31mRED\x07"
    env = env_with(OPENAI_API_KEY=KEY)
    async with MockServer() as mock:
        if command == "run":
            code, out, err = await run_split(model, dataset, tmp_path, mock.url + "/vllm/v1", env)
        else:
            code, out, err = await run_cli_async(
                *batch_args(dataset, tmp_path, "--model", model, "--base_url", mock.url),
                env=env,
            )
    flag = "--model_name" if command == "run" else "--model"
    assert (code, err.strip()) == (
        2,
        f"error: {flag} 'openai-compatible/wh\\x1b[31mRED\\x07' has control characters; "
        "give the model name as the provider spells it",
    ), err
    assert "\x1b" not in out + err
    assert not list(tmp_path.glob("*.jsonl"))


# -- --stream through --processes 2 after a resumed run, into the report -------------------


@pytest.fixture(scope="module")
def streamed(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Four samples in one process, then the rest with `--processes 2` (the resume), then the
    report of the folder."""
    results = tmp_path_factory.mktemp("streamed")
    env = env_with(OPENAI_API_KEY=KEY)
    model = "openai-compatible/whisper-large-v3"

    async def main() -> tuple[str, str]:
        async with MockServer(MockConfig(sse_delta_gap=0.02)) as mock:
            url = mock.url + "/vllm/v1"
            code, _, err = await run_split(model, dataset, results, url, env, "--stream",
                                           "--max_samples", "4")  # fmt: skip
            assert code == 0, err
            code, _, err = await run_split(model, dataset, results, url, env, "--stream",
                                           "--processes", "2")  # fmt: skip
            assert code == 0, err
        report = results / "report.html"
        code, _, rep_err = await run_cli_async("report", results, "-o", report, env=env)
        assert code == 0, rep_err
        return err, report.read_text(encoding="utf-8")

    err, page = asyncio.run(main())
    return results, err, page


def test_stream_figures_merge_across_two_processes_after_a_resume(
    streamed: tuple[Path, str, str],
) -> None:
    results, err, _page = streamed
    (path,) = results.glob("*.jsonl")
    rows = read_results(path)
    assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows})
    assert len(rows) == N_SAMPLES and all(r["status"] == "ok" for r in rows)
    for row in rows:  # every line, from either run and either shard, has its stream fields
        assert row["deltas"] == len(row["text"].split()), row
        assert row["first_delta_s"] > 0 and row["delta_gap_p50_s"] >= 0.015, row
    sse = summary_of(results, "openai-compatible-whisper-large-v3")["sse"]
    resumed = rows[4:]  # the first run appended 4; the summary is this run's, of 2 shards
    assert sse["samples"] == sse["first_delta_s"]["n"] == N_SAMPLES - 4
    assert sse["usage"]["output_tokens"] == sum(r["usage_output_tokens"] for r in resumed)
    assert sse["first_delta_s"]["max"] == max(r["first_delta_s"] for r in resumed)
    assert f"stream (server-sent events): {N_SAMPLES - 4} replies" in err
    assert "coverage: 10/10 samples done" in err


def test_the_report_shows_a_sharded_streamed_run(streamed: tuple[Path, str, str]) -> None:
    _results, _err, page = streamed
    assert "Streamed replies (server-sent events)" in page
    assert "first_delta_s" in page


# -- the newer providers through batch --processes 2, at a --revision ----------------------

NEW_MODELS = ("sprag/symphony", "gemini/gemini-3.5-transcribe", "meta/muse-voice-transcribe")


async def test_newer_providers_through_batch_processes_at_a_revision(
    dataset: Path, tmp_path: Path
) -> None:
    """Each shard gets the revision (the sidecar records it) and sprag's account pace is the
    command's: 300 requests a minute over both processes, not 300 in each. A rerun at another
    revision is not taken as done: each split says whose file it is, and nothing is scored."""
    results = tmp_path / "r"
    async with MockServer() as mock:
        env = env_with(
            SPRAG_API_KEY=KEY,
            GEMINI_API_KEY=KEY,
            META_API_KEY=KEY,
            SPRAG_BASE_URL=mock.url + "/sprag/v1",
            GEMINI_BASE_URL=mock.url,
            META_BASE_URL=mock.url,
            SPRAG_REQUESTS_PER_MINUTE="300",
        )
        models = [a for m in NEW_MODELS for a in ("--model", m)]
        args = batch_args(dataset, results, "--processes", "2", *models)
        code, out, err = await run_cli_async(*args, "--revision", "abc1234", env=env)
        assert code == 0, err
        code2, out2, err2 = await run_cli_async(*args, "--revision", "def5678", env=env)
    for model in NEW_MODELS:
        slug = model.replace("/", "-")
        (path,) = results.glob(f"MODEL_{slug}_*.jsonl")
        rows = read_results(path)
        assert len(rows) == N_SAMPLES and all(r["pred_text"] == r["text"] for r in rows), model
        meta = json.loads(path.with_name(path.stem + ".meta.json").read_text())
        assert meta["revision"] == "abc1234"
        assert summary_of(results, slug)["shards"] == 2
        assert f"{model} | " in out
    sprag = read_results(next(results.glob("MODEL_sprag-symphony_*.jsonl")))
    starts = sorted(r["t_end"] - r["time"] for r in sprag)
    # 10 requests at 5/s over both shards span at least 1.8 s (1.6 s with each shard's bucket
    # starting full); a pacer per process at the whole rate lets them through in 0.8 s
    assert starts[-1] - starts[0] >= 1.5, starts
    assert code2 == 1, err2
    assert err2.count("belongs to another run (revision 'abc1234'") == 2 * len(NEW_MODELS)
    assert "Results per dataset" not in out2  # another revision's files are not this batch's


# -- hostile text in the stream's new fields -------------------------------------------------

HOSTILE_ERROR = "\x1b]0;pwned\x07\r\nerror: FAKE line <script>alert(1)</script> \u202egnp.exe "


def hostile_sse_app() -> web.Application:
    """A vLLM-dialect server whose first reply is an error event full of terminal and HTML
    control, and whose usage counts are negative, textual and astronomically large beside one
    honest count (3 completion tokens)."""
    seen = {"n": 0}

    async def transcribe(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        words = transcript_of(upload.file.read()).split()
        seen["n"] += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if seen["n"] == 1:
            event = {"error": {"message": HOSTILE_ERROR + "x" * 5000}}
            await resp.write(f"data: {json.dumps(event)}\n\n".encode())
            return resp
        for k, word in enumerate(words):
            piece = {"delta": {"content": word if k == 0 else " " + word}}
            event = {"object": "transcription.chunk", "choices": [piece]}
            await resp.write(f"data: {json.dumps(event)}\n\n".encode())
        usage = {
            "prompt_tokens": -7,
            "completion_tokens": 3,
            "total_tokens": 2**64 - 1,
            "input_token_details": {"audio_tokens": "\x1b[2J"},
        }
        event = {"object": "transcription.chunk", "choices": [], "usage": usage}
        await resp.write(f"data: {json.dumps(event)}\n\ndata: [DONE]\n\n".encode())
        return resp

    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", transcribe)
    return app


async def test_hostile_stream_fields_through_two_processes(dataset: Path, tmp_path: Path) -> None:
    env = env_with(OPENAI_API_KEY=KEY)
    model = "openai-compatible/whisper-large-v3"
    async with served(hostile_sse_app()) as base:
        code, out, err = await run_split(
            model, dataset, tmp_path, base + "/v1", env, "--stream", "--processes", "2",
            "--max_retries", "0",
        )  # fmt: skip
    assert code == 3, err  # the one deliberate failure: samples short, exit 3
    report = tmp_path / "report.html"
    rcode, _, rerr = await run_cli_async("report", tmp_path, "-o", report, env=env)
    assert rcode == 0, rerr
    terminal = out + err
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in terminal
    assert not any(line.startswith("error: FAKE") for line in terminal.splitlines())
    # only the honest count is summed: 9 replies of 3 completion tokens
    assert "\n  usage (sum): output_tokens 27\n" in err, err
    usage = summary_of(tmp_path, "openai-compatible-whisper-large-v3")["sse"]["usage"]
    assert usage == {"output_tokens": 27}
    rows = read_results(next(tmp_path.glob("*.jsonl")))
    (failed,) = [r for r in rows if r["status"] != "ok"]
    assert failed["error_kind"] == "server_error" and "FAKE line" in failed["error"]
    assert all("usage_input_tokens" not in r for r in rows)
    page = report.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page


# -- one budget with --stream and the newer providers ----------------------------------------


class BillingOpenAI:
    """An OpenAI-protocol server that bills every request it receives by its audio (whole
    seconds, rounded up, at 1 USD a second) and answers every third with a 503 (retries cost
    money too); JSON, or server-sent events when the form asks for `stream`."""

    def __init__(self) -> None:
        self.n = 0
        self.billed = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/audio/transcriptions", self.transcribe)
        return app

    async def transcribe(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        body = upload.file.read()
        info = parse_wav(body)
        assert info is not None
        self.billed += math.ceil(info.data_len / (info.rate * info.channels * info.bits // 8))
        self.n += 1
        if self.n % 3 == 0:
            return web.Response(status=503, headers={"Retry-After": "0"})
        text = transcript_of(body)
        if form.get("stream") != "true":
            return web.json_response({"text": text})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for k, word in enumerate(text.split()):
            piece = {"delta": {"content": word if k == 0 else " " + word}}
            event = {"object": "transcription.chunk", "choices": [piece]}
            await resp.write(f"data: {json.dumps(event)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 clips of 1.05 to 1.95 s: 2 USD each at 3600 USD an hour billed by the second."""
    return make_dataset(
        tmp_path_factory.mktemp("money"), {(CONFIG, SPLIT): 10}, fmt="wav", seconds=1.05
    )


@pytest.mark.parametrize(
    "how",
    [
        ("run", "--model_name", "openai-compatible/whisper-large-v3", "--stream"),
        ("batch", "--model", "sprag/symphony"),
        ("batch", "--model", "openai-compatible/whisper-large-v3", "--stream"),
    ],
    ids=["run --stream", "batch sprag", "batch --stream"],
)
async def test_one_budget_over_two_processes_with_the_stream_and_sprag(
    how: tuple[str, ...], long_clips: Path, tmp_path: Path
) -> None:
    command, flag, model, *stream = how
    server = BillingOpenAI()
    head = ["--dataset", CONFIG, "--split", SPLIT] if command == "run" else [
        "--datasets", f"{CONFIG}:{SPLIT}"]  # fmt: skip
    async with served(server.app()) as base:
        env = env_with(OPENAI_API_KEY=KEY, SPRAG_API_KEY=KEY, SPRAG_BASE_URL=base + "/v1")
        code, out, err = await run_cli_async(
            command, flag, model, *head, "--dataset_path", long_clips, "--results_dir",
            tmp_path, "--base_url", base + "/v1", "--max_workers", "2", "--processes", "2",
            "--price_per_hour", "3600", "--budget_usd", "20", "--no_progress", *stream,
            env=env, timeout=150,
        )  # fmt: skip
    assert code == 4, err[-3000:]
    assert 0 < server.billed <= 20, (server.billed, err[-3000:])
    assert err.count("stopped by --budget_usd") == 1, err[-3000:]
    (spend,) = [line for line in out.splitlines() if line.startswith("spend: ")]
    assert server.billed <= float(spend.split("$ ")[1].split()[0]) <= 20
    rows = read_results(next(tmp_path.glob("*.jsonl")))
    assert len({r["id"] for r in rows}) == len(rows)
    if stream:
        assert all("first_delta_s" in r for r in rows if r["status"] == "ok")


# -- hostile model names in the board's newer CSV families -----------------------------------

ML = "Metric-AI-open-asr-leaderboard-multilingual-datasets"
#: family -> (its files' dataset parts, the cells after RTFx as the board's block has them)
NEW_FAMILY_FILES = {
    "hy": ((f"{ML}_fleurs_hy_test", f"{ML}_mcv26_hy_test"), ",25.0,25.0"),
    "nl": (("hf-audio-open-asr-leaderboard-multilingual-datasets_mls_nl_test",), ",,,25.0"),
    "hi": (("VoiceArena-Monsoon_hi_test_test",), ",25.0"),
}


async def test_hostile_model_names_in_the_new_csv_families(tmp_path: Path) -> None:
    """A colleague's folder with files named for the Armenian, Dutch and Hindi families by a
    model whose name is a formula with an escape sequence, or holds a bidi override: every
    block of `score --csv` and the score table show them as visible text cells."""
    line = {"audio_filepath": "s0", "duration": 10.0, "time": 2.0,
            "text": "բարեւ ձեզ ինչպես եք", "pred_text": "բարեւ ձեզ ինչպես"}  # fmt: skip
    for slug in ("=cmd|calc-m\x1b[31m", "m-a\u202etxt"):
        for sets, _ in NEW_FAMILY_FILES.values():
            for ds in sets:
                path = tmp_path / f"MODEL_{slug}_DATASET_{ds}.jsonl"
                path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    env = env_with()
    code, csv_out, err = await run_cli_async("score", tmp_path, "--csv", env=env)
    assert code == 0, err
    code, table, err2 = await run_cli_async("score", tmp_path, env=env)
    assert code == 0, err2
    for raw in ("\x1b", "\u202e"):
        assert raw not in csv_out + err + table + err2
    lines = csv_out.splitlines()
    for family, (_, cells) in NEW_FAMILY_FILES.items():
        at = lines.index(f"CSV Summary ({family}):")
        assert lines[at + 3 : at + 5] == [
            "'=cmd|calc/m\\x1b[31m,5.0" + cells,
            "m/a\\u202etxt,5.0" + cells,
        ], lines[at : at + 6]
    assert "=cmd|calc/m\\x1b[31m: WER = 25.00 %" in table.splitlines()


# -- a crash of the driver mid-stream, then the resume -------------------------------------


async def test_a_killed_streamed_run_over_two_processes_resumes_whole(
    dataset: Path, tmp_path: Path
) -> None:
    """SIGKILL of the driver of `--stream --processes 2` with samples written and in flight:
    its shard processes end with it (no stream goes on sending to a dead writer), the file
    holds only whole lines, and the rerun sends only what is missing, every line with its
    stream fields."""
    model = "openai-compatible/whisper-large-v3"
    env = env_with(OPENAI_API_KEY=KEY)
    async with MockServer(MockConfig(latency=0.3, sse_delta_gap=0.02)) as mock:
        url = mock.url + "/vllm/v1"
        args = ["run", "--model_name", model, "--dataset", CONFIG, "--split", SPLIT,
                "--dataset_path", str(dataset), "--results_dir", str(tmp_path),
                "--base_url", url, "--max_workers", "2", "--no_progress", "--stream",
                "--processes", "2"]  # fmt: skip
        proc = await start(args, env)

        def written() -> int:
            files = list(tmp_path.glob("*.jsonl"))
            return len(whole_lines(files[0])[0]) if files else 0

        def children() -> list[int]:
            return [p for p, (ppid, cmd) in _procs().items()
                    if ppid == proc.pid and "spawn_main" in cmd]  # fmt: skip

        await wait_until(lambda: written() >= 3 and len(children()) == 2, proc, what="lines")
        shards = children()
        proc.kill()
        await proc.wait()
        await wait_until(lambda: not set(shards) & set(_procs()), what="the shards' end")
        (path,) = tmp_path.glob("*.jsonl")
        before, _torn = whole_lines(path)
        assert 3 <= len(before) < N_SAMPLES
        code, _, err = await run_split(model, dataset, tmp_path, url, env, "--stream",
                                       "--processes", "2")  # fmt: skip
        assert code == 0, err
    rows = read_results(path)
    assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows})
    assert len(rows) == N_SAMPLES and all("first_delta_s" in r for r in rows)
    assert f"stream (server-sent events): {N_SAMPLES - len(before)} replies" in err


# -- hostile error replies from the newer providers ----------------------------------------

HOSTILE_REPLY = "\x1b]0;pwned\x07\r\nerror: FAKE <b>x</b> \u202egnp.exe"
SHOWN = "\\x1b]0;pwned\\x07 error: FAKE <b>x</b> \\u202egnp.exe"


def hostile_errors_app() -> web.Application:
    """Each newer provider's error reply, its message full of terminal control and a newline
    that would print a fake `error:` line of its own."""

    def reply(status: int, body: dict) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def answer(request: web.Request) -> web.Response:
            await request.read()
            return web.json_response(body, status=status)

        return answer

    google = {"code": 400, "message": HOSTILE_REPLY, "status": "INVALID_ARGUMENT",
              "details": [{"reason": "API_KEY_INVALID"}]}  # fmt: skip
    app = web.Application()
    app.router.add_post("/v1/asr/transcribe", reply(401, {"error": {"message": HOSTILE_REPLY}}))
    app.router.add_post(
        "/sprag/v1/audio/transcriptions", reply(401, {"error": {"message": HOSTILE_REPLY}})
    )
    app.router.add_post("/v1/interactions", reply(400, {"error": google}))
    app.router.add_post("/v1/transcribe", reply(422, {"detail": HOSTILE_REPLY}))
    return app


@pytest.mark.parametrize(
    ("model", "key_env", "path", "line"),
    [
        (
            "meta/muse-voice-transcribe",
            "META_API_KEY",
            "",
            f"error: HTTP 401: key rejected; check META_API_KEY: {SHOWN}",
        ),
        (
            "sprag/symphony",
            "SPRAG_API_KEY",
            "/sprag/v1",
            f"error: HTTP 401: key rejected; check SPRAG_API_KEY: {SHOWN}",
        ),
        (
            "gemini/gemini-3.5-transcribe",
            "GEMINI_API_KEY",
            "",
            f"error: HTTP 400: key rejected; check GEMINI_API_KEY: {SHOWN}",
        ),
        ("sophea/asr-k1", "SOPHEA_API_KEY", "", None),
    ],
    ids=["meta", "sprag", "gemini", "sophea"],
)
async def test_hostile_error_replies_of_the_newer_providers_are_one_line(
    dataset: Path, tmp_path: Path, model: str, key_env: str, path: str, line: str | None
) -> None:
    async with served(hostile_errors_app()) as base:
        env = env_with(**{key_env: KEY}, SOPHEA_API_URL=base + "/v1/transcribe")
        code, out, err = await run_split(
            model, dataset, tmp_path, base + path, env, "--processes", "2", "--max_retries", "0"
        )
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in out + err
    assert not any(x.startswith("error: FAKE") for x in (out + err).splitlines()), err
    if line is not None:  # a rejected key stops the run with one line
        assert (code, last_line(err)) == (2, line), err
        return
    # every clip refused (exit 3: samples failed), each recorded with the service's reason
    assert code == 3, err
    rows = read_results(next(tmp_path.glob("*.jsonl")))
    assert len(rows) == N_SAMPLES
    for row in rows:
        assert row["error_kind"] == "bad_request"
        assert row["error"].endswith(f": {HOSTILE_REPLY.replace(chr(13) + chr(10), ' ')}")


def test_a_shard_on_another_machine_is_put_on_the_drivers_clock() -> None:
    """A Ray node booted an hour after the driver's machine: its monotonic clock reads an hour
    less for the same instant. Its samples are moved onto the driver's clock by the two wall
    clocks, so they fall inside the run and the steady window counts them."""
    here = clock_offset()
    started = time.monotonic()
    node = shard_stats(started - 3600.0, 0.0, 50)  # the same 10 s, on the node's clock
    node.handed_out_at = [started - 3600.0 + 9.0]
    end = ShardEnd(0, None, node, None, {"clock": here + 3600.0})
    on_driver_clock(end)
    assert end.stats.done_at[0] == pytest.approx(started + 0.2, abs=0.01)
    assert end.stats.handed_out_at == [pytest.approx(started + 9.0, abs=0.01)]
    merged = RunStats(total=None, started=started, loops=0)
    _merge(merged, end.stats)
    merged.ended = started + 10.0
    figures = steady_throughput(merged, Warmup())
    assert figures["steady_n"] == 45 and figures["whole_per_s"] == pytest.approx(5.0)
    # a shard of this machine (or an older one that sent no clock) is left as it is
    same = ShardEnd(0, None, shard_stats(started, 0.0, 5), None, {"clock": clock_offset()})
    before = list(same.stats.done_at)
    on_driver_clock(same)
    assert same.stats.done_at == pytest.approx(before, abs=0.001)


async def test_batch_budget_refuses_a_newer_provider_without_a_price_before_any_run(
    dataset: Path, tmp_path: Path
) -> None:
    """sprag, meta and gemini have no public price: a budget for them said so once per split
    (8 lines for a suite) after the priced models' runs had gone; now one line, exit 2."""
    async with MockServer() as mock:
        env = env_with(GROQ_API_KEY=KEY, SPRAG_API_KEY=KEY,
                       SPRAG_BASE_URL=mock.url + "/sprag/v1")  # fmt: skip
        code, _out, err = await run_cli_async(
            *batch_args(dataset, tmp_path, "--processes", "2", "--budget_usd", "5"),
            "--model", "groq/whisper-large-v3", "--model", "sprag/symphony",
            "--base_url", mock.url, env=env,
        )  # fmt: skip
        sent = [k for k, v in mock.state.counters.items() if k.endswith(".requests") and v]
    assert code == 2, err
    assert err.count("error:") == 1, err
    assert last_line(err).startswith(
        "error: --budget_usd needs a price for sprag/symphony: no public price known for sprag/*"
    )
    assert last_line(err).endswith("; pass --price_per_hour or --prices")
    assert not sent and not list(tmp_path.glob("*.jsonl"))


# -- an open loop over two processes ---------------------------------------------------------


@pytest.fixture(scope="module")
def forty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("forty"), {(CONFIG, SPLIT): 40}, fmt="wav")


async def test_an_open_loop_rate_is_the_commands_over_two_processes(
    forty: Path, tmp_path: Path
) -> None:
    """`--arrival poisson --rate 8 --processes 2`: each process ran the whole schedule, so 16
    requests a second went out while the summary said target 8 (and achieved 16). Now each
    shard runs its share of the rate, with its own draw of the process (two Poisson streams of
    4/s are one of 8/s; two identical ones would be pairs). Judged on the intended send times
    the lines record (the schedule itself), not on wall-clock timing."""
    env = env_with(OPENAI_API_KEY=KEY)
    async with MockServer() as mock:
        code, _, err = await run_cli_async(
            "run", "--model_name", "openai-compatible/x", "--dataset", CONFIG, "--split", SPLIT,
            "--dataset_path", forty, "--results_dir", tmp_path, "--base_url",
            mock.url + "/vllm/v1", "--max_workers", "40", "--no_progress", "--processes", "2",
            "--arrival", "poisson", "--rate", "8", "--seed", "3", env=env,
        )  # fmt: skip
    assert code == 0, err
    rows = read_results(next(tmp_path.glob("*.jsonl")))
    assert len(rows) == 40
    by_shard: dict[int, list[float]] = {0: [], 1: []}
    for row in rows:
        by_shard[0 if in_shard(row["id"], 0, 2) else 1].append(row["t_intended"])
    gaps = {k: [b - a for a, b in itertools.pairwise(sorted(v))] for k, v in by_shard.items()}
    pooled = gaps[0] + gaps[1]
    # each shard's mean gap is 1/4 s, not the whole rate's 1/8 s (the schedule is a pure
    # function of --seed, so this is the same figure on every machine: 0.24 here, 0.13 before)
    assert 0.18 < sum(pooled) / len(pooled) < 0.4, gaps
    # and the two shards did not draw the same gaps
    assert [round(g, 6) for g in gaps[0][:5]] != [round(g, 6) for g in gaps[1][:5]]


async def test_hostile_error_replies_in_the_batch_table(dataset: Path, tmp_path: Path) -> None:
    """The batch table's `error:` line under a split printed the service's message raw: the
    escape sequence retitled the terminal and the bidi override reversed the rest."""
    async with served(hostile_errors_app()) as base:
        env = env_with(SPRAG_API_KEY=KEY, META_API_KEY=KEY, SPRAG_BASE_URL=base + "/sprag/v1",
                       META_BASE_URL=base)  # fmt: skip
        code, out, err = await run_cli_async(
            *batch_args(dataset, tmp_path, "--processes", "2"),
            "--model", "sprag/symphony", "--model", "meta/muse-voice-transcribe", env=env,
        )  # fmt: skip
    assert code == 1, err
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in out + err
    table = err[err.index("batch: 2 splits") :].splitlines()
    assert f"    error: HTTP 401: key rejected; check SPRAG_API_KEY: {SHOWN}" in table
    assert f"    error: HTTP 401: key rejected; check META_API_KEY: {SHOWN}" in table
