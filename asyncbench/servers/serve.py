"""Real local ASR servers that speak the Aldea protocol, backed by pocketsphinx.

Benchmarks and tests need an endpoint that does genuine recognition (so WER means something)
and costs real CPU time (so concurrency, queueing and RTFx behave as they would against a
self-hosted model), yet runs offline on a small machine. pocketsphinx ships its English model
inside its wheel, so that is the engine.

One process serves every port: a single aiohttp app is bound to several `TCPSite`s and all of
them share one `ProcessPoolExecutor`. Each worker process builds its pocketsphinx `Decoder`
once and reuses it; the event loop only reads bodies and awaits futures, so hundreds of
requests can wait in flight without stalling `/health` or new connections.

Nothing heavy is imported at module level: `asyncbench --help` must stay instant, and the
worker processes import pocketsphinx (and torchcodec only for non-trivial audio) themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Annotated, Any, Self

import typer

from asyncbench.core.errors import ConfigError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "AsrServer",
    "AudioError",
    "ServerProcess",
    "format_ports",
    "parse_ports",
    "serve",
    "serve_command",
    "to_pcm16_mono_16k",
    "transcribe_audio",
]

ENGINE = "pocketsphinx"
SAMPLE_RATE = 16000
TRANSCRIBE_PATHS = ("/asr/transcribe", "/transcribe")
# ESB clips reach a few minutes; aiohttp's 1 MiB default would reject a 35 s WAV.
MAX_BODY_BYTES = 512 * 1024 * 1024
# A typo such as "1000-60000" should fail loudly instead of opening 59,001 sockets.
MAX_PORTS = 1024
# How long shutdown lets handlers in flight finish before closing their connections: enough
# for a clip being recognised, short enough that Ctrl-C still feels immediate.
SHUTDOWN_GRACE_S = 3.0


# --------------------------------------------------------------------------- port specs


def parse_ports(spec: str) -> list[int]:
    """Turn "8800-8820", "8800,8801 8805" or "8800-8802, 8810" into a list of ports.

    The seed's endpoint lists are comma- or whitespace-separated, so the server accepts the
    same shapes; ranges are inclusive. Order is kept (it decides the ready line), and every
    mistake names the offending token because a port list is typed by hand.
    """
    tokens = [t for t in re.split(r"[\s,]+", spec.strip()) if t]
    if not tokens:
        raise ValueError("no ports given: use e.g. --ports 8800 or --ports 8800-8820")
    ports: list[int] = []
    seen: set[int] = set()
    for token in tokens:
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", token)
        if match is None:
            raise ValueError(
                f"bad port {token!r} in {spec!r}: use numbers, ranges like 8800-8820, "
                "separated by commas or spaces"
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        for port in (first, last):
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} in {spec!r} is out of range 1-65535")
        if last < first:
            raise ValueError(f"range {token!r} in {spec!r} runs backwards: write {last}-{first}")
        for port in range(first, last + 1):
            if port in seen:
                raise ValueError(f"port {port} is listed twice in {spec!r}")
            seen.add(port)
            ports.append(port)
            if len(ports) > MAX_PORTS:
                raise ValueError(
                    f"{spec!r} names more than {MAX_PORTS} ports; one server process "
                    "is not meant to hold that many"
                )
    return ports


def format_ports(ports: Sequence[int]) -> str:
    """Inverse of `parse_ports` for messages: consecutive runs become ranges."""
    parts: list[str] = []
    i = 0
    while i < len(ports):
        j = i
        while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
            j += 1
        parts.append(str(ports[i]) if i == j else f"{ports[i]}-{ports[j]}")
        i = j + 1
    return ",".join(parts)


# --------------------------------------------------------------------------- worker side


class AudioError(ValueError):
    """The request body is not audio we can decode; the handler turns it into a 400.

    A plain one-argument exception so it pickles back from the worker process intact.
    """


_decoder: Any = None  # one pocketsphinx Decoder per worker process, built by _init_worker
_torch_ready = False


def _init_worker() -> None:
    """Pool initializer: build the recogniser once per process (the model takes ~0.4 s).

    Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent alone
    decides how to shut down; otherwise every worker would print a KeyboardInterrupt trace.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Spawned with SIGINT blocked (see `_sigint_blocked`); now that it is ignored, unblock
    # it, which also discards a Ctrl-C that arrived while this process was starting.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _load_decoder()


