"""One exception family. Only the CLI turns these into exit codes."""

from __future__ import annotations

import difflib
import re
from typing import Iterable, Mapping

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
    """Variables used by the expression that were given no value.

    `unused` holds the names given a value that the expression does not use (as a mapping, each
    to the file whose column it is, or None): a missing name close to one of them is most likely
    that one misspelt. `where` maps names to their first use (nodes with a span) for the caret,
    and a missing name in `functions` is a function written without its argument (`exp + 1`)."""

    def __init__(self, names: list[str], *, unused: Mapping[str, str | None] | Iterable[str] = (),
                 where: Mapping[str, object] | None = None, functions: Iterable[str] = ()) -> None:
        self.names = names
        self.unused = dict(unused) if isinstance(unused, Mapping) else dict.fromkeys(unused)
        where = where or {}
        listed = ", ".join(shorten(n) for n in names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        message = f"no value for {'variable' if len(names) == 1 else 'variables'} {listed}"
        hint = f"add {_flags(names)}"
        first = names[0] if names else None
        functions = set(functions)
        calls = [n for n in names if n in functions]
        pairs = _closest_pairs(names, list(self.unused), fallback=False)
        assigned = None if calls else self._assigned_hint(names, where)
        if assigned and assigned[0] == "later":
            pairs = {}
        elif not pairs and not assigned:  # the only missing and the only unused name
            pairs = _closest_pairs(names, list(self.unused))
        if calls:  # `exp + 1`: a function without its argument
            first = calls[0]
            message = f"{first} is a function, but it is used here without an argument"
            others = [n for n in names if n != first]
            hint = f"write {first}(x) to call it" + (f"; add {_flags(others)}" if others else "")
        elif pairs:
            first = next(iter(pairs))
            hint = f"did you mean {_and([shorten(n) for n in pairs])}? {_given(list(pairs.values()), self.unused)}, " \
                f"which the expression does not use"
            rest = [n for n in names if n not in pairs]
            if rest:
                hint += f"; add {_flags(rest)}"
        elif assigned:
            _, first, hint = assigned
        elif 0 < len(self.unused) <= 5:
            hint += f"; {_given(list(self.unused), self.unused)}, which the expression does not use"
        node = where.get(first)
        super().__init__(message, span=getattr(node, "span", None), hint=hint)


    @staticmethod
    def _assigned_hint(names: list[str], where: Mapping[str, object]) -> tuple[str, str, str] | None:
        """A missing name that the program assigns only after its use ("later"), or close to a
        name it assigns (`rate = 0.1; w - rat*g`, "close"): (which, that name, the hint)."""
        span = getattr(where.get(names[0]), "span", None) if names else None
        source = getattr(span, "source", None)
        if source is None or len(names) > 100:
            return None
        assigned: dict[str, int] = {}
        for match in _ASSIGNMENT.finditer(source.text):
            assigned.setdefault(match[1], match.start(1))
        for name in names:
            if name in assigned:
                line, column = source.line_col(assigned[name])
                return "later", name, (f"{shorten(name)} is assigned at line {line}, column {column}, after "
                                       "this use; assign a name before using it")
        for name, meant in _closest_pairs(names, list(assigned)[:1000], fallback=False).items():
            line, column = source.line_col(assigned[meant])
            return "close", name, f"did you mean {shorten(meant)}, assigned at line {line}, column {column}?"
        return None


# A statement that assigns a name: `q = …`, `q += …` (not `==`, not a keyword argument inside a call).
_ASSIGNMENT = re.compile(r"(?:^|[;\n])[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?:[-+*/]?=)(?!=)")


def _flags(names: list[str]) -> str:
    return " ".join(f"--set {shorten(n)}=VALUE" for n in names[:5]) + (" ..." if len(names) > 5 else "")


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _given(names: list[str], where: Mapping[str, str | None]) -> str:
    """"a value was given for 'wo'", "data.csv has columns 'wo' and 'bb'"."""
    parts = []
    for source in dict.fromkeys(where[n] for n in names):
        these = [repr(shorten(n)) for n in names if where[n] == source]
        if source is None:
            parts.append(f"{'a value was' if len(these) == 1 else 'values were'} given for {_and(these)}")
        else:
            parts.append(f"{source} has {'a column' if len(these) == 1 else 'columns'} {_and(these)}")
    return "; ".join(parts)


def _closest_pairs(missing: list[str], unused: list[str], fallback: bool = True) -> dict[str, str]:
    """Each missing name → the unused given name it most likely is (see `_typo_distance`; else
    the only missing and the only unused name), in the order of `missing`."""
    pairs: dict[str, str] = {}
    if not missing or not unused or len(missing) * len(unused) > 20_000:  # bounded work
        return pairs
    left = list(unused)
    for name in missing:
        scored = [(d, i) for i, u in enumerate(left) if (d := _typo_distance(name, u)) is not None]
        if scored:
            pairs[name] = left.pop(min(scored)[1])
    if fallback and not pairs and len(missing) == 1 and len(unused) == 1:
        pairs[missing[0]] = unused[0]
    return pairs


# Characters that are easily typed or read for one another in a name.
_LOOKALIKE = str.maketrans("0o1li", "OOLLL")


def _typo_distance(a: str, b: str) -> int | None:
    """How far apart two names are as typos (0: only the case or look-alike characters such as
    0/o and 1/l differ), or None when they are not a probable typo of each other: one edit (a
    letter changed, added, dropped, or two swapped) for names of up to 4 characters, two beyond."""
    if len(a) > 100 or len(b) > 100 or a == b:
        return None
    if a.lower().translate(_LOOKALIKE) == b.lower().translate(_LOOKALIKE):
        return 0
    limit = 1 if min(len(a), len(b)) <= 4 else 2
    if abs(len(a) - len(b)) > limit:
        return None
    # optimal string alignment distance, case-insensitive
    a, b = a.lower(), b.lower()
    before, row = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        before, row = row, current
    distance = row[-1]
    return distance if 0 < distance <= limit and distance < max(len(a), len(b)) else None


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
    match = closest(word, candidates)
    return f"did you mean {match!r}?" if match is not None else None


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate that `word` most likely is a typo of, or None."""
    if len(word) > 100:  # difflib is quadratic; a name this long is no typo
        return None
    # a typo changes the length by little; a bounded number of candidates bounds the work
    candidates = [c for c in candidates if abs(len(c) - len(word)) <= max(3, len(word) // 2)][:5_000]
    typos = [(d, i) for i, c in enumerate(candidates) if (d := _typo_distance(word, c)) is not None]
    if typos:  # a changed, missing, extra or swapped letter, another case, 0 for o
        return candidates[min(typos)[1]]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


# Characters that look like an operator, a quote or a space of the language but are not.
_LOOKALIKE_OPERATORS = {
    **dict.fromkeys("×∗⋅·•✕✖", "*"),
    **dict.fromkeys("÷∕⁄", "/"),
    **dict.fromkeys("−–—‒﹣‐‑", "-"),
}
_TYPOGRAPHIC_QUOTES = "“”„‟«»‘’‚‛‹›′″´`"
_ODD_SPACES = {"\u00a0": "a no-break space", "\u2007": "a figure space", "\u2009": "a thin space",
               "\u202f": "a narrow no-break space", "\u200b": "a zero-width space",
               "\u2060": "a word joiner", "\ufeff": "a zero-width no-break space (BOM)"}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_COMPARISONS = "<>≤≥≠≈"


def character_hint(char: str) -> str | None:
    """What a person most likely meant by a character that is not in the language, or None."""
    import unicodedata

    code = f"U+{ord(char):04X}"
    if char in _LOOKALIKE_OPERATORS:
        op = _LOOKALIKE_OPERATORS[char]
        what = {"*": "to multiply", "/": "to divide", "-": "for a minus"}[op]
        return f"{char!r} ({code}) looks like {op!r} but is not: write {op} {what}"
    if char in _TYPOGRAPHIC_QUOTES or char in "\"'":
        return (f"{char!r} is a quote mark, and gradcli has no strings; to quote the expression for the "
                "shell, put straight quotes \"…\" around all of it")
    if char in _ODD_SPACES:
        return f"this is {_ODD_SPACES[char]} ({code}); replace it with an ordinary space"
    if char != char.translate(_SUPERSCRIPTS):
        return f"write x**{char.translate(_SUPERSCRIPTS)} for x{char}: '**' or '^' is the power"
    if char in _COMPARISONS:
        return "gradcli has no comparisons; max(x, y), min(x, y) and relu(x) choose between values"
    spelled = {"√": "sqrt(x)", "∑": "sum(x)", "Σ": "sum(x)", "π": "pi", "|": "abs(x) for |x|"}.get(char)
    if spelled:
        return f"write {spelled}"
    if char == "!":
        return "gradcli has no factorial, no logical not and no '!='"
    if char == "%":
        return "gradcli has no remainder operator"
    if char in "[]":
        return "an array is a value, not part of the expression: give it as --set x=[1,2,3]"
    if char in "{}":
        return "parentheses ( ) group an expression"
    if char == ":":
        return "define a function as f(t) = t*2 (no 'def', no ':')"
    plain = unicodedata.normalize("NFKC", char)
    if plain != char and plain.isascii() and plain.isprintable():
        return f"{char!r} ({code}) is a wide or styled form of {plain!r}: write {plain}"
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    if name.startswith("GREEK ") and " LETTER " in name:
        word = name.split(" LETTER ")[-1].lower()
        if word.isalpha():
            return f"names are ASCII letters, digits and _: write {word} for {char}"
    return None
