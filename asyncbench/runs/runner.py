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
import re
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from asyncbench.core import exit_codes
from asyncbench.core.errors import ConfigError, ProviderError
from asyncbench.core.limits import DEFAULT_MAX_REPLY_BYTES
from asyncbench.core.redact import make_redactor, url_secrets
from asyncbench.results import manifest
from asyncbench.results.lock import ResultsLock
from asyncbench.results.store import (
    ResumeState,
    check_writable,
    legacy_results_name,
    prescan,
    results_name,
)

if TYPE_CHECKING:
    from asyncbench.engine.arrivals import ArrivalSpec
    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.pipeline import Engine
    from asyncbench.engine.stats import RunStats
    from asyncbench.providers.base import Provider
    from asyncbench.results.parts import DoneParts
    from asyncbench.runs.ledger import Ledger
    from asyncbench.runs.ledger_wire import Money

log = logging.getLogger("asyncbench")


#: a git commit, branch or tag name as the hub takes it
_REVISION = re.compile(r"[\w.\-/]{1,255}")


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
    prep_threads: int | None = None  # None: prep_thread_count's default
    preflight: bool = True
    progress: bool = True
    options: dict[str, str] = field(default_factory=dict)
    shard: tuple[int, int] | None = None  # (i, n): only the samples of slice i of n
    # chunked sets: the dataset holding each recording's transcript (else KNOWN_PARENTS)
    parent_dataset_path: str | None = None
    data_root: str | None = None  # a local copy of hub ids: <data_root>/<owner>/<name>
    # the hub revision (commit, branch or tag) to read; None: the hub's current one. A local
    # copy is taken to be that revision; the sidecar records it either way
    revision: str | None = None
    language: str | None = None
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES  # a bigger reply fails the attempt
    follow_redirects: bool = False  # follow 307/308 within the same origin only
    api_key_file: str | None = None  # the key read from a file (never on the command line)
    # long recordings (see runs/longform.py): cut at silences when over the provider's limits
    chunking: str = "auto"  # or "off": an over-limit recording fails with kind over_limit
    chunk_max_s: float | None = None  # longest part (None: 600 s)
    max_upload_mb: float | None = None  # None: the provider's declared byte limit
    timeout_per_audio_s: float | None = None  # None: the provider's; --timeout is the floor
    # open-loop load (engine/arrivals.py) and per-request SLOs for goodput (core/gates.py)
    arrival: str = "closed"
    rate: float | None = None
    burstiness: float | None = None
    ramp: str | None = None
    seed: int = 0
    slos: tuple[str, ...] = ()

    def arrival_spec(self) -> ArrivalSpec:
        """The arrival process these flags ask for (ConfigError when they do not fit)."""
        from asyncbench.engine.arrivals import make_spec

        spec = make_spec(self.arrival, self.rate, self.burstiness, self.ramp, self.seed)
        if self.arrival_part is not None:  # a shard of a --processes/Ray run: its share
            return spec.share(self.rate_share, self.arrival_part)
        return spec

    aldea_api: str | None = None  # aldea/ protocol: auto | listen | transcribe (None: auto)
    delete_jobs: bool = False  # async-job providers: DELETE each finished job at the provider
    # streaming providers (core/streaming.py): None = the provider's default (real time on)
    realtime: bool | None = None
    chunk_ms: int | None = None
    realtime_factor: float = 1.0
    final_timeout: float = 10.0  # seconds from the end of audio to the final
    # openai/ and openai-compatible/: the transcript as server-sent events (core/sse.py)
    stream: bool = False
    # cost (runs/budget.py): the limit, and the price table or flat price it is counted at
    budget_usd: float | None = None
    prices: str | None = None
    price_per_hour: float | None = None
    # event-loop processes the run is split over by the stable id hash (runs/sharded.py)
    processes: int = 1
    # left out of the steady-state throughput: "5s" (seconds) or "200" (requests back ok)
    warmup: str | None = None
    # this process's share of the provider's documented request rates (a Ray shard's fraction)
    rate_share: float = 1.0
    # resume after the dataset changed: redo exactly the samples whose digests changed
    revalidate: bool = False
    # percent of the split that may end failed or missing before the run exits 3
    # (core/exit_codes.py); None: no such check (a sweep level, a library caller)
    max_failed_pct: float | None = None
    # seconds without any success, every endpoint resting, before the run stops (exit 5);
    # None: derived from the timeout (engine/liveness.py)
    stall_timeout: float | None = None
    # a shard of a --processes/Ray run: which one (its own draw of the arrival process, at
    # rate_share of the --rate); None for a run of its own, --shard i/n included
    arrival_part: int | None = None

    def validate(self) -> None:
        from asyncbench.core.text import check_model_name

        check_model_name("--model_name", self.model_name)
        if self.revision is not None and not _REVISION.fullmatch(self.revision):
            raise ConfigError(
                f"--revision {self.revision!r} is not a hub revision: give a commit hash, "
                "branch or tag (letters, digits, . _ - /)"
            )
        # NaN compares false with everything, so `nan <= 0` lets it through every check
        # below; an infinite timeout or rate means none at all: both are refused up front.
        for flag, value in (
            ("timeout", self.timeout),
            ("rps", self.rps),
            ("max_rps", self.max_rps),
            ("poll_interval", self.poll_interval),
            ("grace", self.grace_s),
            ("connect_timeout", self.connect_timeout),
            ("stall_timeout", self.stall_timeout),
        ):
            if value is not None and not math.isfinite(value):
                raise ConfigError(
                    f"--{flag} must be a finite number of seconds or requests "
                    f"per second (got {value})"
                )
        if self.max_failed_pct is not None and not 0 <= self.max_failed_pct <= 100:
            raise ConfigError(
                f"--max_failed_pct must be a percentage from 0 to 100 (got {self.max_failed_pct:g})"
            )
        if self.max_workers < 1:
            raise ConfigError(f"--max_workers must be at least 1 (got {self.max_workers})")
        if self.processes < 1:
            raise ConfigError(f"--processes must be at least 1 (got {self.processes})")
        if self.prep_threads is not None and not 1 <= self.prep_threads <= MAX_PREP_THREADS:
            raise ConfigError(
                f"--prep_threads must be between 1 and {MAX_PREP_THREADS} (got {self.prep_threads})"
            )
        from asyncbench.reporting.saturation import parse_warmup

        parse_warmup(self.warmup)  # a malformed --warmup stops here, before any request
        if self.processes > 1 and self.shard is not None:
            raise ConfigError(
                "--processes splits the run by the same id hash as --shard: use one of them"
            )
        if self.max_samples is not None and self.max_samples < 1:
            raise ConfigError(f"--max_samples must be at least 1 (got {self.max_samples})")
        if self.per_endpoint_concurrency is not None and self.per_endpoint_concurrency < 1:
            raise ConfigError("--per_endpoint_concurrency must be at least 1")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError("--timeout must be positive")
        if self.stall_timeout is not None and self.stall_timeout <= 0:
            raise ConfigError(f"--stall_timeout must be positive (got {self.stall_timeout:g})")
        if self.max_retries < 0:
            raise ConfigError("--max_retries must be 0 or more")
        if self.max_reply_bytes < 1024:
            raise ConfigError(
                f"--max_reply_bytes must be at least 1024 (got {self.max_reply_bytes}); "
                "the default is 16777216 (16 MiB)"
            )
        for name in ("rps", "max_rps", "poll_interval", "max_upload_mb"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name} must be positive")
        from asyncbench.core.gates import parse_slos
        from asyncbench.core.streaming import check_stream_options

        check_stream_options(self.chunk_ms, self.realtime_factor, self.final_timeout)
        self.arrival_spec()
        parse_slos(self.slos)
        self.validate_longform()
        from asyncbench.runs.budget import check_flags

        check_flags(self.budget_usd, self.price_per_hour)

    def validate_longform(self) -> None:
        from asyncbench.runs.longform import CHUNKING_MODES, MIN_PART_S

        if self.chunking not in CHUNKING_MODES:
            raise ConfigError(
                f"--chunking must be one of {', '.join(CHUNKING_MODES)} (got {self.chunking!r})"
            )
        if self.chunk_max_s is not None and self.chunk_max_s < MIN_PART_S:
            raise ConfigError(
                f"--chunk_max_s must be at least {MIN_PART_S:g} s (got {self.chunk_max_s:g})"
            )
        if self.timeout_per_audio_s is not None and self.timeout_per_audio_s < 0:
            raise ConfigError("--timeout_per_audio_s must be 0 or more")


