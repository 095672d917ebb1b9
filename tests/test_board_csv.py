"""`asyncbench score --csv`: the board's CSV summary blocks, byte for byte, from results files
of several families (public, extra, ml_de, and the long-form columns)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from .inproc import cli, one_error_line

WORDS = ["alpha", "bravo", "charlie", "delta"]
RULE = "*" * 80


def write(folder: Path, model: str, dataset: str, dropped: int, *, time: float = 2.0) -> None:
    """A leaderboard-style file (no status): one line whose prediction lacks `dropped` of
    the reference's 4 words, so its WER is 25 × dropped; 10 s of audio in `time` s."""
    line = {
        "audio_filepath": "sample_0",
        "duration": 10.0,
        "time": time,
        "text": " ".join(WORDS),
        "pred_text": " ".join(WORDS[dropped:]),
    }
    folder.mkdir(parents=True, exist_ok=True)
    name = f"MODEL_{model.replace('/', '-')}_DATASET_{dataset}.jsonl"
    (folder / name).write_bytes(orjson.dumps(line) + b"\n")


def test_every_family_block_as_the_board_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "m/a", "hf-audio-esb-datasets-test-only-sorted_ami_test", 1)
    write(tmp_path, "m/a", "hf-audio-open-asr-leaderboard_ami_cleaned_test", 0)
    write(tmp_path, "m/a", "hf-audio-open-asr-leaderboard-multilingual-datasets_fleurs_de_test", 2)
    write(tmp_path, "m/a", "hf-audio-asr-leaderboard-longform_earnings22_test", 1)
    write(tmp_path, "m/a", "bezzam-coraal_PRV_test", 2)
    write(tmp_path, "m/a", "bezzam-coraal_ROC_test", 1)
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    assert out.splitlines() == [
        "",
        RULE,
        "CSV Summary (Public):",
        RULE,
        "avg WER (m/a) = 0.0",
        "model,RTFx,License,Size (B),# Languages,Encoder,Decoder,AMI-Cleaned WER,"
        "Earnings22-Cleaned-AA-chunked WER,Gigaspeech-Cleaned WER,LS Clean WER,LS Other WER,"
        "SPGISpeech WER,Voxpopuli-Cleaned-AA WER",
        "m/a,5.0,,,,,,0.0,,,,,,",
        RULE,
        "",
        RULE,
        "CSV Summary (Extra):",
        RULE,
        "avg WER (m/a) = 25.0",
        "model,AMI WER,Earnings22 WER,Gigaspeech WER,Voxpopuli WER",
        # the board's substring test: the long-form earnings22 file fills "Earnings22 WER"
        "m/a,25.0,25.0,,",
        RULE,
        "",
        RULE,
        "CSV Summary (de):",
        RULE,
        "avg WER (m/a) = 50.0",
        "model,RTFx,FLEURS WER,MCV WER",
        "m/a,5.0,50.0,",
        RULE,
        "",
        RULE,
        "CSV Summary (Longform):",
        RULE,
        "model_id,Average,RTFx,Model size (B),earnings21,earnings22,tedlium,coraal_avg,"
        "Avg (without CORAAL)",
        "m/a,31.25,-1,,,25.0,,37.5,25.0",
        RULE,
    ]


def test_two_models_and_a_split_found_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two models: no avg line, one row each. LS Clean of both the ESB set and today's board:
    the first file in path order gives the WER, the family RTFx sums both (the board's rule)."""
    for model, esb_dropped in (("m/a", 1), ("n/b", 3)):
        write(
            tmp_path,
            model,
            "hf-audio-esb-datasets-test-only-sorted_librispeech_test.clean",
            esb_dropped,
            time=1.0,
        )
        write(tmp_path, model, "hf-audio-open-asr-leaderboard_librispeech_test.clean", 0, time=4.0)
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:4] == ["", RULE, "CSV Summary (Public):", RULE]
    assert lines[5:8] == ["m/a,4.0,,,,,,,,,25.0,,,", "n/b,4.0,,,,,,,,,75.0,,,", RULE]
    assert "CSV Summary (Extra):" not in out and not any(ln.startswith("avg WER") for ln in lines)

    code, out, _ = cli(capsys, "score", tmp_path, "--csv", "--model", "n/b")
    assert code == 0
    assert "avg WER (n/b) = 75.0" in out.splitlines()


