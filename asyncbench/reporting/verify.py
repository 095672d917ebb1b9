"""`asyncbench verify RESULTS_DIR [--dataset_path P]`: could a board maintainer accept this?

A results folder is a claim: "this model, on these samples of this dataset, scored this". The
claim holds only if every run in it is whole and traceable, so each run (a results file, or the
shard files of one split) is checked against its sidecar and, when a dataset is given, against
the dataset itself:

- coverage: every expected sample finished (the denominator is the sidecar's, never the
  file's own line count; a run whose size nothing recorded cannot be accepted);
- duplicates: no sample id on more than one line; no line the scorer cannot read;
- failures: no sample ended failed (the board counts it as an empty transcript);
- foreign or changed samples (with `--dataset_path`): every id is one of the dataset's, and
  each line's audio and reference digests match the dataset's now;
- provenance: the sidecar names tool version, scoring, dataset identity and size, provider,
  model, endpoints, language, command, start and end;
- scores recomputed: WER is scored again from the lines, and must equal what the run's
  `.summary.json` printed when there is one.

One table, one row per run, a verdict per row; exit 0 only when every row is accepted.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from asyncbench.core.errors import ConfigError

#: sidecar keys a submission must have, with a value
REQUIRED = (
    "tool_version",
    "scoring",
    "dataset",
    "provider",
    "model_name",
    "endpoints",
    "language",
    "command",
    "started_at",
    "ended_at",
)
#: exit code when the folder is readable but some run could not be accepted
NOT_ACCEPTED = 1
_WIDTH = 48  # longest cell of outside text shown (names, ids) before it is cut


def clean(text: object, width: int = _WIDTH) -> str:
    """Outside text as one safe cell: control characters shown as `?`, long text cut."""
    s = "".join(c if c.isprintable() else "?" for c in str(text))
    return s if len(s) <= width else s[: width - 1] + "…"


@dataclass
class RunCheck:
    """What verify found for one run."""

    label: str
    model: str = "?"
    dataset: str = "?"
    done: int = 0
    expected: int | None = None
    duplicates: int = 0
    bad_lines: int = 0
    failed: int = 0
    foreign: int | None = None  # None: no dataset to compare with
    changed: int | None = None
    missing: list[str] = field(default_factory=list)  # provenance keys absent
    wer: float | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.reasons

    def coverage(self) -> str:
        total = "?" if self.expected is None else str(self.expected)
        return f"{self.done}/{total}"


def provenance_gaps(meta: dict[str, Any]) -> list[str]:
    """The provenance a sidecar lacks (empty when complete)."""
    if not meta:
        return ["sidecar"]
    gaps = [k for k in REQUIRED if meta.get(k) in (None, "", [], {})]
    dataset = meta.get("dataset")
    if isinstance(dataset, dict):
        if dataset.get("rows") is None:
            gaps.append("dataset.rows")
        if dataset.get("fingerprint") is None and dataset.get("revision") is None:
            gaps.append("dataset identity")
    return gaps


def _line_ids(files: tuple[Path, ...]) -> tuple[Counter[str], dict[str, dict[str, Any]]]:
    """How often each id appears, and the last line of each (for its digests)."""
    seen: Counter[str] = Counter()
    last: dict[str, dict[str, Any]] = {}
    for path in files:
        for raw in path.read_bytes().splitlines():
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("id") is not None:
                sid = str(obj["id"])
                seen[sid] += 1
                last[sid] = obj
    return seen, last


def dataset_digests(dataset_path: str, config: str, split: str) -> dict[str, tuple]:
    """id → (audio digest, reference digest) of the split as it is now."""
    from asyncbench.scoring import normalize
    from asyncbench.sources.dataset import iter_samples, open_split

    ds = open_split(dataset_path, config, split)
    return {
        s.id: (s.audio_sha, s.ref_sha)
        for batch in iter_samples(ds, config, split, normalize=normalize)
        for s in batch
    }


def _summary_wer(path: Path) -> float | None:
    summary = path.with_name(path.name.removesuffix(".jsonl") + ".summary.json")
    try:
        data = json.loads(summary.read_text())
    except (OSError, ValueError):
        return None
    block = data.get("wer") if isinstance(data, dict) else None
    wer = block.get("wer") if isinstance(block, dict) else None
    return float(wer) if isinstance(wer, int | float) and not isinstance(wer, bool) else None


def check_run(run: Any, dataset_path: str | None, digests_cache: dict) -> RunCheck:  # type: ignore[type-arg]
    """Every check of the module docstring for one run (`scoring.runs.Run`)."""
    from asyncbench.scoring.resultfiles import read_result_files
    from asyncbench.scoring.score import score_read_file

    meta = dict(run.meta)
    check = RunCheck(label=run.label)
    result = read_result_files(run.files)
    check.bad_lines = len(result.problems)
    if result.samples:
        score = score_read_file(result)
        check.model, check.dataset = score.model_id, score.dataset_id
        check.done, check.failed = score.n_done, score.n_failed
        check.wer = score.wer
    check.expected = run.expected_samples()
    counts, last = _line_ids(run.files)
    check.duplicates = sum(n - 1 for n in counts.values() if n > 1)
    check.missing = provenance_gaps(meta)
    if dataset_path is not None:
        ds_meta = meta.get("dataset") if isinstance(meta.get("dataset"), dict) else {}
        config, split = ds_meta.get("config"), ds_meta.get("split")
        if not config or not split:
            check.reasons.append("sidecar names no config/split to compare with the dataset")
        else:
            key = (config, split)
            if key not in digests_cache:
                digests_cache[key] = dataset_digests(dataset_path, config, split)
            now = digests_cache[key]
            check.foreign = sum(1 for sid in last if sid not in now)
            check.changed = sum(
                1
                for sid, line in last.items()
                if sid in now
                and (
                    (line.get("ref_sha") is not None and line.get("ref_sha") != now[sid][1])
                    or (
                        line.get("audio_sha") is not None
                        and now[sid][0] is not None
                        and line.get("audio_sha") != now[sid][0]
                    )
                )
            )
            if check.expected is None:
                check.expected = len(now)
    _judge(check, run.files[0])
    return check


def _judge(check: RunCheck, first: Path) -> None:
    r = check.reasons
    if check.expected is None:
        r.append("dataset size unknown (no sidecar rows; pass --dataset_path)")
    elif check.done < check.expected:
        r.append(f"{check.expected - check.done} samples not done")
    if check.failed:
        r.append(f"{check.failed} failed")
    if check.duplicates:
        r.append(f"{check.duplicates} duplicate lines")
    if check.bad_lines:
        r.append(f"{check.bad_lines} unreadable lines")
    if check.foreign:
        r.append(f"{check.foreign} samples not in the dataset")
    if check.changed:
        r.append(f"{check.changed} samples changed since they ran")
    if check.missing:
        r.append("provenance lacks " + ", ".join(check.missing))
    printed = _summary_wer(first)
    if printed is not None and check.wer is not None and round(check.wer, 2) != round(printed, 2):
        r.append(f"WER recomputed {check.wer:.2f} %, its summary says {printed:.2f} %")


def format_table(checks: list[RunCheck], root: Path) -> list[str]:
    """One row per run, then the verdict line."""
    head = ("run", "model", "coverage", "dup", "failed", "foreign", "changed", "WER %", "verdict")
    rows = []
    for c in checks:
        label = c.label
        if label.startswith(str(root) + "/"):
            label = label[len(str(root)) + 1 :]
        rows.append(
            (
                clean(label, 160),
                clean(c.model, 28),
                c.coverage(),
                str(c.duplicates),
                str(c.failed),
                "-" if c.foreign is None else str(c.foreign),
                "-" if c.changed is None else str(c.changed),
                "-" if c.wer is None else f"{c.wer:.2f}",
                "ok" if c.accepted else "NO: " + clean("; ".join(c.reasons), 200),
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    ok = sum(c.accepted for c in checks)
    verdict = "acceptable" if ok == len(checks) else "not acceptable"
    lines.append(f"verify: {ok} of {len(checks)} runs accepted; the folder is {verdict}")
    return lines


def verify(results_dir: str, dataset_path: str | None = None) -> int:
    """Check every run under `results_dir`; print the table; the exit code."""
    from asyncbench.scoring.resultfiles import find_result_files, group_shards
    from asyncbench.scoring.runs import runs_of

    root = Path(results_dir)
    looks_local = dataset_path is not None and (
        "/" not in dataset_path or dataset_path.startswith((".", "/", "~"))
    )
    if looks_local and not Path(str(dataset_path)).expanduser().exists():
        raise ConfigError(
            f"--dataset_path {dataset_path!r} does not exist: pass the dataset folder the "
            "runs read (or its hub id)"
        )
    runs = runs_of(group_shards(find_result_files(root)))
    cache: dict = {}  # type: ignore[type-arg]
    checks = [check_run(r, dataset_path, cache) for r in runs]
    print("\n".join(format_table(checks, root)))
    sys.stdout.flush()
    return 0 if all(c.accepted for c in checks) else NOT_ACCEPTED
