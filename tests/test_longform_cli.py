"""The long-form track through the CLI: recordings of 5, 14 and 20 minutes through `openai/`
against the mock, which refuses files over OpenAI's 25 MB as the service does (413).

As 16 kHz WAV they weigh 9.6, 26.9 and 38.4 MB; as FLAC about 80 % of that. So the 5-minute
one goes whole as WAV, the 14-minute one whole as FLAC, and the 20-minute one in parts.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from asyncbench.results.parts import parts_path
from asyncbench.servers.mock.state import MockConfig
from asyncbench.sources.longform_layout import write_longform_split

from .support import MockServer, cli_env, only_file, read_results, run_cli_async

MINUTES = (5, 14, 20)


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("longform") / "asr-leaderboard-longform"
    return root, write_longform_split(root, MINUTES)


async def run(url: str, data: Path, results: Path, *extra: str) -> tuple[int, str, str, list[dict]]:
    code, out, err = await run_cli_async(
        "run",
        "--model_name",
        "openai/whisper-1",
        "--dataset_path",
        data,
        "--dataset",
        "earnings22",
        "--results_dir",
        results,
        "--max_workers",
        "4",
        "--no_progress",
        *extra,
        env=cli_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{url}/v1"),
        timeout=300,
    )
    assert "Traceback" not in err, err
    rows = read_results(only_file(results)) if results.exists() else []
    return code, out, err, rows


async def test_over_the_limit_is_chunked_and_stitched_under_it_sent_whole(
    split: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    data, refs = split
    async with MockServer() as mock:
        code, out, err, rows = await run(mock.url, data, tmp_path / "results")
        requests = mock.state.counters["openai.requests"]
        refused = mock.state.counters["openai.413"]
    assert code == 0, err
    by_id = {r["id"]: r for r in rows}
    assert sorted(by_id) == sorted(refs) and all(r["status"] == "ok" for r in rows)
    assert all(by_id[i]["pred_text"] == refs[i] for i in refs)  # stitched in order
    five, fourteen, twenty = (by_id[f"earnings22-{i:03d}"] for i in (0, 1, 2))
    # 20 min: 38.4 MB as WAV, ~31 MB as FLAC: parts of at most 600 s
    assert twenty["parts"] == 2 + 1 and twenty["duration"] == 1200.0
    # 5 min as WAV, 14 min as FLAC (as WAV it is 26.9 MB, which the mock would refuse)
    assert "parts" not in five and "parts" not in fourteen
    assert requests == 1 + 1 + twenty["parts"] and refused == 0
    assert "WER: 0.0 %" in out
    assert "2340.0 s of audio" in err  # audio seconds, the whole of every recording
    part_lines = [
        orjson.loads(x)
        for x in parts_path(only_file(tmp_path / "results")).read_bytes().splitlines()
    ]
    assert [p["part"] for p in part_lines] == [0, 1, 2]
    assert all(p["end"] - p["start"] <= 600 * 16000 for p in part_lines)

    # the limit is real: told that 100 MB may go, the client sends the WAVs whole and the
    # mock refuses both as OpenAI does; one line each, the run goes on
    async with MockServer() as mock:
        code, _, err, rows = await run(
            mock.url, data, tmp_path / "told-100", "--max_upload_mb", "100", "--max_retries", "0"
        )
        assert mock.state.counters["openai.413"] == 2
    assert code == 3, err  # two samples failed: exit 3 since #25 item 6 (was 0)
    kinds = sorted((r["id"], r["status"], r["error_kind"]) for r in rows)
    assert kinds == [
        ("earnings22-000", "ok", None),
        ("earnings22-001", "failed", "too_large"),
        ("earnings22-002", "failed", "too_large"),
    ]


@pytest.mark.parametrize("processes", ["1", "2"])
async def test_resume_sends_only_the_missing_parts(
    processes: str, split: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """Also with `--processes 2`: a shard's parts come back to the driver, which keeps them
    beside the results file (they were in the shard's temporary folder, gone with it, so a
    rerun paid for every part of an unfinished recording again)."""
    data, refs = split
    results = tmp_path / "results"
    async with MockServer() as mock:
        code, _, err, rows = await run(mock.url, data, results, "--processes", processes)
        assert code == 0, err
        # as if killed after the 20-minute recording's first two parts came back: no final
        # line for it, and its last part not recorded
        path = only_file(results)
        kept = [r for r in path.read_bytes().splitlines() if b'"earnings22-002"' not in r]
        path.write_bytes(b"\n".join(kept) + b"\n")
        side = parts_path(path)
        side.write_bytes(b"".join(side.read_bytes().splitlines(keepends=True)[:2]))
        before = mock.state.counters["openai.requests"]
        code, _, err, rows = await run(mock.url, data, results, "--processes", processes)
        sent = mock.state.counters["openai.requests"] - before
    assert code == 0, err
    assert "resuming" in err and "2 finished" in err
    assert sent == 1  # only the third part
    [twenty] = [r for r in rows if r["id"] == "earnings22-002"]
    assert twenty["status"] == "ok" and twenty["parts"] == 3
    assert twenty["pred_text"] == refs["earnings22-002"]


async def test_over_the_limit_with_chunking_off_or_too_long_to_cut_fails_that_sample(
    split: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    data, _ = split
    async with MockServer(MockConfig()) as mock:
        code, _, err, rows = await run(mock.url, data, tmp_path / "off", "--chunking", "off")
        assert mock.state.counters["openai.requests"] == 2  # nothing sent for the 20 min
    assert code == 3, err  # one sample failed: exit 3 since #25 item 6 (was 0)
    [failed] = [r for r in rows if r["status"] == "failed"]
    assert failed["id"] == "earnings22-002" and failed["error_kind"] == "over_limit"
    assert "over openai's limits (25 MB, 1400 s)" in failed["error"]
    assert "--chunking auto" in failed["error"]
    assert sum(r["status"] == "ok" for r in rows) == 2

    # a byte limit no part of at least 1 s fits under: every recording fails, none is sent
    async with MockServer(MockConfig()) as mock:
        code, _, err, rows = await run(mock.url, data, tmp_path / "tiny", "--max_upload_mb", "0.02")
        assert mock.state.counters["openai.requests"] == 0
    assert code == 3, err  # every sample failed: exit 3 since #25 item 6 (was 0)
    assert [r["error_kind"] for r in rows] == ["too_long"] * 3
    assert "too long to cut" in rows[0]["error"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--chunking", "maybe"), "error: --chunking must be one of auto, off (got 'maybe')"),
        (("--chunk_max_s", "0.5"), "error: --chunk_max_s must be at least 1 s (got 0.5)"),
        (("--max_upload_mb", "0"), "error: --max_upload_mb must be positive"),
        (("--timeout_per_audio_s", "-1"), "error: --timeout_per_audio_s must be 0 or more"),
    ],
)
async def test_bad_long_form_flags_are_one_line_and_exit_2(
    split: tuple[Path, dict[str, str]], tmp_path: Path, flags: tuple[str, str], message: str
) -> None:
    data, _ = split
    code, _, err, rows = await run("http://127.0.0.1:9", data, tmp_path / "r", *flags)
    assert code == 2 and err.strip() == message and rows == []


async def test_use_url_downloads_a_long_recording_and_sends_it_in_parts(
    split: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """`--use_url` for a provider that takes bytes: the viewer's audio is downloaded, and a
    recording over the limits is cut as in local mode."""
    data, refs = split
    dataset_id = f"{data.parent.name}/{data.name}"
    async with MockServer(MockConfig(viewer_root=data.parent.parent)) as mock:
        code, _, err = await run_cli_async(
            "run",
            "--use_url",
            "--model_name",
            "openai/whisper-1",
            "--dataset_path",
            dataset_id,
            "--dataset",
            "earnings22",
            "--results_dir",
            tmp_path / "results",
            "--no_progress",
            env=cli_env(
                OPENAI_API_KEY="sk-test",
                OPENAI_BASE_URL=f"{mock.url}/v1",
                HF_DATASETS_SERVER_URL=mock.url,
            ),
            timeout=300,
        )
        refused = mock.state.counters["openai.413"]
    assert code == 0 and "Traceback" not in err, err
    rows = {r["id"]: r for r in read_results(only_file(tmp_path / "results"))}
    assert {i: r["pred_text"] for i, r in rows.items()} == refs and refused == 0
    assert rows["earnings22-002"]["parts"] == 3 and "parts" not in rows["earnings22-001"]