def _load_decoder() -> Any:
    global _decoder
    if _decoder is None:
        from pocketsphinx import Decoder

        _decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    return _decoder


def _hold_worker(hold_s: float) -> int:
    """Keep a worker busy briefly so that concurrent warm-ups land on distinct processes."""
    time.sleep(hold_s)
    return os.getpid()


def _wav_fast_path(body: bytes) -> bytes | None:
    """PCM16 mono frames of a 16 kHz integer-PCM WAV, or None when resampling is needed.

    16 kHz mono PCM16 is what benchmark clients send almost always: its frames go straight
    to the recogniser. Other channel counts and bit depths at 16 kHz only need a numpy
    downmix. Everything else (other rates, float WAVs, FLAC, MP3...) goes to torchcodec,
    whose first use costs a worker a few seconds of torch import, so it is kept for those.
    """
    if len(body) < 12 or body[:4] != b"RIFF" or body[8:12] != b"WAVE":
        return None
    try:
        with wave.open(io.BytesIO(body), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            if rate != SAMPLE_RATE:
                return None
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        return None  # e.g. float or WAVE_FORMAT_EXTENSIBLE: FFmpeg knows these
    frames = frames[: len(frames) - len(frames) % (width * channels)]
    if (channels, width) == (1, 2):
        return frames
    return _pcm_to_mono16(frames, channels, width)


def _pcm_to_mono16(frames: bytes, channels: int, width: int) -> bytes | None:
    import numpy as np

    if width == 1:
        ints = np.frombuffer(frames, np.uint8).astype(np.int32) - 128
    elif width == 3:
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (raw[:, 0] << 8 | raw[:, 1] << 16 | raw[:, 2] << 24) >> 8
    elif width in (2, 4):
        ints = np.frombuffer(frames, f"<i{width}").astype(np.int64)
    else:
        return None
    scaled = ints.reshape(-1, channels).mean(axis=1) / float(2 ** (8 * width - 16))
    return np.clip(np.round(scaled), -32768, 32767).astype("<i2").tobytes()


def _decode_any(body: bytes) -> bytes:
    """Decode any FFmpeg-readable container to 16 kHz mono PCM16 (resampling and downmixing)."""
    global _torch_ready
    import numpy as np
    import torch
    from torchcodec.decoders import AudioDecoder

    if not _torch_ready:
        torch.set_num_threads(1)  # one worker per core already; more threads only contend
        _torch_ready = True
    try:
        decoder = AudioDecoder(body, sample_rate=SAMPLE_RATE, num_channels=1)
    except (RuntimeError, ValueError) as exc:
        head = body[:12]
        raise AudioError(
            f"cannot decode audio: {_ffmpeg_reason(exc)} (body of {len(body)} bytes starting "
            f"{head!r}; send WAV, FLAC, MP3 or another FFmpeg-readable file)"
        ) from None
    try:
        samples = decoder.get_all_samples().data
    except RuntimeError:
        # The container opened, so it is valid audio; FFmpeg found no frames in it.
        return b""
    mono = samples[0].numpy()
    return (np.clip(mono, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _ffmpeg_reason(exc: BaseException) -> str:
    """torchcodec prefixes FFmpeg's reason with a C++ file and line; users need only the reason."""
    text = str(exc).strip()
    return re.sub(r"^\w+, \S+:\d+, ", "", text) or type(exc).__name__


def to_pcm16_mono_16k(body: bytes) -> bytes:
    """What pocketsphinx eats: raw little-endian 16-bit mono samples at 16 kHz."""
    if not body:
        raise AudioError("empty request body: send the audio file's bytes (e.g. a 16 kHz WAV)")
    pcm = _wav_fast_path(body)
    return pcm if pcm is not None else _decode_any(body)


def transcribe_audio(body: bytes) -> str:
    """Recognise one encoded clip with this process's decoder; empty audio gives empty text.

    Runs in the pool's workers, and works in any process (tests call it directly).
    """
    decoder = _load_decoder()
    pcm = to_pcm16_mono_16k(body)
    if len(pcm) < 2 * SAMPLE_RATE // 100:  # under 10 ms: pocketsphinx has no frame to decode
        return ""
    # A fresh feature front end for every clip: pocketsphinx carries its cepstral-mean (and
    # noise) estimates from one utterance to the next, so a worker's transcript of a clip
    # depended on which clips it had decoded before, and so on the request order, the
    # concurrency and the number of workers (a fresh `make demo` gave 5.47 % or 5.64 % by
    # the client's scheduling). Rebuilding it costs nothing measurable next to a decode.
    decoder.reinit_feat()
    decoder.start_utt()
    try:
        decoder.process_raw(pcm, full_utt=True)
    finally:
        decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


# --------------------------------------------------------------------------- the server


class _Addresses:
    """What clients are given, for an in-process server and a child process alike."""

    host: str
    ports: list[int]

    @property
    def endpoints(self) -> list[str]:
        """`host:port` per port, the shape `ALDEA_ENDPOINTS` takes."""
        return [f"{self.host}:{port}" for port in self.ports]

    @property
    def urls(self) -> list[str]:
        return [f"http://{self.host}:{port}{TRANSCRIBE_PATHS[0]}" for port in self.ports]


class AsrServer(_Addresses):
    """pocketsphinx behind the Aldea protocol on one or more ports, in this event loop.

    `async with AsrServer(ports=[8800, 8801], workers=2) as srv:` binds the ports, starts the
    worker processes and returns once every worker has loaded its model. Port 0 asks the OS
    for a free port; `srv.ports` then holds the ports really bound.

    Workers are started with "spawn", so, as with any multiprocessing code, a script that
    runs an `AsrServer` in-process needs the `if __name__ == "__main__":` guard (the CLI and
    `ServerProcess` need nothing).
    """

    def __init__(
        self,
        ports: Sequence[int],
        *,
        host: str = "127.0.0.1",
        workers: int | None = None,
        latency: float = 0.0,
        api_key: str | None = None,
    ) -> None:
        if not ports:
            raise ConfigError("no ports given: use e.g. --ports 8800-8820")
        if workers is None:
            workers = default_workers()
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1 (got {workers})")
        if latency < 0:
            raise ConfigError(f"--latency must be 0 or more seconds (got {latency})")
        self.host = host
        self.requested_ports = list(ports)
        self.ports: list[int] = []
        self.workers = workers
        self.latency = latency
        self._api_key = api_key or None
        self._pool: ProcessPoolExecutor | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.ready = False  # /health says "starting" (503) until every worker has its model
        self.in_flight = 0
        self.served = 0
        self.rejected = 0

    # ---- life cycle

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for path in TRANSCRIBE_PATHS:
            app.router.add_post(path, self._handle_transcribe)
        app.router.add_get("/health", self._handle_health)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
        await self._runner.setup()
        # No process starts before the first task, so the pool costs nothing until warm-up;
        # creating it first means a request that slips in during binding finds one.
        self._pool = _new_pool(self.workers)
        try:
            # Bind before warming up: a taken port is the likeliest mistake, and it is then
            # reported without waiting for workers to load their models.
            for port in self.requested_ports:
                site = web.TCPSite(self._runner, self.host, port)
                try:
                    await site.start()
                except OSError as exc:
                    raise ConfigError(_bind_error(self.host, port, exc)) from None
                self.ports.append(_bound_port(site, port))
            await self._warm_up(self._pool)
            self.ready = True
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening, let handlers in flight finish briefly, then stop the workers."""
        self.ready = False
        self._closing = True
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _warm_up(self, pool: ProcessPoolExecutor) -> asyncio.Future[list[int]]:
        """Start every worker of `pool`; the future is done when all have loaded the model.

        Submitting one short-lived task per worker at once makes the pool spawn all of them
        now (each runs the initializer before its task), so "ready" means ready.
        """
        futures = [_submit(pool, _hold_worker, 0.05) for _ in range(self.workers)]
        return asyncio.gather(*(asyncio.wrap_future(f) for f in futures))

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live recogniser workers (for operators and crash tests)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    # ---- what clients see

    def ready_line(self) -> str:
        return (
            f"serving {ENGINE} on {self.host}:{format_ports(self.ports)} "
            f"({self.workers} worker{'s' if self.workers != 1 else ''})"
        )

    # ---- handlers

    async def _handle_health(self, request: web.Request) -> web.Response:
        from aiohttp import web

        return web.json_response(
            {
                "status": "ok" if self.ready else "starting",
                "engine": ENGINE,
                "workers": self.workers,
                "ports": self.ports,
                "in_flight": self.in_flight,
                "served": self.served,
                "rejected": self.rejected,
            },
            status=200 if self.ready else 503,
        )

    async def _handle_transcribe(self, request: web.Request) -> web.Response:
        from aiohttp import web

        if self._api_key is not None and not _authorized(request, self._api_key):
            self.rejected += 1
            return web.json_response(
                {"error": "missing or invalid API key: send 'Authorization: Bearer <key>'"},
                status=401,
            )
        self.in_flight += 1
        try:
            body = await request.read()
            if not body:
                self.rejected += 1
                return web.json_response(
                    {"error": "empty request body: send the audio file's bytes (e.g. a WAV)"},
                    status=400,
                )
            if self.latency:
                await asyncio.sleep(self.latency)
            try:
                text = await self._recognise(body)
            except AudioError as exc:
                self.rejected += 1
                return web.json_response({"error": str(exc)}, status=400)
            except BrokenProcessPool:
                reason = (
                    "the server is shutting down"
                    if self._closing
                    else "a recogniser process died; the pool was restarted, retry"
                )
                return web.json_response(
                    {"error": reason}, status=503, headers={"Retry-After": "1"}
                )
            self.served += 1
            return web.json_response({"text": text})
        finally:
            self.in_flight -= 1

    async def _recognise(self, body: bytes) -> str:
        pool = self._pool
        if pool is None:
            raise BrokenProcessPool("the server is shutting down")
        try:
            return await asyncio.wrap_future(_submit(pool, transcribe_audio, body))
        except BrokenProcessPool:
            # A dead worker poisons the whole executor: replace it once, for everyone, so
            # that the server heals instead of failing every later request.
            if self._pool is pool and not self._closing:
                self._pool = _new_pool(self.workers)
                self._warm_up(self._pool).add_done_callback(_ignore_result)
                pool.shutdown(wait=False, cancel_futures=True)
            raise


def _submit(pool: ProcessPoolExecutor, fn: Any, *args: Any) -> Future[Any]:
    """`pool.submit` with SIGINT blocked, since a submit may spawn a worker process.

    The child inherits the blocked mask, so it can never see a Ctrl-C aimed at the process
    group before its initializer ignores SIGINT (no KeyboardInterrupt traceback from a
    worker that is still importing), and the parent loses nothing: see `_sigint_blocked`.
    """
    with _sigint_blocked():
        return pool.submit(fn, *args)


def _ignore_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so asyncio does not log it; requests report failures


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for the duration; a Ctrl-C meanwhile stays pending and
    is delivered (to asyncio's handler) as soon as the block ends. Processes started inside
    inherit the blocked mask through fork and exec."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def default_workers() -> int:
    """One recogniser per usable core: pocketsphinx is single-threaded and CPU-bound."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _new_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    # "spawn", not fork: the parent may hold threads (torch, the event loop's executor) and
    # forking a threaded process can deadlock the child.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
    )


def _authorized(request: web.Request, api_key: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), api_key.encode()
    )


def _bind_error(host: str, port: int, exc: OSError) -> str:
    import errno

    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another server is running there?); "
            "stop it or choose other --ports"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to listen on {host}:{port}; use a port above 1023"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _bound_port(site: web.TCPSite, requested: int) -> int:
    server = site._server  # aiohttp keeps the asyncio Server here; needed to resolve port 0
    if requested or server is None or not getattr(server, "sockets", None):
        return requested
    return int(server.sockets[0].getsockname()[1])


