"""`--shard i/n`: n machines (a Slurm array, a Kubernetes indexed job, Ray tasks) split one
split between them, each taking the samples whose stable id falls in its slice
(`dataset.in_shard`: crc32 of the id, so every machine agrees without talking to the others).

Each shard writes its own results file, `<usual name>.shard-<i>-of-<n>.jsonl`, so shards never
write to one file and each resumes on its own. Scoring reads the shard files of one split as
one dataset, merged by sample id. Only `re` is imported here: the CLI and scoring use it.
"""

from __future__ import annotations

import re

from asyncbench.core.errors import ConfigError

#: the suffix a shard adds before `.jsonl`; scoring strips it to find the dataset id
SHARD_SUFFIX = re.compile(r"\.shard-(\d+)-of-(\d+)$")


def parse_shard(spec: str) -> tuple[int, int]:
    """`"2/8"` → (2, 8): shard indices count from 0, as Slurm and Kubernetes do."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not m:
        raise ConfigError(
            f"--shard {spec!r} must be I/N, e.g. 0/4 for the first of 4 shards (I counts from 0)"
        )
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1:
        raise ConfigError(f"--shard {spec!r}: N must be at least 1")
    if i >= n:
        raise ConfigError(f"--shard {spec!r}: I must be between 0 and {n - 1} (it counts from 0)")
    return i, n


def shard_file_name(name: str, shard: tuple[int, int] | None) -> str:
    """`X.jsonl` → `X.shard-i-of-n.jsonl` (unchanged without a shard)."""
    if shard is None:
        return name
    i, n = shard
    return f"{name.removesuffix('.jsonl')}.shard-{i}-of-{n}.jsonl"


def strip_shard(stem: str) -> str:
    """`..._test.shard-1-of-4` → `..._test`: the dataset id shared by all shards."""
    return SHARD_SUFFIX.sub("", stem)
