"""Values for variables: `NAME=VALUE` text and Python objects → float64 arrays.

Value text is a number (`-2`, `.5`, `1e-3`, `nan`, `inf`, `pi`, `e`) or a nested list of them
(`[1,2,3]`, `[[1,2],[3,4]]`). It is read by a small tokenizer, never by `eval`. Text starting with
`@` names a file (`@data.npy`, `@points.csv`, `@values.json`) or stdin (`@-`): see datafiles.py.
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from .errors import ValueFormatError
from .ops import CONSTANTS

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\[)|(?P<close>\])|(?P<comma>,)"
    r"|(?P<number>[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|nan|pi|e))(?![A-Za-z0-9_.]))",
    re.IGNORECASE,
)
_WORDS = {"inf": float("inf"), "nan": float("nan"), **CONSTANTS}


def parse_assignment(text: str, flag: str = "--set") -> tuple[str, str]:
    """`NAME=VALUE` → (name, value text)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        raise ValueFormatError(f"{flag} {text!r}: expected NAME=VALUE", hint=f"write {flag} {name or 'x'}=1.5")
    if not NAME.fullmatch(name):
        raise ValueFormatError(f"{flag} {text!r}: {name!r} is not a variable name",
                               hint="names are letters, digits and _, not starting with a digit")
    if not value.strip():
        raise ValueFormatError(f"{flag} {text!r}: no value after '='", hint=f"write {flag} {name}=1.5")
    return name, value


def parse_set_value(text: str, where: str, stdin=None) -> np.ndarray:
    """The VALUE of `--set NAME=VALUE`: value text, or `@FILE` / `@-` for a file or stdin."""
    stripped = text.strip()
    if stripped.startswith("@"):
        from .datafiles import load_value

        return load_value(stripped[1:].strip(), where, stdin)
    return parse_value_text(text, where)


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
                                   hint="a value is a number like -2.5 or a list like [1,2,3]")
        pos = match.end()
        kind = match.lastgroup
        if result is not None:
            raise ValueFormatError(f"{where}: unexpected text after the value", hint="one value per --set")
        if kind == "open":
            if not expect_item:
                raise ValueFormatError(f"{where}: missing ',' before '['")
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
