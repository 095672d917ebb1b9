"""The languages each service documents it accepts, as data.

Both sides read one table: a provider client (to refuse a language before the first request)
and its mock (to answer 400 as the service does). Kept below both stages, so the mock never
imports the client it is meant to test.
"""

from __future__ import annotations

#: the languages Whisper knows (its tokenizer's ISO 639-1 codes; `jw`/`haw`/`yue` left out as
#: they are not ISO 639-1): what Whisper-based APIs accept as `language` [openai/whisper:
#: whisper/tokenizer.py LANGUAGES]
WHISPER_LANGUAGES: frozenset[str] = frozenset(
    """
    en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no
    th ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw
    gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl
    mg as tt ln ha ba su
    """.split()
)
#: the 57 languages OpenAI lists as supported by its transcription models (word error rate
#: under 50 %) [platform.openai.com/docs/guides/speech-to-text#supported-languages]
OPENAI_LANGUAGES: frozenset[str] = frozenset(
    """
    af ar hy az be bs bg ca zh hr cs da nl en et fi fr gl de el he hi hu is id it ja kn kk ko
    lv lt mk ms mr mi ne no fa pl pt ro ru sr sk sl es sw sv tl ta th tr uk ur vi cy
    """.split()
)

#: Scribe's languages, ISO 639-1 → the ISO 639-3 code sent as `language_code`
#: [elevenlabs.io/docs/capabilities/speech-to-text#supported-languages]
ISO639_3: dict[str, str] = dict(
    pair.split(":")
    for pair in """
    af:afr am:amh ar:ara hy:hye as:asm az:aze be:bel bn:ben bs:bos bg:bul my:mya ca:cat
    zh:zho hr:hrv cs:ces da:dan nl:nld en:eng et:est fi:fin fr:fra ff:ful gl:glg lg:lug
    ka:kat de:deu el:ell gu:guj ha:hau he:heb hi:hin hu:hun is:isl ig:ibo id:ind ga:gle
    it:ita ja:jpn jv:jav kn:kan kk:kaz km:khm ko:kor ku:kur ky:kir lo:lao lv:lav ln:lin
    lt:lit lb:ltz mk:mkd ms:msa ml:mal mt:mlt mi:mri mr:mar mn:mon ne:nep no:nor ny:nya
    oc:oci or:ori ps:pus fa:fas pl:pol pt:por pa:pan ro:ron ru:rus sr:srp sn:sna sd:snd
    sk:slk sl:slv so:som es:spa sw:swa sv:swe ta:tam tg:tgk te:tel th:tha tr:tur uk:ukr
    ur:urd uz:uzb vi:vie cy:cym wo:wol xh:xho zu:zul
    """.split()
)

#: `transcription_config.language` codes, batch and real-time alike
#: [docs.speechmatics.com/speech-to-text/languages]; the ISO 639-1 ones (Cantonese `yue`
#: and Mandarin `cmn` have no two-letter code)
SPEECHMATICS_LANGUAGES = frozenset(
    """
    ar ba eu be bg bn ca hr cs da nl en eo et fi fr gl de el he hi hu id ia ga it ja ko lv
    lt ms mt mr mn no fa pl pt ro ru sk sl es sw sv ta th tr uk ur ug vi cy
    """.split()
)
