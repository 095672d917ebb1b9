"""The command line as users type it: seed flags, environment, bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from asyncbench.sources import watermark
from asyncbench.sources.audio import parse_wav

from .loopback import LoopbackAldea, closed_port
from .support import PYTHON, REPO, cli_env, make_dataset, only_file, read_results, run_cli_async


def from_watermark(body: bytes) -> str:
    info = parse_wav(body)
    assert info is not None
    return watermark.extract(body[info.data_offset :]) or "no watermark"


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("cli") / "esb",
        {("librispeech", "test.clean"): 12, ("librispeech", "test.other"): 7, ("ami", "test"): 5},
        fmt="wav",  # 16 kHz PCM16 passes through untouched: these runs never import torch
    )


async def run_eval(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`python3.11 run_eval.py ...` from the repo root, as the seed README shows."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "run_eval.py",
        *map(str, args),
        cwd=REPO,
        env=env or cli_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_help_answers_without_heavy_imports() -> None:
    code = (
        "import sys\n"
        "from asyncbench.cli.app import main\n"
        "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        "names = ('torch', 'torchcodec', 'datasets', 'aiohttp', 'numpy')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert "--model_name" in out.stdout and "--aldea_endpoints" in out.stdout
    assert "HEAVY []" in out.stdout


@pytest.mark.parametrize(("given", "seen"), [(None, "1"), ("3", "3")])
def test_openblas_gets_one_thread_unless_the_user_chose(given: str | None, seen: str) -> None:
    """numpy's BLAS thread pool costs CPU at every start and is never used: one thread,
    set before numpy loads (so children inherit it), unless the user set their own."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    code = (
        "import os, sys\n"
        "from asyncbench.cli.app import main\n"
        "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert f"BLAS {seen} False" in out.stdout, out.stdout + out.stderr


