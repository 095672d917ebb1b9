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


def test_the_policy_allows_only_the_given_scripts_and_no_request() -> None:
    text = policy(["alert(1)"])
    assert text.startswith("default-src 'none'; script-src 'sha256-")
    assert script_hash("alert(1)") in text
    # the hash Chromium computes for <script>alert(1)</script>
    assert script_hash("alert(1)") == "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
    for word in ("unsafe-eval", "http", "*"):
        assert word not in text
