"""Hindi (Monsoon hi) scored with OIWER over a reference lattice, and Armenian's normaliser.

The board scores Hindi with the `voi_oiwer` package (OAL@db339acbf2efff833c380e56224a888b7f8b2d29
normalizer/eval_utils.py `score_oiwer`), which is not installable here; asyncbench implements
the metric from its public description (see asyncbench/scoring/oiwer.py). Every expected
number below is worked by hand from that description: the fewest word edits over any path
through the lattice, over the words of the path taken. Armenian's expected texts are worked by
hand from the steps of OAL@db339acb normalizer/armenian_normalizer.py `normalization`.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

import pytest

from asyncbench.scoring.armenian import normalize_armenian
from asyncbench.scoring.error_rate import ErrorCounts
from asyncbench.scoring.oiwer import align, normalize_words, parse_lattice, utterance_errors

from .inproc import cli, one_error_line
from .scoring_files import write_jsonl

RULE = "*" * 80
GO = [["मैं"], ["घर"], ["जा रहा", "जाता"], ["हूँ"]]  # "I am going home", two spellings of "going"


@pytest.mark.parametrize(
    ("hypothesis", "expected"),
    [
        # either spelling of slot 3 is free; the path's words are the reference length
        ("मैं घर जाता हूँ", ErrorCounts(ref_len=4)),
        ("मैं घर जा रहा हूँ", ErrorCounts(ref_len=5)),
        # "जा" against "जा रहा" is 1 deletion (5 words), against "जाता" 1 substitution (4
        # words): equal edits, and a substitution wins over a deletion by the documented order
        ("मैं घर जा हूँ", ErrorCounts(sub=1, ref_len=4)),
        # a word nobody said, then one missing
        ("मैं अब घर जाता", ErrorCounts(ins=1, dels=1, ref_len=4)),
        ("", ErrorCounts(dels=4, ref_len=4)),
        # punctuation (the danda) and a zero-width joiner do not count
        ("मैं, घर\u200d जाता हूँ।", ErrorCounts(ref_len=4)),
    ],
)
def test_worked_examples_over_one_lattice(hypothesis: str, expected: ErrorCounts) -> None:
    assert align(parse_lattice(GO), normalize_words(hypothesis)) == expected


def test_lattice_forms_and_optional_words() -> None:
    # plain text: one slot per word, so OIWER is WER: "a x c d" against "a b c"
    assert align(parse_lattice("a b c"), "a x c d".split()) == ErrorCounts(ins=1, sub=1, ref_len=3)
    # JSON text of a lattice; an empty spelling makes a word optional
    lattice = parse_lattice(json.dumps([["हाँ", ""], ["ठीक"]], ensure_ascii=False))
    assert align(lattice, ["ठीक"]) == ErrorCounts(ref_len=1)
    assert align(lattice, ["हाँ", "ठीक"]) == ErrorCounts(ref_len=2)
    # text that starts like a lattice but is not JSON is read as words, as the board does
    assert parse_lattice("[[ अधूरा") == [[["अधूरा"]]]
    with pytest.raises(ValueError, match="slot 0 of the reference lattice holds a non-text"):
        parse_lattice("[[1]]")


def test_totals_are_summed_edits_over_summed_path_words() -> None:
    total, errors, words = utterance_errors(
        [json.dumps(GO, ensure_ascii=False), '[["नमस्ते"], ["दोस्त", "मित्र"]]'],
        ["मैं घर जाता हूँ", "नमस्ते यार"],
    )
    assert (total, errors, words) == (ErrorCounts(sub=1, ref_len=6), [0, 1], [4, 2])
    assert total.wer == 16.67


def brute_force(lattice: list[list[list[str]]], hyp: list[str]) -> ErrorCounts:
    """Every path through the lattice spelt out, each aligned with a textbook Levenshtein
    carrying (edits, ins, del, sub, ref words); the least of all, by the same order."""
    best = None
    for choice in itertools.product(*lattice):
        ref = [w for spelling in choice for w in spelling]
        prev = [(j, j, 0, 0, 0) for j in range(len(hyp) + 1)]
        for i, r in enumerate(ref, start=1):
            cur = [(i, 0, i, 0, i)]
            for j, h in enumerate(hyp, start=1):
                a, b, c = prev[j - 1], prev[j], cur[j - 1]
                s = int(r != h)
                cur.append(
                    min(
                        (a[0] + s, a[1], a[2], a[3] + s, a[4] + 1),
                        (b[0] + 1, b[1], b[2] + 1, b[3], b[4] + 1),
                        (c[0] + 1, c[1] + 1, c[2], c[3], c[4]),
                    )
                )
            prev = cur
        if best is None or prev[-1] < best:
            best = prev[-1]
    assert best is not None
    return ErrorCounts(ins=best[1], dels=best[2], sub=best[3], ref_len=best[4])


def test_the_alignment_is_the_least_over_every_path_spelt_out() -> None:
    """400 random small lattices (multi-word and empty spellings included) against random
    hypotheses: the slot-by-slot alignment equals the brute force over whole paths."""
    rng = random.Random(7)
    words = ["a", "b", "c", "d"]
    for _ in range(400):
        lattice = [
            [
                [rng.choice(words) for _ in range(rng.randint(0, 2))]
                for _ in range(rng.randint(1, 3))
            ]
            for _ in range(rng.randint(0, 5))
        ]
        hyp = [rng.choice(words) for _ in range(rng.randint(0, 6))]
        assert align(lattice, hyp) == brute_force(lattice, hyp), (lattice, hyp)


def test_monsoon_hi_file_scores_with_oiwer_and_prints_the_boards_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A board-format Monsoon hi file (own repository, no config): the lattice in `text` as
    JSON, in `text` as a list, and in `reference_lists`. 1 edit over 4 + 2 + 2 words."""
    base = {"audio_filepath": "x", "duration": 5.0, "time": 1.0}
    write_jsonl(
        tmp_path / "MODEL_m-a_DATASET_VoiceArena-Monsoon_hi_test__test.jsonl",
        [
            base | {"text": json.dumps(GO, ensure_ascii=False), "pred_text": "मैं घर जाता हूँ।"},
            base | {"text": [["नमस्ते"], ["दोस्त", "मित्र"]], "pred_text": "नमस्ते यार"},
            base | {"text": "जी", "reference_lists": [["जी", "जी हाँ"]], "pred_text": "जी हाँ"},
        ],
    )
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    assert out.splitlines() == [
        "",
        RULE,
        "CSV Summary (hi):",
        RULE,
        "avg WER (m/a) = 12.5",
        "model,RTFx,Monsoon WER",
        "m/a,5.0,12.5",
        RULE,
    ]


