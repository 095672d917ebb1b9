"""Suites: the registry, `asyncbench suites`, and `batch --suite leaderboard` end to end over a
local copy of today's board (the chunked Earnings22 included), scored by the board's rules."""

from __future__ import annotations

import json
import subprocess
import zlib
from collections import defaultdict
from pathlib import Path

import pytest

from asyncbench.cli.batch import ESB_SPLITS, parse_datasets
from asyncbench.core.errors import ConfigError
from asyncbench.sources.suites import CORAAL_SUBSETS, SUITES, get_suite, select

from .board_layout import write_board_copy
from .inproc import Background, cli, one_error_line
from .loopback import LoopbackAldea
from .support import PYTHON, REPO, MockServer, cli_env, read_results, transcript_of

BOARD_FILES = [
    "MODEL_aldea-default_DATASET_ArtificialAnalysis-Earnings22-Cleaned-AA-chunked_"
    "earnings22_cleaned_aa_chunked_test.jsonl",
    "MODEL_aldea-default_DATASET_hf-audio-open-asr-leaderboard_ami_cleaned_test.jsonl",
    "MODEL_aldea-default_DATASET_hf-audio-open-asr-leaderboard_gigaspeech_cleaned_test.jsonl",
    "MODEL_aldea-default_DATASET_hf-audio-open-asr-leaderboard_librispeech_test.clean.jsonl",
    "MODEL_aldea-default_DATASET_hf-audio-open-asr-leaderboard_librispeech_test.other.jsonl",
    "MODEL_aldea-default_DATASET_hf-audio-open-asr-leaderboard_spgispeech_test.jsonl",
    "MODEL_aldea-default_DATASET_hf-audio-open-asr-leaderboard_voxpopuli_cleaned_aa_test.jsonl",
    # its own repository, no config: the board's double underscore
    "MODEL_aldea-default_DATASET_VoiceArena-Monsoon_en_IN_test__test.jsonl",
]


def test_the_registry_holds_the_four_suites() -> None:
    assert list(SUITES) == ["esb", "leaderboard", "longform", "multilingual"]
    assert get_suite(None).name == "esb"
    assert ESB_SPLITS == (
        ("ami", "test"),
        ("earnings22", "test"),
        ("gigaspeech", "test"),
        ("librispeech", "test.clean"),
        ("librispeech", "test.other"),
        ("spgispeech", "test"),
        ("tedlium", "test"),
        ("voxpopuli", "test"),
    )
    board = SUITES["leaderboard"]
    assert [(e.dataset_path(board.path), e.config, e.split) for e in board.entries] == [
        ("hf-audio/open-asr-leaderboard", "ami_cleaned", "test"),
        (
            "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked",
            "earnings22_cleaned_aa_chunked",
            "test",
        ),
        ("hf-audio/open-asr-leaderboard", "gigaspeech_cleaned", "test"),
        ("hf-audio/open-asr-leaderboard", "librispeech", "test.clean"),
        ("hf-audio/open-asr-leaderboard", "librispeech", "test.other"),
        ("hf-audio/open-asr-leaderboard", "spgispeech", "test"),
        ("hf-audio/open-asr-leaderboard", "voxpopuli_cleaned_aa", "test"),
        ("VoiceArena/Monsoon_en_IN_test", "", "test"),
    ]
    assert board.entries[1].parent_path == "ArtificialAnalysis/Earnings22-Cleaned-AA"
    longform = SUITES["longform"]
    assert [(e.dataset_path(longform.path), e.config) for e in longform.entries] == [
        ("hf-audio/asr-leaderboard-longform", "earnings21"),
        ("hf-audio/asr-leaderboard-longform", "earnings22"),
        ("distil-whisper/tedlium-long-form", "default"),
        *(("bezzam/coraal", c) for c in ("ATL", "DCA", "DCB", "DTA", "LES", "PRV", "ROC", "VLD")),
    ]
    ml = SUITES["multilingual"]
    assert len(ml.entries) == 19 and {e.split for e in ml.entries} == {"test"}
    assert {e.config: e.language for e in ml.entries}["fleurs_de"] == "de"
    assert {e.language for e in ml.entries} == {"de", "fr", "it", "es", "pt", "nl", "hy", "hi"}
    assert [(e.dataset_path(ml.path), e.config, e.family) for e in ml.entries[16:]] == [
        ("Metric-AI/open-asr-leaderboard-multilingual-datasets", "fleurs_hy", "multilingual"),
        ("Metric-AI/open-asr-leaderboard-multilingual-datasets", "mcv26_hy", "multilingual"),
        ("VoiceArena/Monsoon_hi_test", "", "oiwer"),
    ]
    assert all(e.family == "multilingual" for e in ml.entries[:18])
    assert all(
        e.language == "en" for s in ("esb", "leaderboard", "longform") for e in SUITES[s].entries
    )


