"""The engine: samples in, one result line per sample out, `max_workers` requests in flight.

    reader (thread) ─► raw queue ─► preppers (thread pool) ─► ready queue ─► workers ─► writer

Every queue is bounded, so memory is O(requests in flight), never O(split). Workers hold no
slot while audio is prepared, so in-flight stays at `max_workers` as long as the preppers
keep ahead (decode is a few ms against hundreds of ms of network latency). Given
`prepare_many`, a prepper hands the thread pool up to `prep_chunk` clips at once: each
hand-off between the loop and a thread costs a wake-up on both sides, which for a fast
local endpoint weighs more than the loop's own work for a request.

The engine knows no provider: it is given `transcribe(url, payload) -> str` and an
`EndpointPool`, and handles timeouts, retries (exponential backoff with jitter, honouring
Retry-After), the ledger, and a clean stop: on the first signal it takes no new work and gives
requests in flight `grace_s` to finish; whatever has not finished is simply not written and
is done again on resume. Nothing half-done is ever written.

Arrival is separate from capacity (`engine/arrivals.py`). In a closed loop (the default)
`max_workers` workers each take the next sample when their last one is answered. In an open
loop one dispatcher sends each sample at its scheduled time, however many replies are
outstanding; `max_workers` stays a safety cap, and a send that has to wait for a free slot
(or for audio prep) goes late and is counted as such (`t_sent - t_intended`), instead of the
schedule silently slipping. Every line records `t_intended`, `t_sent` and `t_end`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from asyncbench.core.attempt import SAMPLE_ID
from asyncbench.core.errors import ConfigError, ProviderError, TransientError
from asyncbench.core.retry import backoff_delay
from asyncbench.core.sse import SSEMetrics
from asyncbench.core.streaming import StreamMetrics
from asyncbench.engine.arrivals import ArrivalSpec, schedule
from asyncbench.engine.endpoints import Endpoint, EndpointPool
from asyncbench.engine.liveness import LivenessWatch
from asyncbench.engine.parts import PartSource
from asyncbench.engine.stall import StallWatch, stall_aware_timeout
from asyncbench.engine.stats import RunStats, implausibly_long
from asyncbench.engine.written import open_mark
from asyncbench.providers.base import AudioPayload
from asyncbench.results.parts import stitch
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
#: the figures a provider's text may carry (`.stream`) into its results line
STREAM_FIGURES = (StreamMetrics, SSEMetrics)


@dataclass(slots=True)
class Job:
    """A sample ready to send, or already decided (too short, or undecodable)."""

    sample: Sample
    duration: float
    payload: AudioPayload | None = None
    skip: bool = False
    error: ProviderError | None = None
    timeout: float | None = None  # this request's own limit (long audio); None: the run's
    parts: PartSource | None = None  # a long recording, sent part by part (or whole, lazily)


@dataclass(slots=True)
class EngineOptions:
    max_workers: int = 300
    timeout: float = 120.0
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    prep_concurrency: int = 4
    # samples one prepper takes at once when the engine is given `prepare_many` (those
    # already read, up to this many: a trickling source is not held back to fill a chunk)
    prep_chunk: int = 8
    grace_s: float = 10.0
    # Kinds that will fail every request alike (a rejected key, an exhausted quota): the
    # first one stops the run instead of burning through the split.
    fatal_kinds: frozenset[str] = frozenset({"auth", "quota"})
    # Place among runs sharing one endpoint pool (a batch): lower is served first.
    priority: int = 0
    # samples read ahead of the preppers (None: max(64, 4 x prep_concurrency)); long
    # recordings hold megabytes each until they are spilled, so their runs read ahead less
    read_ahead: int | None = None
    # None or closed: closed loop; else the open-loop schedule every send follows
    arrivals: ArrivalSpec | None = None
    #: asked before every attempt with its audio seconds (retries too): False means
    #: sending it would cross --budget_usd, so it is not sent and the run stops (resumable);
    #: awaited when it returns an awaitable (the command's ledger, runs/ledger.py)
    admit: Callable[[float], bool | Awaitable[bool]] | None = None
    #: told after every admitted attempt (whatever its end) with the same audio seconds
    settle: Callable[[float], None] | None = None
    #: stop the run (`Engine.stalled`) when nothing has succeeded for this many seconds and
    #: every endpoint is resting (engine/liveness.py); None: wait for them however long
    stall_timeout: float | None = None


Transcribe = Callable[[str, AudioPayload], Awaitable[str]]
Prepare = Callable[[Sample], Awaitable[Job]]
#: prepares a chunk of samples at once (their jobs in their order): one hand-off to a prep
#: thread per chunk instead of one per sample
PrepareMany = Callable[[list[Sample]], Awaitable[list[Job]]]
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
        prepare_many: PrepareMany | None = None,
        options: EngineOptions,
        stats: RunStats | None = None,
        redact: Callable[[str], str] = lambda s: s,
        transport_errors: tuple[type[BaseException], ...] = (OSError,),
    ) -> None:
        self.pool = pool
        self.transcribe = transcribe
        self.prepare = prepare
        self.prepare_many = prepare_many
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
        # set once every sample has been handed to a worker: from then on the run only drains
        # (its in flight falls), so a batch may start filling the next run on the same budget
        self.source_done = asyncio.Event()
        # set once the reader has read the whole split (every sample is in the engine's
        # bounded queues, or the source failed or the run stopped): a batch starts the next
        # run of the same budget then, so its audio is prepared and its requests wait on the
        # shared pool before this run's last slots free up
        self.source_read = asyncio.Event()
        #: the loop's own stalls (a SIGSTOP, a blocked loop) do not count against --timeout
        self.stall_watch = StallWatch()
        # one anchor for every time written: line times are monotonic differences, exact
        self._wall_offset = time.time() - time.monotonic()
        self._open_tasks: set[asyncio.Task[None]] = set()
        self._prepped = asyncio.Event()  # every sample prepared (the preppers are done)
        self.write_failure: WriteFailed | None = None
        writer.on_fail = self._write_failed
        #: what the sample source raised mid-split (a corrupt parquet page): reading stopped
        #: there, and everything read before it was still sent and written
        self.source_error: Exception | None = None
        #: the one line naming each endpoint and its last error, when the run stopped because
        #: every endpoint was resting and nothing had succeeded for `stall_timeout`
        self.stalled: str | None = None

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

    def _stalled(self, line: str) -> None:
        """Every endpoint is resting and nothing has succeeded for `stall_timeout`: stop at
        once (requests in flight to dead endpoints would only time out); what was written
        stays, and a rerun resumes the rest."""
        self.stalled = line
        self.accepting = False
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
        many, most = self.prepare_many, self.opts.prep_chunk
        while True:
            sample = await raw.get()
            if sample is None:
                return
            if many is None or most <= 1:
                await ready.put(await self.prepare(sample))
                continue
            chunk, last = [sample], False
            while len(chunk) < most and not raw.empty():
                more = raw.get_nowait()
                if more is None:  # this prepper's end mark: its chunk is still prepared
                    last = True
                    break
                chunk.append(more)
            for job in await many(chunk):
                await ready.put(job)
            if last:
                return

    async def _work(self, ready: asyncio.Queue[Job | None]) -> None:
        while self.accepting:
            job = await ready.get()
            if job is None:
                # the end mark comes after every job: all are handed out, none waits for a slot
                if not self.stats.handed_out_at:
                    self.stats.handed_out_at.append(time.monotonic())
                self.source_done.set()
                return
            if not self.accepting:
                return
            # closed loop: a sample is meant to go the moment a worker is free for it
            result = await self._process(job, time.monotonic())
            if result is not None:
                self._record(result)
                self.writer.put(result)

    async def _dispatch(self, ready: asyncio.Queue[Job | None], spec: ArrivalSpec) -> None:
        """Open loop: send each sample at its intended time; at most `max_workers` at once.

        Samples that are not sent (too short, undecodable) take no place in the schedule.
        The schedule's clock starts once the ready queue is full (or every sample is
        prepared): audio prep gets a head start of a queue's worth of clips, so the first
        seconds are not sent late behind decoding. Prep that cannot keep up with the rate
        after that shows as late starts.

        The requests it starts are tasks of their own (`_open_tasks`), never awaited here:
        cancelling the dispatcher on a stop must not cancel the requests in flight, which get
        their grace period like a closed loop's busy workers."""
        slots = asyncio.Semaphore(self.opts.max_workers)
        times = schedule(spec)
        start: float | None = None
        while self.accepting:
            job = await ready.get()
            if job is None and not self.stats.handed_out_at:
                self.stats.handed_out_at.append(time.monotonic())  # the last one is on its way
            if job is None or not self.accepting:
                return
            if job.skip or job.error is not None or job.payload is None:
                result = await self._process(job, time.monotonic())
                if result is not None:
                    self._record(result)
                    self.writer.put(result)
                continue
            if start is None:
                while not ready.full() and not self._prepped.is_set():
                    await asyncio.sleep(0.005)
                start = time.monotonic()
            now = time.monotonic()
            intended = start + next(times)
            # uvloop's timers tick in whole milliseconds and may wake a little early: sleep
            # again for what is left, so nothing is ever sent before its time
            while now < intended:
                await asyncio.sleep(intended - now)
                now = time.monotonic()
            if slots.locked():
                self.stats.slot_waits += 1
            await slots.acquire()
            if not self.accepting:  # stopped while waiting: this one is left for the resume
                slots.release()
                return
            task = asyncio.create_task(self._send_one(job, intended, slots))
            self._open_tasks.add(task)
            task.add_done_callback(self._open_tasks.discard)

    async def _send_one(self, job: Job, intended: float, slots: asyncio.Semaphore) -> None:
        try:
            result = await self._process(job, intended)
        finally:
            slots.release()
        if result is not None:
            self._record(result)
            self.writer.put(result)

    # -- one sample -------------------------------------------------------------------------

    def _record(self, result: Result) -> None:
        st = self.stats
        st.done += 1
        if result.t_sent is not None and result.t_intended is not None:
            st.sent_at.append(result.t_sent)
            st.lateness.append(result.t_sent - result.t_intended)
        if result.status == OK:
            st.ok += 1
            st.audio_s += result.duration
            st.latencies.append(result.time)
            st.done_at.append(time.monotonic())
            if implausibly_long(result.pred_text, result.duration):
                st.implausible += 1
            if result.stream is not None:
                st.streams.append(result.stream)
            if result.t_intended is not None and result.t_end is not None:
                st.from_intended.append(result.t_end - result.t_intended)
                st.ok_audio.append(result.duration)
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
            if implausibly_long(result.pred_text, result.duration):
                st.implausible -= 1
            with contextlib.suppress(ValueError):
                st.latencies.remove(result.time)
            if st.done_at:
                st.done_at.pop()  # one fewer came back ok (the count is what the rates use)
        elif result.status == SKIPPED_SHORT:
            st.skipped_short -= 1
        else:
            st.failed -= 1
            st.failed_by_kind[result.error_kind or "unknown"] -= 1
            if st.failed_by_kind[result.error_kind or "unknown"] <= 0:
                del st.failed_by_kind[result.error_kind or "unknown"]

    def _result(
        self,
        job: Job,
        status: str,
        intended: float | None = None,
        sent: float | None = None,
        **kw: object,
    ) -> Result:
        s = job.sample
        wall = self._wall_offset
        return Result(
            id=s.id,
            status=status,
            duration=job.duration,
            text=s.reference,
            t_end=time.monotonic() + wall,
            t_intended=None if sent is None or intended is None else intended + wall,
            t_sent=None if sent is None else sent + wall,
            parent_id=s.meta.get("parent_id"),
            chunk_index=s.meta.get("chunk_index"),
            audio_sha=s.audio_sha,
            ref_sha=s.ref_sha,
            **kw,  # type: ignore[arg-type]
        )

    async def _process(self, job: Job, intended: float) -> Result | None:
        """One sample to its result; `intended` (monotonic) is when it was meant to go."""
        if job.skip:
            return self._result(job, SKIPPED_SHORT, time=0.0, pred_text=".")
        if job.parts is not None:
            return await self._process_parts(job, job.parts, intended)
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
        limit = job.timeout or self.opts.timeout
        attempt = 0
        free = 0  # failed probes of resting endpoints while another was up: not this sample's
        sent: float | None = None  # the first attempt's send
        failed_on: list[Endpoint] = []  # retries go to other endpoints while any is up
        task = asyncio.current_task()
        assert task is not None
        while True:
            attempt += 1
            ep = await self.pool.acquire(avoid=failed_on, priority=self.opts.priority)
            probe = self.pool.is_probe(ep)
            if not self.accepting:  # stopped while this sample waited for a slot: send nothing
                self.pool.abandon(ep)
                return None
            admitted = True if self.opts.admit is None else self.opts.admit(job.duration or 0.0)
            if not isinstance(admitted, bool):  # the command's budget may sit in another process
                admitted = await admitted
            if not admitted:
                self.pool.abandon(ep)  # over budget: not sent, nothing written, resumed later
                if self._signals == 0:  # once: a second stop would cancel what is in flight
                    self.stop("budget")
                return None
            self._busy.add(task)
            mark = open_mark()  # filled when the request is written (engine/written.py)
            t0 = time.perf_counter()
            started = asyncio.get_running_loop().time()
            if sent is None:
                sent = time.monotonic()
            err: ProviderError
            SAMPLE_ID.set(job.sample.id)  # the job journal binds an accepted job to it
            try:
                try:
                    async with stall_aware_timeout(limit, self.stall_watch):
                        text = await self.transcribe(ep.url, job.payload)
                finally:
                    if self.opts.settle is not None:
                        self.opts.settle(job.duration or 0.0)
            except ProviderError as exc:
                err = exc
            except TimeoutError:
                err = TransientError("timeout", f"no reply within {limit:g} s")
            except asyncio.CancelledError:
                self._busy.discard(task)
                self.pool.abandon(ep)
                raise
            except self.transport_errors as exc:
                err = _transport_error(exc)
            except Exception as exc:  # a client bug must cost one sample, not the run
                err = ProviderError(
                    "internal",
                    f"{type(exc).__name__}: {exc}"[:240]
                    + " (an asyncbench bug: please report it with this line and the command)",
                )
            else:
                latency = time.perf_counter() - (mark[0] if mark else t0)
                self._busy.discard(task)
                self.pool.release(ep, ok=True, latency=latency)
                self.stats.attempts += 1
                self.stats.busy_s += latency
                # a streaming provider's figures (core/streaming.py, core/sse.py)
                streamed = getattr(text, "stream", None)
                if isinstance(streamed, StreamMetrics):
                    self.stats.chunk_lateness.extend(streamed.lateness)
                return self._result(
                    job,
                    OK,
                    intended,
                    sent,
                    time=latency,
                    pred_text=str(text),
                    attempts=attempt,
                    endpoint=ep.label,
                    stream=streamed.fields() if isinstance(streamed, STREAM_FIGURES) else None,
                )
            latency = time.perf_counter() - (mark[0] if mark else t0)
            self._busy.discard(task)
            # a timeout of an attempt during which the client itself stalled is not the
            # endpoint's fault: it must not rest the endpoint
            loop_now = asyncio.get_running_loop().time()
            paused = err.kind == "timeout" and self.stall_watch.stalled(started, loop_now) > 0
            health = err.kind in HEALTH_KINDS and not paused
            # this sample was the probe of an endpoint already known to fail while another one
            # answers: the pool's choice, not the sample's luck, so it keeps its retries and goes
            # straight on (the attempt is still counted: the server saw it)
            probe_only = probe and health and self.pool.others_up(ep)
            self.pool.release(
                ep,
                ok=False,
                latency=latency,
                kind=err.kind,
                health=health,
                error=f"{err.kind}: {self.redact(str(err))}",
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
            free += probe_only
            if not err.retryable or attempt - free > self.opts.max_retries:
                return self._result(
                    job,
                    FAILED,
                    intended,
                    sent,
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
            if probe_only:
                continue
            await asyncio.sleep(
                backoff_delay(
                    attempt - free,
                    base=self.opts.backoff_base,
                    cap=self.opts.backoff_cap,
                    retry_after=err.retry_after,
                )
            )
            if not self.accepting:
                return None

    async def _process_parts(self, job: Job, parts: PartSource, intended: float) -> Result | None:
        """A recording in parts: each sent (with its own retries and timeout) in this worker's
        slot, recorded as it comes back, then stitched in order into the sample's one line.
        Parts an earlier run got back are not sent again. A part that fails fails the sample
        (the parts back stay recorded, so the retry sends only the rest)."""
        texts: list[str] = []
        spent = 0.0
        attempts = 0
        endpoint: str | None = None
        counted = 0.0  # audio seconds shown in progress while the parts come back
        first_sent: float | None = None  # monotonic send of the first part this run sent
        try:
            for k in range(parts.n):
                earlier = parts.earlier(k)
                if earlier is not None:
                    texts.append(earlier.pred_text)
                    spent += earlier.time
                    continue
                if not self.accepting:
                    return None  # stopping: the parts back are kept, the rest is for resume
                try:
                    payload = await parts.payload(k)
                except ProviderError as err:
                    sub = Job(job.sample, job.duration, error=err)
                    return await self._process(sub, intended)
                sub = Job(job.sample, parts.seconds(k), payload=payload, timeout=parts.timeout(k))
                del payload
                got = await self._process(sub, intended)
                sub.payload = None  # this part's audio is not held while the next one is sent
                if got is None:
                    return None
                attempts += got.attempts
                if got.status != OK:
                    got.duration = job.duration
                    got.attempts = attempts
                    got.error = f"part {k + 1}/{parts.n}: {got.error}"
                    return got
                if first_sent is None and got.t_sent is not None:
                    first_sent = got.t_sent - self._wall_offset
                parts.finished(k, got.pred_text, got.time, got.attempts, got.endpoint)
                texts.append(got.pred_text)
                spent += got.time
                endpoint = got.endpoint
                counted += sub.duration
                self.stats.audio_s += sub.duration
        finally:
            self.stats.audio_s -= counted  # the sample's line counts the whole recording
            parts.close()
        return self._result(
            job,
            OK,
            intended,
            first_sent,
            time=spent,
            pred_text=stitch(texts),
            attempts=attempts,
            endpoint=endpoint,
            parts=parts.n if parts.n > 1 else None,  # sent whole: a line like any other
        )

    # -- the whole run ----------------------------------------------------------------------

    async def run(self, batches: Batches) -> RunStats:
        opts = self.opts
        raw: asyncio.Queue[Sample | None] = asyncio.Queue(
            maxsize=opts.read_ahead or max(64, opts.prep_concurrency * 4)
        )
        open_loop = opts.arrivals is not None and opts.arrivals.open
        # an open loop keeps more clips ready: its sends come in bursts, not as slots free up
        ready: asyncio.Queue[Job | None] = asyncio.Queue(
            maxsize=max(256 if open_loop else 16, opts.max_workers // 4)
        )
        self.stall_watch.start()
        liveness = (
            LivenessWatch(self.pool, opts.stall_timeout, self._stalled)
            if opts.stall_timeout is not None
            else None
        )
        if liveness is not None:
            liveness.start()
        writer_task = asyncio.create_task(self.writer.run(), name="writer")
        reader = asyncio.create_task(self._read(batches, raw), name="reader")
        preppers = [
            asyncio.create_task(self._prep(raw, ready), name=f"prep-{i}")
            for i in range(opts.prep_concurrency)
        ]
        if opts.arrivals is not None and open_loop:
            workers = [asyncio.create_task(self._dispatch(ready, opts.arrivals), name="dispatch")]
        else:
            workers = [
                asyncio.create_task(self._work(ready), name=f"worker-{i}")
                for i in range(opts.max_workers)
            ]

        async def pipeline() -> None:
            try:
                await reader
            finally:
                self.source_read.set()
            for _ in preppers:
                await raw.put(None)
            await asyncio.gather(*preppers)
            self._prepped.set()
            for _ in workers:
                await ready.put(None)
            await asyncio.gather(*workers)
            while self._open_tasks:  # an open loop's last requests
                await asyncio.gather(*list(self._open_tasks))

        pipe = asyncio.create_task(pipeline(), name="pipeline")
        stopper = asyncio.create_task(self._stop.wait(), name="stop")
        error: BaseException | None = None
        try:
            await asyncio.wait({pipe, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if pipe.done():
                error = pipe.exception()
            else:
                await self._wind_down([*workers, *self._open_tasks])
        finally:
            stopper.cancel()
            sending = list(self._open_tasks)
            for task in (pipe, reader, *preppers, *workers, *sending):
                task.cancel()
            await asyncio.gather(
                pipe, reader, *preppers, *workers, *sending, return_exceptions=True
            )
            await self.stall_watch.stop()
            self.stats.loop_lags = self.stall_watch.lags
            self.stats.loop_busy = self.stall_watch.busy
            if liveness is not None:
                await liveness.stop()
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
