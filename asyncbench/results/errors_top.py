"""The distinct reasons samples ended failed, counted: what the end of a run shows.

`448 failed: bad_request 448` says that something is wrong, not what: the server's own words
("The model whisper-large-v2 does not exist") sat only inside the JSONL. A results file's
failed samples (the last line of each id, as scoring reads it) are grouped by their message,
made safe for a terminal (control characters replaced, whitespace collapsed, cut short) and
with what differs from request to request (UUIDs, long hex, numbers of 6+ digits) folded, so
one cause is one line: `448 × HTTP 404 "The model whisper-large-v2 does not exist"`.

Messages in result lines are already redacted by the engine; the caller's redactor runs again
on the label, so an old file written by another version cannot leak a key through here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson

from asyncbench.core.text import one_line as visible

#: lines shown; the rest are summed into "and N more"
TOP = 5
#: characters of a message shown in a label
MESSAGE_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MESSAGE = re.compile(r'"(?:message|err_msg|detail|msg)"\s*:\s*"((?:[^"\\]|\\.)+)"')
_HTTP = re.compile(r"^HTTP (\d{3}): (.*)$", re.S)
_VARYING = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{16,}\b"
    r"|\b\d{6,}\b",  # byte counts and request numbers: one cause, many figures
    re.I,
)


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """`text` as one printable line of at most `limit` characters (…-terminated if cut)."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _said(obj: object) -> str | None:
    """The human message in a JSON error body (`{"error": {"message"}}`, `{"detail"}`,
    `{"err_msg"}`, `{"message"}`, nested once), if there is one."""
    for _ in range(3):
        if isinstance(obj, str):
            return obj
        if not isinstance(obj, dict):
            return None
        inner = next(
            (obj[k] for k in ("error", "detail", "message", "err_msg", "msg") if obj.get(k)), None
        )
        if inner is None:
            return None
        obj = inner
    return obj if isinstance(obj, str) else None


def _unwrap_json(text: str) -> str:
    """A message that quotes a JSON error body shows the body's own message instead."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0:
        return text
    try:
        said = _said(orjson.loads(text[start : end + 1])) if end > start else None
    except orjson.JSONDecodeError:
        said = None
    if said:
        return text[:start] + said + text[end + 1 :]
    # a body cut short (an excerpt) is no JSON any more: its first "message" still is
    found = _MESSAGE.search(text, start)
    return text[:start] + found[1] if found else text


def error_label(kind: str | None, message: str | None) -> str:
    """`HTTP 404 "message"` for an HTTP error, else `kind "message"`."""
    text = _VARYING.sub("…", _unwrap_json(message or ""))
    found = _HTTP.match(text)
    if found:
        return f'HTTP {found[1]} "{one_line(found[2])}"'
    return f'{one_line(kind or "unknown", 40)} "{one_line(text)}"'


def failed_messages(path: Path) -> Counter[str]:
    """Label → samples whose last line in the results file is that failure."""
    last: dict[str, str] = {}
    try:
        with path.open("rb") as f:
            for raw in f:
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # a torn or foreign line: scoring reports it, not this
                if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                    continue
                sample = record["id"]
                if record.get("status") == "failed":
                    kind, error = record.get("error_kind"), record.get("error")
                    last[sample] = error_label(
                        kind if isinstance(kind, str) else None,
                        error if isinstance(error, str) else None,
                    )
                else:
                    last.pop(sample, None)
    except OSError:
        return Counter()
    return Counter(last.values())


def errors_top(
    path: Path, redact: Callable[[str], str] = lambda s: s, top: int = TOP
) -> list[dict[str, object]]:
    """The `top` most frequent failure labels of a results file, most frequent first (ties in
    label order), as `{"count", "message"}` records for the summary file."""
    counts = failed_messages(path)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [{"count": n, "message": redact(label)} for label, n in ranked[:top]]
    rest = sum(n for _, n in ranked[top:])
    if rest:
        shown.append({"count": rest, "message": f"({len(ranked) - top} other messages)"})
    return shown


def errors_lines(top: list[dict[str, object]]) -> list[str]:
    """`  448 × HTTP 404 "..."` lines under a heading, or nothing when no sample failed."""
    if not top:
        return []
    width = max(len(str(e["count"])) for e in top)
    # the messages are outside text (a server's words, or a summary read back from disk)
    return ["failed samples by message:"] + [
        f"  {e['count']:>{width}} × {visible(e['message'])}" for e in top
    ]
