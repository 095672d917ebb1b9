"""`asyncbench dataset make`: every transcript format, with a bad row of each kind, and the
folder it writes run against the mock and scored like any hub set.

Sources are real files: clips carry their own words as a watermark (so the mock answers each
with its true text), saved as WAV or FLAC; bad audio is bytes no decoder reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from asyncbench.sources import watermark
from asyncbench.sources.hub_layout import encode_audio
from asyncbench.sources.parquet_split import read_card

from .inproc import Background, cli, one_error_line, run_args
from .support import MockServer, read_results

TEXTS = {"a": "Alpha bravo charlie delta.", "sub/b": "Echo, foxtrot; golf hotel."}
DECODE = "cannot decode audio: "


def clip(path: Path, text: str, seed: int, fmt: str = "wav") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = watermark.embed(text, 1.0 + seed / 10, seed=seed)
    path.write_bytes(encode_audio(pcm, 16000, fmt))
    return path


def audio_tree(root: Path) -> Path:
    """Two good clips (WAV and FLAC in a subfolder), one undecodable file, one clip for an
    empty transcript and one clip no transcript names."""
    clip(root / "a.wav", TEXTS["a"], 0)
    clip(root / "sub" / "b.flac", TEXTS["sub/b"], 1, "flac")
    (root / "junk.wav").write_bytes(b"RIFF this is not audio at all" * 10)
    clip(root / "empty.wav", "unused", 2)
    clip(root / "orphan.wav", "never named", 3)
    return root


def table_lines(sep: str) -> list[list[str]]:
    return [
        ["file", "text"],
        ["a.wav", TEXTS["a"]],
        ["sub/b.flac", TEXTS["sub/b"]],
        ["missing.wav", "gone"],
        ["junk.wav", "junk"],
        ["empty.wav", ""],
    ]


def write_tsv(root: Path) -> tuple[Path, str]:
    lines = table_lines("\t")
    (root / "list.tsv").write_text("".join("\t".join(r) + "\n" for r in lines), "utf-8")
    return root, "list.tsv"


def write_csv(root: Path) -> tuple[Path, str]:
    import csv

    with (root / "list.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(table_lines(","))  # the comma in b's text is quoted
    return root / "list.csv", "list.csv"  # the table itself as SRC


def write_jsonl(root: Path) -> tuple[Path, str]:
    rows = [json.dumps({"file": f, "text": t}) for f, t in table_lines("")[1:]]
    rows.insert(3, "{not json")
    (root / "list.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
    return root, "list.jsonl"


def write_nemo(root: Path) -> tuple[Path, str]:
    rows = [
        json.dumps({"audio_filepath": f, "duration": 1.0, "text": t})
        for f, t in table_lines("")[1:]
    ]
    (root / "manifest.json").write_text("\n".join(rows) + "\n", "utf-8")
    return root, "manifest.json"


# what every table format reports (line numbers: a CSV/TSV header is line 1, NeMo has none)
TABLE_BAD = {
    "{t} line {n}: audio file not found",
    "{t} line {n1}: " + DECODE,
    "{t} line {n2}: empty transcript",
    "orphan.wav: no transcript: the table has no row for this file",
}


@pytest.mark.parametrize(
    ("writer", "kind"),
    [(write_tsv, "TSV"), (write_csv, "CSV"), (write_nemo, "NeMo manifest")],
    ids=["tsv", "csv", "nemo"],
)
def test_a_table_gives_the_good_rows_and_lists_each_bad_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, writer, kind: str
) -> None:
    src, table = writer(audio_tree(tmp_path / "src"))
    out = tmp_path / "set"
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", out)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: 2 clips, ") and f"from {kind}, 4 skipped" in stdout
    n = 3 if kind == "NeMo manifest" else 4
    assert_bad(err, {b.format(t=table, n=n, n1=n + 1, n2=n + 2) for b in TABLE_BAD})
    assert_set(out, {"a": TEXTS["a"], "sub/b": TEXTS["sub/b"]})


def test_jsonl_lists_a_malformed_line_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src, _table = write_jsonl(audio_tree(tmp_path / "src"))
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", tmp_path / "set")
    assert code == 0, err
    assert "from JSONL, 5 skipped" in stdout
    # no header in JSON lines: line n is row n, the malformed line is line 4
    assert_bad(
        err,
        {
            "list.jsonl line 3: audio file not found",
            "list.jsonl line 4: not a JSON object (Expecting property name enclosed in double "
            "quotes)",
            "list.jsonl line 5: " + DECODE,
            "list.jsonl line 6: empty transcript",
            "orphan.wav: no transcript: the table has no row for this file",
        },
    )
    assert_set(tmp_path / "set", {"a": TEXTS["a"], "sub/b": TEXTS["sub/b"]})


def test_kaldi_text_and_wav_scp_join_on_the_utterance_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = audio_tree(tmp_path / "src")
    (src / "text").write_text(
        f"utt1 {TEXTS['a']}\nutt2 {TEXTS['sub/b']}\nutt3 gone\nutt4 junk\nutt9 no audio\n", "utf-8"
    )
    (src / "wav.scp").write_text(
        "utt1 a.wav\nutt2 sub/b.flac\nutt3 missing.wav\nutt4 junk.wav\nutt5 orphan.wav\n"
        "utt6 sox x.wav -t wav - |\n",
        "utf-8",
    )
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", tmp_path / "set")
    assert code == 0, err
    assert "from kaldi, 5 skipped" in stdout
    assert_bad(
        err,
        {
            "wav.scp line 3 (utt3): audio file not found",
            "wav.scp line 4 (utt4): " + DECODE,
            "wav.scp line 5 (utt5): no transcript",
            "wav.scp line 6 (utt6): a command pipe, not a file; write the audio to a file",
            "text (utt9): transcript without audio in wav.scp",
        },
    )
    assert_set(tmp_path / "set", {"utt1": TEXTS["a"], "utt2": TEXTS["sub/b"]})


def test_a_txt_beside_each_audio_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = audio_tree(tmp_path / "src")
    (src / "a.txt").write_text(TEXTS["a"] + "\n", "utf-8")
    (src / "sub" / "b.txt").write_text(TEXTS["sub/b"], "utf-8")
    (src / "junk.txt").write_text("junk", "utf-8")
    (src / "empty.txt").write_text("  \n", "utf-8")
    (src / "stray.txt").write_text("a transcript whose clip was renamed", "utf-8")
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", tmp_path / "set")
    assert code == 0, err
    assert "from txt beside audio, 4 skipped" in stdout
    assert_bad(
        err,
        {
            "junk.wav: " + DECODE,
            "empty.wav: empty transcript",
            "orphan.wav: no transcript",
            "stray.txt: transcript without audio of the same name",
        },
    )
    assert_set(tmp_path / "set", {"a": TEXTS["a"], "sub/b": TEXTS["sub/b"]})
    skipped = (tmp_path / "set" / "skipped.tsv").read_text("utf-8").splitlines()
    assert skipped[0] == "where\treason" and len(skipped) == 5


def assert_bad(err: str, expected: set[str]) -> None:
    """Each skipped row is one line `skipped WHERE: REASON`; a decode failure ends with
    FFmpeg's own reason, so only its start is fixed."""
    lines = [line.removeprefix("skipped ") for line in err.splitlines() if line.strip()]
    assert all(line.startswith("skipped ") for line in err.splitlines() if line.strip()), err
    assert len(lines) == len(expected), err
    for want in expected:
        hits = [x for x in lines if (x.startswith(want) if want.endswith(DECODE) else x == want)]
        assert len(hits) == 1, (want, lines)


