"""Never billed twice: an accepted async job is journaled before polling and resumed, not
submitted again, after a poll timeout, a crash or SIGKILL; only a failed (or forgotten) job
is submitted again; `--delete_jobs` deletes finished jobs; the journal is compacted when the
split completes.

The mock counts the jobs it accepted per audio (`MockState.submissions`, by the bytes'
digest), so "each clip submitted exactly once" is read off the service's side.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.errors import ProviderError
from asyncbench.providers._jobs import JobProvider
from asyncbench.providers.assemblyai import AssemblyAIProvider
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.gladia import GladiaProvider
from asyncbench.providers.revai import RevAIProvider
from asyncbench.providers.speechmatics import SpeechmaticsProvider
from asyncbench.results.jobs import JobJournal, scan_jobs
from asyncbench.runs.ledger import Ledger
from asyncbench.runs.ledger_wire import LocalMoney, RunJournal
from asyncbench.servers.mock.state import MockConfig

from .faultkit import finish, start, wait_until
from .provider_runs import CONFIG, SPLIT, env_with, wav_clip
from .support import MockServer, make_dataset, only_file, read_results

KEY = "aai-test"
N = 100


def provider(url: str, **options: str) -> AssemblyAIProvider:
    settings = ProviderSettings(
        model="best", api_key=KEY, base_url=url, options={"poll_interval": "0.02", **options}
    )
    return AssemblyAIProvider(settings)


def run_journal(tmp_path: Path, url: str) -> RunJournal:
    """The journal a run of assembly/best on `url` sees: the command's ledger's, beside
    `r.jsonl`."""
    return RunJournal(LocalMoney(Ledger()), str(tmp_path / "r.jsonl"), "assembly/best", [url])


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def test_poll_timeout_then_retry_polls_the_same_job(tmp_path: Path) -> None:
    clip = wav_clip("the same job again", 1.0)
    async with MockServer(MockConfig(latency=0.6)) as mock, aiohttp.ClientSession() as s:
        client = provider(mock.url)
        journal = run_journal(tmp_path, mock.url)
        client.attach_journal(journal)
        # the engine's --timeout cancels the attempt while the job is still running
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.transcribe(s, mock.url, clip), 0.2)
        assert len(scan_jobs(tmp_path / "r.jobs.ndjson")) == 1  # recorded before polling
        text = await client.transcribe(s, mock.url, clip)
    assert text == "the same job again"
    assert journal.resumed == 1
    assert list(mock.state.submissions.values()) == [1]
    assert mock.state.counters["assemblyai.jobs"] == 1


async def test_a_failed_job_is_submitted_again(tmp_path: Path) -> None:
    clip = wav_clip("failed once", 1.0)
    async with MockServer(MockConfig(rate_job_error=1.0)) as mock, aiohttp.ClientSession() as s:
        client = provider(mock.url)
        journal = run_journal(tmp_path, mock.url)
        client.attach_journal(journal)
        with pytest.raises(ProviderError, match="failed"):
            await client.transcribe(s, mock.url, clip)
        states = [e.state for e in scan_jobs(tmp_path / "r.jobs.ndjson").values()]
        assert states == ["failed"]  # the failed job is not resumed
        mock.state.config.rate_job_error = 0.0
        assert await client.transcribe(s, mock.url, clip) == "failed once"
    assert journal.resumed == 0
    assert list(mock.state.submissions.values()) == [2]


async def test_a_job_the_provider_forgot_is_submitted_again(tmp_path: Path) -> None:
    clip = wav_clip("forgotten job", 1.0)
    async with MockServer() as mock, aiohttp.ClientSession() as s:
        client = provider(mock.url)
        journal = run_journal(tmp_path, mock.url)
        client.attach_journal(journal)
        from asyncbench.providers._jobs import audio_key

        key = await audio_key(clip.data, None, "en")
        await journal.submitted(key, "no-such-job", mock.url)
        assert await client.transcribe(s, mock.url, clip) == "forgotten job"
    assert journal.resumed == 1
    assert list(mock.state.submissions.values()) == [1]


async def test_delete_jobs_deletes_finished_jobs_only_when_asked(tmp_path: Path) -> None:
    async with MockServer() as mock, aiohttp.ClientSession() as s:
        await provider(mock.url).transcribe(s, mock.url, wav_clip("kept", 0.5))
        assert mock.state.counters["assemblyai.deleted"] == 0
        client = provider(mock.url, delete_jobs="1")
        assert await client.transcribe(s, mock.url, wav_clip("deleted", 0.5)) == "deleted"
    assert mock.state.counters["assemblyai.deleted"] == 1
    assert len(mock.state.jobs) == 1


@pytest.mark.parametrize(
    ("cls", "model"),
    [
        (AssemblyAIProvider, "best"),
        (RevAIProvider, "machine"),
        (SpeechmaticsProvider, "enhanced"),
        (GladiaProvider, "solaria-1"),
    ],
)
async def test_delete_jobs_for_every_job_provider_whose_api_deletes(
    cls: type[JobProvider], model: str
) -> None:
    async with MockServer() as mock, aiohttp.ClientSession() as s:
        client = cls(
            ProviderSettings(
                model=model,
                api_key=KEY,
                base_url=mock.url,
                options={"poll_interval": "0.02", "delete_jobs": "1"},
            )
        )
        assert await client.transcribe(s, client.base_url, wav_clip("gone after", 0.6))
    name = client.prefixes[0].replace("assembly", "assemblyai")
    assert mock.state.counters[f"{name}.deleted"] == 1 and not mock.state.jobs


def test_compaction_keeps_only_pending_jobs_and_ignores_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jobs.ndjson"

    async def fill() -> None:
        journal = JobJournal(path)
        await journal.submitted("a", "j1", "http://x")
        await journal.submitted("b", "j2", "http://x", {"file_id": "f2"})
        await journal.finished("a", "j1")
        journal.close()

    asyncio.run(fill())
    with path.open("ab") as fh:
        fh.write(b'{"key": "c", "job": "j3", "sta')  # a SIGKILL mid-line
    entries = scan_jobs(path)
    assert set(entries) == {"a", "b"} and entries["b"].extra == {"file_id": "f2"}
    assert JobJournal(path).compact() == 1
    assert [e.job for e in scan_jobs(path).values()] == ["j2"]
    journal = JobJournal(path)
    asyncio.run(journal.finished("b", "j2", failed=True))
    assert journal.compact() == 0 and not path.exists()


async def test_sigkill_with_100_jobs_in_flight_then_resume_submits_each_clip_once(
    tmp_path: Path,
) -> None:
    dataset = make_dataset(tmp_path / "esb", {(CONFIG, SPLIT): N}, fmt="wav")
    results = tmp_path / "results"
    args = [
        "run",
        "--model_name",
        "assembly/best",
        "--dataset",
        CONFIG,
        "--split",
        SPLIT,
        "--dataset_path",
        str(dataset),
        "--results_dir",
        str(results),
        "--max_workers",
        str(N),
        "--poll_interval",
        "0.05",
        "--no_progress",
    ]
    # accepted jobs stay running until the test lets them go: none can finish before the
    # kill, however loaded the machine is
    release = asyncio.Event()
    async with MockServer() as mock:
        mock.state.wait = release.wait  # type: ignore[method-assign]
        env = env_with(ASSEMBLYAI_API_KEY=KEY)
        proc = await start([*args, "--base_url", mock.url], env=env)
        await wait_until(
            lambda: any(lines(p) >= N for p in results.glob("*.jobs.ndjson")),
            proc,
            timeout=240,
            what=f"{N} jobs journaled",
        )
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        journal = next(results.glob("*.jobs.ndjson"))
        assert not any(read_results(p) for p in results.glob("*.jsonl"))  # all in flight
        assert mock.state.counters["assemblyai.jobs"] == N
        release.set()  # the jobs finish; the resumed run only polls them
        resumed = [*args, "--base_url", mock.url, "--delete_jobs"]
        code, _out, err = await finish(await start(resumed, env=env), 240)
    assert code == 0, err
    rows = read_results(only_file(results))
    assert len(rows) == N and all(r["pred_text"] == r["text"] for r in rows)
    assert mock.state.counters["assemblyai.jobs"] == N
    assert len(mock.state.submissions) == N
    assert set(mock.state.submissions.values()) == {1}, "a clip was submitted twice"
    assert not journal.exists()  # compacted away: the split is complete
    assert mock.state.counters["assemblyai.deleted"] == N  # --delete_jobs reaches the client
