"""The benchmark's own tools work, so `make bench` cannot silently rot.

No timings are asserted here (figures belong to the benchmark): the server answers each
clip with its own watermark text, measures itself, and the whole benchmark — dataset, server,
the seed's thread-pool baseline and asyncbench — runs end to end on 20 clips with every
transcript right.
"""

from __future__ import annotations

import http.client
import io
import os

import orjson
import pytest
import soundfile as sf

from asyncbench.sources import watermark
from asyncbench.sources.audio import wav_header
from bench import clips, engine
from bench.aldea_server import ServerProcess, parse_ports, phase_figures

from .loopback import free_port


def post(port: int, body: bytes, conn: http.client.HTTPConnection | None = None) -> tuple:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/asr/transcribe", body=body, headers={"Content-Type": "wave"})
    resp = conn.getresponse()
    return resp.status, orjson.loads(resp.read())


def wav(text: str, seconds: float = 0.5) -> bytes:
    pcm = watermark.embed(text, seconds).tobytes()
    return wav_header(len(pcm)) + pcm


def test_server_answers_each_clip_with_its_watermark_text() -> None:
    ports = [free_port(), free_port()]
    with ServerProcess(ports, latency=0.05) as server:
        conn = http.client.HTTPConnection("127.0.0.1", ports[1], timeout=10)
        for text in ("first clip", "second clip on the same connection", "ünïcode too"):
            assert post(ports[1], wav(text), conn) == (200, {"text": text})
        conn.close()
        # what the seed sends: soundfile's WAV of the float array datasets decodes
        decoded = watermark.embed("written by soundfile", 1.0).astype("float32") / 32768
        out = io.BytesIO()
        sf.write(out, decoded, 16000, format="WAV")
        assert post(ports[0], out.getvalue()) == (200, {"text": "written by soundfile"})
        silence = wav_header(3200) + bytes(3200)
        assert post(ports[0], silence)[0] == 400
        stats = server.stats()
    assert stats["requests"] == 5 and stats["replied"] == 5 and stats["bad"] == 1
    assert stats["phase_s"] > 0 and stats["cpu_s"] > 0 and stats["latency"] == 0.05


def test_phase_figures_count_requests_in_flight_between_first_reply_and_last_arrival() -> None:
    # one request is held over the whole window [1, 2], a second one joins halfway
    figures = phase_figures([0.0, 0.0, 1.5, 2.0], [1.0, 2.5, 3.0, 3.0])
    assert figures["phase_s"] == 3.0 and figures["steady_s"] == 1.0
    assert figures["steady_in_flight"] == pytest.approx(1.5)


def test_port_lists() -> None:
    assert parse_ports("18800-18802,18810") == [18800, 18801, 18802, 18810]


def test_references_are_unique_and_already_normalised() -> None:
    from asyncbench.scoring import normalize

    refs = [clips.reference(i) for i in range(3000)]
    assert len(set(refs)) == len(refs)
    assert all(normalize(r) == r for r in refs[:300])
    assert all(clips.MIN_S <= clips.duration(i) <= clips.MAX_S for i in range(300))


def test_the_benchmark_runs_end_to_end_on_20_clips(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    ports = [free_port() for _ in range(3)]
    code = engine.main(
        [
            "--n",
            "20",
            "--workers",
            "8",
            "--latency",
            "0.05",
            "--ports",
            ",".join(map(str, ports)),
            "--parts",
            "baseline,asyncbench",
            "--cache",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| seed baseline | 20 | 8 |" in out and "| asyncbench | 20 | 8 |" in out
    assert "MET     every transcript right in all 2 runs" in out
    assert parse_ports(",".join(map(str, ports))) == ports


def test_the_engine_cost_bench_runs_and_checks_its_lines(capsys) -> None:  # type: ignore[no-untyped-def]
    from bench import engine_cost

    assert engine_cost.main(["--n", "300", "--workers", "32", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "engine alone, 300 requests at 32 in flight:" in out and "every line checked" in out


@pytest.mark.parametrize("mode", ["floor", "floor-drflac", "decode", "decode-drflac", "post"])
def test_the_floor_client_checks_every_answer(mode: str, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Each floor mode decodes (libsndfile or dr_flac) and/or POSTs 12 clips; every answer
    is the clip's own text (a decoder that lost or garbled samples breaks the watermark)."""
    from bench import floor_client

    ds = clips.build(12, cache=tmp_path, log=lambda *a: None)
    port = free_port()
    with ServerProcess([port], 0.0):
        argv = ["--mode", mode, "--dataset", str(ds), "--n", "12", "--workers", "4"]
        assert floor_client.main([*argv, "--endpoints", f"127.0.0.1:{port}"]) == 0
    line = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["n"] == 12 and line["wrong"] == 0 and line["work_cpu_s"] > 0


def test_dr_flac_and_libsndfile_floors_give_the_same_wav() -> None:
    from bench import floor_client

    pcm = watermark.embed("one floor or the other", 1.5)
    buf = io.BytesIO()
    sf.write(buf, pcm, 16000, format="FLAC", subtype="PCM_16")
    wav_bytes = floor_client.decode(buf.getvalue())
    assert wav_bytes == floor_client.decode_drflac(buf.getvalue())
    assert wav_bytes[44:] == pcm.tobytes()


def test_aldea_command_runs_the_bench_clips_against_the_bench_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The one command line the saturation, open-loop, sweep, client-cost, batch and
    reply-cap benches start from: it must read the bench's set and score every clip right."""
    import subprocess
    import sys

    ds = clips.build(6, cache=tmp_path / "clips")
    results = tmp_path / "results"
    with ServerProcess([free_port()], 0.0) as server:
        argv = clips.aldea_command("run", ds, server.endpoints, "--results_dir", str(results))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALDEA_")}
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(clips.REPO))
        done = subprocess.run([*argv, "--no_progress"], env=env, capture_output=True, text=True)
    assert argv[:4] == [sys.executable, "-m", "asyncbench", "run"]
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [orjson.loads(x) for f in results.glob("*.jsonl") for x in f.read_bytes().splitlines()]
    assert {x["id"]: x["pred_text"] for x in lines} == clips.expected(6)