def assert_set(out: Path, texts: dict[str, str], min_s: float = 0.9) -> None:
    """The folder is the hub's layout: a card with configs and sizes, parquet that
    `datasets` loads, one row per good clip with its id, text and measured length."""
    import datasets

    card = read_card(out)
    assert card is not None
    info = card["dataset_info"][0]
    assert info["splits"] == [
        {"name": "test", "num_bytes": info["splits"][0]["num_bytes"], "num_examples": len(texts)}
    ]
    assert card["configs"][0]["config_name"] == "default"
    ds = datasets.load_dataset(str(out), "default", split="test")
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    got = {row["id"]: row["text"] for row in ds}
    assert got == {k: " ".join(v.split()) for k, v in texts.items()}
    assert all(row["audio_length_s"] > min_s and row["audio"]["bytes"] for row in ds)


@pytest.mark.parametrize(
    ("setup", "extra", "expected"),
    [
        (lambda t: None, [], "error: source {src!r} does not exist; give a folder of audio files"),
        (
            lambda t: (t / "src").mkdir(),
            [],
            "error: no audio files in {src} and no transcripts (a .tsv/.csv/.jsonl table, a "
            "NeMo manifest, Kaldi text + wav.scp, or a .txt beside each file)",
        ),
        (
            lambda t: clip(t / "src" / "a.wav", "x", 0),
            ["--language", "english"],
            "error: --language 'english' is not an ISO 639-1 language code (two letters such "
            "as en, de, fr, it, es, pt)",
        ),
        (
            lambda t: (clip(t / "src" / "a.wav", "x", 0), (t / "set").write_text("x")),
            [],
            "error: --out {out} is a file; give a folder",
        ),
        (
            lambda t: (t / "src").mkdir() or (t / "src" / "list.tsv").write_text("path\twords\n"),
            [],
            "error: list.tsv has no text column (one of text, sentence, normalized_text, "
            "transcript, transcription) in its header line; columns found: path, words",
        ),
        (
            lambda t: (t / "src").mkdir() or (t / "src" / "list.csv").write_text("a.wav,hi\n"),
            [],
            "error: list.csv has no file column (one of file, file_name, filename, "
            "audio_filepath, audio, path, wav) in its header line; columns found: a.wav, hi",
        ),
        (
            lambda t: (t / "src").mkdir() or (t / "src" / "x\x1b[31m.wav").write_bytes(b"no"),
            [],
            "error: no usable rows in {src} (1 skipped; first: x\\x1b[31m.wav: no transcript)",
        ),
        (
            lambda t: (
                (t / "src").mkdir()
                or (t / "src" / "x\u202egnp.\nerror: fake.wav").write_bytes(b"no")
            ),
            [],
            "error: no usable rows in {src} (1 skipped; first: x\\u202egnp.\\x0aerror: "
            "fake.wav: no transcript)",
        ),
    ],
    ids=[
        "no-source",
        "empty-folder",
        "bad-language",
        "out-is-file",
        "tsv-without-text-column",
        "csv-without-header",
        "nothing-usable",
        "bidi-and-newline-in-a-name",
    ],
)
def test_a_bad_input_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, setup, extra, expected: str
) -> None:
    setup(tmp_path)
    src, out = tmp_path / "src", tmp_path / "set"
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", out, *extra)
    assert (code, stdout) == (2, ""), err
    assert one_error_line(err) == expected.format(src=str(src), out=str(out))
    assert not out.is_dir()


