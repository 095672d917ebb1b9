"""The Open ASR Leaderboard's multilingual normaliser (its de, fr, it, es and pt track).

The board scores every non-English file with `BasicMultilingualTextNormalizer(
remove_diacritics=False)` followed by its own digits-to-words step, so a WER is only
comparable with the board if both sides go through exactly these steps
(`shared/scoring/SCORING.md`, "Multilingual scheme"):

1. lowercase; delete `[...]`, `<...>` and `(...)` spans;
2. NFKC, then every character of Unicode category M, S or P becomes a space (diacritics are
   kept: "élèves" stays, "l'été" becomes "l été");
3. lowercase again; delete what is neither a word character nor whitespace; collapse and
   strip whitespace;
4. join thousand groups written with spaces (`(\\d)\\s+(\\d{3})\\b`, one pass, so
   "1 000 000" becomes "1000 000", as on the board), then spell every run of digits with
   `num2words(int(run), lang=language)`, keeping the digits when num2words fails. Its output
   is not normalised again: "vingt-cinq" keeps its hyphen.

Speed matters (100,000 lines must score about as fast as English), so the per-character
step is one `str.translate` through a table that learns each character's category once,
the number steps run only when the text has a digit, and each (language, number) is spelt
once per process. Each shortcut returns exactly what the literal step would:
tests/test_scoring_multilingual.py compares them with the board's code on random text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

#: the board's multilingual track; other languages num2words knows are scored the same way
BOARD_LANGUAGES: tuple[str, ...] = ("de", "fr", "it", "es", "pt")

# --- step 1 ---------------------------------------------------------------------------------
_BRACKETED = re.compile(r"[<\[][^>\]]*[>\]]")
_PARENTHESISED = re.compile(r"\(([^)]+?)\)")


# --- step 2 ---------------------------------------------------------------------------------
class _SymbolsToSpaces(dict[int, int | str]):
    """`str.translate` table: marks, symbols and punctuation to a space, the rest kept.

    Filled on first sight of each code point (`__missing__`), so building it costs nothing
    up front and a text pays `unicodedata.category` only for characters never seen before
    in this process; ASCII text then takes CPython's cached ASCII translate path."""

    def __missing__(self, code: int) -> int | str:
        value: int | str = " " if unicodedata.category(chr(code))[0] in "MSP" else code
        self[code] = value
        return value


_SYMBOLS_TO_SPACES = _SymbolsToSpaces()


def remove_symbols(text: str) -> str:
    """The board's `remove_symbols` (NFKC, then M/S/P characters to spaces), by table."""
    if not text.isascii():  # NFKC leaves ASCII as it is
        text = unicodedata.normalize("NFKC", text)
    return text.translate(_SYMBOLS_TO_SPACES)


# --- step 3 ---------------------------------------------------------------------------------
_NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]")


def _has_leftovers(text: str) -> bool:
    """Whether step 3's `[^\\w\\s]` can delete anything. After step 2, ASCII text holds only
    letters, digits and whitespace unless it has a control character; skipping the regex
    there is the common case."""
    if text.isascii():
        return not text.isprintable() and bool(_NOT_WORD_OR_SPACE.search(text))
    return bool(_NOT_WORD_OR_SPACE.search(text))


# --- step 4 ---------------------------------------------------------------------------------
_DIGIT = re.compile(r"\d")  # any script, as the board's regex: "٣" is a number too
_THOUSAND_GROUP = re.compile(r"(\d)\s+(\d{3})\b")
_DIGIT_RUN = re.compile(r"\d+")


@lru_cache(maxsize=65536)
def spell_number(language: str, number: int) -> str | None:
    """`num2words(number, lang=language)`, or None where it fails (the board then keeps the
    digits). Cached: transcripts repeat the same few numbers (years, small counts), and one
    num2words call costs as much as normalising a whole sentence."""
    from num2words import num2words

    try:
        return str(num2words(number, lang=language))
    except Exception:  # the board's `except Exception`: any failure keeps the digits
        return None


class MultilingualNormalizer:
    """The board's multilingual normaliser for one language; `normalizer_for` keeps one per
    language for the life of the process, so nothing is set up per call."""

    def __init__(self, language: str) -> None:
        self.language = language

        def spell(match: re.Match[str]) -> str:
            digits = match.group()
            try:
                number = int(digits)
            except ValueError:  # more digits than int() takes: the board keeps them too
                return digits
            words = spell_number(language, number)
            return digits if words is None else words

        self._spell = spell

    def __call__(self, text: str) -> str:
        s = text.lower()
        if "[" in s or "<" in s:
            s = _BRACKETED.sub("", s)
        if "(" in s:
            s = _PARENTHESISED.sub("", s)
        s = remove_symbols(s).lower()
        if _has_leftovers(s):
            s = _NOT_WORD_OR_SPACE.sub("", s)
        s = " ".join(s.split())  # = re.sub(r"\s+", " ", s).strip(): both use str.isspace
        if _DIGIT.search(s):
            s = _THOUSAND_GROUP.sub(r"\1\2", s)
            s = _DIGIT_RUN.sub(self._spell, s)
        return s


#: languages the board scores its own way (OAL@db339acb): Armenian with a normaliser of its own
#: instead of these steps (`armenian.py`), Hindi with OIWER over a reference lattice
#: (`oiwer.py`, the board's OIWER_LANGUAGES)
OWN_NORMALISERS: tuple[str, ...] = ("hy",)
OIWER_LANGUAGES: tuple[str, ...] = ("hi",)


def check_language(language: str) -> str:
    """The code the multilingual scheme spells numbers in: `language` itself when num2words
    knows it ("de", "pt_BR"), else its primary subtag ("de-AT" → "de", "FR" → "fr").
    ValueError for a language num2words cannot spell: its numbers would stay digits while a
    model writes words, which is a scoring bug to fix, not a WER to print."""
    from num2words import CONVERTER_CLASSES

    code = language.strip()
    own = re.split(r"[-_]", code, maxsplit=1)[0].lower()
    if own in OWN_NORMALISERS + OIWER_LANGUAGES:
        return own
    if code in CONVERTER_CLASSES:
        return code
    primary = re.split(r"[-_]", code, maxsplit=1)[0].lower()
    if primary in CONVERTER_CLASSES:
        return primary
    raise ValueError(
        f"unknown language {language!r} for multilingual scoring: use a code num2words "
        f"can spell numbers in, such as {', '.join(BOARD_LANGUAGES)} (the board's languages)"
    )


@cache
def normalizer_for(language: str) -> Callable[[str], str]:
    """One normaliser per language code (checked by `check_language` first): Armenian's own
    (the board's MultilingualNormalizer hands `hy` to it and spells no numbers after), else
    these steps in that language."""
    code = check_language(language)
    if code == "hy":
        from asyncbench.scoring.armenian import normalize_armenian

        return normalize_armenian
    return MultilingualNormalizer(code)


def normalize_multilingual(text: str, language: str) -> str:
    """Normalise one transcript exactly like the board's multilingual track. The result is
    stripped and single-spaced; compare results as token lists, as for English."""
    return normalizer_for(language)(text)
