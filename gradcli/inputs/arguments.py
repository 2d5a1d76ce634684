"""The values of a command line: `--set NAME=VALUE`, positional `NAME=VALUE` pairs, `--values
FILE.json`, and `@FILE` / `@-` as a VALUE → name → float64 array.

Value text is read by gradcli.inputs.values; a file by gradcli.inputs.datafiles, imported only when a file is
named (most runs read none).
"""

from __future__ import annotations

import re

import numpy as np

from ..base.errors import ValueFormatError, shorten
from .values import NAME, parse_value_text


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
        from .datafiles import load_value  # (only then: most runs read no file)

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
                what = "a tangent" if flag == "--tangent" else "a value"  # (--expect's are values too)
                raise ValueFormatError(f"{name} is given {what} twice: {given[name]} and {written}",
                                       hint=f"give each variable one {what[2:]}")
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
