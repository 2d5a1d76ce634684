"""Derivatives of any order as formulas, with their numbers: what `gradcli diff` shows and
`gradcli.diff` returns.

`derive` builds, for each variable, the order-th derivative of f as a graph
(gradcli.differentiation.derivative), optionally hands it to SymPy to simplify (gradcli.language.symbolic), and, when values
are given, evaluates it and checks that the formula as printed (language.formula) reads back to the
same number. The renderers in language/formula.py and render/dot.py write the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base.errors import GradcliError, did_you_mean
from ..core.graph import Graph, Node
from ..language.formula import Formula

# The highest order (gradcli.language.parser.MAX_DIFF_ORDER, the bound of diff(f, x, N)): the derivative of
# order N of a graph of n gates can have ~n·3^N gates, which gradcli.differentiation.derivative bounds as well.
MAX_ORDER = 20
# How long SymPy may simplify one formula (seconds) before the formula is shown unsimplified.
SIMPLIFY_SECONDS = 10.0
# A printed formula read back agrees with the derivative graph's number to this (relative); the
# normal form (u*x0/(1 + u)**2 for 1/(1 + u)/(1 + u)*u*x0) changes only the rounding.
READBACK_RTOL = 1e-9
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def symbol(name: str, order: int = 1) -> str:
    """∂f/∂x, ∂²f/∂x², ∂¹²f/∂x¹²."""
    power = "" if order == 1 else str(order).translate(_SUPERSCRIPT)
    return f"∂{power}f/∂{name}{power}"


@dataclass
class Derivative:
    """The order-th derivative of f with respect to `name`: its graph (registry gates), the node
    printed (the graph's output, or SymPy's simplified form read back), and its value at the
    given values (None without values)."""

    name: str
    graph: Graph
    root: Node
    value: object = None
    simplified: bool = False


@dataclass
class Derivatives:
    """f (its graph, and its value when values were given), the order, and one Derivative per
    variable; `warnings` says what the reader should know (kinks, a formula SymPy could not
    simplify, a printed formula that reads back to another number)."""

    graph: Graph
    order: int
    items: list[Derivative]
    value: object = None
    has_values: bool = False
    warnings: list[str] = field(default_factory=list)
    given: dict = field(default_factory=dict)  # the values given

    def labels(self) -> list[str]:
        return [symbol(item.name, self.order) for item in self.items]

    scalars: bool = True  # every variable is a scalar (no values, or scalar values)

    def formula(self) -> Formula:
        """f and every derivative in one formula: roots [f, ∂f/∂x, …], sharing intermediates."""
        return Formula([self.graph.output, *(item.root for item in self.items)], taken=self.taken(),
                       scalars=self.scalars, root_names={0: "f"})

    def standalone(self, index: int) -> Formula:
        """Derivative `index` alone (its own intermediates): a program that parses back."""
        return Formula([self.items[index].root], taken=self.taken(), scalars=self.scalars)

    def derivatives_formula(self) -> Formula:
        """The derivatives alone, sharing intermediates (what --format dot draws)."""
        return Formula([item.root for item in self.items], taken=self.taken(), scalars=self.scalars)

    def taken(self) -> set[str]:
        return set(self.graph.variables)


def check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise TypeError(f"the order of a derivative is a whole number, not {type(order).__name__}")
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"the order of a derivative is from 1 to {MAX_ORDER}, not {order}")
    return int(order)


def derive(graph: Graph, names: list[str] | None = None, order: int = 1, values: dict | None = None, *,
           simplify: bool = False, flag: str = "--wrt") -> Derivatives:
    """The order-th derivative of f = graph's output with respect to each of `names` (by default
    every variable that needs a value), as graphs and, with `values`, numbers.

    Raises GradcliError for a name that is not a variable (`flag` names the option in the
    message), for an f that is not a scalar, for an order above 1 of an array variable, and
    (with `simplify`) when SymPy is not installed."""
    order = check_order(order)
    if simplify:
        from ..language.symbolic import require_sympy

        require_sympy("--simplify")
    values = dict(values) if values else {}
    has_values = bool(values)
    names = _names(graph, names, flag)
    warnings: list[str] = []
    f_value = None
    shapes = None
    if has_values:
        result = graph.evaluate(values, trace=False)
        f_value = result.value
        # f's own gradient is not shown (the derivatives are, from their graphs): only f's warnings
        warnings.extend(d.message for d in result.diagnostics if not d.message.startswith("the gradient"))
        if np.ndim(f_value) != 0:
            raise GradcliError(f"gradcli diff needs a scalar f, and this one has shape {np.shape(f_value)}",
                               hint="differentiate a scalar of it, such as sum(...) or mean(...)")
        shapes = {name: np.shape(values[name]) for name in graph.variables if name in values}
        arrays = [name for name in names if shapes.get(name, ())]
        if arrays and order > 1:
            raise GradcliError(f"an order-{order} derivative with respect to the array {arrays[0]} is not one "
                               "formula per variable", hint="gradcli hessian gives the matrix of second derivatives")
        if not any(shapes.values()):
            shapes = None
    from ..differentiation.derivative import derivative

    items = []
    for name in names:
        d = derivative(graph, name, order, scalars=shapes is None, shapes=shapes)
        items.append(Derivative(name, d, d.output))
    out = Derivatives(graph, order, items, f_value, has_values, warnings, values, scalars=shapes is None)
    if simplify:
        _simplify(out)
    if has_values:
        _evaluate(out, values)
    out.warnings = list(dict.fromkeys(out.warnings))
    return out


def _names(graph: Graph, names: list[str] | None, flag: str) -> list[str]:
    if names is None:
        return list(graph.required)
    if not names:
        raise GradcliError(f"{flag} needs at least one variable name", hint=f"write {flag} x,y")
    for name in names:
        if name not in graph.variables:
            known = ", ".join(graph.variables) or "none"
            raise GradcliError(f"{flag} {name}: not a variable of the expression",
                               hint=did_you_mean(name, list(graph.variables)) or f"its variables are: {known}")
    return list(dict.fromkeys(names))


def _simplify(out: Derivatives) -> None:
    """Each derivative through sympy.simplify, read back as gradcli source; kept unsimplified,
    with a warning, where SymPy takes too long or gives what gradcli cannot write."""
    from ..language.parser import parse
    from ..language.symbolic import Unwritable, simplify, to_source, to_sympy

    taken = out.taken()
    for item, label in zip(out.items, out.labels()):
        [expr] = to_sympy([item.root])
        simple = simplify(expr, SIMPLIFY_SECONDS)
        if simple is None:
            out.warnings.append(f"SymPy did not simplify {label} within {SIMPLIFY_SECONDS:g} s; "
                                "it is shown unsimplified")
            continue
        try:
            text = to_source(simple, taken=[n for n in taken if n not in ("pi", "e") or
                                            out.graph.variables[n].default is None])
        except Unwritable as exc:
            out.warnings.append(f"{label}: {exc.message}, so it is shown unsimplified")
            continue
        item.root = parse(text).output
        item.simplified = True


def _evaluate(out: Derivatives, values: dict) -> None:
    """Each derivative's value from its graph, and the printed formula read back to the same
    number (else a warning: the value shown is the graph's)."""
    from ..language.parser import parse

    for index, (item, label) in enumerate(zip(out.items, out.labels())):
        graph = item.graph
        used = {k: v for k, v in values.items() if k in graph.variables}
        result = graph.evaluate(used, trace=False)
        item.value = result.value
        # the run also takes the derivative's own gradient (one order higher), which is not shown:
        # its warnings would read as if the value shown were wrong
        out.warnings.extend(f"{label}: {d.message}" for d in result.diagnostics
                            if d.kind != "input" and not d.message.startswith("the gradient"))
        printed = parse(out.standalone(index).program())
        back = printed.evaluate({k: v for k, v in values.items() if k in printed.variables}, trace=False).value
        if not _close(back, item.value, 1e-6 if item.simplified else READBACK_RTOL):
            out.warnings.append(f"{label}: the formula as printed gives {_shown(back)} here, the derivative's "
                                f"graph {_shown(item.value)} (rounding in its rearranged form); "
                                "the graph's value is shown")


def _shown(value) -> str:
    """A number to its last digit, or an array's numbers (a warning's, not a view's: no render here)."""
    return repr(float(value)) if np.ndim(value) == 0 else np.array2string(np.asarray(value), precision=17)


def _close(a, b, rtol: float) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    with np.errstate(all="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b)))
    return bool(np.all(same))


def formula_text(source: str, wrt: str, order: int = 1) -> str:
    """gradcli.diff: the order-th derivative of `source` with respect to `wrt`, as a program."""
    from ..language.parser import parse

    if not isinstance(wrt, str):
        raise TypeError(f"wrt is a variable's name (a str), not {type(wrt).__name__}")
    out = derive(parse(source), [wrt], order, flag="wrt")
    return out.standalone(0).program()

