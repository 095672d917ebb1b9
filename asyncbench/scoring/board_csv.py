"""`asyncbench score --csv`: the board's CSV summary blocks, as its `score_results` prints them.

The leaderboard's `normalizer/eval_utils.py` (d1e99b2, `reference/PROTOCOLS-2026.md` D) ends
its printout with one block per family of datasets found among the results, ready to paste
into a submission:

    (blank line)
    ********************************************************************************
    CSV Summary (Public):
    ********************************************************************************
    avg WER (openai/whisper-1) = 7.12          <- only when one model is scored
    model,RTFx,License,Size (B),# Languages,Encoder,Decoder,AMI-Cleaned WER,...
    openai/whisper-1,25.31,,,,,,12.4,...
    ********************************************************************************

Its rules are reproduced as they are, quirks included, so the rows match the board's:
a column takes the WER of the first results file (in path order) whose `<model> | <dataset>`
key contains both the model and the column's key (a substring test: `earnings22_test` also
finds a long-form `..._earnings22_test` file); the `public` and `ml_<lang>` rows start with
the family's RTFx (Σ audio / Σ time over every file matching a key, rounded to 2); cells are
Python's `str(float)`, blank when no file matches. A family is printed when one of its keys
(public) or its marker (`_cleaned` for extra, `_<lang>_test` for ml_<lang>) occurs in the
keys. The numbers are those of our own tables (`FileScore`): the same WER, and the same
audio and request seconds behind RTFx.

The `longform` block is not printed by the board's `score_results`; it follows the columns of
the board's published long-form table (`scripts/data/en_longform.csv`): `model_id,Average,
RTFx,Model size (B),earnings21,earnings22,tedlium,coraal_avg,Avg (without CORAAL)`, API
models with RTFx -1. How the published `Average` is formed is UNCONFIRMED: here it is the
mean of the four WER columns present (coraal_avg counting once), and `Avg (without CORAAL)`
the mean of earnings21, earnings22 and tedlium; every average rounded to 2 like the board's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from asyncbench.core.text import one_line
from asyncbench.scoring.score import FileScore, ScoreReport

RULE = "*" * 80


@dataclass(frozen=True, slots=True)
class Family:
    key: str  # public, extra, ml_de, ...
    marker: str | None  # printed when this occurs in the keys; None: when any column key does
    header: str
    columns: tuple[tuple[str, str], ...]  # (key substring, column label), in column order
    with_rtfx: bool  # the row's first cell is the family's RTFx

    @property
    def title(self) -> str:
        return self.key[3:] if self.key.startswith("ml_") else self.key.capitalize()


_PUBLIC = (
    ("ami_cleaned_test", "AMI-Cleaned WER"),
    ("earnings22_cleaned_aa_chunked_test", "Earnings22-Cleaned-AA-chunked WER"),
    ("gigaspeech_cleaned_test", "Gigaspeech-Cleaned WER"),
    ("librispeech_test.clean", "LS Clean WER"),
    ("librispeech_test.other", "LS Other WER"),
    ("spgispeech_test", "SPGISpeech WER"),
    ("voxpopuli_cleaned_aa_test", "Voxpopuli-Cleaned-AA WER"),
)
_EXTRA = (
    ("ami_test", "AMI WER"),
    ("earnings22_test", "Earnings22 WER"),
    ("gigaspeech_test", "Gigaspeech WER"),
    ("voxpopuli_test", "Voxpopuli WER"),
)
_ML = {"de": ("fleurs", "mcv"), "fr": ("fleurs", "mcv", "mls"), "it": ("fleurs", "mcv", "mls")}
_ML |= {"es": ("fleurs", "mcv", "mls"), "pt": ("fleurs", "mls")}
_ML_LABELS = {"fleurs": "FLEURS", "mcv": "MCV", "mls": "MLS"}


def _ml_family(lang: str, corpora: Sequence[str]) -> Family:
    columns = tuple((f"{c}_{lang}_test", f"{_ML_LABELS[c]} WER") for c in corpora)
    header = "model,RTFx," + ",".join(label for _, label in columns)
    return Family(f"ml_{lang}", f"_{lang}_test", header, columns, True)


#: the board's families in its printing order (its private appen/dataocean sets left out)
FAMILIES: tuple[Family, ...] = (
    Family(
        "public",
        None,
        "model,RTFx,License,Size (B),# Languages,Encoder,Decoder,"
        + ",".join(label for _, label in _PUBLIC),
        _PUBLIC,
        True,
    ),
    Family("extra", "_cleaned", "model," + ",".join(label for _, label in _EXTRA), _EXTRA, False),
    *(_ml_family(lang, corpora) for lang, corpora in _ML.items()),
)

LONGFORM_HEADER = (
    "model_id,Average,RTFx,Model size (B),earnings21,earnings22,tedlium,coraal_avg,"
    "Avg (without CORAAL)"
)
_LONGFORM = (
    ("asr-leaderboard-longform_earnings21_test", "earnings21"),
    ("asr-leaderboard-longform_earnings22_test", "earnings22"),
    ("asr-leaderboard-longform_tedlium_test", "tedlium"),
)
_CORAAL = "coraal_"  # bezzam/coraal files: ..._DATASET_bezzam-coraal_<SUBSET>_test


class _Results:
    """The board's `results` dict: `"<model> | <dataset>"` → WER and timing, in file order."""

    def __init__(self, files: Sequence[FileScore]) -> None:
        self.rows = [(f"{f.model_id} | {f.dataset_id}", f) for f in files]
        self.models = list(dict.fromkeys(f.model_id for f in files))
        self.all_keys = " ".join(key for key, _ in self.rows)

    def wer(self, model: str, substr: str) -> float | None:
        for key, f in self.rows:
            if model in key and substr in key:
                return f.wer
        return None

    def matching(self, model: str, substr: str) -> list[FileScore]:
        return [f for key, f in self.rows if model in key and substr in key]


