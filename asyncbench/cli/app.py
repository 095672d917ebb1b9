"""Command line: `asyncbench run|score|serve|demo ...` (and `run_eval.py`, the seed's entry).

Only light modules are imported here so that `--help` answers at once; each command imports
what it needs when it runs.
"""

from __future__ import annotations

import sys

import typer

from asyncbench.core.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Benchmark speech-to-text endpoints on the Open ASR Leaderboard English sets.",
)


@app.callback()
def _root() -> None:
    """Benchmark speech-to-text endpoints on the Open ASR Leaderboard English sets."""


from asyncbench.cli.run import run_command  # noqa: E402

app.command("run", help="Transcribe one split through one provider and append the results file.")(
    run_command
)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """Entry point: configuration errors become one line and exit code 2, never a traceback.

    Everything the command prints goes through a redacting layer (`asyncbench.core.redact`), so
    no message, warning or traceback can show an API key."""
    from asyncbench.core.redact import guard_output

    restore = guard_output(sys.argv[1:] if argv is None else argv)
    args = sys.argv[1:] if argv is None else argv
    if "--ray" in args:
        from asyncbench.cli.batch import ray_flag_default

        argv = ray_flag_default(list(args))
    try:
        app(args=argv, prog_name=prog)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        # kept on an unexpected exception, so the traceback Python prints next is redacted too
        if sys.exc_info()[0] in (None, SystemExit):
            restore()


from asyncbench.scoring.cli import score_command  # noqa: E402

app.command("score", help="Score results files like the Open ASR Leaderboard.")(score_command)
from asyncbench.servers.serve import serve_command  # noqa: E402

app.command("serve", help="Run local pocketsphinx ASR servers that speak the Aldea protocol.")(
    serve_command
)
from asyncbench.servers.mock.cli import mock_command  # noqa: E402

app.command("mock", help="Run one local server that speaks every provider's protocol.")(
    mock_command
)
from asyncbench.cli.batch import make_batch_command  # noqa: E402

app.command("batch", help="Every model × a suite's splits in one process, resumable.")(
    make_batch_command(run_command)
)
from asyncbench.cli.suites import suites_command  # noqa: E402

app.command("suites", help="List the suites batch --suite runs, and their entries.")(suites_command)
from asyncbench.cli.sweep import make_sweep_command  # noqa: E402

app.command(
    "sweep", help="Same samples at each concurrency (--levels) or rate (--rates); find the knee."
)(make_sweep_command(run_command))
from asyncbench.cli.demo import demo_command  # noqa: E402

app.command("demo", help="The whole job on a built-in speech set: local servers, run, scores.")(
    demo_command
)
from asyncbench.reporting.report import report_command  # noqa: E402

app.command("report", help="Write one self-contained HTML report with plots of a results folder.")(
    report_command
)
from asyncbench.cli.compare import compare_command  # noqa: E402

app.command("compare", help="WER differences between two models, with paired-bootstrap CIs.")(
    compare_command
)
from asyncbench.cli.estimate import estimate_command  # noqa: E402

app.command("estimate", help="Audio hours and estimated cost of a batch, without running it.")(
    estimate_command
)
