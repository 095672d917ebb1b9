"""Commands that take `asyncbench run`'s options (`sweep`, `batch`) are built from its
signature, so a flag added to `run` reaches them at once and the lists never drift apart."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

#: (name, type, default (inspect.Parameter.empty when required), flags, help)
OwnOption = tuple[str, Any, Any, tuple[str, ...], str]


def like_run(
    run_command: Callable[..., None], *, drop: Sequence[str], own: Sequence[OwnOption]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate `body(**options)` so that typer sees run's options (less `drop`) and `own`."""

    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        extra = [
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=default,
                annotation=Annotated[kind, typer.Option(*flags, help=text)],
            )
            for name, kind, default, flags, text in own
        ]
        inherited = [
            p
            for p in inspect.signature(run_command, eval_str=True).parameters.values()
            if p.name not in drop
        ]
        params = [p for p in (*extra, *inherited) if p.default is inspect.Parameter.empty] + [
            p for p in (*extra, *inherited) if p.default is not inspect.Parameter.empty
        ]
        body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        body.__annotations__ = {p.name: p.annotation for p in params}
        return body

    return decorate
