"""A provider's documented request-rate limit is the account's: every run of the account in
one process draws from one pacer. A batch runs several splits of a provider at once, each
with its own client; paced per client, two Speechmatics runs submitted 19 jobs a second
against a limit of 10, and the service's 429s failed samples (seen in a nohup'd run_api.sh)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from asyncbench.providers.speechmatics import SpeechmaticsProvider
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import clips, job_provider, run_engine
from .support import MockServer

KEY = "sm-pace-key"


def test_clients_of_one_account_share_its_pacers() -> None:
    a = job_provider(SpeechmaticsProvider, "http://127.0.0.1:9", "enhanced", KEY)
    b = job_provider(SpeechmaticsProvider, "http://127.0.0.1:9", "standard", KEY)
    other_key = job_provider(SpeechmaticsProvider, "http://127.0.0.1:9", "enhanced", "k2")
    other_url = job_provider(SpeechmaticsProvider, "http://127.0.0.1:8", "enhanced", KEY)
    assert a.submit_pace is b.submit_pace and a.status_pace is b.status_pace
    assert a.submit_pace is not a.status_pace
    assert other_key.submit_pace is not a.submit_pace
    assert other_url.submit_pace is not a.submit_pace


def test_a_shard_paces_at_its_share_of_the_rate() -> None:
    whole = job_provider(SpeechmaticsProvider, "http://127.0.0.1:9", "enhanced", KEY)
    half = SpeechmaticsProvider(replace(whole.settings, rate_share=0.5))
    assert whole.submit_pace is not None and half.submit_pace is not None
    assert half.submit_pace.rate == whole.submit_pace.rate / 2


async def test_two_runs_of_one_account_keep_its_submit_limit_together(tmp_path: Path) -> None:
    """Two engines at once, each with its own client: the mock refuses an 11th job in any one
    second, and the 2 x 12 submits take at least as long as one 9.5/s limit allows (a per-client
    pacer would let them through in half that time, and into the mock's 429s)."""
    async with MockServer(MockConfig(keys={"speechmatics": KEY})) as mock:
        runs = [job_provider(SpeechmaticsProvider, mock.url, "enhanced", KEY) for _ in range(2)]
        for i in range(2):
            (tmp_path / str(i)).mkdir()
        start = time.monotonic()
        results = await asyncio.gather(
            *(
                run_engine(p, clips(12), tmp_path / str(i), max_retries=0)
                for i, p in enumerate(runs)
            )
        )
        elapsed = time.monotonic() - start
    rows = [row for rs in results for row in rs.values()]
    failed = [r for r in rows if r["status"] != "ok"]
    # one of slack for two arrivals bunched by a loaded machine, as in tests/test_pacing.py;
    # per-client pacing fails about half of the second second's submits
    assert len(rows) == 24 and len(failed) <= 1, failed
    assert mock.state.counters["speechmatics.rate_limited"] <= 1
    assert elapsed >= 0.9 * 23 / SpeechmaticsProvider.submit_rate
