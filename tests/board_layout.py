"""A local copy of today's English board, laid out like the hub, for `--data_root` tests.

`<root>/hf-audio/open-asr-leaderboard` holds the cleaned configs (hub layout, watermarked
clips from `support.make_dataset`); `<root>/ArtificialAnalysis/Earnings22-Cleaned-AA-chunked`
is a chunked set (metadata table + `audio/` folder) of a few "calls", and
`<root>/ArtificialAnalysis/Earnings22-Cleaned-AA` its parent table with each call's
`transcript`. Every chunk carries its own text as a watermark, so a test server answers
each with its true words and the joined call matches the parent transcript.
"""

from __future__ import annotations

from pathlib import Path

from asyncbench.sources import watermark
from asyncbench.sources.hub_layout import (
    audio_cell,
    encode_audio,
    write_chunked_set,
    write_hub_folder,
)
from asyncbench.sources.suites import (
    EARNINGS22_CHUNKED,
    EARNINGS22_PARENT,
    LEADERBOARD_PATH,
    MONSOON_EN_IN_PATH,
    SUITES,
)

from .support import make_dataset, sentence

CLEANED = [
    (e.config, e.split) for e in SUITES["leaderboard"].entries if not e.parent_path and not e.path
]


def write_chunked_copy(
    chunked: Path,
    parent: Path | None,
    calls: dict[str, int],
    *,
    parent_ids: list[str] | None = None,
) -> dict[str, list[str]]:
    """`calls = {parent_id: n_chunks}` → the chunked set at `chunked` and, unless None, its
    parent at `parent` (with `parent_ids`' transcripts only, when given). Returns each
    call's chunk texts in order."""
    rows, texts = [], {}
    for c, (pid, n) in enumerate(calls.items()):
        texts[pid] = [sentence(c * 10 + i, 5) for i in range(n)]
        for i, text in enumerate(texts[pid]):
            pcm = watermark.embed(text, 1.0 + i / 10, seed=c * 10 + i)
            rows.append(
                {
                    "parent_id": pid,
                    "chunk_index": i,
                    "audio": audio_cell(encode_audio(pcm, 16000, "wav"), f"{pid}_{i}.wav"),
                    "duration": len(pcm) / 16000,
                }
            )
    write_chunked_set(chunked, rows)
    if parent is not None:
        keep = parent_ids if parent_ids is not None else list(calls)
        write_hub_folder(
            parent,
            {
                "default": {
                    "test": [
                        {"id": pid, "transcript": " ".join(texts[pid]), "language": "en"}
                        for pid in keep
                    ]
                }
            },
            sort_longest_first=False,
        )
    return texts


def write_board_copy(root: Path, per_split: int = 3) -> Path:
    """All 8 entries of the `leaderboard` suite under `root`, as `--data_root` reads them:
    Monsoon en-IN as a repository of its own with one `default` config (the board reads it
    with no config name; its real columns are UNCONFIRMED, `text` is assumed)."""
    make_dataset(root / LEADERBOARD_PATH, dict.fromkeys(CLEANED, per_split), fmt="wav")
    make_dataset(root / MONSOON_EN_IN_PATH, {("default", "test"): per_split}, fmt="wav")
    write_chunked_copy(
        root / EARNINGS22_CHUNKED, root / EARNINGS22_PARENT, {"4483046": 3, "4468919_trimmed": 2}
    )
    return root
