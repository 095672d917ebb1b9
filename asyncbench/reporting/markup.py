"""The report's one way to put text into HTML, and the page's Content-Security-Policy.

A report is often made from someone else's results folder, so every string in it (a
transcript, an error message, a sample id, a model name, a sweep's label, a summary figure that
should be a number but is not) is outside text. Hand-built pages miss one path sooner or later
(the open-loop table once put a summary field in raw), so the page is built from MarkupSafe's
`Markup`, the autoescaping string type Jinja2 is built on:

- `h(template, *values)` fills a template we wrote with values that are escaped unless they
  are already `Markup` (built by `h` themselves), text values shown with their control, bidi
  and separator characters made visible (`text`: `\\x1b`, `\\u202e`, as the terminal shows
  them, by `core.text.lines`), so a transcript's ESC or U+202E cannot make a cell read as
  something other than what was received;
- `page(parts)` joins the parts and escapes every part that is a plain `str`, so a fragment
  that forgot `h` shows its tags as text instead of running them;
- `number(value, spec)` formats a number from a number; anything else where a number belongs
  is shown as escaped text, never passed to `format` (which would raise) or into the page raw;
- `chart_text(value)` escapes a label for plotly, which draws labels, legends and hover text
  as a small HTML dialect (`<a href>`, `<b>`, `<br>`) and decodes `&lt;`, `&gt;`, `&amp;`;
- `visible_data(value)` is the page's data (chart specs, the utterance table's rows) with every
  string's control characters made visible the same way, for the script that builds the
  utterance table and the charts in the browser (its `abEsc` escapes only markup).

The data and chart specs travel gzip-compressed and base64-encoded inside
`<script type="application/octet-stream">` elements (`webpage.scripts`), whose text holds only
base64 characters, so no string in them can close the element. The policy (`policy`) then
forbids every request (`default-src 'none'`: no fetch, image, font, frame or form leaves the
page; images only as `data:` URLs) and every script but the page's own two, named by their
SHA-256, so a future escaping slip still runs nothing and sends nothing.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

from asyncbench.core.numbers import is_number
from asyncbench.core.text import lines

__all__ = [
    "Markup", "chart_text", "escape", "h", "number", "page", "policy", "script_hash", "table",
    "text", "visible_data",
]  # fmt: skip


def text(value: object) -> Markup:
    """Outside text as HTML: its control, bidi and separator characters made visible (newlines
    kept: HTML shows them as spaces), then escaped. Markup (ours) is left as it is."""
    if hasattr(value, "__html__"):
        return Markup(value)
    return escape(lines(value))


def _field(value: object) -> object:
    """A value for `h`'s template: numbers stay numbers (a format spec may apply), Markup
    stays Markup, anything else is `text`."""
    return value if is_number(value) or hasattr(value, "__html__") else text(value)


def h(template: str, *values: object, **named: object) -> Markup:
    """`template` (ours, trusted) with each value escaped unless it is already Markup."""
    return Markup(template).format(*map(_field, values), **{k: _field(v) for k, v in named.items()})


def page(parts: Iterable[str | Markup]) -> Markup:
    """The parts joined; a plain `str` among them is escaped (shown, never run)."""
    return Markup("").join(map(text, parts))


def visible_data(value: Any) -> Any:
    """A JSON value with every string (keys too) made visible as `text` makes it, before
    escaping: the data the page's script puts into the utterance table and the charts."""
    if isinstance(value, str):
        return lines(value)
    if isinstance(value, dict):
        return {visible_data(k): visible_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_data(v) for v in value]
    return value


def number(value: object, spec: str = ".2f", missing: str = "–") -> Markup:
    """A figure from a number; `missing` for None or a non-finite float; any other value
    (a string where a number belongs, in a results folder someone edited) as escaped text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return Markup(missing)
    if not is_number(value):
        return text(value)
    return escape(format(value, spec))


def table(head: Sequence[str], rows: Sequence[Sequence[object]], table_id: str = "") -> Markup:
    """A data table inside its own scrolling frame, so a wide one scrolls instead of running
    off the page. Cells that are not Markup are escaped."""
    return h(
        "<div class='wide'><table class='data'{}><tr>{}</tr>{}</table></div>",
        h(" id='{}'", table_id) if table_id else Markup(""),
        page(h("<th>{}</th>", x) for x in head),
        page(h("<tr>{}</tr>", page(h("<td>{}</td>", c) for c in r)) for r in rows),
    )


def chart_text(value: object) -> str:
    """A label as plotly must get it to draw it literally: its control characters made
    visible (as `text` does; a lone surrogate would also stop plotly's JSON), its tag
    characters escaped."""
    return lines(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def script_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline script."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def policy(scripts: Sequence[str]) -> str:
    """The page's Content-Security-Policy: no request of any kind, the given scripts only.

    Styles stay inline-allowed: plotly sets style attributes as it draws, and a style cannot
    send anything when no image, font or connection is allowed."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src " + " ".join(script_hash(s) for s in scripts),
            "style-src 'unsafe-inline'",
            "img-src data: blob:",
            "font-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )
