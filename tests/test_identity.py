"""Numbers that cannot be silently wrong (#25): provenance in every sidecar, resume checks the
dataset's identity, denominators from the source, runs found by their sidecars, `verify`.

Real runs of the CLI (in a subprocess where a signal is sent, else in-process) against a real
loopback server, on real hub-layout folders whose card has no `dataset_info` (as people write
them): the split's size is known only from its parquet footers.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .inproc import Background, cli, one_error_line, run_args
from .loopback import Action, LoopbackAldea
from .support import PYTHON, REPO, cli_env, make_dataset, only_file, read_results, transcript_of

N = 20  # rows of the split
STOP_AT = 6  # the server answers this many, then holds every further request


def drop_dataset_info(root: Path) -> Path:
    """The card as people write it: `configs:` only, no `dataset_info` sizes."""
    text = (root / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    front.pop("dataset_info")
    (root / "README.md").write_text("---\n" + yaml.safe_dump(front) + "---\n")
    return root


@pytest.fixture()
def plain(tmp_path: Path) -> Path:
    return drop_dataset_info(make_dataset(tmp_path / "plain", {("ami", "test"): N}))


@pytest.fixture()
def server() -> Iterator[LoopbackAldea]:
    with Background(LoopbackAldea(transcript=transcript_of)) as srv:
        yield srv


def meta_of(results_file: Path) -> dict:
    return json.loads(results_file.with_name(results_file.stem + ".meta.json").read_text())


def run(capsys, dataset: Path, results: Path, endpoints: str, *extra: str | Path):  # type: ignore[no-untyped-def]
    return cli(
        capsys,
        "run",
        *run_args("aldea/default", dataset, "ami", "test", endpoints, results),
        *extra,
    )


# -- 1. provenance -------------------------------------------------------------------------------


def test_sidecar_carries_provenance_and_lines_carry_digests(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    results = tmp_path / "r"
    code, _, err = run(capsys, plain, results, server.endpoints, "--api_key", "sk-supersecret-123")
    assert code == 0, err
    path = only_file(results)
    meta = meta_of(path)
    assert meta["format"] == "asyncbench-results/2"
    for key in (
        "tool_version",
        "scoring",
        "dataset",
        "provider",
        "model_name",
        "endpoints",
        "language",
        "options",
        "arrival",
        "concurrency",
        "command",
        "started_at",
        "ended_at",
        "provider_model_version",
    ):
        assert key in meta, key
    assert meta["scoring"] == {
        "family": "english",
        "normalizer_version": "open-asr-leaderboard-english-2026",
    }
    ds = meta["dataset"]
    assert ds["kind"] == "local" and ds["rows"] == N and ds["fingerprint"].startswith("v1:")
    assert (ds["config"], ds["split"], ds["path"]) == ("ami", "test", str(plain))
    assert meta["provider"] == "aldea" and meta["concurrency"]["max_workers"] == 300
    assert meta["ended_at"] >= meta["started_at"]
    assert "sk-supersecret-123" not in json.dumps(meta) and "***" in meta["command"]
    rows = read_results(path)
    assert all(len(r["audio_sha"]) == 12 and len(r["ref_sha"]) == 12 for r in rows)
    assert len({r["audio_sha"] for r in rows}) == N  # each clip its own digest
    # scoring ignores the new fields: the same WER as ever
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0")
    assert code == 0, err
    assert "0.00" in out


# -- 4. denominators from the source -------------------------------------------------------------


def held_after(n: int):  # type: ignore[no-untyped-def]
    """A plan answering the first `n` requests, then holding every further one."""
    return lambda port, count, body: Action(hang=True) if count > n else Action()


def test_ctrl_c_coverage_counts_the_rows_the_footers_say(plain: Path, tmp_path: Path) -> None:
    """Card without dataset_info, Ctrl-C after 6 of 20: coverage 6/20, the live line says
    `6/20 done`, and `score` later reads 20 from the sidecar (was 6/6, 100 %)."""
    results = tmp_path / "r"
    with Background(LoopbackAldea(transcript=transcript_of, plan=held_after(STOP_AT))) as srv:
        args = run_args("aldea/default", plain, "ami", "test", srv.endpoints, results)
        args = [a for a in args if a != "--no_progress"] + ["--max_workers", "2", "--grace", "1"]
        env = cli_env(ASYNCBENCH_PROGRESS_S="0.05")
        proc = subprocess.Popen(
            [PYTHON, "-m", "asyncbench", "run", *map(str, args)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while len(srv.seen) < STOP_AT + 2:  # the 6 answered are written, 2 more are held
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        path = only_file(results)
        while len(read_results(path)) < STOP_AT:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = (b.decode() for b in proc.communicate(timeout=60))
    assert proc.returncode == 130, err
    assert f"coverage: {STOP_AT}/{N} samples done ({100 * STOP_AT / N:.2f} %)" in out + err
    live = [line for line in err.splitlines() if " done" in line and "in flight" in line]
    assert live and all(f"/{N} done" in line for line in live), live
    assert meta_of(path)["expected_samples"] == N
    code, out2, err2 = score_cli(results)
    assert code == 0, err2
    assert f": {STOP_AT}/{N} samples done ({100 * STOP_AT / N:.2f} %)" in out2, out2


def score_cli(results: Path, *extra: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [PYTHON, "-m", "asyncbench", "score", str(results), "--bootstrap", "0", *extra],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_unknown_total_is_shown_as_unknown() -> None:
    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.stats import RunStats
    from asyncbench.reporting.progress import Rates, progress_line

    stats = RunStats(total=None)
    stats.done = 170
    line = progress_line(stats, EndpointPool(["http://127.0.0.1:1"], 1), Rates(1, 1, 1, 1), 4)
    assert line.startswith("170 of ? done | "), line
    # and on a terminal: no bar, no percentage, `of ?`
    import io

    from rich.console import Console

    from asyncbench.reporting.progress import render_panel

    out = io.StringIO()
    pool = EndpointPool(["http://127.0.0.1:1"], 1)
    Console(file=out, width=100).print(render_panel(stats, pool, Rates(1, 1, 1, 1), 4, "t"))
    assert "170 of ? done  ETA --" in out.getvalue() and "%" not in out.getvalue()


# -- 2. resume checks the dataset's identity -----------------------------------------------------


def rewrite_clip(root: Path, sample_id: str, text: str) -> None:
    """Revise the split under the same ids: one clip gets new audio and a new reference."""
    import pyarrow.parquet as pq

    from asyncbench.sources import watermark
    from asyncbench.sources.hub_layout import encode_audio

    (file,) = sorted((root / "ami").glob("test-*.parquet"))
    rows = pq.read_table(file).to_pylist()
    index = next(i for i, r in enumerate(rows) if r["id"] == sample_id)
    pcm = watermark.embed(text, 1.5, seed=99)
    rows[index]["audio"] = {"bytes": encode_audio(pcm, 16000, "flac"), "path": "new.flac"}
    rows[index]["text"] = text
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(file)), file)


def test_resume_after_the_dataset_changed_is_refused_then_revalidated(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    results = tmp_path / "r"
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 0, err
    path = only_file(results)
    before = meta_of(path)["dataset"]["fingerprint"]
    rewrite_clip(plain, "ami-test-00003", "A brand new sentence about rivers.")
    sent = len(server.seen)
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 2
    after = json.loads(
        json.dumps(
            __import__("asyncbench.sources.describe", fromlist=["x"])
            .describe(str(plain), "ami", "test")
            .fingerprint
        )
    )
    assert one_error_line(err) == (
        f"error: results file {path} was written from another version of the dataset "
        f"(fingerprint {before!r} → {after!r}, says {path.stem}.meta.json); pass another "
        "--results_dir to start afresh, or --revalidate to redo exactly the samples whose "
        "audio or reference changed"
    )
    assert len(server.seen) == sent  # nothing was sent
    code, _, err = run(capsys, plain, results, server.endpoints, "--revalidate")
    assert code == 0, err
    assert (
        f"revalidate: {N} samples of {path.name} checked against the dataset (fingerprint "
        f"{before!r} → {after!r}): 1 changed (audio or reference); 1 will be redone"
    ) in err
    assert len(server.seen) == sent + 1  # exactly the changed clip went again
    rows = {r["id"]: r for r in read_results(path)}
    assert len(rows) == N
    assert rows["ami-test-00003"]["pred_text"] == "A brand new sentence about rivers."
    assert rows["ami-test-00003"]["text"] == "A brand new sentence about rivers."
    assert meta_of(path)["dataset"]["fingerprint"] == after
    # and the next plain resume agrees again: nothing to do, no refusal
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 0, err and len(server.seen) == sent + 1


def test_a_format_1_sidecar_is_upgraded_not_refused(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    results = tmp_path / "r"
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 0, err
    path = only_file(results)
    meta = meta_of(path)
    old = {k: meta[k] for k in ("model_name", "dataset_source", "config", "split", "language")}
    path.with_name(path.stem + ".meta.json").write_text(
        json.dumps({"format": "asyncbench-results/1", **old})
    )
    # scored as before sizes were recorded: from its own lines, and said so
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0")
    assert code == 0, err
    assert f": {N}/{N} samples done (100.00 %)" in out
    assert err == (
        f"note: {path}: its sidecar is from before dataset sizes were recorded; coverage "
        "counted from its own lines\n"
    )
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 0, err
    assert meta_of(path)["format"] == "asyncbench-results/2"
    assert meta_of(path)["dataset"]["rows"] == N


# -- 5. runs found by their sidecars -------------------------------------------------------------


def test_a_sweep_under_results_stays_out_of_the_model_table(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    results = tmp_path / "results"
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 0, err
    args = run_args("aldea/default", plain, "ami", "test", server.endpoints, results)
    at = args.index("--results_dir")
    del args[at : at + 2]  # a sweep writes its levels under --sweep_dir
    code, _, err = cli(
        capsys,
        "sweep",
        *args,
        "--levels",
        "1,2",
        "--max_samples",
        "4",
        "--sweep_dir",
        results / "sweeps",
    )
    assert code == 0, err
    assert len(list(results.rglob("*.jsonl"))) == 3  # the run and two sweep levels
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [d["samples"] for d in report["datasets"]] == [N]  # one row: the run, not 3
    assert report["composite"][0]["datasets"] == 1
    (note,) = [line for line in err.splitlines() if line.startswith("note: ")]
    assert note.endswith(
        "a sweep's 2 level files left out of the tables (score that folder itself to see them)"
    )
    # the report reads the same runs: one file for the model, the sweep in its own section
    from asyncbench.reporting.report import gather

    data = gather(results)
    assert [f.score.n_samples for f in data.files] == [N] and len(data.sweeps) == 1
    # the run's identity travels with its score
    prov = report["datasets"][0]["provenance"]
    assert prov["dataset"]["rows"] == N and prov["tool_version"] and prov["command"][1] == "run"
    # a second run of the same model and dataset elsewhere under results/: asked, not merged
    code, _, err = run(capsys, plain, results / "again", server.endpoints)
    assert code == 0, err
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0")
    assert code == 2
    first, second = only_file(results), only_file(results / "again")
    assert one_error_line(err) == (
        f"error: 2 runs of aldea/default on {first.stem.split('_DATASET_')[1]} found ({first}; "
        f"{second}); pass a folder that holds only one of them (score also takes --run PATH "
        "to choose one)"
    )
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0", "--json", "--run", second)
    assert code == 0, err
    assert [d["file"] for d in json.loads(out)["datasets"]] == [str(second)]


# -- 7. verify -----------------------------------------------------------------------------------


def test_verify_accepts_a_whole_run_and_names_what_is_wrong_with_others(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    results = tmp_path / "results"
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 0, err
    code, out, err = cli(capsys, "verify", results, "--dataset_path", plain)
    assert code == 0, out + err
    assert out.splitlines()[-1] == "verify: 1 of 1 runs accepted; the folder is acceptable"
    path = only_file(results)
    assert f"{N}/{N}" in out.splitlines()[1] and out.splitlines()[1].endswith("ok")

    # a clip revised since, a duplicated line, and a sample from another dataset
    rewrite_clip(plain, "ami-test-00003", "A brand new sentence about rivers.")
    lines = path.read_bytes().splitlines(keepends=True)
    foreign = json.loads(lines[0]) | {"id": "other-set-00001\x1b[31m"}
    path.write_bytes(b"".join(lines) + lines[1] + json.dumps(foreign).encode() + b"\n")
    code, out, err = cli(capsys, "verify", results, "--dataset_path", plain)
    assert code == 1, out + err
    row = out.splitlines()[1]
    assert "\x1b" not in out
    assert row.endswith(
        "NO: 1 duplicate lines; 1 samples not in the dataset; 1 samples changed since they ran"
    ), row
    assert out.splitlines()[-1] == "verify: 0 of 1 runs accepted; the folder is not acceptable"


def test_verify_refuses_an_interrupted_run_and_a_file_without_sidecar(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    with Background(LoopbackAldea(transcript=transcript_of, plan=held_after(4))) as srv:
        args = run_args("aldea/default", plain, "ami", "test", srv.endpoints, results)
        proc = subprocess.Popen(
            [PYTHON, "-m", "asyncbench", "run", *map(str, args), "--max_workers", "1"],
            cwd=REPO,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while len(srv.seen) < 5:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    path = only_file(results)
    bare = results / "hand" / "MODEL_aldea-default_DATASET_x_ami_test.jsonl"
    bare.parent.mkdir()
    bare.write_bytes(path.read_bytes())
    code, out, err = cli(capsys, "verify", results)
    assert code == 1, out + err
    rows = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert rows[path.name].endswith(f"NO: {N - 4} samples not done"), rows
    assert rows[f"hand/{bare.name}"].endswith(
        "NO: dataset size unknown (no sidecar rows; pass --dataset_path); provenance lacks sidecar"
    ), rows


# -- the same through --processes 2 and batch: the driver writes one sidecar per results file ---


@pytest.mark.parametrize("how", ["processes", "batch"])
def test_processes_and_batch_write_the_provenance_sidecar(
    capsys: pytest.CaptureFixture[str],
    plain: Path,
    tmp_path: Path,
    server: LoopbackAldea,
    how: str,
) -> None:
    results = tmp_path / "r"
    if how == "processes":
        code, _, err = run(capsys, plain, results, server.endpoints, "--processes", "2")
    else:
        code, _, err = cli(
            capsys, "batch", "--model", "aldea/default", "--datasets", "ami:test",
            "--dataset_path", plain, "--aldea_endpoints", server.endpoints,
            "--results_dir", results, "--max_workers", "2", "--no_progress",
        )  # fmt: skip
    assert code == 0, err
    path = only_file(results)
    assert sorted(p.name for p in results.glob("*.meta.json")) == [path.stem + ".meta.json"]
    meta = meta_of(path)
    assert meta["dataset"]["rows"] == N and meta["expected_samples"] == N
    assert meta["ended_at"] and meta["command"][1] == ("run" if how == "processes" else "batch")
    assert meta["concurrency"]["processes"] == (2 if how == "processes" else 1)
    rows = read_results(path)
    assert len(rows) == N and all(r["audio_sha"] and r["ref_sha"] for r in rows)
    code, out, err = cli(capsys, "verify", results, "--dataset_path", plain)
    assert code == 0, out + err


# -- a hub dataset is named by the revision the Hub resolves -------------------------------------


class FakeHub:
    """The Hub's `GET /api/datasets/<repo>` on loopback: answers the commit `sha` it is set to."""

    def __init__(self) -> None:
        from .loopback import free_port

        self.port = free_port()
        self.sha = "1111111111111111111111111111111111111111"
        self._runner = None

    async def __aenter__(self) -> FakeHub:
        from aiohttp import web

        from .loopback import serve

        async def info(request: web.Request) -> web.Response:
            repo = f"{request.match_info['owner']}/{request.match_info['name']}"
            return web.json_response({"id": repo, "sha": self.sha, "private": False})

        app = web.Application()
        app.router.add_get("/api/datasets/{owner}/{name}", info)
        self._runner = await serve(app, [self.port])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def test_a_hub_dataset_whose_revision_moved_is_refused(
    plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    """The local copy under --data_root did not change, but the Hub's commit did."""
    root = tmp_path / "copies"
    (root / "owner").mkdir(parents=True)
    plain.rename(root / "owner" / "set")
    results = tmp_path / "r"
    with Background(FakeHub()) as hub:
        env = cli_env(HF_HUB_OFFLINE="0", HF_ENDPOINT=f"http://127.0.0.1:{hub.port}")
        args = ["run", "--model_name", "aldea/default", "--dataset_path", "owner/set"]
        args += ["--data_root", str(root), "--dataset", "ami", "--split", "test"]
        args += ["--aldea_endpoints", server.endpoints, "--results_dir", str(results)]
        args += ["--no_progress"]

        def go() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [PYTHON, "-m", "asyncbench", *args],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip

        done = go()
        assert done.returncode == 0, done.stderr
        path = only_file(results)
        ds = meta_of(path)["dataset"]
        assert (ds["kind"], ds["repo_id"], ds["revision"]) == ("hub", "owner/set", hub.sha)
        old, hub.sha = hub.sha, "2222222222222222222222222222222222222222"
        done = go()
    assert done.returncode == 2
    assert one_error_line(done.stderr) == (
        f"error: results file {path} was written from another version of the dataset "
        f"(revision {old!r} → {hub.sha!r}, says {path.stem}.meta.json); pass another "
        "--results_dir to start afresh, or --revalidate to redo exactly the samples whose "
        "audio or reference changed"
    )


# -- the model version an API reports goes into the sidecar --------------------------------------


def test_the_model_version_deepgram_reports_is_recorded(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    plain: Path,
    tmp_path: Path,
) -> None:
    from asyncbench.servers.mock.deepgram import MODEL_VERSION

    from .support import MockServer

    results = tmp_path / "r"
    with Background(MockServer()) as mock:
        monkeypatch.setenv("DEEPGRAM_BASE_URL", mock.url)
        monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-test-0123456789")
        code, _, err = cli(
            capsys, "run", "--model_name", "deepgram/nova-3", "--dataset_path", plain,
            "--dataset", "ami", "--split", "test", "--results_dir", results, "--no_progress",
        )  # fmt: skip
    assert code == 0, err
    meta = meta_of(only_file(results))
    assert meta["provider_model_version"] == f"nova-3 {MODEL_VERSION}"
    assert meta["provider"] == "deepgram" and meta["endpoints"] == [f"{mock.url}/v1/listen"]


def test_shards_are_one_run_counted_against_the_whole_split(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    results = tmp_path / "r"
    code, _, err = run(capsys, plain, results, server.endpoints, "--shard", "0/2")
    assert code == 0, err
    first = len(read_results(only_file(results)))
    assert 0 < first < N
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0", "--json")
    assert code == 0, err
    (scored,) = json.loads(out)["datasets"]
    assert scored["coverage_percent"] == round(100 * first / N, 2)  # not 100 %: a shard is missing
    code, _, err = run(capsys, plain, results, server.endpoints, "--shard", "1/2")
    assert code == 0, err
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0", "--json")
    (scored,) = json.loads(out)["datasets"]
    assert scored["samples"] == N and scored["coverage_percent"] == 100.0


def test_verify_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = cli(capsys, "verify", tmp_path / "nowhere")
    assert code == 2
    assert one_error_line(err) == (
        f"error: results directory '{tmp_path / 'nowhere'}' does not exist: pass the folder "
        "your runs wrote their .jsonl files to (default ./results)"
    )
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "MODEL_a-b_DATASET_x_c_test.jsonl").write_text(
        '{"text": "a", "pred_text": "a"}\n'
    )
    code, _, err = cli(capsys, "verify", tmp_path / "r", "--dataset_path", "./no/such/folder")
    assert code == 2
    assert one_error_line(err) == (
        "error: --dataset_path './no/such/folder' does not exist: pass the dataset folder the "
        "runs read (or its hub id)"
    )


def test_a_chunked_set_is_described_by_its_chunk_table_and_audio_files(tmp_path: Path) -> None:
    """Rows are chunks; a chunk's audio file re-cut (another size) changes the fingerprint."""
    from asyncbench.sources.chunked import open_source
    from asyncbench.sources.describe import describe

    from .board_layout import write_chunked_copy

    chunks, parent = tmp_path / "chunks", tmp_path / "parent"
    write_chunked_copy(chunks, parent, {"call-a": 3, "call-b": 2})
    config = "earnings22_cleaned_aa_chunked"

    def described():  # type: ignore[no-untyped-def]
        ds = open_source(
            str(chunks), str(chunks), config, "test", parent_path=str(parent), parent_given=True
        )
        return describe(str(chunks), config, "test", ds=ds)

    before = described()
    assert (before.kind, before.rows, before.chunking) == ("chunked", 5, "chunked")
    clip = chunks / "audio" / "call-b_0000.wav"
    clip.write_bytes(clip.read_bytes() + b"\0" * 64)
    assert described().fingerprint != before.fingerprint


def test_a_run_whose_size_nothing_said_is_scored_of_unknown(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    """A sidecar without rows (a source that could not say): `of ?`, never 100 %."""
    results = tmp_path / "r"
    code, _, err = run(capsys, plain, results, server.endpoints)
    assert code == 0, err
    path = only_file(results)
    meta = meta_of(path)
    meta["dataset"]["rows"] = meta["expected_samples"] = None
    path.with_name(path.stem + ".meta.json").write_text(json.dumps(meta))
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0")
    assert code == 0, err
    assert f": {N} of ? samples done (the dataset's size is unknown)" in out, out
    code, out, err = cli(capsys, "score", results, "--bootstrap", "0", "--json")
    assert json.loads(out)["datasets"][0]["coverage_percent"] is None


def test_hostile_names_are_shown_safely(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Names come from file names: control characters become `?`, long ones are cut."""
    model = "evil-m\x1b[31m<b>" + "x" * 200
    name = f"MODEL_{model}_DATASET_set_c_test.jsonl"
    line = '{"id": "a", "status": "ok", "text": "a b", "pred_text": "a b", "duration": 1.0}\n'
    for folder in ("one", "two"):
        (tmp_path / "r" / folder).mkdir(parents=True)
        (tmp_path / "r" / folder / name).write_text(line)
    code, _, err = cli(capsys, "score", tmp_path / "r", "--bootstrap", "0")
    assert code == 2
    shown = one_error_line(err)
    assert "\x1b" not in shown and "evil/m?[31m<b>" in shown
    code, out, err = cli(capsys, "verify", tmp_path / "r")
    assert code == 1
    assert "\x1b" not in out and all(len(row) < 700 for row in out.splitlines())
    assert out.splitlines()[-1] == "verify: 0 of 2 runs accepted; the folder is not acceptable"


def test_compare_pairs_the_runs_not_a_sweep_level(
    capsys: pytest.CaptureFixture[str], plain: Path, tmp_path: Path, server: LoopbackAldea
) -> None:
    results = tmp_path / "results"
    for model in ("aldea/a", "aldea/b"):
        args = run_args(model, plain, "ami", "test", server.endpoints, results)
        code, _, err = cli(capsys, "run", *args)
        assert code == 0, err
    args = run_args("aldea/b", plain, "ami", "test", server.endpoints, results)
    at = args.index("--results_dir")
    del args[at : at + 2]
    code, _, err = cli(
        capsys, "sweep", *args, "--levels", "1", "--max_samples", "4",
        "--sweep_dir", results / "sweeps",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(
        capsys, "compare", results, "--model", "aldea/a", "--model", "aldea/b", "--json",
        "--bootstrap", "50",
    )  # fmt: skip
    assert code == 0, err
    (pair,) = json.loads(out)["datasets"]
    assert pair["samples"] == N, pair  # every sample, not the 4 of the level


def test_processes_count_rows_without_a_reference_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, server: LoopbackAldea
) -> None:
    """Every shard reads every row: rows dropped for an empty reference are counted once in
    the denominator, not once per process (was: 20 - 2 × 2 = 16 expected of 18 done)."""
    from .support import sentence

    texts = [sentence(i) for i in range(N)]
    texts[3] = texts[11] = ""
    data = drop_dataset_info(make_dataset(tmp_path / "gaps", {("ami", "test"): texts}))
    results = tmp_path / "r"
    code, _, err = run(capsys, data, results, server.endpoints, "--processes", "2")
    assert code == 0, err
    assert meta_of(only_file(results))["expected_samples"] == N - 2
    assert f"coverage: {N - 2}/{N - 2} samples done (100.00 %)" in err
