"""The price table and the spend in `score`: real files, the real CLI, exact messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.core.prices import DEFAULT_PRICES, load_prices, parse_prices

from .scoring_files import DS, ours, write_jsonl
from .test_scoring_cli import score

GOOD = """\
[[price]]
provider = "acme"
model = "fast-*"
usd_per_hour = 3.6
billing = "per_15s_minimum"
source = "https://acme.example/pricing"
read = "2026-12-01"

[[price]]
provider = "acme"
model = "*"
usd_per_hour = "unknown"
billing = "per_second"
source = ""
read = "2026-12-01"
"""


def test_the_shipped_table_loads_and_never_prices_without_a_source() -> None:
    table = load_prices()
    assert table.entries
    for entry in table.entries:
        assert entry.known == bool(entry.source), entry
    assert table.lookup("openai/whisper-1").usd_per_hour == 0.36
    # issue 29: every provider has a row; a price read only from a secondary source, or from
    # sources that disagree, is shipped marked unconfirmed with why (it was "unknown" before)
    nova = table.lookup("deepgram/nova-3")
    assert nova.known and not nova.confirmed and "conflict" in nova.note
    assert DEFAULT_PRICES.name == "prices.toml"


def test_the_shipped_table_covers_every_provider_with_sources() -> None:
    from asyncbench.providers import REGISTRY

    table = load_prices()
    prefixes = set(REGISTRY)  # every provider prefix the README's table lists
    assert len(prefixes) >= 20 and all(table.lookup(f"{p}/any-model") is not None for p in prefixes)
    priced = [e for e in table.entries if e.known]
    assert len(priced) >= 20
    for entry in priced:
        assert entry.source.startswith("https://") and entry.read >= "2026-01-01", entry
        assert entry.confirmed or entry.note, entry
    groq = table.lookup("groq/whisper-large-v3")
    assert groq.confirmed and groq.request_cost(3.0) == pytest.approx(10 * 0.111 / 3600)
    said = table.lookup("microsoft/fast").describe()
    assert "UNCONFIRMED: Azure Fast Transcription" in said, said


def test_billing_rules() -> None:
    table = parse_prices(GOOD, Path("p.toml"))
    fast = table.lookup("acme/fast-2")
    assert fast.request_cost(4.0) == pytest.approx(15 * 3.6 / 3600)  # 15 s minimum
    assert fast.request_cost(20.2) == pytest.approx(21 * 3.6 / 3600)  # then per second
    assert table.lookup("acme/slow").request_cost(10) is None
    assert table.lookup("other/x") is None
    minute = parse_prices(GOOD.replace("per_15s_minimum", "per_minute"), Path("p.toml"))
    assert minute.lookup("acme/fast-2").request_cost(61) == pytest.approx(120 * 3.6 / 3600)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace('billing = "per_15s_minimum"', 'billing = "per_hour"'),
            "p.toml:5: field 'billing': must be one of per_second, per_10s_minimum, "
            "per_15s_minimum, per_minute, per_request, got 'per_hour'",
        ),
        (
            GOOD.replace("usd_per_hour = 3.6", "usd_per_hour = -1"),
            "p.toml:4: field 'usd_per_hour': must be a number of USD >= 0 or \"unknown\", got -1",
        ),
        (
            GOOD.replace('read = "2026-12-01"\n\n[[price]]', 'read = "soon"\n\n[[price]]'),
            "p.toml:7: field 'read': must be the date the price was read, YYYY-MM-DD, got 'soon'",
        ),
        (GOOD.replace('model = "*"\n', ""), "p.toml:9: field 'model': is missing"),
        (
            GOOD.replace('read = "2026-12-01"\n\n', 'read = "2026-12-01"\nconfirmed = false\n\n'),
            "p.toml:8: field 'confirmed': false needs a `note` saying why the price is unconfirmed",
        ),
        (GOOD.replace("usd_per_hour = 3.6", "usd_per_hour = 3.6 3"), "p.toml:4: not valid TOML"),
    ],
)
def test_a_malformed_file_names_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_prices(text, Path("p.toml"))
    assert str(caught.value).startswith(f"price file {message}")


def _run(folder: Path) -> None:
    lines = [ours(f"s{i}", "alpha bravo", "alpha bravo", duration=4.0) for i in range(3)]
    lines[0]["attempts"] = 3  # two retries: sent three times, paid three times
    lines.append(ours("s3", "alpha", "", status="skipped_short", duration=0.1))  # never sent
    lines.append(ours("s4", "alpha", "", status="failed", kind="timeout", duration=20.0))
    write_jsonl(folder / f"MODEL_acme-fast-2_DATASET_{DS}_ami_test.jsonl", lines)


def test_score_counts_the_audio_sent_with_retries(tmp_path: Path) -> None:
    _run(tmp_path)
    (tmp_path / "p.toml").write_text(GOOD, encoding="utf-8")
    done = score(tmp_path, "--json", "--prices", tmp_path / "p.toml")
    (entry,) = json.loads(done.stdout)["datasets"]
    # 5 requests of 4 s billed 15 s each, one of 20 s: 95 s at 3.6 USD/h
    assert entry["cost_usd"] == pytest.approx(95 * 3.6 / 3600)
    assert entry["price"].startswith("3.6 USD/audio hour, per_15s_minimum (https://acme")
    table = score(tmp_path, "--price_per_hour", "3.6").stdout
    assert f"acme/fast-2 | {DS}_ami_test: WER = " in table
    assert "cost $ 0.0400" in table  # per second: 3 x 4 + 4 + 4 + 20 = 40 s at 3.6 USD/h


def test_an_unknown_price_says_so(tmp_path: Path) -> None:
    _run(tmp_path)
    done = score(tmp_path)
    assert "cost $ unknown" in done.stdout
    assert "price of acme/fast-2: no entry for provider 'acme' in the price table" in done.stdout
    data = json.loads(score(tmp_path, "--json").stdout)
    assert data["datasets"][0]["cost_usd"] is None and data["composite"][0]["cost_usd"] is None


def test_a_malformed_price_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    _run(tmp_path)
    bad = tmp_path / "p.toml"
    bad.write_text(GOOD.replace("usd_per_hour = 3.6", 'usd_per_hour = "cheap"'), "utf-8")
    done = score(tmp_path, "--prices", bad)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: price file {bad}:4: field 'usd_per_hour': must be a number of USD >= 0 or "
        "\"unknown\", got 'cheap'\n"
    )
    done = score(tmp_path, "--price_per_hour", "-2")
    assert done.returncode == 2 and done.stderr.startswith("error: --price_per_hour must be")
