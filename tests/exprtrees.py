"""Random expression trees over the whole op registry, and graph helpers, for the property,
printer and oracle tests.

A tree is ("var", name), ("const", value) or (op name, child, ...). `safe_tree` keeps inputs in
each op's domain by construction (log and sqrt of u*u + 0.5, a denominator likewise, tan of a
tanh, asin of tanh/2); `any_tree` does not. Both take a random.Random, so Hypothesis (st.randoms) and a seeded
generator drive the same code.
"""

from __future__ import annotations

import random

import numpy as np

from gradcli.core.ops import FUNCTIONS, OPS

VARIABLES = ("x", "y", "z")
CONSTANTS = (0.5, 2.0, 3.0, -1.5, 0.25)
OPERATORS = ("add", "sub", "mul", "div", "neg", "pow")
# scalar trees: the elementwise ops (array ops have their own vjp tests in test_ops.py)
ALL_OPS = tuple(sorted(name for name in set(FUNCTIONS) | set(OPERATORS) if OPS[name].elementwise))
SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def _leaf(rng: random.Random, constants=CONSTANTS, names=VARIABLES):
    if rng.random() < 0.7:
        return ("var", rng.choice(names))
    return ("const", rng.choice(constants))


def _positive(tree):
    return ("add", ("mul", tree, tree), ("const", 0.5))  # ≥ 0.5


def safe_tree(rng: random.Random, depth: int):
    if depth == 0 or rng.random() < 0.25:
        return _leaf(rng)
    name = rng.choice(ALL_OPS)
    kids = [safe_tree(rng, depth - 1) for _ in range(OPS[name].arity)]
    if name in ("log", "sqrt", "log1p", "log2", "log10"):
        kids[0] = _positive(kids[0])
    elif name == "tan":
        kids[0] = ("tanh", kids[0])  # |tanh| < 1 < π/2
    elif name in ("asin", "acos"):
        kids[0] = ("div", ("tanh", kids[0]), ("const", 2.0))  # |tanh/2| < ½: the slope stays small
    elif name in ("div", "xlogy"):
        kids[1] = _positive(kids[1])
    elif name == "pow":
        if rng.random() < 0.5:
            kids[1] = ("const", rng.choice((2.0, 3.0, -1.0)))  # any base, whole exponent
        else:
            kids[0] = _positive(kids[0])
    return (name, *kids)


ODD_CONSTANTS = CONSTANTS + (0.0, -0.0, 1e-5, 1e300, 123456789.125, -7.0, 0.1)


def any_tree(rng: random.Random, depth: int, names=VARIABLES):
    """Anything the grammar can say: every op, odd constants, no domain care."""
    if depth == 0 or rng.random() < 0.25:
        return _leaf(rng, ODD_CONSTANTS, names)
    name = rng.choice(ALL_OPS)
    return (name, *(any_tree(rng, depth - 1, names) for _ in range(OPS[name].arity)))


def program(rng: random.Random) -> str:
    """A few statements that assign, rebind (+=, *=) and shadow names, then an output."""
    names = VARIABLES + ("a", "b")
    lines = []
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(("a", "b", "x"))
        lines.append(f"{target} {rng.choice(('=', '=', '+=', '*='))} {text(any_tree(rng, 2, names))}")
    lines.append(text(any_tree(rng, 2, names)) if rng.random() < 0.5 else rng.choice(("a", "b")))
    return "\n".join(lines)


def text(tree) -> str:
    """gradcli source with every gate in parentheses (independent of gradcli's printer)."""
    kind = tree[0]
    if kind == "var":
        return tree[1]
    if kind == "const":
        value = tree[1]
        return f"({value!r})" if str(value).startswith("-") else repr(value)
    args = [text(kid) for kid in tree[1:]]
    if kind == "neg":
        return f"(-{args[0]})"
    if kind in SYMBOLS:
        return f"({args[0]} {SYMBOLS[kind]} {args[1]})"
    return f"{kind}({', '.join(args)})"


def size(tree) -> int:
    return 1 if tree[0] in ("var", "const") else 1 + sum(size(kid) for kid in tree[1:])


def structure(graph) -> list:
    """The graph as a canonical list: nodes numbered by a left-to-right walk from the output,
    each with its kind, op, constant, variable name and inputs. Equal lists, same graph."""
    number: dict[int, int] = {}
    rows = []
    stack = [(graph.output, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in number:
            continue
        if not expanded and node.inputs:
            stack.append((node, True))
            stack.extend((inp, False) for inp in reversed(node.inputs))
            continue
        number[id(node)] = len(rows)
        const = node.default if node.kind == "const" else None
        name = node.name if node.kind == "var" else None
        rows.append((node.kind, node.op_name, const, name, tuple(number[id(i)] for i in node.inputs)))
    return rows


def well_conditioned(result, kink_margin: float = 1e-3) -> bool:
    """Every value and gradient finite and below 1e4; every kink input at least `kink_margin`
    from its kink."""
    for record in result.trace:
        for number in (record.value, record.gradient):
            if number is not None and not (np.all(np.isfinite(number)) and np.all(np.abs(number) < 1e4)):
                return False
        node = record.node
        if node.kind == "gate" and node.op.kink_offset is not None:
            inputs = [result.trace[i.id].value for i in node.inputs]
            if np.min(np.abs(node.op.kink_offset(*inputs))) < kink_margin:
                return False
    return True
