"""`--budget_usd`: the estimate before a run, and the spend counted as audio goes out.

Before the first request a run prints the audio hours it will send (from the split's
`audio_length_s` column, `sources.audio_hours`; nothing decoded) and their cost at the
model's price (`core.prices`), and refuses to start when that estimate is above the budget.
While it runs, every attempt (retries included) is reserved from the command's one budget
(`runs.ledger`, whatever executes the runs) before it is sent: the attempt that would take
the spend past the budget is not sent, and the whole command stops as on Ctrl-C (what is in
flight finishes and is written; the rest is left for a rerun to resume), exit 4. The budget
is per invocation: a rerun starts counting from 0 again.
"""

from __future__ import annotations

from asyncbench.core.errors import ConfigError
from asyncbench.core.prices import describe_missing, price_for

#: exit code of a run stopped before it would cross --budget_usd (resumable)
BUDGET_EXIT = 4


def check_flags(budget_usd: float | None, price_per_hour: float | None) -> None:
    """Exit 2 before anything starts on a budget that is not a positive amount."""
    if budget_usd is not None and not budget_usd > 0:
        raise ConfigError(f"--budget_usd must be more than 0 USD, got {budget_usd:g}")
    if price_per_hour is not None:
        price_for("any/model", price_per_hour=price_per_hour)


def check_price(
    model: str, budget_usd: float | None, prices: str | None, price_per_hour: float | None
) -> None:
    """ConfigError when a budget is asked for a model whose price is unknown: a run asks
    here, and a batch for every model before its first run (not once per split)."""
    price = price_for(model, prices, price_per_hour)
    if budget_usd is not None and (price is None or not price.known):
        raise ConfigError(
            f"--budget_usd needs a price for {model}: {describe_missing(model, price)}; "
            "pass --price_per_hour or --prices"
        )


def before_run(
    model: str,
    path: str,
    config: str,
    split: str,
    *,
    max_samples: int | None,
    budget_usd: float | None,
    prices: str | None,
    price_per_hour: float | None,
    measure: bool,
    revision: str | None = None,
    shard: tuple[int, int] | None = None,
) -> str | None:
    """The line `audio to send: ... hours, estimated cost $ ...` (printed with the run's other
    start lines, once every check has passed), after refusing a budget the estimate exceeds
    (or a budget for a model whose price is unknown). `measure` False (a URL source) skips
    the hours: the viewer rows are not read twice."""
    check_price(model, budget_usd, prices, price_per_hour)
    price = price_for(model, prices, price_per_hour)
    if not measure:
        return None
    from asyncbench.sources.audio_hours import split_audio

    try:
        audio = split_audio(path, config, split, max_samples, revision=revision, shard=shard)
    except ConfigError:
        if budget_usd is not None:
            raise
        return None  # the run itself says what is wrong with the dataset, in its own words
    if audio.seconds is None:
        if budget_usd is not None:
            raise ConfigError(
                f"--budget_usd needs the audio length of {config}/{split} before the run, "
                "and neither its audio_length_s column nor its audio headers give it"
            )
        return f"audio to send: {audio.clips} clips, hours unknown (no audio_length_s column)"
    hours = sum(audio.seconds) / 3600
    cost = None
    if price is not None and price.known:
        cost = sum(price.request_cost(s) or 0.0 for s in audio.seconds)
    said = "unknown" if cost is None else f"$ {cost:0.4f}"
    why = describe_missing(model, price) if cost is None else price.describe()  # type: ignore[union-attr]
    if budget_usd is not None and cost is not None and cost > budget_usd:
        raise ConfigError(
            f"the estimated cost $ {cost:0.4f} of {model} on {config}/{split} is above "
            f"--budget_usd {budget_usd:g}: raise the budget or pass --max_samples"
        )
    said_lengths = repaired_line(audio)
    return (said_lengths + "\n" if said_lengths else "") + (
        f"audio to send: {audio.clips} clips, {hours:0.4f} audio hours; "
        f"estimated cost {said} ({why}; before resume and retries)"
    )


def repaired_line(audio: object) -> str | None:
    """The one warning for clips whose audio_length_s could not be billed on."""
    n = getattr(audio, "repaired", 0)
    if not n:
        return None
    label = f"{getattr(audio, 'config', '')}/{getattr(audio, 'split', '')}"
    return (
        f"warning: {n} of {getattr(audio, 'clips', n)} clips of {label} have no usable "
        "audio_length_s (missing, not a number, negative or 0): their length was read from "
        "the audio headers"
    )