def test_datasets_select_within_a_suite() -> None:
    board = SUITES["leaderboard"]
    picked = select(board, "voxpopuli earnings22 librispeech:test.other ami_cleaned")
    assert [e.config for e in picked] == [
        "ami_cleaned",
        "earnings22_cleaned_aa_chunked",
        "librispeech",
        "voxpopuli_cleaned_aa",
    ]
    assert [e.config for e in select(SUITES["longform"], "coraal")] == list(CORAAL_SUBSETS)
    assert select(SUITES["multilingual"], "monsoon")[0].path == "VoiceArena/Monsoon_hi_test"
    assert [e.path for e in select(SUITES["leaderboard"], "monsoon_en_in")] == [
        "VoiceArena/Monsoon_en_IN_test"
    ]
    assert parse_datasets("librispeech") == [
        ("librispeech", "test.clean"),
        ("librispeech", "test.other"),
    ]
    with pytest.raises(ConfigError, match="suite leaderboard has ami, earnings22, gigaspeech"):
        select(board, "tedlium")


def test_suites_command_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "suites")
    assert code == 0
    assert "leaderboard: 8 splits" in out and "multilingual: 19 splits" in out
    assert "VoiceArena/Monsoon_en_IN_test (no config)/test" in out
    assert (
        "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked earnings22_cleaned_aa_chunked/test" in out
    )
    assert (
        "hf-audio/open-asr-leaderboard-multilingual-datasets mls_pt/test  (multilingual/pt)" in out
    )
    code, _, err = cli(capsys, "suites", "nope")
    assert code == 2
    assert one_error_line(err) == (
        "error: unknown suite 'nope' in SUITE/--suite; suites: esb, leaderboard, longform, "
        "multilingual (asyncbench suites lists their entries)"
    )


# --------------------------------------------------------------------------- end to end


def imperfect(body: bytes) -> str:
    """The clip's own words, but a third of the clips lose their last word: WER > 0."""
    text = transcript_of(body)
    if zlib.crc32(text.encode()) % 3 == 0:
        return text.rsplit(" ", 1)[0]
    return text


def board_merge(manifest: list[dict]) -> list[dict]:
    """The board's `merge_chunked_manifest` (PROTOCOLS-2026 C2), written out independently."""
    if not manifest or "parent_id" not in manifest[0]:
        return manifest
    sessions: dict[str, list[dict]] = defaultdict(list)
    for d in manifest:
        sessions[d["parent_id"]].append(d)

    def total(values: list) -> float | None:
        return sum(values) if all(v is not None for v in values) else None

    merged = []
    for pid in sorted(sessions):
        chunks = sorted(sessions[pid], key=lambda d: d["chunk_index"])
        merged.append(
            {
                "duration": total([c["duration"] for c in chunks]),
                "time": total([c["time"] for c in chunks]),
                "text": chunks[0]["text"],
                "pred_text": " ".join(p for c in chunks if (p := (c["pred_text"] or "").strip())),
            }
        )
    return merged


def board_wer(path: Path) -> float:
    """The board's per-file WER: merge, its English normaliser, kaldialign with compounds."""
    from kaldialign import batch_error_rate

    from asyncbench.scoring import normalize

    manifest = board_merge([json.loads(line) for line in path.read_text().splitlines()])
    refs = [tuple(normalize(d["text"]).split()) for d in manifest]
    preds = [tuple(normalize(d["pred_text"]).split()) for d in manifest]
    return round(100 * batch_error_rate(refs, preds, merge_compounds=True)["err_rate"], 2)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_board_copy(tmp_path_factory.mktemp("board") / "hub")


