"""What the Armenian normaliser's two stages share: character classes, grammatical endings
and the spacing rules around punctuation.

Facts follow OAL@db339acbf2efff833c380e56224a888b7f8b2d29:normalizer/armenian_normalizer.py
(open PR #215). The ending lists are several on purpose: the board matches a different set
of endings after a number, a year, a percentage and a hyphen, and the order of each list is
the order it tries them in, which decides the ending found when several would fit.
"""

from __future__ import annotations

import re

#: letters and digits the board counts as "word" around punctuation and quotes: ASCII,
#: precomposed Latin, Armenian and Russian (so `é` is not taken for punctuation)
WORD = "0-9A-Za-zÀ-ÖØ-öø-ÿԱ-Ֆա-ֆևЁёА-Яа-я"
ARMENIAN = "Ա-Ֆա-ֆև"
#: emphasis, exclamation, question and abbreviation marks written inside a word
MODIFIERS = "՛՜՞՟՚"
DASHES = "֊‐‑‒–—―−"


def alternation(endings: str) -> str:
    """`"ից ում"` → `"ից|ում"`: a regex alternative in the given order."""
    return "|".join(endings.split())


#: case endings after a spoken or written number (`հարյուրից`, `5-ից`), in the board's order
NUMBER_ENDINGS = tuple("ներից ներում ների ներով երին երից երը ից ում ով ին ի ը ն".split())
NUMBER_END = alternation(" ".join(NUMBER_ENDINGS))
#: after a year marker (`2024 թ.-ին`) and a percent sign (`5%-ով`)
YEAR_END = alternation(
    "ներից ներում ներով ներին ների երին երից ները երը ներ եր ից ում ով ին ի ը ն ս դ"
)
PERCENT_END = alternation(
    "ներից ներում ների ներով ներին երին երից ները երը ներ ից ում ով ին ի ը ն ս դ"
)
#: after the word տոկոս ("percent"): the percent endings without the articles ս and դ
PERCENT_WORD_END = alternation(
    "ներից ներում ների ներով ներին երին երից ները երը ներ ից ում ով ին ի ը ն"
)
#: an adjective made of a number: `5-ական`, `10 ականներից`
ADJECTIVAL = r"ական(?:ների|ներին|ներից|ներում|ներով|ները|ներ|ից|ով|ում|ին|ի|ը|ն|ս|դ)?"
#: endings a hyphen may join to the word before it (`ՀՀ-ում`), longest first
_HYPHEN_ENDINGS = sorted(
    set(
        "ներից ներում ներով ներին ների երին երից երով ները երը երի ներ եր "
        "ից ով ում ին ի ը ն ս դ".split()
    ),
    key=len,
    reverse=True,
)
HYPHEN_END = "|".join(_HYPHEN_ENDINGS)

_SPACE_BEFORE_MARK = re.compile(r"[^\S\r\n]+([,.;:`?՝՜՞»։])")
_SPACE_AFTER_MARK = re.compile(r"([,.;:`՝։])(?!\s|\d|\.|$)")
_BEFORE_OPENING_QUOTE = re.compile(r"(?<=[^\s«])«")
_AFTER_OPENING_QUOTE = re.compile(r"«[^\S\r\n]+")
_AFTER_CLOSING_QUOTE = re.compile(rf"»(?=[{WORD}])")


def respace(text: str) -> str:
    """The board's spacing around punctuation: none before `, . ; : ? ՝ ՜ ՞ » ։`, one after
    `, . ; : ՝ ։` when a word follows at once (not a digit: `2.5` stays), one outside `« »`
    where a word touches them and none inside. Where words split once punctuation is
    removed depends on this, so both stages apply it."""
    text = _SPACE_BEFORE_MARK.sub(r"\1", text)
    text = _SPACE_AFTER_MARK.sub(r"\1 ", text)
    text = _BEFORE_OPENING_QUOTE.sub(" «", text)
    text = _AFTER_OPENING_QUOTE.sub("«", text)
    return _AFTER_CLOSING_QUOTE.sub("» ", text)
