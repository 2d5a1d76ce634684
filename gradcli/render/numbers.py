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


def exact(value) -> str:
    """Full precision for machine formats: 0.19661193324148188, NaN, Infinity, [1.0,2.0] (one field)."""
    import json

    from .jsondoc import jsonable

    if isinstance(value, str):  # the rule standing for a Jacobian that is not elementwise
        return value
    data = jsonable(value)
    if isinstance(data, float):
        return repr(data)
    return json.dumps(data, separators=(",", ":")).strip('"')
