"""Model ids read back from results file names: the leaderboard's first-dash rule, except for
asyncbench's own prefixes with a dash in them, which the report, `score` and the board CSV
would otherwise show as another provider (a streaming run's report said deepgram/live-nova-3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.model_names import HYPHENATED_PREFIXES, model_id_of_slug
from asyncbench.providers import REGISTRY
from asyncbench.scoring.resultfiles import parse_result_name


def test_every_hyphenated_registry_prefix_is_known() -> None:
    assert {p for p in REGISTRY if "-" in p} == set(HYPHENATED_PREFIXES)
    assert list(HYPHENATED_PREFIXES) == sorted(HYPHENATED_PREFIXES, key=len, reverse=True)


@pytest.mark.parametrize(
    ("slug", "model"),
    [
        ("elevenlabs-scribe_v1", "elevenlabs/scribe_v1"),
        ("aldea-default", "aldea/default"),
        ("deepgram-nova-3", "deepgram/nova-3"),
        ("deepgram-live-nova-3", "deepgram-live/nova-3"),
        ("speechmatics-rt-enhanced", "speechmatics-rt/enhanced"),
        ("openai-rt-gpt-4o-transcribe", "openai-rt/gpt-4o-transcribe"),
        ("openai-compatible-my-model", "openai-compatible/my-model"),
        ("openai-gpt-4o-transcribe", "openai/gpt-4o-transcribe"),
        ("nodash", "nodash"),
    ],
)
def test_slugs_read_back_as_model_ids(slug: str, model: str) -> None:
    assert model_id_of_slug(slug) == model


def test_a_streaming_results_file_names_its_model() -> None:
    name = Path("MODEL_deepgram-live-nova-3_DATASET_hf-audio-esb_ami_test.jsonl")
    assert parse_result_name(name) == ("deepgram-live/nova-3", "hf-audio-esb_ami_test")
