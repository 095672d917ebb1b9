"""Bootstrap intervals in `score` and paired tests in `compare`: real files, the real CLI."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np

from asyncbench.scoring.bootstrap import paired_bootstrap, wer_ci95
from asyncbench.scoring.score import collect_scores

from .scoring_files import DS, ours, write_jsonl
from .test_scoring_cli import score

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()


def synthetic_run(
    folder: Path, model: str, dataset: str, rng: random.Random, p: float, n: int = 400
) -> Path:
    """n utterances of 5-30 words; each word independently replaced with probability p by a
    word no reference holds, so each utterance's errors are Binomial(words, p) and the true
    WER is exactly 100 p %."""
    lines = []
    for i in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(5, 30))]
        hyp = [("zulu" if rng.random() < p else w) for w in ref]
        lines.append(ours(f"s{i}", " ".join(ref), " ".join(hyp)))
    slug = model.replace("/", "-")
    return write_jsonl(folder / f"MODEL_{slug}_DATASET_{DS}_{dataset}.jsonl", lines)


def test_the_interval_covers_the_true_wer_in_at_least_93_of_100_trials(tmp_path: Path) -> None:
    rng = random.Random(17)
    for trial in range(100):
        synthetic_run(tmp_path, "acme/asr", f"trial{trial:03d}_test", rng, p=0.1)
    report = collect_scores(tmp_path, bootstrap=1000, seed=0, workers=1)
    assert len(report.files) == 100
    covered = sum(f.wer_ci95[0] <= 10.0 <= f.wer_ci95[1] for f in report.files)
    assert covered >= 93, covered
    widths = [f.wer_ci95[1] - f.wer_ci95[0] for f in report.files]
    assert 0.5 < float(np.mean(widths)) < 5  # an interval, not the whole axis


def test_intervals_are_seeded_and_reproducible(tmp_path: Path) -> None:
    synthetic_run(tmp_path, "acme/asr", "ami_test", random.Random(1), p=0.2)
    one = collect_scores(tmp_path, bootstrap=500, seed=3)
    two = collect_scores(tmp_path, bootstrap=500, seed=3)
    other = collect_scores(tmp_path, bootstrap=500, seed=4)
    assert one.files[0].wer_ci95 == two.files[0].wer_ci95 != other.files[0].wer_ci95
    low, high = one.files[0].wer_ci95
    assert low < one.files[0].wer < high
    assert one.composites[0].wer_ci95 == one.files[0].wer_ci95  # one dataset: the same
    assert collect_scores(tmp_path).files[0].wer_ci95 is None  # the library default: off


def test_score_json_and_table_carry_the_intervals(tmp_path: Path) -> None:
    synthetic_run(tmp_path, "acme/asr", "ami_test", random.Random(2), p=0.1)
    synthetic_run(tmp_path, "acme/asr", "fleurs_de_test", random.Random(3), p=0.1)
    data = json.loads(score(tmp_path, "--json").stdout)
    for entry in data["datasets"] + data["composite"]:
        low, high = entry["wer_ci95"]
        assert low < entry["wer"] < high
    assert {d["language"] for d in data["datasets"]} == {"en", "de"}
    assert data["bootstrap"] == {"resamples": 1000, "seed": 0}
    off = json.loads(score(tmp_path, "--json", "--bootstrap", "0").stdout)
    assert [d["wer_ci95"] for d in off["datasets"]] == [None, None]
    table = score(tmp_path).stdout
    ci = [line for line in table.splitlines() if "ami_test: WER " in line and "[" in line]
    assert len(ci) == 1, table


def test_negative_bootstrap_is_one_line_and_exit_2(tmp_path: Path) -> None:
    synthetic_run(tmp_path, "acme/asr", "ami_test", random.Random(2), p=0.1, n=5)
    done = score(tmp_path, "--bootstrap", "-1")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: --bootstrap must be 0 (off)")
    assert len(done.stderr.splitlines()) == 1


def test_chunked_sets_resample_recordings_not_chunks(tmp_path: Path) -> None:
    lines = []
    for rec in range(6):
        for chunk in range(3):
            line = ours(f"r{rec}-{chunk}", "alpha bravo charlie delta", "alpha bravo")
            line.update(parent_id=f"r{rec}", chunk_index=chunk)
            lines.append(line)
    write_jsonl(tmp_path / f"MODEL_acme-asr_DATASET_{DS}_earnings22_test.jsonl", lines)
    f = collect_scores(tmp_path, bootstrap=200).files[0]
    assert f.utterances is not None and len(f.utterances.errors) == 6
    assert set(f.utterances.ids) == {f"r{i}" for i in range(6)}


def test_paired_bootstrap_sees_a_real_gap_and_not_a_fake_one() -> None:
    rng = np.random.default_rng(0)
    words = rng.integers(5, 30, size=2000)
    a = rng.binomial(words, 0.10)
    b_better = np.minimum(a, rng.binomial(words, 0.08))  # never worse, usually better
    gap = paired_bootstrap(a, words, b_better, words, 1000, seed=1)
    assert gap.difference < 0 and gap.ci95[1] < 0 and gap.significant and gap.p_value < 0.01
    same = paired_bootstrap(a, words, a, words, 1000, seed=1)
    assert same.difference == 0 and not same.significant and same.p_value == 1.0
    low, high = wer_ci95(a, words)
    assert low < 100 * a.sum() / words.sum() < high


def test_compare_prints_significance_per_dataset(tmp_path: Path) -> None:
    for dataset in ("ami_test", "tedlium_test"):
        synthetic_run(tmp_path, "acme/good", dataset, random.Random(dataset), p=0.05, n=600)
    synthetic_run(tmp_path, "acme/bad", "ami_test", random.Random(9), p=0.15, n=600)
    synthetic_run(tmp_path, "acme/bad", "tedlium_test", random.Random(8), p=0.05, n=600)
    done = run_compare(tmp_path, "--model", "acme/good", "--model", "acme/bad")
    assert done.returncode == 0, done.stderr
    ami = next(line for line in done.stdout.splitlines() if line.startswith(f"{DS}_ami_test:"))
    assert ", difference +" in ami and ami.split(", ")[-1].startswith("significant (n = 600)")
    data = json.loads(
        run_compare(tmp_path, "--model", "acme/good", "--model", "acme/bad", "--json").stdout
    )
    by_name = {d["dataset"]: d for d in data["datasets"]}
    assert by_name[f"{DS}_ami_test"]["significant"] is True
    assert by_name[f"{DS}_ami_test"]["difference_ci95"][0] > 0
    assert by_name[f"{DS}_ami_test"]["samples"] == 600


def test_compare_names_the_models_in_every_line_and_gives_the_composite(tmp_path: Path) -> None:
    """No "A"/"B" to decode: each line says which model is which, and the composite (the
    mean of the datasets' WERs) gets its own difference and stratified paired interval."""
    for dataset in ("ami_test", "tedlium_test"):
        synthetic_run(tmp_path, "acme/good", dataset, random.Random(dataset), p=0.05, n=600)
    synthetic_run(tmp_path, "acme/bad", "ami_test", random.Random(9), p=0.15, n=600)
    synthetic_run(tmp_path, "acme/bad", "tedlium_test", random.Random(8), p=0.05, n=600)
    done = run_compare(tmp_path, "--model", "acme/good", "--model", "acme/bad")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "acme/bad compared with acme/good: WER difference (acme/bad minus acme/good, "
        "percentage points; negative means acme/bad makes fewer errors) on the samples both "
        "answered; paired bootstrap, 1000 resamples, seed 0"
    )
    number = r"\d+\.\d\d"
    measured = (
        rf"acme/good {number} %, acme/bad {number} %, difference [+-]{number} "
        rf"\[[+-]{number}, [+-]{number}\], p = (?:0\.\d{{4}}|1\.0000), (not )?significant"
    )
    body = [line for line in lines[2:] if not line.startswith("*")]
    assert re.fullmatch(rf"{DS}_ami_test: {measured} \(n = 600\)", body[0]), body[0]
    assert re.fullmatch(rf"{DS}_tedlium_test: {measured} \(n = 600\)", body[1]), body[1]
    assert re.fullmatch(rf"composite \(en, mean of 2 datasets\): {measured}", body[2]), body[2]
    assert (
        lines[-1]
        == f"1 of 2 differences significant at the 5 % level: {DS}_ami_test (acme/good better)"
    )
    assert not any(re.search(r"\b(A|B)\b", line) for line in lines), lines
    data = json.loads(
        run_compare(tmp_path, "--model", "acme/good", "--model", "acme/bad", "--json").stdout
    )
    (composite,) = data["composite"]
    per = [d["difference"] for d in data["datasets"]]
    assert composite["datasets"] == 2 and composite["samples"] == 1200
    assert abs(composite["difference"] - sum(per) / 2) <= 0.011
    low, high = composite["difference_ci95"]
    assert low < composite["difference"] < high and low > 0  # bad is worse, beyond chance


