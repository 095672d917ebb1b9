"""Dataset revisions: the board pins the commit of each long-form set it reads
(OAL@6601954b975d0d676c5d63681c041394ee231b3b:scripts/longform_job_utils.sh), so a run must
read a hub id at the revision it is given or its suite entry pins, and say which it read.

The hub is a loopback server speaking the hub's URL scheme (`HF_ENDPOINT`): the `datasets`
library itself makes the requests, and the paths it asks for show the revision it reads at.
Local folders stand for a revision: the sidecar records it, and a run at another revision
into the same results file is refused like another dataset.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from asyncbench.sources.suites import CORAAL_PATH, PINNED_REVISIONS, TEDLIUM_LONGFORM_PATH

from .inproc import Background, cli, one_error_line
from .loopback import LoopbackAldea
from .support import cli_env, make_dataset, run_cli_async

ALDEA = ("--aldea_endpoints", "http://127.0.0.1:9")  # never reached: the dataset fails first


@asynccontextmanager
async def hub(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], list[str]]]:
    """A hub that knows no dataset: every request is recorded and answered 404, so a run
    stops at its first read. Yields the environment pointing at it and the request paths."""
    seen: list[str] = []

    async def any_request(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response(
            {"error": "Repository not found"}, status=404, headers={"X-Error-Code": "RepoNotFound"}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_request)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    env = cli_env(
        HF_ENDPOINT=f"http://127.0.0.1:{port}",
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    for offline in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        env.pop(offline, None)
    try:
        yield env, seen
    finally:
        await runner.cleanup()


def revisions(seen: list[str], repo: str) -> set[str]:
    """The revisions the hub was asked for `repo` at (`/datasets/<repo>/resolve/<rev>/...`)."""
    prefix = f"/datasets/{repo}/resolve/"
    return {p[len(prefix) :].split("/", 1)[0] for p in seen if p.startswith(prefix)}


async def test_run_reads_a_hub_id_at_the_revision_given(tmp_path: Path) -> None:
    run = ("run", "--model_name", "aldea/default", *ALDEA, "--no_progress")
    where = ("--dataset_path", "org/name", "--dataset", "cfg", "--results_dir", tmp_path / "r")
    async with hub(tmp_path) as (env, seen):
        code, _, err = await run_cli_async(*run, *where, env=env)
        assert code == 2, err
        assert revisions(seen, "org/name") == {"main"}  # no --revision: the current one
        seen.clear()
        code, _, err = await run_cli_async(*run, *where, "--revision", "abc123", env=env)
    assert code == 2
    assert one_error_line(err) == (
        "error: dataset 'org/name' not found (Dataset 'org/name' doesn't exist on the Hub or "
        "cannot be accessed.); check the hub id or the folder path"
    )
    assert seen and revisions(seen, "org/name") == {"abc123"}  # every request at that one


async def test_batch_longform_reads_each_set_at_the_boards_pinned_revision(
    tmp_path: Path,
) -> None:
    async with hub(tmp_path) as (env, seen):
        code, _, err = await run_cli_async(
            *("batch", "--model", "aldea/default", *ALDEA, "--no_progress", "--sequential"),
            *("--suite", "longform", "--datasets", "earnings21 tedlium ATL"),
            *("--results_dir", tmp_path / "r"),
            env=env,
        )
    assert code == 1, err  # every split failed to open: the hub has none of them
    assert revisions(seen, "hf-audio/asr-leaderboard-longform") == {
        "d6797370d3189c618e722721ab5b6c9be78c022c"
    }
    assert revisions(seen, TEDLIUM_LONGFORM_PATH) == {PINNED_REVISIONS[TEDLIUM_LONGFORM_PATH]}
    assert revisions(seen, CORAAL_PATH) == {"76417d96197aa8bfa419eb5cc7637dab2f75cba0"}


async def test_the_name_split_path_form_reads_another_path_at_its_current_revision(
    tmp_path: Path,
) -> None:
    """A pinned revision names a commit of its own repository, not of another one."""
    async with hub(tmp_path) as (env, seen):
        await run_cli_async(
            *("batch", "--model", "aldea/default", *ALDEA, "--no_progress"),
            *("--suite", "longform", "--datasets", "ATL:test:me/coraal-copy"),
            *("--results_dir", tmp_path / "r"),
            env=env,
        )
    assert revisions(seen, "me/coraal-copy") == {"main"}


def test_the_revision_is_recorded_and_another_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_dataset(tmp_path / "data", {("cfg", "test"): 2})
    results = tmp_path / "results"
    with Background(LoopbackAldea(1)) as srv:
        args = ("run", "--model_name", "aldea/default", "--aldea_endpoints", srv.endpoints)
        args += ("--dataset_path", str(data), "--dataset", "cfg", "--results_dir", str(results))
        args += ("--no_progress",)
        code, _, err = cli(capsys, *args, "--revision", "v1.0")
        assert code == 0, err
        (meta,) = results.glob("*.meta.json")
        assert json.loads(meta.read_text())["revision"] == "v1.0"
        code, _, err = cli(capsys, *args, "--revision", "abc123")
    assert code == 2
    results_file = meta.with_name(meta.name.replace(".meta.json", ".jsonl"))
    assert one_error_line(err) == (
        f"error: results file {results_file} belongs to another run (revision 'v1.0', says "
        f"{meta.name}), not to this one (revision 'abc123'); pass another --results_dir, or "
        "move both files away to start afresh"
    )


def test_a_batch_over_a_local_copy_records_the_pinned_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "hub"
    make_dataset(root / CORAAL_PATH, {("ATL", "test"): 2})
    results = tmp_path / "results"
    with Background(LoopbackAldea(1)) as srv:
        code, _, err = cli(
            capsys,
            *("batch", "--model", "aldea/default", "--aldea_endpoints", srv.endpoints),
            *("--suite", "longform", "--datasets", "ATL", "--data_root", root),
            *("--results_dir", results, "--no_progress"),
        )
    assert code == 0, err
    (meta,) = results.glob("*.meta.json")
    assert meta.name == "MODEL_aldea-default_DATASET_bezzam-coraal_ATL_test.meta.json"
    assert json.loads(meta.read_text())["revision"] == PINNED_REVISIONS[CORAAL_PATH]


@pytest.mark.parametrize("bad", ["", "a b", "x\x1b[31m", "../" + "a" * 300])
def test_a_bad_revision_is_one_line(
    bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys,
        *("run", "--model_name", "aldea/default", *ALDEA, "--dataset_path", "org/name"),
        *("--dataset", "cfg", "--results_dir", tmp_path, "--revision", bad),
    )
    assert code == 2
    assert one_error_line(err) == (
        f"error: --revision {bad!r} is not a hub revision: give a commit hash, branch or tag "
        "(letters, digits, . _ - /)"
    )


def test_asyncbench_suites_shows_the_pinned_revisions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "suites", "longform")
    assert code == 0, err
    assert "  bezzam/coraal ATL/test  (english/en; --datasets coraal; revision 76417d96197a)" in out


async def test_estimate_measures_a_pinned_set_at_its_revision(tmp_path: Path) -> None:
    async with hub(tmp_path) as (env, seen):
        code, _, err = await run_cli_async(
            *("estimate", "--model", "aldea/default", "--suite", "longform"),
            *("--datasets", "tedlium"),
            env=env,
        )
    assert code == 2
    assert one_error_line(err).startswith(
        "error: cannot find distil-whisper/tedlium-long-form default/test to measure its audio"
    )
    assert revisions(seen, TEDLIUM_LONGFORM_PATH) == {PINNED_REVISIONS[TEDLIUM_LONGFORM_PATH]}
