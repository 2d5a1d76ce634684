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

# Dimensions of an array: NumPy 1 allows 32 and np.broadcast_shapes (the engine) 32 still
MAX_DIMS = 32
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


def parse_set_value(text: str, where: str, stdin=None, limit: tuple[int, str] | None = None) -> np.ndarray:
    """The VALUE of `--set NAME=VALUE`: value text, or `@FILE` / `@-` for a file or stdin (read up
    to `limit`: bytes, and how messages name that limit)."""
    stripped = text.strip()
    if stripped.startswith("@"):
        from .datafiles import load_value

        return load_value(stripped[1:].strip(), where, stdin, limit)
    return parse_value_text(text, where)


def collect_values(options: list[str], pairs: list[str] = (), values_file: str | None = None,
                   stdin=None, *, flag: str = "--set", stdin_taken: str | None = None,
                   limit: tuple[int, str] | None = None) -> dict:
    """`flag NAME=VALUE` options, positional `NAME=VALUE` pairs and `--values FILE.json` → name →
    array. A name given a value twice, in any of these ways, is an error naming both; so is stdin
    asked for twice (`stdin_taken` says if the program itself came from it)."""
    values: dict[str, np.ndarray] = {}
    given: dict[str, str] = {}  # name -> how its value was written, for the message on a conflict
    stdin_users = [stdin_taken] if stdin_taken else []

    def uses_stdin(who: str) -> None:
        stdin_users.append(who)
        if len(stdin_users) > 1:
            raise ValueFormatError(f"{stdin_users[0]} and {stdin_users[1]} both read stdin",
                                   hint="stdin can be read once; put the other one in a file")

    if values_file is not None:
        from .datafiles import load_values

        if values_file == "-":
            uses_stdin("--values -")
        values = load_values(values_file, stdin, limit)
        given = {name: f"--values {values_file}" for name in values}
    for where, items in ((flag, options), ("argument", pairs)):
        for item in items:
            name, text = parse_assignment(item, where)
            written = f"{where} {item}" if where == flag else item
            if text.strip().replace(" ", "") == "@-":
                uses_stdin(written)
            if name in values:
                raise ValueFormatError(f"{name} is given a value twice: {given[name]} and {written}",
                                       hint="give each variable one value")
            values[name] = parse_set_value(text, f"{where} {item}", stdin, limit)
            given[name] = written
    return values


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
