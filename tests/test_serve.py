"""The local pocketsphinx servers, for real: flite speech in, words out, over loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import numpy as np
import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.servers.serve import (
    AsrServer,
    ServerProcess,
    format_ports,
    parse_ports,
    to_pcm16_mono_16k,
    transcribe_audio,
)
from asyncbench.sources.hub_layout import encode_audio, encode_wav

from ._speech import SENTENCES, SHORT_SENTENCE, free_ports, speech_wav, wav_samples, word_errors


@pytest.fixture(scope="module")
def server() -> ServerProcess:
    """One `asyncbench serve` child on two ports with two workers, shared by the module."""
    with ServerProcess(free_ports(2), workers=2) as srv:
        yield srv


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    async with session.post(url, data=body, headers=headers or {"Content-Type": "wave"}) as resp:
        return resp.status, await resp.json()


# --------------------------------------------------------------------------- port specs


@pytest.mark.parametrize(
    ("spec", "ports"),
    [
        ("8800", [8800]),
        ("8800-8803", [8800, 8801, 8802, 8803]),
        ("8800,8801 8805", [8800, 8801, 8805]),
        (" 8810-8811, 8800 ,8802-8802 ", [8810, 8811, 8800, 8802]),
        ("8800\t8801\n8802", [8800, 8801, 8802]),
    ],
)
def test_parse_ports_takes_ranges_and_lists(spec: str, ports: list[int]) -> None:
    assert parse_ports(spec) == ports


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no ports given"),
        (" , ", "no ports given"),
        ("88a0", "bad port '88a0'"),
        ("8800-", "bad port '8800-'"),
        ("8800:8801", "bad port '8800:8801'"),
        ("0", "port 0 in '0' is out of range 1-65535"),
        ("8800-70000", "port 70000 in '8800-70000' is out of range 1-65535"),
        ("8820-8800", "range '8820-8800' in '8820-8800' runs backwards: write 8800-8820"),
        ("8800-8802,8801", "port 8801 is listed twice"),
        ("1000-3000", "'1000-3000' names more than 1024 ports"),
    ],
)
def test_parse_ports_rejects_bad_specs_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_ports(spec)
    assert str(info.value).startswith(message)


def test_format_ports_folds_runs_into_ranges() -> None:
    assert format_ports([8800, 8801, 8802, 8805, 8807, 8808]) == "8800-8802,8805,8807-8808"
    assert parse_ports(format_ports([9000, 9002, 9003])) == [9000, 9002, 9003]


def test_importing_serve_loads_no_heavy_module() -> None:
    code = (
        "import sys, asyncbench.servers.serve;"
        "print(sorted(m for m in ('torch', 'torchcodec', 'pocketsphinx', 'datasets', 'aiohttp')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _pcm24(samples: np.ndarray) -> bytes:
    """A 24-bit PCM WAV (the stdlib writes any integer width; encode_wav has no 24-bit)."""
    import io
    import wave

    wide = samples.astype("<i4") << 8
    frames = wide.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(3)
        w.setframerate(16000)
        w.writeframes(frames)
    return out.getvalue()


def test_16k_integer_wavs_become_mono_pcm16_without_torch() -> None:
    rng = np.random.default_rng(7)
    pcm = rng.integers(-20000, 20000, 4000).astype(np.int16)
    twin = np.stack([pcm, pcm // 2])

    def mono(body: bytes) -> np.ndarray:
        return np.frombuffer(to_pcm16_mono_16k(body), "<i2").astype(np.int32)

    assert to_pcm16_mono_16k(encode_wav(pcm, 16000)) == pcm.tobytes()  # frames as sent
    assert np.array_equal(mono(_pcm24(pcm)), pcm)
    assert np.array_equal(mono(encode_wav(pcm, 16000, sample_format="s32")), pcm)
    expected = np.round((pcm.astype(np.float64) + pcm // 2) / 2)
    assert np.abs(mono(encode_wav(twin, 16000)) - expected).max() <= 1  # channels averaged
    assert np.abs(mono(encode_wav(pcm, 16000, sample_format="u8")) - pcm).max() <= 128
    code = (
        "import sys, numpy as np; from asyncbench.servers.serve import to_pcm16_mono_16k;"
        "from asyncbench.sources.hub_layout import encode_wav;"
        "to_pcm16_mono_16k(encode_wav(np.zeros((2, 800), np.int16), 16000, sample_format='u8'));"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_other_rates_and_float_wavs_are_resampled_to_16k() -> None:
    tone = np.sin(np.arange(8000) / 4).astype(np.float32) * 0.5  # 1 s at 8 kHz
    for body in (encode_wav(tone, 8000), encode_wav(tone, 8000, sample_format="f32")):
        assert len(to_pcm16_mono_16k(body)) == 2 * 16000


# --------------------------------------------------------------------------- recognition


async def test_health_reports_engine_workers_and_ports(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        for port in server.ports:
            async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                assert resp.status == 200
                body = await resp.json()
            assert body["status"] == "ok"
            assert body["engine"] == "pocketsphinx"
            assert body["workers"] == 2
            assert body["ports"] == server.ports
    assert server.output().splitlines()[0] == (
        f"serving pocketsphinx on 127.0.0.1:{format_ports(server.ports)} (2 workers)"
    )


async def test_16k_wav_is_recognised_on_every_port_and_path(server: ServerProcess) -> None:
    sentence = SENTENCES[1]
    wav = speech_wav(sentence)
    urls = [
        f"http://127.0.0.1:{port}{path}"
        for port in server.ports
        for path in ("/asr/transcribe", "/transcribe")
    ]
    # The protocol's odd "wave" content type, a standard one, and none at all: all accepted.
    headers = [{"Content-Type": "wave"}, {"Content-Type": "audio/wav"}, {}, {"X-Any": "1"}]
    async with aiohttp.ClientSession() as session:
        replies = await asyncio.gather(
            *(post(session, url, wav, h) for url, h in zip(urls, headers, strict=True))
        )
    for status, body in replies:
        assert status == 200
        assert set(body) == {"text"}
        assert word_errors(sentence, body["text"]) <= 1, body["text"]


def _layouts(samples: np.ndarray) -> dict[str, bytes]:
    stereo = np.stack([samples, samples])
    return {
        "wav 8 kHz stereo": encode_audio(stereo, 16000, "wav", out_rate=8000),
        "wav 44.1 kHz stereo": encode_audio(stereo, 16000, "wav", out_rate=44100),
        "wav 16 kHz float32": encode_wav(samples, 16000, sample_format="f32"),
        "wav 16 kHz 8-bit": encode_wav(samples, 16000, sample_format="u8"),
        "wav 16 kHz 32-bit stereo": encode_wav(stereo, 16000, sample_format="s32"),
        "flac 22.05 kHz": encode_audio(samples, 16000, "flac", out_rate=22050),
        "mp3 44.1 kHz stereo": encode_audio(stereo, 16000, "mp3", out_rate=44100),
    }


async def test_other_wav_layouts_and_containers_are_decoded(server: ServerProcess) -> None:
    sentence = SENTENCES[0]
    samples, rate = wav_samples(speech_wav(sentence))
    assert rate == 16000
    layouts = _layouts(samples)
    assert layouts["wav 8 kHz stereo"][22:28] == b"\x02\x00\x40\x1f\x00\x00"  # 2 ch, 8000 Hz
    url = server.urls[0]
    async with aiohttp.ClientSession() as session:
        replies = await asyncio.gather(*(post(session, url, body) for body in layouts.values()))
    for name, (status, body) in zip(layouts, replies, strict=True):
        assert status == 200, (name, body)
        # Telephone-band audio has lost everything above 4 kHz, which the 16 kHz model
        # misses; a wrong rate or channel layout would give no sentence at all, though.
        allowed = len(sentence.split()) // 2 if "8 kHz" in name else 2
        assert word_errors(sentence, body["text"]) <= allowed, (name, body["text"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not audio at all", "cannot decode audio: "),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "cannot decode audio: "),
        (b"fLaC" + bytes(64), "cannot decode audio: "),
        (b"", "empty request body: send the audio file's bytes"),
    ],
)
async def test_undecodable_or_empty_bodies_are_400_with_a_reason(
    server: ServerProcess, body: bytes, reason: str
) -> None:
    async with aiohttp.ClientSession() as session:
        status, reply = await post(session, server.urls[1], body)
    assert status == 400
    assert set(reply) == {"error"}
    assert reply["error"].startswith(reason)
    if body:
        assert f"body of {len(body)} bytes" in reply["error"]
        assert "SingleStreamDecoder" not in reply["error"]  # no C++ noise from torchcodec


async def test_zero_length_audio_is_valid_and_says_nothing(server: ServerProcess) -> None:
    silent = np.zeros(0, dtype=np.int16)
    async with aiohttp.ClientSession() as session:
        for body in (encode_wav(silent, 16000), encode_audio(silent, 16000, "flac")):
            assert await post(session, server.urls[0], body) == (200, {"text": ""})


async def test_health_answers_at_once_while_every_worker_is_busy(server: ServerProcess) -> None:
    """The event loop only awaits the pool, so a queue of recognitions never stalls it."""
    sentence = SENTENCES[2]
    wav = speech_wav(sentence)
    health = f"http://127.0.0.1:{server.ports[1]}/health"
    async with aiohttp.ClientSession() as session:
        jobs = [asyncio.create_task(post(session, server.urls[0], wav)) for _ in range(6)]
        await asyncio.sleep(0.2)
        delays = []
        in_flight = []
        for _ in range(5):
            t0 = time.perf_counter()
            async with session.get(health) as resp:
                in_flight.append((await resp.json())["in_flight"])
            delays.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)
        replies = await asyncio.gather(*jobs)
    assert max(in_flight) >= 3  # more requests waiting than there are workers
    # A loop blocked by recognition would answer after ~1 s (one clip's decoding); the
    # median leaves room for a busy machine's scheduling hiccups.
    assert sorted(delays)[len(delays) // 2] < 0.3, delays
    for status, body in replies:
        assert status == 200
        assert word_errors(sentence, body["text"]) <= 1, body["text"]


# --------------------------------------------------------------------------- in process


async def test_in_process_server_with_key_latency_and_port_zero() -> None:
    wav = speech_wav(SENTENCES[0])
    srv = AsrServer([0], workers=1, latency=0.3, api_key="s3cret-key")
    starting = asyncio.create_task(srv.start())
    try:
        while not srv.ports and not starting.done():
            await asyncio.sleep(0.01)
        port = srv.ports[0]
        assert port != 0
        health = f"http://127.0.0.1:{port}/health"
        async with aiohttp.ClientSession() as session:
            async with session.get(health) as resp:
                # Bound, but the worker is still loading its model: not ready yet.
                assert (resp.status, (await resp.json())["status"]) == (503, "starting")
            await starting
            async with session.get(health) as resp:  # no key needed for health
                assert (resp.status, (await resp.json())["status"]) == (200, "ok")
            url = srv.urls[0]
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key"}):
                status, body = await post(session, url, wav, headers)
                assert status == 401
                assert body["error"].startswith("missing or invalid API key")
                assert "s3cret" not in body["error"]
            t0 = time.perf_counter()
            status, body = await post(session, url, wav, {"Authorization": "Bearer s3cret-key"})
            assert time.perf_counter() - t0 >= 0.3
        assert status == 200
        assert word_errors(SENTENCES[0], body["text"]) <= 1
        assert (srv.served, srv.rejected) == (1, 3)
    finally:
        await srv.close()


async def test_a_killed_worker_costs_one_503_and_the_pool_heals() -> None:
    sentence = SENTENCES[2]
    samples, _ = wav_samples(speech_wav(sentence))
    long_wav = encode_wav(np.tile(samples, 4), 16000)  # seconds of recognition work
    async with AsrServer([0], workers=1) as srv, aiohttp.ClientSession() as session:
        (pid,) = srv.worker_pids
        url = srv.urls[0]

        async def doomed() -> tuple[int, str | None, dict]:
            async with session.post(url, data=long_wav) as resp:
                return resp.status, resp.headers.get("Retry-After"), await resp.json()

        request = asyncio.create_task(doomed())
        while srv.in_flight == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the worker is now deep in recognition
        os.kill(pid, signal.SIGKILL)
        status, retry_after, body = await request
        assert (status, retry_after) == (503, "1")
        assert body == {"error": "a recogniser process died; the pool was restarted, retry"}

        status, body = await post(session, url, speech_wav(sentence))
        assert status == 200
        assert word_errors(sentence, body["text"]) <= 1
        assert len(srv.worker_pids) == 1 and srv.worker_pids != [pid]


async def test_ctrl_c_while_workers_load_is_a_quiet_exit_0() -> None:
    srv = ServerProcess(free_ports(1), workers=2).launch()
    health = f"http://127.0.0.1:{srv.ports[0]}/health"
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(health) as resp:
                    status = resp.status
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
    assert status == 503  # bound, workers still loading their models
    code = await asyncio.to_thread(srv.stop)
    assert code == 0
    assert srv.output() == ""  # no ready line, and no traceback from any process


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "--workers must be at least 1 (got 0)"),
        ({"latency": -1.0}, "--latency must be 0 or more seconds (got -1.0)"),
    ],
)
def test_bad_server_settings_are_config_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        AsrServer([8800], **kwargs)
    assert str(info.value) == message


# --------------------------------------------------------------------------- the CLI


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncbench", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_port_in_use_is_one_error_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = free_ports(1)[0]
        out = _run_cli("--ports", f"{free} {port}", "--workers", "1")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is already in use (another server is running "
        "there?); stop it or choose other --ports"
    )


def test_server_process_reports_a_taken_port_as_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as info, ServerProcess([port], workers=1):
            pass
    assert str(info.value).startswith(f"port {port} on 127.0.0.1 is already in use")


def test_bad_port_spec_on_the_command_line_exits_2() -> None:
    out = _run_cli("--ports", "8800-88x")
    assert out.returncode == 2
    assert out.stderr.startswith("error: bad port '8800-88x' in '8800-88x'")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("how", ["ctrl-c to the process group", "SIGTERM to the server"])
async def test_signals_stop_the_server_cleanly_after_requests_in_flight(how: str) -> None:
    sentence = SHORT_SENTENCE
    wav = speech_wav(sentence)
    srv = ServerProcess(free_ports(1), workers=1, latency=0.4)
    srv.start()
    try:
        async with aiohttp.ClientSession() as session:
            request = asyncio.create_task(post(session, srv.urls[0], wav))
            await asyncio.sleep(0.2)  # the request is now in the server's hands
            if how == "SIGTERM to the server":
                srv.proc.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(srv.proc.wait, 20)
            else:
                code = await asyncio.to_thread(srv.stop)
            status, body = await request
    finally:
        srv.stop()
    assert code == 0
    # Handlers in flight are given a grace period: the answer still arrives, complete.
    assert status == 200
    assert word_errors(sentence, body["text"]) <= 1
    output = srv.output()
    assert "Traceback" not in output
    assert output.splitlines() == [f"serving pocketsphinx on 127.0.0.1:{srv.ports[0]} (1 worker)"]


def test_a_transcript_does_not_depend_on_what_the_worker_decoded_before() -> None:
    """Two clips of the demo set (built by its own code: flite, 16 kHz, FLAC): the second's
    transcript is the same from a fresh recogniser and after the first. Before each clip got
    a fresh front end, pocketsphinx's carried-over cepstral means turned "the train to the
    study leave ..." into "the printer that the tea leaves ...", so the demo's WER moved
    with the client's scheduling."""
    from asyncbench.servers import serve
    from asyncbench.sources.demo_data import _clip_row, demo_clips, flite_path

    by_id = {clip.id: clip for clip in demo_clips()}
    before, clip = (
        _clip_row(by_id[name], flite_path())["audio"]["bytes"]
        for name in ("librispeech-test.clean-009", "librispeech-test.other-003")
    )
    serve._decoder = None  # this process's recogniser, fresh
    try:
        fresh = transcribe_audio(clip)
        transcribe_audio(before)
        assert transcribe_audio(clip) == fresh
    finally:
        serve._decoder = None  # not kept alive for the rest of the suite
    assert fresh.startswith("the train to the")
