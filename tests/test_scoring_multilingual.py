"""The multilingual scheme against the shared vectors, and its shortcuts against the board's
code written out literally (SCORING.md, "Multilingual scheme")."""

from __future__ import annotations

import difflib
import json
import random
import re
import unicodedata

import pytest
from kaldialign import batch_error_rate
from num2words import num2words

from asyncbench.scoring import count_errors, normalize, pair_compounds, wer
from asyncbench.scoring.multilingual import (
    BOARD_LANGUAGES,
    check_language,
    normalize_multilingual,
    remove_symbols,
    spell_number,
)
from asyncbench.scoring.normalizer import normalize as normalize_english

from .scoring_files import VECTORS


def _load(name: str) -> list[dict]:
    with (VECTORS / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


ML_NORMALIZER_VECTORS = _load("ml_normalizer_vectors.jsonl")
ML_WER_VECTORS = _load("ml_wer_vectors.jsonl")


# --- the board's code, step by step as SCORING.md gives it -----------------------------------
def board_normalize(s: str, lang: str) -> str:
    s = s.lower()
    s = re.sub(r"[<\[][^>\]]*[>\]]", "", s)
    s = re.sub(r"\(([^)]+?)\)", "", s)
    s = "".join(
        " " if unicodedata.category(c)[0] in "MSP" else c for c in unicodedata.normalize("NFKC", s)
    )
    s = s.lower()
    s = re.sub(r"[^\w\s]", "", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"(\d)\s+(\d{3})\b", r"\1\2", s)

    def replace(m: re.Match[str]) -> str:
        try:
            return num2words(int(m.group()), lang=lang)
        except Exception:
            return m.group()

    return re.sub(r"\d+", replace, s)


def board_pairs(ref: list[str], hyp: list[str]) -> tuple[list[str], list[str]]:
    new_ref: list[str] = []
    new_hyp: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ref, hyp).get_opcodes():
        r, h = ref[i1:i2], hyp[j1:j2]
        if tag != "equal" and "".join(r) == "".join(h):
            new_ref.append("".join(r))
            new_hyp.append("".join(h))
        else:
            new_ref += r
            new_hyp += h
    return new_ref, new_hyp


# --- the vectors ----------------------------------------------------------------------------
def test_all_vectors_were_read() -> None:
    assert len(ML_NORMALIZER_VECTORS) == 479
    assert len(ML_WER_VECTORS) == 24
    assert {v["lang"] for v in ML_NORMALIZER_VECTORS} == set(BOARD_LANGUAGES)
    assert {v["lang"] for v in ML_WER_VECTORS} == set(BOARD_LANGUAGES)


@pytest.mark.parametrize(
    "vector",
    ML_NORMALIZER_VECTORS,
    ids=[f"{v['lang']}:{v['input'][:40]}" for v in ML_NORMALIZER_VECTORS],
)
def test_ml_normalizer_vector(vector: dict) -> None:
    assert normalize(vector["input"], language=vector["lang"]).split() == vector["expected"].split()


@pytest.mark.parametrize(
    "vector", ML_WER_VECTORS, ids=[f"{v['lang']}-{i}" for i, v in enumerate(ML_WER_VECTORS)]
)
def test_ml_wer_vector(vector: dict) -> None:
    lang = vector["lang"]
    assert wer(vector["refs"], vector["hyps"], language=lang) == vector["wer_percent"]
    counts = count_errors(vector["refs"], vector["hyps"], language=lang).as_dict()
    assert (counts["ins"], counts["del"], counts["sub"]) == (
        vector["ins"],
        vector["del"],
        vector["sub"],
    )


def test_the_vectors_need_the_compound_pairing() -> None:
    """Without the difflib step (English's way) most vectors score differently: they do
    test it, and its shorter denominator."""
    differ = 0
    for v in ML_WER_VECTORS:
        refs = [board_normalize(r, v["lang"]).split() for r in v["refs"]]
        hyps = [board_normalize(h, v["lang"]).split() for h in v["hyps"]]
        result = batch_error_rate(refs, hyps, merge_compounds=True)
        differ += round(100 * result["err_rate"], 2) != v["wer_percent"]
    assert differ >= 10


# --- English is untouched -------------------------------------------------------------------
def test_english_is_the_default_and_unchanged() -> None:
    for v in _load("normalizer_vectors.jsonl")[:200]:
        assert normalize(v["input"]) == normalize_english(v["input"])
        assert normalize(v["input"], language="en") == normalize_english(v["input"])
    assert normalize("$1.24", language="en-US") == " one.24"
    assert wer(["the cat"], ["the hat"]) == 50.0