def test_a_large_folder_is_written_a_row_group_at_a_time_longest_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """230 clips: three row groups of at most 100, so memory holds one group's audio, and
    the rows in the hub's order (longest first), every one readable through `datasets`."""
    import numpy as np
    import pyarrow.parquet as pq

    from asyncbench.sources.hub_layout import encode_wav

    src = tmp_path / "src"
    src.mkdir()
    lines = ["file\ttext"]
    for i in range(230):
        n = 1600 + 16 * (i % 37)  # 0.1 s .. 0.136 s, many ties
        (src / f"c{i:03d}.wav").write_bytes(encode_wav(np.zeros(n, dtype=np.int16), 16000))
        lines.append(f"c{i:03d}.wav\tword {i}")
    (src / "list.tsv").write_text("\n".join(lines) + "\n", "utf-8")
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", tmp_path / "set")
    assert (code, err) == (0, ""), err
    assert stdout.startswith(f"wrote {tmp_path / 'set'}: 230 clips, ")
    (shard,) = (tmp_path / "set" / "default").glob("test-*.parquet")
    meta = pq.ParquetFile(shard).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [100, 100, 30]
    lengths = pq.read_table(shard, columns=["audio_length_s"]).column(0).to_pylist()
    assert lengths == sorted(lengths, reverse=True) and len(set(lengths)) == 37
    assert_set(tmp_path / "set", {f"c{i:03d}": f"word {i}" for i in range(230)}, min_s=0.09)


