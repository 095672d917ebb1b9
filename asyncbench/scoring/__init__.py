"""Scoring that matches the Open ASR Leaderboard: normalisation, WER, RTFx, tables.

English by default; `language="de"` (or any other non-English code) selects the board's
multilingual scheme. Works on results files alone and never imports torch, torchcodec or
datasets. Names are imported on first use, so `import asyncbench.scoring` (done by the CLI
for `--help`) costs nothing until something is scored.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncbench.scoring.compound import pair_compounds
    from asyncbench.scoring.error_rate import ErrorCounts
    from asyncbench.scoring.language import count_errors, file_language, normalize, wer
    from asyncbench.scoring.legacy import legacy_normalize, legacy_wer
    from asyncbench.scoring.score import (
        FileScore,
        ScoreReport,
        collect_scores,
        score_file,
    )
    from asyncbench.scoring.table import format_run_summary, format_table, score_results

_EXPORTS = {
    "normalize": "language",
    "wer": "language",
    "count_errors": "language",
    "file_language": "language",
    "pair_compounds": "compound",
    "ErrorCounts": "error_rate",
    "legacy_normalize": "legacy",
    "legacy_wer": "legacy",
    "score_file": "score",
    "collect_scores": "score",
    "FileScore": "score",
    "ScoreReport": "score",
    "score_results": "table",
    "format_table": "table",
    "format_run_summary": "table",
}

__all__ = [
    "ErrorCounts",
    "FileScore",
    "ScoreReport",
    "collect_scores",
    "count_errors",
    "file_language",
    "format_run_summary",
    "format_table",
    "legacy_normalize",
    "legacy_wer",
    "normalize",
    "pair_compounds",
    "score_file",
    "score_results",
    "wer",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
