"""The board's Armenian normaliser (FLEURS hy and MCV 26 hy), all of it.

Since OAL #215 (open PR; OAL@db339acbf2efff833c380e56224a888b7f8b2d29:normalizer/
armenian_normalizer.py, `ArmenianTextNormalizer`) the multilingual normaliser hands Armenian
text to its own normaliser instead of the generic steps, and no num2words step follows. It
runs three stages, and so does `normalize_armenian`:

pre-processing (`_tidy`)
    Unicode NFKC; `. . .` → `...`; `<<`/`>>`/`‹‹`/`››` → `«`/`»`; ASCII `:` to the Armenian
    full stop `։`, the grave accent to the Armenian comma `՝`, the apostrophe to the
    emphasis mark `՛`; every dash to `-`; digit groups written with spaces joined
    (`1 000 000` → `1000000`); line breaks to spaces; the spacing around punctuation and
    quotes the board writes (`armenian_script.respace`); a trailing `.`/`,` dropped; the era
    `Քրիստոսից հետո`/`ք. հ.` written `Ք.հ.`; the first letter capitalised.
numbers (`armenian_numbers`)
    every number in one written form, spoken or written: ordinals, cardinals, decimals,
    fractions, clock times, percentages, years, dollars and ranges (`հինգերորդ` and `5-րդ`
    → `5րդ`, `տասը անց կես` → `10։30`, `հիսուն տոկոս` → `50%`, `100 դոլար` → `100 $`).
cleanup (`_clean`)
    pre-processing again; clock times `H։MM` keep their `։`; accented Latin letters folded
    to their base letter; the word `Եվ` standing alone written `եւ`; lower case; an ending
    after a hyphen joined to its word (`ՀՀ-ում` → `հհում`); other hyphens to spaces; every
    character that is not a letter, digit, combining mark, `$` or blank removed; blanks
    collapsed. The canonical numbers the cleanup would break (`10։30-ին`, `5%-ով`,
    `2024թ-ին`, `100 $`) are shielded from it.

Checked against the board's code: tests/test_armenian.py holds vectors derived from that
file at that commit, one per rule. What is not confirmed is said in docs/board-2026h2.md.
"""

from __future__ import annotations

import re
import unicodedata

from asyncbench.scoring.armenian_numbers import canonical_numbers, era, shield
from asyncbench.scoring.armenian_script import (
    DASHES,
    HYPHEN_END,
    MODIFIERS,
    NUMBER_END,
    WORD,
    respace,
)

_PRE = str.maketrans({":": "։", "`": "՝", "'": "՛", "\u0303": "՜"} | dict.fromkeys(DASHES, "-"))
_QUOTES = (("‹‹", "«"), ("››", "»"), ("<<", "«"), (">>", "»"))
_SPACED_ELLIPSIS = re.compile(r"\.[^\S\r\n]+\.[^\S\r\n]+\.")
_SPACED_DIGITS = re.compile(r"(?<![\w.,])([1-9]\d{0,2}(?: \d{3})+)(?![\w.,])")
_TRAILING_MARKS = re.compile(r"[.,]+$")
_BULLET = re.compile(r"^-[^\S\r\n]+")
_CAPITALISABLE = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿԱ-Ֆա-ֆևЁёА-Яа-я]")
_BLANKS = re.compile(r"[^\S\r\n]+")

_TIME = re.compile(rf"(?<!\w)(2[0-3]|[01]?\d)[:։]([0-5]\d)(?:-({NUMBER_END}))?(?!\d)", re.I)
_TIME_MARK = "asrtimeseparator"  # letters only, so the character filter keeps it
_EV = re.compile(rf"(?<![{WORD}])Ե[{MODIFIERS}']*վ(?![{WORD}])", re.I)
_HYPHEN_ENDING = re.compile(
    rf"(?P<stem>[{WORD}][{MODIFIERS}]*)»?\s*-\s*(?P<ending>{HYPHEN_END})(?![{WORD}])"
)
_DASHES_TO_SPACES = str.maketrans(dict.fromkeys(DASHES + "-", " "))


def _capitalise_first(text: str) -> str:
    """The first letter upper-cased, emphasis marks before it skipped; nothing when the
    first character that is not a mark is not a letter."""
    for i, ch in enumerate(text):
        if ch in MODIFIERS:
            continue
        if _CAPITALISABLE.fullmatch(ch):
            return text[:i] + ch.upper() + text[i + 1 :]
        return text
    return text


def _tidy(text: str) -> str:
    """The board's pre-processing (with its line breaks replaced, as it scores)."""
    s = _SPACED_ELLIPSIS.sub("...", unicodedata.normalize("NFKC", text))
    for before, after in _QUOTES:
        s = s.replace(before, after)
    s = _SPACED_DIGITS.sub(lambda m: m.group(1).replace(" ", ""), s.translate(_PRE))
    s = respace(s.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")).strip()
    s = era(_TRAILING_MARKS.sub("", s).strip())
    # a leading digit starts the sentence (`100 մարդ`); a leading "- " is a list bullet
    if not s[:1].isdigit():
        bullet = _BULLET.match(s)
        s = (
            bullet.group(0) + _capitalise_first(s[bullet.end() :])
            if bullet
            else _capitalise_first(s)
        )
    return _BLANKS.sub(" ", s).strip()


def _fold_latin(text: str) -> str:
    """`é` → `e`: an accented letter whose decomposition starts with an ASCII letter."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFKD", ch)[:1]
        out.append(base if base.isascii() and base.isalpha() else ch)
    return "".join(out)


def _keep(ch: str) -> bool:
    return ch.isalnum() or ch == "$" or ch.isspace() or unicodedata.category(ch)[0] == "M"


def _clean(text: str) -> str:
    """The board's `normalization`: pre-processing, then lower case without punctuation."""
    s = _TIME.sub(lambda m: f"{m.group(1)}{_TIME_MARK}{m.group(2)}{m.group(3) or ''}", _tidy(text))
    s = _EV.sub("եւ", _fold_latin(s)).lower()
    s = _HYPHEN_ENDING.sub(r"\g<stem>\g<ending>", s).translate(_DASHES_TO_SPACES)
    s = "".join(ch for ch in s if _keep(ch))
    return " ".join(s.split()).replace(_TIME_MARK, "։")


def normalize_armenian(text: str) -> str:
    """Armenian text as the board's `ArmenianTextNormalizer` gives it for scoring."""
    numbers = canonical_numbers(_tidy(text))
    shielded, restore = shield(numbers)
    return restore(_clean(shielded))
