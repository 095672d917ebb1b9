"""What the tests of the leaderboard's newer providers share (modulate, reson8, smallestai,
aquavoice, and Aldea's public API): the CLI checks every provider must pass, run once per
module and side by side.

Each run gets a mock of its own, so "no request was sent" is a counter that only that run
could have raised. The end-to-end run goes through `run_eval.py`, the seed's entry point, as
a user of the leaderboard's scripts would run it; the error runs through `asyncbench run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asyncbench.servers.mock.state import MockConfig, MockState

from .provider_runs import (
    CONFIG,
    SPLIT,
    CliRun,
    assert_all_correct,
    env_with,
    run_split,
    small_split,
)
from .support import PYTHON, REPO, MockServer, only_file

#: variables of these providers a developer may have set; tests choose them explicitly
LEADERBOARD_ENV = ("MODULATE_", "RESON8_", "SMALLESTAI_", "AQUAVOICE_")


def clean_env(**values: str) -> dict[str, str]:
    """The CLI's environment without any provider key or URL but the ones given."""
    env = {k: v for k, v in env_with().items() if not k.startswith(LEADERBOARD_ENV)}
    env.update(values)
    return env


async def run_eval(*args: str | Path, env: Mapping[str, str]) -> tuple[int, str, str]:
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
                out = await run_eval(*flags, *spec.extra, env=spec.env)
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
        "ok": Spec(model, clean_env(**{env_name: key}), extra, keys, True, base_suffix),
        "bad_key": Spec(
            model, clean_env(**{env_name: "wrong-key-0000"}), extra, keys, False, base_suffix
        ),
        "no_key": Spec(model, clean_env(), extra, keys, False, base_suffix),
        "bad_option": Spec(
            bad_model, clean_env(**{env_name: key}), (*extra, *bad_flags), keys, False, base_suffix
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
