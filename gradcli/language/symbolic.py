"""A bridge between gradcli graphs and SymPy expressions: `gradcli diff --simplify`, and an oracle
for the tests.

SymPy is an optional extra (`pip install "gradcli[symbolic]"`); `require_sympy()` imports it or
raises a GradcliError that says how to install it. Nothing else here imports SymPy at import time.

- `to_sympy(nodes)`: graph nodes → SymPy expressions, each op by its mathematical definition
  (sigmoid is 1/(1 + e^-x), relu is Max(x, 0), softplus is log(1 + e^x), clip is
  Min(Max(x, lo), hi), step is Heaviside(x, 0)); variables are real Symbols. Scalar formulas
  only: a reduction or a matrix product has no counterpart here. Built with a loop, not recursion.
- `to_source(expr)`: a SymPy expression → gradcli source that gradcli.parse reads back (Abs is
  abs, Max(x, 0) is relu(x), Heaviside(x) is (sign(x) + 1)/2, sec(x) is 1/cos(x), …). What
  gradcli cannot write (Piecewise, complex numbers, special functions it lacks) raises
  `Unwritable`.
- `simplify(expr, seconds)`: sympy.simplify within a time limit, or None.
"""

from __future__ import annotations

import math
import threading
from typing import Iterable, Sequence

from ..base.errors import GradcliError
from ..core.graph import Graph, Node
from ..differentiation.derivative import topological

INSTALL = 'pip install "gradcli[symbolic]"'


def require_sympy(what: str = "this"):
    """The sympy module, or a GradcliError (one line) saying how to install it."""
    try:
        import sympy
    except ImportError:
        raise GradcliError(f"{what} needs SymPy, which is not installed: {INSTALL}") from None
    return sympy


class Unwritable(GradcliError):
    """A SymPy expression uses something gradcli's language has no way to write."""


def _table(sp):
    """op name → a function of the inputs' SymPy expressions (and the gate's params)."""
    def sigmoid(x):
        return 1 / (1 + sp.exp(-x))

    return {
        "add": lambda x, y: x + y,
        "sub": lambda x, y: x - y,
        "mul": lambda x, y: x * y,
        "div": lambda x, y: x / y,
        "neg": lambda x: -x,
        "pow": sp.Pow,
        "exp": sp.exp,
        "log": sp.log,
        "sqrt": sp.sqrt,
        "sin": sp.sin,
        "cos": sp.cos,
        "tan": sp.tan,
        "tanh": sp.tanh,
        "sinh": sp.sinh,
        "cosh": sp.cosh,
        "asin": sp.asin,
        "acos": sp.acos,
        "atan": sp.atan,
        "atan2": sp.atan2,
        "hypot": lambda x, y: sp.sqrt(x**2 + y**2),
        "log1p": lambda x: sp.log(1 + x),
        "expm1": lambda x: sp.exp(x) - 1,
        "log2": lambda x: sp.log(x) / sp.log(2),
        "log10": lambda x: sp.log(x) / sp.log(10),
        "sigmoid": sigmoid,
        "softplus": lambda x: sp.log(1 + sp.exp(x)),
        "relu": lambda x: sp.Max(x, 0),
        "abs": sp.Abs,
        "sign": sp.sign,
        "max": sp.Max,
        "min": sp.Min,
        "clip": lambda x, lo, hi: sp.Min(sp.Max(x, lo), hi),
        "xlogy": lambda x, y: x * sp.log(y),
        "erf": sp.erf,
        "step": lambda x: sp.Heaviside(x, 0),  # step(0) = 0: relu's slope at its kink
        "equal": lambda x, y: sp.Piecewise((1, sp.Eq(x, y)), (0, True)),
        # a derivative graph's plumbing, which scalars pass through unchanged
        "diff": lambda d, f: d,
        "expand_as": lambda a, b: a,
        "sum_as": lambda a, b: a,
        "size": lambda x: sp.Integer(1),
    }


def supported() -> frozenset[str]:
    """The op names `to_sympy` knows (SymPy must be installed)."""
    return frozenset(_table(require_sympy("a symbolic formula")))


def to_sympy(roots: Sequence[Node] | Graph, *, exact: bool = False, symbols: dict | None = None) -> list:
    """Each root node as a SymPy expression. Constants are exact rationals: the float's binary
    value with `exact`, else the decimal it is written as (0.1 is 1/10). The named constants pi
    and e, when no value replaced them, are SymPy's pi and E. `symbols`: name → Symbol to use
    (real Symbols are made for the others). GradcliError for an op SymPy has no counterpart for
    (a reduction over an array)."""
    sp = require_sympy("a symbolic formula")
    if isinstance(roots, Graph):
        roots = [roots.output]
    table = _table(sp)
    symbols = {} if symbols is None else symbols
    done: dict[int, object] = {}
    for node in topological(roots):
        if node.kind == "var":
            if node.default is not None and node.name in ("pi", "e"):
                value = sp.pi if node.name == "pi" else sp.E
            else:
                value = symbols.get(node.name)
                if value is None:
                    value = symbols[node.name] = sp.Symbol(node.name, real=True)
        elif node.kind == "const":
            value = _number(sp, float(node.default), exact)
        else:
            make = table.get(node.op.name)
            if make is None or node.params:
                raise GradcliError(f"{node.op.call_name}: no symbolic form (SymPy works on scalar formulas)",
                                   span=node.span)
            value = make(*(done[id(i)] for i in node.inputs))
        done[id(node)] = value
    return [done[id(root)] for root in roots]


def _number(sp, value: float, exact: bool):
    if math.isnan(value):
        return sp.nan
    if math.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    return sp.Rational(value) if exact else sp.Rational(repr(value))


