"""Bad input, through the real CLI: each gives the user one clear line.

Per-sample problems (corrupt bytes, zero-length audio, a WAV without samples) are recorded in
the ledger as failed(bad_audio) with their message, and the run goes on; stereo, 44.1/48 kHz,
MP3 and FLAC sources just work. Configuration problems stop before any request with exit code
2 and one `error:` line — checked against a live server that must see no request at all.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from asyncbench.results.manifest import manifest_path
from asyncbench.results.store import results_name
from asyncbench.sources.audio import parse_wav, wav_header
from asyncbench.sources.hub_layout import encode_audio, encode_wav, write_hub_folder

from .faultkit import (
    dataset_fixture,
    failed_by_kind,
    finish,
    ledger,
    numbered_dataset,
    results_file,
    run_args,
    server,
    start,
)
from .support import cli_env, heard

RATE = 16000
#: clips without a watermark say which they are by the pitch of a tone
TONES = {
    500: "A stereo clip at sixteen kilohertz.",
    900: "A mono clip at forty four kilohertz.",
    1300: "A stereo MP3 at forty four kilohertz.",
    1700: "A FLAC clip at forty eight kilohertz.",
}
CORRUPT = b"\x00\x01 this is not audio \xfe\xff" * 40


def tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.stack([mono] * channels) if channels > 1 else mono


def row(sid: str, text: str, audio: bytes, seconds: float, ext: str) -> dict:
    return {
        "audio": {"bytes": audio, "path": f"{sid}.{ext}"},
        "text": text,
        "id": sid,
        "dataset": "mixed",
        "audio_length_s": seconds,
    }


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One split of every kind of clip a dataset may hold."""
    from asyncbench.sources import watermark

    plain = "A plain clip."
    rows = [
        row("plain", plain, encode_wav(watermark.embed(plain, 1.0), RATE), 1.0, "wav"),
        row("stereo16k", TONES[500], encode_wav(tone(500, 1.0, RATE, 2), RATE), 1.0, "wav"),
        row("wav44k", TONES[900], encode_wav(tone(900, 1.2, 44100), 44100), 1.2, "wav"),
        row("mp3", TONES[1300], encode_audio(tone(1300, 1.4, 44100, 2), 44100, "mp3"), 1.4, "mp3"),
        row(
            "flac48k", TONES[1700], encode_audio(tone(1700, 1.1, 48000), 48000, "flac"), 1.1, "flac"
        ),
        row("short", "Too short to send.", encode_wav(tone(700, 0.1, RATE), RATE), 0.1, "wav"),
        row("corrupt", "Corrupt bytes.", CORRUPT, 1.0, "wav"),
        row("empty", "No bytes at all.", b"", 0.0, "wav"),
        row("nosamples", "A header and nothing else.", wav_header(0), 0.0, "wav"),
    ]
    return write_hub_folder(tmp_path_factory.mktemp("mixed") / "esb", {"mixed": {"test": rows}})


def by_pitch(body: bytes) -> str:
    """The server's 'recognition': the watermark, else the tone's pitch. It also insists on
    what the client must send whatever the source: 16 kHz mono PCM16 WAV."""
    info = parse_wav(body)
    if info is None or (info.rate, info.channels, info.bits) != (RATE, 1, 16):
        return f"not 16 kHz mono PCM16: {body[:16]!r}"
    text = heard(body)
    if text is not None:
        return text
    pcm = np.frombuffer(body[info.data_offset :], dtype="<i2").astype(np.float64)
    peak = float(np.argmax(np.abs(np.fft.rfft(pcm)))) * RATE / len(pcm)
    nearest = min(TONES, key=lambda f: abs(f - peak))
    return TONES[nearest] if abs(nearest - peak) < 50 else f"unknown tone at {peak:.0f} Hz"