class Prepared(NamedTuple):
    """A run checked and opened, ready for its event loop (`_run_async(*prepared)`)."""

    cfg: RunConfig
    provider: Provider
    urls: list[str]
    rps: float | None
    path: Path
    resume: ResumeState
    ds: Any  # the streaming dataset, or None with --use_url
    total: int | None  # rows in the split (`description.rows`), None when nothing says
    lock: ResultsLock  # held from before the pre-scan until the summary is written


@dataclass
class Shared:
    """What the runs of one provider budget share inside a batch's single event loop: one
    HTTP session, one endpoint pool (its capacity is the budget, so the provider is never over
    its limit however many runs use it), one decode thread pool. `priority` is the run's
    place in the batch, so a freed slot goes to the earliest run that wants one. The scheduler
    owns signals and the live view, so the run installs neither; `on_engine` hands it the
    run's engine and counters."""

    session: Any  # aiohttp.ClientSession
    pool: EndpointPool
    executor: ThreadPoolExecutor
    priority: int
    on_engine: Callable[[Engine, RunStats], None]
    # a shard run on another process or node (runs/sharded.py): its lines go to the driver,
    # the single writer of the file, through this writer instead of the file; no summary
    writer: Callable[[Path], Any] | None = None
    summary: bool = True
    source_stats: list[Any] | None = None  # gets the run's SourceStats (for the driver's)
    #: a shard's results file in the driver (its job journal is that file's, kept there)
    results: Path | None = None
    #: a shard's long-recording parts: (the writer that sends them to the driver, the parts
    #: the driver's side file already has); None: the side file beside `path`
    parts: tuple[Any, DoneParts] | None = None


