"""A batch reads the summaries an earlier run left beside its results files, and prints their
figures and failure messages: a summary someone edited (or one in a folder from elsewhere)
is outside text. Its strings are shown visibly, a non-number is never formatted as one, and
an entry of the wrong shape is left out, instead of a traceback at the end of the batch or a
terminal escape sequence run on the user's screen."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .inproc import Background
from .loopback import LoopbackAldea
from .support import PYTHON, REPO, cli_env, make_dataset, transcript_of

ESC_TITLE = "\x1b]0;pwned\x07 title"
BIDI = "\u202eevil"


def run_api(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "run_api.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(PYTHON=PYTHON, **env),
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def test_an_edited_summary_is_shown_as_text_and_never_breaks_the_batch(tmp_path: Path) -> None:
    esb = make_dataset(tmp_path / "esb", {("ami", "test"): 3}, fmt="wav")
    results = tmp_path / "results"
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv:
        env = {
            "MODEL": "aldea/default",
            "DATASET_PATH": str(esb),
            "DATASETS": "ami",
            "ALDEA_ENDPOINTS": srv.endpoints,
            "RESULTS_DIR": str(results),
        }
        first = run_api(env, tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        (summary,) = results.glob("*.summary.json")
        data = json.loads(summary.read_text())
        assert data["complete"] is True
        data["wer"].update(samples="\x1b[2J", failed=[1], ok="3")
        data["rtfx"] = {"throughput": "fast"}
        data["wall_s"] = {"a": 1}
        data["errors_top"] = [
            {"count": "lots", "message": "not counted"},
            "junk",
            {"count": 2, "message": ESC_TITLE},
            {"count": 1, "message": BIDI},
        ]
        summary.write_text(json.dumps(data))
        again = run_api(env, tmp_path)
    err = again.stderr
    assert again.returncode == 0, err[-2000:]
    assert "Traceback" not in err and ", skipped" in err
    assert "\x1b" not in err and "\u202e" not in err and "\x07" not in err
    assert r"\x1b[2J" in err and "fast" in err  # the table shows what is there, as text
    assert "not counted" not in err and "junk" not in err
    lines = [ln.strip() for ln in err.splitlines()]
    assert "failed samples by message:" in lines
    assert any(ln.startswith("2 × aldea/default: \\x1b]0;pwned\\x07 title") for ln in lines), err
    assert any(ln.startswith("1 × aldea/default: ") and "evil" in ln for ln in lines), err
