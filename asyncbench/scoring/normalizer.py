"""The Open ASR Leaderboard's English text normaliser (the 2026 scheme), step by step.

WER is only comparable with the public board if both sides of every pair are normalised
exactly as the board does it, so each step below mirrors one step of
`shared/scoring/SCORING.md`, in the same order. Whisper's number normaliser, its
symbol/accent stripper and its spelling file come from `whisper-normalizer`, which
reproduces them exactly; everything the leaderboard added on top is written here.

Speed matters too (100,000 result lines must score in seconds), so every rule is guarded by
a cheap substring test before its regex runs, and pure-ASCII text skips the per-character
Unicode pass. Each shortcut returns exactly what the full step would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from whisper_normalizer.basic import remove_symbols_and_diacritics
from whisper_normalizer.english import EnglishNumberNormalizer

from asyncbench.scoring.names import NAME_VARIANTS
from asyncbench.scoring.spelling import leaderboard_spelling_map

# --- step 2: audio-event tags -------------------------------------------------------------
_BRACKETED = re.compile(r"[<\[][^>\]]*[>\]]")
_PARENTHESISED = re.compile(r"\(([^)]+?)\)")

# --- step 3: fillers (Whisper removed only the first six) -----------------------------------
LEGACY_FILLERS: tuple[str, ...] = ("hmm", "mm", "mhm", "mmm", "uh", "um")
LEADERBOARD_FILLERS: tuple[str, ...] = (
    *LEGACY_FILLERS,
    *("ah", "aha", "ahh", "ahm", "eh", "ehehe", "em", "hm", "huh", "hum", "mhum", "uhm"),
    *("umm", "uhuh"),
)


def filler_pattern(fillers: Iterable[str]) -> re.Pattern[str]:
    """Whole-word alternation; longest first so that no filler shadows a longer one."""
    words = sorted(fillers, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


_LEADERBOARD_FILLER_RE = filler_pattern(LEADERBOARD_FILLERS)

# --- step 4 ---------------------------------------------------------------------------------
_SPACE_BEFORE_APOSTROPHE = re.compile(r"\s+'")

# --- step 5: Whisper's contraction and title rules, applied one after another ---------------
# Order matters ("'s been" must win over "'s"), so they stay a sequence, not one alternation.
WHISPER_WORD_RULES: tuple[tuple[str, str], ...] = (
    # common contractions
    ("won't", "will not"),
    ("can't", "can not"),
    ("let's", "let us"),
    ("ain't", "aint"),
    ("y'all", "you all"),
    ("wanna", "want to"),
    ("gotta", "got to"),
    ("gonna", "going to"),
    ("i'ma", "i am going to"),
    ("imma", "i am going to"),
    ("woulda", "would have"),
    ("coulda", "could have"),
    ("shoulda", "should have"),
    ("ma'am", "madam"),
    # titles and prefixes (the trailing space is Whisper's)
    ("mr", "mister "),
    ("mrs", "missus "),
    ("st", "saint "),
    ("dr", "doctor "),
    ("prof", "professor "),
    ("capt", "captain "),
    ("gov", "governor "),
    ("ald", "alderman "),
    ("gen", "general "),
    ("sen", "senator "),
    ("rep", "representative "),
    ("pres", "president "),
    ("rev", "reverend "),
    ("hon", "honorable "),
    ("asst", "assistant "),
    ("assoc", "associate "),
    ("lt", "lieutenant "),
    ("col", "colonel "),
    ("jr", "junior "),
    ("sr", "senior "),
    ("esq", "esquire "),
)
WHISPER_PERFECT_TENSE_RULES: tuple[tuple[str, str], ...] = (
    ("'d been", " had been"),
    ("'s been", " has been"),
    ("'d gone", " had gone"),
    ("'s gone", " has gone"),
    ("'d done", " had done"),  # "'s done" is ambiguous, so Whisper leaves it
    ("'s got", " has got"),
)
# The general rules before and after "'s" (which the two schemes treat differently).
WHISPER_CONTRACTIONS_BEFORE_S: tuple[tuple[str, str], ...] = (("n't", " not"), ("'re", " are"))
WHISPER_CONTRACTIONS_AFTER_S: tuple[tuple[str, str], ...] = (
    ("'d", " would"),
    ("'ll", " will"),
    ("'t", " not"),
    ("'ve", " have"),
    ("'m", " am"),
)
# The leaderboard reads "'s" as "is" only after these words; elsewhere it is a possessive
# and becomes a separate "s" token once the apostrophe is stripped ("john's" -> "john s").
IS_CONTRACTING_WORDS: tuple[str, ...] = (
    *("it", "he", "she", "what", "that", "who", "here", "there", "how", "when", "where"),
    *("why", "this"),
)

Rule = tuple[str, re.Pattern[str], str]
"""(needle, pattern, replacement): the regex only runs when the needle is in the text."""


def word_rule(word: str, replacement: str) -> Rule:
    """`word` as a whole word (Whisper's `\\bword\\b`)."""
    return (word, re.compile(r"\b" + re.escape(word) + r"\b"), replacement)


def suffix_rule(suffix: str, replacement: str) -> Rule:
    """`suffix` ending a word (Whisper's `'s been\\b`, `n't\\b`, ...)."""
    return (suffix, re.compile(re.escape(suffix) + r"\b"), replacement)


def contraction_rules(*, s_means_is_after: tuple[str, ...] | None) -> tuple[Rule, ...]:
    """Whisper's step-5 rules in Whisper's order. `s_means_is_after=None` is Whisper's own
    "'s" -> " is" everywhere; a word tuple restricts it to those words (the leaderboard)."""
    if s_means_is_after is None:
        s_rules = [suffix_rule("'s", " is")]
    else:
        words = "|".join(s_means_is_after)
        s_rules = [("'s", re.compile(r"\b(" + words + r")'s\b"), r"\1 is")]
    return (
        *(word_rule(w, r) for w, r in WHISPER_WORD_RULES),
        *(suffix_rule(s, r) for s, r in WHISPER_PERFECT_TENSE_RULES),
        *(suffix_rule(s, r) for s, r in WHISPER_CONTRACTIONS_BEFORE_S),
        *s_rules,
        *(suffix_rule(s, r) for s, r in WHISPER_CONTRACTIONS_AFTER_S),
    )


_LEADERBOARD_CONTRACTIONS = contraction_rules(s_means_is_after=IS_CONTRACTING_WORDS)


def apply_rules(text: str, rules: Iterable[Rule]) -> str:
    for needle, pattern, replacement in rules:
        if needle in text:
            text = pattern.sub(replacement, text)
    return text


# --- step 6 ---------------------------------------------------------------------------------
_COMMA_BETWEEN_DIGITS = re.compile(r"(\d),(\d)")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.([^0-9]|$)")

# --- step 7: symbols and accents ------------------------------------------------------------
KEPT_SYMBOLS = ".%$¢€£"
# For ASCII text NFKD changes nothing and no character is a combining mark, so Whisper's
# per-character pass reduces to "punctuation and symbols become spaces": one translate().
_ASCII_SYMBOLS_TO_SPACE = {
    ord(c): " "
    for c in map(chr, range(128))
    if not c.isalnum() and not c.isspace() and c.isprintable() and c not in KEPT_SYMBOLS
}


def strip_symbols(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_SYMBOLS_TO_SPACE)
    return remove_symbols_and_diacritics(text, keep=KEPT_SYMBOLS)


# --- step 8: split compounds ----------------------------------------------------------------
COMPOUNDS: tuple[tuple[str, str], ...] = (
    ("et cetera", "etc"),
    ("al right", "alright"),
    ("all right", "alright"),
    ("how ever", "however"),
    ("wi fi", "wifi"),
    ("hi fi", "hifi"),
    ("lo fi", "lofi"),
    ("sci fi", "scifi"),
    ("e mail", "email"),
    ("e book", "ebook"),
    ("e commerce", "ecommerce"),
    ("x ray", "xray"),
    ("t shirt", "tshirt"),
    ("a m", "am"),
    ("p m", "pm"),
    ("o k", "okay"),
)


def _compound_rule(words: str, joined: str) -> Rule:
    first, second = words.split()
    pattern = re.compile(r"\b" + re.escape(first) + r"\s+" + re.escape(second) + r"\b")
    return (second, pattern, joined)


_COMPOUND_RULES = tuple(_compound_rule(w, j) for w, j in COMPOUNDS)

# --- step 9: numbers ------------------------------------------------------------------------
_DIGIT = re.compile(r"\d")


class NumberNormalizer:
    """Whisper's English number normaliser, skipped when it provably changes nothing.

    On text with no digit, no "half" and no number word, Whisper's normaliser only re-joins
    the whitespace-split tokens, so that is all this does then; otherwise it runs in full.
    """

    def __init__(self) -> None:
        self._whisper = EnglishNumberNormalizer()
        self._number_words: frozenset[str] = frozenset(self._whisper.words)

    def __call__(self, text: str) -> str:
        tokens = text.split()
        if "half" not in text and not _DIGIT.search(text) and self._number_words.isdisjoint(tokens):
            return " ".join(tokens)
        return self._whisper(text)


# --- steps 10-11 and the clean-up of numeric symbols ----------------------------------------
def chain_maps(first: dict[str, str], then: dict[str, str]) -> dict[str, str]:
    """One lookup table equal to applying `first`, then `then`, to each token."""
    chained = {token: then.get(value, value) for token, value in first.items()}
    chained.update((token, value) for token, value in then.items() if token not in first)
    return chained


def map_tokens(text: str, mapping: dict[str, str]) -> str:
    get = mapping.get
    return " ".join([get(token, token) for token in text.split()])


# Whisper: drop "$ . ¢ € £" not followed by a digit and "%" not preceded by one.
_LONE_PREFIX_SYMBOL = re.compile(r"[.$¢€£]([^0-9])")
_LONE_PERCENT = re.compile(r"([^0-9])%")


def drop_lone_numeric_symbols(text: str) -> str:
    return _LONE_PERCENT.sub(r"\1 ", _LONE_PREFIX_SYMBOL.sub(r" \1", text))


# --- step 12: acronyms ----------------------------------------------------------------------
# A maximal run of two or more single-character tokens.
_SINGLE_CHARACTER_RUN = re.compile(r"(?<!\S)\S(?:\s+\S)+(?!\S)")


def _join_run(match: re.Match[str]) -> str:
    letters = match.group().split()
    if len(letters) < 3 and ("a" in letters or "i" in letters):
        return match.group()  # "a b", "a i": too likely to be real words
    return "".join(letters)


def join_acronyms(text: str) -> str:
    return _SINGLE_CHARACTER_RUN.sub(_join_run, text)


# --- step 13 --------------------------------------------------------------------------------
_WHITESPACE = re.compile(r"\s+")


@cache
def _token_map() -> dict[str, str]:
    return chain_maps(leaderboard_spelling_map(), NAME_VARIANTS)


@cache
def _numbers() -> NumberNormalizer:
    return NumberNormalizer()


def normalize(text: str) -> str:
    """Normalise one transcript exactly like the current Open ASR Leaderboard.

    The result is not stripped (Whisper's steps can leave a leading space, as in
    " one.24" for "$1.24"); compare results as token lists, e.g. `normalize(a).split()`.
    """
    s = text.lower()
    if "[" in s or "<" in s:
        s = _BRACKETED.sub("", s)
    if "(" in s:
        s = _PARENTHESISED.sub("", s)
    s = _LEADERBOARD_FILLER_RE.sub("", s)
    if "'" in s:
        s = _SPACE_BEFORE_APOSTROPHE.sub("'", s)
    s = apply_rules(s, _LEADERBOARD_CONTRACTIONS)
    if "," in s:
        s = _COMMA_BETWEEN_DIGITS.sub(r"\1\2", s)
    if "." in s:
        s = _PERIOD_NOT_BEFORE_DIGIT.sub(r" \1", s)
    s = strip_symbols(s)
    s = apply_rules(s, _COMPOUND_RULES)
    s = _numbers()(s)
    s = map_tokens(s, _token_map())
    s = drop_lone_numeric_symbols(s)
    s = join_acronyms(s)
    return _WHITESPACE.sub(" ", s)
