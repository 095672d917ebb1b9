"""The leaderboard providers' CLI runs (soniox, gladia, microsoft, zoom): the seed's entry
point `run_eval.py` on the small split against the in-process mock, several runs at once.

On top of `provider_runs`: the runs go through `run_eval.py` itself (the command the
leaderboard's users type), and the end-to-end check also names the results file and checks
that every sample appears exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncbench.results.store import results_name
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    CONFIG,
    N_SAMPLES,
    SPLIT,
    CliRun,
    CliRuns,
    RunSpec,
    assert_all_correct,
    env_with,
    small_split,
)
from .support import PYTHON, REPO, MockServer, only_file

#: variables of these providers a developer may have set; the tests choose them explicitly
LEADERBOARD_ENV = ("SONIOX_", "GLADIA_", "AZURE_", "MICROSOFT_", "ZOOM_")


def lb_env(**values: str) -> dict[str, str]:
    """The CLI's environment with none of these providers' variables but the ones given."""
    env = {k: v for k, v in env_with().items() if not k.startswith(LEADERBOARD_ENV)}
    env.update(values)
    return env


async def run_eval(
    model_name: str, dataset: Path, results: Path, mock_url: str, env: dict[str, str], *extra: str
) -> tuple[int, str, str]:
    """`python run_eval.py ...` on the small split against the mock, from the repo root."""
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "run_eval.py",
        "--model_name",
        model_name,
        "--dataset",
        CONFIG,
        "--split",
        SPLIT,
        "--dataset_path",
        str(dataset),
        "--results_dir",
        str(results),
        "--base_url",
        mock_url,
        "--max_workers",
        "8",
        "--no_progress",
        *extra,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def eval_runs(config: MockConfig, root: Path, specs: RunSpec) -> CliRuns:
    """Serve the mock and run every spec through `run_eval.py` at once (separate processes,
    own results folders), as `provider_runs.cli_runs` does for `asyncbench run`."""
    dataset = small_split(root / "esb")

    async def main() -> CliRuns:
        async with MockServer(config) as mock:
            outputs = await asyncio.gather(
                *(
                    run_eval(model, dataset, root / name, mock.url, env, *extra)
                    for name, (model, env, extra) in specs.items()
                )
            )
        runs = {name: CliRun(*o, root / name) for name, o in zip(specs, outputs, strict=True)}
        return CliRuns(runs, mock.state)

    return asyncio.run(main())


def assert_leaderboard_run(run: CliRun, model_name: str, dataset: Path) -> list[dict]:
    """Exit 0, the seed's results file name, every sample once with its own transcript, and
    the WER and RTFx lines printed."""
    rows = assert_all_correct(run)
    path = only_file(run.results)
    assert path.name == results_name(model_name, str(dataset), CONFIG, SPLIT)
    assert path.name.startswith(f"MODEL_{model_name.replace('/', '-')}_DATASET_")
    assert len({r["id"] for r in rows}) == N_SAMPLES
    assert f"Results saved at path: {path}" in run.out and "RTFx:" in run.out
    return rows


def assert_one_error_line(run: CliRun, *needles: str) -> str:
    """Exit 2 with one `error:` line (containing every needle), no traceback, no results."""
    assert run.code == 2, (run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    assert all(n in lines[0] for n in needles), lines[0]
    assert not list(run.results.glob("*.jsonl"))
    return lines[0]
