"""`asyncbench score` as a user runs it: a real process, real files, exact messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from .scoring_files import DS, LIBRI, foreign, our_run, write_jsonl
from .support import REPO
from .test_scoring_table import OUR_TABLE, SEED_TABLE, seed_run


def score(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncbench", "score", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_prints_the_seed_table_for_one_model(tmp_path: Path) -> None:
    seed_run(tmp_path)
    done = score(tmp_path, "--model", "elevenlabs/scribe_v1", "--bootstrap", "0")
    assert (done.returncode, done.stdout, done.stderr) == (0, SEED_TABLE, "")
    # with the default intervals the seed's table comes first, byte for byte
    done = score(tmp_path, "--model", "elevenlabs/scribe_v1")
    head = SEED_TABLE.removesuffix("\n")
    assert done.returncode == 0 and done.stdout.startswith(head + "\n")
    assert done.stdout[len(head) :].splitlines()[1].startswith("WER with 95 % confidence")


def test_defaults_to_results_in_the_current_directory(tmp_path: Path) -> None:
    path = our_run(tmp_path / "results")
    done = score("--bootstrap", "0", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == OUR_TABLE
    rel = path.relative_to(tmp_path)
    assert done.stderr == (
        # written by hand without the sidecar a run writes: said to be read as the board's
        f"note: {rel}: no .meta.json sidecar; read as the board's format (coverage counted "
        f"from its own lines)\nwarning: {rel}:7: not valid JSON; line skipped\n"
    )


def test_json_output(tmp_path: Path) -> None:
    our_run(tmp_path)
    done = score(tmp_path, "--json")
    data = json.loads(done.stdout)
    assert done.returncode == 0
    assert data["scheme"] == "leaderboard"
    assert [(d["wer"], d["wer_ok_only"], d["failed"]) for d in data["datasets"]] == [
        (58.33, 28.57, 2)
    ]


def test_legacy_scoring(tmp_path: Path) -> None:
    write_jsonl(tmp_path / f"{LIBRI}.jsonl", [foreign("the white paper", "the whitepaper")])
    leaderboard = score(tmp_path).stdout.splitlines()[3]
    legacy = score(tmp_path, "--scoring", "legacy").stdout.splitlines()[3]
    assert leaderboard == f"aldea/default | {DS}_librispeech_test.clean: WER = 0.00 %, RTFx = 2.00"
    assert legacy == f"aldea/default | {DS}_librispeech_test.clean: WER = 66.67 %, RTFx = 2.00"


def test_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = score(tmp_path / "nope")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: results directory '{tmp_path / 'nope'}' does not exist: pass the folder your "
        "runs wrote their .jsonl files to (default ./results)\n"
    )


def test_no_files_for_the_model_is_one_line_and_exit_2(tmp_path: Path) -> None:
    seed_run(tmp_path)
    done = score(tmp_path, "--model", "openai/whisper-1")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: no results files for model 'openai/whisper-1' under '{tmp_path}': expected "
        "names like MODEL_openai-whisper-1_DATASET_<dataset>.jsonl; check --model (run "
        "without it to score every model found)\n"
    )


def test_unknown_scheme_is_one_line_and_exit_2(tmp_path: Path) -> None:
    seed_run(tmp_path)
    done = score(tmp_path, "--scoring", "2024")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: unknown scoring scheme '2024': use 'leaderboard' (the current board, the "
        "default) or 'legacy' (Whisper normaliser + jiwer, as in 2025)\n"
    )


def test_seed_python_entry_point_prints_the_table(tmp_path: Path) -> None:
    seed_run(tmp_path / "results")
    code = "import asyncbench.scoring as s; s.score_results('./results', 'elevenlabs/scribe_v1')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, SEED_TABLE, "")


def test_seed_readme_snippet_runs_verbatim(tmp_path: Path) -> None:
    """The seed README's scoring snippet, word for word, from a folder holding our
    `eval_utils.py` (as the repo root does) and no `../normalizer`."""
    seed_run(tmp_path / "results")
    shutil.copy(REPO / "eval_utils.py", tmp_path / "eval_utils.py")
    code = (
        "\nimport sys\nsys.path.append('../normalizer')\nimport eval_utils\n"
        "eval_utils.score_results('./results', 'elevenlabs/scribe_v1')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, SEED_TABLE, "")
