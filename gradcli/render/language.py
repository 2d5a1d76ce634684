"""The language page (`gradcli help language`): every operator and function with its local
gradients, written from the op registry, so that a new op is on the page without an edit here.

The registry gives each op's spelling (through the printer), arity, role, local-gradient formulas,
domain, kink convention, expansion and keyword parameters; only the prose about programs is written here.
"""

from __future__ import annotations

import re
import textwrap

from ..core.ops import OPS, ROLES, Op
from ..language.printer import op_text, operator_strength

_INTRO = """\
An expression is f itself; a program is statements separated by ; or by
newlines, the last of which is f:

\b
  (x + y) * z
  q = x + y; f = q * z
  sig(t) = 1/(1+exp(-t)); sig(w*x + b)

Numbers: 3, 2.5, .5, 1e-3. Constants: pi and e. Names: ASCII letters, digits and _, as w0 or x_1. \
A name used before it is assigned is a variable: give it a value after the expression (x=2) or \
with --set x=2; a value is a number or an array such as [1,2,3]. name = expr names a gate (the \
lecture's q = x + y); +=, -=, *= and /= rebind a name; sig(t) = ... defines a function for the \
statements after it. # starts a comment.

Every gate passes back to each input its local gradient times the upstream gradient, and the \
gradients that reach a value used several times add up. Below, ∂/∂x is a gate's local gradient \
with respect to its input x, and its role says what it does to the gradient flowing back:"""

_OPERATORS = ("Operators, loosest first, as in Python: -x**2 is -(x**2), ** is right-associative, "
              "and x ^ y is the same as x ** y:")

_OUTRO = """\
gradcli eval EXPRESSION NAME=VALUE... shows every gate's numbers; --steps narrates them one \
gate at a time, and --expand shows the gates inside sigmoid and your own functions."""


_LETTER = re.compile(r"(?<![A-Za-z0-9_])[xyz](?![A-Za-z0-9_])")


def _names(op: Op) -> tuple[str, ...]:
    """The inputs' names in the op's formulas: its own (atan2's y and x), a and b where they say
    `g·bᵀ`, else x, y (and z)."""
    if op.arg_names:
        return op.arg_names
    if op.arity == 2 and any(re.search(r"(?<![A-Za-z])[ab](?![A-Za-z])", f) for f in op.formulas):
        return ("a", "b")
    return ("x", "y", "z")[:op.arity] if op.arity <= 3 else tuple(f"x{i}" for i in range(1, op.arity + 1))


def _formulas(op: Op) -> tuple[str, ...]:
    """The op's formulas, their x, y, z (first, second, third input) in its own argument names."""
    if not op.arg_names:
        return op.formulas
    letters = dict(zip("xyz", op.arg_names))
    return tuple(_LETTER.sub(lambda m: letters.get(m[0], m[0]), f) for f in op.formulas)


def _gradients(op: Op, names: tuple[str, ...]) -> str:
    """Each input's local gradient; for an op that passes a whole array back (a vector-Jacobian
    product, `vjp: g·bᵀ`), what each input receives from the upstream gradient g."""
    parts, upstream = [], False
    for name, formula in zip(names, _formulas(op)):
        if formula.startswith("vjp:"):
            parts.append(f"{name} receives {formula[4:].strip()}")
            upstream = True
        else:
            parts.append(f"∂/∂{name} = {formula}")
    text = "; ".join(parts)
    return text + (" (g: the upstream gradient)" if upstream else "")


def describe(op: Op, *, spelled: str | None = None) -> str:
    """One op as the page describes it: what it is, its role, local gradients, kink, options."""
    names = _names(op)
    parts = []
    if op.expansion:
        parts.append(f"{op.expansion}, as one gate")
    text = f"{op.role}: {_gradients(op, names)}"
    if op.symbol in "".join(op.formulas) and not op.symbol.isascii():
        text += f", where {op.symbol} = {op_text(op, names)}"
    parts.append(text)
    if op.domain:
        parts.append(f"domain: {op.domain}")
    if op.kink_rule:
        parts.append(f"at a kink: {op.kink_rule}")
    for param in op.params:
        parts.append(f"also {op.call_name}({', '.join(names)}, {param}=N)")
    if spelled:
        parts.append(f"also written {spelled}")
    return "; ".join(parts)


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(how the op is written, its description)]) for every op of the registry."""
    operators = [op for op in OPS.values() if operator_strength(op) is not None]
    operators.sort(key=operator_strength)  # stable: the registry's order within one strength
    rows = {"operators": [], 1: [], 2: [], "arrays": [], "other": []}
    for op in operators:
        names = _names(op)
        also = op_text(op, names, as_call=True) if op.callable else None
        rows["operators"].append((op_text(op, names), describe(op, spelled=also)))
    for op in OPS.values():
        if operator_strength(op) is not None:
            continue
        key = ("arrays" if not op.elementwise else min(op.arity, 2)) if op.callable else "other"
        rows[key].append((op_text(op, _names(op)), describe(op)))
    headings = [
        ("operators", _OPERATORS),
        (1, "Functions of one argument, elementwise (on an array, element by element):"),
        (2, "Functions of two or three arguments, elementwise (arrays broadcast as in NumPy):"),
        ("arrays", "Functions of whole arrays (with axis=N, along that axis only, as in NumPy):"),
        ("other", "Other gates:"),
    ]
    return [(heading, rows[key]) for key, heading in headings if rows[key]]


def render(width: int = 78) -> str:
    """The whole page, wrapped to `width` columns (at least 40)."""
    width = max(width, 40)
    out = ["The gradcli language", ""]
    out += _paragraphs(_INTRO, width)
    roles = [(role, meaning) for role, meaning in ROLES.items()]
    out += _definitions(roles, width)
    for heading, rows in sections():
        out.append("")
        out += textwrap.wrap(heading, width, break_on_hyphens=False)
        out += _definitions(rows, width)
    out.append("")
    out += _paragraphs(_OUTRO, width)
    return "\n".join(out) + "\n"


def _paragraphs(text: str, width: int) -> list[str]:
    """Paragraphs wrapped to width; a paragraph starting with \\b is kept as written."""
    out: list[str] = []
    for i, paragraph in enumerate(text.split("\n\n")):
        if i:
            out.append("")
        if paragraph.startswith("\b\n"):
            out += paragraph[2:].splitlines()
        else:
            out += textwrap.wrap(" ".join(paragraph.split()), width, break_on_hyphens=False)
    return out


def _definitions(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns, the term on the left, its text wrapped beside it; under a term too long for
    the column (or on a narrow terminal) the text starts on the next line."""
    column = min(max(len(term) for term, _ in rows), 14) + 4
    if width - column < 30:
        column = 6
    out = []
    for term, text in rows:
        lines = textwrap.wrap(text, width - column, break_on_hyphens=False) or [""]
        first = f"  {term}"
        if len(first) + 2 <= column:
            out.append(f"{first:<{column}}{lines[0]}".rstrip())
            lines = lines[1:]
        else:
            out.append(first)
        out += [" " * column + line for line in lines]
    return out
