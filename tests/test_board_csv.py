"""`asyncbench score --csv`: the board's CSV summary blocks, byte for byte, from results files
of several families (public, extra, ml_de, and the long-form columns), in both layouts: the
d1e99b2 scorer's (`--csv_layout d1e99b2`, the blocks these tests pinned before August 2026's
scorer existed) and the 2026h2 one (the default since), derived by hand from
OAL@db339acbf2efff833c380e56224a888b7f8b2d29:normalizer/eval_utils.py `score_results`."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from .inproc import cli, one_error_line

WORDS = ["alpha", "bravo", "charlie", "delta"]
RULE = "*" * 80


def write(
    folder: Path, model: str, dataset: str, dropped: int, *, time: float | None = 2.0
) -> None:
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
    code, out, err = cli(capsys, "score", tmp_path, "--csv", "--csv_layout", "d1e99b2")
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
    code, out, err = cli(capsys, "score", tmp_path, "--csv", "--csv_layout", "d1e99b2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:4] == ["", RULE, "CSV Summary (Public):", RULE]
    assert lines[5:8] == ["m/a,4.0,,,,,,,,,25.0,,,", "n/b,4.0,,,,,,,,,75.0,,,", RULE]
    assert "CSV Summary (Extra):" not in out and not any(ln.startswith("avg WER") for ln in lines)

    code, out, _ = cli(
        capsys, "score", tmp_path, "--csv", "--model", "n/b", "--csv_layout", "d1e99b2"
    )
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


PUBLIC_2026H2 = (
    "model,RTFx,License,Size (B),# Languages,Encoder,Decoder,AMI-Cleaned WER,"
    "Earnings22-Cleaned-AA-chunked WER,Gigaspeech-Cleaned WER,LS Clean WER,LS Other WER,"
    "SPGISpeech WER,Voice-Arena-Moonsoon WER,Voxpopuli-Cleaned-AA WER,AMI-Cleaned RTFx,"
    "Earnings22-Cleaned-AA-chunked RTFx,Gigaspeech-Cleaned RTFx,LS Clean RTFx,LS Other RTFx,"
    "SPGISpeech RTFx,Voice-Arena-Moonsoon RTFx,Voxpopuli-Cleaned-AA RTFx"
)


def test_the_2026h2_public_block_with_monsoon_and_per_set_rtfx(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The board's scorer at db339acb on these files, worked by hand: the WER cells as
    before plus the 8th column; the family RTFx over the timed files (30 s / 11 s = 2.73); then
    each column's own file RTFx rounded to 4 (`str` of it), blank for the untimed LS Clean file
    (`all(time)` fails, so its rtfx is None and it adds nothing to the family sums)."""
    write(tmp_path, "m/a", "hf-audio-open-asr-leaderboard_ami_cleaned_test", 0, time=2.0)
    # a set run from its own repository with no config: <repo-slug>__<split>
    write(tmp_path, "m/a", "ArtificialAnalysis-Earnings22-Cleaned-AA-chunked__test", 2, time=5.0)
    write(tmp_path, "m/a", "hf-audio-open-asr-leaderboard_librispeech_test.clean", 3, time=None)
    write(tmp_path, "m/a", "VoiceArena-Monsoon_en_IN_test__test", 1, time=4.0)
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    assert out.splitlines() == [
        "",
        RULE,
        "CSV Summary (Public):",
        RULE,
        "avg WER (m/a) = 37.5",
        PUBLIC_2026H2,
        "m/a,2.73,,,,,,0.0,50.0,,75.0,,,25.0,,5.0,2.0,,,,,2.5,",
        RULE,
        "",
        RULE,
        "CSV Summary (Extra):",
        RULE,
        "model,AMI WER,Earnings22 WER,Gigaspeech WER,Voxpopuli WER",
        "m/a,,,,",
        RULE,
    ]
    # the same files through the older scorer: no Monsoon column, no RTFx columns, and the
    # own-repo Earnings22 file is not found under the older key
    code, out, err = cli(capsys, "score", tmp_path, "--csv", "--csv_layout", "d1e99b2")
    assert code == 0, err
    assert out.splitlines()[4:7] == [
        "avg WER (m/a) = 37.5",
        "model,RTFx,License,Size (B),# Languages,Encoder,Decoder,AMI-Cleaned WER,"
        "Earnings22-Cleaned-AA-chunked WER,Gigaspeech-Cleaned WER,LS Clean WER,LS Other WER,"
        "SPGISpeech WER,Voxpopuli-Cleaned-AA WER",
        "m/a,5.0,,,,,,0.0,,,75.0,,,",
    ]


