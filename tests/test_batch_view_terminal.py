"""The batch's live view on a real 80-column terminal: a pty, read back through a VT100
emulator (pyte), as a person sees it. A run's summary, printed while the view is drawn, must
start on a line of its own (never `ETA 7sthis run: ...`) and wrap at word boundaries inside
the 80 columns, continuation lines indented, instead of being cut or folded by the terminal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pyte
import pytest

from .inproc import Background
from .loopback import LoopbackAldea
from .support import PYTHON, REPO, cli_env, make_dataset, transcript_of

COLUMNS, ROWS = 80, 500  # tall, so nothing scrolls off the emulated screen


def run_in_terminal(args: list[str], timeout: float = 180) -> tuple[int, list[str]]:
    """`python -m asyncbench ARGS` with stdout and stderr on one pty of 80 columns; (exit
    code, the screen's rows)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = cli_env(COLUMNS=str(COLUMNS), LINES=str(ROWS), TERM="xterm")
    proc = subprocess.Popen(
        [PYTHON, "-m", "asyncbench", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=REPO,
    )
    os.close(follower)
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        stream.feed(data)
    code = proc.wait(timeout=30)
    os.close(leader)
    return code, [row.rstrip() for row in screen.display]


@pytest.fixture(scope="module")
def two_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("view") / "esb", {("ami", "test"): 6, ("tedlium", "test"): 30}
    )


def test_summaries_never_glue_to_the_view_and_wrap_at_80_columns(
    two_splits: Path, tmp_path: Path
) -> None:
    with Background(LoopbackAldea(2, transcript=transcript_of, latency=0.05)) as srv:
        code, rows = run_in_terminal(
            [
                "batch",
                "--model",
                "aldea/default",
                "--dataset_path",
                str(two_splits),
                "--datasets",
                "ami:test,tedlium:test",
                "--aldea_endpoints",
                srv.endpoints,
                "--results_dir",
                str(tmp_path / "results"),
                "--max_workers",
                "2",
            ]
        )
    text = "\n".join(rows)
    assert code == 0, text
    starts = [r for r in rows if "this run:" in r]
    assert len(starts) == 2, text  # one summary per run, each seen
    assert all(r.startswith("this run:") for r in starts), text  # never glued to a view row
    # nothing reached the edge to be folded there (the seed's 80-star rule fits exactly)
    assert all(len(r) < COLUMNS or set(r) == {"*"} for r in rows), text
    table = rows.index(next(r for r in rows if r.startswith("model ") and " status " in r))
    assert rows[table + 1].startswith("aldea/default ") and "ami/test" in rows[table + 1], text
    little = [i for i, r in enumerate(rows) if r.startswith("Little's law:")]
    assert little, text
    for i in little:  # a long sentence goes on, indented, on the next row
        assert rows[i + 1].startswith("  ") and rows[i + 1][2] != " ", text


def test_wrapping_stream_wraps_whole_lines_and_leaves_cursor_control_alone() -> None:
    import io

    from asyncbench.core.terminal import WrappingStream

    out = io.StringIO()
    stream = WrappingStream(out, columns=lambda: 30)
    print("short line", file=stream)
    print("a long sentence that goes well past thirty columns of text", file=stream)
    stream.write("\x1b[2K\rframe of a live view that is wider than thirty columns")
    stream.flush()
    assert out.getvalue().split("\n") == [
        "short line",
        "a long sentence that goes",
        "  well past thirty columns of",
        "  text",
        "\x1b[2K\rframe of a live view that is wider than thirty columns",
    ]
