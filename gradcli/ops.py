"""The op registry: every gate's forward rule, local gradients and teaching facts, one entry each.

Local-gradient functions always take the same arguments, HIPS-autograd style: `ans` (the gate's
forward output) and the inputs `x` (and `y`). They return ∂ans/∂input, elementwise, in the
broadcast shape or as a Python float when it is a constant. The engine multiplies by the upstream
gradient and sums broadcast axes away; nothing here knows about upstream gradients.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

Local = Callable[..., object]


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    forward: Callable[..., object]
    locals: tuple[Local, ...]  # one per input: (ans, *inputs) -> ∂ans/∂input
    symbol: str  # how the gate is drawn: "+", "*", "exp"
    role: str  # one word of ROLES: what the gate does to the gradient flowing back
    formulas: tuple[str, ...]  # each local gradient as a formula in the inputs x (and y), for people
    uses_inputs: bool = False  # the local gradients read the inputs' forward values
    uses_output: bool = False  # the local gradients read the gate's own output
    callable: bool = True  # can be called by name in the language
    kink: Callable[..., object] | None = None  # (*inputs) -> true where the gate is not differentiable
    kink_rule: str = ""  # the convention used at a kink, for the warning
    ufunc: np.ufunc | None = None  # the same forward as a ufunc, to write into a dead buffer (out=)
    expansion: str = ""  # a built-in composite's body in primitive gates of x, for --expand
    body: object = None  # a user function's gradcli.composite.Function; formulas name its parameters


def _at_kink_unary(x):
    return np.any(x == 0)


def _at_tie(x, y):
    return np.any(x == y)


def _max_local(mine, other):
    return np.where(mine > other, 1.0, np.where(mine == other, 0.5, 0.0))


def _pow_local_exponent(ans, x, y):
    # d(x^y)/dy = x^y·ln x; where x^y is 0 the product is 0 (and ln 0 = -inf must not turn it into nan)
    safe = np.where(ans == 0, 1.0, x)
    return np.where(ans == 0, 0.0, ans * np.log(safe))


def _sigmoid(x):
    # exp(-log(1 + e^-x)) never overflows, unlike 1/(1 + exp(-x)) at x = -1000
    return np.exp(-np.logaddexp(0.0, -x))


# Arithmetic uses Python's operators: on NumPy scalars they are ten times faster than the
# ufuncs (np.add & co.), and on arrays they are the same ufuncs.
_OPS = [
    Op("add", 2, operator.add, (lambda ans, x, y: 1.0, lambda ans, x, y: 1.0),
       "+", "distributes", ("1", "1"), callable=False, ufunc=np.add),
    Op("sub", 2, operator.sub, (lambda ans, x, y: 1.0, lambda ans, x, y: -1.0),
       "-", "distributes", ("1", "-1"), callable=False, ufunc=np.subtract),
    Op("mul", 2, operator.mul, (lambda ans, x, y: y, lambda ans, x, y: x),
       "*", "swaps", ("y", "x"), uses_inputs=True, callable=False, ufunc=np.multiply),
    Op("div", 2, operator.truediv, (lambda ans, x, y: 1.0 / y, lambda ans, x, y: -(ans / y)),
       "/", "slope", ("1/y", "-x/y²"), uses_inputs=True, uses_output=True, callable=False, ufunc=np.divide),
    Op("neg", 1, operator.neg, (lambda ans, x: -1.0,),
       "-", "scales", ("-1",), callable=False, ufunc=np.negative),
    Op("pow", 2, operator.pow, (lambda ans, x, y: y * np.power(x, y - 1.0), _pow_local_exponent),
       "**", "slope", ("y·x^(y-1)", "x^y·ln x"), uses_inputs=True, uses_output=True, ufunc=np.power),
    Op("exp", 1, np.exp, (lambda ans, x: ans,),
       "exp", "slope", ("e^x",), uses_output=True, ufunc=np.exp),
    Op("log", 1, np.log, (lambda ans, x: 1.0 / x,),
       "log", "slope", ("1/x",), uses_inputs=True, ufunc=np.log),
    Op("sqrt", 1, np.sqrt, (lambda ans, x: 0.5 / ans,),
       "sqrt", "slope", ("1/(2√x)",), uses_output=True, ufunc=np.sqrt),
    Op("sin", 1, np.sin, (lambda ans, x: np.cos(x),),
       "sin", "slope", ("cos x",), uses_inputs=True, ufunc=np.sin),
    Op("cos", 1, np.cos, (lambda ans, x: -np.sin(x),),
       "cos", "slope", ("-sin x",), uses_inputs=True, ufunc=np.cos),
    Op("tan", 1, np.tan, (lambda ans, x: 1.0 + ans * ans,),
       "tan", "slope", ("1 + tan²x",), uses_output=True, ufunc=np.tan),
    Op("tanh", 1, np.tanh, (lambda ans, x: 1.0 - ans * ans,),
       "tanh", "slope", ("1 - tanh²x",), uses_output=True, ufunc=np.tanh),
    Op("sigmoid", 1, _sigmoid, (lambda ans, x: ans * (1.0 - ans),),
       "σ", "slope", ("(1-σ)σ",), uses_output=True,
       expansion="1/(1+exp(-x))"),
    Op("relu", 1, lambda x: np.maximum(x, 0.0), (lambda ans, x: np.where(x > 0, 1.0, 0.0),),
       "relu", "slope", ("1 if x > 0 else 0",), uses_inputs=True,
       kink=_at_kink_unary, kink_rule="relu'(0) = 0"),
    Op("abs", 1, np.abs, (lambda ans, x: np.sign(x),),
       "abs", "slope", ("sign x",), uses_inputs=True,
       kink=_at_kink_unary, kink_rule="abs'(0) = 0", ufunc=np.abs),
    Op("max", 2, np.maximum,
       (lambda ans, x, y: _max_local(x, y), lambda ans, x, y: _max_local(y, x)),
       "max", "routes", ("1 if x > y, ½ if x = y, else 0", "1 if y > x, ½ if x = y, else 0"),
       uses_inputs=True, kink=_at_tie, kink_rule="a tie splits the gradient equally", ufunc=np.maximum),
    Op("min", 2, np.minimum,
       (lambda ans, x, y: _max_local(y, x), lambda ans, x, y: _max_local(x, y)),
       "min", "routes", ("1 if x < y, ½ if x = y, else 0", "1 if y < x, ½ if x = y, else 0"),
       uses_inputs=True, kink=_at_tie, kink_rule="a tie splits the gradient equally", ufunc=np.minimum),
]

OPS: dict[str, Op] = {op.name: op for op in _OPS}

# The names a program can call: `exp(x)`, `max(a, b)`, `pow(x, 2)`.
FUNCTIONS: dict[str, Op] = {op.name: op for op in _OPS if op.callable}

# Named constants; a value given for the same name replaces the constant (see README).
CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e)}

# What each role word means: the lecture's patterns in the backward flow.
ROLES: dict[str, str] = {
    "distributes": "passes the upstream gradient to every input unchanged",
    "routes": "sends the upstream gradient to the input that won, 0 to the other",
    "swaps": "scales each input's gradient by the other input's value",
    "scales": "multiplies the upstream gradient by a constant factor",
    "slope": "multiplies the upstream gradient by the gate's local slope",
}


@dataclass(frozen=True)
class GateView:
    """How one gate reads for people: its symbol, role and local-gradient formulas, with the
    gate's constant inputs folded in (`1/x` rather than `1/y` with x = 1; `2*x` scales)."""

    symbol: str
    role: str
    formulas: tuple[str, ...]  # "" for a constant input folded into the symbol (the 1 of 1/x)

    def folded(self, index: int) -> bool:
        return self.formulas[index] == ""


