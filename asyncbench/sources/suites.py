"""The suite registry: which (dataset path, config, split) entries make up a named benchmark.

A suite is data, not code (lm-evaluation-harness' task registry is the model): adding one is
one `Suite(...)` in `SUITES`, and each entry carries what a run and the scorer need to know
about it, its own dataset path (the board's `name:split:path` entries), its language and
scoring family, and, for chunked sets, where the references come from. `batch --suite NAME`
runs a suite's entries in order; `--datasets` picks some of them by name or config.

The facts come from the leaderboard's own scripts (`reference/PROTOCOLS-2026.md` C1-C4):
  esb          the seed's 8 splits of hf-audio/esb-datasets-test-only-sorted (the default)
  leaderboard  today's 8 English entries: hf-audio/open-asr-leaderboard's cleaned configs,
               the chunked Earnings22 of ArtificialAnalysis and, since August 2026 (OAL #209),
               Monsoon en-IN (VoiceArena/Monsoon_en_IN_test, a repository of its own read with
               no config, so its results file ends `..._DATASET_<repo-slug>__test.jsonl`)
  longform     whole recordings: earnings21, earnings22 of hf-audio/asr-leaderboard-longform,
               TED-LIUM from distil-whisper/tedlium-long-form (it left the consolidated set)
               and all 8 CORAAL subsets of bezzam/coraal (OAL #191, open PR), each
               repository read at the revision the board pins (`PINNED_REVISIONS`)
  multilingual the 16 `<corpus>_<lang>` configs of the multilingual set (Dutch added by OAL
               #208), Armenian FLEURS and MCV 26 (OAL #215, open PR) and Monsoon hi (scored
               with OIWER over its reference lattice)

Stdlib only: `asyncbench suites` lists this without importing datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asyncbench.core.errors import ConfigError
from asyncbench.core.languages import MULTILINGUAL_CONFIGS

ENGLISH = "english"  # the board's English normaliser and WER
MULTILINGUAL = "multilingual"  # its multilingual normaliser, compound pairs, per language


@dataclass(frozen=True, slots=True)
class SuiteEntry:
    """One split to run. `path` None means the suite's own path (which `--dataset_path`
    may replace); an entry with its own path keeps it."""

    config: str
    split: str = "test"
    path: str | None = None
    family: str = ENGLISH
    language: str = "en"
    #: the short name `--datasets` knows it by besides its config (`ami` for ami_cleaned)
    name: str | None = None
    #: chunked sets: the dataset whose `transcript` column holds each recording's reference
    parent_path: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.config

    @property
    def config_shown(self) -> str:
        """The config for messages: a set read from its own repository has none."""
        return self.config or "(no config)"

    def dataset_path(self, suite_path: str) -> str:
        return self.path or suite_path


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    path: str  # the dataset path of entries without their own
    description: str
    entries: tuple[SuiteEntry, ...]

    def paths(self) -> list[str]:
        """Every dataset path the suite reads (entries' own, parents), in order, once."""
        out = [e.dataset_path(self.path) for e in self.entries]
        out += [e.parent_path for e in self.entries if e.parent_path]
        return list(dict.fromkeys(out))


ESB_PATH = "hf-audio/esb-datasets-test-only-sorted"
LEADERBOARD_PATH = "hf-audio/open-asr-leaderboard"
EARNINGS22_CHUNKED = "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked"
EARNINGS22_PARENT = "ArtificialAnalysis/Earnings22-Cleaned-AA"
LONGFORM_PATH = "hf-audio/asr-leaderboard-longform"
CORAAL_PATH = "bezzam/coraal"
MULTILINGUAL_PATH = "hf-audio/open-asr-leaderboard-multilingual-datasets"
MONSOON_EN_IN_PATH = "VoiceArena/Monsoon_en_IN_test"  # run_api.sh MONSOON_EN_IN_DATASET_PATH
MONSOON_HI_PATH = "VoiceArena/Monsoon_hi_test"  # run_api_ml.sh MONSOON_DATASET_PATH
ARMENIAN_PATH = "Metric-AI/open-asr-leaderboard-multilingual-datasets"  # ARMENIAN_DATASET_PATH
TEDLIUM_LONGFORM_PATH = "distil-whisper/tedlium-long-form"
#: every CORAAL subset of bezzam/coraal, as the board's long-form branch runs them
CORAAL_SUBSETS = ("ATL", "DCA", "DCB", "DTA", "LES", "PRV", "ROC", "VLD")
#: the commit the board reads each of these repositories at: the dataset revisions its
#: long-form jobs mount (LONGFORM_DATASET_CONFIGS of OAL@6601954b975d0d676c5d63681c041394ee231b3b
#: :scripts/longform_job_utils.sh, which the migrate-longform-to-hf-jobs launchers source;
#: in-index, open PR #191). A revision names a commit of one repository, so the pin belongs to
#: the path, whichever entry reads it; `batch` reads a pinned path at its pin unless
#: `--revision` says otherwise
PINNED_REVISIONS = {
    LONGFORM_PATH: "d6797370d3189c618e722721ab5b6c9be78c022c",
    TEDLIUM_LONGFORM_PATH: "ea3a78479fb5337761f359abcd4e883d2d6e3c5b",
    CORAAL_PATH: "76417d96197aa8bfa419eb5cc7637dab2f75cba0",
}


def pinned_revision(path: str) -> str | None:
    """The revision the board reads the hub id `path` at, None when it pins none."""
    return PINNED_REVISIONS.get(path)


#: scoring family of Monsoon hi: OIWER over the reference lattice (`scoring/oiwer.py`)
OIWER = "oiwer"


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "esb",
            ESB_PATH,
            "the seed's 8 English splits (run_api.sh's default)",
            (
                SuiteEntry("ami"),
                SuiteEntry("earnings22"),
                SuiteEntry("gigaspeech"),
                SuiteEntry("librispeech", "test.clean"),
                SuiteEntry("librispeech", "test.other"),
                SuiteEntry("spgispeech"),
                SuiteEntry("tedlium"),
                SuiteEntry("voxpopuli"),
            ),
        ),
        Suite(
            "leaderboard",
            LEADERBOARD_PATH,
            "today's English board: cleaned configs, the chunked Earnings22 and Monsoon en-IN",
            (
                SuiteEntry("ami_cleaned", name="ami"),
                SuiteEntry(
                    "earnings22_cleaned_aa_chunked",
                    path=EARNINGS22_CHUNKED,
                    name="earnings22",
                    parent_path=EARNINGS22_PARENT,
                ),
                SuiteEntry("gigaspeech_cleaned", name="gigaspeech"),
                SuiteEntry("librispeech", "test.clean"),
                SuiteEntry("librispeech", "test.other"),
                SuiteEntry("spgispeech"),
                SuiteEntry("voxpopuli_cleaned_aa", name="voxpopuli"),
                # its own repository, no config: `..._DATASET_VoiceArena-Monsoon_en_IN_test__test`
                SuiteEntry("", path=MONSOON_EN_IN_PATH, name="monsoon_en_in"),
            ),
        ),
        Suite(
            "longform",
            LONGFORM_PATH,
            "whole recordings of 15-100+ minutes, one request each",
            (
                SuiteEntry("earnings21"),
                SuiteEntry("earnings22"),
                SuiteEntry("default", path=TEDLIUM_LONGFORM_PATH, name="tedlium"),
                *(SuiteEntry(c, path=CORAAL_PATH, name="coraal") for c in CORAAL_SUBSETS),
            ),
        ),
        Suite(
            "multilingual",
            MULTILINGUAL_PATH,
            "FLEURS, MCV and MLS in de, fr, it, es, pt, nl; FLEURS and MCV 26 in hy; Monsoon hi",
            (
                *(
                    SuiteEntry(c, family=MULTILINGUAL, language=c.rsplit("_", 1)[1])
                    for c in MULTILINGUAL_CONFIGS
                ),
                *(
                    SuiteEntry(c, path=ARMENIAN_PATH, family=MULTILINGUAL, language="hy")
                    for c in ("fleurs_hy", "mcv26_hy")
                ),
                SuiteEntry("", path=MONSOON_HI_PATH, family=OIWER, language="hi", name="monsoon"),
            ),
        ),
    )
}
DEFAULT_SUITE = "esb"