async def test_bad_clips_are_recorded_and_odd_formats_just_work(
    mixed: Path, tmp_path: Path
) -> None:
    async with server(2, transcript=by_pitch) as srv:
        args = run_args(mixed, srv.endpoints, tmp_path, config="mixed")
        code, _, err = await finish(await start(args))
    assert code == 3, err  # undecodable clips fail: exit 3 since #25 item 6 (was 0)
    rows = ledger(results_file(mixed, tmp_path, config="mixed"))
    assert sorted(rows) == sorted(
        ["plain", "stereo16k", "wav44k", "mp3", "flac48k", "short", "corrupt", "empty", "nosamples"]
    )
    for sid in ("plain", "stereo16k", "wav44k", "mp3", "flac48k"):
        assert rows[sid]["status"] == "ok" and rows[sid]["pred_text"] == rows[sid]["text"], sid
    assert abs(rows["mp3"]["duration"] - 1.4) < 0.1 and abs(rows["wav44k"]["duration"] - 1.2) < 0.01
    assert (rows["short"]["status"], rows["short"]["pred_text"]) == ("skipped_short", ".")
    expected_errors = {
        "corrupt": f"cannot decode audio ({len(CORRUPT)} bytes, unrecognised content): "
        "Failed to open input buffer: Invalid data found when processing input",
        "empty": "empty audio: the clip has no bytes",
        "nosamples": "empty audio: the WAV has no samples",
    }
    for sid, message in expected_errors.items():
        r = rows[sid]
        assert (r["status"], r["error_kind"], r["attempts"]) == ("failed", "bad_audio", 0), r
        assert r["error"] == message
    assert len(srv.seen) == 5  # bad and short clips cost no request
    assert "this run: 9 samples written (5 ok, 1 too short to send, 3 failed)" in err
    assert failed_by_kind(err) == {"bad_audio": 3}
    assert "Traceback" not in err


# -- configuration problems: exit 2, one line, no request ---------------------------------------


esb = dataset_fixture("config", 4)


@pytest.fixture(scope="module")
def no_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clip = encode_wav(tone(440, 1.0, RATE), RATE)
    rows = [
        {"audio": {"bytes": clip, "path": f"{i}.wav"}, "id": f"s{i}", "audio_length_s": 1.0}
        for i in range(2)
    ]
    return write_hub_folder(tmp_path_factory.mktemp("notext") / "esb", {"ami": {"test": rows}})


