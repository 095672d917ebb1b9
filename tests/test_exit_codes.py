"""Exit codes a script can trust (#25 item 6): a run or batch whose samples ended failed, or
whose split is not all in the results file, exits 3 unless --max_failed_pct allows it, and the
console ends with the server's own words for what failed, counted."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from asyncbench.core import exit_codes
from asyncbench.results.errors_top import error_label, errors_top

from .inproc import Background, cli, run_args
from .loopback import Action, LoopbackAldea
from .support import make_dataset, transcript_of

NO_MODEL = orjson.dumps(
    {"error": {"message": "The model `whisper-large-v2` does not exist", "code": "not_found"}}
)


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("exit") / "esb", {("ami", "test"): 12}, fmt="wav")


def _run(capsys, esb: Path, results: Path, plan, *extra: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    with Background(LoopbackAldea(1, plan=plan, transcript=transcript_of)) as srv:
        return cli(
            capsys,
            "run",
            *run_args("aldea/default", esb, "ami", "test", srv.endpoints, results),
            "--max_workers",
            "4",
            *extra,
        )


def _last(err: str) -> str:
    return [line for line in err.splitlines() if line.strip()][-1]


def test_every_request_failing_exits_3_and_ends_with_the_servers_message(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=404, body=NO_MODEL, content_type="application/json")

    code, out, err = _run(capsys, esb, tmp_path / "r", plan)
    assert code == exit_codes.SHORT == 3, err
    assert _last(err) == (
        "error: 12 of 12 samples not done (12 failed, 0 never written; 100.00 % of the split, "
        "none allowed): exit 3; rerun the same command to retry them, or allow some with "
        "--max_failed_pct X"
    )
    assert '  12 × HTTP 404 "The model `whisper-large-v2` does not exist"' in err.splitlines()
    summary = json.loads(next((tmp_path / "r").glob("*.summary.json")).read_text())
    assert summary["errors_top"] == [
        {"count": 12, "message": 'HTTP 404 "The model `whisper-large-v2` does not exist"'}
    ]
    assert "Results saved at path:" in out  # the seed's lines are still printed


def test_max_failed_pct_allows_a_share_of_failures(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:  # 3 of 12 clips fail for good
        return Action(status=400, body=b"bad audio") if n % 4 == 0 else Action()

    code, _out, err = _run(capsys, esb, tmp_path / "a", plan, "--max_failed_pct", "25")
    assert code == 0, err
    assert '  3 × HTTP 400 "bad audio"' in err.splitlines()
    code, _out, err = _run(capsys, esb, tmp_path / "b", plan, "--max_failed_pct", "20")
    assert code == 3, err
    assert _last(err).startswith(
        "error: 3 of 12 samples not done (3 failed, 0 never written; 25.00 % of the split, "
        "above --max_failed_pct 20): exit 3"
    )


def test_a_clean_run_exits_0(esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _run(capsys, esb, tmp_path / "c", lambda p, n, b: Action())
    assert code == 0, err
    assert "failed samples by message" not in err
    summary = json.loads(next((tmp_path / "c").glob("*.summary.json")).read_text())
    assert summary["errors_top"] == []


def test_a_bad_max_failed_pct_is_one_line(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .inproc import one_error_line

    code, _out, err = _run(
        capsys, esb, tmp_path / "d", lambda p, n, b: Action(), "--max_failed_pct", "101"
    )
    assert code == 2
    assert (
        one_error_line(err)
        == "error: --max_failed_pct must be a percentage from 0 to 100 (got 101)"
    )


def test_hostile_messages_are_one_short_printable_line() -> None:
    body = 'HTTP 500: <script>alert("x")</script>\x1b[31mred\r\nfake line\x00' + "y" * 500
    label = error_label("server_error", body)
    assert "\x1b" not in label and "\n" not in label and "\r" not in label and "\x00" not in label
    assert label.startswith('HTTP 500 "<script>alert("x")</script> [31mred fake line')
    assert len(label) < 120 and label.endswith('…"')
    # request ids that differ per request fold into one line
    a = error_label("timeout", "no reply for request 4f1c2a9e-1111-2222-3333-444455556666")
    b = error_label("timeout", "no reply for request 0badcafe-1111-2222-3333-444455556666")
    assert a == b == 'timeout "no reply for request …"'


def test_errors_top_reads_the_last_line_of_each_sample(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [
        {"id": "a", "status": "failed", "error_kind": "timeout", "error": "no reply within 5 s"},
        {"id": "b", "status": "failed", "error_kind": "timeout", "error": "no reply within 5 s"},
        {"id": "a", "status": "ok"},  # retried and answered: not a failure any more
        {
            "id": "c",
            "status": "failed",
            "error_kind": "auth",
            "error": "HTTP 401: key sk-abcdefgh12345678",
        },
    ]
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n{torn")
    top = errors_top(path, redact=lambda s: s.replace("sk-abcdefgh12345678", "***"))
    assert top == [
        {"count": 1, "message": 'HTTP 401 "key ***"'},
        {"count": 1, "message": 'timeout "no reply within 5 s"'},
    ]


def test_a_batch_with_failed_samples_exits_3_and_names_the_message(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=404, body=NO_MODEL, content_type="application/json")

    with Background(LoopbackAldea(1, plan=plan, transcript=transcript_of)) as srv:
        code, _out, err = cli(
            capsys,
            "batch",
            "--model",
            "aldea/default",
            "--dataset_path",
            esb,
            "--datasets",
            "ami",
            "--aldea_endpoints",
            srv.endpoints,
            "--results_dir",
            tmp_path / "batch",
            "--no_progress",
            "--max_workers",
            "4",
        )
    assert code == 3, err
    assert (
        '  12 × aldea/default: HTTP 404 "The model `whisper-large-v2` does not exist"'
        in err.splitlines()
    )
    assert _last(err) == (
        "error: 1 of 1 splits have samples failed or never written: exit 3; rerun the same "
        "command to retry them, or allow some with --max_failed_pct X"
    )


def test_a_run_split_over_processes_exits_3_too(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--processes 2: the driver, which owns the exit code, judges the merged file."""

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=404, body=NO_MODEL, content_type="application/json")

    code, _out, err = _run(capsys, esb, tmp_path / "p", plan, "--processes", "2")
    assert code == 3, err
    assert _last(err).startswith("error: 12 of 12 samples not done (12 failed, 0 never written")