def test_a_malformed_lattice_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "MODEL_m-a_DATASET_VoiceArena-Monsoon_hi_test__test.jsonl"
    write_jsonl(path, [{"text": '[["ok"], [3]]', "pred_text": "ok", "duration": 1, "time": 1}])
    code, _, err = cli(capsys, "score", tmp_path)
    assert code == 2
    assert one_error_line(err) == (
        f"error: {path}: slot 1 of the reference lattice holds a non-text spelling"
    )
    write_jsonl(path, [{"text": "x", "reference_lists": "<b>x</b>", "pred_text": "x"}])
    code, out, err = cli(capsys, "score", tmp_path, "--json")
    assert f"{path}:1: 'reference_lists' (a reference lattice) must be a list" in out + err


# --- Armenian -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Բարև, աշխարհ։", "բարեւ աշխարհ"),  # the ligature և is ե+ւ after NFKC
        # a clock time keeps its ։ and, as the board's number stage leaves it, its hyphen
        ("Ժամը 10:30-ին", "ժամը 10։30-ին"),
        ("ՀՀ-ում 2024-ին", "հհում 2024ին"),  # endings after a hyphen join their word
        ("1 000 000 դրամ", "1000000 դրամ"),  # digit groups written with spaces join
        ("Եվ նա", "եւ նա"),  # the word "and" standing alone
        ("բառ,բառ", "բառ բառ"),  # a comma touching a word splits it
        ("Ինչո՞ւ «Արարատ»ում", "ինչու արարատ ում"),  # marks go; a space after »
        ("Café — ոչ", "cafe ոչ"),  # accents folded, a dash between words is a space
        # spoken cardinals in digits, by the board's rules of which word may follow which
        ("Երեք հարյուր քսանհինգ մարդ", "325 մարդ"),
        ("երկու հազար քսան չորս", "2024"),  # a unit after a ten joins it
        ("հարյուրից ավելի", "100ից ավելի"),  # an ending stays, and closes the number
        ("մեկ միլիոն երկու հարյուր հազար", "1200000"),
        ("հազար հազար", "1000 1000"),  # a scale never follows a scale
        ("հինգ վեց", "5 6"),  # nor a unit a unit
        ("007 գործակալ", "007 գործակալ"),  # a leading zero is not a number to rewrite
    ],
)
def test_armenian_normaliser_worked_examples(text: str, expected: str) -> None:
    assert normalize_armenian(text) == expected


