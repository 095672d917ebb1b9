"""A page's text as a reader sees it, by element: for DOM-level tests of the report without a
browser (the standard library's HTML parser; no dependency)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class Texts(HTMLParser):
    """The text of every element that has a class or id, by class name and by #id, and the
    text of every table cell row by row."""

    VOID = frozenset({"br", "img", "meta", "hr", "input", "link", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.by: dict[str, list[str]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self._open: list[tuple[list[str], list[str]]] = []  # (names, text pieces)
        self._table: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        names = (a.get("class") or "").split() + ([f"#{a['id']}"] if a.get("id") else [])
        if tag == "table":
            self._table.append(a.get("id") or "")
        if tag == "tr" and self._table:
            self.rows.setdefault(self._table[-1], []).append([])
        if tag in ("td", "th"):
            names.append("cell")
        if tag not in self.VOID:
            self._open.append((names, []))

    def handle_data(self, data: str) -> None:
        for _, pieces in self._open:
            pieces.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or not self._open:
            return
        names, pieces = self._open.pop()
        text = "".join(pieces)
        for name in names:
            self.by.setdefault(name, []).append(text)
        if "cell" in names and self._table and self.rows.get(self._table[-1]):
            self.rows[self._table[-1]][-1].append(text)
        if tag == "table" and self._table:
            self._table.pop()


def parsed(path: Path) -> Texts:
    p = Texts()
    p.feed(path.read_text(encoding="utf-8"))
    return p
