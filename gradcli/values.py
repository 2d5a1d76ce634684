"""Values for variables: `NAME=VALUE` text and Python objects → float64 arrays.

Value text is a number (`-2`, `.5`, `1e-3`, `nan`, `inf`, `pi`, `e`) or a nested list of them
(`[1,2,3]`, `[[1,2],[3,4]]`). It is read by a small tokenizer, never by `eval`. Text starting with
`@` names a file (`@data.npy`, `@points.csv`, `@values.json`) or stdin (`@-`): see datafiles.py.
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from .errors import ValueFormatError, character_hint, shorten
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
        spaced = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*[\s:]\s*([-+.\d\[@].*?|pi|e|nan|inf)\s*", text)
        if spaced:  # `x 3`, `x:3`
            hint = f"write {flag} {spaced[1]}={spaced[2]}"
        elif NAME.fullmatch(name):
            hint = f"write {flag} {name}=1.5, one argument with '=' and no spaces"
        elif flag == "argument":  # `gradcli eval x=3 "x*2"`
            hint = "the expression comes first, then its NAME=VALUE pairs"
        else:
            hint = f"write {flag} NAME=VALUE, e.g. {flag} x=1.5"
        raise ValueFormatError(f"{flag} {text!r}: expected NAME=VALUE", hint=hint)
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
    _spaced_pairs(pairs)
    for where, items in ((flag, options), ("argument", pairs)):
        for item in items:
            name, text = parse_assignment(item, where)
            written = f"{where} {item}" if where == flag else item
            if text.strip().replace(" ", "") == "@-":
                uses_stdin(written)
            if name in values:
                raise ValueFormatError(f"{name} is given a value twice: {given[name]} and {written}",
                                       hint="give each variable one value")
            # a long value must not flood the message; a file's path is shown whole
            label = item if text.lstrip().startswith("@") else shorten(item, 60)
            values[name] = parse_set_value(text, f"{where} {label}", stdin, limit)
            given[name] = written
    return values


def _spaced_pairs(pairs: list[str]) -> None:
    """`x = 3`, `x =3`, `x= 3`: the shell made several arguments of one NAME=VALUE pair."""
    for i, item in enumerate(pairs[:-1]):
        after = pairs[i + 1]
        if NAME.fullmatch(item) and after.startswith("="):
            parts = [item, after] if after != "=" or i + 2 >= len(pairs) else [item, after, pairs[i + 2]]
        elif item.endswith("=") and NAME.fullmatch(item[:-1]) and "=" not in after:
            parts = [item, after]
        else:
            continue
        joined = "".join(parts)
        raise ValueFormatError(f"arguments {' '.join(parts)}: a NAME=VALUE pair is one argument, without spaces",
                               hint=f"write {joined}")


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
