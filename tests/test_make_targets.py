"""`make test` as a newcomer runs it: chromium installed when it can be (so the report's
browser test runs), the suite on every core with the Ray tests kept on one worker, and
PYTEST_ARGS to choose otherwise. Read with `make -n` (what would run, nothing run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .support import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(*args: str) -> str:
    """`make -n test` as a user types it. Under `make test` itself (CI) the outer make's
    MAKELEVEL/MAKEFLAGS would make this one print "Entering/Leaving directory" lines, and
    the outer make's own PYTEST_ARGS would reach it through the environment."""
    outer = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "PYTEST_ARGS")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "test", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_test_installs_chromium_when_missing_and_runs_on_every_core() -> None:
    out = dry_run()
    assert "command -v chromium" in out and "install -y -qq --no-install-recommends chromium" in out
    assert "the report's browser test will skip" in out  # a failed install is not fatal
    assert out.splitlines()[-1].endswith("pytest -q -n auto --dist loadfile")


def test_pytest_args_choose_the_run() -> None:
    assert dry_run("PYTEST_ARGS=-x -k batch").splitlines()[-1].endswith("pytest -q -x -k batch")


def test_files_sharing_ray_or_the_seeds_ports_are_one_scheduling_unit() -> None:
    from .conftest import unit_of

    assert unit_of("tests/test_ray.py::test_x[1]") == unit_of("tests/test_money_ray.py::t")
    assert unit_of("tests/test_demo.py::test_demo") == unit_of(
        "tests/test_readme_recipes.py::test_recipe_cost_before_paying"
    )
    assert unit_of("tests/test_results.py::test_a") == unit_of("tests/test_results.py::test_b")
    assert unit_of("tests/test_results.py::test_a") != unit_of("tests/test_batch.py::test_a")


def test_xdist_runs_each_file_and_each_shared_group_on_one_worker(tmp_path: Path) -> None:
    """A real -n 2 run with this repository's conftest: three files of six tests, two of
    them one `SHARED` group. Each file's tests report from one worker, and the group's two
    files from the same one."""
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(REPO / "tests" / "conftest.py", tests / "conftest.py")
    body = "import pytest\n\n@pytest.mark.parametrize('i', range(6))\ndef test_x(i):\n    pass\n"
    for name in ("test_demo.py", "test_readme_recipes.py", "test_other.py"):
        (tests / name).write_text(body)
    args = ["-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile", "-v", "tests"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    workers: dict[str, set[str]] = {}
    for worker, name in re.findall(r"^\[(gw\d)\].*PASSED tests/(\w+)\.py", done.stdout, re.M):
        workers.setdefault(name, set()).add(worker)
    assert {k: len(v) for k, v in workers.items()} == dict.fromkeys(
        ("test_demo", "test_readme_recipes", "test_other"), 1
    ), done.stdout
    assert workers["test_demo"] == workers["test_readme_recipes"], done.stdout
