"""The report's one way into HTML (`reporting.markup`): what it escapes, what it formats, and
what it refuses to treat as markup."""

from __future__ import annotations

import math

from asyncbench.reporting.markup import Markup, chart_text, h, number, page, policy, script_hash


def test_values_are_escaped_and_markup_is_kept() -> None:
    evil = "<img src=x onerror=alert(1)> \"'&"
    assert h("<td>{}</td>", evil) == ("<td>&lt;img src=x onerror=alert(1)&gt; &#34;&#39;&amp;</td>")
    assert h("<p>{}</p>", h("<b>{}</b>", evil)).startswith("<p><b>&lt;img")
    # a plain str that reached the page without h shows its tags as text
    assert page([Markup("<p>"), "<script>x</script>", Markup("</p>")]) == (
        "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    )


def test_numbers_from_numbers_and_anything_else_as_text() -> None:
    assert number(3.14159) == "3.14" and number(7, "d") == "7"
    assert number(None) == "–" and number(math.nan) == "–" and number(math.inf, missing="-") == "-"
    assert number("<b>fast</b>") == "&lt;b&gt;fast&lt;/b&gt;"  # no format(), no raw text
    assert number(True) == "True" and number([1]) == "[1]"


def test_chart_labels_are_escaped_for_plotly() -> None:
    assert chart_text("<a href='x'>&lt;</a>") == "&lt;a href='x'&gt;&amp;lt;&lt;/a&gt;"
    assert chart_text("a\x1b[2J\u202eb\ud800") == "a\\x1b[2J\\u202eb\\ud800"


def test_control_characters_are_shown_not_put_in_raw() -> None:
    """A transcript's ESC, NUL, C1, CR or bidi override went into the page as it was (no
    markup, but a cell that reads as something other than what was received); now each shows
    as the terminal shows it, in `h`, `page`, `number` and the script's data alike."""
    from asyncbench.reporting.markup import visible_data

    evil = "a\x1b[2J\x00\x9b\r\u202egpj\u2066<b>\ud800"
    want = "a\\x1b[2J\\x00\\x9b\\x0d\\u202egpj\\u2066&lt;b&gt;\\ud800"
    assert h("<td>{}</td>", evil) == f"<td>{want}</td>"
    assert h("<td>{x}</td>", x=evil) == f"<td>{want}</td>"
    assert page([Markup("<p>"), evil]) == f"<p>{want}"
    assert number(evil) == want
    assert h("{} {:.1f}", 3, 2.25) == "3 2.2"  # numbers still take a format spec
    assert h("a\n{}", "b\nc") == "a\nb\nc"  # newlines are whitespace in HTML: kept
    data = {"k\x1b": ["\u202e", ("\x00", 1.5)], "n": None}
    assert visible_data(data) == {"k\\x1b": ["\\u202e", ["\\x00", 1.5]], "n": None}


def test_the_policy_allows_only_the_given_scripts_and_no_request() -> None:
    text = policy(["alert(1)"])
    assert text.startswith("default-src 'none'; script-src 'sha256-")
    assert script_hash("alert(1)") in text
    # the hash Chromium computes for <script>alert(1)</script>
    assert script_hash("alert(1)") == "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
    for word in ("unsafe-eval", "http", "*"):
        assert word not in text


def test_the_page_data_shows_each_control_and_ordinary_data_is_written_as_it_is() -> None:
    """`data_json` skips the walk over every string when the JSON has nothing to show; each
    kind of character must still send it down the walk, whichever way orjson writes it (C0 as
    an escape, DEL, C1 and bidi raw, a lone surrogate refused)."""
    import numpy as np
    import orjson

    from asyncbench.reporting.webpage import data_json

    ordinary = {"rows": [[0, 1, "s-1", 12.5, "ok", None, ["a", ["b", "c"], "d\ne", "x\\ty"]]]}
    assert data_json(ordinary) == orjson.dumps(ordinary)
    cases = {
        "\x1b": "\\x1b", "\x00": "\\x00", "\t": "\\x09", "\r": "\\x0d", "\b": "\\x08",
        "\f": "\\x0c", "\x1f": "\\x1f", "\x7f": "\\x7f", "\x9b": "\\x9b", "\u202e": "\\u202e",
        "\u2066": "\\u2066", "\u2028": "\\u2028", "\u200f": "\\u200f", "\ud800": "\\ud800",
    }  # fmt: skip
    for raw, shown in cases.items():
        data = {"rows": [[0, f"id{raw}", ["w", ["a", f"b{raw}c"]]]], "n": np.arange(2)}
        got = orjson.loads(data_json(data))
        assert got == {"rows": [[0, f"id{shown}", ["w", ["a", f"b{shown}c"]]]], "n": [0, 1]}, raw
