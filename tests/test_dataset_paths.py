"""Paths (#28 item 6): a mistyped local folder is refused at once naming the nearest folder
that exists (it used to be taken for a hub id: 70 s of retries, then "check the network"),
and a hub id whose Hub cannot be reached fails in seconds, saying whether the machine looks
offline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.sources.dataset import open_split
from asyncbench.sources.locate import _hub_problem, check_hub_reachable, looks_local

from .faultkit import numbered_dataset
from .inproc import cli, one_error_line
from .loopback import closed_port


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`demo_data/esb` under a working directory, as `make demo` leaves it."""
    numbered_dataset(tmp_path / "demo_data" / "esb", 2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*path: str) -> list[str]:
    return [
        "run",
        "--model_name",
        "aldea/default",
        "--dataset",
        "ami",
        "--aldea_endpoints",
        f"127.0.0.1:{closed_port()}",
        "--results_dir",
        "r",
        "--no_progress",
        "--dataset_path",
        *path,
    ]


def test_a_mistyped_folder_is_refused_at_once_naming_the_nearest(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.monotonic()
    code, _out, err = cli(capsys, *_run("demo_data/esbb"))
    assert code == 2
    assert one_error_line(err) == (
        "error: dataset folder 'demo_data/esbb' does not exist; the nearest existing folder "
        "is demo_data/; did you mean demo_data/esb?"
    )
    assert time.monotonic() - t0 < 30  # no Hub, no retries


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (
            "./demo_dat/esb",
            "error: dataset folder './demo_dat/esb' does not exist; the nearest existing folder "
            "is ./; did you mean ./demo_data?",
        ),
        (
            "demo_data/esb/more/deep",
            "error: dataset folder 'demo_data/esb/more/deep' does not exist; the nearest "
            "existing folder is demo_data/esb/",
        ),
    ],
)
def test_path_shaped_references_that_do_not_exist(
    demo: Path, capsys: pytest.CaptureFixture[str], path: str, line: str
) -> None:
    code, _out, err = cli(capsys, *_run(path))
    assert code == 2
    assert one_error_line(err) == line


def test_hostile_path_text_stays_one_line(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cli(capsys, *_run("./no\nsuch\x1b[2J"))
    assert code == 2
    line = one_error_line(err)
    assert "\\n" in line and "\\x1b" in line  # shown escaped by repr, never raw


def test_what_counts_as_a_folder(demo: Path) -> None:
    assert looks_local("demo_data/esbb")  # its first part is a folder here
    assert looks_local("./x") and looks_local("~/x") and looks_local("/x") and looks_local("a/b/c")
    assert not looks_local("hf-audio/esb-datasets-test-only-sorted")


def test_an_unreachable_hub_fails_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    port = closed_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    _hub_problem.cache_clear()
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as info:
        open_split("someone/some-set", "ami", "test")
    assert time.monotonic() - t0 < 30
    assert str(info.value) == (
        f"cannot reach the Hugging Face Hub (http://127.0.0.1:{port}) for the hub id "
        f"'someone/some-set': cannot connect to 127.0.0.1:{port} (Connection refused); if it "
        "is a local folder pass it as ./PATH, or read a cached copy with HF_HUB_OFFLINE=1"
    )


def test_a_name_that_does_not_resolve_says_the_machine_looks_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.asyncbench-test.invalid")
    _hub_problem.cache_clear()
    with pytest.raises(ConfigError, match="the machine looks offline"):
        check_hub_reachable("someone/some-set", timeout=10)


def test_offline_mode_reads_the_cache_without_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    _hub_problem.cache_clear()
    check_hub_reachable("someone/some-set")  # nothing raised: datasets reads its cache
