"""A hub-layout folder whose card lists its parquet files is read without `datasets`, giving
exactly the samples `datasets` gives; anything the card does not say plainly still goes
through `datasets` (`sources/parquet_split.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from asyncbench.scoring import normalize
from asyncbench.sources import parquet_split, read_failure
from asyncbench.sources.audio_hours import split_audio
from asyncbench.sources.dataset import iter_samples, known_size, open_split
from asyncbench.sources.hub_layout import write_hub_folder

from .support import REPO, make_dataset


def samples(ds: object, config: str, split: str) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (s.id, s.index, s.reference, s.duration, s.audio)
        for batch in iter_samples(ds, config, split, normalize=normalize, batch_rows=5)
        for s in batch
    ]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two configs, one of them in three files, one without ids, empty references too."""
    root = make_dataset(
        tmp_path_factory.mktemp("plain") / "esb",
        {("ami", "test"): 13, ("librispeech", "test.clean"): ["One.", "", "Two.", "Three."]},
    )
    rows = [
        {"audio": {"bytes": b"x" * i, "path": f"{i}.flac"}, "text": f"row {i}", "id": f"r{i}"}
        for i in range(11)
    ]
    write_hub_folder(root / "split3", {"voxpopuli": {"test": rows}}, max_rows_per_file=4)
    # Common Voice's `sentence` column, and no ids: keyed config/split/index
    spoken = [{"audio": r["audio"], "sentence": r["text"]} for r in rows[:5]]
    write_hub_folder(root / "cv", {"common_voice": {"test": spoken}}, sort_longest_first=False)
    return root


def through_datasets(monkeypatch: pytest.MonkeyPatch, path: Path, config: str, split: str):  # type: ignore[no-untyped-def]
    with monkeypatch.context() as m:
        m.setattr(parquet_split, "open_parquet_split", lambda *a: None)
        return open_split(str(path), config, split)


@pytest.mark.parametrize(
    ("sub", "config", "split"),
    [
        ("", "ami", "test"),
        ("", "librispeech", "test.clean"),
        ("split3", "voxpopuli", "test"),
        ("cv", "common_voice", "test"),
    ],
)
def test_the_same_samples_as_datasets_gives(
    folder: Path, sub: str, config: str, split: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = folder / sub
    plain = open_split(str(path), config, split)
    assert isinstance(plain, parquet_split.ParquetSplit)
    slow = through_datasets(monkeypatch, path, config, split)
    assert not isinstance(slow, parquet_split.ParquetSplit)
    got, want = samples(plain, config, split), samples(slow, config, split)
    assert got == want and len(got) > 2
    assert known_size(plain, split) == known_size(slow, split)
    info, slow_info = plain.info.splits[split], slow.info.splits[split]  # type: ignore[union-attr]
    assert (info.num_bytes, info.num_examples) == (slow_info.num_bytes, slow_info.num_examples)
    # a read that broke goes on row by row from where it was: skip() must agree too
    assert list(plain.skip(3).iter(batch_size=1)) == list(slow.skip(3).iter(batch_size=1))


def test_the_files_are_the_ones_datasets_resolves(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = folder / "split3"
    files = parquet_split.split_files(root, "voxpopuli", "test")
    assert files is not None and len(files) == 3
    with monkeypatch.context() as m:
        m.setattr(parquet_split, "split_files", lambda *a: None)
        assert read_failure.split_files(str(root), "voxpopuli", "test") == files
        slow_audio = split_audio(str(root), "voxpopuli", "test")
    assert read_failure.split_files(str(root), "voxpopuli", "test") == files
    assert split_audio(str(root), "voxpopuli", "test") == slow_audio


def test_cards_that_are_not_plain_are_left_to_datasets(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "esb", {("ami", "test"): 2})
    card = (root / "README.md").read_text()
    assert parquet_split.split_files(root, "ami", "test") is not None
    assert parquet_split.open_parquet_split(root, "ami", "other", ("text",), 4) is None
    assert parquet_split.open_parquet_split(root, "nope", "test", ("text",), 4) is None
    assert parquet_split.open_parquet_split(root, "ami", "test", ("sentence",), 4) is None
    for changed in (
        card.replace("path: ami/test-*", "path: ami/**"),  # recursive globs
        card.replace("path: ami/test-*", "path: ami/*"),  # not only parquet (a stray file)
        card.replace("- config_name: ami\n", "- config_name: ami\n  data_dir: ami\n"),
        card.split("---")[2],  # no YAML at all
    ):
        (root / "ami" / "notes.txt").write_text("not data")
        (root / "README.md").write_text(changed)
        assert parquet_split.split_files(root, "ami", "test") is None, changed[:200]
        assert parquet_split.open_parquet_split(root, "ami", "test", ("text",), 4) is None


def test_a_run_over_a_plain_folder_never_imports_datasets(folder: Path, tmp_path: Path) -> None:
    """Everything a run does before and while reading its split (checks, the first file's
    footer, the size, the audio-hours estimate, the samples), in a fresh interpreter: the
    second of `import datasets` is not paid (before: it was, by open_split), nor the 0.3 s
    of pandas (pyarrow.parquet.read_table imports it through pyarrow.dataset)."""
    code = f"""
import sys
from pathlib import Path
from asyncbench.runs.runner import RunConfig, prepare
from asyncbench.scoring import normalize
from asyncbench.sources.dataset import iter_samples
cfg = RunConfig(model_name="aldea/default", dataset="ami", dataset_path={str(folder)!r},
                aldea_endpoints="127.0.0.1:9", results_dir=Path({str(tmp_path)!r}),
                preflight=False, progress=False)
p = prepare(cfg)
n = sum(len(b) for b in iter_samples(p.ds, "ami", "test", normalize=normalize))
p.lock.release()
print(n, p.total, "datasets" in sys.modules, "pandas" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["13", "13", "False", "False"], done.stdout + done.stderr
