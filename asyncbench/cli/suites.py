"""`asyncbench suites`: the registry of named suites (`asyncbench.sources.suites`), listed."""

from __future__ import annotations

from typing import Annotated

import typer


def suites_command(
    name: Annotated[
        str | None, typer.Argument(help="One suite to list (default: every suite).")
    ] = None,
) -> None:
    """Every suite `batch --suite` knows, with its entries: path, config/split, family/language."""
    from asyncbench.sources.suites import SUITES, describe, get_suite

    chosen = [get_suite(name)] if name else list(SUITES.values())
    for i, suite in enumerate(chosen):
        if i:
            print()
        print("\n".join(describe(suite)))
