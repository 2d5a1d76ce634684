"""One exception family. Only the CLI turns these into exit codes."""

from __future__ import annotations

import difflib
from typing import Iterable

from .source import Span


class GradcliError(Exception):
    """Any problem with the user's input: text, values or shapes.

    `span` points at the user's text when the problem has a place; `hint` says what to do.
    """

    def __init__(self, message: str, *, span: Span | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def render(self) -> str:
        """The full message for a person: what, where (with a caret) and the hint."""
        parts = []
        if self.span is not None:
            parts.append(f"{self.message} (at {self.span.where()})")
            parts.append(self.span.source.caret(self.span.start))
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


class GradcliSyntaxError(GradcliError):
    """The text is not in the gradcli language."""


class UnknownFunctionError(GradcliError):
    """A call of a function the registry does not have, or with the wrong argument count."""


class DefinitionError(GradcliError):
    """A function definition that cannot stand: recursion, a parameter that is not a name, a body
    using a name that is not a parameter, or a clash with another function's name."""


class MissingValueError(GradcliError):
    """Variables used by the expression that were given no value."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        listed = ", ".join(shorten(n) for n in names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        flags = " ".join(f"--set {shorten(n)}=VALUE" for n in names[:5]) + (" ..." if len(names) > 5 else "")
        super().__init__(
            f"no value for {'variable' if len(names) == 1 else 'variables'} {listed}",
            hint=f"add {flags}",
        )


class ValueFormatError(GradcliError):
    """A value given for a variable is not a number or a rectangular array of numbers."""


class ShapeError(GradcliError):
    """Arrays that do not broadcast together at a gate."""


class ResourceError(GradcliError):
    """The input is too large: longer than the size limit, or needing more memory than allowed."""


class DomainError(GradcliError):
    """A non-finite number appeared and the caller asked for strictness."""


def shorten(name: str, limit: int = 40) -> str:
    """A name as messages show it: a 100,000-character name must not flood the terminal."""
    return name if len(name) <= limit else f"{name[:limit - 1]}…"


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a probable typo, as a hint, or None."""
    if len(word) > 100:  # difflib is quadratic; a name this long is no typo
        return None
    close = difflib.get_close_matches(word, [c for c in candidates if len(c) <= 100], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
