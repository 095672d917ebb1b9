"""Scoring stays light: no torch, torchcodec, datasets or aiohttp, and `--help` stays fast."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "torchcodec", "datasets", "aiohttp")


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_scoring_never_imports_heavy_packages() -> None:
    modules = imported_after(
        "import asyncbench.scoring as s\n"
        "from asyncbench.scoring import normalize, wer, legacy_wer, score_file, score_results\n"
        "from asyncbench.scoring.cli import score_command\n"
        "assert wer(['the cat'], ['the hat']) == 50.0\n"
        "assert legacy_wer(['the cat'], ['the hat']) == 50.0"
    )
    assert "kaldialign" in modules and "jiwer" in modules  # the probe really scored
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()


def test_multilingual_scoring_never_imports_heavy_packages() -> None:
    modules = imported_after(
        "from asyncbench.scoring import normalize, wer, file_language, pair_compounds\n"
        "import asyncbench.scoring.multilingual, asyncbench.scoring.compound\n"
        "import asyncbench.scoring.language\n"
        "assert normalize('3 Äpfel', language='de') == 'drei äpfel'\n"
        "assert wer(['über raschung'], ['überraschung'], language='de') == 0.0"
    )
    assert "num2words" in modules and "difflib" in modules  # the probe really scored
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()


def test_english_scoring_does_not_import_num2words() -> None:
    modules = imported_after(
        "from asyncbench.scoring import normalize, wer\n"
        "from asyncbench.scoring.score import score_file\n"
        "assert wer(['the cat'], ['the hat']) == 50.0"
    )
    assert "num2words" not in modules


def test_the_score_command_module_imports_no_scorer() -> None:
    modules = imported_after("import asyncbench.scoring.cli")
    assert {"whisper_normalizer", "kaldialign", "jiwer", "regex", "num2words"}.isdisjoint(modules)
