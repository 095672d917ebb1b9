"""Outside text made safe for people to read: what a server, a dataset or a colleague's results
folder says is shown, never obeyed, on the terminal and in every file written for people (the
HTML report through `reporting.markup`, the board CSV and `skipped.tsv` through `text_cell`).

A transcript, an error message, a sample id or a model name can hold an escape sequence
(`ESC [2J` clears the screen, `ESC ]8;;url` plants a link, `ESC ]0;` retitles the window), a
carriage return or newline that fakes a line of our own output, or a bidi override that makes
`gpt-4o` read as something else. Every console print of such text goes through `one_line`
(a field inside a line, optionally cut to a length) or `lines` (a block we formatted, whose
newlines are ours), which replace each such character with a visible escape (`\\x1b`,
`\\u202e`), so the reader sees that something odd was there and what it was. This is the one
place that does it; `core.terminal` only lays finished lines out (wrapping), it escapes nothing,
and the other outputs call these functions rather than keep escapers of their own.

Replaced: C0 controls (U+0000–U+001F, tab and newline included in `one_line`), DEL, C1
controls (U+0080–U+009F, which some terminals obey like ESC-sequences), the bidi embeddings,
overrides and isolates (U+202A–U+202E, U+2066–U+2069), the directional marks (U+200E,
U+200F, U+061C), the line and paragraph separators (U+2028, U+2029), and lone surrogates
(U+D800–U+DFFF: JSON's `"\\ud800"` reads into one, and so does a file name's byte that is not
UTF-8; UTF-8 cannot encode them, so a print or a file write would fail on them).
"""

from __future__ import annotations

import re

#: beyond Latin-1: bidi controls and marks, line and paragraph separators, lone surrogates
_WIDE = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029\ud800-\udfff"
_ANY = re.compile(f"[\x00-\x1f\x7f-\x9f{_WIDE}]")
_KEEP_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_WIDE}]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: object, limit: int | None = None) -> str:
    """`text` as one line with every control, bidi and separator character made visible;
    with `limit`, cut to that many characters ending in an ellipsis, so a megabyte of error
    body or a pathological file name cannot push the line's own words off the screen. The
    cut is made after escaping, so `limit` counts the characters actually shown."""
    safe = _ANY.sub(_visible, str(text))
    if limit is None or len(safe) <= limit:
        return safe
    return safe[: limit - 1] + "…"


def lines(text: object) -> str:
    """A block of lines we formatted around outside text: newlines kept (they are ours),
    every other control character made visible (a carriage return in a transcript would
    otherwise overwrite the start of our line)."""
    return _KEEP_NEWLINE.sub(_visible, str(text))


def hidden(text: str) -> bool:
    """Whether `text` holds a character that `lines` makes visible (so a caller with a lot
    of text, most of it ordinary, can skip the rewriting where there is nothing to show)."""
    return _KEEP_NEWLINE.search(text) is not None


#: a text cell starting with one of these is a live formula in Excel, LibreOffice and Sheets
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: object) -> str:
    """Outside text as a cell of a CSV or TSV file meant for spreadsheets (the board CSV,
    `skipped.tsv`): shown, never run (OWASP's CSV-injection rule: a leading `'` before a
    formula's first character), with control characters made visible so a row stays one
    line. The csv module still does the quoting; this only decides what the cell says."""
    raw = str(text)
    shown = one_line(raw)  # a tab or CR shows as \x09 or \x0d: no raw control reaches a cell
    return "'" + shown if raw.startswith(FORMULA_START) else shown


def check_model_name(flag: str, name: str) -> None:
    """ConfigError (exit 2, before anything is sent or written) for a model name with a
    control, bidi or separator character: no provider spells a model so, and the name is
    printed on every line of a run and becomes the results file's name."""
    if _ANY.search(name):
        from asyncbench.core.errors import ConfigError

        raise ConfigError(
            f"{flag} '{one_line(name)}' has control characters; give the model name as the "
            "provider spells it"
        )
