"""Which language a run asks for: ISO 639-1 codes, and the one a config name implies.

The leaderboard's multilingual track names its configs `<corpus>_<language>` (`fleurs_de`,
`mcv_fr`, `mls_it`) and forces that language on every API; its English runs never pass one
(every provider defaults to English). So the language of a run is resolved once, before
any request: `--language` when given (it must be an ISO 639-1 code, and it must agree with a
multilingual config's own), else the config's, else `en`. Stdlib only: the CLI, the providers
and the mocks all check codes against this one table.
"""

from __future__ import annotations

import re

from asyncbench.core.errors import ConfigError

#: every ISO 639-1 code (the 184 two-letter codes of the standard, `bh` included)
ISO639_1: frozenset[str] = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
    """.split()
)

#: names for messages (the track's languages and a few more; others are shown by code only)
NAMES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "es": "Spanish",
    "pt": "Portuguese",
    "nl": "Dutch",
    "hy": "Armenian",
    "hi": "Hindi",
    "pl": "Polish",
    "ru": "Russian",
    "ja": "Japanese",
    "zh": "Chinese",
}

#: corpora of the leaderboard's multilingual track; `<corpus>_<code>` names a config
#: (`mcv26` is Common Voice 26, Armenian's, OAL #215)
MULTILINGUAL_CORPORA: tuple[str, ...] = ("fleurs", "mcv", "mls", "mcv26")
#: the 16 configs of `hf-audio/open-asr-leaderboard-multilingual-datasets` (split `test`),
#: each `<corpus>_<language>`, in the board's order (Dutch since OAL #208): the suite, the
#: scorer and the test fixtures all read this one list
MULTILINGUAL_CONFIGS: tuple[str, ...] = (
    *("fleurs_de", "fleurs_fr", "fleurs_it", "fleurs_es", "fleurs_pt", "fleurs_nl"),
    *("mcv_de", "mcv_es", "mcv_fr", "mcv_it", "mcv_nl"),
    *("mls_es", "mls_fr", "mls_it", "mls_pt", "mls_nl"),
)
#: Armenian's configs, of `Metric-AI/open-asr-leaderboard-multilingual-datasets` (OAL #215)
ARMENIAN_CONFIGS: tuple[str, ...] = ("fleurs_hy", "mcv26_hy")
_CONFIG = re.compile(rf"^({'|'.join(MULTILINGUAL_CORPORA)})[_-]([a-z]{{2}})$")

DEFAULT = "en"


def described(code: str) -> str:
    """`de` → `'de' (German)`, for one-line messages."""
    name = NAMES.get(code)
    return f"{code!r} ({name})" if name else repr(code)


def is_iso639_1(code: str) -> bool:
    return code in ISO639_1


def primary_subtag(tag: str) -> str:
    """`pt-PT` / `en_US` → `pt` / `en`: what a BCP-47 tag says about the language itself."""
    return re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()


def config_language(config: str) -> str | None:
    """The language a multilingual config name carries (`fleurs_de` → `de`), else None.

    Only the track's corpora count: an English config may end in two letters that happen
    to be a code (`voxpopuli_cleaned_aa`), and that says nothing about its language."""
    match = _CONFIG.match(config.strip().lower())
    if match is None or match.group(2) not in ISO639_1:
        return None
    return match.group(2)


def check_code(code: str, flag: str = "--language") -> str:
    """A valid ISO 639-1 code (lower-cased), or ConfigError naming what is wrong."""
    value = code.strip()
    if value.lower() in ISO639_1:
        return value.lower()
    hint = ""
    primary = primary_subtag(value)
    if primary != value.lower() and primary in ISO639_1:
        hint = f"; a region is not needed: pass {flag} {primary}"
    elif len(value) == 3:
        hint = "; three-letter (ISO 639-2/3) codes are not accepted, use the two-letter one"
    raise ConfigError(
        f"{flag} {code!r} is not an ISO 639-1 language code (two letters such as en, de, fr, "
        f"it, es, pt){hint}"
    )


def resolve(config: str, language: str | None) -> str:
    """The run's language: `language` if given (valid, and the config's own if it has one),
    else the config's, else English."""
    implied = config_language(config)
    if language is None or not language.strip():
        return implied or DEFAULT
    chosen = check_code(language)
    if implied is not None and chosen != implied:
        raise ConfigError(
            f"--language {chosen} does not match config {config!r}, which is in "
            f"{NAMES.get(implied, implied)} ({implied}); drop --language or pass --language "
            f"{implied}"
        )
    return chosen
