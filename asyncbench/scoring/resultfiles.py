"""Finding and reading results files: ours, the leaderboard's and the seed's.

All three are JSON Lines with `text`, `pred_text`, `duration` and `time`; ours add `id`,
`status`, `error_kind` and friends. The files of a sharded run (`X.shard-0-of-4.jsonl`, ...)
are one dataset: they are grouped and read as one file, merged by sample id. A file is read
whole and never trusted: a line that cannot be scored is reported with its file and line
number and left out, and the rest of the file is still scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from asyncbench.core.errors import ConfigError
from asyncbench.core.model_names import model_id_of_slug
from asyncbench.core.shard import SHARD_SUFFIX, strip_shard

STATUSES = ("ok", "skipped_short", "failed")


@dataclass(frozen=True, slots=True)
class Sample:
    """One scored sample: the last line written for its id."""

    reference: str
    prediction: str  # "" for a failed sample: the leaderboard counts it as all deletions
    status: str  # "ok" | "skipped_short" | "failed"; foreign lines count as "ok"
    error_kind: str | None
    duration: float | None
    time: float | None
    ours: bool  # written by asyncbench (has `status`), not by the leaderboard or the seed
    parent_id: str | None = None  # a chunk of a long recording (leaderboard's Earnings22)
    chunk_index: int | None = None
    # our files only, for reports over time: when the answer came (epoch s), where, tries
    t_end: float | None = None
    endpoint: str | None = None
    attempts: int | None = None
    # which utterance: our `id`, else the leaderboard's `audio_filepath` (the report names it)
    sample_id: str | None = None

    @property
    def hit_the_api(self) -> bool:
        """Whether this line's `time` is a real request time, so it belongs in RTFx.
        Failed requests never returned a transcript and skipped clips were never sent."""
        return self.status == "ok"


@dataclass(slots=True)
class ResultFile:
    """What one results file holds once read."""

    path: Path
    samples: list[Sample] = field(default_factory=list)
    n_lines: int = 0  # non-blank lines, including bad and superseded ones
    n_superseded: int = 0  # lines replaced by a later line with the same id
    problems: list[str] = field(default_factory=list)  # "path:line: what is wrong"


def find_result_files(directory: str | Path, model_id: str | None = None) -> list[Path]:
    """Every `*.jsonl` under `directory`, sorted, optionally only one model's (the
    leaderboard's rule: a `MODEL_<id>_DATASET_` file name or a `<id>` folder, with "/" in
    the id written as "-")."""
    root = Path(directory)
    if not root.exists():
        raise ConfigError(
            f"results directory {str(directory)!r} does not exist: pass the folder your "
            "runs wrote their .jsonl files to (default ./results)"
        )
    if not root.is_dir():
        raise ConfigError(
            f"{str(directory)!r} is a file, not a directory: pass the folder that holds "
            "the results files"
        )
    files = sorted(p for p in root.rglob("*.jsonl") if p.is_file())
    if model_id:
        slug = model_id.replace("/", "-")
        files = [
            p
            for p in files
            if f"MODEL_{slug}_DATASET_" in p.name or slug in p.relative_to(root).parts[:-1]
        ]
        if not files:
            raise ConfigError(
                f"no results files for model {model_id!r} under {str(directory)!r}: "
                f"expected names like MODEL_{slug}_DATASET_<dataset>.jsonl; check --model "
                "(run without it to score every model found)"
            )
    elif not files:
        raise ConfigError(
            f"no results files (*.jsonl) under {str(directory)!r}: run a benchmark first, "
            "or pass the folder that holds the results"
        )
    return files


def parse_result_name(path: Path) -> tuple[str, str] | None:
    """(model id, dataset id) from `MODEL_<model>_DATASET_<dataset>.jsonl`, or None.

    As on the leaderboard, the first "-" of the model part becomes "/" (so
    "elevenlabs-scribe_v1" reads as "elevenlabs/scribe_v1"; asyncbench's own hyphenated
    prefixes are kept whole: "deepgram-live-nova-3" is "deepgram-live/nova-3"), and the
    dataset id is the rest of the name without ".jsonl" (the seed stripped characters instead
    of the suffix and printed "test.clean" as "test.clea").
    """
    name = path.name
    start = name.find("MODEL_")
    split = name.find("_DATASET_", start)
    if start < 0 or split < 0:
        return None
    model_id = model_id_of_slug(name[start + len("MODEL_") : split])
    return model_id, strip_shard(name[split + len("_DATASET_") :].removesuffix(".jsonl"))


def group_shards(paths: Sequence[Path]) -> list[tuple[Path, ...]]:
    """One group per dataset: a file alone, or all the shard files of one split (same
    folder, same name but for `.shard-i-of-n`), in the order of `paths`."""
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path in paths:
        stem = path.name.removesuffix(".jsonl")
        key = (path.parent, strip_shard(stem) if SHARD_SUFFIX.search(stem) else path.name)
        groups.setdefault(key, []).append(path)
    return [tuple(group) for group in groups.values()]


def _number(record: dict, key: str) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key!r} must be a number of seconds, got {value!r}")
    return float(value)


def _sample(record: object) -> Sample:
    """One line as a Sample; ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    reference = _reference(record)
    prediction = record.get("pred_text")
    if prediction is None:
        prediction = ""
    elif not isinstance(prediction, str):
        raise ValueError(f"'pred_text' must be a string or null, got {prediction!r}")
    ours = "status" in record
    status = record["status"] if ours else "ok"
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (expected one of {', '.join(STATUSES)})")
    error_kind = record.get("error_kind")
    if status == "failed":
        prediction = ""
        error_kind = str(error_kind) if error_kind else "unknown"
    parent_id = record.get("parent_id")
    chunk_index = record.get("chunk_index")
    if parent_id is not None and (
        isinstance(chunk_index, bool) or not isinstance(chunk_index, int)
    ):
        raise ValueError(f"'chunk_index' must be an integer, got {chunk_index!r}")
    return Sample(
        reference=reference,
        prediction=prediction,
        status=status,
        error_kind=error_kind if status == "failed" else None,
        duration=_number(record, "duration"),
        time=_number(record, "time"),
        ours=ours,
        parent_id=None if parent_id is None else str(parent_id),
        chunk_index=chunk_index if parent_id is not None else None,
        t_end=_number(record, "t_end"),
        endpoint=endpoint if isinstance(endpoint := record.get("endpoint"), str) else None,
        attempts=attempts if isinstance(attempts := record.get("attempts"), int) else None,
        sample_id=_sample_id(record),
    )


