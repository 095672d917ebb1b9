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

Two layouts, because submissions made with either scorer still circulate (`--csv_layout`):

  2026h2   (the default) the board's scorer after August 2026 (OAL@db339acb
           normalizer/eval_utils.py): the public block gains the 8th English set,
           "Voice-Arena-Moonsoon WER" (upstream's spelling), and one "<label> RTFx" column per
           WER column, each that file's own RTFx (Σ audio / Σ time rounded to 4, blank when a
           line lacks timing); Earnings22 is also found under the key its own-repo results
           file carries (`Earnings22-Cleaned-AA-chunked__test`); new families ml_nl (FLEURS,
           MCV, MLS), ml_hy (FLEURS, "MCV 26") and ml_hi ("Monsoon").
  d1e99b2  the scorer of commit d1e99b2, byte for byte: 7 English columns, no RTFx columns,
           families de fr it es pt only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from asyncbench.core.text import one_line, text_cell
from asyncbench.scoring.score import FileScore, ScoreReport

RULE = "*" * 80


@dataclass(frozen=True, slots=True)
class Family:
    key: str  # public, extra, ml_de, ...
    marker: str | None  # printed when this occurs in the keys; None: when any column key does
    header: str
    columns: tuple[tuple[str, str], ...]  # (key substring, column label), in column order
    with_rtfx: bool  # the row's first cell is the family's RTFx
    #: after the WER columns, one "<label> RTFx" column each: that file's own RTFx (2026h2)
    per_dataset_rtfx: bool = False

    @property
    def title(self) -> str:
        return self.key[3:] if self.key.startswith("ml_") else self.key.capitalize()

    @property
    def labels(self) -> list[str]:
        """The WER column labels, each once, in column order."""
        return list(dict.fromkeys(lbl for _, lbl in self.columns))

    @property
    def full_header(self) -> str:
        if not self.per_dataset_rtfx:
            return self.header
        return ",".join([self.header, *(lbl.replace(" WER", " RTFx") for lbl in self.labels)])


_PUBLIC_PREFIX = "model,RTFx,License,Size (B),# Languages,Encoder,Decoder,"
_PUBLIC_D1E99B2 = (
    ("ami_cleaned_test", "AMI-Cleaned WER"),
    ("earnings22_cleaned_aa_chunked_test", "Earnings22-Cleaned-AA-chunked WER"),
    ("gigaspeech_cleaned_test", "Gigaspeech-Cleaned WER"),
    ("librispeech_test.clean", "LS Clean WER"),
    ("librispeech_test.other", "LS Other WER"),
    ("spgispeech_test", "SPGISpeech WER"),
    ("voxpopuli_cleaned_aa_test", "Voxpopuli-Cleaned-AA WER"),
)
#: OAL@db339acb: Earnings22 is first looked up under its own-repo key (a set run from its own
#: repository with no config is `<repo-slug>__<split>`), then under the older config key; the
#: 8th set's column keeps upstream's "Moonsoon"
_PUBLIC_2026H2 = (
    _PUBLIC_D1E99B2[0],
    ("Earnings22-Cleaned-AA-chunked__test", "Earnings22-Cleaned-AA-chunked WER"),
    *_PUBLIC_D1E99B2[1:6],
    ("Monsoon_en_IN_test__test", "Voice-Arena-Moonsoon WER"),
    _PUBLIC_D1E99B2[6],
)
_EXTRA = (
    ("ami_test", "AMI WER"),
    ("earnings22_test", "Earnings22 WER"),
    ("gigaspeech_test", "Gigaspeech WER"),
    ("voxpopuli_test", "Voxpopuli WER"),
)
_ML_D1E99B2 = {"de": ("fleurs", "mcv"), "fr": ("fleurs", "mcv", "mls")}
_ML_D1E99B2 |= {"it": ("fleurs", "mcv", "mls"), "es": ("fleurs", "mcv", "mls")}
_ML_D1E99B2 |= {"pt": ("fleurs", "mls")}
_ML_2026H2 = _ML_D1E99B2 | {
    "nl": ("fleurs", "mcv", "mls"),
    "hy": ("fleurs", "mcv26"),
    "hi": ("Monsoon",),  # VoiceArena/Monsoon_hi_test, its key `Monsoon_hi_test`
}
_ML_LABELS = {"fleurs": "FLEURS", "mcv": "MCV", "mcv26": "MCV 26", "mls": "MLS"}
_ML_LABELS |= {"Monsoon": "Monsoon"}


def _ml_family(lang: str, corpora: Sequence[str]) -> Family:
    columns = tuple((f"{c}_{lang}_test", f"{_ML_LABELS[c]} WER") for c in corpora)
    header = "model,RTFx," + ",".join(label for _, label in columns)
    return Family(f"ml_{lang}", f"_{lang}_test", header, columns, True)