def results_path(cfg: RunConfig) -> Path:
    """Where this run's results go (a shard gets a file of its own)."""
    from asyncbench.core.shard import shard_file_name

    name = results_name(cfg.model_name, cfg.dataset_path, cfg.dataset, cfg.split)
    path = cfg.results_dir / shard_file_name(name, cfg.shard)
    legacy = legacy_results_name(cfg.model_name, cfg.dataset_path, cfg.dataset, cfg.split)
    if legacy != name and not path.exists():
        # a local folder's results from before files were named by the folder's own name:
        # keep resuming the file that holds them
        old = cfg.results_dir / shard_file_name(legacy, cfg.shard)
        if old.exists():
            return old
    return path


def samples_left(cfg: RunConfig, total: int | None, resume: ResumeState) -> int | None:
    """Samples this run still has to finish, when the split's size is known."""
    if total is None:
        return None
    expected = max(
        0, (min(total, cfg.max_samples) if cfg.max_samples else total) - len(resume.done_ids)
    )
    if cfg.shard is not None:  # an estimate: ids split evenly only on average
        expected = -(-expected // cfg.shard[1])
    return expected


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


def run(cfg: RunConfig, ledger: Ledger | None = None) -> int:
    """Run one split; returns the process exit code. `ledger`: the command's budget and job
    journals when this run is one of several (a sequential batch); else the run's own, whose
    spend it prints at the end.

    The garbage collector is off while the run is set up and, once per process, everything
    set up so far (over 100,000 objects that datasets, pandas, pyarrow and aiohttp leave
    behind) is frozen out of its reach: otherwise its passes walk that heap again and again,
    during the imports and while requests are in flight (a quarter of a second of CPU per
    2,000-clip run, measured with gc.callbacks).
    """
    import gc

    from asyncbench.runs.ledger import Ledger, close_command

    gc.disable()
    try:
        if ledger is not None:
            return _run(cfg, ledger)
        own = Ledger.for_config(cfg)
        try:
            code = _run(cfg, own)
        except BaseException:
            # a run ended by a fatal error (a key rejected mid-run) spent money too: say so,
            # as `--processes N` does, before the error's own line
            close_command(own, exit_codes.CONFIG)
            raise
        return close_command(own, code)
    finally:
        gc.enable()


class NotStarted(ConfigError):
    """A run that could not start (a missing key, a missing config, another run's results
    file): nothing was sent or written, so a batch reports it and runs the others, and never
    shows or scores the file that is there as this run's."""


def _run(cfg: RunConfig, ledger: Ledger) -> int:
    import gc

    from asyncbench.runs.ledger_wire import LocalMoney

    try:
        prepared = prepare(cfg)
    except NotStarted:
        raise
    except ConfigError as exc:  # as a batch in one loop or on shards names it (run_all)
        raise NotStarted(str(exc)) from None
    try:
        import uvloop

        runner: Callable[..., object] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay runnable
        runner = asyncio.run
    if gc.get_freeze_count() == 0:  # once: later runs of a batch or sweep collect as usual
        gc.freeze()
    gc.enable()
    return runner(_run_async(*prepared, money=LocalMoney(ledger)))  # type: ignore[return-value]


def prepare(cfg: RunConfig) -> Prepared:
    """Everything a run checks and opens before its first request, in the caller's thread:
    a batch prepares all its runs first, then drives them in one loop (runs/scheduler.py)."""

    cfg.validate()
    # a run refused below creates nothing: folders it made for its results go again
    made = _missing_dirs(cfg.results_dir)
    check_writable(cfg.results_dir)
    try:
        # one writer per results file, from before the sidecar check and the pre-scan until
        # the summary is written (run, batch, sweep and shards all come through here); a run
        # that cannot start lets it go at once (and the lock file goes with it)
        lock = ResultsLock(results_path(cfg))
        lock.acquire()
        try:
            return _prepare_locked(cfg, lock)
        except BaseException:
            lock.release()
            raise
    except BaseException:
        for folder in made:  # deepest first; one that something else wrote into stays
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _missing_dirs(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for path in [folder, *folder.parents]:
        if path.exists():
            break
        missing.append(path)
    return missing


def _prepare_locked(cfg: RunConfig, lock: ResultsLock) -> Prepared:
    from asyncbench.core.languages import resolve as resolve_language
    from asyncbench.runs.limits import raise_open_files_limit
    from asyncbench.sources.parquet_split import card_language

    # once, here: --language, else the config's own (fleurs_de → de), else the local
    # folder's card (`dataset make --language`), else en
    cfg.language = resolve_language(cfg.dataset, cfg.language or card_language(cfg.dataset_path))
    provider, urls, rps = make_provider(cfg)
    raise_open_files_limit(cfg.max_workers, len(urls))

    check_writable(cfg.results_dir)
    path = results_path(cfg)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"results file {path} is not writable")
    check_use_url(cfg)
    # --use_url reads the dataset viewer over the run's own session (in _run_async) instead
    ds = None if cfg.use_url else open_dataset(cfg)
    from asyncbench.sources.chunked import ChunkedSplit

    if ds is not None and not isinstance(ds, ChunkedSplit):
        from asyncbench.sources.read_failure import check_first_file
        from asyncbench.sources.suites import local_copy

        check_first_file(local_copy(cfg.dataset_path, cfg.data_root), cfg.dataset, cfg.split)
    from asyncbench.runs.provenance import sidecar
    from asyncbench.sources.describe import describe_run

    description = describe_run(cfg, ds)  # the split resolved once: identity, rows, language
    total = description.rows
    ident = run_identity(cfg)
    ours = sidecar(cfg, ident, description, urls, provider.secrets())
    # another run's file, or another version of the dataset, is refused before the pre-scan
    claim = manifest.check(path, ours, revalidate=cfg.revalidate)
    if cfg.revalidate:
        redo_changed(cfg, ds, path, claim.dataset_changed)
    resume = prescan(path, retry_failed=cfg.retry_failed)

    from asyncbench.runs.budget import before_run
    from asyncbench.sources.suites import local_copy

    # after the dataset checks (a bad input stays one line), before the network ones
    estimate = before_run(
        cfg.model_name,
        local_copy(cfg.dataset_path, cfg.data_root),
        cfg.dataset,
        cfg.split,
        max_samples=cfg.max_samples,
        budget_usd=cfg.budget_usd,
        prices=cfg.prices,
        price_per_hour=cfg.price_per_hour,
        measure=not cfg.use_url,
        revision=cfg.revision,
        shard=cfg.shard,  # a --shard i/n run sends (and is budgeted on) its slice only
    )
    if cfg.preflight:
        for reason in asyncio.run(preflight(urls, min(cfg.connect_timeout, 5.0))):
            print(
                f"warning: endpoint not reachable now, will be retried: {reason}", file=sys.stderr
            )
    try:
        manifest.write(path, ours)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {manifest.manifest_path(path)}: {exc.strerror}; free some space "
            "or pass another --results_dir"
        ) from None
    if claim.adopted:
        print(f"note: {path} had no {manifest.manifest_path(path).name}; adopted", file=sys.stderr)
    _say_start(cfg, path, resume, urls, total)
    if estimate:
        print(estimate, file=sys.stderr)
    return Prepared(cfg, provider, urls, rps, path, resume, ds, total, lock)


