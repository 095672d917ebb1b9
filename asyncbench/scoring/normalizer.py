"""The Open ASR Leaderboard's English text normaliser (the 2026 scheme), step by step.

WER is only comparable with the public board if both sides of every pair are normalised
exactly as the board does it, so each step below mirrors one step of
`shared/scoring/SCORING.md`, in the same order. Whisper's number normaliser, its
symbol/accent stripper and its spelling file come from `whisper-normalizer`, which
reproduces them exactly; everything the leaderboard added on top is written here.

Speed matters too (100,000 result lines must score in seconds), so a step is skipped when
a cheap test shows it cannot change the text, table-driven steps run as one regex pass,
Whisper's number normaliser sees only the tokens it can change, and pure-ASCII text skips
the per-character Unicode pass. Each shortcut returns exactly what the full step would:
tests/test_scoring_fast_paths.py compares them with SCORING.md applied literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

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


# --- step 4 ---------------------------------------------------------------------------------
_SPACE_BEFORE_APOSTROPHE = re.compile(r"\s+'")

# --- step 5: Whisper's contraction and title rules ------------------------------------------
# Whole words first (one regex pass, see WordReplacer), then the rules that start at an
# apostrophe, one after another: there order matters ("'s been" must win over "'s").
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


def suffix_rule(suffix: str, replacement: str) -> Rule:
    """`suffix` ending a word (Whisper's `'s been\\b`, `n't\\b`, ...)."""
    return (suffix, re.compile(re.escape(suffix) + r"\b"), replacement)


def apostrophe_rules(*, s_means_is_after: tuple[str, ...] | None) -> tuple[Rule, ...]:
    """Whisper's rules that start at an apostrophe, in Whisper's order. With
    `s_means_is_after=None` "'s" becomes " is" everywhere (Whisper); a word tuple restricts
    that to those words (the leaderboard)."""
    if s_means_is_after is None:
        s_rules = [suffix_rule("'s", " is")]
    else:
        words = "|".join(s_means_is_after)
        s_rules = [("'s", re.compile(r"\b(" + words + r")'s\b"), r"\1 is")]
    return (
        *(suffix_rule(s, r) for s, r in WHISPER_PERFECT_TENSE_RULES),
        *(suffix_rule(s, r) for s, r in WHISPER_CONTRACTIONS_BEFORE_S),
        *s_rules,
        *(suffix_rule(s, r) for s, r in WHISPER_CONTRACTIONS_AFTER_S),
    )


def apply_rules(text: str, rules: Iterable[Rule]) -> str:
    for needle, pattern, replacement in rules:
        if needle in text:
            text = pattern.sub(replacement, text)
    return text


_WORD_RUN = re.compile(r"\w+")


class WordReplacer:
    """Replace whole words from a table in one regex pass.

    Whisper applies its word rules one regex at a time; one alternation gives the same
    result here because no two table words can match overlapping text and no replacement
    contains a table word (tests check this against the one-at-a-time form).
    """

    def __init__(self, table: dict[str, str]) -> None:
        self._table = table
        words = sorted(table, key=len, reverse=True)
        self._pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
        self._plain = frozenset(w for w in table if _WORD_RUN.fullmatch(w))
        self._other = tuple(w for w in table if w not in self._plain)  # "won't", "y'all"

    def may_match(self, text: str, word_runs: set[str]) -> bool:
        """False only when no table word can match: a word made of word characters can
        only match a whole run of them (`\\b` on both sides), others need their text."""
        if not self._plain.isdisjoint(word_runs):
            return True
        return bool(self._other) and any(w in text for w in self._other)

    def _lookup(self, match: re.Match[str]) -> str:
        return self._table[match.group()]

    def __call__(self, text: str) -> str:
        return self._pattern.sub(self._lookup, text)


_WORD_RULES = WordReplacer(dict(WHISPER_WORD_RULES))


def filler_remover(fillers: Iterable[str]) -> WordReplacer:
    """Step 3, done by the same machinery: each filler is replaced by nothing."""
    return WordReplacer(dict.fromkeys(fillers, ""))


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


class CompoundJoiner:
    """Join the split compounds above in one regex pass.

    Equivalent to Whisper-style one-rule-at-a-time replacement because no word is both the
    second word of one compound and the first of another, so matches never overlap, and no
    joined form is part of any pattern.
    """

    def __init__(self, compounds: Iterable[tuple[str, str]]) -> None:
        self._joined: dict[tuple[str, ...], str] = {}
        self.second_words = frozenset(words.split()[1] for words, _ in compounds)
        branches = []
        for words, joined in compounds:
            parts = tuple(words.split())
            self._joined[parts] = joined
            branches.append(r"\s+".join(map(re.escape, parts)))
        self._pattern = re.compile(r"\b(?:" + "|".join(branches) + r")\b")

    def _lookup(self, match: re.Match[str]) -> str:
        return self._joined[tuple(match.group().split())]

    def __call__(self, text: str) -> str:
        return self._pattern.sub(self._lookup, text)


_COMPOUNDS = CompoundJoiner(COMPOUNDS)

# --- step 9: numbers ------------------------------------------------------------------------
_DIGIT = re.compile(r"\d")  # any script: Whisper reads "٣" as a number too
_ASCII_DIGIT = re.compile(r"[0-9]")
_CURRENCY = re.compile(r"[€£$]")


class NumberNormalizer:
    """Whisper's English number normaliser, run only on the tokens it can change.

    Whisper walks every token through a state machine; a token that is neither a number
    word nor a number ("plain") always leaves that machine in its initial state and comes
    out unchanged, and as a neighbour it looks the same as the start or end of the text. So
    running Whisper on each maximal run of non-plain tokens and copying plain tokens gives
    Whisper's exact output (tests compare the two on the vectors and on random text) at a
    fraction of the cost: most transcripts hold few numbers.
    """

    def __init__(self) -> None:
        whisper = self._whisper = EnglishNumberNormalizer()
        self._number_words = frozenset(whisper.words)
        # Whisper's test for "a number, maybe after one sign or currency symbol"
        signs = re.escape("".join(sorted(whisper.prefixes)))
        self._number_token = re.compile(rf"^[{signs}]?\d+(?:\.\d+)?$")
        # Words that only act next to a number or another number word ("and" in "hundred
        # and five", "dollars" after one): a run made of these alone comes out unchanged.
        self._inert = frozenset(
            {"and", "double", "triple", *whisper.following_prefixers, *whisper.suffixers}
        )
        self._triggers = self._number_words - self._inert

    @lru_cache(maxsize=8192)  # noqa: B019 (one instance per process, kept for its life)
    def _process_run(self, run: tuple[str, ...]) -> tuple[str, ...]:
        """Whisper on one run; runs repeat a lot ("one", "twenty five", "$3.50")."""
        if self._inert.issuperset(run):
            return run
        return tuple(w for w in self._whisper.process_words(list(run)) if w is not None)

    def _runs(self, tokens: list[str], has_digit: bool) -> list[str]:
        """Copy plain tokens, send each maximal run of number-like ones through Whisper."""
        words = self._number_words
        if has_digit:
            match = self._number_token.match
            hits = [i for i, t in enumerate(tokens) if t in words or match(t)]
        else:
            hits = [i for i, t in enumerate(tokens) if t in words]
        out: list[str] = []
        copied = 0  # tokens[:copied] are in `out`
        k = 0
        while k < len(hits):
            start = end = hits[k]
            while k < len(hits) and hits[k] == end:
                end += 1
                k += 1
            out += tokens[copied:start]
            out += self._process_run(tuple(tokens[start:end]))
            copied = end
        out += tokens[copied:]
        return out

    def tokens(self, text: str) -> list[str]:
        """Whisper's result, split into tokens (it is single-spaced, so nothing is lost)."""
        whisper = self._whisper
        has_digit = _DIGIT.search(text) is not None
        if has_digit or "half" in text:
            text = whisper.preprocess(text)  # "and a half", digit/letter boundaries
        tokens = text.split()
        if not has_digit and self._triggers.isdisjoint(tokens):
            return tokens
        tokens = self._runs(tokens, has_digit)
        # Whisper's clean-up needs a currency symbol before digits (cents) or a "1"
        # (written "one"); without them it changes nothing.
        text = " ".join(tokens)
        if "1" in text or (_CURRENCY.search(text) and _ASCII_DIGIT.search(text)):
            return whisper.postprocess(text).split()
        return tokens

    def __call__(self, text: str) -> str:
        return " ".join(self.tokens(text))


# --- steps 10-11 and the clean-up of numeric symbols ----------------------------------------
def chain_maps(first: dict[str, str], then: dict[str, str]) -> dict[str, str]:
    """One lookup table equal to applying `first`, then `then`, to each token."""
    chained = {token: then.get(value, value) for token, value in first.items()}
    chained.update((token, value) for token, value in then.items() if token not in first)
    return chained


# Whisper: drop "$ . ¢ € £" not followed by a digit and "%" not preceded by one.
_LONE_PREFIX_SYMBOL = re.compile(r"[.$¢€£]([^0-9])")
_LONE_PERCENT = re.compile(r"([^0-9])%")
_ANY_NUMERIC_SYMBOL = re.compile(r"[.$¢€£%]")


def drop_lone_numeric_symbols(text: str) -> str:
    return _LONE_PERCENT.sub(r"\1 ", _LONE_PREFIX_SYMBOL.sub(r" \1", text))


# --- steps 12-13: acronyms, then whitespace -------------------------------------------------
_ADJACENT_SINGLE_CHARACTERS = re.compile(r"(?<!\S)\S\s+\S(?!\S)")


def join_acronyms(tokens: list[str]) -> list[str]:
    """Merge each maximal run of single-character tokens into one token when the run has 2
    or more tokens, or 3 or more if it holds "a" or "i" ("a b" and "a i" are likely words)."""
    joined: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:  # "" ends the last run
        if len(token) == 1:
            run.append(token)
            continue
        if len(run) >= 3 or (len(run) == 2 and "a" not in run and "i" not in run):
            joined.append("".join(run))
        else:
            joined.extend(run)
        run = []
        if token:
            joined.append(token)
    return joined


def collapse_whitespace(text: str, tokens: list[str]) -> str:
    """`re.sub(r"\\s+", " ", text)` for `tokens` taken from `text`: one space between tokens
    and, as in Whisper, a leading or trailing space kept (not stripped)."""
    if not tokens:
        return " " if text else ""
    lead = " " if text[0].isspace() else ""
    trail = " " if text[-1].isspace() else ""
    return lead + " ".join(tokens) + trail


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The steps that differ between the 2026 leaderboard scheme and the 2025 (Whisper) one;
    everything else in `run_pipeline` is shared."""

    fillers: WordReplacer
    apostrophe_rules: tuple[Rule, ...]
    join_compounds: bool
    token_map: dict[str, str]
    join_acronyms: bool


def run_pipeline(text: str, p: Pipeline) -> str:
    s = text.lower()
    if "[" in s or "<" in s:
        s = _BRACKETED.sub("", s)
    if "(" in s:
        s = _PARENTHESISED.sub("", s)
    # The whole-word steps below scan the text for nothing most of the time; one scan for
    # its runs of word characters tells when they can be skipped. Removing words cannot
    # create a run, and the word rules only write words that no later step looks for.
    word_runs = set(_WORD_RUN.findall(s))
    if p.fillers.may_match(s, word_runs):
        s = p.fillers(s)
    if "'" in s:
        s = _SPACE_BEFORE_APOSTROPHE.sub("'", s)
    if _WORD_RULES.may_match(s, word_runs):
        s = _WORD_RULES(s)
    if "'" in s:
        s = apply_rules(s, p.apostrophe_rules)
    if "," in s:
        s = _COMMA_BETWEEN_DIGITS.sub(r"\1\2", s)
    if "." in s:
        s = _PERIOD_NOT_BEFORE_DIGIT.sub(r" \1", s)
    # ASCII symbol stripping splits no run of word characters except at "_"; Unicode
    # stripping can change letters ("ﬁ" -> "fi"), so then the runs say nothing.
    runs_still_valid = s.isascii() and "_" not in s
    s = strip_symbols(s)
    if p.join_compounds and (
        not runs_still_valid or not _COMPOUNDS.second_words.isdisjoint(word_runs)
    ):
        s = _COMPOUNDS(s)
    get = p.token_map.get
    tokens = [get(token, token) for token in _numbers().tokens(s)]
    s = " ".join(tokens)
    if _ANY_NUMERIC_SYMBOL.search(s):
        s = drop_lone_numeric_symbols(s)
        tokens = s.split()
    if p.join_acronyms and _ADJACENT_SINGLE_CHARACTERS.search(s):
        tokens = join_acronyms(tokens)
    return collapse_whitespace(s, tokens)


@cache
def _numbers() -> NumberNormalizer:
    return NumberNormalizer()


@cache
def _leaderboard() -> Pipeline:
    return Pipeline(
        fillers=filler_remover(LEADERBOARD_FILLERS),
        apostrophe_rules=apostrophe_rules(s_means_is_after=IS_CONTRACTING_WORDS),
        join_compounds=True,
        token_map=chain_maps(leaderboard_spelling_map(), NAME_VARIANTS),
        join_acronyms=True,
    )


def normalize(text: str) -> str:
    """Normalise one transcript exactly like the current Open ASR Leaderboard.

    The result is not stripped (Whisper's steps can leave a leading space, as in
    " one.24" for "$1.24"); compare results as token lists, e.g. `normalize(a).split()`.
    """
    return run_pipeline(text, _leaderboard())
