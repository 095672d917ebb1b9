"""Model ids back from results file names, for the prefixes that have a "-" in them.

A results file is named `MODEL_<id with "/" as "-">_DATASET_...`, and the leaderboard reads
the id back by turning the first "-" into "/" ("elevenlabs-scribe_v1" is elevenlabs/scribe_v1).
That rule misreads asyncbench's own prefixes that contain a "-" ("deepgram-live-nova-3" would
be deepgram/live-nova-3), so those are matched first. The providers' registry must list no
other hyphenated prefix: tests/test_model_names.py holds the two together.
"""

from __future__ import annotations

#: registry prefixes with a "-", longest first so none shadows a longer one
HYPHENATED_PREFIXES: tuple[str, ...] = (
    "speechmatics-batch",
    "openai-compatible",
    "speechmatics-rt",
    "elevenlabs-rt",
    "assemblyai-rt",
    "deepgram-live",
    "openai-rt",
)


def model_id_of_slug(slug: str) -> str:
    """`deepgram-live-nova-3` -> `deepgram-live/nova-3`; otherwise the leaderboard's rule."""
    for prefix in HYPHENATED_PREFIXES:
        if slug.startswith(prefix + "-"):
            return f"{prefix}/{slug[len(prefix) + 1 :]}"
    org, dash, rest = slug.partition("-")
    return f"{org}/{rest}" if dash else slug