def test_a_command_loads_only_its_own_module_and_help_lists_them_all() -> None:
    """`run` does not import the servers', the report's or the batch's modules at start;
    `--help` still lists every command, and one process can run one command after another
    (the in-process test runner does)."""
    code = (
        "import sys\n"
        "from asyncbench.cli.app import COMMANDS, main\n"
        "def call(*args):\n"
        "    try:\n        main(list(args))\n    except SystemExit:\n        pass\n"
        "call('run', '--help')\n"
        "others = [COMMANDS[n][0] for n in COMMANDS if n != 'run']\n"
        "print('LOADED', [m for m in others if m in sys.modules])\n"
        "call('suites', '--help')\n"
        "call('--help')\n"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
    assert "List the suites batch --suite runs" in out.stdout  # suites' own --help
    commands = out.stdout.split("Commands:")[-1]
    for name in ("run", "score", "serve", "mock", "batch", "suites", "sweep", "demo"):
        assert f"  {name} " in commands
    for name in ("report", "compare", "estimate"):
        assert f"  {name} " in commands


async def test_seed_command_equals_and_space_forms_round_robin(esb: Path, tmp_path: Path) -> None:
    async with LoopbackAldea(3, transcript=from_watermark) as srv:
        code, out, err = await run_eval(
            f"--dataset_path={esb}",
            "--dataset=librispeech",
            "--split=test.clean",
            "--model_name",
            "aldea/default",
            "--max_workers",
            "6",
            "--aldea_endpoints",
            srv.endpoints.replace(" ", ","),
            "--results_dir",
            tmp_path,
        )
    assert code == 0, err
    path = only_file(tmp_path)
    assert path.name == f"MODEL_aldea-default_DATASET_{esb.name}_librispeech_test.clean.jsonl"
    rows = read_results(path)
    assert len(rows) == 12 and all(r["pred_text"] == r["text"] for r in rows)
    # least-in-flight follows completions, so the split is even only up to timing
    assert sum(srv.count.values()) == 12 and min(srv.count.values()) >= 2
    assert all(s.headers["Content-Type"] == "wave" for s in srv.seen)
    assert f"Results saved at path: {path}" in out
    assert "WER: 0.0 %" in out and "RTFx:" in out


async def test_environment_precedence(esb: Path, tmp_path: Path) -> None:
    async with (
        LoopbackAldea(1, transcript=from_watermark) as a,
        LoopbackAldea(1) as b,
        LoopbackAldea(1) as c,
    ):
        base = ["--dataset_path", esb, "--dataset", "ami", "--model_name", "aldea/default"]
        # ALDEA_ENDPOINTS beats ALDEA_API_URL
        env = cli_env(ALDEA_ENDPOINTS=a.endpoints, ALDEA_API_URL=f"http://127.0.0.1:{b.ports[0]}")
        code, _, err = await run_eval(*base, "--results_dir", tmp_path / "1", env=env)
        assert code == 0, err
        assert sum(a.count.values()) == 5 and sum(b.count.values()) == 0
        # the flag beats both
        code, _, err = await run_eval(
            *base, "--results_dir", tmp_path / "2", "--aldea_endpoints", c.endpoints, env=env
        )
        assert code == 0, err
        assert sum(c.count.values()) == 5 and sum(a.count.values()) == 5
        # ALDEA_API_URL alone, with its path kept
        env = cli_env(
            ALDEA_API_URL=f"http://127.0.0.1:{b.ports[0]}/transcribe", ALDEA_API_KEY="k-123"
        )
        code, _, err = await run_eval(*base, "--results_dir", tmp_path / "3", env=env)
        assert code == 0, err
        assert [s.path for s in b.seen] == ["/transcribe"] * 5
        assert b.seen[0].headers["Authorization"] == "Bearer k-123"


async def test_max_samples_says_what_it_takes(esb: Path, tmp_path: Path) -> None:
    async with LoopbackAldea(1, transcript=from_watermark) as srv:
        code, _out, err = await run_cli_async(
            "run",
            "--dataset_path",
            esb,
            "--dataset",
            "librispeech",
            "--split",
            "test.other",
            "--model_name",
            "aldea/default",
            "--aldea_endpoints",
            srv.endpoints,
            "--max_samples",
            "3",
            "--results_dir",
            tmp_path,
        )
    assert code == 0, err
    assert (
        "taking the first 3 samples in dataset order (hub ESB sets are sorted longest first)" in err
    )
    rows = read_results(only_file(tmp_path))
    durations = [r["duration"] for r in rows]
    assert sorted(durations) == [1.4, 1.5, 1.6]  # the three longest of 1.0 .. 1.6 s


def bad_input_cases(esb: Path, tmp: Path) -> list[tuple[list[str], str]]:
    live = "127.0.0.1:1"  # never used: each case fails before any request

    def args(
        *flags: str, model: str = "aldea/default", dataset: str = "ami", path: Path = esb
    ) -> list[str]:
        return [
            *("--model_name", model, "--dataset", dataset, "--dataset_path", str(path)),
            *flags,
            *("--results_dir", str(tmp)),
        ]

    return [
        (
            args(model="whisperx/large"),
            "error: unknown provider prefix 'whisperx' in --model_name 'whisperx/large'; "
            "known providers: ",
        ),
        (
            args("--aldea_endpoints", live, path=tmp / "missing"),
            f"error: dataset folder '{tmp / 'missing'}' does not exist",
        ),
        (
            args("--aldea_endpoints", live, dataset="gigaspeech"),
            f"error: unknown config 'gigaspeech' in {esb}; available configs: ami, librispeech",
        ),
        (
            args("--split", "test", "--aldea_endpoints", live, dataset="librispeech"),
            f"error: unknown split 'test' for config 'librispeech' in {esb}; "
            "available splits: test.clean, test.other",
        ),
        (
            args("--aldea_endpoints", "127.0.0.1:8800 127.0.0.1:88x1"),
            "error: bad endpoint '127.0.0.1:88x1': the port is not a number 1-65535",
        ),
        (
            args("--aldea_endpoints", f"127.0.0.1:{closed_port()} 127.0.0.1:{closed_port()}"),
            "error: no endpoint is reachable (127.0.0.1:",
        ),
        (
            args("--max_workers", "0"),
            "error: --max_workers must be at least 1 (got 0)",
        ),
        (
            args("--prep_threads", "0"),
            "error: --prep_threads must be between 1 and 256 (got 0)",
        ),
        (
            args("--prep_threads", "1000"),
            "error: --prep_threads must be between 1 and 256 (got 1000)",
        ),
    ]


async def test_bad_input_is_one_line_and_exit_code_2(esb: Path, tmp_path: Path) -> None:
    for args, message in bad_input_cases(esb, tmp_path):
        code, _out, err = await run_eval(*args)
        assert code == 2, (args, err)
        assert err.startswith(message), (message, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
    assert not list(tmp_path.glob("*.jsonl"))  # no results file was started


async def test_unknown_flag_is_a_usage_error(esb: Path) -> None:
    code, _, err = await run_eval(
        "--model_name", "aldea/default", "--dataset", "ami", "--max_wrokers", "3"
    )
    assert code == 2 and "No such option: --max_wrokers" in err
