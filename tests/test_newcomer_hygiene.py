"""What a run leaves behind: no `.lock` after any exit, nothing at all after a refusal, and
results named by a local folder's own name (an older file under the path-derived name still
resumes)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from asyncbench.results.lock import ResultsLock, lock_path
from asyncbench.results.manifest import manifest_path
from asyncbench.results.store import legacy_results_name

from .inproc import Background, cli, one_error_line, run_args
from .support import MockServer, make_dataset, read_results


@pytest.fixture(scope="module")
def myset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("ux") / "work" / "myset", {("ami", "test"): 6})


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_finished_run_leaves_no_lock_and_is_named_by_the_folder(
    capsys: pytest.CaptureFixture[str], myset: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    with Background(MockServer()) as mock:
        args = run_args("aldea/default", myset, "ami", "test", f"127.0.0.1:{mock.port}", results)
        code, _out, err = cli(capsys, "run", *args)
    assert code == 0, err
    assert files_under(results) == [
        "MODEL_aldea-default_DATASET_myset_ami_test.jsonl",
        "MODEL_aldea-default_DATASET_myset_ami_test.meta.json",
        "MODEL_aldea-default_DATASET_myset_ami_test.summary.json",
    ]


@pytest.mark.parametrize(
    ("model", "extra", "expected"),
    [
        (
            "opnai/whisper-1",
            [],
            "error: unknown provider prefix 'opnai' in --model_name 'opnai/whisper-1'; known",
        ),
        (
            "aldea/default",
            ["--dataset", "nosuch"],
            "error: unknown config 'nosuch' in {path}; available configs: ami",
        ),
    ],
    ids=["provider-typo", "unknown-config"],
)
def test_a_refused_run_creates_nothing(
    capsys: pytest.CaptureFixture[str],
    myset: Path,
    tmp_path: Path,
    model: str,
    extra: list[str],
    expected: str,
) -> None:
    """Refused after the results folder and lock were made: both go again."""
    results = tmp_path / "new" / "results"
    args = run_args(model, myset, "ami", "test", "127.0.0.1:9", results) + extra
    code, out, err = cli(capsys, "run", *args)
    assert (code, out) == (2, ""), err
    assert one_error_line(err).startswith(expected.format(path=myset)), err
    assert list(tmp_path.iterdir()) == []
    # into a folder that exists: it is left as it was, empty
    results.mkdir(parents=True)
    code, _out, err = cli(capsys, "run", *args)
    assert code == 2, err
    assert list(results.iterdir()) == []


def test_a_run_refused_by_a_held_lock_leaves_the_holders_lock(
    capsys: pytest.CaptureFixture[str], myset: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    target = results / "MODEL_aldea-default_DATASET_myset_ami_test.jsonl"
    with ResultsLock(target):
        args = run_args("aldea/default", myset, "ami", "test", "127.0.0.1:9", results)
        code, _out, err = cli(capsys, "run", *args)
        assert code == 2, err
        assert "is in use by another run (PID " in one_error_line(err)
        assert lock_path(target).is_file()
    assert not lock_path(target).exists()


def test_the_lock_survives_a_delete_race() -> None:
    """A run that opened the lock file just before its holder deleted it must not lock the
    deleted file (two runs would both write): it notices and locks the new one."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "x.jsonl"
        first = ResultsLock(target)
        first.acquire()
        stale = os.open(lock_path(target), os.O_RDWR)  # a second run's open, before release
        first.release()
        assert not lock_path(target).exists()
        second = ResultsLock(target)
        second.acquire()  # makes a fresh file, does not trust the unlinked inode
        st, mine = os.stat(lock_path(target)), os.fstat(stale)
        assert (st.st_ino, st.st_dev) != (mine.st_ino, mine.st_dev) or st.st_nlink == 1
        os.close(stale)
        second.release()
        assert os.listdir(tmp) == []


def test_results_under_the_old_path_derived_name_still_resume(
    capsys: pytest.CaptureFixture[str], myset: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    with Background(MockServer()) as mock:
        args = run_args("aldea/default", myset, "ami", "test", f"127.0.0.1:{mock.port}", results)
        code, _out, err = cli(capsys, "run", *args, "--max_samples", "2")
        assert code == 0, err
        # what an older asyncbench wrote: the folder's whole path in the name
        new = results / "MODEL_aldea-default_DATASET_myset_ami_test.jsonl"
        old = results / legacy_results_name("aldea/default", str(myset), "ami", "test")
        assert old.name.startswith("MODEL_aldea-default_DATASET_-tmp-")
        new.rename(old)
        manifest_path(new).rename(manifest_path(old))
        code, _out, err = cli(capsys, "run", *args)
        assert code == 0, err
    assert sorted(p.name for p in results.glob("*.jsonl")) == [old.name]
    lines = read_results(old)
    assert len(lines) == len({x["id"] for x in lines}) == 6
    shutil.rmtree(results)