def redo_changed(cfg: RunConfig, ds: Any, path: Path, what_changed: str | None) -> None:
    """`--revalidate`: read the split's digests and drop the results lines of samples that
    changed, so the resume that follows redoes exactly those (`runs/revalidate.py`)."""
    from asyncbench.runs import revalidate
    from asyncbench.sources.chunked import ChunkedSplit

    if ds is None:
        raise ConfigError(
            "--revalidate reads the dataset's audio to compare digests; run it without --use_url"
        )
    if isinstance(ds, ChunkedSplit):
        batches = ds.iter_samples()
    else:
        from asyncbench.sources.dataset import iter_samples

        normalize = reference_normalizer(cfg.language)
        batches = iter_samples(ds, cfg.dataset, cfg.split, normalize=normalize)
    found = revalidate.revalidate(path, revalidate.current_digests(batches))
    revalidate.say(path, found, what_changed)


def run_identity(cfg: RunConfig) -> dict[str, str]:
    """What the results file's sidecar records and checks for this run (results/manifest.py):
    a run refuses another run's file with it, and batch skips a complete split only when its
    sidecar agrees (another --revision is another run, not a finished one)."""
    return manifest.identity(
        cfg.model_name,
        cfg.dataset_path,
        cfg.dataset,
        cfg.split,
        language=cfg.language,
        revision=cfg.revision,
    )


