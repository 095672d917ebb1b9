"""Outside text on one terminal line: control characters shown as escapes, length bounded.

File names, model names, transcripts and decoder messages come from outside; printed raw, an
escape sequence could recolour or rewrite the terminal and a newline could forge a line. Stdlib
only, so every stage may use it.
"""

from __future__ import annotations

import re

__all__ = ["terminal_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def terminal_text(text: str, limit: int = 200) -> str:
    """`text` safe for one terminal line: control characters as `\\x1b`-style escapes, long
    strings cut to `limit` characters with an ellipsis."""
    safe = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"
