"""The checks every provider client must pass, parametrized over the registry
(`tests/conformance.py` holds one row per provider): every registered prefix has a row; a
missing key is one line naming its variable; the key travels in the provider's header; a
rejected key stops the run; a 429 with Retry-After and a 503 are retried until each clip has
its own text; a provider that fetches URLs gets the URL and no bytes; a job that fails inside
the service is recorded with its reason; a stream cut short is retried whole. Each runs the
real client and engine against the strict mock."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.providers import REGISTRY, VARIANTS, resolve
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings
from asyncbench.servers.mock.state import MockConfig

from .conformance import CASES, KEY, STREAM_FAULTS, Case, case_for
from .provider_runs import (
    N_SAMPLES,
    AudioHost,
    assert_each_retried_once,
    assert_failures_recorded,
    assert_job_server_errors_retried,
    assert_rate_limits_retried,
    assert_server_errors_retried,
    client,
    clip_list,
    job_provider,
    run_clips,
    transcribe_one,
    wav_clip,
)
from .stream_runs import assert_fault_retried_whole
from .support import MockServer

KEYED = [c for c in CASES if resolve(c.model)[0].key_required]
HTTP = [c for c in CASES if c.wire != "stream"]


def make(case: Case, url: str, key: str = KEY) -> Provider:
    """The case's client at the mock (job providers poll every 20 ms)."""
    url += case.base_suffix
    if case.wire == "job":
        cls, model = resolve(case.model)
        return job_provider(cls, url, model, key)
    return client(case.model, url, key)


@pytest.mark.parametrize("prefix", sorted(REGISTRY) + sorted(VARIANTS))
def test_every_registered_provider_has_a_row(prefix: str) -> None:
    """A new provider cannot skip the suite: its prefix (or model name, for a variant served
    by its own client) needs a row in conformance.py."""
    case = case_for(prefix)
    assert case is not None, f"add a Case for {prefix!r} to tests/conformance.py"
    name = prefix if "/" in prefix else f"{prefix}/x"
    assert resolve(case.model)[0] is resolve(name)[0]