def get_suite(name: str | None) -> Suite:
    """The suite called `name` (the default when None or empty)."""
    key = (name or DEFAULT_SUITE).strip()
    try:
        return SUITES[key]
    except KeyError:
        raise ConfigError(
            f"unknown suite {key!r} in SUITE/--suite; suites: {', '.join(SUITES)} "
            "(asyncbench suites lists their entries)"
        ) from None


def suite_for(name: str | None, dataset_path: str | None) -> Suite:
    """The suite a batch or estimate runs: `--suite` when given; else, for a local folder of
    your own (`folder_suite`), that folder's configs and splits; else the default suite."""
    if name is None and dataset_path:
        own = folder_suite(dataset_path)
        if own is not None:
            return own
    return get_suite(name)


def folder_suite(dataset_path: str) -> Suite | None:
    """A suite of a local folder's own configs × splits, in its card's order and language,
    when the card names none of the default suite's configs (a set `dataset make` wrote, or
    any set of your own); None for anything else (a hub id, a local copy of the board's
    sets, a folder without a readable card). So `batch` and `estimate` work on your own set
    with `--dataset_path` alone."""
    import os
    from pathlib import Path

    from asyncbench.sources.parquet_split import card_language, read_card

    folder = Path(dataset_path).expanduser()
    if not os.path.isdir(folder):
        return None
    card = read_card(folder)
    configs = card.get("configs") if card else None
    if not isinstance(configs, list):
        return None
    pairs: list[tuple[str, str]] = []
    for entry in configs:
        if not isinstance(entry, dict) or not isinstance(entry.get("config_name"), str):
            return None
        files = entry.get("data_files")
        splits = [f.get("split") for f in files] if isinstance(files, list) else []
        if not splits or not all(isinstance(f, dict) for f in files):
            return None
        pairs += [(entry["config_name"], str(split)) for split in splits]
    board = {e.config for e in SUITES[DEFAULT_SUITE].entries}
    if not pairs or any(config in board for config, _ in pairs):
        return None
    language = card_language(dataset_path) or "en"
    family = ENGLISH if language == "en" else MULTILINGUAL
    return Suite(
        "folder",
        dataset_path,
        f"the configs and splits of {folder.name}",
        tuple(SuiteEntry(c, sp, family=family, language=language) for c, sp in pairs),
    )


