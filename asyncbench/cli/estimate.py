"""`asyncbench estimate`: the audio hours and the cost of a batch, before a single request.

Takes batch's selection flags (`--model` repeatable, `--dataset_path`, `--datasets`,
`--suite`, `--max_samples`), measures each split from its `audio_length_s` column
(`sources.audio_hours`, nothing decoded or sent) and prices it per model
(`core.prices`, billed per request as the provider bills). A model without a known price
says so; `--budget_usd X` exits 2 when the known total is above X. Only typer is imported
until the command runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from asyncbench.sources.audio_hours import SplitAudio


def estimate_lines(
    models: list[str],
    splits: list[SplitAudio],
    prices: str | None,
    price_per_hour: float | None,
) -> tuple[list[str], float, list[str]]:
    """The printed lines, the known total in USD, and the models with no known price."""
    from asyncbench.core.prices import cost_of, describe_missing, load_prices, price_for

    table = None if price_per_hour is not None else load_prices(prices)
    lines = ["Audio to send (from audio_length_s; nothing decoded, nothing sent):"]
    seconds: list[float] = []
    unmeasured: list[str] = []
    for s in splits:
        name = f"{s.config or s.path}/{s.split}"  # a set of its own repository has no config
        if s.seconds is None:
            unmeasured.append(name)
            lines.append(
                f"  {name}: {s.clips} clips, audio hours unknown (no audio_length_s column)"
            )
            continue
        seconds += s.seconds
        lines.append(f"  {name}: {s.clips} clips, {sum(s.seconds) / 3600:0.4f} audio hours")
    lines.append(f"  total per model: {sum(seconds) / 3600:0.4f} audio hours")
    total = 0.0
    unknown: list[str] = []
    lines.append("Estimated cost:")
    for model in models:
        price = (
            price_for(model, price_per_hour=price_per_hour)
            if table is None
            else table.lookup(model)
        )
        cost = cost_of(price, ((x, 1) for x in seconds))
        if cost is None:
            unknown.append(model)
            lines.append(f"  {model}: cost unknown ({describe_missing(model, price)})")
            continue
        total += cost
        lines.append(f"  {model}: $ {cost:0.4f} ({price.describe()})")  # type: ignore[union-attr]
    tail = f" ({len(unknown)} model(s) without a known price not included)" if unknown else ""
    lines.append(f"  all models: $ {total:0.4f}{tail}")
    if unmeasured:
        lines.append(f"  not included: {', '.join(unmeasured)} (length unknown)")
    return lines, total, unknown


def estimate_command(
    model: Annotated[
        list[str], typer.Option("--model", "--model_name", help="PROVIDER/MODEL; repeatable.")
    ],
    dataset_path: Annotated[
        str | None,
        typer.Option("--dataset_path", help="Hub id or local folder (default: the suite's)."),
    ] = None,
    datasets: Annotated[
        str | None, typer.Option("--datasets", help="Subset of the suite's splits, as batch.")
    ] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="Which suite (default esb).")] = None,
    max_samples: Annotated[
        int | None, typer.Option("--max_samples", help="Only the first N clips of each split.")
    ] = None,
    prices: Annotated[
        str | None, typer.Option("--prices", help="Price table TOML (default: the shipped one).")
    ] = None,
    price_per_hour: Annotated[
        float | None,
        typer.Option("--price_per_hour", help="USD per audio hour for every model, per second."),
    ] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option("--budget_usd", help="Exit 2 when the estimate is above this many USD."),
    ] = None,
    data_root: Annotated[
        str | None,
        typer.Option(
            "--data_root",
            "--data-root",
            envvar="ASYNCBENCH_DATA_ROOT",
            help="Read hub ids from local copies DATA_ROOT/OWNER/NAME, as run and batch do.",
        ),
    ] = None,
) -> None:
    """Print the audio hours and estimated cost of a batch without running anything."""
    from asyncbench.core.errors import ConfigError

    try:
        if budget_usd is not None and not budget_usd > 0:
            raise ConfigError(f"--budget_usd must be more than 0 USD, got {budget_usd:g}")
        if max_samples is not None and max_samples < 1:
            raise ConfigError(f"--max_samples must be at least 1 (got {max_samples})")
        if price_per_hour is not None:
            from asyncbench.core.prices import price_for

            price_for("any/model", price_per_hour=price_per_hour)
        elif prices is not None:
            from asyncbench.core.prices import load_prices

            load_prices(prices)  # a bad file fails before any dataset is opened
        from asyncbench.runs.budget import repaired_line
        from asyncbench.sources.audio_hours import split_audio
        from asyncbench.sources.suites import local_copy, pinned_revision, select, suite_for

        chosen = suite_for(suite, dataset_path)  # your own folder: its own splits
        entries = select(chosen, datasets)
        paths = [e.dataset_path(dataset_path or chosen.path) for e in entries]
        # each repository at the revision batch would read it at
        splits = [
            split_audio(
                local_copy(p, data_root),
                e.config,
                e.split,
                max_samples,
                revision=pinned_revision(p),
            )
            for p, e in zip(paths, entries, strict=True)
        ]
        for s in splits:
            said = repaired_line(s)
            if said:
                print(said, file=sys.stderr)
        lines, total, _ = estimate_lines(model, splits, prices, price_per_hour)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(ConfigError.exit_code) from None
    print("\n".join(lines))
    if budget_usd is not None and total > budget_usd:
        print(
            f"error: the estimated cost $ {total:0.4f} is above --budget_usd {budget_usd:g}",
            file=sys.stderr,
        )
        raise typer.Exit(ConfigError.exit_code)
