"""`asyncbench run --use_url` end to end: the real CLI, the mock dataset viewer, real servers.

The viewer serves a hub-layout folder whose clips carry their own transcript, so every
prediction can be checked against its own reference; a lossy MP3 sent by mistake would lose
that mark and come back as the wrong text.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from asyncbench.core.shard import shard_file_name
from asyncbench.providers import REGISTRY, resolve
from asyncbench.results.store import results_name
from asyncbench.scoring import normalize
from asyncbench.servers.mock import MockConfig
from asyncbench.sources.dataset import in_shard

from .loopback import Action, LoopbackAldea, closed_port
from .support import MockHandle, MockServer, cli_env, make_dataset, read_results, run_cli_async
from .test_cli import from_watermark

DATASET = "test-org/esb-mini"
TOKEN = "hf_viewertoken123"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """librispeech with two splits of different sizes: test.clean spans two 100-row pages."""
    root = tmp_path_factory.mktemp("use_url")
    make_dataset(
        root / DATASET,
        {("librispeech", "test.clean"): 150, ("librispeech", "test.other"): 40},
        fmt="wav",
        seconds=0.3,
    )
    return root


async def use_url(
    viewer: MockHandle | str,
    aldea: str,
    results: Path,
    *args: str,
    split: str = "test.clean",
    token: str | None = TOKEN,
) -> tuple[int, str, str]:
    url = viewer if isinstance(viewer, str) else viewer.url
    env = cli_env(HF_DATASETS_SERVER_URL=url)
    env.pop("HF_TOKEN", None)
    if token:
        env["HF_TOKEN"] = token
    return await run_cli_async(
        "run",
        "--use_url",
        "--model_name",
        "aldea/default",
        "--aldea_endpoints",
        aldea,
        "--dataset",
        "librispeech",
        "--split",
        split,
        "--dataset_path",
        DATASET,
        "--results_dir",
        results,
        "--no_progress",
        *args,
        env=env,
    )


def results_of(results: Path, split: str) -> list[dict]:
    return read_results(
        results / f"MODEL_aldea-default_DATASET_test-org-esb-mini_librispeech_{split}.jsonl"
    )


async def test_split_transcribed_exactly_with_pages_fetched_lazily(
    hub: Path, tmp_path: Path
) -> None:
    """All 150 rows of test.clean (not the config's 190), each with its own text; the second
    page is asked for only once samples of the first are being transcribed."""
    pages_seen_at_post: list[int] = []
    gated = MockConfig(viewer_root=hub, keys={"viewer": TOKEN})
    async with MockServer(gated, protocols=("viewer",)) as viewer:

        def plan(port: int, n: int, body: bytes) -> Action:
            pages_seen_at_post.append(viewer.state.counters["viewer.rows"])
            return Action(delay=0.02)

        async with LoopbackAldea(plan=plan, transcript=from_watermark) as aldea:
            dead = f"http://127.0.0.1:{closed_port()}"  # --viewer_url beats the environment
            code, out, err = await use_url(
                dead, aldea.endpoints, tmp_path, "--max_workers", "4", "--viewer_url", viewer.url
            )
    assert code == 0, err
    rows = results_of(tmp_path, "test.clean")
    assert len(rows) == 150
    assert len({r["id"] for r in rows}) == 150
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows), rows[:3]
    assert "WER: 0.0 %" in out
    counters = viewer.state.counters
    assert counters["viewer.rows"] == 2 and counters["viewer.rows_past_end"] == 0
    assert counters["viewer.assets.wav"] == 150
    assert pages_seen_at_post[0] == 1
    assert pages_seen_at_post.count(1) > 4  # page 2 waited for page 1 to be under way
    for text in (out, err, *(p.read_text() for p in tmp_path.iterdir())):
        assert TOKEN not in text


async def test_mp3_first_cells_send_wav_and_expired_urls_are_refreshed(
    hub: Path, tmp_path: Path
) -> None:
    """Older viewers list `[mp3, wav]`: the WAV is chosen (MP3 would lose every transcript).
    URLs live 0.4 s while one slow worker drains the page, so later ones expire before
    their download and are renewed through their row; `--max_samples` bounds the run."""
    config = MockConfig(viewer_root=hub, viewer_legacy_audio=True, viewer_url_ttl=0.4)
    async with (
        MockServer(config, protocols=("viewer",)) as viewer,
        LoopbackAldea(transcript=from_watermark, latency=0.05) as aldea,
    ):
        code, _, err = await use_url(
            viewer,
            aldea.endpoints,
            tmp_path,
            "--max_workers",
            "1",
            "--max_samples",
            "30",
            split="test.other",
            token=None,
        )
    assert code == 0, err
    rows = results_of(tmp_path, "test.other")
    assert len(rows) == 30
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows), rows[:3]
    counters = viewer.state.counters
    assert counters["viewer.assets.mp3"] == 0
    assert counters["viewer.expired"] > 0
    assert counters["viewer.rows"] == 1 + counters["viewer.expired"]  # one row refetch each


async def test_urls_refused_twice_fail_as_download_and_a_rerun_retries_them(
    hub: Path, tmp_path: Path
) -> None:
    config = MockConfig(viewer_root=hub, viewer_url_ttl=0.0)
    async with (
        MockServer(config, protocols=("viewer",)) as viewer,
        LoopbackAldea(transcript=from_watermark) as aldea,
    ):
        code, _, err = await use_url(
            viewer, aldea.endpoints, tmp_path, "--max_samples", "3", split="test.other"
        )
        assert code == 3, err  # every sample failed: exit 3 since #25 item 6 (was 0)
        assert "failed by kind: download: 3" in err
        assert not aldea.seen  # nothing to send
        failed = results_of(tmp_path, "test.other")
        viewer.state.config.viewer_url_ttl = 3600.0
        code, _, err = await use_url(
            viewer, aldea.endpoints, tmp_path, "--max_samples", "3", split="test.other"
        )
    assert [r["error_kind"] for r in failed] == ["download"] * 3
    assert "still refused after fetching its row again" in failed[0]["error"]
    assert "sig=" not in failed[0]["error"]
    assert len(aldea.seen) == 3
    rows = results_of(tmp_path, "test.other")
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in failed)
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows)


async def test_bad_viewer_input_is_one_line_and_exit_2(hub: Path, tmp_path: Path) -> None:
    gated = MockConfig(viewer_root=hub, keys={"viewer": TOKEN})
    async with (
        MockServer(gated, protocols=("viewer",)) as viewer,
        LoopbackAldea() as aldea,
    ):
        no_token, bad_split, down = await asyncio.gather(
            use_url(viewer, aldea.endpoints, tmp_path / "a", token=None),
            use_url(viewer, aldea.endpoints, tmp_path / "b", split="test.dirty"),
            use_url(f"http://127.0.0.1:{closed_port()}", aldea.endpoints, tmp_path / "c"),
        )
    assert not aldea.seen
    for code, _, err in (no_token, bad_split, down):
        assert code == 2, err
        assert "Traceback" not in err
    assert (
        "error: the dataset viewer cannot serve 'test-org/esb-mini' (HTTP 401): The dataset "
        "does not exist, or is not accessible without authentication (private or gated)"
    ) in no_token[2]
    assert "export HF_TOKEN" in no_token[2]
    assert (
        "error: unknown split 'test.dirty' for test-org/esb-mini config 'librispeech' on the "
        "dataset viewer; available splits: test.clean, test.other"
    ) in bad_split[2]
    assert "error: the dataset viewer at http://127.0.0.1:" in down[2]
    assert "failed 3 times on /splits" in down[2] and "HF_DATASETS_SERVER_URL" in down[2]


# the seed's model names; a URL-fetching provider added later runs as <prefix>/default
MODELS = {
    "deepgram": "nova-3",
    "groq": "whisper-large-v3",
    "assembly": "best",
    "revai": "machine",
    "speechmatics": "enhanced",
    "soniox": "stt-async-v5",
    "gladia": "solaria-3",
    "smallestai": "pulse",
    "zoom": "scribe_v2_pro",  # zoom refuses variants the board does not name
}


def url_fetching_prefixes() -> list[str]:
    """One prefix per registered client that fetches URLs itself."""
    seen: dict[type, str] = {}
    for prefix in REGISTRY:
        cls, _ = resolve(f"{prefix}/x")
        if cls.fetches_urls and cls not in seen:
            seen[cls] = prefix
    return sorted(seen.values())


async def test_url_fetching_providers_are_handed_the_signed_url(hub: Path, tmp_path: Path) -> None:
    """Every provider that fetches URLs gets the fresh signed URL and no bytes: the run
    downloads nothing (each clip is fetched exactly once, by the service) and every clip's
    own transcript comes back, through each protocol's real URL request shape."""
    prefixes = url_fetching_prefixes()
    assert "deepgram" in prefixes
    async with MockServer(MockConfig(viewer_root=hub)) as mock:

        async def run_one(prefix: str) -> tuple[int, str, list[dict]]:
            cls, _ = resolve(f"{prefix}/x")
            assert cls.key_env and cls.base_url_env
            env = cli_env(HF_DATASETS_SERVER_URL=mock.url)
            env.update({cls.key_env: "key-test-123", cls.base_url_env: mock.url})
            results = tmp_path / prefix
            code, _, err = await run_cli_async(
                "run",
                "--use_url",
                "--model_name",
                f"{prefix}/{MODELS.get(prefix, 'default')}",
                "--dataset_path",
                DATASET,
                "--dataset",
                "librispeech",
                "--split",
                "test.other",
                "--max_samples",
                "4",
                "--poll_interval",
                "0.05",
                "--results_dir",
                results,
                "--no_progress",
                env=env,
            )
            return code, err, [r for f in results.glob("*.jsonl") for r in read_results(f)]

        outcomes = await asyncio.gather(*(run_one(p) for p in prefixes))
    for prefix, (code, err, rows) in zip(prefixes, outcomes, strict=True):
        assert code == 0, (prefix, err)
        assert len(rows) == 4, prefix
        for row in rows:
            assert row["status"] == "ok", (prefix, row)
            assert normalize(row["pred_text"]) == normalize(row["text"]), (prefix, row)
    assert mock.state.counters["viewer.assets"] == 4 * len(prefixes)


async def test_shards_over_the_viewer_split_the_samples_and_download_only_their_own(
    hub: Path, tmp_path: Path
) -> None:
    """`--use_url --shard i/2` on two "machines": each shard file holds only its slice, the
    two together hold all 40 rows once, and each clip is downloaded once in all (a shard
    never fetches another shard's audio)."""
    async with (
        MockServer(MockConfig(viewer_root=hub), protocols=("viewer",)) as viewer,
        LoopbackAldea(transcript=from_watermark) as aldea,
    ):
        for i in range(2):
            code, _, err = await use_url(
                viewer, aldea.endpoints, tmp_path, "--shard", f"{i}/2", split="test.other"
            )
            assert code == 0, err
    unsharded = results_name("aldea/default", DATASET, "librispeech", "test.other")
    shards = [read_results(tmp_path / shard_file_name(unsharded, (i, 2))) for i in range(2)]
    for i, rows in enumerate(shards):
        assert rows and all(in_shard(r["id"], i, 2) for r in rows), i
        assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows)
    ids = [r["id"] for rows in shards for r in rows]
    assert len(ids) == len(set(ids)) == 40
    assert viewer.state.counters["viewer.assets.wav"] == 40
    assert not (tmp_path / unsharded).exists()