def test_out_is_never_someone_elses_folder_but_a_made_set_can_be_rewritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "src"
    clip(src / "a.wav", TEXTS["a"], 0)
    (src / "a.txt").write_text(TEXTS["a"], "utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# my project\n", "utf-8")
    code, out, err = cli(capsys, "dataset", "make", src, "--out", project)
    assert (code, out) == (2, ""), err
    assert one_error_line(err) == (
        f"error: --out {project} is a folder with other files in it; give a new or empty "
        "folder (or one this command wrote before, to rewrite it)"
    )
    assert (project / "README.md").read_text("utf-8") == "# my project\n"
    made = tmp_path / "set"
    assert cli(capsys, "dataset", "make", src, "--out", made)[0] == 0
    (src / "b.wav").write_bytes((src / "a.wav").read_bytes())
    (src / "b.txt").write_text("Bravo.", "utf-8")
    code, out, err = cli(capsys, "dataset", "make", src, "--out", made)
    assert code == 0, err
    assert_set(made, {"a": TEXTS["a"], "b": "Bravo."})


def test_make_then_run_against_the_mock_then_score(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The whole newcomer path: own audio → `dataset make` → `run` → `score`, WER 0 since
    the mock answers every clip with its own words, and the card's language reaches the
    results' sidecar without `--language` on the run."""
    src = tmp_path / "my recordings"
    texts = [f"Clip number {w} says hello to the benchmark." for w in ("one", "two", "three")]
    for i, text in enumerate(texts):
        clip(src / f"c{i}.flac", text, i, "flac")
        (src / f"c{i}.txt").write_text(text, "utf-8")
    out = tmp_path / "myset"
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", out, "--language", "en")
    assert (code, err) == (0, ""), err
    assert stdout.splitlines()[-1] == (
        f"next: asyncbench run --model_name PROVIDER/MODEL --dataset_path {out} "
        "--dataset default --split test"
    )
    results = tmp_path / "results"
    with Background(MockServer()) as mock:
        args = run_args("aldea/default", out, "default", "test", f"127.0.0.1:{mock.port}", results)
        code, _out, err = cli(capsys, "run", *args)
    assert code == 0, err
    files = sorted(results.glob("*.jsonl"))
    assert [f.name for f in files] == ["MODEL_aldea-default_DATASET_myset_default_test.jsonl"]
    lines = read_results(files[0])
    assert sorted(x["pred_text"] for x in lines) == sorted(texts)
    code, stdout, err = cli(capsys, "score", results, "--json", "--bootstrap", "0")
    assert code == 0, err
    (row,) = orjson.loads(stdout)["datasets"]
    assert (row["dataset"], row["language"], row["samples"], row["ok"]) == (
        "myset_default_test",
        "en",
        3,
        3,
    )
    assert (row["wer"], row["ref_len"]) == (0.0, sum(len(t.split()) for t in texts))


def test_estimate_and_batch_take_a_made_set_by_its_path_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No suite to name: a folder of your own is its own suite (its configs × splits)."""
    src = tmp_path / "src"
    for i, word in enumerate(("one", "two")):
        clip(src / f"c{i}.wav", f"Clip {word} of my own.", i)
        (src / f"c{i}.txt").write_text(f"Clip {word} of my own.", "utf-8")
    out = tmp_path / "myset"
    assert cli(capsys, "dataset", "make", src, "--out", out, "--language", "de")[0] == 0
    code, stdout, err = cli(
        capsys, "estimate", "--model", "openai/whisper-1", "--dataset_path", out
    )
    assert code == 0, err
    assert "  default/test: 2 clips, 0.0006 audio hours" in stdout.splitlines()
    assert re.search(r"^  openai/whisper-1: \$ 0\.0\d{3} ", stdout, re.M), stdout
    results = tmp_path / "results"
    with Background(MockServer()) as mock:
        code, _out, err = cli(
            capsys,
            "batch",
            *("--model", "aldea/default", "--dataset_path", out, "--no_progress"),
            *("--aldea_endpoints", f"127.0.0.1:{mock.port}", "--results_dir", results),
        )
        assert code == 0, err
        assert mock.state.counters["aldea.language.de"] == 2  # the card's language was sent
    (done,) = results.glob("*.jsonl")
    assert done.name == "MODEL_aldea-default_DATASET_myset_default_test.jsonl"
    assert len(read_results(done)) == 2