def test_csv_of_files_of_no_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "m/a", "my-own-set_default_test", 1)
    code, _, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 2
    assert one_error_line(err).startswith(
        "error: none of the scored files belongs to a family of the board's CSV"
    )
    code, _, err = cli(capsys, "score", tmp_path, "--csv", "--json")
    assert code == 2
    assert one_error_line(err) == (
        "error: --csv and --json each print the scores alone: pass one of them"
    )


def _rows(out: str) -> list[list[str]]:
    """The CSV lines of the printout (rules, titles and blank lines left out), parsed."""
    import csv

    kept = [
        ln for ln in out.splitlines() if ln and ln != RULE and not ln.startswith(("CSV Su", "avg"))
    ]
    return list(csv.reader(kept))


def test_a_comma_in_a_model_name_keeps_every_cell_under_its_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`openai-compatible/whisper,large-v3` made a row of 15 cells under 14 headers, its LS
    Clean WER under LS Other; the csv module quotes the name instead."""
    name = "openai-compatible/whisper,large-v3"
    write(tmp_path, name, "hf-audio-open-asr-leaderboard_librispeech_test.clean", 1)
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    assert '"openai-compatible/whisper,large-v3",5.0,,,,,,,,,25.0,,,' in out.splitlines()
    header, row = _rows(out)
    assert len(row) == len(header) == 14
    assert dict(zip(header, row, strict=True))["LS Clean WER"] == "25.0"
    assert row[0] == name


SLUGS = ('=HYPERLINK("http:x";"click")-m', "+cmd|' -C calc'!A0", "@SUM(1+1)-m")


def test_formula_names_are_text_cells_and_numbers_stay_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Names like `=HYPERLINK(...)`, `+cmd|...` and `@SUM(...)` came out as live formulas;
    now each is a text cell (a leading '), while the WER and RTFx cells stay numbers."""
    from asyncbench.core.model_names import model_id_of_slug

    for slug in SLUGS:
        folder = tmp_path / str(SLUGS.index(slug))
        folder.mkdir()
        line = {"audio_filepath": "s0", "duration": 10.0, "time": 2.0, "text": " ".join(WORDS),
                "pred_text": " ".join(WORDS[1:])}  # fmt: skip
        name = f"MODEL_{slug}_DATASET_hf-audio-open-asr-leaderboard_librispeech_test.clean.jsonl"
        (folder / name).write_bytes(orjson.dumps(line) + b"\n")
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    header, *rows = _rows(out)
    assert sorted(r[0] for r in rows) == sorted("'" + model_id_of_slug(s) for s in SLUGS)
    for row in rows:
        assert len(row) == len(header)
        assert row[1] == "5.0" and dict(zip(header, row, strict=True))["LS Clean WER"] == "25.0"
    assert '\'=HYPERLINK(""http:x"";""click"")/m"' in out  # quoted, quotes doubled


def test_text_cells_one_by_one() -> None:
    """The rule per leading character, and no raw control character in a cell."""
    import csv

    from asyncbench.scoring.board_csv import csv_row, text_cell

    for name in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert text_cell(name).startswith("'"), name
    assert text_cell("\tx") == "'\\x09x" and text_cell("\rx") == "'\\x0dx"
    assert text_cell("a\nb") == "a\\x0ab"  # one row per line, whatever the name holds
    assert csv.reader([csv_row("-m", ["5.0", "", "-1"])]).__next__() == ["'-m", "5.0", "", "-1"]
    for plain in ("m/a", "openai/whisper-1", "deepgram-live/nova-3", "a.b_c"):
        assert csv_row(plain, ["4.0", "", "25.0"]) == ",".join([plain, "4.0", "", "25.0"])
