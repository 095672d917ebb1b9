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

numbers (the cardinal part of the board's number stage)
    a run of spoken Armenian cardinal words is written in digits, its grammatical ending
    kept (`երկու հազար քսանչորս` → `2024`, `հարյուրից` → `100ից`), by the board's rules of
    which word may follow which (a unit after a ten, a ten or unit after a hundred, a
    smaller number after a scale; a word with an ending closes the number).

NOT implemented (so Armenian WERs can differ from the board's where numbers are written
differently on the two sides): the rest of the board's number stage, which also gives one
form to ordinals, decimals, fractions, clock times said in words, percentages, years and
dollars (a reference "5-րդ" against a prediction "հինգերորդ" counts as an error here and
not on the board), and which splits numbers at punctuation before it is removed. This is
said in docs/board-2026h2.md.
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
    return " ".join(_cardinals_in_digits(s.split())).replace(_TIME_MARK, "։")


# --- cardinal numbers -----------------------------------------------------------------------
_UNITS = {"զրո": 0, "մեկ": 1, "երկու": 2, "երեք": 3, "իրեք": 3, "չորս": 4, "հինգ": 5}
_UNITS |= {"վեց": 6, "յոթ": 7, "ութ": 8, "ինը": 9}
_TEENS = {"տաս": 10, "տասնմեկ": 11, "տասներկու": 12, "տասներեք": 13, "տասնչորս": 14}
_TEENS |= {"տասնհինգ": 15, "տասնվեց": 16, "տասնյոթ": 17, "տասնութ": 18, "տասնինը": 19}
_TENS = {"քսան": 20, "երեսուն": 30, "քառասուն": 40, "հիսուն": 50, "վաթսուն": 60}
_TENS |= {"յոթանասուն": 70, "ութսուն": 80, "իննսուն": 90}
#: every word below 100 written as one word: units, teens, tens, and a ten with its unit
_SMALL = {**_UNITS, **_TEENS, **_TENS} | {
    ten + unit: tv + uv for ten, tv in _TENS.items() for unit, uv in _UNITS.items() if uv
}
_SCALES = {"հազար": 1_000, "միլիոն": 1_000_000, "միլիարդ": 1_000_000_000}
_WORDS = {**_SMALL, "հարյուր": 100, **_SCALES}
_CASE_ENDINGS = ("ներից", "ներում", "ների", "ներով", "երին", "երից", "երը")
_CASE_ENDINGS += ("ից", "ում", "ով", "ին", "ի", "ը", "ն")
#: forms whose ending changes the word itself
_IRREGULAR = {"մեկը": ("մեկ", "ը"), "մեկին": ("մեկ", "ին"), "մեկից": ("մեկ", "ից")}
_IRREGULAR |= {"երկուսը": ("երկու", "ը"), "երկուսին": ("երկու", "ին")}
_IRREGULAR |= {"երկուսից": ("երկու", "ից"), "տասներկուսն": ("տասներկու", "ն")}
_DIGITS = re.compile(r"\d+")

# (value, kind, ending): kind is "small" (below 100), "hundred" or "scale"
_Part = tuple[int, str, str]


def _part(token: str) -> _Part | None:
    """One word (or digit run) of a cardinal number, else None."""
    if _DIGITS.fullmatch(token):
        return None if len(token) > 1 and token[0] == "0" else (int(token), "small", "")
    if token == "տասը":  # its final letter is part of the word, not an ending
        return (10, "small", "")
    base, ending = _IRREGULAR.get(token, (token, ""))
    if base not in _WORDS:
        base, ending = token, ""
        for end in _CASE_ENDINGS:
            if token.endswith(end) and token[: -len(end)] in _WORDS:
                base, ending = token[: -len(end)], end
                break
    if base not in _WORDS:
        return None
    value = _WORDS[base]
    kind = "hundred" if value == 100 else "scale" if base in _SCALES else "small"
    return (value, kind, ending)


def _follows(prev: _Part, cur: _Part) -> bool:
    """Whether `cur` continues the number `prev` ends (the board's transitions)."""
    if prev[2]:
        return False
    if cur[1] == "hundred":
        return prev[1] == "scale" or (prev[1] == "small" and 1 <= prev[0] <= 9)
    if cur[1] == "scale":
        return prev[1] in ("small", "hundred")
    if prev[1] == "hundred":
        return cur[0] < 100
    if prev[1] == "scale":
        return cur[0] < prev[0]
    return prev[0] in _TENS.values() and 1 <= cur[0] <= 9


def _value(parts: list[_Part]) -> int | None:
    total = current = 0
    last_scale = None
    for value, kind, _ in parts:
        if kind == "small":
            current += value
        elif kind == "hundred":
            current = max(current, 1) * 100
        else:
            if last_scale is not None and value >= last_scale:
                return None
            total += max(current, 1) * value
            current, last_scale = 0, value
    return total + current


def _cardinals_in_digits(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        parts: list[_Part] = []
        j = i
        while j < len(tokens) and (part := _part(tokens[j])) is not None:
            if parts and not _follows(parts[-1], part):
                break
            parts.append(part)
            j += 1
            if part[2]:
                break
        value = _value(parts) if parts else None
        if value is None:
            out.append(tokens[i])
            i += 1
            continue
        out.append(f"{value}{parts[-1][2]}")
        i = j
    return out
