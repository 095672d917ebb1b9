"""Bootstrap confidence intervals for WER, and paired bootstrap tests between two models.

WER is a ratio of sums (errors over reference words), so utterances are resampled whole,
with replacement, and each resample's WER is its resampled errors over its resampled words
(Bisani & Ney, 2004). Everything works on per-utterance error counts that the scorer kept
from its one alignment (`error_rate.utterance_token_errors`): a resample is a numpy gather
and a sum, never a second alignment, so 1,000 resamples of a 100k-line run cost about a
second. For chunked sets (Earnings22) the unit is the recording, because
`resultfiles._merge_chunks` has already made one sample per recording.

Seeded and reproducible: the same seed and key give the same resamples whatever order
files are scored in (`rng_for`). Percentile intervals, in percent like the board's WER.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
# Resample this many (resample, utterance) cells at a time: memory stays ~100 MB whatever
# the dataset size, and numpy still works on big blocks.
_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True, slots=True, eq=False)
class Utterances:
    """One dataset's per-utterance numbers, in file order (a recording per row for chunked
    sets): errors and reference words from the scorer's alignment, whether the model
    answered (a failed sample counts as all deletions), and the sample id to pair on."""

    ids: tuple[str, ...]
    errors: np.ndarray  # int64, one per utterance
    words: np.ndarray  # int64, reference words (after the scheme's normalisation)
    answered: np.ndarray  # bool: not a failed request
    # for the spend: each utterance's audio seconds and how often it was sent (retries
    # included; 0 for a clip skipped as too short, which never went out)
    seconds: np.ndarray | None = None
    sends: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        """Equal contents (numpy's `==` is elementwise, so the dataclass one cannot do)."""
        if not isinstance(other, Utterances):
            return NotImplemented
        return self.ids == other.ids and all(
            np.array_equal(a, b)
            for a, b in (
                (self.errors, other.errors),
                (self.words, other.words),
                (self.answered, other.answered),
                (self.seconds, other.seconds),
                (self.sends, other.sends),
            )
        )

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside


def rng_for(seed: int, key: str) -> np.random.Generator:
    """A generator for one dataset: the seed and a stable hash of its key (the dataset id),
    so that adding or reordering files never changes another file's interval."""
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def resampled_rates(
    errors: np.ndarray, words: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The error rate (not percent) of each of `resamples` bootstrap resamples: shape
    (resamples,). A resample without reference words scores inf if it has errors, else 0,
    as `ErrorCounts.rate` does."""
    return _resampled(((errors, words),), resamples, rng)[0]


def _resampled(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], resamples: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Rates of the same resampled rows for several (errors, words) arrays of one length:
    the paired bootstrap's two models see the very same utterances in each resample."""
    size = len(pairs[0][0])
    out = [np.empty(resamples) for _ in pairs]
    if size == 0:
        for rates in out:
            rates.fill(0.0)
        return out
    rows = max(1, _BLOCK_CELLS // size)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        picks = rng.integers(0, size, size=(stop - start, size))
        for (errors, words), rates in zip(pairs, out, strict=True):
            wrong = errors[picks].sum(axis=1, dtype=np.float64)
            total = words[picks].sum(axis=1, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(total > 0, wrong / total, np.where(wrong > 0, np.inf, 0.0))
            rates[start:stop] = rate
    return out


def percentile_ci(rates: np.ndarray) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of resampled rates, in percent, 2 decimals."""
    low, high = np.percentile(rates, [2.5, 97.5])
    return _percent(float(low)), _percent(float(high))


def _percent(rate: float) -> float:
    return rate if not np.isfinite(rate) else round(100 * rate, 2)


def wer_ci95(
    errors: np.ndarray | Sequence[int],
    words: np.ndarray | Sequence[int],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    key: str = "",
) -> tuple[float, float]:
    """The 95 % bootstrap interval of WER in percent over utterances with these error
    counts and reference lengths."""
    rates = resampled_rates(
        np.asarray(errors, dtype=np.int64),
        np.asarray(words, dtype=np.int64),
        resamples,
        rng_for(seed, key),
    )
    return percentile_ci(rates)


@dataclass(frozen=True, slots=True)
class Paired:
    """Model B's WER minus model A's on the utterances both answered (percentage points):
    negative means B makes fewer errors."""

    samples: int
    wer_a: float
    wer_b: float
    difference: float
    ci95: tuple[float, float]
    p_value: float

    @property
    def significant(self) -> bool:
        """At the 5 % level; the same as the interval leaving out 0."""
        return self.p_value < 0.05

    def as_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "wer_a": self.wer_a,
            "wer_b": self.wer_b,
            "difference": self.difference,
            "difference_ci95": list(self.ci95),
            "p_value": self.p_value,
            "significant": self.significant,
        }


def paired_bootstrap(
    errors_a: np.ndarray | Sequence[int],
    words_a: np.ndarray | Sequence[int],
    errors_b: np.ndarray | Sequence[int],
    words_b: np.ndarray | Sequence[int],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    key: str = "",
) -> Paired:
    """Paired bootstrap of the WER difference B − A over aligned utterances (row i of A and
    of B are the same sample). Each resample draws the same rows for both models. The
    two-sided p-value is twice the share of resampled differences on the far side of 0
    (with +1 smoothing, so it is never 0 from a finite number of resamples): it is below
    0.05 exactly when the percentile interval leaves out 0."""
    arrays = [np.asarray(x, dtype=np.int64) for x in (errors_a, words_a, errors_b, words_b)]
    ea, wa, eb, wb = arrays
    if not (len(ea) == len(wa) == len(eb) == len(wb)):
        raise ValueError("the two models' arrays must pair up one to one")
    if resamples < 1:
        raise ValueError("a paired bootstrap needs at least one resample")
    rates_a, rates_b = _resampled(((ea, wa), (eb, wb)), resamples, rng_for(seed, key))
    diffs = rates_b - rates_a
    wer_a = _rate(ea, wa)
    wer_b = _rate(eb, wb)
    low, high = np.percentile(diffs, [2.5, 97.5])
    below = int(np.count_nonzero(diffs <= 0))
    above = int(np.count_nonzero(diffs >= 0))
    p_value = min(1.0, 2 * (min(below, above) + 1) / (resamples + 1))
    return Paired(
        samples=len(ea),
        wer_a=_percent(wer_a),
        wer_b=_percent(wer_b),
        difference=round(100 * (wer_b - wer_a), 2),
        ci95=(round(100 * float(low), 2), round(100 * float(high), 2)),
        p_value=round(p_value, 4),
    )


def paired_composite(
    groups: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Paired:
    """Paired bootstrap of the composite difference: the composite is the plain mean of the
    datasets' WERs, so each resample draws every dataset's utterances (stratified, with the
    same generator per dataset as `paired_bootstrap`, hence the same rows) and takes the mean
    of the datasets' differences. `groups` holds (errors A, words A, errors B, words B,
    dataset key) per dataset, rows paired as in `paired_bootstrap`."""
    if not groups:
        raise ValueError("a composite needs at least one dataset")
    diffs = np.zeros(resamples)
    wer_a = wer_b = 0.0
    samples = 0
    for ea, wa, eb, wb, key in groups:
        arrays = [np.asarray(x, dtype=np.int64) for x in (ea, wa, eb, wb)]
        rates_a, rates_b = _resampled(
            ((arrays[0], arrays[1]), (arrays[2], arrays[3])), resamples, rng_for(seed, key)
        )
        diffs += rates_b - rates_a
        wer_a += _rate(arrays[0], arrays[1])
        wer_b += _rate(arrays[2], arrays[3])
        samples += len(arrays[0])
    n = len(groups)
    diffs /= n
    low, high = np.percentile(diffs, [2.5, 97.5])
    below = int(np.count_nonzero(diffs <= 0))
    above = int(np.count_nonzero(diffs >= 0))
    p_value = min(1.0, 2 * (min(below, above) + 1) / (resamples + 1))
    return Paired(
        samples=samples,
        wer_a=_percent(wer_a / n),
        wer_b=_percent(wer_b / n),
        difference=round(100 * (wer_b - wer_a) / n, 2),
        ci95=(round(100 * float(low), 2), round(100 * float(high), 2)),
        p_value=round(p_value, 4),
    )


def _rate(errors: np.ndarray, words: np.ndarray) -> float:
    total = int(words.sum())
    wrong = int(errors.sum())
    if total:
        return wrong / total
    return float("inf") if wrong else 0.0