def _families(public: tuple[tuple[str, str], ...], ml: dict, rtfx: bool) -> tuple[Family, ...]:
    """The board's families in its printing order (its private sets left out)."""
    labels = ",".join(dict.fromkeys(label for _, label in public))
    return (
        Family("public", None, _PUBLIC_PREFIX + labels, public, True, per_dataset_rtfx=rtfx),
        Family(
            "extra", "_cleaned", "model," + ",".join(label for _, label in _EXTRA), _EXTRA, False
        ),
        *(_ml_family(lang, corpora) for lang, corpora in ml.items()),
    )


#: `--csv_layout`: which scorer's blocks to print
LAYOUTS: dict[str, tuple[Family, ...]] = {
    "2026h2": _families(_PUBLIC_2026H2, _ML_2026H2, rtfx=True),
    "d1e99b2": _families(_PUBLIC_D1E99B2, _ML_D1E99B2, rtfx=False),
}
DEFAULT_LAYOUT = "2026h2"
FAMILIES: tuple[Family, ...] = LAYOUTS[DEFAULT_LAYOUT]


def family_keys(layout: str = DEFAULT_LAYOUT) -> list[str]:
    return [f.key for f in LAYOUTS[layout]]


LONGFORM_HEADER = (
    "model_id,Average,RTFx,Model size (B),earnings21,earnings22,tedlium,coraal_avg,"
    "Avg (without CORAAL)"
)
_LONGFORM = (
    ("asr-leaderboard-longform_earnings21_test", "earnings21"),
    ("asr-leaderboard-longform_earnings22_test", "earnings22"),
    ("asr-leaderboard-longform_tedlium_test", "tedlium"),
)
#: TED-LIUM's new source (OAL #191, open PR): `..._DATASET_distil-whisper-tedlium-long-form_
#: default_test`, found when the consolidated set's file is not there
_TEDLIUM_NEW = "tedlium-long-form_default_test"
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
    """(audio s, request s) as the board keeps them: None unless every line has timing (its
    `compute_rtfx = all(time) and all(duration)`)."""
    if f.rtfx is None or not f.board_timed:
        return None, None
    return f.total_audio_s, f.total_time_s


def _file_rtfx(f: FileScore) -> float | None:
    """The board's per-file RTFx (rounded to 4), None when it would not compute one."""
    return f.rtfx if f.board_timed else None


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


def _find_rtfx(results: _Results, model: str, family: Family, label: str) -> float | None:
    """The board's `find_metric_in(..., "rtfx")`: the first file found for the column (the
    same file as its WER), its own RTFx, which is None when it has no timing."""
    for substr, lbl in family.columns:
        if lbl == label:
            found = results.matching(model, substr)
            if found:
                return _file_rtfx(found[0])
    return None


def _block(results: _Results, family: Family, label: str | None) -> list[str]:
    labels = family.labels
    lines = ["", RULE, f"CSV Summary ({family.title}):", RULE]
    if len(results.models) == 1:
        model = results.models[0]
        found = [w for lbl in labels if (w := _find(results, model, family, lbl)) is not None]
        if found:
            # one_line: the printout keeps the block's newlines, so a name's own would start a
            # line of its own (a fake row of the CSV)
            mean = round(sum(found) / len(found), 2)
            lines.append(f"avg WER ({one_line(label or model)}) = {mean}")
    lines.append(family.full_header)
    n_prefix = len(family.header.split(",")) - 1 - len(labels)
    for model in results.models:
        cells = [_cell(_find(results, model, family, lbl)) for lbl in labels]
        if family.per_dataset_rtfx:
            cells += [_cell(_find_rtfx(results, model, family, lbl)) for lbl in labels]
        prefix = [""] * n_prefix
        if family.with_rtfx:
            prefix = [_family_rtfx(results, model, family)] + [""] * (n_prefix - 1)
        lines.append(csv_row(label or model, [*prefix, *cells]))
    lines.append(RULE)
    return lines


def csv_row(name: str, numbers: Sequence[str]) -> str:
    """One row: the model's name as a text cell (`core.text.text_cell`: the block is meant
    to be pasted into a spreadsheet), then the cells we formatted from numbers
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
        if wers[2] is None:
            wers[2] = results.wer(model, _TEDLIUM_NEW)
        coraal = _mean([f.wer for f in results.matching(model, _CORAAL)])
        without = _mean([w for w in wers if w is not None])
        average = _mean([w for w in (*wers, coraal) if w is not None])
        cells = [_cell(average), "-1", "", *map(_cell, wers), _cell(coraal), _cell(without)]
        lines.append(csv_row(label or model, cells))
    lines.append(RULE)
    return lines


def csv_blocks(report: ScoreReport, layout: str = DEFAULT_LAYOUT) -> list[str]:
    """Every family present in the report, in the board's order for `layout` (a key of
    LAYOUTS), then the long-form one."""
    results = _Results(report.files)
    label = report.model_filter
    lines: list[str] = []
    for family in LAYOUTS[layout]:
        if _present(results, family):
            lines += _block(results, family, label)
    keys = [s for s, _ in _LONGFORM] + [_CORAAL, _TEDLIUM_NEW]
    if any(s in results.all_keys for s in keys):
        lines += _longform_block(results, label)
    return lines