def test_batch_suite_leaderboard_over_a_local_copy_writes_the_boards_files(
    board: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    with Background(LoopbackAldea(2, transcript=imperfect)) as srv:
        code, out, err = cli(
            capsys,
            "batch",
            *("--model", "aldea/default", "--suite", "leaderboard", "--data_root", board),
            *("--aldea_endpoints", srv.endpoints, "--results_dir", results),
            *("--max_workers", "4", "--no_progress"),
        )
    assert code == 0, err
    assert sorted(p.name for p in results.glob("*.jsonl")) == sorted(BOARD_FILES)
    assert "batch: 8 splits" in err

    chunked = read_results(results / BOARD_FILES[0])
    assert len(chunked) == 5  # 3 + 2 chunks, each sent on its own
    for line in chunked:
        assert {"audio_filepath", "duration", "time", "text", "pred_text"} <= set(line)
        assert line["status"] == "ok" and line["id"] == f"{line['parent_id']}/{line['chunk_index']}"
    by_call = {line["parent_id"]: line["text"] for line in chunked}
    assert set(by_call) == {"4483046", "4468919_trimmed"}
    assert all(len(t.split()) >= 10 for t in by_call.values())  # the whole call's transcript
    plain = read_results(results / BOARD_FILES[1])
    assert len(plain) == 3 and all("parent_id" not in line for line in plain)

    code, out, err = cli(capsys, "score", results, "--json")
    assert code == 0, err
    ours = {d["dataset"]: d["wer"] for d in json.loads(out)["datasets"]}
    expected = {
        p.name.removesuffix(".jsonl").split("_DATASET_", 1)[1]: board_wer(p)
        for p in results.glob("*.jsonl")
    }
    assert ours == expected
    assert any(w > 0 for w in expected.values())
    assert (
        ours["ArtificialAnalysis-Earnings22-Cleaned-AA-chunked_earnings22_cleaned_aa_chunked_test"]
        == (
            expected[
                "ArtificialAnalysis-Earnings22-Cleaned-AA-chunked_earnings22_cleaned_aa_chunked_test"
            ]
        )
    )

    code, out, err = cli(capsys, "score", results, "--model", "aldea/default", "--csv")
    assert code == 0, err
    lines = out.splitlines()
    at = lines.index("CSV Summary (Public):")
    assert lines[at - 2 : at + 2] == ["", "*" * 80, "CSV Summary (Public):", "*" * 80]
    labels = [
        "AMI-Cleaned",
        "Earnings22-Cleaned-AA-chunked",
        "Gigaspeech-Cleaned",
        "LS Clean",
        "LS Other",
        "SPGISpeech",
        "Voice-Arena-Moonsoon",
        "Voxpopuli-Cleaned-AA",
    ]
    assert lines[at + 3] == ",".join(
        ["model,RTFx,License,Size (B),# Languages,Encoder,Decoder"]
        + [f"{lbl} WER" for lbl in labels]
        + [f"{lbl} RTFx" for lbl in labels]
    )
    order = [
        "ami_cleaned_test",
        "earnings22_cleaned_aa_chunked_test",
        "gigaspeech_cleaned_test",
        "librispeech_test.clean",
        "librispeech_test.other",
        "spgispeech_test",
        "Monsoon_en_IN_test__test",
        "voxpopuli_cleaned_aa_test",
    ]
    wers = [next(w for d, w in expected.items() if d.endswith(k)) for k in order]
    row = lines[at + 4].split(",")
    assert row[0] == "aldea/default" and float(row[1]) > 0 and row[2:7] == [""] * 5
    assert row[7:15] == [str(w) for w in wers]
    assert all(float(cell) > 0 for cell in row[15:23]) and len(row) == 23
    # the English average is over the 8 columns now
    assert lines[at + 2] == f"avg WER (aldea/default) = {round(sum(wers) / len(wers), 2)}"
    assert lines[at + 5] == "*" * 80
    assert "CSV Summary (Extra):" in out  # the board prints it whenever a _cleaned set is there


def test_run_api_sh_with_suite_leaderboard(board: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv:
        done = subprocess.run(
            ["bash", str(REPO / "run_api.sh")],
            capture_output=True,
            text=True,
            timeout=300,
            env=cli_env(
                PYTHON=PYTHON,
                MODEL="aldea/default",
                SUITE="leaderboard",
                DATA_ROOT=str(board),
                DATASETS="earnings22 ami",
                ALDEA_ENDPOINTS=srv.endpoints,
                RESULTS_DIR=str(results),
            ),
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in results.glob("*.jsonl")) == sorted(BOARD_FILES[:2])
    assert (
        "aldea/default | ArtificialAnalysis-Earnings22-Cleaned-AA-chunked_"
        "earnings22_cleaned_aa_chunked_test: WER = 0.00 %" in done.stdout
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--suite", "english2027"],
            "error: unknown suite 'english2027' in SUITE/--suite; suites: esb, leaderboard",
        ),
        (
            ["--suite", "leaderboard", "--datasets", "tedlium"],
            "error: unknown dataset 'tedlium' in DATASETS/--datasets; suite leaderboard has ami",
        ),
    ],
)
def test_bad_suite_input(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "batch", "--model", "aldea/default", "--results_dir", tmp_path, *args
    )
    assert code == 2
    assert one_error_line(err).startswith(message)


