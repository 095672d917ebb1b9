"""SLOs and `--fail_if` gates: parsing, and PASS/FAIL exit codes through the real CLI
(`run` in this process against a loopback server; `score` as a subprocess, as CI runs it)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.core.gates import (
    GATE_FAILED,
    SCORE_GATE_METRICS,
    judge,
    parse_gates,
    parse_slos,
    request_meets,
)

from .inproc import Background, cli, one_error_line, run_args
from .loopback import LoopbackAldea
from .support import cli_env, make_dataset, run_cli, transcript_of

N = 8


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("gates") / "esb", {("ami", "test"): N}, fmt="wav")


@pytest.fixture(scope="module")
def scored(esb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder with one finished, perfect (WER 0) split."""
    results = tmp_path_factory.mktemp("scored")
    with Background(LoopbackAldea(transcript=transcript_of)) as srv:
        code = run_cli(
            "run", *run_args("aldea/default", esb, "ami", "test", srv.endpoints, results)
        ).returncode
    assert code == 0
    return results


def test_parse_units_and_ops() -> None:
    (slo,) = parse_slos(["latency<=250ms"])
    assert (slo.metric, slo.op, slo.threshold) == ("latency", "<=", 0.25)
    assert request_meets(slo, 0.25, 1.0) and not request_meets(slo, 0.26, 1.0)
    (rtfx,) = parse_slos(["rtfx >= 10"])
    assert request_meets(rtfx, 0.1, 1.0) and not request_meets(rtfx, 0.2, 1.0)
    gates = parse_gates(["wer>8%", "p99>3s", "coverage<99.5", "goodput<30/s", "late_starts>0"])
    assert [g.threshold for g in gates] == [8, 3, 99.5, 30, 0]
    out = judge(gates, {"wer": 8.5, "p99": 2.0, "coverage": 100.0, "goodput": None})
    assert [o.failed for o in out] == [True, False, False, True, True]
    assert out[0].line() == "gate FAIL: fail_if wer>8%: wer = 8.5"
    assert out[1].line() == "gate PASS: fail_if p99>3s: p99 = 2"
    assert "no figure: counts as failed" in out[3].line()
    assert judge(parse_gates(["wer>1"]), {"wer": math.nan})[0].failed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("wer", "--fail_if 'wer' does not parse"),
        ("wer>>8", "--fail_if 'wer>>8' does not parse"),
        ("wer=8", "--fail_if 'wer=8' does not parse"),
        ("speed>8", "--fail_if 'speed>8': unknown metric 'speed'"),
        ("wer>8s", "--fail_if 'wer>8s': wer takes no unit 's'"),
        ("p99>3%", "--fail_if 'p99>3%': p99 takes no unit '%'"),
        ("wer>1e999", "--fail_if 'wer>1e999': the number must be finite"),
    ],
)
def test_bad_gates(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_gates([spec])
    assert str(info.value).startswith(message), str(info.value)


def test_score_gates_take_only_what_a_results_folder_holds() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'p99'; metrics: wer, coverage, rtfx"):
        parse_gates(["p99>3s"], SCORE_GATE_METRICS)


def test_run_gates_pass_and_fail(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Background(LoopbackAldea(transcript=transcript_of)) as srv:
        base = run_args("aldea/default", esb, "ami", "test", srv.endpoints, tmp_path)
        passing = ("--fail_if", "wer>8", "--fail_if", "coverage<99.5", "--fail_if", "p99>30s")
        code, out, err = cli(
            capsys, "run", *base, *passing, "--slo", "latency<=30s", "--fail_if", "goodput<0.1"
        )
        assert code == 0, err
        assert "gate PASS: fail_if wer>8: wer = 0" in out
        assert "gate PASS: fail_if coverage<99.5: coverage = 100" in out
        assert "gate PASS: fail_if goodput<0.1: goodput = " in out
        assert "gates: 4 passed, 0 failed" in out

        # the same split again (complete, nothing sent): figures of this run are missing,
        # the file's WER is still there
        code, out, _ = cli(capsys, "run", *base, "--fail_if", "wer<1", "--fail_if", "wer>8")
        assert code == GATE_FAILED
        assert "gate FAIL: fail_if wer<1: wer = 0" in out
        assert "gate PASS: fail_if wer>8: wer = 0" in out
        assert "gates: 1 passed, 1 failed" in out


def test_bad_run_gate_is_one_line_before_any_request(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Background(LoopbackAldea(transcript=transcript_of)) as srv:
        base = run_args("aldea/default", esb, "ami", "test", srv.endpoints, tmp_path)
        code, _, err = cli(capsys, "run", *base, "--fail_if", "latency>3s")
        assert srv.seen == []
    assert code == 2
    assert one_error_line(err).startswith("error: --fail_if 'latency>3s': unknown metric")
    assert not list(tmp_path.glob("*.jsonl"))


def test_score_gates_exit_codes(scored: Path) -> None:
    ok = run_cli("score", scored, "--fail_if", "wer>8", "--fail_if", "coverage<99.5", env=cli_env())
    assert ok.returncode == 0, ok.stderr
    assert "gate PASS: fail_if wer>8 [aldea/default]: wer = 0" in ok.stdout
    assert "gate PASS: fail_if coverage<99.5 [aldea/default]: coverage = 100" in ok.stdout
    assert "Composite Results:" in ok.stdout

    bad = run_cli("score", scored, "--fail_if", "wer<1", "--fail_if", "rtfx<1e9")
    assert bad.returncode == 3, bad.stderr
    assert "gate FAIL: fail_if wer<1 [aldea/default]: wer = 0" in bad.stdout
    assert "gates: 0 passed, 2 failed" in bad.stdout

    js = run_cli("score", scored, "--json", "--fail_if", "wer<1")
    assert js.returncode == 3 and js.stdout.strip().startswith("{")
    assert "gate FAIL" in js.stderr

    wrong = run_cli("score", scored, "--fail_if", "p99>3s")
    assert wrong.returncode == 2
    assert one_error_line(wrong.stderr).startswith(
        "error: --fail_if 'p99>3s': unknown metric 'p99'"
    )