def test_compare_prints_a_hostile_model_name_escaped(tmp_path: Path) -> None:
    """A model name comes from a file name: a terminal escape in it is shown, not obeyed."""
    hostile = "acme/b\x1b[2J"
    synthetic_run(tmp_path, "acme/a", "ami_test", random.Random(1), p=0.1, n=50)
    synthetic_run(tmp_path, hostile, "ami_test", random.Random(2), p=0.1, n=50)
    done = run_compare(tmp_path, "--model", "acme/a", "--model", hostile)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    assert done.stdout.startswith("acme/b\\x1b[2J compared with acme/a: ")


def test_compare_pairs_only_samples_both_answered(tmp_path: Path) -> None:
    a = [ours(f"s{i}", "alpha bravo", "alpha bravo") for i in range(10)]
    b = [ours(f"s{i}", "alpha bravo", "alpha") for i in range(8)]
    b.append(ours("s8", "alpha bravo", "", status="failed", kind="timeout"))
    write_jsonl(tmp_path / f"MODEL_acme-a_DATASET_{DS}_ami_test.jsonl", a)
    write_jsonl(tmp_path / f"MODEL_acme-b_DATASET_{DS}_ami_test.jsonl", b)
    data = json.loads(
        run_compare(tmp_path, "--model", "acme/a", "--model", "acme/b", "--json").stdout
    )
    (entry,) = data["datasets"]
    assert (entry["samples"], entry["answered_by_a_only"], entry["answered_by_b_only"]) == (8, 2, 0)
    assert (entry["wer_a"], entry["wer_b"], entry["difference"]) == (0.0, 50.0, 50.0)


def test_compare_with_an_unknown_model_lists_the_models_found(tmp_path: Path) -> None:
    synthetic_run(tmp_path, "acme/good", "ami_test", random.Random(1), p=0.1, n=5)
    synthetic_run(tmp_path, "acme/bad", "ami_test", random.Random(1), p=0.1, n=5)
    done = run_compare(tmp_path, "--model", "acme/good", "--model", "acme/nope")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: no results for model 'acme/nope' under '{tmp_path}'; "
        "models found: acme/bad, acme/good\n"
    )


def run_compare(*args: str | Path):  # the same subprocess runner as `score`'s tests
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "asyncbench", "compare", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
