"""`asyncbench score --csv` against the board's own scorer, byte for byte.

The expected blocks below were not worked by hand: they are what the board's `score_results`
printed (`csv_only=True`) when run locally on exactly the files `_write_board_files` writes,
once with OAL@db339acbf2efff833c380e56224a888b7f8b2d29:normalizer/eval_utils.py (the 2026h2
layout) and once with OAL@d1e99b25524814332d6868a5645e568670834cfb:normalizer/eval_utils.py
(`--csv_layout d1e99b2`), with kaldialign 0.12.0. Only the printed output is kept here, never
the board's code. The files hold words the normalisers leave alone, so the comparison is of
the CSV rules: which file fills a column, the family RTFx over timed files, the per-set RTFx
rounded to 4, blank cells, several models, a chunked file merged per call, an untimed file.

(The board's scorer raises TypeError when a model's untimed file sorts before a timed one, so
the untimed file here is the last one in path order.) The Armenian block was printed the way
run_api_ml.sh scores a language, with the board's own Armenian normaliser.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from .inproc import cli

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet".split()
KEYS = (
    "hf-audio-open-asr-leaderboard_ami_cleaned_test",
    "ArtificialAnalysis-Earnings22-Cleaned-AA-chunked__test",
    "hf-audio-open-asr-leaderboard_gigaspeech_cleaned_test",
    "hf-audio-open-asr-leaderboard_librispeech_test.clean",
    "hf-audio-open-asr-leaderboard_librispeech_test.other",
    "hf-audio-open-asr-leaderboard_spgispeech_test",
    "VoiceArena-Monsoon_en_IN_test__test",
    "hf-audio-open-asr-leaderboard_voxpopuli_cleaned_aa_test",
    "hf-audio-esb-datasets-test-only-sorted_ami_test",
    "hf-audio-esb-datasets-test-only-sorted_voxpopuli_test",
)
MODELS = ("openai/whisper-1", "elevenlabs/scribe_v2", "zz/x-y")


def _lines(m: int, k: int) -> list[dict[str, object]]:
    """A file's lines, arithmetic so they are the same everywhere: references of 1-12 words,
    predictions dropping, swapping or adding some, durations and times with many digits."""
    out: list[dict[str, object]] = []
    for i in range(3 + (m * 7 + k * 3) % 9):
        ref = [WORDS[(i * 3 + k + j * (m + 2)) % 10] for j in range(1 + (i * 5 + k) % 12)]
        pred = [w for j, w in enumerate(ref) if (i + j + m) % 5]
        if (i + k) % 4 == 0:
            pred.append(WORDS[(i + m) % 10])
        if (i + m + k) % 7 == 0 and pred:
            pred[0] = WORDS[(k + 1) % 10]
        timed = not (m == 2 and k == 7)  # zz/x-y's voxpopuli file: no timing
        out.append(
            {
                "audio_filepath": f"sample_{i}",
                "duration": round(1.0 + ((i * 37 + k * 11 + m * 5) % 290) / 10.3, 3),
                "time": round(0.05 + ((i * 13 + k * 7 + m) % 97) / 21.7, 5) if timed else None,
                "text": " ".join(ref),
                "pred_text": " ".join(pred),
            }
        )
    return out


def _chunked(m: int) -> list[dict[str, object]]:
    """Earnings22 in chunks: 3 calls of 3 chunks each, written out of order."""
    out: list[dict[str, object]] = []
    for call in range(3):
        ref = " ".join(WORDS[(call * 7 + j * 3 + m) % 10] for j in range(21))
        for c in (2, 0, 1):
            pred = ref.split()[c * 7 : (c + 1) * 7 - (call + c + m) % 3]
            out.append(
                {
                    "audio_filepath": f"s{len(out)}",
                    "duration": 3.3 + c + call / 7,
                    "time": 0.71 + (c * call + m) / 9,
                    "text": ref,
                    "pred_text": " ".join(pred),
                    "parent_id": f"call{call}",
                    "chunk_index": c,
                }
            )
    return out


def _write_board_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for m, model in enumerate(MODELS):
        for k, key in enumerate(KEYS):
            if (m + k) % 6 == 5:
                continue  # some sets missing for some models
            lines = _chunked(m) if k == 1 else _lines(m, k)
            name = f"MODEL_{model.replace('/', '-')}_DATASET_{key}.jsonl"
            (folder / name).write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))


RULE = "*" * 80
PUBLIC_2026H2: list[str] = [
    "",
    "********************************************************************************",
    "CSV Summary (Public):",
    "********************************************************************************",
    (
        "model,RTFx,License,Size (B),# Languages,Encoder,Decoder,AMI-Cleaned WER,"
        "Earnings22-Cleaned-AA-chunked WER,Gigaspeech-Cleaned WER,LS Clean WER,"
        "LS Other WER,SPGISpeech WER,Voice-Arena-Moonsoon WER,Voxpopuli-Cleaned-AA WER,"
        "AMI-Cleaned RTFx,Earnings22-Cleaned-AA-chunked RTFx,Gigaspeech-Cleaned RTFx,"
        "LS Clean RTFx,LS Other RTFx,SPGISpeech RTFx,Voice-Arena-Moonsoon RTFx,"
        "Voxpopuli-Cleaned-AA RTFx"
    ),
    (
        "elevenlabs/scribe_v2,5.86,,,,,,23.88,14.29,21.43,22.95,,23.53,22.39,19.23,6.3329,"
        "4.7659,5.672,6.2931,,7.8965,5.134,4.4115"
    ),
    (
        "openai/whisper-1,5.99,,,,,,22.22,14.29,21.57,20.0,30.3,,29.17,28.21,7.0746,"
        "5.4108,6.852,4.8218,5.022,,4.256,7.5381"
    ),
    (
        "zz/x-y,5.59,,,,,,23.08,14.29,27.59,,27.27,25.0,21.15,22.67,6.4958,4.2583,5.6869,,"
        "5.8286,4.9083,5.5692,"
    ),
    "********************************************************************************",
]
EXTRA: list[str] = [
    "",
    "********************************************************************************",
    "CSV Summary (Extra):",
    "********************************************************************************",
    "model,AMI WER,Earnings22 WER,Gigaspeech WER,Voxpopuli WER",
    "elevenlabs/scribe_v2,22.92,,,27.87",
    "openai/whisper-1,22.81,,,14.29",
    "zz/x-y,22.86,,,",
    "********************************************************************************",
]
PUBLIC_D1E99B2: list[str] = [
    "",
    "********************************************************************************",
    "CSV Summary (Public):",
    "********************************************************************************",
    (
        "model,RTFx,License,Size (B),# Languages,Encoder,Decoder,AMI-Cleaned WER,"
        "Earnings22-Cleaned-AA-chunked WER,Gigaspeech-Cleaned WER,LS Clean WER,"
        "LS Other WER,SPGISpeech WER,Voxpopuli-Cleaned-AA WER"
    ),
    "elevenlabs/scribe_v2,6.18,,,,,,23.88,,21.43,22.95,,23.53,19.23",
    "openai/whisper-1,6.3,,,,,,22.22,,21.57,20.0,30.3,,28.21",
    "zz/x-y,5.78,,,,,,23.08,,27.59,,27.27,25.0,22.67",
    "********************************************************************************",
]


@pytest.mark.parametrize("layout", ["2026h2", "d1e99b2"])
def test_csv_blocks_are_the_boards_byte_for_byte(
    layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_board_files(tmp_path)
    code, out, err = cli(capsys, "score", tmp_path, "--csv", "--csv_layout", layout)
    assert code == 0, err
    public = PUBLIC_2026H2 if layout == "2026h2" else PUBLIC_D1E99B2
    assert out == "\n".join(public + EXTRA) + "\n"


HY = "Metric-AI-open-asr-leaderboard-multilingual-datasets"
#: Armenian references and predictions: numbers said one way and written another, and errors
HY_PAIRS = [
    ("5-րդ դասարան", "հինգերորդ դասարան"),
    ("Ժամը 10:30-ին եկավ", "ժամը տասը անց երեսունին եկավ"),
    ("50% աճ", "հիսուն տոկոս աճ"),
    ("2,5 միլիոն դրամ", "երկու ամբողջ հինգ միլիոն դոլար"),
    ("2024 թվականին", "երկու հազար քսաներեք թվականին"),
    ("Բարև, աշխարհ։", "բարեւ աշխարհ"),
    ("$100 արժե", "հարյուր դոլար արժե"),
    ("Մայիսի 5-ին", "մայիսի հինգին"),
]


def _write_armenian_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for m, model in enumerate(("m/a", "n/b")):
        for k, corpus in enumerate(("fleurs", "mcv26")):
            lines = [
                {
                    "audio_filepath": f"s{i}",
                    "duration": 4.0 + i / 3,
                    "time": 0.9 + (i * (m + 1) + k) / 7,
                    "text": ref,
                    "pred_text": pred if (i + m + k) % 3 else ref,
                }
                for i, (ref, pred) in enumerate(HY_PAIRS)
            ]
            name = f"MODEL_{model.replace('/', '-')}_DATASET_{HY}_{corpus}_hy_test.jsonl"
            (folder / name).write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))


#: the board's `score_results(folder, language="hy", multilingual=True, families=["ml_hy"],
#: csv_only=True)` at db339acb (as run_api_ml.sh scores a language), its Armenian normaliser
#: OAL@db339acb normalizer/armenian_normalizer.py, on `_write_armenian_files`
ARMENIAN_BLOCK: list[str] = [
    "",
    "********************************************************************************",
    "CSV Summary (hy):",
    "********************************************************************************",
    "model,RTFx,FLEURS WER,MCV 26 WER",
    "m/a,3.51,5.88,11.76",
    "n/b,2.62,11.76,5.88",
    "********************************************************************************",
]


def test_the_armenian_block_is_the_boards_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_armenian_files(tmp_path)
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    assert out == "\n".join(ARMENIAN_BLOCK) + "\n"
