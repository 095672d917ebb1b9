"""Outside text is data in every output, not only on the terminal.

A server's transcript and error message and a dataset's ids and references can hold escape
sequences (`ESC [2J`), NUL, DEL, C1 controls (`\\x9b` is a CSI on some terminals), carriage
returns, line separators and bidi overrides and isolates; a sidecar's JSON can hold a lone
surrogate, and a file name undecodable bytes. The terminal already showed each as a visible
escape (`asyncbench.core.text`); these tests hold the other outputs to the same rule, with the
same escapes:

- the HTML report (its server-built cells and the data its script builds the utterance table
  and charts from): no raw control, bidi or separator character, each shown as `\\x1b`,
  `\\u202e`, ...; a lone surrogate shown as `\\ud800` instead of failing the write;
- the board CSV (`score --csv`): a model name's newline cannot fake a line of the block;
- `dataset make`'s `skipped.tsv`: one row per skipped file whatever its name holds, formula
  prefixes guarded like the board CSV's cells;

while the results file keeps every transcript byte for byte (it is data, escaped by JSON).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from asyncbench.sources import watermark
from asyncbench.sources.hub_layout import encode_audio, write_hub_folder

from .faultkit import number_of
from .inproc import Background, cli, run_args
from .loopback import Action, LoopbackAldea
from .support import read_results

#: what no output may hold raw where outside text was put (newline aside: in HTML it is a
#: space, and the terminal's `lines` keeps it); spelled out here, not taken from core.text,
#: so the test does not share a slip with the code
RAW = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029"
    "\ud800-\udfff]"
)

HOSTILE = (
    "\x1b[2J\x1b]8;;http://127.0.0.1:9/\x07click",  # clear the screen, plant a link, BEL
    "nul\x00byte del\x7fx c1\x9b31m",  # NUL, DEL, a C1 CSI
    "bidi \u202egpj.exe\u202c iso \u2066x\u2069 lrm\u200e",  # override, isolate, mark
    "cr\rfake line\u2028sep\u2029end",  # a carriage return, line and paragraph separators
    '=HYPERLINK("http://127.0.0.1:9/";"y")',  # formula prefixes, at a cell's start
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
)
#: each control as the terminal shows it, and so every other output
VISIBLE = ("\\x1b[2J", "\\x07", "\\x00", "\\x7f", "\\x9b", "\\u202e", "\\u2066", "\\x0d", "\\u2028")
FAILED = 1  # the sample the server refuses, with a hostile error body


def sample_id(i: int) -> str:
    return f"{HOSTILE[i]} #{i}"


def reference(i: int) -> str:
    return f"hello {HOSTILE[i]} world"


def prediction(i: int) -> str:
    return f"hello {HOSTILE[(i + 1) % len(HOSTILE)]} there"


def hostile_dataset(root: Path) -> Path:
    """A hub-layout WAV set whose ids and references are the hostile strings; clip i's
    watermark says "clip number i." so the server knows which sample it got."""
    rows = []
    for i in range(len(HOSTILE)):
        pcm = watermark.embed(f"clip number {i}.", 0.4 + i / 10, seed=i)
        rows.append(
            {
                "audio": {"bytes": encode_audio(pcm, 16000, "wav"), "path": f"{i}.wav"},
                "text": reference(i),
                "dataset": "ami",
                "audio_length_s": len(pcm) / 16000,
                "id": sample_id(i),
            }
        )
    return write_hub_folder(root, {"ami": {"test": rows}})


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def raw_in(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in RAW.finditer(text)})


def report_data(page: str) -> Any:
    """The data the page's script builds the utterance table and the charts from."""
    from asyncbench.reporting.webpage import unpack

    found = re.search(r"<script type='application/octet-stream' id='report-data'>([^<]*)<", page)
    assert found
    return orjson.loads(unpack(found.group(1)))


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run against a loopback Aldea server that answers each sample with another
    sample's hostile text, and refuses one with a hostile error body."""
    root = tmp_path_factory.mktemp("outside")
    dataset = hostile_dataset(root / "set")

    def plan(port: int, n: int, body: bytes) -> Action:
        if number_of(body) == FAILED:
            return Action(status=400, body=orjson.dumps({"error": HOSTILE[0] + HOSTILE[2]}))
        return Action()

    server = LoopbackAldea(plan=plan, transcript=lambda body: prediction(number_of(body) or 0))
    results = root / "results"
    with Background(server):
        from asyncbench.cli.app import main

        args = run_args("aldea/default", dataset, "ami", "test", server.endpoints, results)
        try:  # one refused sample of 8 is allowed
            main(["run", *map(str, args), "--max_retries", "0", "--max_failed_pct", "100"])
            code: object = 0
        except SystemExit as exc:
            code = exc.code
        assert code in (0, None), code
    return results


