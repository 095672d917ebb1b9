"""The sample source through the real `datasets` streaming path on hub-layout folders."""

from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.scoring import normalize
from asyncbench.sources import watermark
from asyncbench.sources.audio import to_wav16k
from asyncbench.sources.dataset import (
    SourceStats,
    in_shard,
    is_scorable_reference,
    iter_samples,
    open_split,
)

from .support import make_dataset


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub") / "esb"
    texts = ["First one.", "", "ignore time segment in scoring", "Uh, um.", "Second one.", "Third."]
    return make_dataset(
        root,
        {
            ("librispeech", "test.clean"): texts,
            ("librispeech", "test.other"): 3,
            ("ami", "test"): 4,
        },
    )


def all_samples(folder: Path, config: str, split: str, **kw):  # type: ignore[no-untyped-def]
    ds = open_split(str(folder), config, split)
    return [
        s for batch in iter_samples(ds, config, split, normalize=normalize, **kw) for s in batch
    ]


def test_hub_layout_streams_with_ids_audio_and_filtered_references(folder: Path) -> None:
    stats = SourceStats()
    samples = all_samples(folder, "librispeech", "test.clean", stats=stats)
    # "", the ignore marker and fillers-only are dropped as the leaderboard does
    assert sorted(s.reference for s in samples) == ["First one.", "Second one.", "Third."]
    assert stats.rows == 6 and stats.dropped_empty_reference == 3 and stats.yielded == 3
    for s in samples:
        assert s.id.startswith("librispeech-test.clean-")
        wav, duration = to_wav16k(s.audio)
        assert watermark.extract(wav[44:]) == s.reference
        assert duration == pytest.approx(s.duration)


def test_rows_come_longest_first_like_the_hub_sets(folder: Path) -> None:
    durations = [s.duration for s in all_samples(folder, "ami", "test")]
    assert durations == sorted(durations, reverse=True)


def test_max_samples_takes_the_first_n_and_counts_finished_ones(folder: Path) -> None:
    first = all_samples(folder, "ami", "test", max_samples=2)
    assert len(first) == 2
    rest = all_samples(folder, "ami", "test", max_samples=3, skip_ids={first[0].id})
    assert [s.id for s in rest] == [first[1].id, all_samples(folder, "ami", "test")[2].id]


def test_id_falls_back_to_config_split_index(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "noid", {("voxpopuli", "test"): 3}, with_ids=False)
    assert [s.id for s in all_samples(root, "voxpopuli", "test")] == [
        "voxpopuli/test/0",
        "voxpopuli/test/1",
        "voxpopuli/test/2",
    ]


def test_shards_partition_the_split(folder: Path) -> None:
    ids = {s.id for s in all_samples(folder, "ami", "test")}
    parts = [{s.id for s in all_samples(folder, "ami", "test", shard=(i, 3))} for i in range(3)]
    assert set().union(*parts) == ids and sum(map(len, parts)) == len(ids)
    assert all(in_shard(i, 0, 1) for i in ids)


def test_scorable_reference_rule() -> None:
    assert is_scorable_reference("Hello.", normalize)
    assert not is_scorable_reference("  ", normalize)
    assert not is_scorable_reference("IGNORE TIME SEGMENT IN SCORING", normalize)
    assert not is_scorable_reference("(laughter) [noise]", normalize)


@pytest.mark.parametrize(
    ("config", "split", "message"),
    [
        (
            "tedlium",
            "test",
            "unknown config 'tedlium' in {path}; available configs: ami, librispeech",
        ),
        (
            "librispeech",
            "test",
            "unknown split 'test' for config 'librispeech' in {path}; "
            "available splits: test.clean, test.other",
        ),
    ],
)
def test_unknown_config_or_split_lists_what_exists(
    folder: Path, config: str, split: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        open_split(str(folder), config, split)
    assert str(info.value) == message.format(path=folder)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        open_split(str(tmp_path / "nope"), "ami", "test")
    assert str(info.value).startswith(f"dataset folder '{tmp_path / 'nope'}' does not exist")


def test_missing_text_column_names_the_columns(tmp_path: Path) -> None:
    from asyncbench.sources.hub_layout import make_row, write_hub_folder

    rows = [make_row(watermark.embed("x", 1.0), 16000, name="a", id="a")]
    root = write_hub_folder(tmp_path / "notext", {"ami": {"test": rows}})
    with pytest.raises(ConfigError) as info:
        open_split(str(root), "ami", "test")
    assert str(info.value) == (
        f"{root} ami/test has no text column (text, sentence, normalized_text, transcript or "
        "transcription); columns present: audio, id, audio_length_s"
    )