def test_english_and_german_differ_where_they_should() -> None:
    assert normalize("Mr Smith won't pay 5 euros") == "mister smith will not pay €5"
    assert normalize("Mr Smith won't pay 5 euros", language="de") == "mr smith won t pay fünf euros"


# --- the shortcuts against the literal code -------------------------------------------------
_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 0 0 1 2 "
    "äöüßÄÖÜàâçéèêëîïôûùüÿœæÀÉÈÇáíóúñ¿¡ãõ "
    ".,;:!?'\"-–—…«»„“”‘’()[]<>{}/\\|@#$%^&*_+=~`€£¥§°²³½¼ "
    "\t\n\r\x0b\x0c\x00\x1f\x7f\u00a0\u2009\u200b\u200d\u00ad\u0301\u0308\u0327 "
    "İıﬁﬂℌℋ①Ⅸ１２３٣٤߀ＡＢ가漢ß̈ "
)


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 60)))


def test_normalizer_matches_the_board_code_on_random_text() -> None:
    rng = random.Random(5)
    for i in range(6000):
        text = _random_text(rng)
        lang = BOARD_LANGUAGES[i % len(BOARD_LANGUAGES)]
        assert normalize_multilingual(text, lang) == board_normalize(text, lang), repr(text)


def test_normalizer_matches_the_board_code_on_every_vector_input_in_every_language() -> None:
    for v in ML_NORMALIZER_VECTORS:
        for lang in BOARD_LANGUAGES:
            text = v["input"]
            assert normalize_multilingual(text, lang) == board_normalize(text, lang), text


def test_symbol_table_matches_unicode_categories() -> None:
    every_bmp = "".join(chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000)
    expected = "".join(
        " " if unicodedata.category(c)[0] in "MSP" else c
        for c in unicodedata.normalize("NFKC", every_bmp)
    )
    assert remove_symbols(every_bmp) == expected


def test_compound_pairing_matches_the_board_code_on_random_token_lists() -> None:
    rng = random.Random(9)
    pieces = ["über", "raschung", "überraschung", "a", "b", "ab", "c", "abc", "bc", "x"]
    for _ in range(8000):
        ref = [rng.choice(pieces) for _ in range(rng.randint(0, 8))]
        hyp = [rng.choice(pieces) for _ in range(rng.randint(0, 8))]
        assert pair_compounds(ref, hyp) == board_pairs(ref, hyp), (ref, hyp)


def test_compound_pairing_joins_split_and_joined_words() -> None:
    assert pair_compounds(["eine", "über", "raschung"], ["eine", "überraschung"]) == (
        ["eine", "überraschung"],
        ["eine", "überraschung"],
    )
    # the reference shrinks too: one word, so 1 error in 2 words, not 1 in 3
    assert wer(["Das war eine Über raschung"], ["das was eine überraschung"], language="de") == 25.0


# --- numbers --------------------------------------------------------------------------------
def test_thousand_groups_join_in_one_pass() -> None:
    assert normalize("10 000", language="fr") == "dix mille"
    assert normalize("1 000 000", language="de") == "eintausend null"


def test_num2words_keeps_its_hyphens_and_spaces() -> None:
    assert normalize("25", language="fr") == "vingt-cinq"
    assert normalize("2021", language="fr") == "deux mille vingt et un"


def test_a_number_num2words_cannot_spell_stays_digits() -> None:
    huge = "1" + "0" * 66  # num2words 0.5.14: OverflowError in es, NotImplementedError in it
    assert spell_number("es", int(huge)) is None
    assert normalize(f"Hay {huge} estrellas", language="es") == f"hay {huge} estrellas"
    assert normalize(f"Ci sono {huge} stelle", language="it") == f"ci sono {huge} stelle"
    too_long_for_int = "1" * 5000
    assert normalize(too_long_for_int, language="it") == too_long_for_int


# --- languages ------------------------------------------------------------------------------
def test_language_codes() -> None:
    assert check_language("de") == "de"
    assert check_language("DE") == "de"
    assert check_language("de-AT") == "de"
    assert check_language("pt_BR") == "pt_BR"
    with pytest.raises(ValueError) as e:
        normalize("hallo", language="klingon")
    assert "unknown language 'klingon' for multilingual scoring" in str(e.value)


def test_wer_argument_checks_hold_for_every_language() -> None:
    with pytest.raises(ValueError):
        wer(["a", "b"], ["a"], language="fr")
    with pytest.raises(TypeError):
        wer("le chat", "le chat", language="fr")  # type: ignore[arg-type]
    assert wer([], [], language="es") == 0.0
