"""`asyncbench dataset make`: a folder of your own audio and transcripts → a hub-layout set.

Every other command reads a hub id or a local folder with the hub's layout (README card with
`configs:` and `dataset_info`, parquet with the audio bytes), so the way to benchmark your own
recordings is to write them in that layout once; then run, score, estimate and batch work on
them unchanged. The transcripts may come as the tools around ASR keep them:

- a table, `.tsv` / `.csv` / `.jsonl` (or a NeMo manifest, JSON lines with `audio_filepath`),
  with a file column and a text column (see `FILE_COLUMNS` and `TEXT_COLUMNS`);
- Kaldi's `text` (`utt transcript`) and `wav.scp` (`utt path`);
- a `.txt` beside each audio file, with the same stem.

Audio is kept as the file's own bytes (no re-encode, no loss) after torchcodec, which reads
anything FFmpeg reads, has decoded it once: that proves the run will be able to, and measures
`audio_length_s`. Rows that cannot be used (audio missing or undecodable, transcript missing
or empty, a duplicate id, a malformed line) are never dropped silently: each becomes a
`BadRow` that the command lists and writes to `skipped.tsv` beside the set.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError
from asyncbench.core.text import one_line, text_cell

__all__ = ["BadRow", "Entry", "Made", "find_entries", "make_dataset"]

#: extensions taken for audio when looking for files without a transcript (FFmpeg reads more;
#: a table may name any file, this list only decides what counts as "audio left over")
AUDIO_EXTENSIONS = frozenset(
    ".wav .flac .mp3 .ogg .opus .m4a .aac .wma .webm .mp4 .amr .aiff .aif .au .caf .mka "
    ".sph .spx .3gp".split()
)
#: a table's audio column, first one present wins (NeMo says audio_filepath, the hub file_name)
FILE_COLUMNS = ("file", "file_name", "filename", "audio_filepath", "audio", "path", "wav")
#: a table's transcript column, first one present wins (the loader's own list, plus Kaldi-ish)
TEXT_COLUMNS = ("text", "sentence", "normalized_text", "transcript", "transcription")
TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json")
SKIPPED_NAME = "skipped.tsv"
CARD_MARK = "Made by asyncbench dataset make"  # the card's title: a folder this command wrote
_NUM = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class Entry:
    """One transcript line found in the source: which audio file, which text, which id."""

    id: str
    audio: Path | None
    text: str | None
    where: str  # for messages: `list.tsv line 4`, `a/b.txt`, `wav.scp utt7`


@dataclass(frozen=True, slots=True)
class BadRow:
    where: str
    reason: str

    def line(self) -> str:
        return f"skipped {one_line(self.where, 200)}: {one_line(self.reason, 200)}"


@dataclass(slots=True)
class Made:
    """What `make_dataset` wrote: the folder, its config/split, the rows kept and skipped."""

    out: Path
    config: str
    split: str
    kind: str  # which transcript format was read
    rows: int = 0
    seconds: float = 0.0
    bad: list[BadRow] = field(default_factory=list)


# --------------------------------------------------------------------------- reading sources


def _pick(columns: Iterable[str], wanted: tuple[str, ...]) -> str | None:
    lower = {c.strip().lower(): c for c in columns if isinstance(c, str)}
    return next((lower[w] for w in wanted if w in lower), None)


def _table_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row) for each row of a table; a row that cannot be read is its reason."""
    if path.suffix.lower() in (".jsonl", ".json"):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    yield n, f"not a JSON object ({exc.msg})"
                    continue
                yield n, row if isinstance(row, dict) else "not a JSON object"
        return
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        header = [c for c in reader.fieldnames or [] if c]
        for what, wanted in (("file", FILE_COLUMNS), ("text", TEXT_COLUMNS)):
            if _pick(header, wanted) is None:  # the whole table, not each row, is wrong
                shown = ", ".join(one_line(c, 40) for c in header[:12]) or "none"
                raise ConfigError(
                    f"{one_line(path.name, 200)} has no {what} column (one of "
                    f"{', '.join(wanted)}) in its header line; columns found: {shown}"
                )
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}