def test_old_seven_set_results_score_as_before_in_the_new_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 7-set run scored by the new scorer: same WERs, the average over the 7 found (the
    8th column blank), so nothing already published moves."""
    for i, key in enumerate(
        (
            "ami_cleaned_test",
            "gigaspeech_cleaned_test",
            "librispeech_test.clean",
            "librispeech_test.other",
            "spgispeech_test",
            "voxpopuli_cleaned_aa_test",
        )
    ):
        write(tmp_path, "m/a", f"hf-audio-open-asr-leaderboard_{key}", i % 2)
    write(
        tmp_path,
        "m/a",
        "ArtificialAnalysis-Earnings22-Cleaned-AA-chunked_earnings22_cleaned_aa_chunked_test",
        1,
    )
    code, new, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    code, old, err = cli(capsys, "score", tmp_path, "--csv", "--csv_layout", "d1e99b2")
    assert code == 0, err
    assert new.splitlines()[4] == old.splitlines()[4] == "avg WER (m/a) = 14.29"
    old_row, row = old.splitlines()[6].split(","), new.splitlines()[6].split(",")
    assert row[:7] == old_row[:7] == ["m/a", "5.0", "", "", "", "", ""]
    assert row[7:15] == [*old_row[7:13], "", old_row[13]]  # Moonsoon blank, before Voxpopuli
    assert row[15:] == ["5.0"] * 6 + ["", "5.0"]


def test_a_bad_csv_layout_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "m/a", "hf-audio-open-asr-leaderboard_ami_cleaned_test", 0)
    code, _, err = cli(capsys, "score", tmp_path, "--csv", "--csv_layout", "2025\x1b[31m")
    assert code == 2
    assert one_error_line(err) == (
        "error: --csv_layout '2025\\x1b[31m' is not a layout: use 2026h2 (the board's scorer "
        "since August 2026, the default) or d1e99b2 (its older scorer)"
    )


def test_longform_block_reads_tedlium_from_its_new_source_and_all_coraal_subsets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TED-LIUM of distil-whisper/tedlium-long-form fills the tedlium column; the CORAAL
    average is over every subset present (here 4 of the 8)."""
    write(tmp_path, "m/a", "distil-whisper-tedlium-long-form_default_test", 1)
    for subset, dropped in (("ATL", 0), ("DCA", 1), ("LES", 2), ("VLD", 1)):
        write(tmp_path, "m/a", f"bezzam-coraal_{subset}_test", dropped)
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    assert out.splitlines()[4:6] == [
        "model_id,Average,RTFx,Model size (B),earnings21,earnings22,tedlium,coraal_avg,"
        "Avg (without CORAAL)",
        "m/a,25.0,-1,,,,25.0,25.0,25.0",
    ]


def test_the_dutch_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ml_nl (OAL #208): FLEURS, MCV and MLS columns, scored in Dutch, after the five older
    languages' blocks; the d1e99b2 scorer has no such family."""
    ml = "hf-audio-open-asr-leaderboard-multilingual-datasets"
    write(tmp_path, "m/a", f"{ml}_mls_nl_test", 1)
    write(tmp_path, "m/a", f"{ml}_fleurs_pt_test", 2)
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[lines.index("CSV Summary (nl):") + 2 :][:3] == [
        "avg WER (m/a) = 25.0",
        "model,RTFx,FLEURS WER,MCV WER,MLS WER",
        "m/a,5.0,,,25.0",
    ]
    assert lines.index("CSV Summary (pt):") < lines.index("CSV Summary (nl):")
    code, out, err = cli(capsys, "score", tmp_path, "--csv", "--csv_layout", "d1e99b2")
    assert code == 0, err
    assert "CSV Summary (pt):" in out and "CSV Summary (nl):" not in out


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        # worked by hand from OAL@db339acbf2efff833c380e56224a888b7f8b2d29
        # normalizer/data_utils.py MultilingualNormalizer(remove_diacritics=False), lang="nl":
        # the generic steps, no fillers for nl, "600 000" joined, then num2words(lang="nl")
        (
            "Grote steden zoals Amsterdam en Rotterdam hebben meer dan 600 000 inwoners.",
            "grote steden zoals amsterdam en rotterdam hebben meer dan zeshonderdduizend inwoners",
        ),
        (
            "Wij hebben in 2024 samen 12 fietsen gekocht.",
            "wij hebben in tweeduizendvierentwintig samen twaalf fietsen gekocht",
        ),
        (
            "Het café op de hoek verkoopt 's ochtends (vers) croissants.",
            "het café op de hoek verkoopt s ochtends croissants",
        ),
    ],
)
def test_dutch_normalisation_vectors(text: str, normalised: str) -> None:
    from asyncbench.scoring.language import normalize

    assert normalize(text, "nl") == normalised


def test_a_file_with_one_untimed_line_has_no_rtfx_as_on_the_board(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The board computes a file's RTFx only when every line has a (non-zero) time and
    duration: one line without leaves the cell blank and the file out of the family RTFx."""
    write(tmp_path, "m/a", "hf-audio-open-asr-leaderboard_ami_cleaned_test", 0, time=2.0)
    lines = [
        {"audio_filepath": f"s{i}", "duration": 10.0, "time": t, "text": "a b", "pred_text": "a b"}
        for i, t in enumerate((4.0, None))
    ]
    (
        tmp_path / "MODEL_m-a_DATASET_hf-audio-open-asr-leaderboard_spgispeech_test.jsonl"
    ).write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    row = out.splitlines()[6].split(",")
    assert row[1] == "5.0"  # the AMI file alone: 10 s / 2 s
    assert row[15:] == ["5.0", "", "", "", "", "", "", ""]


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
    row_line = '"openai-compatible/whisper,large-v3",5.0,,,,,,,,,25.0,,,,,,,,5.0,,,,'
    assert row_line in out.splitlines()
    header, row = _rows(out)
    assert len(row) == len(header) == 23
    assert dict(zip(header, row, strict=True))["LS Clean RTFx"] == "5.0"
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
