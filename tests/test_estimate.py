"""`asyncbench estimate`: audio hours from `audio_length_s` and the cost, nothing sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .support import cli_env, make_dataset


def estimate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncbench", "estimate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(),
    )


def _dataset(tmp_path: Path) -> Path:
    # clips of 1.0 .. 1.4 s (ami) and 1.0 .. 1.2 s (tedlium): 9.3 s in all
    return make_dataset(tmp_path / "ds", {("ami", "test"): 5, ("tedlium", "test"): 3})


def test_prints_hours_and_cost_per_model(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    done = estimate(
        "--model",
        "openai/whisper-1",
        "--model",
        "aquavoice/avalon-v1-en",  # no public price (deepgram had none before issue 29)
        "--dataset_path",
        root,
        "--datasets",
        "ami tedlium",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  ami/test: 5 clips, 0.0017 audio hours" in lines
    assert "  tedlium/test: 3 clips, 0.0009 audio hours" in lines
    # billed per second, each clip rounded up: 2+2+2+2+1 + 1+2+2 = 14 s at 0.36 USD/h
    assert any(
        line.startswith("  openai/whisper-1: $ 0.0014 (0.36 USD/audio hour") for line in lines
    )
    assert any(
        line.startswith("  aquavoice/avalon-v1-en: cost unknown (no public price") for line in lines
    )
    assert lines[-1] == "  all models: $ 0.0014 (1 model(s) without a known price not included)"


def test_budget_and_price_flags(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    base = ("--model", "acme/x", "--dataset_path", root, "--datasets", "ami")
    done = estimate(*base, "--price_per_hour", "3600", "--budget_usd", "1")
    # 2+2+2+2+1 = 9 s at 1 USD/s
    assert "  acme/x: $ 9.0000 (3600 USD/audio hour, per_second (--price_per_hour))" in done.stdout
    assert (done.returncode, done.stderr) == (
        2,
        "error: the estimated cost $ 9.0000 is above --budget_usd 1\n",
    )
    assert estimate(*base, "--price_per_hour", "3600", "--budget_usd", "10").returncode == 0
    for bad in ("0", "-5"):
        done = estimate(*base, "--budget_usd", bad)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"error: --budget_usd must be more than 0 USD, got {bad}\n"


def test_a_malformed_price_file_is_one_line(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    bad = tmp_path / "p.toml"
    bad.write_text('[[price]]\nprovider = "acme"\nmodel = 3\n', encoding="utf-8")
    done = estimate("--model", "acme/x", "--dataset_path", root, "--prices", bad)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: price file {bad}:3: field 'model': must be a string, got 3\n"


def test_prices_monsoon_en_in_a_set_of_its_own_repository(tmp_path: Path) -> None:
    """The 8th English set has no config: it is measured from its repository's own config
    (here a local copy named with the board's `name:split:path` form)."""
    root = make_dataset(tmp_path / "VoiceArena" / "Monsoon_en_IN_test", {("default", "test"): 4})
    done = estimate(
        *("--model", "openai/whisper-1", "--suite", "leaderboard"),
        *("--datasets", f"monsoon_en_in:test:{root}"),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # clips of 1.0 .. 1.3 s: 4.6 s, billed 1+2+2+2 s at 0.36 USD/h
    assert f"  {root}/test: 4 clips, 0.0013 audio hours" in lines
    assert any(
        line.startswith("  openai/whisper-1: $ 0.0007 (0.36 USD/audio hour") for line in lines
    )


def test_a_copy_with_several_configs_for_a_set_read_with_none(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "copy", {("a", "test"): 1, ("b", "test"): 1})
    done = estimate(
        *("--model", "openai/whisper-1", "--suite", "leaderboard"),
        *("--datasets", f"monsoon_en_in:test:{root}"),
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {root} has configs a, b, but its set is read with no config: a copy of a "
        "one-set repository has one config (or one named default)"
    )