def make_provider(cfg: RunConfig) -> tuple[Provider, list[str], float | None]:
    """The run's provider client, its endpoint URLs and its pacing (a shard on another
    process or node builds its own the same way, runs/sharded.py)."""
    from asyncbench.core.streaming import StreamOptions
    from asyncbench.providers import ProviderSettings, resolve

    provider_cls, model = resolve(cfg.model_name)
    if cfg.stream:
        provider_cls.check_stream(model, cfg.model_name.split("/", 1)[0])
    if cfg.timeout is None:
        cfg.timeout = provider_cls.default_timeout
    settings = ProviderSettings(
        model=model,
        api_key=cfg.api_key,
        base_url=cfg.base_url,
        endpoints=cfg.aldea_endpoints,
        use_url=cfg.use_url,
        language=cfg.language,
        options=cfg.options
        | ({"poll_interval": str(cfg.poll_interval)} if cfg.poll_interval else {})
        | ({"aldea_api": cfg.aldea_api} if cfg.aldea_api else {})
        | ({"delete_jobs": "1"} if cfg.delete_jobs else {})
        | ({"stream": "1"} if cfg.stream else {}),
        max_reply_bytes=cfg.max_reply_bytes,
        follow_redirects=cfg.follow_redirects,
        api_key_file=cfg.api_key_file,
        dataset=cfg.dataset,
        streaming=StreamOptions(cfg.realtime, cfg.chunk_ms, cfg.realtime_factor, cfg.final_timeout),
        rate_share=cfg.rate_share,
    )
    provider = provider_cls(settings)
    urls = provider.endpoint_urls()
    rps = (
        cfg.rps
        if cfg.rps is not None
        else (aldea_rps_from_env() if "aldea" in provider_cls.prefixes else None)
    )
    return provider, urls, rps


def reference_normalizer(language: str | None) -> Callable[[str], str]:
    """What decides that a reference is empty (and so skipped, as the board does): the
    scorer's normaliser for the run's language, so a Hindi lattice or an Armenian text is
    judged by its own rules; English's for English and for a language the scorer cannot
    normalise."""
    from functools import partial

    from asyncbench.scoring import normalize
    from asyncbench.scoring.language import language_code
    from asyncbench.scoring.language import normalize as normalize_in

    if not language:
        return normalize
    try:
        code = language_code(language)
    except ValueError:
        return normalize
    return normalize if code == "en" else partial(normalize_in, language=code)


def open_dataset(cfg: RunConfig):  # type: ignore[no-untyped-def]
    """The run's split: a plain streaming split or a chunked one (`sources/chunked.py`),
    read from the local copy under `--data_root` when one is given."""
    from asyncbench.sources.chunked import known_parent, open_source
    from asyncbench.sources.corrections import CORRECTIONS_PATH, applies, with_corrections
    from asyncbench.sources.suites import local_copy

    parent = cfg.parent_dataset_path or known_parent(cfg.dataset_path)
    ds = open_source(
        local_copy(cfg.dataset_path, cfg.data_root),
        cfg.dataset_path,
        cfg.dataset,
        cfg.split,
        parent_path=parent,
        parent_read_path=local_copy(parent, cfg.data_root, what="parent dataset")
        if parent
        else None,
        parent_given=cfg.parent_dataset_path is not None,
        revision=cfg.revision,
    )
    if not applies(cfg.dataset, cfg.split):
        return ds
    # Armenian FLEURS: the board's reviewed references over the split (sources/corrections.py)
    read = local_copy(CORRECTIONS_PATH, cfg.data_root, what="corrections table")
    return with_corrections(ds, cfg.dataset, cfg.split, read, f"{cfg.dataset_path} {cfg.dataset}")


def check_use_url(cfg: RunConfig) -> None:
    """`--use_url` cannot serve a chunked set: the dataset viewer's rows are the chunk
    metadata, which has no audio (the chunks sit in the repo's audio/ folder)."""
    from asyncbench.sources.chunked import known_parent, peek_chunked
    from asyncbench.sources.suites import local_copy

    if not cfg.use_url:
        return
    chunked = cfg.parent_dataset_path is not None or known_parent(cfg.dataset_path) is not None
    if not chunked and cfg.data_root:
        read = local_copy(cfg.dataset_path, cfg.data_root)
        chunked = peek_chunked(read, cfg.dataset, cfg.split, hinted=False) is not None
    if chunked:
        raise ConfigError(
            f"--use_url cannot work on the chunked set {cfg.dataset_path}: the dataset viewer "
            "serves its chunk metadata, not the chunk audio in the repo's audio/ folder; run "
            "without --use_url"
        )


def longform_policy(cfg: RunConfig, provider: object):  # type: ignore[no-untyped-def]
    """The provider's declared limits with the user's overrides, for the prep step."""
    from asyncbench.core.limits import MB
    from asyncbench.runs.longform import DEFAULT_CHUNK_MAX_S, LongformPolicy

    cls = type(provider)
    max_bytes = None if cfg.max_upload_mb is None else int(cfg.max_upload_mb * MB)
    return LongformPolicy(
        provider=cfg.model_name.split("/", 1)[0],
        limits=cls.limits.with_max_bytes(max_bytes),  # type: ignore[attr-defined]
        accepts_flac=cls.accepts_flac,  # type: ignore[attr-defined]
        chunking=cfg.chunking,
        chunk_max_s=cfg.chunk_max_s or DEFAULT_CHUNK_MAX_S,
        timeout_floor=cfg.timeout or cls.default_timeout,  # type: ignore[attr-defined]
        timeout_per_audio_s=(
            cfg.timeout_per_audio_s
            if cfg.timeout_per_audio_s is not None
            else cls.timeout_per_audio_s  # type: ignore[attr-defined]
        ),
    )


