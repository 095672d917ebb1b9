"""The Armenian normaliser's number stage: one written form for every way a number is said.

A reference writes `5-րդ`, `2,5 միլիոն`, `10:30-ին`, `50%`, `2024 թ.`; a model says
`հինգերորդ`, `երկու ամբողջ հինգ միլիոն`, `տասը անց կես`, `հիսուն տոկոս`, `երկու հազար
քսանչորս թվական`. Scored as written these are errors of format, not of recognition, so the
board's normaliser (OAL@db339acbf2efff833c380e56224a888b7f8b2d29:normalizer/
armenian_normalizer.py, open PR #215) turns both sides into digits with their ending:

  ordinals      `հինգերորդ`, `5-րդ`, `5րդ` → `5-րդ` (`1-ին` for the first)
  cardinals     `երեք հարյուր քսանհինգ` → `325`, `հարյուրից` → `100ից`
  decimals      `2,5` and `երկու ամբողջ հինգ` → `2ամբողջ5`; with a scale, the whole
                number (`2,5 միլիոն` → `2500000`)
  fractions     `3/4`, `երեք քառորդ` → `3բաժին4`; `մեկուկես`, `1 ու կես` → `1ամբողջ5`
  clock times   `10:30`, `10.30`, `0930`, `ժամը 1030`, `տասը անց երեսուն`, `տասը անց կես`,
                `տասը զրո զրո` → `10։30` (`10։30-ին` with an ending)
  percentages   `50 %`, `50%-ով`, `հիսուն տոկոս` → `50%`, `50%-ով`
  years         `2024 թվականին`, `2024թ.-ին` → `2024թ.-ին`
  dollars       `$100`, `100$`, `100 դոլար` → `100 $`
  ranges        `10-ից 20-ը` (said `տասից քսանը`) → `10-20ը`

Written numbers are first marked (`_mark_written`) so they read as single tokens, then the
text is read token by token (`_read_tokens`), each reader tried in the board's order, and
the marks are turned into their final spelling. Technical identifiers (`1.2.3abc`) and the
text around symbols (`$`, `+`, `°`) are kept as they were.

Outside text only: this module takes and returns `str` and imports nothing but `re` and
`unicodedata`.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Container
from typing import NamedTuple

from asyncbench.scoring.armenian_script import (
    ADJECTIVAL,
    ARMENIAN,
    HYPHEN_END,
    MODIFIERS,
    NUMBER_END,
    NUMBER_ENDINGS,
    PERCENT_END,
    PERCENT_WORD_END,
    WORD,
    YEAR_END,
    respace,
)

# --- the words ------------------------------------------------------------------------------
_UNITS = {"զրո": 0, "մեկ": 1, "երկու": 2, "իրեք": 3, "երեք": 3, "չորս": 4, "հինգ": 5}
_UNITS |= {"վեց": 6, "յոթ": 7, "ութ": 8, "ինը": 9}
_TEENS = {"տաս": 10, "տասնմեկ": 11, "տասներկու": 12, "տասներեք": 13, "տասնչորս": 14}
_TEENS |= {"տասնհինգ": 15, "տասնվեց": 16, "տասնյոթ": 17, "տասնութ": 18, "տասնինը": 19}
_TENS = {"քսան": 20, "երեսուն": 30, "քառասուն": 40, "հիսուն": 50, "վաթսուն": 60}
_TENS |= {"յոթանասուն": 70, "ութսուն": 80, "իննսուն": 90}
#: every number below 100 said as one word: a ten and its unit are written together
_SMALL = {**_UNITS, **_TEENS, **_TENS} | {
    ten + unit: tv + uv for ten, tv in _TENS.items() for unit, uv in _UNITS.items() if uv
}
_HUNDRED = "հարյուր"
_SCALES = {"հազար": 1_000, "միլիոն": 1_000_000, "միլիարդ": 1_000_000_000}
_CARDINALS = frozenset({*_SMALL, _HUNDRED, *_SCALES})
#: forms whose ending changes the word itself (`երկուսից`, "from two")
_IRREGULAR = {"մեկը": ("մեկ", "ը"), "մեկին": ("մեկ", "ին"), "մեկից": ("մեկ", "ից")}
_IRREGULAR |= {"երկուսը": ("երկու", "ը"), "երկուսին": ("երկու", "ին")}
_IRREGULAR |= {"երկուսից": ("երկու", "ից"), "տասներկուսն": ("տասներկու", "ն")}
_FRACTIONS = {"կես": (1, 2), "կէս": (1, 2), "քառորդ": (1, 4)}
#: "one and a half" and the like, said as one word
_AND_A_HALF = "ուկես"
_HALVES = {"մեկուկես": 1, "երկուսուկես": 2, "երեքուկես": 3, "չորսուկես": 4, "հինգուկես": 5}
_HALVES |= {"վեցուկես": 6, "յոթուկես": 7, "ութուկես": 8, "իննուկես": 9, "տասուկես": 10}

# the words the board writes between the parts of a number, kept inside one token so a
# number counts as one word in WER
_POINT = "ամբողջ"  # "whole": 2ամբողջ5 is 2.5
_OVER = "բաժին"  # "part": 3բաժին4 is 3/4
_PAST = "անց"  # "past": տասը անց կես, half past ten
_AND = "ու"
_PERCENT_WORD = "տոկոս"
# marks, letters only so they stay inside a token until they are spelled out at the end
_TIME_MARK = "asrcanonicaltime"  # → ։
_TIME_ENDING_MARK = "asrtimesuffixcanonical"  # → -
_DECIMAL_ENDING_MARK = "asrdecimalsuffixcanonical"  # → -
_DECIMAL_END = "տասնորդավերջ"  # closes the digits of a written decimal
_ORDINAL_MARK = "հերթականաթիվ"  # a written ordinal's number comes before it


class _Part(NamedTuple):
    """One word of a spoken number: its value, its kind (small below 100, hundred or
    scale) and the case ending written on it, which closes the number."""

    value: int
    kind: str
    ending: str | None = None


def _ordinal_words() -> dict[str, _Part]:
    words = {
        w: _Part(i + 1, "small")
        for i, w in enumerate(
            "առաջին երկրորդ երրորդ չորրորդ հինգերորդ վեցերորդ յոթերորդ ութերորդ "
            "իններորդ տասներորդ".split()
        )
    }
    words["հարյուրերորդ"] = _Part(100, "hundred")
    for word, value in _SMALL.items():
        if value > 10:
            stem = word[: -len("ինը")] + "ինն" if word.endswith("ինը") else word
            words[stem + "երորդ"] = _Part(value, "small")
    for word, value in _SCALES.items():
        words[word + "երորդ"] = _Part(value, "scale")
    return words


_ORDINALS = _ordinal_words()
_DIGITS = re.compile(r"\d+")


def _is_digits(token: str) -> bool:
    return _DIGITS.fullmatch(token) is not None


def _split_ending(token: str, words: Container[str]) -> tuple[str, str] | None:
    """`token` as a word of `words` plus one of the number endings (the first that fits)."""
    for ending in NUMBER_ENDINGS:
        if token.endswith(ending) and token[: -len(ending)] in words:
            return token[: -len(ending)], ending
    return None


def _cardinal(token: str) -> _Part | None:
    """One word (or digit run) of a spoken cardinal, else None."""
    if _is_digits(token):
        return None if len(token) > 1 and token[0] == "0" else _Part(int(token), "small")
    if token == "տասը":  # "ten": its last letter is the word's, not an ending
        return _Part(10, "small")
    if token in _IRREGULAR:
        base, ending = _IRREGULAR[token]
        return _Part(_SMALL[base], "small", ending)
    base, ending = token, None
    if token not in _CARDINALS:
        for end in NUMBER_ENDINGS:
            if token.endswith(end) and len(token) > len(end) and token[: -len(end)] in _CARDINALS:
                base, ending = token[: -len(end)], end
                break
    if base in _SMALL:
        return _Part(_SMALL[base], "small", ending)
    if base == _HUNDRED:
        return _Part(100, "hundred", ending)
    if base in _SCALES:
        return _Part(_SCALES[base], "scale", ending)
    return None


def _ordinal(token: str) -> tuple[_Part, str | None] | None:
    if token in _ORDINALS:
        return _ORDINALS[token], None
    split = _split_ending(token, _ORDINALS)
    return (_ORDINALS[split[0]], split[1]) if split else None


def _fraction(token: str) -> tuple[int, int, str | None] | None:
    if token in _FRACTIONS:
        return (*_FRACTIONS[token], None)
    split = _split_ending(token, _FRACTIONS)
    return (*_FRACTIONS[split[0]], split[1]) if split else None


def _follows(prev: _Part, cur: _Part) -> bool:
    """Whether `cur` continues the number `prev` ends: a hundred after a unit or a scale, a
    scale after anything but a scale, below 100 after a hundred, a smaller number after a
    scale, a unit after a ten; never after a word with an ending."""
    if prev.ending is not None:
        return False
    if cur.kind == "hundred":
        return prev.kind == "scale" or (prev.kind == "small" and 1 <= prev.value <= 9)
    if cur.kind == "scale":
        return prev.kind in ("small", "hundred")
    if prev.kind == "hundred":
        return cur.value < 100
    if prev.kind == "scale":
        return cur.value < prev.value
    return prev.value in _TENS.values() and 1 <= cur.value <= 9


class _Words(list[str]):
    """The lowered tokens, with each one read as a number word once, and where the run of
    number words that reads as one number from each token ends. Several readers read a run
    from each of its tokens; with the ends known, that costs a slice, not a rescan (a long
    run of number words in a hostile text would otherwise take time quadratic in it)."""

    def __init__(self, words: list[str]) -> None:
        super().__init__(words)
        self.parts = [_cardinal(w) for w in words]
        # a number continues while each word may follow the one before (`_follows` is
        # pairwise, and false after a word with an ending), so ends fill from the right
        self.ends = [0] * (len(words) + 1)
        for i in range(len(words) - 1, -1, -1):
            part, nxt = self.parts[i], self.parts[i + 1] if i + 1 < len(words) else None
            if part is None:
                self.ends[i] = i
            elif nxt is not None and _follows(part, nxt):
                self.ends[i] = self.ends[i + 1]
            else:
                self.ends[i] = i + 1


def _collect(tokens: _Words, start: int) -> list[_Part]:
    """The longest run of number words from `start` that reads as one number."""
    return tokens.parts[start : tokens.ends[start]] if start < len(tokens) else []


def _value(parts: list[_Part]) -> int | None:
    """The number the parts say; None when a scale does not fall (`հազար միլիոն`)."""
    total = current = 0
    last_scale = None
    for part in parts:
        if part.kind == "small":
            current += part.value
        elif part.kind == "hundred":
            current = max(current, 1) * 100
        else:
            if last_scale is not None and part.value >= last_scale:
                return None
            total += max(current, 1) * part.value
            current, last_scale = 0, part.value
    return total + current


def _ordinal_spelling(value: int, ending: str | None) -> str:
    return f"{value}-{'ին' if value == 1 else 'րդ'}{ending or ''}"


def _time_token(hour: int, minute: int, ending: str) -> str:
    tail = f"{_TIME_ENDING_MARK}{ending}" if ending else ""
    return f"{hour}{_TIME_MARK}{minute:02d}{tail}"


def _scaled(decimal: str, scale: int, ending: str = "") -> str:
    """`2ամբողջ5` × 1,000,000 → `2500000`: exact, in integers; a remainder stays a decimal."""
    whole, fraction = decimal.split(_POINT, 1)
    quotient, remainder = divmod(int(whole + fraction) * scale, 10 ** len(fraction))
    if not remainder:
        return f"{quotient}{ending}"
    return f"{quotient}{_POINT}{str(remainder).zfill(len(fraction)).rstrip('0')}{ending}"


# --- readers: (tokens, start) → (one output token, tokens consumed), tried in this order ----
_Read = tuple[str, int] | None


def _spoken_time(tokens: _Words, i: int) -> _Read:
    """`տասը անց երեսուն` (ten past thirty), `տասը անց կես` (half past ten), `տասը զրո
    զրո` → 10։30, 10։30, 10։00."""
    hour_parts = _collect(tokens, i)
    hour = _value(hour_parts) if hour_parts else None
    if hour is None or not 0 <= hour <= 23:
        return None
    j = i + len(hour_parts)
    if j < len(tokens) and tokens[j] == _PAST:
        if j + 1 >= len(tokens):
            return None
        half = _fraction(tokens[j + 1])
        if half is not None and half[:2] == (1, 2):
            return _time_token(hour, 30, half[2] or ""), len(hour_parts) + 2
        minute_parts = _collect(tokens, j + 1)
        minute = _value(minute_parts) if minute_parts else None
        if minute is None or not 0 <= minute <= 59:
            return None
        return (
            _time_token(hour, minute, minute_parts[-1].ending or ""),
            len(hour_parts) + 1 + len(minute_parts),
        )
    if j + 1 >= len(tokens):
        return None
    first, second = tokens.parts[j], tokens.parts[j + 1]
    if first is None or second is None or first.value or second.value or first.ending:
        return None
    return _time_token(hour, 0, second.ending or ""), len(hour_parts) + 2


def _spoken_decimal_with_scale(tokens: _Words, i: int) -> _Read:
    """`երկու ամբողջ հինգ միլիոն` (two whole five million) → 2500000."""
    whole_parts = _collect(tokens, i)
    j = i + len(whole_parts)
    if not whole_parts or j >= len(tokens) or tokens[j] != _POINT:
        return None
    fraction_parts = _collect(tokens, j + 1)
    if len(fraction_parts) < 2 or fraction_parts[-1].kind != "scale":
        return None
    fraction, whole = _value(fraction_parts[:-1]), _value(whole_parts)
    if whole is None or fraction is None:
        return None
    scale = fraction_parts[-1]
    token = _scaled(f"{whole}{_POINT}{fraction}", scale.value, scale.ending or "")
    return token, len(whole_parts) + 1 + len(fraction_parts)


def _marked_ordinal(tokens: _Words, i: int) -> _Read:
    """A written ordinal marked by `_mark_written`: `5 հերթականաթիվ` → 5-րդ."""
    if i + 1 >= len(tokens) or not _is_digits(tokens[i]):
        return None
    if not tokens[i + 1].startswith(_ORDINAL_MARK):
        return None
    ending = tokens[i + 1][len(_ORDINAL_MARK) :]
    if ending and ending not in NUMBER_ENDINGS:
        return None
    return _ordinal_spelling(int(tokens[i]), ending), 2


def _and_a_half(tokens: _Words, i: int) -> _Read:
    """`մեկուկես` (one and a half), `երեքուկեսից` → 1ամբողջ5, 3ամբողջ5ից."""

    def half_of(word: str) -> int | None:
        if word in _HALVES:
            return _HALVES[word]
        if word.endswith(_AND_A_HALF):
            part = _cardinal(word[: -len(_AND_A_HALF)])
            if part is not None and part.ending is None:
                return part.value
        return None

    token = tokens[i]
    if (n := half_of(token)) is not None:
        return f"{n}{_POINT}5", 1
    for ending in NUMBER_ENDINGS:
        if token.endswith(ending) and (n := half_of(token[: -len(ending)])) is not None:
            return f"{n}{_POINT}5{ending}", 1
    return None


def _spoken_fraction(tokens: _Words, i: int) -> _Read:
    """`քառորդ` (a quarter), `երեք քառորդ` → 1բաժին4, 3բաժին4; halves are left to the time
    and `ու կես` readers."""
    direct = _fraction(tokens[i])
    if direct is not None:
        numerator, denominator, ending = direct
        if (numerator, denominator) == (1, 2):
            return None
        return f"{numerator}{_OVER}{denominator}{ending or ''}", 1
    parts = _collect(tokens, i)
    j = i + len(parts)
    if not parts or j >= len(tokens):
        return None
    fraction = _fraction(tokens[j])
    if fraction is None or fraction[1] == 2:
        return None
    numerator = _value(parts)
    if numerator is None:
        return None
    return f"{numerator}{_OVER}{fraction[1]}{fraction[2] or ''}", len(parts) + 1


def _spoken_ordinal(tokens: _Words, i: int) -> _Read:
    """`հինգերորդ`, `քսան հինգերորդից` → 5-րդ, 25-րդից."""
    direct = _ordinal(tokens[i])
    if direct is not None:
        return _ordinal_spelling(direct[0].value, direct[1]), 1
    parts = _collect(tokens, i)
    j = i + len(parts)
    if not parts or j >= len(tokens):
        return None
    ordinal = _ordinal(tokens[j])
    if ordinal is None or not _follows(parts[-1], ordinal[0]):
        return None
    value = _value([*parts, ordinal[0]])
    if value is None:
        return None
    return _ordinal_spelling(value, ordinal[1]), len(parts) + 1


def _spoken_cardinal(tokens: _Words, i: int) -> _Read:
    parts = _collect(tokens, i)
    value = _value(parts) if parts else None
    if value is None:
        return None
    return f"{value}{parts[-1].ending or ''}", len(parts)


_READERS: tuple[Callable[[_Words, int], _Read], ...] = (
    _spoken_time,
    _spoken_decimal_with_scale,
    _marked_ordinal,
    _and_a_half,
    _spoken_fraction,
    _spoken_ordinal,
    _spoken_cardinal,
)


def _read_tokens(lowered: list[str], original: list[str]) -> list[str]:
    """Each run of tokens that says a number becomes one token; other tokens keep their
    original case; a digit run loses leading zeros unless it has one on purpose (`007`)."""
    words = _Words(lowered)
    out: list[str] = []
    i = 0
    while i < len(words):
        for reader in _READERS:
            read = reader(words, i)
            if read is not None:
                out.append(read[0])
                i += read[1]
                break
        else:
            token = lowered[i]
            if _is_digits(token):
                out.append(token if len(token) > 1 and token[0] == "0" else str(int(token)))
            else:
                out.append(original[i])
            i += 1
    return _join_structures(out)


# --- joining what the readers left in several tokens ----------------------------------------
_INTEGER_WITH_ENDING = re.compile(rf"(\d+)({NUMBER_END})?")
_DECIMAL = re.compile(rf"(\d+){_POINT}(\d+)")
_FROM = re.compile(r"(\d+)ից")


def _integer_with_ending(token: str) -> tuple[int, str] | None:
    m = _INTEGER_WITH_ENDING.fullmatch(token)
    return (int(m.group(1)), m.group(2) or "") if m else None


def _join_decimals(tokens: list[str]) -> list[str]:
    """`2 ամբողջ 5` → 2ամբողջ5: a number, the word ամբողջ and the digits after it (up to
    the end mark of a written decimal, or while digits follow and are not a scale)."""
    closings = [k for k, token in enumerate(tokens) if token == _DECIMAL_END]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] != _POINT or not out or not _is_digits(out[-1]):
            out.append(tokens[i])
            i += 1
            continue
        at = bisect.bisect_right(closings, i)  # the first end mark after ամբողջ, if any
        closed = at < len(closings)
        if closed:
            end = closings[at]
        else:
            end = i + 1
            while (
                end < len(tokens)
                and _is_digits(tokens[end])
                and not (end > i + 1 and int(tokens[end]) in _SCALES.values())
            ):
                end += 1
        digits = tokens[i + 1 : end]
        if not digits or not all(map(_is_digits, digits)):
            out.append(tokens[i])
            i += 1
            continue
        decimal = f"{out.pop()}{_POINT}{''.join(digits).rstrip('0') or '0'}"
        i = end + 1 if closed else end
        if closed and i < len(tokens) and tokens[i].startswith(_DECIMAL_ENDING_MARK):
            decimal += tokens[i]
            i += 1
        out.append(decimal)
    return out


def _join_decimal_scales(tokens: list[str]) -> list[str]:
    """`2ամբողջ5 1000000` → 2500000 (the decimal times the scale that follows it)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens) and _DECIMAL.fullmatch(tokens[i]):
            scale = _integer_with_ending(tokens[i + 1])
            if scale is not None and scale[0] in _SCALES.values():
                out.append(_scaled(tokens[i], *scale))
                i += 2
                continue
        out.append(tokens[i])
        i += 1
    return out


