"""The board's Armenian normaliser, its text-cleanup part (FLEURS hy and MCV 26 hy).

Since OAL #215 (open PR; file OAL@db339acb normalizer/armenian_normalizer.py) the
multilingual normaliser hands Armenian text to `ArmenianTextNormalizer` instead of the
generic steps, and no num2words step follows. Its published description has three stages:
pre-processing, "normalization" and "number normalization". This module implements the
first two as that file describes and does them:

pre-processing
    Unicode NFKC; ASCII `:` to the Armenian full stop `։`, the grave accent to the
    Armenian comma `՝`, the apostrophe to the emphasis mark `՛`; every dash to `-`; digit
    groups written with spaces joined (`1 000 000` → `1000000`); a space after
    `, . ; : ՝ ։` when a word follows at once, and around `« »` where a word touches them.
normalization
    clock times `H:MM`/`HH։MM` keep their `։`; accented Latin letters folded to their base
    letter; the word `և`/`եվ` standing alone written `եւ`; lower case; a grammatical ending
    written after a hyphen joined to its word (`2024-ին` → `2024ին`, `ՀՀ-ում` → `հհում`);
    other hyphens to spaces; every character that is not a letter, digit, combining mark,
    `$` or blank removed (so Armenian punctuation goes); blanks collapsed.

NOT implemented (so Armenian WERs can differ from the board's where numbers are written
differently on the two sides): the board's number stage, which rewrites digits and spoken
Armenian numbers (cardinals, ordinals, decimals, fractions, percentages, years, dollars) into
one canonical form. Until it is, a reference "100" against a prediction "հարյուր" counts as
an error here and not on the board. This is said in docs/board-2026h2.md.
"""

from __future__ import annotations

import re
import unicodedata

_MODIFIERS = "՛՜՞՟՚"  # Armenian emphasis, exclamation, question marks and the like
_WORD = "0-9A-Za-zÀ-ÖØ-öø-ÿԱ-Ֆա-ֆևЁёА-Яа-я"

_PRE = str.maketrans({":": "։", "`": "՝", "'": "՛", "\u0303": "՜"} | dict.fromkeys("֊‐‑‒–—―−", "-"))
_SPACED_DIGITS = re.compile(r"(?<![\w.,])([1-9]\d{0,2}(?: \d{3})+)(?![\w.,])")
# the spacing rules of pre-processing that decide where words split once punctuation goes:
# a space after , . ; : ՝ ։ unless a blank, digit, dot or the end follows; one before « and
# after » when a word touches them
_SPACE_AFTER = re.compile(r"([,.;:`՝։])(?!\s|\d|\.|$)")
_BEFORE_OPENING = re.compile(r"(?<=[^\s«])«")
_AFTER_CLOSING = re.compile(rf"»(?=[{_WORD}])")
_ENDINGS = "ներից|ներում|ների|ներով|երին|երից|երը|ից|ում|ով|ին|ի|ը|ն"
_TIME = re.compile(rf"(?<!\w)(2[0-3]|[01]?\d)[:։]([0-5]\d)(?:-({_ENDINGS}))?(?!\d)", re.I)
_TIME_MARK = "asrtimeseparator"  # letters only, so the character filter keeps it
_EV = re.compile(rf"(?<![{_WORD}])ե[{_MODIFIERS}']*վ(?![{_WORD}])|(?<![{_WORD}])և(?![{_WORD}])")
_SUFFIXES = sorted(
    set(
        "ներից ներում ներով ներին ների երին երից երով ները երը երի ներ եր ից ով ում ին ի ը ն "
        "ս դ".split()
    ),
    key=len,
    reverse=True,
)
_HYPHEN_ENDING = re.compile(
    rf"(?P<stem>[{_WORD}][{_MODIFIERS}]*)»?\s*-\s*(?P<ending>{'|'.join(_SUFFIXES)})"
    rf"(?![{_WORD}])"
)
_DASHES = str.maketrans(dict.fromkeys("֊‐‑‒–—―−-", " "))


def _fold_latin(text: str) -> str:
    """`é` → `e`: an accented letter whose decomposition starts with an ASCII letter."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFKD", ch)[:1]
        out.append(base if base.isascii() and base.isalpha() else ch)
    return "".join(out)


def _keep(ch: str) -> bool:
    return ch.isalnum() or ch == "$" or ch.isspace() or unicodedata.category(ch)[0] == "M"


def normalize_armenian(text: str) -> str:
    """Armenian text as the board's normaliser cleans it, numbers left as written."""
    s = unicodedata.normalize("NFKC", text).translate(_PRE)
    s = _SPACED_DIGITS.sub(lambda m: m.group(1).replace(" ", ""), s)
    s = _SPACE_AFTER.sub(r"\1 ", s)
    s = _AFTER_CLOSING.sub("» ", _BEFORE_OPENING.sub(" «", s))
    s = " ".join(s.split())
    s = _TIME.sub(lambda m: f"{m.group(1)}{_TIME_MARK}{m.group(2)}{m.group(3) or ''}", s)
    s = _fold_latin(s)
    s = _EV.sub("եւ", s.lower())
    s = _HYPHEN_ENDING.sub(r"\g<stem>\g<ending>", s)
    s = s.translate(_DASHES)
    s = "".join(ch for ch in s if _keep(ch))
    return " ".join(s.split()).replace(_TIME_MARK, "։")
