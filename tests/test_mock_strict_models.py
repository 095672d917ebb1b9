"""`asyncbench mock --strict_models`: a typo in a model name fails against the mock as it
would against the service, in the service's own words; a documented name goes through, and
without the flag the mock stays lenient (any name, for dry runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.servers.mock import MockConfig

from .inproc import Background, cli
from .support import MockServer, make_dataset, only_file, read_results
from .test_multilingual import base_urls

# (typo, documented name, what the service answers a typo with)
CASES = [
    (
        "openai/whisper-l",
        "openai/whisper-1",
        "The model `whisper-l` does not exist or you do not have access to it.",
    ),
    ("deepgram/nova-33", "deepgram/nova-3", "No such model/language/tier combination found."),
    ("elevenlabs/scribe_v9", "elevenlabs/scribe_v1", "Model 'scribe_v9' is not a speech-to-text"),
    ("assembly/bset", "assembly/best", "speech_model 'bset' is not a valid model"),
]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("strict") / "set", {("ami", "test"): 2})


def run(capsys, monkeypatch, mock_url: str, model: str, dataset: Path, results: Path):
    for name, value in base_urls(mock_url).items():
        monkeypatch.setenv(name, value)
    args = ["run", "--model_name", model, "--dataset_path", dataset, "--dataset", "ami"]
    args += ["--results_dir", results, "--no_progress", "--max_retries", "0"]
    code, _out, err = cli(capsys, *args)
    return code, err, read_results(only_file(results))


@pytest.mark.parametrize(("typo", "good", "answer"), CASES, ids=[c[0] for c in CASES])
def test_a_typo_fails_on_a_strict_mock_and_passes_a_lenient_one(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    small: Path,
    tmp_path: Path,
    typo: str,
    good: str,
    answer: str,
) -> None:
    with Background(MockServer(MockConfig(strict_models=True))) as mock:
        _code, err, lines = run(capsys, monkeypatch, mock.url, typo, small, tmp_path / "typo")
        # a refused request is a failed sample (a rerun retries it), as against the service
        assert [x["status"] for x in lines] == ["failed", "failed"], lines
        assert [x["error_kind"] for x in lines] == ["bad_request", "bad_request"], lines
        assert all(answer in (x["error"] or "") for x in lines), lines
        code, err, lines = run(capsys, monkeypatch, mock.url, good, small, tmp_path / "good")
        assert code == 0, err
        assert [x["status"] for x in lines] == ["ok", "ok"]
    with Background(MockServer()) as lenient:
        code, err, lines = run(capsys, monkeypatch, lenient.url, typo, small, tmp_path / "free")
        assert code == 0, err
        assert [x["status"] for x in lines] == ["ok", "ok"]


def test_the_mock_command_has_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = cli(capsys, "mock", "--help")
    assert code == 0 and "--strict_models" in out