def _say_start(
    cfg: RunConfig, path: Path, resume: ResumeState, urls: list[str], total: int | None
) -> None:
    err = sys.stderr
    n = len(urls)
    print(
        f"model {cfg.model_name} on {cfg.dataset_path} {cfg.dataset}/{cfg.split}"
        f" (language {cfg.language})",
        file=err,
    )
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
    arrivals = cfg.arrival_spec()
    if arrivals.open:
        print(f"{arrivals.describe()}; --max_workers {cfg.max_workers} is the cap", file=err)
    if cfg.max_samples:
        print(
            f"--max_samples {cfg.max_samples}: taking the first {cfg.max_samples} samples in "
            "dataset order (hub ESB sets are sorted longest first)",
            file=err,
        )


def prep_thread_count(asked: int | None = None) -> int:
    """Decode threads for a run or a batch: `asked` (--prep_threads), else one per core
    (2 to 16).

    Clips reach a thread a chunk at a time (`PREP_CHUNK`), so a thread seldom waits for the
    GIL the event loop holds, and more threads than cores only add GIL hand-offs
    (`bench/client_cost.py --prep_threads 2,4` sets them side by side)."""
    return asked or min(16, max(2, os.cpu_count() or 2))


MAX_PREP_THREADS = 256


#: clips per prep-thread job (engine `prep_chunk`); two chunks queued per thread
PREP_CHUNK = 16


async def _run_async(
    cfg, provider, urls, rps, path, resume, ds, total, lock, shared=None, money=None
) -> int:  # type: ignore[no-untyped-def]
    """The run in its event loop (its own, or a batch's with `shared`); the results lock that
    `prepare` took is let go however it ends. `money`: the command's ledger (runs/ledger.py)."""
    try:
        return await _drive(cfg, provider, urls, rps, path, resume, ds, total, shared, money)
    finally:
        lock.release()