def test_the_results_file_keeps_outside_text_byte_for_byte(run_folder: Path) -> None:
    """The fix is at the outputs for people: what the server said is stored as it said it."""
    (path,) = run_folder.glob("*.jsonl")
    lines = {r["id"]: r for r in read_results(path)}
    assert set(lines) == {sample_id(i) for i in range(len(HOSTILE))}
    for i in range(len(HOSTILE)):
        line = lines[sample_id(i)]
        assert line["text"] == reference(i)
        if i == FAILED:
            assert line["status"] == "failed"
        else:
            assert line["pred_text"] == prediction(i), i


def test_the_report_shows_every_control_character_visibly(
    run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The word-diff cells, sample ids, error messages and the data the utterance table and
    charts are drawn from held the raw ESC, NUL, DEL, C1, CR and bidi characters of the
    transcripts; now each is shown as the terminal shows it."""
    out = tmp_path / "report.html"
    code, stdout, err = cli(capsys, "report", run_folder, "-o", out)
    assert code == 0, err
    assert raw_in(stdout + err.replace("\n", " ")) == []
    page = out.read_text("utf-8")
    assert raw_in(page.replace("\n", " ")) == []
    shown = html.unescape(page)
    for s in VISIBLE:
        assert s in shown, s
    # the worst utterances' diff cells, built on the server: the hypothesis word, visible
    worst = shown[shown.index("<table class='data worst'>") :]
    assert "<span class='S' title='substituted'><s>\\x1b8</s> nul\\x00byte</span>" in worst
    assert "<del class='D' title='deleted'>one\\x9b31</del>" in worst
    assert (
        "<s>\\u202egpj</s>" in worst and "<td>cr\\x0dfake line\\u2028sep\\u2029end #3</td>" in worst
    )
    data = report_data(page)
    bad = [s for s in strings_in(data) if RAW.search(s.replace("\n", " "))]
    assert bad == [], bad[:5]
    ids = [row[2] for row in data["rows"]]
    assert "\\x1b[2J\\x1b]8;;http://127.0.0.1:9/\\x07click #0" in ids
    assert "bidi \\u202egpj.exe\\u202c iso \\u2066x\\u2069 lrm\\u200e #2" in ids
    words = json.dumps([row[6] for row in data["rows"]], ensure_ascii=False)
    for s in ("\\\\x1b8", "\\\\x00", "\\\\x7f", "\\\\x9b31", "\\\\u202egpj"):
        assert s in words, s


def test_a_lone_surrogate_in_a_sidecar_is_shown_not_a_failed_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON allows `\\ud800` on its own; Python reads it into a string UTF-8 cannot encode,
    so the report's write failed with a traceback. Now it shows as `\\ud800`."""
    out = tmp_path / "results"
    out.mkdir()
    stem = "MODEL_aldea-default_DATASET_esb_ami_test"
    line = {"id": "a", "text": "a b", "pred_text": "a c", "status": "ok", "duration": 1.0,
            "time": 0.2, "t_end": 1_800_000_000.0}  # fmt: skip
    (out / f"{stem}.jsonl").write_bytes(orjson.dumps(line) + b"\n")
    (out / f"{stem}.summary.json").write_text('{"dataset": "ami\\ud800x", "split": "test"}')
    (out / f"{stem}.meta.json").write_text('{"command": "run \\udcff\\u202e", "provider": "a"}')
    page = tmp_path / "r.html"
    code, _, err = cli(capsys, "report", out, "-o", page)
    assert code == 0, err
    assert "Traceback" not in err
    text = page.read_text("utf-8")
    assert raw_in(text.replace("\n", " ")) == []
    assert "ami\\ud800x/test" in html.unescape(text)
    assert "run \\udcff\\u202e" in html.unescape(text)


def test_a_model_name_with_a_newline_cannot_fake_a_line_of_the_board_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The block's `avg WER (<model>) = ...` line put the name in raw, and the printout keeps
    newlines (they are the block's own): a name's newline started a line of its own."""
    line = {"audio_filepath": "s0", "duration": 10.0, "time": 2.0, "text": "alpha bravo",
            "pred_text": "alpha"}  # fmt: skip
    name = "MODEL_m-a\n=1+1_DATASET_hf-audio-open-asr-leaderboard_librispeech_test.clean.jsonl"
    (tmp_path / name).write_bytes(orjson.dumps(line) + b"\n")
    code, out, err = cli(capsys, "score", tmp_path, "--csv")
    assert code == 0, err
    rows = out.splitlines()
    assert "avg WER (m/a\\x0a=1+1) = 50.0" in rows
    assert not any(r.startswith("=") for r in rows), rows
    assert any(r.startswith("m/a\\x0a=1+1,") for r in rows), rows


def _clip(path: Path, text: str, seed: int) -> None:
    pcm = watermark.embed(text, 1.0, seed=seed)
    path.write_bytes(encode_audio(pcm, 16000, "wav"))


def test_skipped_tsv_has_one_row_per_file_whatever_its_name_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dataset make` lists skipped files in `skipped.tsv`: a name with a newline split its
    row, an ESC or bidi override went in raw, a name like `=HYPERLINK(...)` was a live
    formula when the file was opened in a spreadsheet, and a name with bytes that are not
    UTF-8 failed the write. Each is now a cell as the board CSV writes one."""
    import os

    src = tmp_path / "src"
    src.mkdir()
    _clip(src / "good.wav", "alpha bravo", 0)
    (src / "good.txt").write_text("alpha bravo", "utf-8")
    names = [
        "esc\x1b[2J.wav",
        "new\nline.wav",
        "bidi\u202egpj.wav",
        '=HYPERLINK("x";"y").wav',
    ]
    for n, name in enumerate(names, 1):
        _clip(src / name, "never named", n)  # no transcript beside it: skipped
    _clip(Path(os.fsdecode(bytes(src) + b"/bad\xffname.wav")), "never named", 9)
    code, stdout, err = cli(capsys, "dataset", "make", src, "--out", tmp_path / "set")
    assert code == 0, err
    assert raw_in((stdout + err).replace("\n", " ")) == []
    text = (tmp_path / "set" / "skipped.tsv").read_text("utf-8")
    rows = text.splitlines()
    assert rows[0] == "where\treason" and len(rows) == 1 + len(names) + 1, rows
    assert all(r.count("\t") == 1 for r in rows), rows  # the tabs are the delimiters
    assert raw_in(text.replace("\n", " ").replace("\t", " ")) == []
    cells = [r.split("\t")[0] for r in rows[1:]]
    assert "esc\\x1b[2J.wav" in cells
    assert "new\\x0aline.wav" in cells
    assert "bidi\\u202egpj.wav" in cells
    assert "bad\\udcffname.wav" in cells
    assert any(c.startswith("\"'=HYPERLINK(") for c in cells), cells  # a text cell, quoted
