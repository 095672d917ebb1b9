"""Outside text on the console is shown, never obeyed: escape sequences, carriage returns and
bidi overrides from a server, a dataset or a colleague's results folder come out as visible
escapes (`\\x1b`), so they cannot clear the screen, plant a link or fake a line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from asyncbench.core.text import lines, one_line

from .inproc import cli, one_error_line

ESC = "\x1b"


def test_one_line_makes_every_control_visible() -> None:
    assert one_line(f"{ESC}[2Jgone") == "\\x1b[2Jgone"
    assert one_line(f"{ESC}]8;;http://127.0.0.1:9/\x07link{ESC}]8;;\x07") == (
        "\\x1b]8;;http://127.0.0.1:9/\\x07link\\x1b]8;;\\x07"
    )
    assert one_line("ok\rFAKE\nline\ttab") == "ok\\x0dFAKE\\x0aline\\x09tab"
    assert one_line("\x9b31m C1 \x7f") == "\\x9b31m C1 \\x7f"
    assert one_line("gpt\u202e4o\u2066\u200f") == "gpt\\u202e4o\\u2066\\u200f"
    assert one_line("plain — ünïcode 日本") == "plain — ünïcode 日本"
    assert lines(f"a{ESC}\nb\r") == "a\\x1b\nb\\x0d"  # our newlines kept


def test_a_lone_surrogate_is_shown_not_a_failed_print() -> None:
    """JSON's `"\\ud800"` and a file name's non-UTF-8 byte (`\\udcff` by surrogateescape)
    read into strings that UTF-8 cannot encode: printing one raised UnicodeEncodeError."""
    assert one_line("a\ud800b\udcff") == "a\\ud800b\\udcff"
    assert lines("x\udfff\n") == "x\\udfff\n"
    assert one_line("a\ud800b").encode("utf-8") == b"a\\ud800b"


def test_a_spreadsheet_cell_is_shown_never_run() -> None:
    from asyncbench.core.text import text_cell

    for formula in ("=1+1", "+1", "-1", "@A1"):
        assert text_cell(formula) == "'" + formula
    assert text_cell("\tx") == "'\\x09x" and text_cell("new\nline\udcff") == "new\\x0aline\\udcff"
    assert text_cell("plain/name-1") == "plain/name-1"


def test_one_line_cuts_at_a_limit_counting_what_is_shown() -> None:
    """A cut line ends in an ellipsis and is exactly `limit` characters long, escapes
    included (they are what takes the room on screen); short text is left whole."""
    assert one_line("a" * 300, 200) == "a" * 199 + "…"
    assert len(one_line("a" * 300, 200)) == 200
    assert one_line("a" * 200, 200) == "a" * 200
    assert one_line(f"{ESC}" * 10, 9) == "\\x1b\\x1b…"
    assert one_line("x" * 5000) == "x" * 5000  # no limit: whole


def _hostile_folder(root: Path) -> Path:
    """A model name with a colour sequence in its file name, a line whose id clears the
    screen, and an unreadable line (a warning that names the file)."""
    root.mkdir()
    line = {
        "id": f"a{ESC}[2Jb",
        "text": "hello world",
        "pred_text": f"hello {ESC}]8;;http://127.0.0.1:9/\x07world",
        "status": "ok",
        "duration": 1.0,
        "time": 0.5,
    }
    name = f"MODEL_evil{ESC}[31m-m_DATASET_esb_ami_test.jsonl"
    (root / name).write_bytes(orjson.dumps(line) + b"\nnot json\n")
    return root


def test_score_prints_a_hostile_model_name_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _hostile_folder(tmp_path / "r")
    code, out, err = cli(capsys, "score", folder)
    assert code == 0, err
    assert ESC not in out and ESC not in err
    assert any(ln.startswith("evil\\x1b[31m/m | esb_ami_test: WER = ") for ln in out.splitlines())
    assert any(ln.startswith("warning: ") and "evil\\x1b[31m" in ln for ln in err.splitlines())
    code, out, err = cli(capsys, "score", folder, "--csv")
    assert ESC not in out and ESC not in err


def test_an_error_line_naming_outside_text_stays_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The --model value reaches the message twice, once quoted and once bare: neither may
    start a new line or send an escape sequence."""
    folder = _hostile_folder(tmp_path / "r")
    code, _, err = cli(capsys, "score", folder, "--model", f"x{ESC}[2J\rerror: fake")
    assert code == 2
    assert one_error_line(err) == (
        f"error: no results files for model 'x\\x1b[2J\\rerror: fake' under '{folder}': "
        "expected names like MODEL_x\\x1b[2J\\x0derror: fake_DATASET_<dataset>.jsonl; check "
        "--model (run without it to score every model found)"
    )


def test_compare_names_hostile_models_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """compare prints the two models' names (and each dataset id) in its first line."""
    evil = f"evil{ESC}]0;owned{ESC}\\"
    for slug in ("good-m", f"{evil}-m"):
        lines_ = [
            {
                "id": f"s{i}",
                "text": "a b c",
                "pred_text": "a b" if i % 2 else "a b c",
                "status": "ok",
                "duration": 1.0,
                "time": 0.1,
            }
            for i in range(6)
        ]
        name = f"MODEL_{slug}_DATASET_esb_ami_test.jsonl"
        (tmp_path / name).write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines_))
    code, out, err = cli(
        capsys,
        "compare",
        tmp_path,
        "--model",
        "good/m",
        "--model",
        f"{evil}/m",
        "--bootstrap",
        "50",
    )
    assert code == 0, err
    assert ESC not in out + err
    assert out.splitlines()[0].startswith("evil\\x1b]0;owned\\x1b\\/m compared with good/m: ")