async def _drive(cfg, provider, urls, rps, path, resume, ds, total, shared, money=None) -> int:  # type: ignore[no-untyped-def]
    import aiohttp

    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.liveness import default_stall_timeout
    from asyncbench.engine.pipeline import Engine, EngineOptions
    from asyncbench.engine.stats import RunStats
    from asyncbench.reporting.progress import Progress
    from asyncbench.results.store import ResultWriter
    from asyncbench.runs.ledger import Ledger
    from asyncbench.runs.ledger_wire import LocalMoney, RunBudget
    from asyncbench.sources.chunked import ChunkedSplit
    from asyncbench.sources.dataset import SourceStats, iter_samples

    normalize = reference_normalizer(cfg.language)
    loop = asyncio.get_running_loop()
    prep_threads = prep_thread_count(cfg.prep_threads)
    if shared is None:
        executor = ThreadPoolExecutor(prep_threads, thread_name_prefix="prep")
        pool = EndpointPool(urls, per_endpoint_limit(cfg, len(urls)), rps=rps, max_rps=cfg.max_rps)
        session_scope = open_session(cfg.connect_timeout)
    else:
        executor, pool = shared.executor, shared.pool
        session_scope = contextlib.nullcontext(shared.session)
    source_stats = SourceStats()
    if shared is not None and shared.source_stats is not None:
        shared.source_stats.append(source_stats)
    redact = make_redactor([*provider.secrets(), *url_secrets(urls)])
    part_writer, done_parts = open_parts(path, resume, shared)
    async with session_scope as session:
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
            from asyncbench.runs.longform import make_prepare

            # a long recording downloaded for a provider that takes bytes: as in local mode
            long_prepare = make_prepare(
                executor, longform_policy(cfg, provider), done_parts=done_parts, writer=part_writer
            )
            prepare = make_url_prepare(
                source, fetches_urls=provider.fetches_urls, long_prepare=long_prepare
            )
            prepare_many = None  # downloads go one by one, each as soon as it can
            prep_concurrency = min(cfg.max_workers, DOWNLOADS_IN_FLIGHT)
            read_ahead = None
        elif isinstance(ds, ChunkedSplit):
            batches = ds.iter_samples(
                skip_ids=resume.done_ids,
                max_samples=cfg.max_samples,
                stats=source_stats,
                shard=cfg.shard,
            )
            from asyncbench.runs.longform import make_prepare

            prepare = make_prepare(
                executor, longform_policy(cfg, provider), done_parts=done_parts, writer=part_writer
            )
            prepare_many = prepare.many
            prep_concurrency = prep_threads * 2
            read_ahead = None
        else:
            from asyncbench.runs.longform import long_rows, make_prepare, return_freed_memory

            # long recordings weigh megabytes each until spilled: read one at a time
            long = long_rows(ds, cfg.split)
            if long:
                return_freed_memory()
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
                batch_rows=1 if long else 64,
            )
            prepare = make_prepare(
                executor, longform_policy(cfg, provider), done_parts=done_parts, writer=part_writer
            )
            # two chunks of clips per decode thread: while the event loop is busy with
            # replies, a thread that finishes one chunk starts the next without waiting for it
            prepare_many = prepare.many
            prep_concurrency = prep_threads if long else prep_threads * 2
            read_ahead = 1 if long else None
        stats = RunStats(total=samples_left(cfg, total, resume))
        if money is None:  # a run on its own (tests, tools): a ledger of its own
            money = LocalMoney(Ledger.for_config(cfg))
        budget = RunBudget(money, cfg.model_name)

        async def transcribe(url: str, payload):  # type: ignore[no-untyped-def]
            return await provider.transcribe(session, url, payload)

        results = shared.results if shared is not None and shared.results is not None else path
        journal = attach_journal(provider, money, results, cfg.model_name, urls)

        engine = Engine(
            pool=pool,
            transcribe=transcribe,
            prepare=prepare,
            prepare_many=prepare_many,
            writer=ResultWriter(path)
            if shared is None or shared.writer is None
            else shared.writer(path),
            options=EngineOptions(
                max_workers=cfg.max_workers,
                timeout=cfg.timeout,
                max_retries=cfg.max_retries,
                prep_concurrency=prep_concurrency,
                prep_chunk=PREP_CHUNK,
                grace_s=cfg.grace_s,
                priority=shared.priority if shared is not None else 0,
                read_ahead=read_ahead,
                arrivals=cfg.arrival_spec(),
                admit=budget.admit,
                settle=budget.settle,
                stall_timeout=cfg.stall_timeout or default_stall_timeout(cfg.timeout),
            ),
            stats=stats,
            redact=redact,
            transport_errors=(aiohttp.ClientError, OSError),
        )
        if shared is None:
            for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
                loop.add_signal_handler(sig, engine.stop, name)
        else:
            shared.on_engine(engine, stats)
        title = f"{cfg.model_name} {cfg.dataset}/{cfg.split}"
        if cfg.shard is not None:
            title += f" shard {cfg.shard[0]}/{cfg.shard[1]}"
        progress = Progress(
            stats,
            pool,
            enabled=cfg.progress and shared is None,
            title=title,
            limit=cfg.max_workers,
        )
        progress.start()
        parts_task = asyncio.create_task(part_writer.run()) if part_writer else None
        try:
            await engine.run(batches)
        finally:
            stats.length_off = getattr(prepare, "length_off", 0)
            if part_writer is not None and parts_task is not None:
                part_writer.close()
                await parts_task
            await budget.drain()
            await progress.stop()
            if shared is None:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
                executor.shutdown(wait=False, cancel_futures=True)

    if journal is not None and isinstance(money, LocalMoney) and results == path:
        # this process owns the file: close its journal, and once the split is through
        # keep only the jobs still pending (a shard's journal is its driver's to close)
        through = stats.interrupted is None and engine.fatal is None
        money.ledger.close_journal(str(path), compact=through)
    from asyncbench.core.gates import parse_slos
    from asyncbench.reporting.load import load_section
    from asyncbench.reporting.saturation import parse_warmup
    from asyncbench.reporting.summary import print_summary

    if shared is not None and not shared.summary:
        return _outcome(cfg, engine, stats, source_stats, redact, budget)
    say_lengths(cfg, stats.length_off)
    record_end(cfg, path, total, source_stats, provider.reported_model_version, ds)
    summary = print_summary(
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
        and engine.source_error is None
        and engine.stalled is None,
        load=load_section(stats, cfg.arrival_spec(), parse_slos(cfg.slos)),
        expected_samples=expected_samples(cfg, total, source_stats, ds),
        warmup=parse_warmup(cfg.warmup),
        processes=cfg.processes,
        redact=redact,
    )
    return _outcome(cfg, engine, stats, source_stats, redact, budget, summary)


def open_parts(path: Path, resume: ResumeState, shared: Shared | None) -> tuple[Any, DoneParts]:
    """Where the parts of long recordings go and which are done already: the side file beside
    the results file (`results/parts.py`), read once here; a shard's come from its driver,
    which keeps that file (a shard's own folder is gone when the shard ends)."""
    if shared is not None and shared.parts is not None:
        return shared.parts
    from asyncbench.results.parts import PartWriter, parts_path, scan_parts

    writer = PartWriter(parts_path(path))
    return writer, scan_parts(writer.path, skip_ids=resume.done_ids)


def say_lengths(cfg: RunConfig, n: int) -> None:
    """Warn once when clips' dataset lengths could not be billed on (the decoded ones were)."""
    if n:
        print(
            f"warning: {n} clip{'s' * (n != 1)} of {cfg.dataset}/{cfg.split} had an "
            "audio_length_s that is missing, not a number, negative, 0 or more than 1 % off "
            "the decoded audio: cost, RTFx and audio hours use the decoded length",
            file=sys.stderr,
        )