# --------------------------------------------------------------------------- running it


def serve(
    ports: Sequence[int],
    *,
    host: str = "127.0.0.1",
    workers: int | None = None,
    latency: float = 0.0,
    api_key: str | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly; raises ConfigError on bad input."""
    server = AsrServer(ports, host=host, workers=workers, latency=latency, api_key=api_key)
    runner_kwargs: dict[str, Any] = {}
    try:
        import uvloop

        runner_kwargs["loop_factory"] = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(**runner_kwargs) as runner:
        runner.run(_serve_until_signalled(server))


async def _serve_until_signalled(server: AsrServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Installed before start-up, and start-up races the stop signal: a Ctrl-C while the
    # workers load their models is a quiet stop, not a traceback.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.ensure_future(server.start())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a ConfigError (port taken...) goes to the caller
            print(server.ready_line(), flush=True)
            await stopping
    finally:
        for task in (starting, stopping):
            task.cancel()
        await asyncio.gather(starting, stopping, return_exceptions=True)
        await server.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def serve_command(
    ports: Annotated[
        str,
        typer.Option(
            "--ports",
            help='Ports to listen on: "8800-8820", or a list such as "8800,8801 8805".',
        ),
    ] = "8800",
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", help="Recogniser processes shared by all ports [default: one per core]."
        ),
    ] = None,
    latency: Annotated[
        float,
        typer.Option("--latency", help="Extra fixed delay per request, in seconds (load tests)."),
    ] = 0.0,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api_key",
            envvar="ALDEA_API_KEY",
            show_default=False,
            help="Require 'Authorization: Bearer <key>' on transcription requests.",
        ),
    ] = None,
) -> None:
    """Run local pocketsphinx ASR servers that speak the Aldea protocol."""
    try:
        port_list = parse_ports(ports)
        serve(port_list, host=host, workers=workers, latency=latency, api_key=api_key)
    except (ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


# --------------------------------------------------------------------------- in a subprocess


class ServerProcess(_Addresses):
    """`asyncbench serve` in a child process, for tests and demos that want isolation.

    `start()` returns once `/health` says "ok" on every port, so callers never race the
    workers' model loading; `stop()` sends Ctrl-C's SIGINT to the server's process group, as
    a terminal would, and returns the exit code.
    """

    def __init__(
        self,
        ports: Sequence[int],
        *,
        host: str = "127.0.0.1",
        workers: int | None = None,
        latency: float = 0.0,
        api_key: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.ports = list(ports)
        self.host = host
        self.args = [sys.executable, "-m", "asyncbench", "serve", "--ports", format_ports(ports)]
        self.args += ["--host", host]
        if workers is not None:
            self.args += ["--workers", str(workers)]
        if latency:
            self.args += ["--latency", str(latency)]
        self.env = dict(os.environ if env is None else env)
        self.env.pop("ALDEA_API_KEY", None)  # the key is exactly what the caller passes
        if api_key:
            self.env["ALDEA_API_KEY"] = api_key  # not on the command line, where ps shows it
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self._output = ""

    def launch(self) -> Self:
        """Start the child without waiting for it (`start()` also waits until it is ready)."""
        self._spawn()
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Its own process group, so that `stop()` can deliver Ctrl-C the way a terminal does
        # (to the server and its workers) and a Ctrl-C aimed at the caller does not hit it.
        self.proc = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        return self.proc

    def start(self, timeout: float = 60.0) -> Self:
        proc = self._spawn()
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while pending:
            if proc.poll() is not None:
                output = self.output()
                if proc.returncode == ConfigError.exit_code and output.startswith("error: "):
                    raise ConfigError(output.removeprefix("error: "))  # e.g. a port in use
                raise RuntimeError(f"asyncbench serve exited with code {proc.returncode}: {output}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"asyncbench serve not healthy after {timeout:.0f} s")
            if _healthy(self.host, pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.1)
        return self

    def stop(self, timeout: float = 20.0) -> int:
        proc = self.proc
        if proc is None:
            return 0
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def output(self) -> str:
        """Everything the server printed so far (ready line, errors), also after exit."""
        if not self._log.closed:
            self._log.flush()
            self._log.seek(0)
            self._output = self._log.read().decode(errors="replace").strip()
        return self._output

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.output()
        self._log.close()


def _healthy(host: str, port: int) -> bool:
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"  # a wildcard bind is reachable on loopback
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=2) as resp:
            return resp.status == 200 and json.load(resp).get("status") == "ok"
    except (OSError, ValueError, urllib.error.URLError):
        return False
