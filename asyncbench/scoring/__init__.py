"""Scoring that matches the Open ASR Leaderboard: normalisation, WER, RTFx, tables.

Works on results files alone and never imports torch, torchcodec or datasets, so scoring
starts at once and runs anywhere the results files are.
"""

from asyncbench.scoring.normalizer import normalize

__all__ = ["normalize"]
