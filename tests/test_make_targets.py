"""`make test` as a newcomer runs it: chromium installed when it can be (so the report's
browser test runs), the suite on every core with the Ray tests kept on one worker, and
PYTEST_ARGS to choose otherwise. Read with `make -n` (what would run, nothing run)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .support import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(*args: str) -> str:
    done = subprocess.run(
        ["make", "-n", "test", *args], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_test_installs_chromium_when_missing_and_runs_on_every_core() -> None:
    out = dry_run()
    assert "command -v chromium" in out and "install -y -qq --no-install-recommends chromium" in out
    assert "the report's browser test will skip" in out  # a failed install is not fatal
    assert out.splitlines()[-1].endswith("pytest -q -n auto --dist loadgroup")


def test_pytest_args_choose_the_run() -> None:
    assert dry_run("PYTEST_ARGS=-x -k batch").splitlines()[-1].endswith("pytest -q -x -k batch")


def test_the_ray_tests_share_one_xdist_group() -> None:
    text = (REPO / "tests" / "test_ray.py").read_text()
    assert 'pytest.mark.xdist_group("ray")' in text


def test_the_tests_on_the_seeds_ports_share_one_xdist_group() -> None:
    for name in ("test_demo.py", "test_readme_recipes.py"):
        assert '@pytest.mark.xdist_group("port-8800")' in (REPO / "tests" / name).read_text()
