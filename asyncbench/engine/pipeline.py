"""The engine: samples in, one result line per sample out, `max_workers` requests in flight.

    reader (thread) ─► raw queue ─► preppers (thread pool) ─► ready queue ─► workers ─► writer

Every queue is bounded, so memory is O(requests in flight), never O(split). Workers hold no
slot while audio is prepared, so in-flight stays at `max_workers` as long as the preppers
keep ahead (decode is a few ms against hundreds of ms of network latency).

The engine knows no provider: it is given `transcribe(url, payload) -> str` and an
`EndpointPool`, and handles timeouts, retries (exponential backoff with jitter, honouring
Retry-After), the ledger, and a clean stop: on the first signal it takes no new work and gives
requests in flight `grace_s` to finish; whatever has not finished is simply not written and
is done again on resume. Nothing half-done is ever written.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from asyncbench.core.errors import ConfigError, ProviderError, TransientError
from asyncbench.core.retry import backoff_delay
from asyncbench.engine.endpoints import Endpoint, EndpointPool
from asyncbench.engine.stats import RunStats
from asyncbench.providers.base import AudioPayload
from asyncbench.results.store import (
    FAILED,
    OK,
    SKIPPED_SHORT,
    Result,
    ResultWriter,
    WriteFailed,
)
from asyncbench.sources.dataset import Sample, take

# Failure kinds that say the endpoint itself is unwell (and count towards resting it).
HEALTH_KINDS = frozenset({"connection", "timeout", "server_error"})


@dataclass(slots=True)
class Job:
    """A sample ready to send, or already decided (too short, or undecodable)."""

    sample: Sample
    duration: float
    payload: AudioPayload | None = None
    skip: bool = False
    error: ProviderError | None = None


@dataclass(slots=True)
class EngineOptions:
    max_workers: int = 300
    timeout: float = 120.0
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    prep_concurrency: int = 4
    grace_s: float = 10.0
    # Kinds that will fail every request alike (a rejected key, an exhausted quota): the
    # first one stops the run instead of burning through the split.
    fatal_kinds: frozenset[str] = frozenset({"auth", "quota"})


Transcribe = Callable[[str, AudioPayload], Awaitable[str]]
Prepare = Callable[[Sample], Awaitable[Job]]
#: a sync iterator (read in a thread: parquet, datasets) or an async one (read on the loop:
#: the dataset viewer over HTTP) of sample batches
Batches = Iterator[list[Sample]] | AsyncIterator[list[Sample]]


def _transport_error(exc: BaseException) -> ProviderError:
    """Map network exceptions to retryable errors without importing aiohttp at module level."""
    name = type(exc).__name__
    text = str(exc) or name
    return TransientError("connection", f"{name}: {text}"[:300])


class Engine:
    def __init__(
        self,
        *,
        pool: EndpointPool,
        transcribe: Transcribe,
        prepare: Prepare,
        writer: ResultWriter,
        options: EngineOptions,
        stats: RunStats | None = None,
        redact: Callable[[str], str] = lambda s: s,
        transport_errors: tuple[type[BaseException], ...] = (OSError,),
    ) -> None:
        self.pool = pool
        self.transcribe = transcribe
        self.prepare = prepare
        self.writer = writer
        self.opts = options
        self.stats = stats or RunStats()
        self.redact = redact
        self.transport_errors = transport_errors
        self.accepting = True
        self._stop = asyncio.Event()
        self._busy: set[asyncio.Task[None]] = set()
        self._signals = 0
        self.fatal: ProviderError | None = None
        self.write_failure: WriteFailed | None = None
        writer.on_fail = self._write_failed
        #: what the sample source raised mid-split (a corrupt parquet page): reading stopped
        #: there, and everything read before it was still sent and written
        self.source_error: Exception | None = None

    # -- stopping ---------------------------------------------------------------------------

    def stop(self, reason: str = "SIGINT") -> None:
        """First call: finish what is in flight (up to grace_s). Second call: stop now."""
        self._signals += 1
        self.stats.interrupted = reason
        self.accepting = False
        if self._signals > 1:
            self.opts.grace_s = 0.0
            for task in list(self._busy):
                task.cancel()
        self._stop.set()

    def _write_failed(self, failure: WriteFailed) -> None:
        """The results file takes no more lines (a full disk, a deleted file): nothing more
        is sent, and requests in flight are abandoned at once, since their answers could not
        be saved either; the samples are redone on resume."""
        self.write_failure = failure
        self.accepting = False
        self.opts.grace_s = 0.0
        for task in list(self._busy):
            task.cancel()
        self._stop.set()

    # -- stages -----------------------------------------------------------------------------

    async def _read(self, batches: Batches, raw: asyncio.Queue[Sample | None]) -> None:
        if isinstance(batches, AsyncIterator):
            # An async source runs on the loop; it is asked for the next batch only when the
            # raw queue has room, so an HTTP source fetches its pages as they are needed.
            try:
                await self._fill(lambda: anext(batches, []), raw)
            finally:
                aclose = getattr(batches, "aclose", None)
                if aclose is not None:
                    await aclose()
            return
        loop = asyncio.get_running_loop()
        # One dedicated thread: the dataset iterator is used from one thread only, and reads
        # never queue behind file writes in the default executor.
        pool = ThreadPoolExecutor(1, thread_name_prefix="reader")
        try:
            await self._fill(lambda: loop.run_in_executor(pool, take, batches), raw)
        except ConfigError:
            raise
        except Exception as exc:  # a corrupt or truncated file: it costs its rows, not the run
            # The samples read so far are still prepared, sent and written (the pipeline
            # drains as at the end of the split), so a rerun skips them and gets this far at
            # once instead of losing the requests in flight to the error again and again.
            self.source_error = exc
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _fill(
        self,
        next_batch: Callable[[], Awaitable[list[Sample]]],
        raw: asyncio.Queue[Sample | None],
    ) -> None:
        while self.accepting:
            batch = await next_batch()
            if not batch:
                return
            for sample in batch:
                await raw.put(sample)

    async def _prep(
        self, raw: asyncio.Queue[Sample | None], ready: asyncio.Queue[Job | None]
    ) -> None:
        while True:
            sample = await raw.get()
            if sample is None:
                return
            await ready.put(await self.prepare(sample))

    async def _work(self, ready: asyncio.Queue[Job | None]) -> None:
        while self.accepting:
            job = await ready.get()
            if job is None or not self.accepting:
                return
            result = await self._process(job)
            if result is not None:
                self._record(result)
                self.writer.put(result)

    # -- one sample -------------------------------------------------------------------------

    def _record(self, result: Result) -> None:
        st = self.stats
        st.done += 1
        if result.status == OK:
            st.ok += 1
            st.audio_s += result.duration
            st.latencies.append(result.time)
        elif result.status == SKIPPED_SHORT:
            st.skipped_short += 1
        else:
            st.failed += 1
            st.failed_by_kind[result.error_kind or "unknown"] += 1

    def _unrecord(self, result: Result) -> None:
        """Take back `_record` for a result that never reached the file, so the summary's
        "samples written" counts only lines really written."""
        st = self.stats
        st.done -= 1
        if result.status == OK:
            st.ok -= 1
            st.audio_s -= result.duration
            with contextlib.suppress(ValueError):
                st.latencies.remove(result.time)
        elif result.status == SKIPPED_SHORT:
            st.skipped_short -= 1
        else:
            st.failed -= 1
            st.failed_by_kind[result.error_kind or "unknown"] -= 1
            if st.failed_by_kind[result.error_kind or "unknown"] <= 0:
                del st.failed_by_kind[result.error_kind or "unknown"]

    def _result(self, job: Job, status: str, **kw: object) -> Result:
        s = job.sample
        return Result(
            id=s.id,
            status=status,
            duration=job.duration,
            text=s.reference,
            t_end=time.time(),
            **kw,  # type: ignore[arg-type]
        )

    async def _process(self, job: Job) -> Result | None:
        if job.skip:
            return self._result(job, SKIPPED_SHORT, time=0.0, pred_text=".")
        if job.error is not None or job.payload is None:
            err = job.error or TransientError("internal", "no audio prepared")
            return self._result(
                job,
                FAILED,
                time=0.0,
                pred_text="",
                error=self.redact(str(err)),
                error_kind=err.kind,
                attempts=0,
            )
        attempt = 0
        failed_on: list[Endpoint] = []  # retries go to other endpoints while any is up
        task = asyncio.current_task()
        assert task is not None
        while True:
            attempt += 1
            ep = await self.pool.acquire(avoid=failed_on)
            if not self.accepting:  # stopped while this sample waited for a slot: send nothing
                self.pool.abandon(ep)
                return None
            self._busy.add(task)
            t0 = time.perf_counter()
            err: ProviderError
            try:
                async with asyncio.timeout(self.opts.timeout):
                    text = await self.transcribe(ep.url, job.payload)
            except ProviderError as exc:
                err = exc
            except TimeoutError:
                err = TransientError("timeout", f"no reply within {self.opts.timeout:g} s")
            except asyncio.CancelledError:
                self._busy.discard(task)
                self.pool.abandon(ep)
                raise
            except self.transport_errors as exc:
                err = _transport_error(exc)
            except Exception as exc:  # a client bug must cost one sample, not the run
                err = ProviderError("internal", f"{type(exc).__name__}: {exc}"[:300])
            else:
                latency = time.perf_counter() - t0
                self._busy.discard(task)
                self.pool.release(ep, ok=True, latency=latency)
                self.stats.attempts += 1
                self.stats.busy_s += latency
                return self._result(
                    job, OK, time=latency, pred_text=text, attempts=attempt, endpoint=ep.label
                )
            latency = time.perf_counter() - t0
            self._busy.discard(task)
            self.pool.release(
                ep, ok=False, latency=latency, kind=err.kind, health=err.kind in HEALTH_KINDS
            )
            failed_on.append(ep)
            self.stats.attempts += 1
            self.stats.busy_s += latency
            self.stats.errors_by_kind[err.kind] += 1
            if err.kind in self.opts.fatal_kinds:
                if self.fatal is None:
                    self.fatal = err
                self.accepting = False
                self._stop.set()
                return None  # not a fact about this sample: nothing is recorded
            if not err.retryable or attempt > self.opts.max_retries:
                return self._result(
                    job,
                    FAILED,
                    time=latency,
                    pred_text="",
                    error=self.redact(str(err)),
                    error_kind=err.kind,
                    attempts=attempt,
                    endpoint=ep.label,
                )
            if not self.accepting:
                return None  # stopping: leave it for the resumed run
            self.stats.retries += 1
            await asyncio.sleep(
                backoff_delay(
                    attempt,
                    base=self.opts.backoff_base,
                    cap=self.opts.backoff_cap,
                    retry_after=err.retry_after,
                )
            )
            if not self.accepting:
                return None

    # -- the whole run ----------------------------------------------------------------------

    async def run(self, batches: Batches) -> RunStats:
        opts = self.opts
        raw: asyncio.Queue[Sample | None] = asyncio.Queue(
            maxsize=max(64, opts.prep_concurrency * 4)
        )
        ready: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=max(16, opts.max_workers // 4))
        writer_task = asyncio.create_task(self.writer.run(), name="writer")
        reader = asyncio.create_task(self._read(batches, raw), name="reader")
        preppers = [
            asyncio.create_task(self._prep(raw, ready), name=f"prep-{i}")
            for i in range(opts.prep_concurrency)
        ]
        workers = [
            asyncio.create_task(self._work(ready), name=f"worker-{i}")
            for i in range(opts.max_workers)
        ]

        async def pipeline() -> None:
            await reader
            for _ in preppers:
                await raw.put(None)
            await asyncio.gather(*preppers)
            for _ in workers:
                await ready.put(None)
            await asyncio.gather(*workers)

        pipe = asyncio.create_task(pipeline(), name="pipeline")
        stopper = asyncio.create_task(self._stop.wait(), name="stop")
        error: BaseException | None = None
        try:
            await asyncio.wait({pipe, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if pipe.done():
                error = pipe.exception()
            else:
                await self._wind_down(workers)
        finally:
            stopper.cancel()
            for task in (pipe, reader, *preppers, *workers):
                task.cancel()
            await asyncio.gather(pipe, reader, *preppers, *workers, return_exceptions=True)
            self.writer.close()
            await writer_task
            self.stats.ended = time.monotonic()
            if self.write_failure is not None:
                for result in self.write_failure.unsaved:
                    self._unrecord(result)
        if error is not None:
            raise error
        return self.stats

    async def _wind_down(self, workers: list[asyncio.Task[None]]) -> None:
        """Idle workers go at once; busy ones get `grace_s` to bring their answer home."""
        busy = set(self._busy)
        for task in workers:
            if task not in busy:
                task.cancel()
        if busy and self.opts.grace_s > 0:
            deadline = time.monotonic() + self.opts.grace_s
            while True:
                pending = {t for t in busy if not t.done() and t in self._busy}
                if not pending or self.opts.grace_s == 0:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                await asyncio.wait(pending, timeout=min(left, 0.1))
