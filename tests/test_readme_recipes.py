"""The README's recipes, run word for word so they cannot go stale.

Each `<!-- recipe: NAME -->` block is run by bash (`set -euo pipefail`) in a fresh folder, with
`asyncbench` on PATH as this checkout. Only the environment differs from a user's: the keys and
base URLs point at the mock, and `ASYNCBENCH_DATA_ROOT` at a local copy of the board's sets
(the Hub is offline here), which the README documents for users too. Also checked: the front
page is a front page (under ~15 KB, `make demo` and `make test` first) and every docs page it
links to that is not being written elsewhere exists.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from asyncbench.cli.batch import ESB_SPLITS
from asyncbench.sources.suites import ESB_PATH

from .inproc import Background
from .support import PYTHON, REPO, MockServer, cli_env, make_dataset

README = REPO / "README.md"
#: pages other engineers are writing at the same time: linked, checked by the lead's merge
ELSEWHERE = {
    "docs/report-and-outputs.md",
    "docs/results-and-provenance.md",
    "docs/reliability-and-exit-codes.md",
    "docs/measurement.md",
    "docs/money.md",
    "docs/board-2026h2.md",
    "docs/provider-conformance.md",
}


def recipes() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    found = dict(re.findall(r"<!-- recipe: ([\w-]+) -->\n```bash\n(.*?)```", text, re.S))
    assert set(found) == {"own-audio", "two-vendors", "cost"}, found
    return found


def run_recipe(name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The recipe's block as a bash script, with `asyncbench` meaning this checkout."""
    bin_dir = cwd / ".bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "asyncbench"
    shim.write_text(f'#!/bin/sh\nexec "{PYTHON}" -m asyncbench "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    full = cli_env(PYTHONPATH=str(REPO), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env)
    script = "set -euo pipefail\n" + recipes()[name]
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )


def test_the_front_page_leads() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) <= 15_500
    assert text.splitlines()[3:5] == [
        "make demo   # sets up everything, then benchmarks local ASR servers on a small built-in "
        "speech set",
        "make test   # sets up everything, then runs the test suite",
    ]
    assert text.count("**The seed's script.**") == 1
    for link in re.findall(r"\]\((docs/[\w.-]+\.md)", text):
        assert link in ELSEWHERE or (REPO / link).is_file(), link


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite for real speech")
def test_recipe_own_server_on_own_audio(tmp_path: Path) -> None:
    from ._speech import SENTENCES, speech_wav

    audio = tmp_path / "my_audio"
    audio.mkdir()
    for i, sentence in enumerate(SENTENCES):
        (audio / f"clip{i}.wav").write_bytes(speech_wav(sentence))
        (audio / f"clip{i}.txt").write_text(sentence, encoding="utf-8")
    done = run_recipe("own-audio", tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    results = tmp_path / "my_results" / "MODEL_aldea-default_DATASET_my_set_default_test.jsonl"
    assert len(results.read_text().splitlines()) == len(SENTENCES)
    assert re.search(r"aldea/default: WER = [\d.]+ %", done.stdout), done.stdout
    assert (tmp_path / "my_report.html").stat().st_size > 10_000
    assert "next: asyncbench run --model_name PROVIDER/MODEL --dataset_path my_set" in done.stdout


@pytest.fixture(scope="module")
def board_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`DATA_ROOT/hf-audio/esb-datasets-test-only-sorted`: the eight splits, 3 clips each."""
    root = tmp_path_factory.mktemp("hub")
    make_dataset(root / ESB_PATH, dict.fromkeys(ESB_SPLITS, 3), fmt="wav")
    return root


def vendor_env(mock_url: str, data_root: Path) -> dict[str, str]:
    return {
        "ASYNCBENCH_DATA_ROOT": str(data_root),
        "DEEPGRAM_API_KEY": "dg-test",
        "DEEPGRAM_BASE_URL": mock_url,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": f"{mock_url}/v1",
    }


def test_recipe_two_vendors_on_the_boards_sets(board_copy: Path, tmp_path: Path) -> None:
    with Background(MockServer()) as mock:
        done = run_recipe("two-vendors", tmp_path, **vendor_env(mock.url, board_copy))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    files = sorted((tmp_path / "vendors").glob("*.jsonl"))
    assert len(files) == 2 * len(ESB_SPLITS)
    assert "deepgram/nova-3: WER = 0.00 %" in done.stdout
    assert "openai/whisper-1 compared with deepgram/nova-3:" in done.stdout
    assert re.search(
        r"^composite \(en, mean of 8 datasets\): deepgram/nova-3 0\.00 %", done.stdout, re.M
    )
    assert (tmp_path / "vendors.html").is_file()


def test_recipe_cost_before_paying(board_copy: Path, tmp_path: Path) -> None:
    with Background(MockServer()) as mock:
        done = run_recipe("cost", tmp_path, **vendor_env(mock.url, board_copy))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"^  openai/whisper-1: \$ \d+\.\d{4} ", done.stdout, re.M), done.stdout
    # nova-3's list price comes from secondary sources that conflict: shown, marked as such
    nova = re.search(r"^  deepgram/nova-3: \$ \d+\.\d{4} .*UNCONFIRMED", done.stdout, re.M)
    assert nova, done.stdout
    assert len(sorted((tmp_path / "paid").glob("*.jsonl"))) == len(ESB_SPLITS)