def _reference(record: dict) -> str:
    """The reference text; for a lattice (the board's OIWER sets: a `reference_lists` field,
    or `text` holding the list itself) its JSON text, which the OIWER scorer reads back."""
    lattice = record.get("reference_lists")
    if lattice is None and isinstance(record.get("text"), list):
        lattice = record["text"]
    if lattice is not None:
        if not isinstance(lattice, list) or not all(
            isinstance(slot, list) and slot and all(isinstance(v, str) for v in slot)
            for slot in lattice
        ):
            raise ValueError(
                "'reference_lists' (a reference lattice) must be a list of non-empty lists "
                "of strings"
            )
        return orjson.dumps(lattice).decode()
    reference = record.get("text")
    if not isinstance(reference, str):
        raise ValueError(f"'text' (the reference) must be a string, got {reference!r}")
    return reference


def _sample_id(record: dict) -> str | None:
    value = record.get("id", record.get("audio_filepath"))
    return None if value is None else str(value)


def read_result_file(path: Path) -> ResultFile:
    """Read every line; later lines with the same `id` replace earlier ones (a resumed run
    appends the new outcome), lines without an `id` (foreign files) all count."""
    return read_result_files((path,))


def read_result_files(paths: Sequence[Path]) -> ResultFile:
    """Several files read as one, merged by `id` (the shards of one split): a sample in two
    files (shards of two different splittings) counts once, its last line read winning."""
    result = ResultFile(paths[0])
    by_id: dict[str, int] = {}
    for path in paths:
        _read_lines(path, result, by_id)
    if result.samples and all(s.parent_id is not None for s in result.samples):
        result.samples = _merge_chunks(result.samples, paths[0], result.problems)
    return result


def _read_lines(path: Path, result: ResultFile, by_id: dict[str, int]) -> None:
    try:
        raw = path.read_bytes()
    except OSError as e:
        result.problems.append(f"{path}: cannot read the file ({e.strerror or e})")
        return
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        result.n_lines += 1
        try:
            record = orjson.loads(line)
            sample = _sample(record)
        except orjson.JSONDecodeError:
            result.problems.append(f"{path}:{number}: not valid JSON; line skipped")
            continue
        except ValueError as e:
            result.problems.append(f"{path}:{number}: {e}; line skipped")
            continue
        sample_id = record.get("id")
        if sample_id is None:
            result.samples.append(sample)
            continue
        key = str(sample_id)
        if key in by_id:
            result.samples[by_id[key]] = sample
            result.n_superseded += 1
        else:
            by_id[key] = len(result.samples)
            result.samples.append(sample)


def _sum_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v or 0.0 for v in values)


def _merge_chunks(chunks: list[Sample], path: Path, problems: list[str]) -> list[Sample]:
    """One sample per recording, as the leaderboard scores its chunked sets: predictions
    joined in chunk order against the recording's reference (repeated on every chunk),
    durations and times summed."""
    sessions: dict[str, list[Sample]] = {}
    for chunk in chunks:
        sessions.setdefault(str(chunk.parent_id), []).append(chunk)
    merged = []
    for parent_id in sorted(sessions):
        parts = sorted(sessions[parent_id], key=lambda c: c.chunk_index or 0)
        indices = [c.chunk_index for c in parts]
        if indices != list(range(len(parts))):
            problems.append(
                f"{path}: recording {parent_id!r} has chunks {indices}, not 0..{len(parts) - 1}: "
                "missing chunks count as deletions"
            )
        failed = [c for c in parts if c.status == "failed"]
        # a recording is ok when any chunk was sent and none failed: a chunk skipped as too
        # short (which may well be the first) must not make a whole call "skipped"
        status = (
            "failed"
            if failed
            else ("ok" if any(c.status == "ok" for c in parts) else parts[0].status)
        )
        merged.append(
            Sample(
                reference=parts[0].reference,
                prediction=" ".join(p for c in parts if (p := c.prediction.strip())),
                status=status,
                error_kind=failed[0].error_kind if failed else None,
                duration=_sum_or_none([c.duration for c in parts]),
                time=_sum_or_none([c.time for c in parts]),
                ours=parts[0].ours,
                sample_id=parts[0].parent_id,  # the recording the chunks belong to
            )
        )
    return merged