def _printer_class(sp):
    from sympy.printing.str import StrPrinter

    class GradcliPrinter(StrPrinter):
        """SymPy's Python-like text, which is gradcli's syntax but for some names."""

        def __init__(self, taken: Iterable[str]) -> None:
            super().__init__({"full_prec": False})
            self.taken = set(taken)

        def emptyPrinter(self, expr):
            raise Unwritable(f"gradcli has no way to write {type(expr).__name__}")

        def _call(self, name: str, *args) -> str:
            return f"{name}({', '.join(self._print(a) for a in args)})"

        def _print_Symbol(self, expr):
            return expr.name

        def _print_Integer(self, expr):
            return str(expr.p)

        def _print_Rational(self, expr):
            return f"{expr.p}/{expr.q}"

        def _print_Float(self, expr):
            return repr(float(expr))

        def _print_Exp1(self, expr):
            return "e" if "e" not in self.taken else "exp(1)"

        def _print_Pi(self, expr):
            return "pi" if "pi" not in self.taken else repr(math.pi)

        def _print_Infinity(self, expr):
            return "1e999"

        def _print_NegativeInfinity(self, expr):
            return "(-1e999)"

        def _print_Abs(self, expr):
            return self._call("abs", *expr.args)

        def _print_Max(self, expr):
            return self._extreme("max", expr.args)

        def _print_Min(self, expr):
            return self._extreme("min", expr.args)

        def _extreme(self, name, args):
            args = list(args)
            if name == "max" and len(args) == 2 and 0 in args:
                return self._call("relu", args[1] if args[0] == 0 else args[0])
            text = self._print(args[-1])
            for arg in reversed(args[:-1]):
                text = f"{name}({self._print(arg)}, {text})"
            return text

        def _print_Heaviside(self, expr):
            x = self._print(expr.args[0])
            at_zero = expr.args[1] if len(expr.args) > 1 else sp.Rational(1, 2)
            if at_zero == 0:
                return f"step({x})"
            if at_zero == 1:
                return f"(1 - step(-({x})))"
            if at_zero == sp.Rational(1, 2):
                return f"((sign({x}) + 1)/2)"
            raise Unwritable(f"gradcli has no step with the value {at_zero} at 0")

        def _print_sec(self, expr):
            return f"(1/cos({self._print(expr.args[0])}))"

        def _print_csc(self, expr):
            return f"(1/sin({self._print(expr.args[0])}))"

        def _print_cot(self, expr):
            return f"(1/tan({self._print(expr.args[0])}))"

        def _print_sech(self, expr):
            return f"(1/cosh({self._print(expr.args[0])}))"

        def _print_csch(self, expr):
            return f"(1/sinh({self._print(expr.args[0])}))"

        def _print_coth(self, expr):
            return f"(1/tanh({self._print(expr.args[0])}))"

        def _print_asinh(self, expr):
            x = self._print(expr.args[0])
            return f"log({x} + sqrt(({x})**2 + 1))"

        def _print_atanh(self, expr):
            x = self._print(expr.args[0])
            return f"(log((1 + {x})/(1 - ({x})))/2)"

        def _print_Function(self, expr):
            from ..core.ops import OVERLOADS

            name = type(expr).__name__
            if name in OVERLOADS and len(expr.args) in OVERLOADS[name]:
                return self._call(name, *expr.args)  # exp, log, sin, erf, atan2, sign, ...
            if name in _SPELLED_OUT and len(expr.args) == 1:
                return _SPELLED_OUT[name].format(self._print(expr.args[0]))
            raise Unwritable(f"gradcli has no function {name}")

        def _print_ImaginaryUnit(self, expr):
            raise Unwritable("the formula is complex (it has the imaginary unit i)")

        def _print_Piecewise(self, expr):
            # 1 where a = b, else 0: gradcli's equal(a, b), what to_sympy made of it
            pieces = expr.args
            if len(pieces) == 2 and pieces[0][0] == 1 and pieces[1] == (0, True) \
                    and isinstance(pieces[0][1], sp.Eq):
                a, b = pieces[0][1].args
                return self._call("equal", a, b)
            raise Unwritable("gradcli has no way to write a piecewise formula")

        def _print_NaN(self, expr):
            return "(0/0)"

        def _print_ComplexInfinity(self, expr):
            raise Unwritable("the formula has a complex infinity (zoo)")

    return GradcliPrinter


# Functions written with others where gradcli lacks them.
# (Each is in parentheses: SymPy's printer takes a function call for an atom.)
_SPELLED_OUT = {"cosh": "((exp({0}) + exp(-({0})))/2)", "sinh": "((exp({0}) - exp(-({0})))/2)"}


def to_source(expr, *, taken: Iterable[str] = ()) -> str:
    """A SymPy expression as gradcli source (Unwritable if gradcli cannot say it). `taken`:
    variable names, which the constants pi and e must not be written as."""
    sp = require_sympy("a symbolic formula")
    return _printer_class(sp)(taken).doprint(expr)


class _Timeout(BaseException):
    pass


def simplify(expr, seconds: float | None = 10.0):
    """sympy.simplify(expr), or None if it takes longer than `seconds` (measured with SIGALRM,
    so only in the main thread of a process that has it; elsewhere there is no limit)."""
    sp = require_sympy("--simplify")
    import signal

    timed = seconds is not None and hasattr(signal, "setitimer") and \
        threading.current_thread() is threading.main_thread()
    if not timed:
        return sp.simplify(expr)

    def stop(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return sp.simplify(expr)
    except _Timeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
