"""How numbers and arrays read in text output (tables, messages)."""

from __future__ import annotations

import numpy as np


def scalar(value, digits: int) -> str:
    """A number to `digits` significant digits: -0.196612, 1e-07, nan, inf."""
    value = float(value)
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"  # also -0.0: a sign on zero only confuses a reader here
    return f"{value:.{digits}g}"


def number(value, digits: int) -> str:
    """A scalar as `scalar`; an array as its shape and a compact preview: (2, 2) [[1, 2], [3, 4]].
    A text (the formula standing for a Jacobian that is not elementwise) is shown as it is."""
    if isinstance(value, (float, np.floating)):  # the common case first (tables of 100,000 rows)
        return scalar(value, digits)
    if isinstance(value, str):
        return value
    if np.ndim(value) == 0:
        return scalar(value, digits)
    array = np.asarray(value)
    preview = np.array2string(
        array, separator=", ", threshold=6, edgeitems=2, max_line_width=10**9,
        formatter={"float_kind": lambda v: scalar(v, digits)},
    )
    return f"{array.shape} {' '.join(preview.split())}"


def joined_sum(terms) -> str:
    """Number texts written as one sum, a minus sign taken into the operator: -0.25 - 0.125."""
    parts: list[str] = []
    for term in terms:
        if not parts:
            parts.append(term)
        elif term.startswith("-"):
            parts.append(f" - {term[1:]}")
        else:
            parts.append(f" + {term}")
    return "".join(parts)


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def exact(value) -> str:
    """Full precision for machine formats: 0.19661193324148188, [1.0,2.0] (one field). Non-finite
    numbers are spelled one way, alone or in an array: NaN, Infinity, -Infinity (the tokens
    Python's float() and json.loads read back)."""
    import json

    if isinstance(value, str):  # the rule standing for a Jacobian that is not elementwise
        return value
    if np.ndim(value) == 0:
        number = float(value)
        return repr(number) if number - number == 0 else _NON_FINITE[repr(number)]
    return json.dumps(np.asarray(value, dtype=np.float64).tolist(), separators=(",", ":"))


def exact_row(row) -> list[str]:
    """`exact` of each number of a 1-D array, at a fraction of its cost per number (a matrix of
    millions of entries): the same texts."""
    return [repr(v) if v - v == 0 else _NON_FINITE[repr(v)] for v in np.asarray(row, dtype=np.float64).tolist()]