def _table_entries(path: Path) -> tuple[list[Entry], list[BadRow]]:
    entries: list[Entry] = []
    bad: list[BadRow] = []
    base = path.parent
    for n, row in _table_rows(path):
        where = f"{path.name} line {n}"
        if isinstance(row, str):
            bad.append(BadRow(where, row))
            continue
        file_col = _pick(row, FILE_COLUMNS)
        text_col = _pick(row, TEXT_COLUMNS)
        value = row.get(file_col) if file_col else None
        if isinstance(value, dict):  # a hub-style {"path": ...} cell
            value = value.get("path")
        if not isinstance(value, str) or not value.strip():
            bad.append(BadRow(where, f"no audio file column (one of {', '.join(FILE_COLUMNS)})"))
            continue
        audio = Path(value.strip()).expanduser()
        audio = audio if audio.is_absolute() else base / audio
        text = row.get(text_col) if text_col else None
        entries.append(
            Entry(_id_for(audio, base), audio, text if isinstance(text, str) else None, where)
        )
    return entries, bad


def _kaldi_entries(folder: Path) -> tuple[list[Entry], list[BadRow]]:
    """Kaldi's `text` and `wav.scp`, joined on the utterance id. A `wav.scp` line that is a
    command (`... |`) is listed: it names no file to read."""
    bad: list[BadRow] = []
    texts: dict[str, str] = {}
    for line in (folder / "text").read_text("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        utt, _, words = line.strip().partition(" ")
        texts[utt] = words.strip()
    entries: list[Entry] = []
    seen: set[str] = set()
    scp = (folder / "wav.scp").read_text("utf-8", "replace").splitlines()
    for n, line in enumerate(scp, 1):
        if not line.strip():
            continue
        utt, _, target = line.strip().partition(" ")
        target = target.strip()
        where = f"wav.scp line {n} ({utt})"
        seen.add(utt)
        if not target:
            bad.append(BadRow(where, "no audio path after the utterance id"))
            continue
        if target.endswith("|"):
            bad.append(BadRow(where, "a command pipe, not a file; write the audio to a file"))
            continue
        audio = Path(target).expanduser()
        audio = audio if audio.is_absolute() else folder / audio
        entries.append(Entry(utt, audio, texts.get(utt), where))
    for utt in texts:
        if utt not in seen:
            bad.append(BadRow(f"text ({utt})", "transcript without audio in wav.scp"))
    return entries, bad


def _sidecar_entries(folder: Path) -> tuple[list[Entry], list[BadRow]]:
    """`a/b.wav` + `a/b.txt`; every audio file is an entry, with or without its text, and a
    `.txt` with no audio of its stem is listed (a renamed or forgotten clip)."""
    entries = []
    used: set[Path] = set()
    for audio in _audio_files(folder):
        txt = audio.with_suffix(".txt")
        text = txt.read_text("utf-8", "replace").strip() if txt.is_file() else None
        used.add(txt)
        entries.append(Entry(_id_for(audio, folder), audio, text, str(audio.relative_to(folder))))
    bad = [
        BadRow(str(txt.relative_to(folder)), "transcript without audio of the same name")
        for txt in sorted(folder.rglob("*.txt"))
        if txt not in used and not any(p.startswith(".") for p in txt.relative_to(folder).parts)
    ]
    return entries, bad


def _audio_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in AUDIO_EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _id_for(audio: Path, base: Path) -> str:
    """The file's path under the source, without extension: stable, unique within a set."""
    try:
        rel = audio.resolve().relative_to(base.resolve())
    except ValueError:
        rel = Path(audio.name)
    return rel.with_suffix("").as_posix()


def find_entries(src: Path) -> tuple[str, list[Entry], list[BadRow]]:
    """(format, entries, rows already bad) for a source: a table file, or a folder holding
    Kaldi files, one table, or audio with `.txt` beside it."""
    if not src.exists():
        raise ConfigError(f"source {str(src)!r} does not exist; give a folder of audio files")
    if src.is_file():
        if src.suffix.lower() not in TABLE_SUFFIXES:
            raise ConfigError(
                f"source {one_line(src, 200)!r} is a file but not a transcript table "
                f"({', '.join(TABLE_SUFFIXES)}); give it or the folder holding the audio"
            )
        entries, bad = _table_entries(src)
        return _table_kind(src, entries), entries, bad + _leftovers(src.parent, entries)
    if (src / "text").is_file() and (src / "wav.scp").is_file():
        entries, bad = _kaldi_entries(src)
        return "kaldi", entries, bad
    tables = sorted(p for p in src.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
    if len(tables) > 1:
        names = ", ".join(one_line(p.name, 200) for p in tables)
        raise ConfigError(
            f"{one_line(src, 200)} holds several transcript tables ({names}); pass the "
            "one to use as SRC"
        )
    if tables:
        entries, bad = _table_entries(tables[0])
        return _table_kind(tables[0], entries), entries, bad + _leftovers(src, entries)
    entries, bad = _sidecar_entries(src)
    if not entries:
        raise ConfigError(
            f"no audio files in {one_line(src, 200)} and no transcripts (a .tsv/.csv/"
            ".jsonl table, a NeMo manifest, Kaldi text + wav.scp, or a .txt beside each file)"
        )
    return "txt beside audio", entries, bad


def _table_kind(path: Path, entries: list[Entry]) -> str:
    if path.suffix.lower() in (".json", ".jsonl"):
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                first = json.loads(next(line for line in fh if line.strip()))
        except (StopIteration, ValueError):
            first = None
        if isinstance(first, dict) and "audio_filepath" in first:
            return "NeMo manifest"
        return "JSONL"
    return path.suffix.lower().lstrip(".").upper()


def _leftovers(folder: Path, entries: list[Entry]) -> list[BadRow]:
    """Audio files under the table's folder that no row names: listed, so a file left out of
    the table (a typo in its name, a forgotten line) does not vanish from the set unseen."""
    named = {e.audio.resolve() for e in entries if e.audio is not None}
    return [
        BadRow(str(p.relative_to(folder)), "no transcript: the table has no row for this file")
        for p in _audio_files(folder)
        if p.resolve() not in named
    ]


# --------------------------------------------------------------------------- writing the set


def _measure(entry: Entry) -> float | str:
    """The clip's duration in seconds, or why it cannot be used. Its bytes are not kept:
    the set is written later, a row group at a time, so memory does not grow with it."""
    assert entry.audio is not None
    try:
        data = entry.audio.read_bytes()
    except FileNotFoundError:
        return "audio file not found"
    except IsADirectoryError:
        return "audio path is a folder"
    except OSError as exc:
        return f"cannot read audio: {exc.strerror}"
    if not data:
        return "cannot decode audio: the file is empty"
    try:
        from torchcodec.decoders import AudioDecoder

        # as a run will decode it (16 kHz mono), which also bounds the memory of a long file
        samples = AudioDecoder(data, sample_rate=16000, num_channels=1).get_all_samples()
    except Exception as exc:  # torchcodec raises RuntimeError/ValueError for what FFmpeg rejects
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = re.sub(r"^\w+, \S+:\d+, ", "", reason)  # torchcodec's source-location prefix
        return f"cannot decode audio: {reason[:160]}"
    seconds = samples.data.shape[-1] / samples.sample_rate
    if seconds <= 0:
        return "cannot decode audio: no samples"
    return seconds


def make_dataset(
    src: Path,
    out: Path,
    *,
    config: str = "default",
    split: str = "test",
    language: str | None = None,
    workers: int | None = None,
) -> Made:
    """Read `src`, decode every clip once, write `out` in the hub layout; returns what was
    kept and what was skipped (also written to `out/skipped.tsv`). Raises ConfigError when
    nothing usable is left, or `out` is not a folder this command may write."""
    from asyncbench.core.languages import check_code
    from asyncbench.sources.hub_layout import write_split_streamed

    lang = check_code(language, "--language") if language else None
    for kind_name, value in (("--config", config), ("--split", split)):
        if not re.fullmatch(r"\w+(\.\w+)*", value):
            raise ConfigError(
                f"{kind_name} {one_line(value, 200)!r} must be letters, digits and _ "
                "(dots between words allowed), e.g. default or test"
            )
    _check_out(out, src)
    kind, entries, bad = find_entries(src)
    usable: list[Entry] = []
    seen: dict[str, str] = {}
    for e in entries:
        if e.text is None:
            bad.append(BadRow(e.where, "no transcript"))
        elif not e.text.strip():
            bad.append(BadRow(e.where, "empty transcript"))
        elif e.id in seen:
            bad.append(BadRow(e.where, f"duplicate id {e.id!r} (first at {seen[e.id]})"))
        else:
            seen[e.id] = e.where
            usable.append(e)
    workers = workers or min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataset-make") as pool:
        measured = list(pool.map(_measure, usable))
    made = Made(out, config, split, kind)
    good: list[tuple[Entry, float]] = []
    for e, got in zip(usable, measured, strict=True):
        if isinstance(got, str):
            bad.append(BadRow(e.where, got))
        else:
            good.append((e, got))
            made.seconds += got
    made.rows = len(good)
    # in the order a person reads the source: by file, then line (`line 9` before `line 10`)
    made.bad = sorted(
        bad, key=lambda b: [int(t) if t.isdigit() else t for t in _NUM.split(b.where)]
    )
    if not good:
        raise ConfigError(
            f"no usable rows in {one_line(src, 200)} ({len(bad)} skipped"
            + (f"; first: {made.bad[0].line()[8:]}" if made.bad else "")
            + ")"
        )
    good.sort(key=lambda g: -g[1])  # longest first, like the hub's sets (stable)
    write_split_streamed(
        out,
        config,
        split,
        _row_batches(good, config),
        sampling_rate=None,
        title=f"{CARD_MARK} from {kind}",
        language=lang,
    )
    _write_skipped(out, made.bad)
    return made


def _row_batches(good: list[tuple[Entry, float]], config: str) -> Iterator[list[dict[str, Any]]]:
    """The rows, a parquet row group at a time, each clip's bytes read when its group is
    written."""
    from asyncbench.sources.hub_layout import ROWS_PER_GROUP, audio_cell

    for start in range(0, len(good), ROWS_PER_GROUP):
        batch = []
        for e, seconds in good[start : start + ROWS_PER_GROUP]:
            assert e.audio is not None and e.text is not None
            try:
                data = e.audio.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read {one_line(e.audio, 200)} again ({exc.strerror}): did "
                    "it change while the set was made? run the command again"
                ) from None
            batch.append(
                {
                    "audio": audio_cell(data, e.audio.name),
                    "dataset": config,
                    "text": " ".join(e.text.split()),
                    "id": e.id,
                    "audio_length_s": round(seconds, 6),
                }
            )
        yield batch


def _check_out(out: Path, src: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {one_line(out, 200)} is a file; give a folder")
    if out.exists() and src.exists() and out.resolve() == src.resolve():
        raise ConfigError("--out must not be the source folder; give a new folder")
    if out.is_dir() and any(out.iterdir()) and not _made_here(out):
        raise ConfigError(
            f"--out {one_line(out, 200)} is a folder with other files in it; give a new "
            "or empty folder (or one this command wrote before, to rewrite it)"
        )


def _made_here(out: Path) -> bool:
    """Whether `out` is a set this command wrote (its card says so): only such a folder is
    rewritten, never someone's project with a README.md of its own."""
    try:
        return CARD_MARK in (out / "README.md").read_text("utf-8", "replace")
    except OSError:
        return False


def _write_skipped(out: Path, bad: list[BadRow]) -> None:
    """`skipped.tsv`: a table for a person to work through, often in a spreadsheet, so each
    cell is `text_cell`'s (a file name's newline, ESC or bidi override shown as an escape, one
    row per skipped file; a name like `=HYPERLINK(...)` shown, not run; a name's byte that is
    not UTF-8, a lone surrogate here, shown as `\\udcff` instead of failing the write)."""
    path = out / SKIPPED_NAME
    if not bad:
        path.unlink(missing_ok=True)
        return
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["where", "reason"])
        writer.writerows([text_cell(b.where), text_cell(b.reason)] for b in bad)
