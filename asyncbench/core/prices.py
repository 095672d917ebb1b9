"""What audio costs at a provider: the price table (`asyncbench/data/prices.toml`) and its rules.

A price is data, not code: provider, a model pattern, USD per audio hour and how requests
are billed (per second; per second with a 10 s or 15 s minimum per request; per started
minute; a flat fee per request), with the page it was read from and when. A model whose price
nobody has read from a public page is `unknown`, and every caller says so rather than
guessing; a price read only from a secondary source (a price aggregator, an older snapshot,
conflicting pages) has `confirmed = false` and a `note`, and is shown as unconfirmed.

Stdlib only (`tomllib`), so the run, the scorer and the CLI can all use it. A malformed
file is one ConfigError naming the file, the line and the field.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from asyncbench.core.errors import ConfigError

DEFAULT_PRICES = Path(__file__).resolve().parents[1] / "data" / "prices.toml"
BILLING_RULES = (
    "per_second",
    "per_10s_minimum",
    "per_15s_minimum",
    "per_minute",
    "per_request",
)
#: (billing increment, minimum billed) in seconds of each per-audio rule
_ROUNDING = {
    "per_second": (1, 0),
    "per_10s_minimum": (1, 10),
    "per_15s_minimum": (1, 15),
    "per_minute": (60, 60),
}
UNKNOWN = "unknown"
_FIELDS = (
    "provider",
    "model",
    "usd_per_hour",
    "billing",
    "source",
    "read",
    "usd_per_request",
    "confirmed",
    "note",
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Price:
    """One entry: the price of `provider/model` (a pattern), or None when unknown."""

    provider: str
    model: str
    usd_per_hour: float | None  # None: no public price known
    billing: str
    source: str
    read: str
    usd_per_request: float | None = None
    origin: str = ""  # "file:line", or "--price_per_hour"
    confirmed: bool = True  # False: read from a secondary source only, or sources conflict
    note: str = ""

    @property
    def known(self) -> bool:
        if self.billing == "per_request":
            return self.usd_per_request is not None
        return self.usd_per_hour is not None

    def request_cost(self, seconds: float) -> float | None:
        """USD for one request of `seconds` of audio under the billing rule; None if unknown."""
        if not self.known:
            return None
        if self.billing == "per_request":
            return self.usd_per_request
        step, minimum = _ROUNDING[self.billing]
        billed = step * math.ceil(max(0.0, seconds) / step - 1e-9)
        return max(minimum, billed) * (self.usd_per_hour or 0.0) / 3600

    def describe(self) -> str:
        """`0.36 USD/audio hour, per_second (https://..., read 2026-12-01)`."""
        if not self.known:
            return f"no public price known for {self.provider}/{self.model} ({self.origin})"
        rate = (
            f"{self.usd_per_request} USD/request"
            if self.billing == "per_request"
            else f"{self.usd_per_hour:g} USD/audio hour"
        )
        where = f"{self.source}, read {self.read}" if self.source else self.origin
        said = f"{rate}, {self.billing} ({where})"
        return said if self.confirmed else f"{said}, UNCONFIRMED: {self.note or 'see the table'}"


@dataclass(frozen=True, slots=True)
class PriceTable:
    path: Path
    entries: tuple[Price, ...]

    def lookup(self, model_id: str) -> Price | None:
        """The first entry whose provider is the id's part before "/" and whose pattern
        matches the rest (case-insensitive), or None when no entry names the provider."""
        provider, _, model = model_id.partition("/")
        for entry in self.entries:
            if entry.provider.lower() == provider.lower() and fnmatchcase(
                model.lower(), entry.model.lower()
            ):
                return entry
        return None


def _line_of(lines: list[str], entry: int, field: str | None) -> int:
    """The 1-based line of `field` in the `entry`-th [[price]] table (its header line when
    the field is missing or None)."""
    headers = [i for i, line in enumerate(lines) if line.strip().startswith("[[price]]")]
    if entry >= len(headers):
        return 1
    start = headers[entry]
    stop = headers[entry + 1] if entry + 1 < len(headers) else len(lines)
    if field:
        pattern = re.compile(rf"^\s*{re.escape(field)}\s*=")
        for i in range(start, stop):
            if pattern.match(lines[i]):
                return i + 1
    return start + 1


def _money(value: object, field: str, fail) -> float | None:
    if value == UNKNOWN:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        fail(field, f'must be a number of USD >= 0 or "{UNKNOWN}", got {value!r}')
    if math.isinf(float(value)):
        fail(field, f"must be finite, got {value!r}")
    return float(value)


def parse_prices(text: str, path: Path) -> PriceTable:
    """The entries of a price file's text; ConfigError `FILE:LINE: field 'x': ...`."""
    lines = text.splitlines()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"line (\d+)", str(e))
        line = found.group(1) if found else "1"
        raise ConfigError(f"price file {path}:{line}: not valid TOML ({e})") from None
    extra = sorted(set(data) - {"price"})
    if extra:
        raise ConfigError(
            f"price file {path}:1: field {extra[0]!r} is not known: the file holds only "
            "[[price]] tables"
        )
    raw = data.get("price", [])
    if not isinstance(raw, list):
        raise ConfigError(f"price file {path}:1: field 'price' must be [[price]] tables")
    entries: list[Price] = []
    for index, item in enumerate(raw):

        def fail(field: str | None, what: str, index: int = index) -> None:
            line = _line_of(lines, index, field)
            raise ConfigError(f"price file {path}:{line}: field {field!r}: {what}")

        unknown = sorted(set(item) - set(_FIELDS))
        if unknown:
            fail(unknown[0], f"is not a price field (expected {', '.join(_FIELDS)})")
        for field in ("provider", "model", "billing", "source", "read"):
            if field not in item:
                fail(field, "is missing")
            if not isinstance(item[field], str):
                fail(field, f"must be a string, got {item[field]!r}")
        for field in ("provider", "model"):
            if not item[field].strip():
                fail(field, "must not be empty")
        if item["billing"] not in BILLING_RULES:
            fail("billing", f"must be one of {', '.join(BILLING_RULES)}, got {item['billing']!r}")
        if not _DATE.match(item["read"]):
            fail("read", f"must be the date the price was read, YYYY-MM-DD, got {item['read']!r}")
        per_request = None
        if item["billing"] == "per_request":
            if "usd_per_request" not in item:
                fail("usd_per_request", 'is missing (billing = "per_request" needs it)')
            per_request = _money(item["usd_per_request"], "usd_per_request", fail)
            hourly = None
        else:
            if "usd_per_hour" not in item:
                fail("usd_per_hour", "is missing")
            hourly = _money(item["usd_per_hour"], "usd_per_hour", fail)
        if (hourly is not None or per_request is not None) and not item["source"].strip():
            fail("source", "must name where a known price was read (a URL)")
        confirmed = item.get("confirmed", True)
        if not isinstance(confirmed, bool):
            fail("confirmed", f"must be true or false, got {confirmed!r}")
        note = item.get("note", "")
        if not isinstance(note, str):
            fail("note", f"must be a string, got {note!r}")
        if not confirmed and not note.strip():
            fail("confirmed", "false needs a `note` saying why the price is unconfirmed")
        entries.append(
            Price(
                provider=item["provider"].strip(),
                model=item["model"].strip(),
                usd_per_hour=hourly,
                billing=item["billing"],
                source=item["source"],
                read=item["read"],
                usd_per_request=per_request,
                origin=f"{path}:{_line_of(lines, index, None)}",
                confirmed=confirmed,
                note=note.strip(),
            )
        )
    return PriceTable(path, tuple(entries))


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The shipped table, or the file the user passed with --prices."""
    file = DEFAULT_PRICES if path is None else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"price file {file}: cannot read it ({e.strerror or e}): pass a TOML file of "
            "[[price]] tables (see asyncbench/data/prices.toml)"
        ) from None
    return parse_prices(text, file)


def price_for(
    model_id: str, prices: str | Path | None = None, price_per_hour: float | None = None
) -> Price | None:
    """The price of `model_id`: `--price_per_hour` when given (per second billing), else
    its entry in `--prices` or the shipped table; None when no entry names its provider."""
    if price_per_hour is not None:
        if (
            isinstance(price_per_hour, bool)
            or not price_per_hour >= 0
            or math.isinf(price_per_hour)
        ):
            raise ConfigError(
                f"--price_per_hour must be a number of USD >= 0, got {price_per_hour!r}"
            )
        provider, _, model = model_id.partition("/")
        return Price(
            provider,
            model or "*",
            float(price_per_hour),
            "per_second",
            "",
            "",
            origin="--price_per_hour",
        )
    return load_prices(prices).lookup(model_id)


def cost_of(price: Price | None, requests: Iterable[tuple[float, int]]) -> float | None:
    """USD for requests given as (audio seconds, times sent): None when the price is unknown."""
    if price is None or not price.known:
        return None
    return sum((price.request_cost(seconds) or 0.0) * times for seconds, times in requests)


def describe_missing(model_id: str, price: Price | None) -> str:
    """Why there is no cost for `model_id`, in one phrase."""
    if price is None:
        return f"no entry for provider {model_id.partition('/')[0]!r} in the price table"
    return price.describe()
