"""`asyncbench demo` end to end: real flite speech, real pocketsphinx servers, the table."""

import re
from pathlib import Path

from .support import run_cli


def test_demo_prints_the_score_table_from_real_recognition(tmp_path: Path) -> None:
    args = ["demo", "--data_dir", tmp_path / "esb", "--results_dir", tmp_path / "results"]
    out = run_cli(*args, "--servers", "2", timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Filtering models by id: aldea/pocketsphinx" in out.stdout
    lines = re.findall(
        r"aldea/pocketsphinx \| (\S+): WER = ([\d.]+) %, RTFx = ([\d.]+)", out.stdout
    )
    assert {name.rsplit("esb_", 1)[1] for name, _, _ in lines} == {
        "librispeech_test.clean",
        "librispeech_test.other",
        "tedlium_test",
        "voxpopuli_test",
    }
    composite = re.search(r"aldea/pocketsphinx: WER = ([\d.]+) %", out.stdout)
    assert composite is not None
    # flite speech through pocketsphinx: a real, imperfect recogniser
    assert 0.5 < float(composite.group(1)) < 15.0
    # a second run resumes: nothing is sent again and the same table comes back
    again = run_cli(*args, "--servers", "1", timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert composite.group(0) in again.stdout
    assert again.stderr.count("samples were already done in earlier runs") == 4