def _outcome(cfg, engine, stats, source_stats, redact, budget, summary=None) -> int:  # type: ignore[no-untyped-def]
    """The run's exit code once its engine has stopped (a fatal provider error raises);
    `summary` (when this process printed one) decides whether a finished run was whole."""
    if engine.fatal is not None:
        raise ConfigError(redact(str(engine.fatal)))
    if engine.write_failure is not None:
        print(f"error: {engine.write_failure.message()}", file=sys.stderr)
        return 1
    if engine.stalled is not None:
        print(
            f"error: {engine.stalled}; {stats.done} samples written; rerun the same command "
            "to resume once an endpoint answers",
            file=sys.stderr,
        )
        return exit_codes.STALLED
    if engine.source_error is not None:
        return _source_failed(cfg, source_stats.rows, stats.done, engine.source_error)
    if budget.refused:  # the command's ledger prints the spend and the stop, once
        from asyncbench.runs.budget import BUDGET_EXIT

        return BUDGET_EXIT
    if stats.interrupted:
        if summary is not None:  # a shard's driver says it for the whole run
            print(
                f"interrupted by {stats.interrupted}: {stats.done} samples written; "
                "rerun the same command to resume",
                file=sys.stderr,
            )
        return 143 if stats.interrupted == "SIGTERM" else 130
    if summary is None:
        return exit_codes.OK
    from asyncbench.runs.verdict import verdict

    return verdict(summary, cfg.max_failed_pct)


def attach_journal(provider: object, money: Money, results: Path, model: str, urls: list[str]):  # type: ignore[no-untyped-def]
    """The job journal of the results file (kept beside it by the command's ledger, wherever
    this run executes), attached to an async-job provider (one with `attach_journal`):
    accepted jobs are recorded before polling and resumed, never resubmitted. None for other
    providers."""
    attach = getattr(provider, "attach_journal", None)
    if attach is None:
        return None
    from asyncbench.runs.ledger_wire import RunJournal

    journal = RunJournal(money, str(results), model, urls)
    attach(journal)
    return journal


def record_end(
    cfg: RunConfig,
    path: Path,
    total: int | None,
    source: object,
    model_version: str | None = None,
    ds: object = None,
) -> None:
    """What the sidecar can say only at the end: when the run ended, the split's rows when
    only the viewer could tell them, the samples the file should end with (what `score` and
    `verify` take as the denominator), and the model version the API reported."""
    from asyncbench.runs.provenance import now_iso

    extra = {"provider_model_version": model_version} if model_version else {}
    manifest.finish(
        path,
        ended_at=now_iso(),
        dataset={"rows": total},
        expected_samples=expected_samples(cfg, total, source, ds),
        **extra,
    )


def expected_samples(
    cfg: RunConfig, total: int | None, source: object, ds: object = None
) -> int | None:
    """How many samples the results file should end with, when the split's size is known:
    coverage then counts rows that never reached the file (a split cut short by an
    unreadable page reads 64/130, not 64/64). Rows dropped for an empty reference are not
    samples. Unknown for a shard (ids split evenly only on average)."""
    if total is None or cfg.shard is not None:
        return None
    from asyncbench.sources.chunked import ChunkedSplit

    if isinstance(ds, ChunkedSplit):  # scored per recording, its chunks joined
        return ds.recordings(cfg.max_samples)
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
        "language": cfg.language,
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


def open_session(connect_timeout: float):  # type: ignore[no-untyped-def]
    """The run's aiohttp session (a batch opens one per provider budget the same way)."""
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=0,
        ttl_dns_cache=300,
        keepalive_timeout=30,
        enable_cleanup_closed=True,
    )
    from asyncbench.engine.written import request_class

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        trust_env=env_has_proxy_or_netrc(),
        request_class=request_class(),  # latency from when each request was written
    )


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


def make_url_prepare(source, *, fetches_urls: bool, long_prepare=None):  # type: ignore[no-untyped-def]
    """`--use_url`: give the URL to a provider that fetches it itself; else download the audio
    (bounded by the engine's preppers, before a request slot is taken) and send the bytes as
    they are, named by what they really are (`audio.mp3`, `audio/mpeg`). Nothing is decoded,
    so clips too short to send are found by the viewer's `audio_length_s`, never downloaded.
    A long recording downloaded (see `runs.longform.is_long`) goes to `long_prepare`, which
    checks it against the provider's limits and sends it whole, as FLAC or in parts."""
    from asyncbench.engine.pipeline import Job
    from asyncbench.providers.base import AudioPayload
    from asyncbench.sources.audio import MIN_SEND_S, sniff
    from asyncbench.sources.dataset import digest

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
        sample.audio_sha = digest(data)  # as local runs have it: a changed clip is known
        if long_prepare is not None:
            from asyncbench.runs.longform import is_long

            sample.audio = data
            if is_long(sample):
                del data
                return await long_prepare(sample)
            sample.audio = None
        mime, ext = sniff(data)
        return Job(sample, duration, payload=AudioPayload(data, mime, f"audio.{ext}", duration))

    return prepare