def _half_ending(token: str) -> str | None:
    """The ending of a `1բաժին2` token (a half), None for anything else."""
    half = f"1{_OVER}2"
    if not token.startswith(half):
        return None
    ending = token[len(half) :]
    return ending if not ending or ending in NUMBER_ENDINGS else None


def _join_structures(tokens: list[str]) -> list[str]:
    tokens = _join_decimal_scales(_join_decimals(tokens))
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if i + 2 < len(tokens) and _is_digits(tokens[i]):
            if tokens[i + 1] == _PAST and _integer_with_ending(tokens[i + 2]) is not None:
                out.append(f"{tokens[i]}{_PAST}{tokens[i + 2]}")  # 10 անց 15
                i += 3
                continue
            if tokens[i + 1] == _AND and (ending := _half_ending(tokens[i + 2])) is not None:
                out.append(f"{tokens[i]}{_POINT}5{ending}")  # 2 ու կես: two and a half
                i += 3
                continue
        out.append(tokens[i])
        i += 1
    return _join_ranges(out)


def _join_ranges(tokens: list[str]) -> list[str]:
    """`10ից 20ը` (from 10, to 20) → 10-20ը."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if i + 1 < len(tokens):
            start, end = _FROM.fullmatch(tokens[i]), _INTEGER_WITH_ENDING.fullmatch(tokens[i + 1])
            if start and end:
                out.append(f"{start.group(1)}-{end.group(1)}{end.group(2) or ''}")
                i += 2
                continue
        out.append(tokens[i])
        i += 1
    return out


# --- written numbers, marked before reading -------------------------------------------------
_GROUPED = (
    re.compile(r"(?<![\w.,])([1-9]\d{0,2}(?:,\d{3})+)(?![\w.,])"),  # 1,000,000
    re.compile(r"(?<![\w.,․])([1-9]\d{0,2}(?:[.․]\d{3})+)(?![\w.,․])"),  # 1.000.000
    re.compile(r"(?<![\w.,])([1-9]\d{0,2}(?: \d{3})+)(?![\w.,])"),  # 1 000 000
)
_ENDING_AFTER_HYPHEN = rf"(?:-({NUMBER_END}))?"
_COMPACT_TIME = re.compile(rf"(?<!\w)(0\d)([0-5]\d){_ENDING_AFTER_HYPHEN}(?!\d)", re.I)
_HOUR_WORD_TIME = re.compile(
    rf"(ժամը\s+)((?:[01]\d|2[0-3]))([0-5]\d){_ENDING_AFTER_HYPHEN}(?!\d)", re.I
)
_PERCENT_SIGN = re.compile(rf"%\s*(?:[-‐‑–—]\s*({PERCENT_END}))?", re.I)
_CLOCK_COLON = re.compile(
    rf"(?<!\w)(2[0-3]|[01]?\d)[:։]([0-5]\d){_ENDING_AFTER_HYPHEN}(?!\d)", re.I
)
_CLOCK_DOT = re.compile(rf"(?<!\w)(2[0-3]|[01]?\d)[.]([0-5]\d){_ENDING_AFTER_HYPHEN}(?!\d)", re.I)
_SLASH_FRACTION = re.compile(rf"(?<!\w)(\d+)\s*/\s*(\d+){_ENDING_AFTER_HYPHEN}(?!\w)")
_WRITTEN_DECIMAL = re.compile(rf"(?<!\w)(\d+)[.,․](\d+)(?P<ending>-?(?:{NUMBER_END}))?(?!\d)", re.I)
_DIGIT_ADJECTIVE = re.compile(rf"(?<!\w)(\d+)\s*[-‐‑–—]\s*({ADJECTIVAL})(?!\w)", re.I)
_DIGIT_ORDINAL_HYPHEN = re.compile(
    rf"(?<!\w)(\d+)\s*[-‐‑–—]\s*(?:ին|րդ|երորդ)({NUMBER_END})?(?!\w)", re.I
)
_DIGIT_ORDINAL = re.compile(rf"(?<!\w)(\d+)(?:րդ|երորդ)({NUMBER_END})?(?!\w)", re.I)
_DIGIT_ENDING_HYPHEN = re.compile(rf"(?<!\w)(\d+)-({NUMBER_END})(?!\w)", re.I)
_DIGIT_ENDING = re.compile(rf"(?<!\w)(\d+)({NUMBER_END})(?!\w)", re.I)
_FIRST_WITH_IN = re.compile(r"[-‐‑–—]\s*ին", re.I)


def _canonical_digits(digits: str) -> str:
    return digits if len(digits) > 1 and digits[0] == "0" else str(int(digits))


def _clock(m: re.Match[str]) -> str:
    return _time_token(int(m.group(1)), int(m.group(2)), (m.group(3) or "").lower())


def _written_ordinal(m: re.Match[str]) -> str:
    """`5-րդ`, `5րդ`, `5-երորդ` → `5 հերթականաթիվ`; `5-ին` is the fifth day (of a month)
    and a case ending, kept as `5ին`, except `1-ին`, which is "first"."""
    value, ending = int(m.group(1)), m.group(2) or ""
    if value != 1 and _FIRST_WITH_IN.search(m.group(0)):
        return f"{value}ին{ending}"
    return f"{value} {_ORDINAL_MARK}{ending}"


def _written_decimal(m: re.Match[str]) -> str:
    """`2,75` → `2 ամբողջ 7 5 տասնորդավերջ`: digit by digit, closed, so trailing zeros can
    be dropped when it is joined again (`2,50` and `2,5` agree)."""
    ending = (m.group("ending") or "").lstrip("-").lower()
    tail = f" {_DECIMAL_ENDING_MARK}{ending}" if ending else ""
    return f"{int(m.group(1))} {_POINT} {' '.join(m.group(2))} {_DECIMAL_END}{tail}"


def _merge_groups(text: str) -> str:
    for pattern in _GROUPED:
        text = pattern.sub(lambda m: re.sub(r"[ ,.․]", "", m.group(1)), text)
    return text


def _mark_written(text: str) -> str:
    """Written numbers in the forms the readers take, in the board's order (which matters:
    `10:30` is a time before `10,5` can be a decimal)."""
    text = _merge_groups(text)

    def compact(m: re.Match[str]) -> str:
        ending = (m.group(3) or "").lower()
        return f"{int(m.group(1))}{_TIME_MARK}{m.group(2)}" + (
            f"{_TIME_ENDING_MARK}{ending}" if ending else ""
        )

    def after_hour_word(m: re.Match[str]) -> str:
        ending = (m.group(4) or "").lower()
        return f"{m.group(1)}{int(m.group(2))}{_TIME_MARK}{m.group(3)}" + (
            f"{_TIME_ENDING_MARK}{ending}" if ending else ""
        )

    text = _COMPACT_TIME.sub(compact, text)
    text = _HOUR_WORD_TIME.sub(after_hour_word, text)
    text = _PERCENT_SIGN.sub(
        lambda m: f" {_PERCENT_WORD}{m.group(1).lower()}" if m.group(1) else f" {_PERCENT_WORD} ",
        text,
    )
    text = _CLOCK_DOT.sub(_clock, _CLOCK_COLON.sub(_clock, text))
    text = _SLASH_FRACTION.sub(
        lambda m: f"{int(m.group(1))}{_OVER}{int(m.group(2))}{m.group(3) or ''}", text
    )
    text = _WRITTEN_DECIMAL.sub(_written_decimal, text)
    text = _DIGIT_ADJECTIVE.sub(lambda m: f"{int(m.group(1))}{m.group(2).lower()}", text)
    text = _DIGIT_ORDINAL_HYPHEN.sub(_written_ordinal, text)
    text = _DIGIT_ORDINAL.sub(_written_ordinal, text)

    def with_ending(m: re.Match[str]) -> str:
        return f"{_canonical_digits(m.group(1))}{m.group(2).lower()}"

    return _DIGIT_ENDING.sub(with_ending, _DIGIT_ENDING_HYPHEN.sub(with_ending, text))


# --- what is kept as it is ------------------------------------------------------------------
_IDENTIFIER = re.compile(r"(?<!\w)\d+(?:[.․]\d+)+[A-Za-z]+(?!\w)")  # 1.2.3abc, a version
_MILLION_ABBR = re.compile(rf"(?<![{ARMENIAN}])մլն(?![{ARMENIAN}])", re.I)
_BILLION_ABBR = re.compile(rf"(?<![{ARMENIAN}])մլրդ(?![{ARMENIAN}])", re.I)
_WORD_WITH_MARKS = re.compile(
    rf"(?<![{ARMENIAN}])([{ARMENIAN}]+(?:[{MODIFIERS}]+[{ARMENIAN}]+)+)(?![{ARMENIAN}])"
)


def _unmark_number_words(text: str) -> str:
    """`հազա՜ր` → `հազար`: an emphasis or question mark inside a number word is not part
    of the number, so it goes before the word is read (other words keep theirs)."""

    def bare(m: re.Match[str]) -> str:
        word = m.group(1)
        plain = "".join(ch for ch in word if ch not in MODIFIERS)
        low = plain.lower()
        return plain if _cardinal(low) is not None or _ordinal(low) is not None else word

    return _WORD_WITH_MARKS.sub(bare, text)


class _Symbol(NamedTuple):
    mark: str
    char: str
    glued_left: bool
    glued_right: bool


def _hide_symbols(text: str) -> tuple[str, list[_Symbol]]:
    """Every symbol character (`$`, `+`, `°`, ...) as a letters-only mark, remembering
    whether it touched its neighbours, so the respacing below cannot move it."""
    symbols: list[_Symbol] = []
    out: list[str] = []
    for i, ch in enumerate(text):
        if not unicodedata.category(ch).startswith("S"):
            out.append(ch)
            continue
        mark = f"asrsymbol{len(symbols)}marker"
        left = i > 0 and not text[i - 1].isspace()
        right = i + 1 < len(text) and not text[i + 1].isspace()
        symbols.append(_Symbol(mark, ch, left, right))
        out.append(mark)
    return "".join(out), symbols


_SYMBOL_MARK = re.compile(r"asrsymbol(\d+)marker")
_IDENTIFIER_MARK = re.compile(r"asridentifier\d+marker")
_KEPT_MARK = re.compile(r"asrnumberpunctuation\d+marker")


def _put_back(text: str, marks: re.Pattern[str], values: dict[str, str]) -> str:
    """Every mark of `values` replaced by its value in one pass (one `str.replace` per mark
    is quadratic in a text of many numbers); a mark-like text of none stays."""
    return marks.sub(lambda m: values.get(m.group(0), m.group(0)), text)


def _show_symbols(text: str, symbols: list[_Symbol]) -> str:
    """Each mark back to its symbol, the blanks beside it dropped where it touched its
    neighbour. One pass over the text (a mark at a time would be quadratic in the number of
    symbols); a mark-like text that names no symbol stays as it is."""
    pieces = _SYMBOL_MARK.split(text)  # text, number, text, number, ..., text
    for k in range(1, len(pieces), 2):
        number = pieces[k]
        if number != str(int(number)) or int(number) >= len(symbols):
            pieces[k] = f"asrsymbol{number}marker"
            continue
        symbol = symbols[int(number)]
        if symbol.glued_left:
            pieces[k - 1] = pieces[k - 1].rstrip()
        if symbol.glued_right:
            pieces[k + 1] = pieces[k + 1].lstrip()
        pieces[k] = symbol.char
    return "".join(pieces)


def _in_word(ch: str) -> bool:
    return ch.isalnum() or ch in MODIFIERS or unicodedata.category(ch).startswith("M")


def _tokens(text: str) -> list[str]:
    """Words (letters, digits, marks inside them) and each punctuation character alone."""
    tokens: list[str] = []
    word: list[str] = []
    for ch in text:
        if _in_word(ch):
            word.append(ch)
            continue
        if word:
            tokens.append("".join(word))
            word = []
        if not ch.isspace():
            tokens.append(ch)
    if word:
        tokens.append("".join(word))
    return tokens


# --- after reading: canonical spellings -----------------------------------------------------
_SPACE_BEFORE_MODIFIER = re.compile(rf"(?<=[{WORD}])\s+([{MODIFIERS}])")
_SPACE_AFTER_MODIFIER = re.compile(rf"(?<![{WORD}])([{MODIFIERS}])\s+(?=[{WORD}])")
_SPACED_JOINER = re.compile(rf"(?<=[{WORD}])\s*([-/])\s*(?=[{WORD}])")
#: `ՀՀ - ում` → `ՀՀ-ում`: an ending after a hyphen written against it, a closing quote kept
_SPACED_HYPHEN_ENDING = re.compile(
    rf"(?P<stem>[{WORD}][{MODIFIERS}]*)(?P<quote>»)?\s*-\s*(?P<ending>{HYPHEN_END})(?![{WORD}])"
)
_SPACED_ADJECTIVE = re.compile(rf"(?<!\w)(\d+)\s+({ADJECTIVAL})(?!\w)", re.I)
_YEAR = re.compile(
    rf"(?<!\w)(?P<number>\d+)\s*(?:թվական(?P<word_ending>{YEAR_END})?"
    rf"|թ\.?(?:(?:\s*[-֊‐‑‒–—―−]\s*|\s+)?(?P<abbr_ending>{YEAR_END}))?)(?![{ARMENIAN}])",
    re.I,
)
_NUMBER_LIKE = r"\d+(?:ամբողջ\d+|բաժին\d+)?"
_PERCENT_SPOKEN = re.compile(
    rf"(?<!\w)({_NUMBER_LIKE})\s+տոկոս({PERCENT_WORD_END})?(?![{ARMENIAN}])", re.I
)
_PERCENT_WRITTEN = re.compile(
    rf"(?<!\w)(?P<number>{_NUMBER_LIKE})\s*%(?:(?:\s*[-‐‑–—]\s*|\s+)(?P<ending>{PERCENT_END}))?"
    rf"(?![{ARMENIAN}])",
    re.I,
)
_AFTER_CHRIST = re.compile(
    rf"(?<![{ARMENIAN}])(?:քրիստոսից\s+հետո|ք\.\s*հ\.?)(?![{ARMENIAN}])", re.I
)
AFTER_CHRIST = "Ք.հ."
_DOLLARS_WORD = re.compile(rf"(?<![\w$])(?P<number>\d+)\s+դոլ{{1,2}}ար(?![{ARMENIAN}])", re.I)
_DOLLARS_BEFORE = re.compile(r"(?<![\w$])\$\s*(?P<number>\d+)(?!\w)")
_DOLLARS_AFTER = re.compile(r"(?<!\w)(?P<number>\d+)\s*\$(?!\w)")


def era(text: str) -> str:
    """`Քրիստոսից հետո`, `ք. հ.` (AD) → `Ք.հ.`, one spelling of the era."""
    return _AFTER_CHRIST.sub(AFTER_CHRIST, text)


def _years(text: str) -> str:
    def year(m: re.Match[str]) -> str:
        ending = m.group("word_ending") or m.group("abbr_ending")
        return f"{int(m.group('number'))}թ." + (f"-{ending.lower()}" if ending else "")

    return _YEAR.sub(year, text)


def _respace_read(text: str) -> str:
    """The text of the read tokens, joined by spaces, spaced again as written: punctuation,
    quotes and marks back against their words, `-` and `/` between words closed, an ending
    after a hyphen written `word-ending`, brackets closed."""
    text = respace(text)
    text = _SPACE_AFTER_MODIFIER.sub(r"\1", _SPACE_BEFORE_MODIFIER.sub(r"\1", text))
    text = _SPACED_JOINER.sub(r"\1", text)
    text = _SPACED_HYPHEN_ENDING.sub(
        lambda m: f"{m.group('stem')}{m.group('quote') or ''}-{m.group('ending')}", text
    )
    text = re.sub(r"([([])\s+", r"\1", text)
    text = re.sub(r"\s+([])])", r"\1", text)
    return re.sub(rf"{_DECIMAL_ENDING_MARK}\s+(?=[{ARMENIAN}])", _DECIMAL_ENDING_MARK, text)


def canonical_numbers(text: str) -> str:
    """Every number of `text` (already pre-processed: NFKC, dashes, spacing) in its one
    written form, the rest of the text as it was."""
    identifiers: list[str] = []

    def hide_identifier(m: re.Match[str]) -> str:
        identifiers.append(m.group(0))
        return f"asridentifier{len(identifiers) - 1}marker"

    prepared, symbols = _hide_symbols(_unmark_number_words(text))
    prepared = _IDENTIFIER.sub(hide_identifier, prepared)
    prepared = _BILLION_ABBR.sub("միլիարդ", _MILLION_ABBR.sub("միլիոն", prepared))
    tokens = _tokens(_mark_written(prepared))
    joined = _respace_read(" ".join(_read_tokens([t.lower() for t in tokens], tokens)))
    joined = _SPACED_ADJECTIVE.sub(lambda m: f"{int(m.group(1))}{m.group(2).lower()}", joined)
    joined = _PERCENT_SPOKEN.sub(
        lambda m: f"{m.group(1)}%" + (f"-{m.group(2)}" if m.group(2) else ""), _years(joined)
    )
    joined = " ".join(joined.split())
    joined = joined.replace(_TIME_MARK, "։").replace(_TIME_ENDING_MARK, "-")
    joined = joined.replace(_DECIMAL_ENDING_MARK, "-")
    hidden = {f"asridentifier{i}marker": value for i, value in enumerate(identifiers)}
    joined = _put_back(joined, _IDENTIFIER_MARK, hidden)
    joined = era(_show_symbols(joined, symbols))
    joined = _PERCENT_WRITTEN.sub(
        lambda m: (
            f"{m.group('number')}%" + (f"-{m.group('ending').lower()}" if m.group("ending") else "")
        ),
        joined,
    )
    for pattern in (_DOLLARS_WORD, _DOLLARS_BEFORE, _DOLLARS_AFTER):
        joined = pattern.sub(lambda m: f"{m.group('number')} $", joined)
    return joined


# --- kept through the final cleanup ---------------------------------------------------------
_KEEP_TIME = re.compile(rf"(?<!\w)\d{{1,2}}։\d{{2}}(?:-(?:{NUMBER_END}))?(?!\d)")
_KEEP_PERCENT = re.compile(
    rf"(?<!\w)(?P<number>{_NUMBER_LIKE})%(?:-(?P<ending>{PERCENT_END}))?(?![{ARMENIAN}])", re.I
)
_KEEP_YEAR = re.compile(rf"(?<!\w)(?P<number>\d+)թ\.-(?P<ending>{YEAR_END})(?![{ARMENIAN}])", re.I)
_KEEP_DOLLARS = re.compile(r"(?<!\w)\d+\s+\$(?!\w)")
#: a hyphen before a number's ending goes (`5-րդ` → `5րդ`, `10-ից` → `10ից`)
_NUMBER_ENDING_HYPHEN = re.compile(
    r"(?<=\d)-(?=(?:(?:երորդ|րդ|ին)(?:ներից|ներում|ների|ներով|ներին|երին|երից|երը|ներ|ից|ում|"
    rf"ով|ի|ը|ն)?|ներով|ներից|ներում|ներին|ների|երին|ական|ում|ով|ի|ին|ը|ն|ից)(?![{ARMENIAN}]))",
    re.I,
)
_SLASH_BETWEEN_WORDS = re.compile(rf"(?<=[{ARMENIAN}])/(?=[{ARMENIAN}])")


def shield(text: str) -> tuple[str, Callable[[str], str]]:
    """Hide the canonical spellings the final cleanup would break (`10։30-ին`, `5%`,
    `2024թ-ին`, `100 $`) behind letters-only marks; returns the text and the function that
    puts them back. A hyphen before a number's ending is dropped (`5-րդ` → `5րդ`) and a `/`
    between Armenian words becomes a space."""
    kept: dict[str, str] = {}

    def keep(value: str) -> str:
        key = f"asrnumberpunctuation{len(kept)}marker"
        kept[key] = value
        return key

    text = _KEEP_TIME.sub(lambda m: keep(m.group(0)), text)
    text = _KEEP_PERCENT.sub(lambda m: keep(f"{m.group('number')}%{m.group('ending') or ''}"), text)
    text = _KEEP_YEAR.sub(lambda m: keep(f"{m.group('number')}թ-{m.group('ending')}"), text)
    text = _KEEP_DOLLARS.sub(lambda m: keep(m.group(0)), text)
    text = _SLASH_BETWEEN_WORDS.sub(" ", _NUMBER_ENDING_HYPHEN.sub("", text))

    def restore(cleaned: str) -> str:
        return _put_back(cleaned, _KEPT_MARK, kept)

    return text, restore