def select(suite: Suite, spec: str | None) -> list[SuiteEntry]:
    """`"ami librispeech:test.clean"` → those entries of `suite`, in the suite's order.

    Items are separated by spaces or commas. An item names an entry by its short name or its
    config (`ami` or `ami_cleaned`); a bare name takes all of its splits (`librispeech` is
    test.clean and test.other, `coraal` every CORAAL subset), `name:split` or `name/split`
    one, and `name:split:path` (the board's form) that entry read from another dataset path
    (a hub id or a folder). Nothing given: the whole suite."""
    if spec is None or not spec.strip():
        return list(suite.entries)
    from dataclasses import replace

    from asyncbench.core.endpoint_spec import split_list

    chosen: dict[int, SuiteEntry] = {}
    for item in split_list(spec):
        path = None
        if item.count(":") >= 2:
            name, split, path = item.split(":", 2)
            sep = ":"
        else:
            name, sep, split = item.replace("/", ":").partition(":")
        named = [(i, e) for i, e in enumerate(suite.entries) if name in (e.config, e.name)]
        matches = [(i, e) for i, e in named if not sep or e.split == split]
        if not matches or (path is not None and not path.strip()):
            hint = _hint(suite, name, [e for _, e in named])
            raise ConfigError(f"unknown dataset {item!r} in DATASETS/--datasets; {hint}")
        for i, e in matches:
            chosen[i] = replace(e, path=path.strip()) if path is not None else e
    return [chosen[i] for i in sorted(chosen)]


def _hint(suite: Suite, name: str, named: Sequence[SuiteEntry]) -> str:
    if named:
        return f"{name} has split(s) {', '.join(e.split for e in named)}"
    labels = ", ".join(dict.fromkeys(e.label for e in suite.entries))
    elsewhere = [
        other.name
        for other in SUITES.values()
        if other is not suite and any(name in (e.config, e.name, e.label) for e in other.entries)
    ]
    also = f" ({name} is in suite {elsewhere[0]}: add --suite {elsewhere[0]})" if elsewhere else ""
    if suite.name == DEFAULT_SUITE:
        return f"the 8 splits are of {labels}{also}"
    return f"suite {suite.name} has {labels}{also}"


def describe(suite: Suite) -> list[str]:
    """`asyncbench suites`: the suite's line, then one line per entry."""
    lines = [f"{suite.name}: {len(suite.entries)} splits, {suite.description}"]
    for e in suite.entries:
        where = e.dataset_path(suite.path)
        bits = [f"{e.family}/{e.language}"]
        if e.name:
            bits.append(f"--datasets {e.name}")
        if e.parent_path:
            bits.append(f"chunked, references from {e.parent_path}")
        if revision := pinned_revision(where):
            bits.append(f"revision {revision[:12]}")
        lines.append(f"  {where} {e.config_shown}/{e.split}  ({'; '.join(bits)})")
    return lines


def local_copy(path: str, data_root: str | None, *, what: str = "dataset") -> str:
    """Where to read `path` from: with `--data_root`, hub id `owner/name` is the folder
    `<data_root>/owner/name` (a local copy of the hub's layout); results files and messages
    keep the hub id. Paths that already name a folder, and every path without a data root,
    are read as they are. A copy that is not there is an error naming the path tried."""
    if not data_root:
        return path
    from pathlib import Path

    from asyncbench.sources.dataset import _looks_local

    if _looks_local(path):
        return path
    tried = Path(data_root).expanduser() / path.strip("/")
    if not tried.is_dir():
        raise ConfigError(
            f"{what} {path} is missing locally: tried {tried} (--data_root/DATA_ROOT)"
        )
    return str(tried)