def test_a_dataset_missing_from_the_local_copy_is_named_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "hub"
    write_board_copy(root, per_split=1)
    import shutil

    shutil.rmtree(root / "ArtificialAnalysis" / "Earnings22-Cleaned-AA")
    code, _, err = cli(
        capsys,
        "batch",
        *("--model", "aldea/default", "--suite", "leaderboard", "--data_root", root),
        *("--aldea_endpoints", "127.0.0.1:9", "--results_dir", tmp_path / "results"),
    )
    assert code == 2
    tried = root / "ArtificialAnalysis" / "Earnings22-Cleaned-AA"
    assert one_error_line(err) == (
        "error: earnings22_cleaned_aa_chunked/test: parent dataset "
        f"ArtificialAnalysis/Earnings22-Cleaned-AA is missing locally: tried {tried} "
        "(--data_root/DATA_ROOT)"
    )
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").glob("*.jsonl"))


def test_each_entry_brings_its_path_parent_and_language() -> None:
    from asyncbench.cli.batch import entry_config
    from asyncbench.runs.runner import RunConfig

    base = RunConfig(model_name="aldea/default", dataset="", dataset_path="/my/copy")
    board = SUITES["leaderboard"]
    ami, earnings = (entry_config(base, e) for e in board.entries[:2])
    assert (ami.dataset_path, ami.dataset, ami.parent_dataset_path) == (
        "/my/copy",
        "ami_cleaned",
        None,
    )
    assert earnings.dataset_path == "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked"
    assert earnings.parent_dataset_path == "ArtificialAnalysis/Earnings22-Cleaned-AA"
    de = entry_config(base, SUITES["multilingual"].entries[0])
    assert (de.dataset, de.split, de.language) == ("fleurs_de", "test", "de")
    assert entry_config(base, ("ami", "test")).language == "en"


def test_the_chunked_entry_through_the_openai_mock(
    board: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same suite against `asyncbench mock`'s OpenAI protocol: multipart uploads of each
    chunk, the board's file name for the model, the calls scored whole."""
    with Background(MockServer()) as mock:
        code, out, err = cli(
            capsys,
            *("batch", "--model", "openai/whisper-1", "--suite", "leaderboard"),
            *("--datasets", "earnings22", "--data_root", board, "--base_url", mock.url),
            *("--api_key", "test", "--results_dir", tmp_path, "--no_progress"),
        )
    assert code == 0, err
    (path,) = tmp_path.glob("*.jsonl")
    assert path.name == BOARD_FILES[0].replace("aldea-default", "openai-whisper-1")
    assert len(read_results(path)) == 5
    assert (
        "openai/whisper-1 | ArtificialAnalysis-Earnings22-Cleaned-AA-chunked_"
        "earnings22_cleaned_aa_chunked_test: WER = 0.00 %" in out
    )


def test_an_entry_read_from_its_own_path() -> None:
    """The board's `name:split:path` form: one entry of the suite from another dataset."""
    board = SUITES["leaderboard"]
    ami, chunked = select(board, "ami:test:/data/ami-copy earnings22:test")
    assert (ami.config, ami.dataset_path(board.path)) == ("ami_cleaned", "/data/ami-copy")
    assert chunked.dataset_path(board.path) == "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked"
    assert chunked.parent_path == "ArtificialAnalysis/Earnings22-Cleaned-AA"
    (mine,) = select(SUITES["esb"], "voxpopuli:test:me/voxpopuli-copy")
    assert mine.dataset_path(SUITES["esb"].path) == "me/voxpopuli-copy"
    with pytest.raises(ConfigError, match="ami has split"):
        select(board, "ami:dev:/x")
