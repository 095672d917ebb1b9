"""One benchmark run: configuration → provider, endpoints, results file, dataset → engine.

Everything that can be wrong with the configuration is checked here, before the first request
(unknown provider, missing key, bad endpoint, unwritable or foreign results file, missing
dataset, unknown config or split, no endpoint reachable), and reported as one line with exit
code 2. Then one asyncio loop (uvloop when installed) runs the engine with one aiohttp session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from asyncbench.core.errors import ConfigError, PermanentError, ProviderError
from asyncbench.core.redact import make_redactor, url_secrets
from asyncbench.results import manifest
from asyncbench.results.store import ResumeState, check_writable, prescan, results_name

log = logging.getLogger("asyncbench")


@dataclass
class RunConfig:
    model_name: str
    dataset: str
    dataset_path: str
    split: str = "test"
    max_workers: int = 300
    use_url: bool = False
    viewer_url: str | None = None  # dataset viewer for --use_url (else HF_DATASETS_SERVER_URL)
    max_samples: int | None = None
    aldea_endpoints: str | None = None
    per_endpoint_concurrency: int | None = None
    timeout: float | None = None  # None: the provider's default_timeout
    poll_interval: float | None = None  # job providers' first poll wait (their default if None)
    connect_timeout: float = 10.0
    max_retries: int = 5
    retry_failed: bool = True
    results_dir: Path = Path("results")
    api_key: str | None = None
    base_url: str | None = None
    rps: float | None = None
    max_rps: float | None = None
    grace_s: float = 10.0
    prep_threads: int = 0
    preflight: bool = True
    progress: bool = True
    options: dict[str, str] = field(default_factory=dict)
    shard: tuple[int, int] | None = None  # (i, n): only the samples of slice i of n

    def validate(self) -> None:
        # NaN compares false with everything, so `nan <= 0` lets it through every check
        # below; an infinite timeout or rate means none at all: both are refused up front.
        for flag, value in (
            ("timeout", self.timeout),
            ("rps", self.rps),
            ("max_rps", self.max_rps),
            ("poll_interval", self.poll_interval),
            ("grace", self.grace_s),
            ("connect_timeout", self.connect_timeout),
        ):
            if value is not None and not math.isfinite(value):
                raise ConfigError(
                    f"--{flag} must be a finite number of seconds or requests "
                    f"per second (got {value})"
                )
        if self.max_workers < 1:
            raise ConfigError(f"--max_workers must be at least 1 (got {self.max_workers})")
        if self.max_samples is not None and self.max_samples < 1:
            raise ConfigError(f"--max_samples must be at least 1 (got {self.max_samples})")
        if self.per_endpoint_concurrency is not None and self.per_endpoint_concurrency < 1:
            raise ConfigError("--per_endpoint_concurrency must be at least 1")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError("--timeout must be positive")
        if self.max_retries < 0:
            raise ConfigError("--max_retries must be 0 or more")
        for name in ("rps", "max_rps", "poll_interval"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name} must be positive")


def results_path(cfg: RunConfig) -> Path:
    """Where this run's results go (a shard gets a file of its own)."""
    from asyncbench.core.shard import shard_file_name

    name = results_name(cfg.model_name, cfg.dataset_path, cfg.dataset, cfg.split)
    return cfg.results_dir / shard_file_name(name, cfg.shard)