def test_armenian_digits_and_words_score_alike() -> None:
    assert normalize_armenian("100 մարդ") == normalize_armenian("Հարյուր մարդ") == "100 մարդ"


def test_armenian_fleurs_file_scores_in_its_family(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ml_hy: FLEURS and "MCV 26" columns; punctuation and ligature spelling are free, one
    word of 4 wrong is 25 %."""
    base = {"audio_filepath": "x", "duration": 10.0, "time": 2.0}
    armenian = "Metric-AI-open-asr-leaderboard-multilingual-datasets"
    write_jsonl(
        tmp_path / f"MODEL_m-a_DATASET_{armenian}_fleurs_hy_test.jsonl",
        [base | {"text": "Բարև, աշխարհ։ Ինչպե՞ս ես", "pred_text": "բարեւ աշխարհ ինչպես են"}],
    )
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    assert out.splitlines()[4:7] == [
        "avg WER (m/a) = 25.0",
        "model,RTFx,FLEURS WER,MCV 26 WER",
        "m/a,5.0,25.0,",
    ]


def test_batch_monsoon_hi_end_to_end_scores_against_its_lattice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A local copy of Monsoon hi (its own repository, one config) whose rows carry a
    `reference_lists` lattice: the server answers what each clip says, a spelling the
    lattice accepts but the plain `text` does not, so OIWER is 0 where plain WER is not."""
    from asyncbench.sources import watermark
    from asyncbench.sources.hub_layout import audio_cell, encode_wav, write_hub_folder
    from asyncbench.sources.suites import MONSOON_HI_PATH

    from .inproc import Background
    from .loopback import LoopbackAldea
    from .support import read_results, transcript_of

    said = ["मैं घर जाता हूँ", "मैं घर जा रहा हूँ"]
    rows = []
    for i, text in enumerate(said):
        pcm = watermark.embed(text, 1.0 + i / 10, seed=i)
        rows.append(
            {
                "audio": audio_cell(encode_wav(pcm, 16000), f"{i}.wav"),
                "text": "मैं घर जा रहा हूँ",
                "reference_lists": GO,
            }
        )
    root = tmp_path / "hub"
    write_hub_folder(root / MONSOON_HI_PATH, {"default": {"test": rows}})
    results = tmp_path / "results"
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv:
        code, _, err = cli(
            capsys,
            "batch",
            *("--model", "aldea/default", "--suite", "multilingual", "--datasets", "monsoon"),
            *("--data_root", root, "--aldea_endpoints", srv.endpoints),
            *("--results_dir", results, "--no_progress"),
        )
    assert code == 0, err
    assert re.search(r"^aldea/default +VoiceArena/Monsoon_hi_test/test +done ", err, re.M), err
    assert "== aldea/default VoiceArena/Monsoon_hi_test/test with" in err
    name = "MODEL_aldea-default_DATASET_VoiceArena-Monsoon_hi_test__test.jsonl"
    assert [json.loads(line["text"]) for line in read_results(results / name)] == [GO, GO], err
    code, out, err = cli(capsys, "score", results, "--csv")
    assert code == 0, err
    assert out.splitlines()[5] == "model,RTFx,Monsoon WER"
    assert out.splitlines()[6].split(",")[2] == "0.0"  # plain WER against `text`: 25 %
