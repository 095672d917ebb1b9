from pathlib import Path

import orjson
import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.results.store import Result, ResultWriter, check_writable, prescan, results_name


def line(sid: str, status: str = "ok", pred: str = "x") -> bytes:
    return Result(sid, status, 1.0, 0.1, "ref", pred if status == "ok" else "").to_line()


def test_name_is_the_seeds() -> None:
    assert (
        results_name(
            "aldea/default", "hf-audio/esb-datasets-test-only-sorted", "librispeech", "test.clean"
        )
        == "MODEL_aldea-default_DATASET_hf-audio-esb-datasets-test-only-sorted"
        "_librispeech_test.clean.jsonl"
    )
    # a local folder by its own name, not its whole path (issue 26 item 6; was `.-data-esb`)
    assert results_name("openai/whisper-1", "./data/esb/", "ami", "test") == (
        "MODEL_openai-whisper-1_DATASET_esb_ami_test.jsonl"
    )
    assert results_name("openai/whisper-1", "/tmp/ux/work/myset", "ami", "test") == (
        "MODEL_openai-whisper-1_DATASET_myset_ami_test.jsonl"
    )


def test_line_has_the_leaderboard_fields_and_the_ledger() -> None:
    obj = orjson.loads(
        Result("s1", "ok", 2.5, 0.25, "Hello.", "hello", attempts=2, endpoint="e").to_line()
    )
    assert obj == {
        "id": "s1",
        "status": "ok",
        "audio_filepath": "s1",
        "duration": 2.5,
        "time": 0.25,
        "text": "Hello.",
        "pred_text": "hello",
        "error": None,
        "error_kind": None,
        "attempts": 2,
        "endpoint": "e",
    }


def test_missing_file_is_a_fresh_start(tmp_path: Path) -> None:
    state = prescan(tmp_path / "none.jsonl")
    assert state.done_ids == set() and not state.rewritten


def test_torn_last_line_is_repaired(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(line("a") + line("b") + line("c")[:20])
    state = prescan(p)
    assert state.repaired_tail and state.done_ids == {"a", "b"}
    assert p.read_bytes() == line("a") + line("b")


def test_failed_lines_are_removed_for_retry_and_kept_on_request(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    content = line("a") + line("b", "failed") + line("c", "skipped_short")
    p.write_bytes(content)
    state = prescan(p, retry_failed=False)
    assert state.done_ids == {"a", "b", "c"} and state.failed_kept == 1 and not state.rewritten
    assert p.read_bytes() == content
    state = prescan(p)
    assert state.done_ids == {"a", "c"} and state.failed_dropped == 1 and state.rewritten
    assert p.read_bytes() == line("a") + line("c", "skipped_short")
    assert not (tmp_path / "r.jsonl.tmp").exists()


def test_duplicates_keep_the_last_outcome(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(line("a", "failed") + line("b") + line("a", pred="second"))
    state = prescan(p)
    assert state.duplicates_dropped == 1 and state.done_ids == {"a", "b"}
    assert p.read_bytes() == line("b") + line("a", pred="second")


def test_unreadable_lines_are_reported_by_number_and_removed(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(line("a") + b"{garbage\n" + line("b"))
    state = prescan(p)
    assert state.bad_lines == [2]
    assert p.read_bytes() == line("a") + line("b")


def test_file_from_another_tool_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(
        b'{"audio_filepath": "sample_0", "text": "a", "pred_text": "a", "duration": 1, "time": 1}\n'
    )
    with pytest.raises(ConfigError, match="was not written by asyncbench"):
        prescan(p)


async def test_writer_appends_whole_lines(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(line("old"))
    w = ResultWriter(p)
    import asyncio

    task = asyncio.create_task(w.run())
    for i in range(100):
        w.put(Result(f"s{i}", "ok", 1.0, 0.1, "r", "p"))
    w.close()
    await task
    lines = p.read_bytes().splitlines()
    assert len(lines) == 101 and w.written == 100
    assert [orjson.loads(x)["id"] for x in lines[1:]] == [f"s{i}" for i in range(100)]


def test_unwritable_results_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(
        ConfigError,
        match=r"cannot create results directory .*file/sub: Not a directory; "
        r"pick another with --results_dir",
    ):
        check_writable(blocker / "sub")