def per_endpoint_limit(cfg: RunConfig, n_endpoints: int) -> int:
    """`max_workers` spread evenly (rounded up so the total is never below max_workers)."""
    if cfg.per_endpoint_concurrency:
        return cfg.per_endpoint_concurrency
    return max(1, -(-cfg.max_workers // n_endpoints))


def aldea_rps_from_env() -> float | None:
    """`ALDEA_RPS`, the pacing knob of the seed's successor, when set."""
    value = os.environ.get("ALDEA_RPS", "").strip()
    if not value:
        return None
    try:
        rps = float(value)
    except ValueError:
        raise ConfigError(
            f"ALDEA_RPS must be a number of requests per second (got {value!r})"
        ) from None
    if not math.isfinite(rps):
        raise ConfigError(f"ALDEA_RPS must be a finite number (got {value!r})")
    if rps <= 0:
        raise ConfigError(f"ALDEA_RPS must be positive (got {value!r})")
    return rps


async def _reachable(url: str, timeout: float) -> str | None:
    """None if a TCP connection opens, else the reason."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        # the errno's own words ("Connection refused"), not asyncio's "Connect call failed (...)"
        errno = exc.errno if isinstance(exc, OSError) else None
        why = os.strerror(errno) if errno else type(exc).__name__
        return f"{host}:{port}: {why}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def preflight(urls: list[str], timeout: float) -> list[str]:
    """Check that endpoints accept connections. All down is a configuration error (exit 2);
    some down is a warning, and the pool rests those until they come back."""
    unique = sorted(set(urls))
    reasons = await asyncio.gather(*(_reachable(u, timeout) for u in unique))
    down = [r for r in reasons if r]
    if len(down) == len(unique):
        shown = "; ".join(down[:3]) + (f"; and {len(down) - 3} more" if len(down) > 3 else "")
        raise ConfigError(
            f"no endpoint is reachable ({shown}); start the server(s) or fix the endpoint list"
        )
    return down


def run(cfg: RunConfig) -> int:
    """Run one split; returns the process exit code.

    The garbage collector is off while the run is set up and, once per process, everything
    set up so far (over 100,000 objects that datasets, pandas, pyarrow and aiohttp leave
    behind) is frozen out of its reach: otherwise its passes walk that heap again and again,
    during the imports and while requests are in flight (a quarter of a second of CPU per
    2,000-clip run, measured with gc.callbacks).
    """
    import gc

    from asyncbench.results.lock import ResultsLock

    gc.disable()
    try:
        cfg.validate()
        check_writable(cfg.results_dir)
        # one writer per results file, from before the sidecar check and the pre-scan until
        # the summary is written (batch, sweep and shards all come through here)
        with ResultsLock(results_path(cfg)):
            return _run(cfg)
    finally:
        gc.enable()


def _run(cfg: RunConfig) -> int:
    import gc

    from asyncbench.providers import ProviderSettings, resolve
    from asyncbench.runs.limits import raise_open_files_limit

    cfg.validate()
    provider_cls, model = resolve(cfg.model_name)
    if cfg.timeout is None:
        cfg.timeout = provider_cls.default_timeout
    settings = ProviderSettings(
        model=model,
        api_key=cfg.api_key,
        base_url=cfg.base_url,
        endpoints=cfg.aldea_endpoints,
        use_url=cfg.use_url,
        options=cfg.options
        | ({"poll_interval": str(cfg.poll_interval)} if cfg.poll_interval else {}),
    )
    provider = provider_cls(settings)
    urls = provider.endpoint_urls()
    raise_open_files_limit(cfg.max_workers, len(urls))
    rps = (
        cfg.rps
        if cfg.rps is not None
        else (aldea_rps_from_env() if "aldea" in provider_cls.prefixes else None)
    )

    check_writable(cfg.results_dir)
    path = results_path(cfg)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"results file {path} is not writable")
    ident = manifest.identity(cfg.model_name, cfg.dataset_path, cfg.dataset, cfg.split)
    unclaimed = manifest.check(path, ident)  # another run's file is refused before prescan
    resume = prescan(path, retry_failed=cfg.retry_failed)

    from asyncbench.sources.dataset import known_size, open_split

    # --use_url reads the dataset viewer over the run's own session (in _run_async) instead
    ds = None if cfg.use_url else open_split(cfg.dataset_path, cfg.dataset, cfg.split)
    if ds is not None:
        from asyncbench.sources.read_failure import check_first_file

        check_first_file(cfg.dataset_path, cfg.dataset, cfg.split)
    total = None if ds is None else known_size(ds, cfg.split)
    if cfg.preflight:
        for reason in asyncio.run(preflight(urls, min(cfg.connect_timeout, 5.0))):
            print(
                f"warning: endpoint not reachable now, will be retried: {reason}", file=sys.stderr
            )
    try:
        manifest.write(path, ident)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {manifest.manifest_path(path)}: {exc.strerror}; free some space "
            "or pass another --results_dir"
        ) from None
    if unclaimed:
        print(f"note: {path} had no {manifest.manifest_path(path).name}; adopted", file=sys.stderr)
    _say_start(cfg, path, resume, urls, total)

    try:
        import uvloop

        runner: Callable[..., object] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay runnable
        runner = asyncio.run
    if gc.get_freeze_count() == 0:  # once: later runs of a batch or sweep collect as usual
        gc.freeze()
    gc.enable()
    return runner(_run_async(cfg, provider, urls, rps, path, resume, ds, total))  # type: ignore[return-value]


def _say_start(
    cfg: RunConfig, path: Path, resume: ResumeState, urls: list[str], total: int | None
) -> None:
    err = sys.stderr
    n = len(urls)
    print(f"model {cfg.model_name} on {cfg.dataset_path} {cfg.dataset}/{cfg.split}", file=err)
    print(
        f"{cfg.max_workers} requests in flight over {n} endpoint{'s' * (n != 1)}"
        f" ({per_endpoint_limit(cfg, n)} per endpoint)",
        file=err,
    )
    if resume.lines or resume.repaired_tail:
        bits = [f"{resume.finished} finished"]
        if resume.failed_dropped:
            bits.append(f"{resume.failed_dropped} failed to retry")
        if resume.failed_kept:
            bits.append(f"{resume.failed_kept} failed kept (--no_retry_failed)")
        if resume.repaired_tail:
            bits.append("torn last line repaired")
        if resume.duplicates_dropped:
            bits.append(f"{resume.duplicates_dropped} superseded lines removed")
        if resume.bad_lines:
            bits.append(
                f"{len(resume.bad_lines)} unreadable lines removed (line {resume.bad_lines[0]}...)"
            )
        print(f"resuming {path}: " + ", ".join(bits), file=err)
    if cfg.max_samples:
        print(
            f"--max_samples {cfg.max_samples}: taking the first {cfg.max_samples} samples in "
            "dataset order (hub ESB sets are sorted longest first)",
            file=err,
        )


async def _run_async(cfg, provider, urls, rps, path, resume, ds, total) -> int:  # type: ignore[no-untyped-def]
    import aiohttp

    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.pipeline import Engine, EngineOptions
    from asyncbench.engine.stats import RunStats
    from asyncbench.reporting.progress import Progress
    from asyncbench.results.store import ResultWriter
    from asyncbench.scoring import normalize
    from asyncbench.sources.dataset import SourceStats, iter_samples

    loop = asyncio.get_running_loop()
    # Twice the cores (4 to 16): a decode thread spends part of each clip waiting for the
    # GIL that the event loop holds, so one thread per core leaves cores idle.
    prep_threads = cfg.prep_threads or min(16, max(4, 2 * (os.cpu_count() or 2)))
    executor = ThreadPoolExecutor(prep_threads, thread_name_prefix="prep")

    pool = EndpointPool(urls, per_endpoint_limit(cfg, len(urls)), rps=rps, max_rps=cfg.max_rps)
    source_stats = SourceStats()
    redact = make_redactor([*provider.secrets(), *url_secrets(urls)])
    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=0,
        ttl_dns_cache=300,
        keepalive_timeout=30,
        enable_cleanup_closed=True,
    )
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.connect_timeout)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=env_has_proxy_or_netrc()
    ) as session:
        if cfg.use_url:
            from asyncbench.sources.viewer import DOWNLOADS_IN_FLIGHT, open_viewer_source

            source = await open_viewer_source(
                session,
                cfg.dataset_path,
                cfg.dataset,
                cfg.split,
                base_url=cfg.viewer_url,
                normalize=normalize,
                skip_ids=resume.done_ids,
                max_samples=cfg.max_samples,
                stats=source_stats,
            )
            total = source.num_rows
            batches = source.batches()
            if cfg.shard is not None:
                batches = only_shard(batches, cfg.shard)
            prepare = make_url_prepare(source, fetches_urls=provider.fetches_urls)
            prep_concurrency = min(cfg.max_workers, DOWNLOADS_IN_FLIGHT)
        else:
            from asyncbench.sources.read_failure import quiet_parquet_errors

            quiet_parquet_errors()
            batches = iter_samples(
                ds,
                cfg.dataset,
                cfg.split,
                normalize=normalize,
                skip_ids=resume.done_ids,
                max_samples=cfg.max_samples,
                stats=source_stats,
                shard=cfg.shard,
            )
            prepare = make_local_prepare(executor)
            # several clips queued per decode thread: while the event loop is busy with
            # replies, a thread that finishes one clip starts the next without waiting for it
            prep_concurrency = prep_threads * 8
        expected = None
        if total is not None:
            expected = max(
                0,
                (min(total, cfg.max_samples) if cfg.max_samples else total) - len(resume.done_ids),
            )
            if cfg.shard is not None:  # an estimate: ids split evenly only on average
                expected = -(-expected // cfg.shard[1])
        stats = RunStats(total=expected)

        async def transcribe(url: str, payload):  # type: ignore[no-untyped-def]
            return await provider.transcribe(session, url, payload)

        engine = Engine(
            pool=pool,
            transcribe=transcribe,
            prepare=prepare,
            writer=ResultWriter(path),
            options=EngineOptions(
                max_workers=cfg.max_workers,
                timeout=cfg.timeout,
                max_retries=cfg.max_retries,
                prep_concurrency=prep_concurrency,
                grace_s=cfg.grace_s,
            ),
            stats=stats,
            redact=redact,
            transport_errors=(aiohttp.ClientError, OSError),
        )
        for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
            loop.add_signal_handler(sig, engine.stop, name)
        title = f"{cfg.model_name} {cfg.dataset}/{cfg.split}"
        if cfg.shard is not None:
            title += f" shard {cfg.shard[0]}/{cfg.shard[1]}"
        progress = Progress(stats, pool, enabled=cfg.progress, title=title, limit=cfg.max_workers)
        progress.start()
        try:
            await engine.run(batches)
        finally:
            await progress.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            executor.shutdown(wait=False, cancel_futures=True)

    from asyncbench.reporting.summary import print_summary

    print_summary(
        path,
        stats,
        pool,
        source_stats,
        resume,
        info=run_info(cfg),
        limit=cfg.max_workers,
        finished=engine.fatal is None
        and not stats.interrupted
        and engine.write_failure is None
        and engine.source_error is None,
        expected_samples=expected_samples(cfg, total, source_stats),
    )
    if engine.fatal is not None:
        raise ConfigError(redact(str(engine.fatal)))
    if engine.write_failure is not None:
        print(f"error: {engine.write_failure.message()}", file=sys.stderr)
        return 1
    if engine.source_error is not None:
        return _source_failed(cfg, source_stats.rows, stats.done, engine.source_error)
    if stats.interrupted:
        print(
            f"interrupted by {stats.interrupted}: {stats.done} samples written; "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        return 143 if stats.interrupted == "SIGTERM" else 130
    return 0


def expected_samples(cfg: RunConfig, total: int | None, source: object) -> int | None:
    """How many samples the results file should end with, when the split's size is known:
    coverage then counts rows that never reached the file (a split cut short by an
    unreadable page reads 64/130, not 64/64). Rows dropped for an empty reference are not
    samples. Unknown for a shard (ids split evenly only on average)."""
    if total is None or cfg.shard is not None:
        return None
    scorable = max(0, total - getattr(source, "dropped_empty_reference", 0))
    return min(scorable, cfg.max_samples) if cfg.max_samples else scorable


def _source_failed(cfg: RunConfig, row: int, written: int, exc: Exception) -> int:
    """The split stopped being readable at `row`: exit 1 with one line naming the file and
    rows, after everything read before it was written (exit 2 if nothing could be read)."""
    from asyncbench.sources.read_failure import describe

    what = describe(cfg.dataset_path, cfg.dataset, cfg.split, row, exc)
    if row == 0:
        raise ConfigError(f"{what}; nothing was sent: replace or re-download the file")
    print(
        f"error: {what}; the {row} rows before it were read and {written} samples written; "
        "replace or re-download the file, then rerun the same command to resume",
        file=sys.stderr,
    )
    return 1


def run_info(cfg: RunConfig) -> dict[str, object]:
    """What identifies a run in its summary file (never a key or other secret)."""
    return {
        "model": cfg.model_name,
        "dataset_path": cfg.dataset_path,
        "dataset": cfg.dataset,
        "split": cfg.split,
        "max_samples": cfg.max_samples,
        "shard": None if cfg.shard is None else f"{cfg.shard[0]}/{cfg.shard[1]}",
    }


async def only_shard(batches, shard: tuple[int, int]):  # type: ignore[no-untyped-def]
    """The `--use_url` source's batches, keeping this shard's samples (as `iter_samples` does
    for local data: `max_samples` counts before the slice, so shards cover the same set)."""
    from asyncbench.sources.dataset import in_shard

    try:
        async for batch in batches:
            kept = [s for s in batch if in_shard(s.id, *shard)]
            if kept:
                yield kept
    finally:
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            await aclose()


def env_has_proxy_or_netrc() -> bool:
    """Whether aiohttp's `trust_env` can change anything: a proxy variable or a netrc file.

    With `trust_env=True` aiohttp looks for a proxy and a ~/.netrc entry on every request,
    each in a thread: two executor hops and a few filesystem calls per request, about a tenth
    of the event loop's time in a profile at 300 in flight. Without proxy variables or a netrc
    file both lookups always come back empty, so it is turned off then, at no change in
    behaviour; with either, it stays on.
    """
    import urllib.request

    if urllib.request.getproxies():
        return True
    netrc = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    return os.path.exists(netrc)


def make_local_prepare(executor: ThreadPoolExecutor):  # type: ignore[no-untyped-def]
    """Decode + WAV-encode in the thread pool; decide short and broken clips up front."""
    from asyncbench.engine.pipeline import Job
    from asyncbench.providers.base import AudioPayload
    from asyncbench.sources.audio import MIN_SEND_S, BadAudio, to_wav16k

    loop = asyncio.get_running_loop()

    async def prepare(sample):  # type: ignore[no-untyped-def]
        try:
            wav, duration = await loop.run_in_executor(executor, to_wav16k, sample.audio)
        except BadAudio as exc:
            err: ProviderError = PermanentError("bad_audio", str(exc))
            return Job(sample, sample.duration or 0.0, error=err)
        finally:
            # decoded (or found broken): requests in flight then hold one copy of each clip,
            # the WAV they send, not the encoded bytes beside it
            sample.audio = None
        if duration < MIN_SEND_S:
            return Job(sample, duration, skip=True)
        return Job(sample, duration, payload=AudioPayload(wav, "audio/wav", "audio.wav", duration))

    return prepare


def make_url_prepare(source, *, fetches_urls: bool):  # type: ignore[no-untyped-def]
    """`--use_url`: give the URL to a provider that fetches it itself; else download the audio
    (bounded by the engine's preppers, before a request slot is taken) and send the bytes as
    they are, named by what they really are (`audio.mp3`, `audio/mpeg`). Nothing is decoded,
    so clips too short to send are found by the viewer's `audio_length_s`, never downloaded."""
    from asyncbench.engine.pipeline import Job
    from asyncbench.providers.base import AudioPayload
    from asyncbench.sources.audio import MIN_SEND_S, sniff

    async def prepare(sample):  # type: ignore[no-untyped-def]
        duration = sample.duration if sample.duration is not None else 0.0
        if sample.duration is not None and duration < MIN_SEND_S:
            return Job(sample, duration, skip=True)
        if fetches_urls and sample.url:
            name = sample.url.split("?", 1)[0].rsplit("/", 1)[-1] or "audio"
            mime = sample.mime or "application/octet-stream"
            return Job(
                sample, duration, payload=AudioPayload(None, mime, name, duration, url=sample.url)
            )
        try:
            data = await source.fetch_audio(sample)
        except ProviderError as err:
            return Job(sample, duration, error=err)
        mime, ext = sniff(data)
        return Job(sample, duration, payload=AudioPayload(data, mime, f"audio.{ext}", duration))

    return prepare
