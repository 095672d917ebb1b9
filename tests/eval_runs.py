"""The leaderboard's newer providers through the CLI (soniox, gladia, microsoft, zoom,
modulate, reson8, smallestai, aquavoice, and Aldea's public API): `run_eval.py`, the seed's
entry point, on the small split against the in-process mock, several runs at once.

On top of `provider_runs`: the runs go through `run_eval.py` itself (the command the
leaderboard's users type), and the end-to-end checks also name the results file and check
that every sample appears exactly once. `run_all` gives each run a mock of its own, so "no
request was sent" is a counter only that run could have raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asyncbench.results.store import results_name
from asyncbench.servers.mock.state import MockConfig, MockState

from .provider_runs import (
    CONFIG,
    N_SAMPLES,
    SPLIT,
    CliRun,
    CliRuns,
    RunSpec,
    assert_all_correct,
    env_with,
    run_split,
    small_split,
)
from .support import PYTHON, REPO, MockServer, only_file

#: variables of these providers a developer may have set; the tests choose them explicitly
LEADERBOARD_ENV = (
    "SONIOX_", "GLADIA_", "AZURE_", "MICROSOFT_", "ZOOM_",
    "MODULATE_", "RESON8_", "SMALLESTAI_", "AQUAVOICE_", "META_", "SPRAG_", "SOPHEA_",
    "GEMINI_",
)  # fmt: skip


def lb_env(**values: str) -> dict[str, str]:
    """The CLI's environment with none of these providers' variables but the ones given."""
    env = {k: v for k, v in env_with().items() if not k.startswith(LEADERBOARD_ENV)}
    env.update(values)
    return env


async def run_eval_args(*args: str | Path, env: Mapping[str, str]) -> tuple[int, str, str]:
    """`python run_eval.py ARGS` from the repo root, as the seed README shows."""
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "run_eval.py",
        *map(str, args),
        cwd=REPO,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run_eval(
    model_name: str, dataset: Path, results: Path, mock_url: str, env: dict[str, str], *extra: str
) -> tuple[int, str, str]:
    """`python run_eval.py ...` on the small split against the mock."""
    return await run_eval_args(
        "--model_name", model_name, "--dataset", CONFIG, "--split", SPLIT,
        "--dataset_path", dataset, "--results_dir", results, "--base_url", mock_url,
        "--max_workers", "8", "--no_progress", *extra, env=env,
    )  # fmt: skip


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


@dataclass(frozen=True)
class Spec:
    """One CLI run: the model, its environment and extra flags, the mock it talks to, and
    whether it goes through `run_eval.py` (else `asyncbench run`)."""

    model: str
    env: dict[str, str]
    extra: tuple[str, ...] = ()
    mock: MockConfig = field(default_factory=MockConfig)
    via_run_eval: bool = False
    base_suffix: str = ""  # appended to the mock's URL for --base_url


@dataclass
class Outcome:
    run: CliRun
    mock: MockState


def run_all(root: Path, specs: Mapping[str, Spec]) -> dict[str, Outcome]:
    """Every spec on the small split, each against its own mock, all at once."""
    dataset = small_split(root / "esb")

    async def one(name: str, spec: Spec) -> Outcome:
        results = root / name
        async with MockServer(spec.mock) as mock:
            base = mock.url + spec.base_suffix
            if spec.via_run_eval:
                flags = (
                    f"--model_name={spec.model}",
                    f"--dataset={CONFIG}",
                    f"--split={SPLIT}",
                    f"--dataset_path={dataset}",
                    f"--results_dir={results}",
                    f"--base_url={base}",
                    "--max_workers=8",
                    "--no_progress",
                )
                out = await run_eval_args(*flags, *spec.extra, env=spec.env)
            else:
                out = await run_split(spec.model, dataset, results, base, spec.env, *spec.extra)
        return Outcome(CliRun(*out, results), mock.state)

    async def main() -> dict[str, Outcome]:
        done = await asyncio.gather(*(one(name, spec) for name, spec in specs.items()))
        return dict(zip(specs, done, strict=True))

    return asyncio.run(main())


def standard_specs(
    model: str,
    env_name: str,
    key: str,
    mock_name: str,
    *,
    bad_option: tuple[str, tuple[str, ...]],
    extra: tuple[str, ...] = (),
    base_suffix: str = "",
) -> dict[str, Spec]:
    """The four runs every provider gets: `ok` (run_eval.py, good key), `bad_key` (a key the
    mock refuses), `no_key`, and `bad_option` (model name and flags that are invalid)."""
    keys = MockConfig(keys={mock_name: key})
    bad_model, bad_flags = bad_option
    return {
        "ok": Spec(model, lb_env(**{env_name: key}), extra, keys, True, base_suffix),
        "bad_key": Spec(
            model, lb_env(**{env_name: "wrong-key-0000"}), extra, keys, False, base_suffix
        ),
        "no_key": Spec(model, lb_env(), extra, keys, False, base_suffix),
        "bad_option": Spec(
            bad_model, lb_env(**{env_name: key}), (*extra, *bad_flags), keys, False, base_suffix
        ),
    }


def assert_end_to_end(outcome: Outcome, model: str, mock_name: str) -> list[dict]:
    """run_eval.py wrote the seed's file name, every sample once and right at the first
    attempt (one request each), and printed the score."""
    rows = assert_all_correct(outcome.run)
    name = only_file(outcome.run.results).name
    assert name.startswith(f"MODEL_{model.replace('/', '-')}_DATASET_"), name
    assert name.endswith(f"_{CONFIG}_{SPLIT}.jsonl"), name
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["attempts"] == 1 for r in rows)
    assert outcome.mock.counters[f"{mock_name}.requests"] == len(rows)
    assert "RTFx:" in outcome.run.out, outcome.run.out
    return rows


def assert_refused_before_any_request(outcome: Outcome, mock_name: str, line: str) -> None:
    """Exit 2, exactly `line` on stderr, and the mock never asked."""
    run = outcome.run
    assert run.code == 2, run.err
    assert run.err.strip().splitlines() == [line], run.err
    assert outcome.mock.counters[f"{mock_name}.requests"] == 0
    assert not list(run.results.glob("*.jsonl"))
