"""Values for variables: value text and Python objects → float64 arrays.

Value text is a number (`-2`, `.5`, `1e-3`, `nan`, `inf`, `pi`, `e`) or a nested list of them
(`[1,2,3]`, `[[1,2],[3,4]]`). It is read by a small tokenizer, never by `eval`. The command
line's `NAME=VALUE` pairs, and `@FILE` values naming a file (`@data.npy`, `@points.csv`,
`@values.json`) or stdin (`@-`), are read by arguments.py and datafiles.py, above this module.
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from ..base.errors import ValueFormatError, character_hint, shorten
from ..core.ops import CONSTANTS

# Dimensions of an array: NumPy 1 allows 32 and np.broadcast_shapes (the engine) 32 still
MAX_DIMS = 32
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\[)|(?P<close>\])|(?P<comma>,)"
    r"|(?P<number>[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|nan|pi|e))(?![A-Za-z0-9_.]))",
    re.IGNORECASE,
)
_WORDS = {"inf": float("inf"), "nan": float("nan"), **CONSTANTS}


def _value_hint(text: str, at: int, stack: list) -> str | None:
    """What a value text that cannot be read most likely meant (`at`: where reading stopped)."""
    rest = text[at:].lstrip()
    if not rest:
        return None
    if rest[0] == "," and not stack:  # x=2,5 or x=1,2,3
        digits = re.fullmatch(r"\s*([+-]?\d+),(\d+)\s*", text)
        if digits:
            return f"the decimal separator is '.': write {digits[1]}.{digits[2]}; a list is written [{digits[1]},{digits[2]}]"
        return f"a list is written in brackets: [{shorten(text.strip().strip(','))}]"
    if rest[0] == "(":
        inner = text.strip()[1:-1] if text.strip().endswith(")") else "1,2"
        return f"a list is written in brackets: [{shorten(inner)}]"
    if rest[0] == "=":
        return "one '=' between the name and the value: x=3"
    if NAME.match(rest) and "=" in rest:
        return "one NAME=VALUE per argument: put no quotes around several of them"
    if rest[0] in "*/^+-@%" or re.match(r"\*\*", rest):
        return ("a value is a number or a list of numbers, not an expression, and is not computed: "
                "write the number it comes to")
    if rest[0] in "\"'“”‘’":  # a quoted word in a value, not a quoted expression
        return "a value holds numbers only (nan and inf included), never text in quotes"
    return character_hint(rest[0])


def parse_value_text(text: str, where: str) -> np.ndarray:
    """A number or a rectangular nested list → float64 array. `where` names the value in messages."""
    pos, length = 0, len(text)
    stack: list[list] = []
    result = None
    expect_item = True  # an item may come next (after '[' or ',' or at the start)
    while pos < length:
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            bad = text[pos:].lstrip()[:12]
            raise ValueFormatError(f"{where}: cannot read {bad!r} as a number",
                                   hint=_value_hint(text, pos, stack) or "a value is a number like -2.5 or a list like [1,2,3]")
        kind = match.lastgroup
        if result is not None:
            raise ValueFormatError(f"{where}: unexpected text after the value",
                                   hint=_value_hint(text, pos, stack) or "one value per --set")
        pos = match.end()
        if kind == "open":
            if not expect_item:
                raise ValueFormatError(f"{where}: missing ',' before '['")
            if len(stack) == MAX_DIMS:
                raise ValueFormatError(f"{where}: lists nested more than {MAX_DIMS} deep; an array has "
                                       f"at most {MAX_DIMS} dimensions")
            stack.append([])
        elif kind == "close":
            if not stack:
                raise ValueFormatError(f"{where}: unmatched ']'")
            done = stack.pop()
            if expect_item and done:  # "[1,]"
                raise ValueFormatError(f"{where}: a ',' is followed by nothing")
            expect_item = False
            if stack:
                stack[-1].append(done)
            else:
                result = done
        elif kind == "comma":
            if expect_item or not stack:
                raise ValueFormatError(f"{where}: unexpected ','")
            expect_item = True
        else:
            if not expect_item:
                raise ValueFormatError(f"{where}: missing ',' between numbers")
            word = match.group("number")
            sign = -1.0 if word[0] == "-" else 1.0
            body = word.lstrip("+-").lower()
            number = sign * _WORDS[body] if body in _WORDS else float(word)
            expect_item = False
            if stack:
                stack[-1].append(number)
            else:
                result = number
    if stack:
        raise ValueFormatError(f"{where}: '[' is not closed", hint="close every '[' with ']'")
    if result is None:
        raise ValueFormatError(f"{where}: no value")
    return to_array(result, where)


def to_array(value: object, where: str) -> np.ndarray:
    """Any number, nested sequence or array → float64 ndarray, or a ValueFormatError."""
    if isinstance(value, str):
        return parse_value_text(value, where)
    try:
        array = np.asarray(value)
    except ValueError as exc:  # NumPy 2 refuses ragged nested lists
        raise ValueFormatError(f"{where}: the nested lists are not rectangular",
                               hint="every row of an array needs the same length") from exc
    if array.dtype.kind not in "biuf":
        if array.dtype.kind == "O":
            raise ValueFormatError(f"{where}: the nested lists are not rectangular or hold non-numbers")
        raise ValueFormatError(f"{where}: {array.dtype} values are not real numbers")
    return array.astype(np.float64, copy=False)


def to_arrays(values: Mapping[str, object]) -> dict[str, np.ndarray]:
    return {name: to_array(value, f"value of {name}") for name, value in values.items()}


def shapes_of(values: Mapping[str, object]) -> dict[str, tuple]:
    """Each value's shape, for those that have one (a ragged list has none: the engine says so),
    so that gradcli.parse(text, shapes=…) builds diff(…) for exactly these shapes."""
    shapes = {}
    for name, value in values.items():
        try:
            shapes[name] = np.shape(value)
        except ValueError:
            continue
    return shapes