_PLACEHOLDER = re.compile(r"(?<![A-Za-z0-9_])[xy](?![A-Za-z0-9_])")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHORT = 16  # a longer input is written as x or y in a formula


def number_text(value: float) -> str:
    return f"{value:g}"


def gate_view(op: Op, constants: tuple, labels: tuple) -> GateView:
    """`constants`: per input its value if it is a constant, else None; `labels`: per input how
    it is called. Formulas name an input by its label when that is short, else by x (and y)."""
    if op.body is not None:
        return GateView(op.symbol, op.role, op.formulas)
    const_x, const_y = (tuple(constants) + (None, None))[:2]
    if op.name == "div" and const_x is not None and const_y is None:
        c = "" if const_x == 1 else number_text(const_x)
        return GateView(f"{c or 1}/x", "slope", ("", f"-{c or 1}/x²"))
    if op.name == "pow" and const_y is not None and const_x is None:
        c = const_y
        slope = "2x" if c == 2 else f"{number_text(c)}·x^{number_text(c - 1)}"
        return GateView(f"x^{number_text(c)}", "slope", (slope, ""))
    role = op.role
    if role in ("swaps", "slope") and op.arity == 2 and (const_x is not None or const_y is not None):
        role = "scales"  # a constant factor (2*x, x/2)
    names = {}
    for letter, value, label in zip("xy", constants, labels):
        if value is not None:
            names[letter] = number_text(value)
        elif label is not None and _IDENTIFIER.fullmatch(label):
            names[letter] = label
        elif op.arity == 2 and label is not None and len(label) <= _SHORT:
            names[letter] = f"({label})"
    formulas = tuple(_PLACEHOLDER.sub(lambda m: names.get(m.group(0), m.group(0)), f) for f in op.formulas)
    return GateView(op.symbol, role, formulas)
