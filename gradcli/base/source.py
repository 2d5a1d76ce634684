"""Positions in the user's text, so every message can point at what the user wrote."""

from __future__ import annotations

# How much of a long line a caret display shows around the column.
_WINDOW = 72


class Source:
    """The text of one program, shared by every span cut from it."""

    __slots__ = ("text", "_line_starts", "output")

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_starts: list[int] | None = None
        # where the program's last statement (its output) is, set by the parser: views title a
        # program by it, not by its whole text (definitions, comments)
        self.output: Span | None = None

    def line_col(self, pos: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        if self._line_starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
        starts = self._line_starts
        lo, hi = 0, len(starts) - 1
        while lo < hi:  # last line start <= pos
            mid = (lo + hi + 1) // 2
            if starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, pos - starts[lo] + 1

    def caret(self, pos: int) -> str:
        """The line holding `pos` and a caret under it, cut to a window on long lines."""
        line, col = self.line_col(pos)
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        text = self.text[start : len(self.text) if end == -1 else end].rstrip("\r")
        offset = col - 1
        if len(text) > _WINDOW:
            left = max(0, min(offset - _WINDOW // 2, len(text) - _WINDOW))
            shown = text[left : left + _WINDOW]
            prefix = "…" if left > 0 else ""
            suffix = "…" if left + _WINDOW < len(text) else ""
            text = prefix + shown + suffix
            offset = offset - left + len(prefix)
        text = text.replace("\t", " ")
        return f"  {text}\n  {' ' * offset}^"


class Span:
    """A stretch [start, end) of a Source."""

    __slots__ = ("source", "start", "end")

    def __init__(self, source: Source, start: int, end: int) -> None:
        self.source = source
        self.start = start
        self.end = end

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def short_text(self, limit: int = 40) -> str:
        """The spanned text on one line, cut with an ellipsis past `limit` characters."""
        cut = self.end - self.start > 4 * limit  # avoid copying a huge slice
        text = self.source.text[self.start : min(self.end, self.start + 4 * limit)]
        text = " ".join(text.split())
        if len(text) <= limit and not cut:
            return text
        return text[: limit - 1] + "…"

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    def where(self) -> str:
        line, col = self.source.line_col(self.start)
        return f"line {line}, column {col}"
