"""Command line: `asyncbench run|score|serve|demo ...` (and `run_eval.py`, the seed's entry).

Only light modules are imported here so that `--help` answers at once; each command imports
what it needs when it runs. A command's own module is imported only when that command is
the one asked for (`--help` and an unknown name load them all, to list them): a run does
not pay for the servers', the report's or the batch's modules at every start.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

import typer

from asyncbench.core.errors import ConfigError
from asyncbench.core.text import lines

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


#: name -> (module, attribute, help); an attribute named make_* builds the command from `run`'s
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "asyncbench.cli.run",
        "run_command",
        "Transcribe one split through one provider and append the results file.",
    ),
    "score": (
        "asyncbench.scoring.cli",
        "score_command",
        "Score results files like the Open ASR Leaderboard.",
    ),
    "serve": (
        "asyncbench.servers.serve",
        "serve_command",
        "Run local pocketsphinx ASR servers that speak the Aldea protocol.",
    ),
    "mock": (
        "asyncbench.servers.mock.cli",
        "mock_command",
        "Run one local server that speaks every provider's protocol.",
    ),
    "batch": (
        "asyncbench.cli.batch",
        "make_batch_command",
        "Every model × a suite's splits in one process, resumable.",
    ),
    "suites": (
        "asyncbench.cli.suites",
        "suites_command",
        "List the suites batch --suite runs, and their entries.",
    ),
    "sweep": (
        "asyncbench.cli.sweep",
        "make_sweep_command",
        "Same samples at each concurrency (--levels) or rate (--rates); find the knee.",
    ),
    "demo": (
        "asyncbench.cli.demo",
        "demo_command",
        "The whole job on a built-in speech set: local servers, run, scores.",
    ),
    "report": (
        "asyncbench.reporting.report",
        "report_command",
        "Write one self-contained HTML report with plots of a results folder.",
    ),
    "compare": (
        "asyncbench.cli.compare",
        "compare_command",
        "WER differences between two models, with paired-bootstrap CIs.",
    ),
    "dataset": (
        "asyncbench.cli.dataset",
        "dataset_app",
        "Your own audio and transcripts as a dataset folder (`dataset make SRC --out DIR`).",
    ),
    "verify": (
        "asyncbench.cli.verify",
        "verify_command",
        "Check a results folder against its sidecars (and dataset): could it be accepted?",
    ),
    "estimate": (
        "asyncbench.cli.estimate",
        "estimate_command",
        "Audio hours and estimated cost of a batch, without running it.",
    ),
}


def _command(name: str) -> Any:
    """The command's function, or its `typer.Typer` when it is a group (`dataset make`)."""
    module, attr, _ = COMMANDS[name]
    found = getattr(import_module(module), attr)
    if attr.startswith("make_"):  # batch and sweep drive runs through `run`'s own options
        return found(_command("run"))  # type: ignore[no-any-return]
    return found  # type: ignore[no-any-return]


def register(args: list[str]) -> None:
    """Add the command `args` asks for to the app (every command when it names none of
    them: `--help`, no arguments, a typo that typer answers with the list), unless an
    earlier call in this process did."""
    asked = next((a for a in args if not a.startswith("-")), None)
    have = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for name in [asked] if asked in COMMANDS else list(COMMANDS):
        if name in have:
            continue
        found = _command(name)
        if isinstance(found, typer.Typer):
            app.add_typer(found, name=name, help=COMMANDS[name][2])
        else:
            app.command(name, help=COMMANDS[name][2])(found)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """Entry point: configuration errors become one line and exit code 2, never a traceback.

    Everything the command prints goes through a redacting layer (`asyncbench.core.redact`), so
    no message, warning or traceback can show an API key."""
    # numpy's OpenBLAS starts a thread per core at import and spins them (0.1 s of CPU a
    # process on 2 cores, more on big ones); nothing here multiplies matrices. Set before
    # anything imports numpy, inherited by --processes and Ray workers; a user's own wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from asyncbench.core.malloc import return_freed_blocks

    return_freed_blocks()  # a long reply's memory goes back when it is freed (core/malloc.py)
    from asyncbench.core.redact import guard_output
    from asyncbench.core.terminal import wrap_terminal_stderr

    unredact = guard_output(sys.argv[1:] if argv is None else argv)
    unwrap = wrap_terminal_stderr()  # long lines wrap at words on a terminal, never cut

    def restore() -> None:
        unwrap()
        unredact()

    args = sys.argv[1:] if argv is None else argv
    from asyncbench.core import invocation

    invocation.record([prog or "asyncbench", *args])  # what a results sidecar records
    if "--ray" in args:
        from asyncbench.cli.batch import ray_flag_default

        argv = ray_flag_default(list(args))
    try:
        register(list(argv if argv is not None else args))
        app(args=argv, prog_name=prog)
    except ConfigError as exc:
        print(f"error: {lines(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        # kept on an unexpected exception, so the traceback Python prints next is redacted too
        if sys.exc_info()[0] in (None, SystemExit):
            restore()
