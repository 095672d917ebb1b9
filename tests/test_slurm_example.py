"""`examples/slurm_array.sh`, run as each array task would run it, then scored as one split.

The script body runs for real (bash, the CLI in a subprocess, a loopback Aldea server); only
Slurm itself is absent, and the script reads nothing of Slurm but the two array variables.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from .loopback import LoopbackAldea
from .support import PYTHON, REPO, cli_env, make_dataset, read_results, run_cli, transcript_of

SCRIPT = REPO / "examples" / "slurm_array.sh"
N = 24
TASKS = 3


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("slurm") / "esb", {("voxpopuli", "test"): N}, fmt="wav"
    )


async def array_task(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash", str(SCRIPT), env=env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_each_array_task_runs_its_shard_and_score_merges_them(
    esb: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    async with LoopbackAldea(1, transcript=transcript_of) as srv:
        base = cli_env(
            ASYNCBENCH=f"{PYTHON} -m asyncbench",
            MODEL="aldea/default",
            DATASET_PATH=str(esb),
            DATASET="voxpopuli",
            SPLIT="test",
            RESULTS_DIR=str(results),
            MAX_WORKERS="4",
            ALDEA_ENDPOINTS=srv.endpoints,
            SLURM_ARRAY_TASK_COUNT=str(TASKS),
        )
        for task in range(TASKS):
            code, out = await array_task({**base, "SLURM_ARRAY_TASK_ID": str(task)})
            assert code == 0, out
            assert f"shard {task}/{TASKS} of voxpopuli/test" in out
    files = sorted(results.glob("*.jsonl"))
    assert [f.name.rsplit(".", 2)[-2] for f in files] == [f"shard-{i}-of-{TASKS}" for i in range(3)]
    ids = [row["id"] for f in files for row in read_results(f)]
    assert len(ids) == len(set(ids)) == N

    done = run_cli("score", results, "--json")
    assert done.returncode == 0, done.stderr
    (merged,) = json.loads(done.stdout)["datasets"]
    assert merged["samples"] == N and merged["wer"] == 0.0


async def test_outside_a_job_array_the_script_says_what_to_set(tmp_path: Path) -> None:
    code, out = await array_task(cli_env())
    assert code != 0
    assert "run under sbatch --array=0-N, or set SLURM_ARRAY_TASK_ID" in out
