"""How the registry-driven tests call the ops that derivative graphs are made of (expand_as,
sum_as, size and the two matmul VJPs): at the shapes of their SPEC row in test_ops.py, since
neither the elementwise nor the reduction pattern fits them. `diff` and `scalar` are not called by
name (the language's diff(f, x) makes them): tests/test_diff.py covers it."""

from __future__ import annotations

import numpy as np

from test_ops import SPEC

DERIVATIVE_OPS = ("expand_as", "sum_as", "size", "matmul_vjp_a", "matmul_vjp_b", "max_weights", "min_weights")
SKIPPED = ("diff", "scalar")


def calls(op, fill):
    """(program, values) per SPEC case; fill(shape, index) gives an input's value."""
    for shapes, params in SPEC[op.name].cases:
        names = "xyw"[:op.arity]
        keywords = "".join(f", {k}={v}" for k, v in params.items())
        values = {n: fill(tuple(s), i) for i, (n, s) in enumerate(zip(names, shapes))}
        yield f"{op.call_name}({', '.join(names)}{keywords})", values


def edge_fill(edges):
    """Inputs made of the given edge values, cycling through them."""
    def fill(shape, index):
        size = int(np.prod(shape))
        data = [edges[(index * 5 + k) % len(edges)] for k in range(max(size, 1))]
        return np.array(data[:size] if shape else data[0], dtype=np.float64).reshape(shape)
    return fill