async def one_line_error(args: list[str], env: dict[str, str] | None = None, **kw) -> str:  # type: ignore[no-untyped-def]
    code, out, err = await finish(await start(args, env=env, **kw))
    assert code == 2, (args, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert out == ""
    return err.strip()


async def test_configuration_problems_stop_before_any_request(
    esb: Path, no_text: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    results = tmp_path / "results"
    as_folder = results_file(esb, results)
    as_folder.mkdir(parents=True)  # the results *file* is a folder
    async with server(1) as srv:
        ep = srv.endpoints

        def run(dataset: Path, out: Path, *extra: str | int) -> list[str]:
            return run_args(dataset, ep, out, *extra)

        cases: list[tuple[list[str], dict[str, str] | None, str]] = [
            (
                run(no_text, tmp_path / "r1"),
                None,
                f"error: {no_text} ami/test has no text column (text, sentence, "
                "normalized_text, transcript or transcription); "
                "columns present: audio, id, audio_length_s",
            ),
            (
                run(esb, blocker),
                None,
                f"error: results directory {blocker} is a file, not a folder; "
                "pick another with --results_dir",
            ),
            (
                run(esb, Path("/proc/self")),
                None,
                "error: results directory /proc/self is not writable; "
                "pick another with --results_dir",
            ),
            (
                run(esb, results),
                None,
                f"error: cannot read results file {as_folder}: Is a directory",
            ),
            (
                run(esb, tmp_path / "r2"),
                cli_env(ALDEA_RPS="fast"),
                "error: ALDEA_RPS must be a number of requests per second (got 'fast')",
            ),
            (
                run(esb, tmp_path / "r3"),
                cli_env(ALDEA_RPS="0"),
                "error: ALDEA_RPS must be positive (got '0')",
            ),
            (run(esb, tmp_path / "r4", "--rps", 0), None, "error: --rps must be positive"),
            (run(esb, tmp_path / "r5", "--timeout", 0), None, "error: --timeout must be positive"),
            (
                run(esb, tmp_path / "r6", "--max_retries", -1),
                None,
                "error: --max_retries must be 0 or more",
            ),
        ]
        errors = await asyncio.gather(*(one_line_error(a, env) for a, env, _ in cases))
        assert srv.seen == []
    for (_, _, message), err in zip(cases, errors, strict=True):
        assert err == message
    for out in ("r1", "r2", "r3", "r4", "r5", "r6"):
        assert not list((tmp_path / out).glob("*.jsonl"))


# -- a results file that belongs to another run -------------------------------------------------


async def test_results_file_of_another_model_or_dataset_is_refused(tmp_path: Path) -> None:
    """`aldea/x/y` and `aldea/x-y` share a file name, and so do `--dataset_path esb` run from
    two folders; the sidecar manifest tells them apart before any request."""
    results = tmp_path / "results"
    for folder, n in (("a", 3), ("b", 4)):
        numbered_dataset(tmp_path / folder / "esb", n)
    model_file = results / results_name("aldea/x/y", "esb", "ami", "test")
    assert model_file == results / results_name("aldea/x-y", "esb", "ami", "test")

    def args(model: str, ep: str) -> list[str]:
        a = run_args(Path("esb"), ep, results)
        a[a.index("--model_name") + 1] = model
        return a

    async with server(1) as setup:
        code, _, err = await finish(
            await start(args("aldea/x/y", setup.endpoints), cwd=tmp_path / "a")
        )
        assert code == 0, err
    meta = manifest_path(model_file)
    # the identity resume compares (format 2 adds provenance beside it: tests/test_identity.py)
    sidecar = json.loads(meta.read_text())
    assert {k: sidecar[k] for k in list(sidecar)[:6]} == {
        "format": "asyncbench-results/2",
        "model_name": "aldea/x/y",
        "dataset_source": str(tmp_path / "a" / "esb"),
        "config": "ami",
        "split": "test",
        "language": "en",
    }
    lines_before = model_file.read_bytes()

    async with server(1) as srv:
        ep = srv.endpoints
        # one after the other: both name the same results file, and a second run of a file
        # that is in use is refused by its lock (a different line) whatever its manifest says
        other_model = await one_line_error(args("aldea/x-y", ep), cwd=tmp_path / "a")
        other_data = await one_line_error(args("aldea/x/y", ep), cwd=tmp_path / "b")
        meta.write_text("{")  # torn by hand: it cannot vouch for the file any more
        unreadable = await one_line_error(args("aldea/x/y", ep), cwd=tmp_path / "a")
        assert srv.seen == []
    tail = "pass another --results_dir, or move both files away to start afresh"
    assert other_model == (
        f"error: results file {model_file} belongs to another run (model 'aldea/x/y', "
        f"says {meta.name}), not to this one (model 'aldea/x-y'); {tail}"
    )
    assert other_data == (
        f"error: results file {model_file} belongs to another run (dataset "
        f"'{tmp_path / 'a' / 'esb'}', says {meta.name}), not to this one (dataset "
        f"'{tmp_path / 'b' / 'esb'}'); {tail}"
    )
    assert unreadable == (
        f"error: cannot read {meta} (not valid JSON), so {model_file} cannot be checked to "
        f"belong to this run; delete {meta.name} if the results file is this run's, or pass "
        "another --results_dir"
    )
    assert model_file.read_bytes() == lines_before  # refused runs touch nothing

    # a file from before manifests is adopted by the run that resumes it
    meta.unlink()
    async with server(1) as srv:
        code, _, err = await finish(
            await start(args("aldea/x/y", srv.endpoints), cwd=tmp_path / "a")
        )
    assert code == 0, err
    assert f"note: {model_file} had no {meta.name}; adopted" in err
    assert json.loads(meta.read_text())["model_name"] == "aldea/x/y"
    assert srv.seen == [] and model_file.read_bytes() == lines_before  # all 3 were done