def _cell(value: float | None) -> str:
    return "" if value is None else str(value)


def _timing(f: FileScore) -> tuple[float | None, float | None]:
    """(audio s, request s) as the board keeps them: None when the file has no timing."""
    if f.rtfx is None:
        return None, None
    return f.total_audio_s, f.total_time_s


def _family_rtfx(results: _Results, model: str, family: Family) -> str:
    audio = time = 0.0
    for substr, _ in family.columns:
        for f in results.matching(model, substr):
            a, t = _timing(f)
            audio += a or 0.0
            time += t or 0.0
    return str(round(audio / time, 2)) if time else ""


def _find(results: _Results, model: str, family: Family, label: str) -> float | None:
    """The board's `find_wer_in`: the keys of a column in order, the first file found."""
    for substr, lbl in family.columns:
        if lbl == label and (wer := results.wer(model, substr)) is not None:
            return wer
    return None


def _block(results: _Results, family: Family, label: str | None) -> list[str]:
    labels = list(dict.fromkeys(lbl for _, lbl in family.columns))
    lines = ["", RULE, f"CSV Summary ({family.title}):", RULE]
    if len(results.models) == 1:
        model = results.models[0]
        found = [w for lbl in labels if (w := _find(results, model, family, lbl)) is not None]
        if found:
            lines.append(f"avg WER ({label or model}) = {round(sum(found) / len(found), 2)}")
    lines.append(family.header)
    n_prefix = len(family.header.split(",")) - 1 - len(labels)
    for model in results.models:
        cells = [_cell(_find(results, model, family, lbl)) for lbl in labels]
        prefix = [""] * n_prefix
        if family.with_rtfx:
            prefix = [_family_rtfx(results, model, family)] + [""] * (n_prefix - 1)
        lines.append(csv_row(label or model, [*prefix, *cells]))
    lines.append(RULE)
    return lines


#: a text cell starting with one of these is a live formula in Excel, LibreOffice and Sheets
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """A name as a spreadsheet shows it, never runs it (OWASP's CSV-injection rule: a leading
    `'`), with control characters made visible so the row stays one line."""
    shown = one_line(text)  # a tab or CR shows as \x09 or \x0d: no raw control reaches a cell
    return "'" + shown if text.startswith(FORMULA_START) else shown


def csv_row(name: str, numbers: Sequence[str]) -> str:
    """One row: the model's name as a text cell, then the cells we formatted from numbers
    (`str(float)` or blank, kept as they are so a spreadsheet reads numbers). Written by the
    csv module, which quotes a name holding a comma or a quote, so a row has as many cells as
    the header; on plain names it is the board's `",".join` byte for byte."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([text_cell(name), *numbers])
    return buffer.getvalue()


def _present(results: _Results, family: Family) -> bool:
    if family.marker is None:
        return any(substr in results.all_keys for substr, _ in family.columns)
    return family.marker in results.all_keys


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _longform_block(results: _Results, label: str | None) -> list[str]:
    lines = ["", RULE, "CSV Summary (Longform):", RULE, LONGFORM_HEADER]
    for model in results.models:
        wers = [results.wer(model, substr) for substr, _ in _LONGFORM]
        coraal = _mean([f.wer for f in results.matching(model, _CORAAL)])
        without = _mean([w for w in wers if w is not None])
        average = _mean([w for w in (*wers, coraal) if w is not None])
        cells = [_cell(average), "-1", "", *map(_cell, wers), _cell(coraal), _cell(without)]
        lines.append(csv_row(label or model, cells))
    lines.append(RULE)
    return lines


def csv_blocks(report: ScoreReport) -> list[str]:
    """Every family present in the report, in the board's order, then the long-form one."""
    results = _Results(report.files)
    label = report.model_filter
    lines: list[str] = []
    for family in FAMILIES:
        if _present(results, family):
            lines += _block(results, family, label)
    if any(s in results.all_keys for s, _ in _LONGFORM) or _CORAAL in results.all_keys:
        lines += _longform_block(results, label)
    return lines