@pytest.mark.parametrize("case", KEYED, ids=str)
def test_missing_key_is_one_line_naming_the_variable(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = case.key_env
    monkeypatch.delenv(env, raising=False)
    monkeypatch.delenv(f"{env}_FILE", raising=False)
    cls, model = resolve(case.model)
    with pytest.raises(ConfigError) as info:
        cls(ProviderSettings(model=model, base_url="http://127.0.0.1:9"))
    assert str(info.value) == f"{env} is not set; export {env}=... or pass --api_key"


@pytest.mark.parametrize("case", [c for c in HTTP if c.auth is not None], ids=str)
async def test_the_key_travels_in_the_providers_header(case: Case) -> None:
    assert case.auth is not None
    header, value = case.auth
    clip = wav_clip("Keys in their place.", 0.8)
    async with MockServer(MockConfig(keys={case.mock: KEY})) as mock:
        assert await transcribe_one(make(case, mock.url), clip) == "Keys in their place."
    seen = mock.state.last_request[case.auth_record or case.mock]
    assert seen[header] == value.format(key=KEY)


@pytest.mark.parametrize("case", HTTP, ids=str)
async def test_a_rejected_key_stops_the_run(case: Case, tmp_path: Path) -> None:
    config = MockConfig(keys={case.mock: KEY})
    async with MockServer(config) as mock:
        engine, rows = await run_clips(
            make(case, mock.url, "wrong-key-0000"), clip_list(4), tmp_path / "r"
        )
    assert rows == []
    fatal = engine.fatal
    assert fatal is not None and fatal.kind == "auth" and fatal.status == case.rejected_status
    assert case.key_env in str(fatal) and "wrong-key-0000" not in str(fatal)
    if case.rejected is not None:
        assert str(fatal) == case.rejected


@pytest.mark.parametrize("case", [c for c in CASES if c.quota], ids=str)
async def test_a_spent_balance_stops_the_run(case: Case, tmp_path: Path) -> None:
    assert case.quota is not None
    key, status, words = case.quota
    async with MockServer() as mock:
        engine, rows = await run_clips(make(case, mock.url, key), clip_list(4), tmp_path / "r")
    assert rows == []
    fatal = engine.fatal
    assert fatal is not None and (fatal.kind, fatal.status) == ("quota", status), fatal
    assert case.key_env in str(fatal) and words in str(fatal)


@pytest.mark.parametrize("case", [c for c in HTTP if c.rate_limit_key], ids=str)
async def test_a_429_with_retry_after_is_retried_once(case: Case, tmp_path: Path) -> None:
    """The mock's own 429 (its body, with Retry-After) on each clip's first attempt."""
    assert case.rate_limit_key is not None
    async with MockServer() as mock:
        engine, rows = await run_clips(
            make(case, mock.url, case.rate_limit_key), clip_list(3), tmp_path / "r"
        )
    assert_each_retried_once(engine, rows, 3, "rate_limited")


@pytest.mark.parametrize("case", HTTP, ids=str)
async def test_429s_with_retry_after_end_with_every_text(case: Case, tmp_path: Path) -> None:
    """A quarter of the requests 429 (with Retry-After): every clip still ends with its own
    text, and a job provider waits a 429 out in place, never submitting a clip twice."""
    state = await assert_rate_limits_retried(lambda url: make(case, url), tmp_path, case.mock)
    if case.jobs is not None:
        assert state.counters[case.jobs] == N_SAMPLES


@pytest.mark.parametrize("case", [c for c in HTTP if c.server_errors], ids=str)
async def test_server_errors_are_retried(case: Case, tmp_path: Path) -> None:
    if case.wire == "job":
        await assert_job_server_errors_retried(lambda url: make(case, url), tmp_path, case.mock)
    else:
        await assert_server_errors_retried(lambda url: make(case, url), tmp_path / "r", case.mock)


@pytest.mark.parametrize("case", [c for c in HTTP if resolve(c.model)[0].fetches_urls], ids=str)
async def test_url_mode_sends_the_url_and_no_bytes(case: Case) -> None:
    clip = wav_clip("Fetched by the service.", 0.8)
    async with AudioHost({"a.wav": clip.data or b""}) as host, MockServer() as mock:
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(make(case, mock.url), url_only) == "Fetched by the service."
    assert not mock.state.uploads


@pytest.mark.parametrize("case", [c for c in CASES if c.undecodable], ids=str)
async def test_bytes_that_are_not_audio_fail_once_in_the_services_words(
    case: Case, tmp_path: Path
) -> None:
    assert case.undecodable is not None
    kind, words = case.undecodable
    broken = AudioPayload(b"\x00\x01garbage" * 50, "audio/wav", "audio.wav", 1.0)
    items = [("Good words.", wav_clip("Good words.", 1.0)), ("x", broken)]
    async with MockServer() as mock:
        _, rows = await run_clips(make(case, mock.url), items, tmp_path / "r")
    good, bad = sorted(rows, key=lambda r: r["id"])
    assert (good["status"], good["pred_text"]) == ("ok", "Good words.")
    assert (bad["status"], bad["error_kind"], bad["attempts"]) == ("failed", kind, 1), bad
    assert words in bad["error"], bad["error"]


@pytest.mark.parametrize("case", [c for c in CASES if c.job_failure], ids=str)
async def test_failed_jobs_are_recorded_with_the_reason(case: Case, tmp_path: Path) -> None:
    assert case.job_failure is not None
    kind, reason = case.job_failure
    assert case.jobs is not None
    await assert_failures_recorded(
        lambda url: make(case, url),
        tmp_path,
        kind=kind,
        reason=reason,
        max_retries=1,
        per_attempt=case.jobs,
    )


@pytest.mark.parametrize(("case", "fault", "kind"), STREAM_FAULTS, ids=str)
async def test_a_stream_cut_short_is_retried_whole(
    case: Case, fault: str, kind: str, tmp_path: Path
) -> None:
    cls, model = resolve(case.model)
    await assert_fault_retried_whole(
        cls, model, KEY, f"{case.mock}.requests", tmp_path, fault, kind, robust=case.robust
    )


#: the board's newer providers (issue 27); older prefixes without an entry (aliases such as
#: `assembly`, the real-time clients) are the price table's own open question
PRICED = ("meta/muse-voice-transcribe", "sprag/symphony", "sophea/asr-k1",
          "gemini/gemini-3.5-transcribe", "zoom/scribe_v2_pro")  # fmt: skip


@pytest.mark.parametrize("model", PRICED)
def test_the_new_providers_have_a_price_or_say_they_have_none(model: str) -> None:
    """`estimate` and the budget price them, or say their price is unknown."""
    from asyncbench.core.prices import load_prices

    price = load_prices().lookup(model)
    assert price is not None, f"add {model} to prices.toml"
    assert price.known == (model == "zoom/scribe_v2_pro"), price
