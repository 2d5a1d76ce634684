"""The op registry: every gate's forward rule, local gradients and teaching facts, one entry each.

Local-gradient functions always take the same arguments, HIPS-autograd style: `ans` (the gate's
forward output) and the inputs `x` (and `y`, and `z` for clip). They return ∂ans/∂input,
elementwise, in the broadcast shape or as a Python float when it is a constant. The engine
multiplies by the upstream gradient and sums broadcast axes away; nothing here knows about
upstream gradients.

Ops that are not elementwise (reductions, matrix products, the transpose) have no elementwise local
gradient: they give a vector-Jacobian product instead, `vjp(g, ans, *inputs, index=i, **params)`,
which maps the upstream gradient `g` (in the output's shape) to the gradient of input i (in that
input's shape). The engine calls it in place of local × upstream; the trace's "local" column then
shows the op's formula (a description of the Jacobian), since the Jacobian itself is not a
number of the gate's shape. `params` are keyword arguments fixed when the gate is written,
such as `axis` in `sum(X, axis=0)`.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

Local = Callable[..., object]


class Scalar(NamedTuple):
    """An elementwise op on Python floats: `forward(*inputs)` and one local gradient per input,
    `(ans, *inputs) -> float`, or a float where the local gradient is that constant.

    Same formulas as the op's NumPy forward and locals, with the same results to the last bit:
    arithmetic and comparisons are IEEE in Python as in NumPy (and sqrt is correctly rounded), and
    every other function is the op's own NumPy ufunc called on a float (`float(np.exp(x))`),
    since NumPy's exp, log, tanh… can differ from `math`'s in the last bit. One exception: pow's
    forward is math.pow, which is libm's pow like `**` on NumPy scalars (a gate's output), while
    `**` on a variable's 0-d array is NumPy's power ufunc, which may differ in the last bit (the
    tests compare to 1e-12 relative; on random graphs the paths agree to the bit).

    The scalar engine runs under np.errstate(all="raise", under="ignore"): an error (log of a
    negative, 1/0, overflow) raises, and the evaluation is then run again in NumPy, which reports it.
    """

    forward: Callable[..., float]
    locals: tuple[Local | float, ...]


class InPlace(NamedTuple):
    """An elementwise op's local gradients for the untraced engine (trace=False), computed
    without a fresh array per step: the same formulas as `locals`, rearranged to read the
    output where they can and to take their scalar part out as a factor the engine carries.

    `local(index, out, ans, *inputs)` returns (local, factor), local × factor being
    ∂ans/∂input, or None for the op's own formula; it reads only what `Op.reads` names.
    `out()` gives an array of the gate's shape to write into, which may be one of the values
    the function reads, so a function reads them before it writes — unless `reads_after_write`,
    and then `out()` is never one of them. tests/test_ops.py checks them against `locals`.
    """

    local: Callable[..., object]
    reads_after_write: bool = False
    # `divisor(index, out, ans, *inputs)` -> (d, factor), the local being factor / d, or None:
    # the engine then divides an upstream array by d, a pass fewer than the local times it
    divisor: Callable[..., object] | None = None
    # `times(index, t, ans, *inputs)` -> factor, or None: t (an array of the gate's shape the
    # caller may overwrite) multiplied in place by the local / factor, no array of its own
    # (forward mode's tangent); the same formula as `local` (tests/test_forward.py checks it)
    times: Callable[..., object] | None = None


@dataclass(frozen=True)
class Op:
    # (a docstring spares dataclass writing one from inspect.signature at every start-up)
    """One kind of gate: its forward, local gradients, rule and how it reads for people."""

    name: str
    arity: int
    forward: Callable[..., object]
    locals: tuple[Local, ...]  # one per input: (ans, *inputs) -> ∂ans/∂input
    symbol: str  # how the gate is drawn: "+", "*", "exp"
    role: str  # one word of ROLES: what the gate does to the gradient flowing back
    # each local gradient as people read it, where no rule says it (a VJP described in words, a
    # function you define); () for the others: `formulas` derives theirs from the rule
    written: tuple[str, ...]
    uses_inputs: bool = False  # the local gradients read the inputs' forward values
    uses_output: bool = False  # the local gradients read the gate's own output
    callable: bool = True  # can be called by name in the language
    # (*inputs) -> signed offset from the kink, elementwise: 0 at it, its sign tells the side.
    # A sign that changes between two evaluations means the kink lies between them.
    kink_offset: Callable[..., object] | None = None
    # (*inputs, **params) -> whether the gate sits on a kink, for gates whose kink is not an
    # elementwise offset (a tie inside a max reduction, the norm at 0)
    kink: Callable[..., object] | None = None
    kink_rule: str = ""  # the convention used at a kink, for the warning
    ufunc: np.ufunc | None = None  # the same forward as a ufunc, to write into a dead buffer (out=)
    expansion: str = ""  # a built-in composite's body in primitive gates of x, for --expand
    body: object = None  # a user function's gradcli.language.composite.Function; formulas name its parameters
    vjp: Callable[..., object] | None = None  # (g, ans, *inputs, index, **params) -> input's gradient
    params: tuple[str, ...] = ()  # keyword arguments the language accepts: ("axis",)
    needs_elements: bool = False  # a reduction with no value over zero elements (no identity)
    call: str = ""  # the name the language calls it by, when not `name` (one-argument max is "amax")
    # The same forward and local gradients on Python floats, for big scalar graphs
    # (gradcli.evaluation.scalar_engine); None: the op always runs in NumPy. See `Scalar`.
    scalar: Scalar | None = None
    in_place: InPlace | None = None  # local gradients written into dead arrays (see `InPlace`)
    # Per input, the forward values its gradient reads: input positions and "ans" (the output),
    # so that the untraced engine frees the others early. None: every input if uses_inputs,
    # and the output if uses_output.
    reads: tuple[tuple, ...] | None = None
    # The derivative, written once in gradcli's own syntax (see gradcli.differentiation.derivative): for an
    # elementwise op, per input the local gradient ∂ans/∂input in the inputs x, y, z; for an op
    # with a vjp, per input the VJP in the cotangent g and the inputs, its calls receiving the
    # gate's params. None: the output does not depend on that input. Everything else that states
    # this mathematics (`locals`, `scalar`, `in_place`, `vjp`) is a kernel for speed or for the
    # edges of float64, held to the rule by tests/test_rules.py.
    rule: tuple[str | None, ...] = ()
    # the inputs' names for people (signatures, help, arity errors) where x, y, z would mislead:
    # atan2(y, x); the rule and formulas keep x, y, z for the first, second and third input
    arg_names: tuple[str, ...] = ()
    domain: str = ""  # where the inputs must lie for a real value, for people ("x > 0"); "" everywhere

    @functools.cached_property
    def formulas(self) -> tuple[str, ...]:
        """Each local gradient as a formula for people: an elementwise op's rule as `display`
        spells it (made when first read, not at start-up), else what the entry wrote."""
        if self.written or not self.rule or self.vjp is not None:
            return self.written
        return tuple("0" if r is None else display(r) for r in self.rule)

    @property
    def elementwise(self) -> bool:
        """Whether each output element depends on the same-index input elements only."""
        return self.vjp is None

    @property
    def call_name(self) -> str:
        return self.call or self.name

    def at_kink(self, *inputs, **params) -> bool:
        """Whether the gate sits exactly at a kink (any element)."""
        if self.kink is not None:
            return bool(self.kink(*inputs, **params))
        return self.kink_offset is not None and bool(np.any(self.kink_offset(*inputs) == 0))


_SPELLED = {"cos": "cos", "sin": "sin", "tan": "tan", "cosh": "cosh", "sinh": "sinh", "tanh": "tanh",
            "sign": "sign", "log": "ln", "atan": "atan", "asin": "asin", "acos": "acos"}
_SIMPLE = r"([A-Za-z0-9_.]+)"
_APPLIED = "|".join(_SPELLED)


def display(rule: str) -> str:
    """A rule (gradcli syntax) as the tables and --steps show it: `cos(x)` reads `cos x`,
    `tan(x)**2` reads `tan²x`, `log(x)` reads `ln x`, `exp(x)` reads `e^x`, `sqrt(x)` reads `√x`,
    `sigmoid` reads `σ`, `**2` reads `²`, `**` reads `^` and `*` reads `·`. Only the spelling
    changes: the rule stays the one statement of the derivative."""
    text = re.sub(rf"\b({_APPLIED})\({_SIMPLE}\)\*\*2\b", lambda m: f"{_SPELLED[m[1]]}²{m[2]}", rule)
    text = re.sub(rf"\b({_APPLIED})\({_SIMPLE}\)", lambda m: f"{_SPELLED[m[1]]} {m[2]}", text)
    text = re.sub(rf"\bexp\({_SIMPLE}\)", r"e^\1", text)
    text = re.sub(rf"\bsqrt\({_SIMPLE}\)", r"√\1", text)
    text = re.sub(r"\bsigmoid\(", "σ(", text)
    text = text.replace("**2", "²").replace("**3", "³").replace("**", "^")
    return re.sub(r"\s*\*\s*", "·", text)


def _offset_from_0(x):
    return x


def _offset_from_tie(x, y):
    return x - y


def _max_local(mine, other):
    # unordered (a nan on either side): no input is known to win, so the gradient is nan, not 0
    return np.where(mine > other, 1.0, np.where(mine == other, 0.5, np.where(mine < other, 0.0, np.nan)))


def _any_subnormal(value) -> bool:
    return bool(np.any(np.abs(value) < _TINY)) and bool(np.any((value != 0) & (np.abs(value) < _TINY)))


def _div_local_divisor(ans, x, y):
    # -x/y² = -(x/y)/y, from the output; where x/y is subnormal it kept only some of its bits,
    # while x/y² may be normal: from x scaled by 2^64 instead, -((x·2^64/y)/y)·2^-64
    local = -(ans / y)
    redo = (np.abs(ans) < _TINY) & (ans != 0)
    if np.any(redo):
        local = np.where(redo, -np.ldexp(np.ldexp(x, 64) / y / y, -64), local)
    return local


def _div_local_divisor_scalar(ans, x, y):
    if ans != 0.0 and abs(ans) < _TINY:
        return -math.ldexp(math.ldexp(x, 64) / y / y, -64)
    return -(ans / y)


def _relu_local(ans, x):
    return np.where(x > 0, 1.0, np.where(x <= 0, 0.0, np.nan))  # nan in, nan out


_TINY = float(np.finfo(np.float64).tiny)  # the smallest normal float64
_HUGE = float(np.finfo(np.float64).max)


def _not_normal(value):
    """Where |value| fell out of the normal range (0, subnormal or inf), but is not nan."""
    size = np.abs(value)
    return (size < _TINY) | (size > _HUGE)


def _less_one(y):
    """(y - 1 rounded, what the rounding dropped), the second exact (Knuth's TwoSum): y - 1 is
    inexact for y in (-0.5, 0.5) or beyond 2^53, and x^(y-1) would carry that error times ln x."""
    s = y - 1.0
    back = s - y
    return s, (y - (s - back)) + (-1.0 - back)


def _pow_local_base(ans, x, y):
    # y·x^(y-1). Where x^(y-1) over- or underflowed but y·x^(y-1) need not (y tiny and x tiny, or
    # y huge), the power is taken in halves: (y·|x|^((y-1)/2))·|x|^((y-1)/2), its sign from x^(y-1).
    # Where y - 1 was rounded, x^dropped = 1 + dropped·ln|x| puts back what the rounding took.
    less, dropped = _less_one(y)
    power = np.power(x, less)
    local = y * power
    redo = _not_normal(power) & (x != 0) & np.isfinite(x) & np.isfinite(y)
    if np.any(redo):
        half = np.power(np.abs(x), less * 0.5)
        local = np.where(redo, np.copysign(1.0, power) * ((y * half) * half), local)
    fix = (dropped != 0) & (x != 0) & np.isfinite(x) & np.isfinite(local)
    if np.any(fix):
        local = np.where(fix, local + local * (dropped * np.log(np.abs(x))), local)
    # x^0 = 1 for every x (0^0 too): the slope is 0, not 0·x^-1 = 0·inf = nan at x = 0
    return np.where(y == 0, np.where(np.isnan(x), np.nan, 0.0), local)


def _pow_local_exponent(ans, x, y):
    # x^y·ln x. At x = 0: 0^y is 0 for every y > 0, so 0 there (not 0·(-inf) = nan); at y <= 0
    # it is -inf (0^0 = 1 drops to 0 for any y > 0; ln x -> -inf as x -> 0+). Where x^y over- or
    # underflowed but x^y·ln x need not, the power is taken in halves: (x^(y/2)·ln x)·x^(y/2).
    log = np.log(x)
    local = ans * log
    redo = _not_normal(ans) & (x > 0) & (x != 1) & np.isfinite(x) & np.isfinite(y)
    if np.any(redo):
        half = np.power(x, y * 0.5)
        local = np.where(redo, (half * log) * half, local)
    local = np.where(x == 0, np.where(y > 0, 0.0, -np.inf), local)
    return np.where(np.isnan(y), np.nan, local)  # 1^nan = 1, yet its slope in a nan y is nan


def _sigmoid(x):
    # with e = e^-|x|: 1/(1 + e) for x >= 0, e/(1 + e) below: never overflows (x = -1000) and
    # keeps its relative precision in the negative tail (within 2 ulps)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sech2(x, half: bool = False):
    """1/cosh²(x) as (1/cosh x)², or with `half` σ'(x) = 1/(4cosh²(x/2)) as (½/cosh(x/2))²: within
    3 ulps everywhere, in both tails too, where 1 - tanh² and σ(1 - σ) cancel to 0 (|x| > 19,
    x > 37). Squaring the reciprocal, not the cosh, and taking the ½ inside the square keep it
    finite until the result itself underflows (σ'(-745) = 5e-324)."""
    with np.errstate(over="ignore"):  # cosh(x) = inf past |x| = 710: 1/inf = 0 is the answer
        r = np.divide(0.5, np.cosh(np.multiply(x, 0.5))) if half else np.reciprocal(np.cosh(x))
    return r * r


def _sigmoid_local(ans, x):
    return _sech2(x, half=True)  # σ'(x) = σ(x)σ(-x) = 1/(4cosh²(x/2))


def _tanh_local(ans, x):
    return _sech2(x)


def _zero_slope(*inputs):
    """The slope of a step: 0, nan where an input is nan (in the broadcast shape)."""
    total = sum(np.multiply(i, 0.0) for i in inputs)
    return total if np.shape(total) else float(total)


def _step(x):
    return np.where(x > 0, 1.0, np.where(x <= 0, 0.0, np.nan))[()]


def _equal(x, y):
    return np.where(np.equal(x, y), 1.0, 0.0)[()]


# -- ops that are not elementwise: each has a vector-Jacobian product ----------------------------

def _spread(g, x, axis):
    """The upstream gradient of a reduction spread back over the reduced input's shape (a view)."""
    if axis is not None:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x))


def _sum_vjp(g, ans, x, *, index, axis=None):
    return np.array(_spread(g, x, axis), dtype=np.float64)


def _rescaled(reduce, x, axis=None, keepdims=False):
    """reduce(x) (a sum or a mean); where a partial sum overflowed though the result need not,
    again on x·2^-k (2^k >= n, so no partial sum can overflow), scaled back by 2^k: scaling by a
    power of two is exact, so the mean of [1e308, 1e308] is 1e308 and the sum of [1e308, 1e308,
    -1e308] is 1e308, both to rounding."""
    total = reduce(x, axis=axis, keepdims=keepdims)
    if np.all(np.isfinite(total)):
        return total
    count = np.size(x) // max(np.size(total), 1)
    k = max(int(count - 1).bit_length(), 1)
    rescaled = np.ldexp(reduce(np.ldexp(x, -k), axis=axis, keepdims=keepdims), k)
    return np.where(np.isfinite(total), total, rescaled)[()]


def safe_sum(x, axis=None, keepdims=False):
    """np.sum, right also where a partial sum overflowed though the total need not (the engine
    sums gradients over broadcast axes with it)."""
    return _rescaled(np.sum, x, axis, keepdims)


def safe_dot(a, b):
    """np.dot of two vectors, right also where a product or partial sum overflowed though the
    result need not (see _product)."""
    return _product(a, b, np.dot)


def _sum(x, axis=None):
    return _rescaled(np.sum, x, axis)


def _mean(x, axis=None):
    return _rescaled(np.mean, x, axis)


def _mean_vjp(g, ans, x, *, index, axis=None):
    count = np.size(x) if axis is None else np.shape(x)[axis]
    return _spread(g, x, axis) / count


def _squeeze(value, axis):
    """A reduction's result computed with keepdims=True, in the shape without them."""
    return np.squeeze(value, axis=axis)[()]


def _shifted_exp(x, axis):
    """e^(x - m), m the max along axis (kept dims): log Σ e^x = m + log Σ e^(x - m) without
    overflow. An infinite max gives its elements 1 and the others 0, as the limit does."""
    x = np.asarray(x)
    peak = np.max(x, axis=axis, keepdims=True)
    finite = np.isfinite(peak)
    shifted = np.where(finite, x - np.where(finite, peak, 0.0), np.where(x == peak, 0.0, -np.inf))
    return np.exp(shifted), peak


def _logsumexp(x, axis=None):
    terms, peak = _shifted_exp(x, axis)
    return _squeeze(np.log(np.sum(terms, axis=axis, keepdims=True)) + peak, axis)


def _logsumexp_vjp(g, ans, x, *, index, axis=None):
    # ∂/∂x_i log Σ e^x = softmax(x)_i = e^(x_i - m)/Σ e^(x - m); e^(x_i - logsumexp) would lose
    # what rounding took from logsumexp (at [1e17, 1e17] it gives 1, not ½)
    terms, _ = _shifted_exp(x, axis)
    return _spread(g, x, axis) * (terms / np.sum(terms, axis=axis, keepdims=True))


def _extreme_vjp(g, ans, x, *, index, axis=None):
    # the gradient goes to the element(s) holding the max (min); a tie splits it equally
    hit = np.asarray(x) == _spread(ans, x, axis)
    count = np.sum(hit, axis=axis, keepdims=axis is not None)
    return _spread(g, x, axis) * hit / count


def _weights(x, axis=None, *, pick=np.max):
    """1/k at each of the k elements holding the max (min) of x, along axis, 0 elsewhere: the
    share of the upstream gradient each gets (a tie splits it equally)."""
    x = np.asarray(x, dtype=np.float64)
    hit = x == _spread(pick(x, axis=axis), x, axis)
    return (hit / np.sum(hit, axis=axis, keepdims=axis is not None))[()]


def _weights_vjp(g, ans, x, *, index, axis=None):
    return np.zeros(np.shape(x))


def _extreme_tie(x, axis=None, *, pick=np.max):
    hits = np.sum(np.asarray(x) == _spread(pick(x, axis=axis), x, axis), axis=axis)
    return np.any(hits > 1)


def _scaled(x, axis):
    """x·2^-k, k per slice along axis (kept dims) so that the slice's largest |element| lies in
    [½, 1): squares neither overflow nor underflow, and the scaling itself is exact (as hypot)."""
    peak = np.max(np.abs(x), axis=axis, keepdims=True, initial=0.0)
    _, exponent = np.frexp(np.where(np.isfinite(peak), peak, 1.0))
    return np.ldexp(x, -exponent), exponent


def _scaled_norm(x, axis):
    """(x scaled, the norm of that, its exponent, where a slice holds ±inf and no nan)."""
    scaled, exponent = _scaled(x, axis)
    infinite = np.isinf(scaled)
    endless = False
    if np.any(infinite):
        # ‖x‖ is inf, and x/‖x‖ tends to ±1/√k on the k infinite elements, 0 on the others
        endless = (np.any(infinite, axis=axis, keepdims=True)
                   & ~np.any(np.isnan(scaled), axis=axis, keepdims=True))
        scaled = np.where(endless, np.where(infinite, np.copysign(1.0, scaled), 0.0), scaled)
    return scaled, np.sqrt(np.sum(np.square(scaled), axis=axis, keepdims=True)), exponent, endless


def _norm(x, axis=None):
    _, root, exponent, endless = _scaled_norm(x, axis)
    return _squeeze(np.where(endless, np.inf, np.ldexp(root, exponent)), axis)


def _norm_vjp(g, ans, x, *, index, axis=None):
    # x/‖x‖ from the scaled x: right at 1e-200 and 1e200 alike; 0 only at the zero vector
    scaled, root, _, _ = _scaled_norm(x, axis)
    zero = root == 0
    return np.where(zero, 0.0, _spread(g, x, axis) * (scaled / np.where(zero, 1.0, root)))


def _norm_zero(x, axis=None):
    return np.any(np.all(np.asarray(x) == 0, axis=axis))  # exactly the zero vector, not an underflow


def _check_product(name, a, b):
    sa, sb = np.shape(a), np.shape(b)
    if not (1 <= len(sa) <= 2 and 1 <= len(sb) <= 2):
        raise ValueError(f"{name} needs vectors or matrices (1 or 2 dimensions), got shapes {sa} and {sb}")
    inner_a, inner_b = sa[-1], sb[0]
    if inner_a != inner_b:
        raise ValueError(f"{name}: shapes {sa} and {sb} do not align ({inner_a} ≠ {inner_b})")


def _product(a, b, multiply=np.matmul):
    """a @ b (vectors and matrices). Where a product or partial sum overflowed though the inputs
    are finite, again with each row of a and column of b scaled by a power of two (exact), then
    scaled back: [1e300, 1e300]·[2e8, -1.5e8] is 5e307, not inf. (The usual error bound, ulps of
    Σ|aᵢbᵢ|, still holds: a cancellation of overflowing products can leave only that error.)"""
    out = multiply(a, b)
    if np.all(np.isfinite(out)) or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return out
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    sa, ea = _scaled(a2, 1)
    sb, eb = _scaled(b2, 0)
    return np.ldexp(np.matmul(sa, sb), ea + eb).reshape(out.shape)


def _matmul(a, b):
    _check_product("@", a, b)
    return _product(a, b)


def _dot(a, b):
    _check_product("dot", a, b)
    return _product(a, b, np.dot)


def _product_vjp(g, ans, a, b, *, index):
    # work with matrices: a vector a is a row (1, k), a vector b a column (k, 1)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
    if index == 0:
        return _product(g2, b2.T).reshape(a.shape)
    return _product(a2.T, g2).reshape(b.shape)


def _transpose_vjp(g, ans, x, *, index):
    return np.transpose(g)


# -- the ops derivative graphs are made of (gradcli.differentiation.derivative): a cotangent spread over an
#    input's shape and summed back to it, a reduction's count, a product's two VJPs ---------------

def _expand_as(a, b, axis=None):
    """a broadcast to b's shape (a copy), a's reduced `axis` put back first: a reduction's
    cotangent spread over its input."""
    shape = np.shape(b)
    a = np.asarray(a, dtype=np.float64)
    if axis is not None and a.ndim < len(shape):
        a = np.expand_dims(a, axis)
    return np.array(np.broadcast_to(a, shape))[()]


def _sum_as(a, b, axis=None):
    """a summed down to b's shape: over `axis` if given, else over the axes broadcasting added or
    stretched (the cotangent of an input that was broadcast)."""
    shape = np.shape(b)
    a = np.asarray(a, dtype=np.float64)
    if axis is not None:
        return np.asarray(_rescaled(np.sum, a, axis), dtype=np.float64)[()]
    if a.shape == shape:
        return a.copy()[()]
    extra = a.ndim - len(shape)
    if extra < 0 or any(n != m and m != 1 for n, m in zip(a.shape[extra:], shape)):
        raise ValueError(f"cannot sum shape {a.shape} down to shape {shape}")
    if extra > 0:
        a = np.asarray(safe_sum(a, axis=tuple(range(extra))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and a.shape[i] != 1)
    if stretched:
        a = np.asarray(safe_sum(a, axis=stretched, keepdims=True))
    return np.array(np.broadcast_to(a, shape))[()]


def _expand_as_vjp(g, ans, a, b, *, index, axis=None):
    return _sum_as(g, a, axis) if index == 0 else np.zeros(np.shape(b))


def _sum_as_vjp(g, ans, a, b, *, index, axis=None):
    return _expand_as(g, a, axis) if index == 0 else np.zeros(np.shape(b))


def _size(x, axis=None):
    shape = np.shape(x)
    return np.float64(np.prod(shape) if axis is None else shape[axis])


def _size_vjp(g, ans, x, *, index, axis=None):
    return np.zeros(np.shape(x))


def _matmul_vjp_a(g, a, b):
    return _product_vjp(g, None, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), index=0)


def _matmul_vjp_b(g, a, b):
    return _product_vjp(g, None, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), index=1)


def _matmul_vjp_a_vjp(h, ans, g, a, b, *, index):
    # g·bᵀ is linear in g and in b: its VJP to g is h·b, to b is hᵀ·g, a product's other VJP
    if index == 0:
        return _product(np.asarray(h), np.asarray(b, dtype=np.float64))
    if index == 1:
        return np.zeros(np.shape(a))
    return _matmul_vjp_b(g, h, b)


def _matmul_vjp_b_vjp(h, ans, g, a, b, *, index):
    # aᵀ·g: its VJP to g is a·h, to a is g·hᵀ
    if index == 0:
        return _product(np.asarray(a, dtype=np.float64), np.asarray(h))
    if index == 1:
        return _matmul_vjp_a(g, a, h)
    return np.zeros(np.shape(b))


def _scalar_check(f):
    if np.ndim(f):
        raise ValueError(f"diff needs a scalar expression, and this one has shape {np.shape(f)}")
    return np.array(f, dtype=np.float64)[()]


def _scalar_vjp(g, ans, f, *, index):
    return np.array(g, dtype=np.float64)[()]


def _first(d, f):
    """d, spread to f's shape where f has more elements (batch rows; elsewhere f is a scalar)."""
    shape = np.broadcast_shapes(np.shape(d), np.shape(f))
    return d if np.shape(d) == shape else np.array(np.broadcast_to(d, shape))


def _array_ops() -> list[Op]:
    axis = ("axis",)
    return [
        Op("sum", 1, _sum, (), "sum", "distributes", ("1 for each element",),
           vjp=_sum_vjp, params=axis,
           rule=("expand_as(g, x)",)),
        Op("mean", 1, _mean, (), "mean", "scales", ("1/n for each element",),
           vjp=_mean_vjp, params=axis, needs_elements=True,
           rule=("expand_as(g, x)/size(x)",)),
        Op("amax", 1, np.max, (), "max", "routes", ("1 at the max, 0 elsewhere (ties split)",),
           uses_inputs=True, uses_output=True, vjp=_extreme_vjp, params=axis, call="max", needs_elements=True,
           kink=_extreme_tie, kink_rule="a tie splits the gradient equally",
           rule=("expand_as(g, x)*max_weights(x)",)),
        Op("amin", 1, np.min, (), "min", "routes", ("1 at the min, 0 elsewhere (ties split)",),
           uses_inputs=True, uses_output=True, vjp=_extreme_vjp, params=axis, call="min", needs_elements=True,
           kink=lambda x, axis=None: _extreme_tie(x, axis, pick=np.min),
           kink_rule="a tie splits the gradient equally",
           rule=("expand_as(g, x)*min_weights(x)",)),
        Op("logsumexp", 1, _logsumexp, (), "logsumexp", "slope", ("softmax(x)",),
           uses_inputs=True, uses_output=True, vjp=_logsumexp_vjp, params=axis,
           needs_elements=True,
           rule=("expand_as(g, x)*exp(x - expand_as(logsumexp(x), x))",)),  # log 0: -inf, with an empty gradient
        Op("norm", 1, _norm, (), "‖·‖", "slope", ("x/‖x‖",),
           uses_inputs=True, uses_output=True, vjp=_norm_vjp, params=axis,
           kink=_norm_zero, kink_rule="the gradient of norm at 0 is 0",
           rule=("expand_as(g, x)*x/expand_as(norm(x), x)",)),
        Op("dot", 2, _dot, (), "dot", "swaps", ("vjp: g·bᵀ", "vjp: aᵀ·g"),
           uses_inputs=True, vjp=_product_vjp, reads=((1,), (0,)),
           rule=("matmul_vjp_a(g, x, y)", "matmul_vjp_b(g, x, y)")),
        Op("matmul", 2, _matmul, (), "@", "swaps", ("vjp: g·bᵀ", "vjp: aᵀ·g"),
           uses_inputs=True, callable=False, vjp=_product_vjp, reads=((1,), (0,)),
           rule=("matmul_vjp_a(g, x, y)", "matmul_vjp_b(g, x, y)")),
        Op("T", 1, np.transpose, (), "T", "rearranges", ("vjp: gᵀ",), vjp=_transpose_vjp,
           rule=("T(g)",)),
        # what derivative graphs are made of (scalars pass through them unchanged)
        Op("expand_as", 2, _expand_as, (), "expand", "distributes", ("vjp: sum_as(g, x)", "0"),
           vjp=_expand_as_vjp, params=axis, reads=((0,), (1,)),
           scalar=Scalar(lambda a, b: a, (1.0, 0.0)),
           rule=("sum_as(g, x)", None)),
        Op("sum_as", 2, _sum_as, (), "sum to", "distributes", ("vjp: expand_as(g, x)", "0"),
           vjp=_sum_as_vjp, params=axis, reads=((0,), (1,)),
           scalar=Scalar(lambda a, b: a, (1.0, 0.0)),
           rule=("expand_as(g, x)", None)),
        Op("max_weights", 1, _weights, (), "max share", "blocks", ("0",),
           vjp=_weights_vjp, params=axis, reads=((0,),), needs_elements=True,
           kink=_extreme_tie, kink_rule="a tie splits the gradient equally",
           rule=(None,)),
        Op("min_weights", 1, lambda x, axis=None: _weights(x, axis, pick=np.min), (), "min share", "blocks", ("0",),
           vjp=_weights_vjp, params=axis, reads=((0,),), needs_elements=True,
           kink=lambda x, axis=None: _extreme_tie(x, axis, pick=np.min),
           kink_rule="a tie splits the gradient equally",
           rule=(None,)),
        Op("size", 1, _size, (), "size", "blocks", ("0",),
           vjp=_size_vjp, params=axis, reads=((0,),),
           rule=(None,)),
        Op("matmul_vjp_a", 3, _matmul_vjp_a, (), "@ VJP a", "swaps", ("vjp: g·b", "0", "vjp: hᵀ·g"),
           uses_inputs=True, vjp=_matmul_vjp_a_vjp, reads=((2,), (), (0,)),
           rule=("g @ z", None, "matmul_vjp_b(x, g, z)")),
        Op("matmul_vjp_b", 3, _matmul_vjp_b, (), "@ VJP b", "swaps", ("vjp: a·h", "vjp: g·hᵀ", "0"),
           uses_inputs=True, vjp=_matmul_vjp_b_vjp, reads=((1,), (0,), ()),
           rule=("y @ g", "matmul_vjp_a(x, y, g)", None)),
        # f checked to be a scalar before the gates of diff(f, x) run (they assume one)
        Op("scalar", 1, _scalar_check, (), "scalar", "distributes", ("vjp: g",), callable=False,
           vjp=_scalar_vjp, reads=((),), rule=("g",)),
    ]


# -- the same on Python floats (Op.scalar): math.pow is libm's pow like NumPy's scalar **, and
#    raises where Python's ** would return a complex --------------------------------------------

def _max_local_scalar(mine, other):
    return 1.0 if mine > other else 0.5 if mine == other else 0.0 if mine < other else math.nan


def _pow_local_base_scalar(ans, x, y):
    # as _pow_local_base; an overflow raises here, and the NumPy engine then runs the formula
    if y == 0.0:
        return 0.0
    less, dropped = _less_one(y)
    power = float(np.power(x, less))
    if x != 0.0 and abs(power) < _TINY:
        half = float(np.power(abs(x), less * 0.5))
        local = math.copysign(1.0, power) * ((y * half) * half)
    else:
        local = y * power
    if dropped != 0.0 and x != 0.0:
        local = local + local * (dropped * float(np.log(abs(x))))
    return local


def _pow_local_exponent_scalar(ans, x, y):
    # as _pow_local_exponent (inputs here are finite: the scalar engine runs no nan nor inf)
    if x == 0.0:
        return 0.0 if y > 0 else -math.inf
    log = float(np.log(x))
    if abs(ans) < _TINY and x > 0.0 and x != 1.0:
        half = float(np.power(x, y * 0.5))
        return (half * log) * half
    return ans * log


def _sigmoid_scalar(x):
    e = float(np.exp(-abs(x)))
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


def _sigmoid_local_scalar(ans, x):
    return float(_sech2(np.float64(x), half=True))


def _tanh_local_scalar(ans, x):
    return float(_sech2(np.float64(x)))


def _sign_scalar(x):
    return 1.0 if x > 0 else -1.0 if x < 0 else float(np.sign(x))


def _max_scalar(x, y):
    return x if x > y else y if y > x else float(np.maximum(x, y))  # a tie: ±0 as NumPy picks


def _min_scalar(x, y):
    return x if x < y else y if y < x else float(np.minimum(x, y))


# -- local gradients written in place (Op.in_place): `out()` is an array to write into ----------

def _is_0d(value) -> bool:
    return getattr(value, "shape", ()) == ()


def _reciprocal_into(out, value):
    return np.reciprocal(value, out=out())


def _one_plus_square_into(out, ans):
    buffer = np.multiply(ans, ans, out=out())
    return np.add(1.0, buffer, out=buffer)


def _sech2_into(out, x, half: bool):
    """_sech2 into out() (x read before out is written), with no other array."""
    buffer = out()
    with np.errstate(over="ignore"):
        np.cosh(np.multiply(x, 0.5, out=buffer) if half else x, out=buffer)
    np.divide(0.5, buffer, out=buffer) if half else np.reciprocal(buffer, out=buffer)
    return np.multiply(buffer, buffer, out=buffer)


def _cosh2_into(out, x):
    """cosh²(x) into out() (x read before out is written): tanh's slope is its reciprocal. It
    overflows past |x| = 355, where the slope is subnormal: a floating-point error, for the
    engine's careful path, which takes the slope as (1/cosh x)²."""
    buffer = np.cosh(x, out=out())
    return np.multiply(buffer, buffer, out=buffer)


def _div_local_into(index, out, ans, x, y):
    if index == 1 and not (x is not None and _is_0d(x) and abs(float(x)) == 1.0) and _any_subnormal(ans):
        return None  # _div_local_divisor's rescue from x
    if y is not None and _is_0d(y):  # (y is None where it was not kept: 1/y)
        inverse = float(np.reciprocal(np.float64(y)))  # 1/0 = inf as in NumPy, not ZeroDivisionError
        return (inverse, 1.0) if index == 0 else (ans, -inverse)
    if index == 0:
        return _reciprocal_into(out, y), 1.0
    if x is not None and _is_0d(x) and abs(float(x)) == 1.0:
        # 1/y: -1/y² = -ans², a product instead of a division (for another x, ans² could
        # overflow or underflow where -ans²/x would not)
        return np.multiply(ans, ans, out=out()), -float(x)
    return np.divide(ans, y, out=out()), -1.0  # -x/y² = -(x/y)/y, from the output


def _div_times(index, t, ans, x, y):
    """_div_local_into's local for the divisor applied to t in place: -x·ans² as (t·ans)·ans for
    x = ±1, -(x/y)/y as (t·ans)/y otherwise (the same rescue declined)."""
    if index == 0 or _is_0d(y):
        return None
    if _is_0d(x) and abs(float(x)) == 1.0:
        np.multiply(t, ans, out=t)
        np.multiply(t, ans, out=t)
        return -float(x)
    if _any_subnormal(ans):
        return None  # _div_local_divisor's rescue from x
    np.multiply(t, ans, out=t)
    np.divide(t, y, out=t)
    return -1.0


def _pow_local_into(index, out, ans, x, y):
    if index == 1 or not _is_0d(y):
        return None  # the general formula (op.locals)
    c = float(y)
    if c == 2.0:
        return x, 2.0
    if c == 1.0:
        return 1.0, 1.0
    if 0.5 <= c < 1.95 or c == -1.0:
        # c - 1 is exact, and x^(c-1) stays normal for every finite x ≠ 0 (|c-1| < 0.95), or
        # leaves the normal range exactly where c·x^(c-1) does (|c| = 1); others need
        # _pow_local_base's halves or its correction of c - 1 (and c = 0 its 0 at x = 0)
        return np.power(x, c - 1.0, out=out()), c
    return None


# Arithmetic uses Python's operators: on NumPy scalars they are ten times faster than the
# ufuncs (np.add & co.), and on arrays they are the same ufuncs.
_OPS = [
    Op("add", 2, operator.add, (lambda ans, x, y: 1.0, lambda ans, x, y: 1.0),
       "+", "distributes", (), callable=False, ufunc=np.add,
       scalar=Scalar(operator.add, (1.0, 1.0)),
       reads=((), ()),
       in_place=InPlace(lambda index, out, ans, x, y: (1.0, 1.0)),
       rule=("1", "1")),
    Op("sub", 2, operator.sub, (lambda ans, x, y: 1.0, lambda ans, x, y: -1.0),
       "-", "distributes", (), callable=False, ufunc=np.subtract,
       scalar=Scalar(operator.sub, (1.0, -1.0)),
       reads=((), ()),
       in_place=InPlace(lambda index, out, ans, x, y: (1.0, 1.0 if index == 0 else -1.0)),
       rule=("1", "-1")),
    Op("mul", 2, operator.mul, (lambda ans, x, y: y, lambda ans, x, y: x),
       "*", "swaps", (), uses_inputs=True, callable=False, ufunc=np.multiply,
       scalar=Scalar(operator.mul, (lambda ans, x, y: y, lambda ans, x, y: x)),
       reads=((1,), (0,)),
       in_place=InPlace(lambda index, out, ans, x, y: (y if index == 0 else x, 1.0)),
       rule=("y", "x")),
    Op("div", 2, operator.truediv, (lambda ans, x, y: 1.0 / y, _div_local_divisor),
       "/", "slope", (), uses_inputs=True, uses_output=True, callable=False, ufunc=np.divide,
       scalar=Scalar(operator.truediv, (lambda ans, x, y: 1.0 / y, _div_local_divisor_scalar)),
       reads=((1,), ("ans", 0, 1)),
       in_place=InPlace(_div_local_into, times=_div_times),
       rule=("1/y", "-(x/y)/y")),
    Op("neg", 1, operator.neg, (lambda ans, x: -1.0,),
       "-x", "scales", (), callable=False, ufunc=np.negative,
       scalar=Scalar(operator.neg, (-1.0,)),
       reads=((),),
       in_place=InPlace(lambda index, out, ans, x: (1.0, -1.0)),
       rule=("-1",)),
    Op("pow", 2, operator.pow, (_pow_local_base, _pow_local_exponent),
       "**", "slope", (), uses_inputs=True, uses_output=True, ufunc=np.power,
       scalar=Scalar(math.pow, (_pow_local_base_scalar, _pow_local_exponent_scalar)),
       reads=((0, 1), ("ans", 0, 1)),
       in_place=InPlace(_pow_local_into),
       domain="x > 0 for any y; x < 0 for whole y only (nan otherwise)",
       rule=("y*x**(y - 1)", "log(x)*x**y")),
    Op("exp", 1, np.exp, (lambda ans, x: ans,),
       "exp", "slope", (), uses_output=True, ufunc=np.exp,
       scalar=Scalar(lambda x: float(np.exp(x)), (lambda ans, x: ans,)),
       reads=(("ans",),),
       in_place=InPlace(lambda index, out, ans, x: (ans, 1.0)),
       rule=("exp(x)",)),
    Op("log", 1, np.log, (lambda ans, x: 1.0 / x,),
       "log", "slope", (), uses_inputs=True, ufunc=np.log,
       scalar=Scalar(lambda x: float(np.log(x)), (lambda ans, x: 1.0 / x,)),
       reads=((0,),),
       in_place=InPlace(lambda index, out, ans, x: (_reciprocal_into(out, x), 1.0)),
       domain="x > 0 (at x = 0: -inf)",
       rule=("1/x",)),
    Op("sqrt", 1, np.sqrt, (lambda ans, x: 0.5 / ans,),
       "sqrt", "slope", (), uses_output=True, ufunc=np.sqrt,
       scalar=Scalar(math.sqrt, (lambda ans, x: 0.5 / ans,)),
       reads=(("ans",),),
       in_place=InPlace(lambda index, out, ans, x: (_reciprocal_into(out, ans), 0.5)),
       domain="x ≥ 0 (the slope is inf at 0)",
       rule=("0.5/sqrt(x)",)),
    Op("sin", 1, np.sin, (lambda ans, x: np.cos(x),),
       "sin", "slope", (), uses_inputs=True, ufunc=np.sin,
       scalar=Scalar(lambda x: float(np.sin(x)), (lambda ans, x: float(np.cos(x)),)),
       reads=((0,),),
       in_place=InPlace(lambda index, out, ans, x: (np.cos(x, out=out()), 1.0)),
       rule=("cos(x)",)),
    Op("cos", 1, np.cos, (lambda ans, x: -np.sin(x),),
       "cos", "slope", (), uses_inputs=True, ufunc=np.cos,
       scalar=Scalar(lambda x: float(np.cos(x)), (lambda ans, x: -float(np.sin(x)),)),
       reads=((0,),),
       in_place=InPlace(lambda index, out, ans, x: (np.sin(x, out=out()), -1.0)),
       rule=("-sin(x)",)),
    Op("tan", 1, np.tan, (lambda ans, x: 1.0 + ans * ans,),
       "tan", "slope", (), uses_output=True, ufunc=np.tan,
       scalar=Scalar(lambda x: float(np.tan(x)), (lambda ans, x: 1.0 + ans * ans,)),
       reads=(("ans",),),
       in_place=InPlace(lambda index, out, ans, x: (_one_plus_square_into(out, ans), 1.0)),
       rule=("1 + tan(x)**2",)),
    Op("tanh", 1, np.tanh, (_tanh_local,),
       "tanh", "slope", (), uses_inputs=True, ufunc=np.tanh,
       scalar=Scalar(lambda x: float(np.tanh(x)), (_tanh_local_scalar,)),
       reads=((0,),),
       in_place=InPlace(lambda index, out, ans, x: (_sech2_into(out, x, False), 1.0),
                        divisor=lambda index, out, ans, x: (_cosh2_into(out, x), 1.0)),
       rule=("(1/cosh(x))**2",)),
    Op("sigmoid", 1, _sigmoid, (_sigmoid_local,),
       "σ", "slope", (), uses_inputs=True,
       expansion="1/(1+exp(-x))",
       scalar=Scalar(_sigmoid_scalar, (_sigmoid_local_scalar,)),
       reads=((0,),),
       in_place=InPlace(lambda index, out, ans, x: (_sech2_into(out, x, True), 1.0)),
       rule=("sigmoid(x)*sigmoid(-x)",)),
    Op("softplus", 1, lambda x: np.logaddexp(0.0, x), (lambda ans, x: _sigmoid(x),),
       "softplus", "slope", (), uses_inputs=True,
       scalar=Scalar(lambda x: float(np.logaddexp(0.0, x)), (lambda ans, x: _sigmoid_scalar(x),)),
       rule=("sigmoid(x)",)),
    Op("relu", 1, lambda x: np.maximum(x, 0.0), (_relu_local,),
       "relu", "slope", (), uses_inputs=True,
       kink_offset=_offset_from_0, kink_rule="relu'(0) = 0",
       scalar=Scalar(lambda x: x if x > 0.0 else 0.0,
                     (lambda ans, x: 1.0 if x > 0 else 0.0 if x <= 0 else math.nan,)),
       rule=("step(x)",)),
    Op("abs", 1, np.abs, (lambda ans, x: np.sign(x),),
       "abs", "slope", (), uses_inputs=True,
       kink_offset=_offset_from_0, kink_rule="abs'(0) = 0", ufunc=np.abs,
       scalar=Scalar(abs, (lambda ans, x: _sign_scalar(x),)),
       rule=("sign(x)",)),
    Op("max", 2, np.maximum,
       (lambda ans, x, y: _max_local(x, y), lambda ans, x, y: _max_local(y, x)),
       "max", "routes", (),
       uses_inputs=True, kink_offset=_offset_from_tie, kink_rule="a tie splits the gradient equally", ufunc=np.maximum,
       scalar=Scalar(_max_scalar, (lambda ans, x, y: _max_local_scalar(x, y), lambda ans, x, y: _max_local_scalar(y, x))),
       rule=("(1 + sign(x - y))/2", "(1 + sign(y - x))/2")),
    Op("min", 2, np.minimum,
       (lambda ans, x, y: _max_local(y, x), lambda ans, x, y: _max_local(x, y)),
       "min", "routes", (),
       uses_inputs=True, kink_offset=_offset_from_tie, kink_rule="a tie splits the gradient equally", ufunc=np.minimum,
       scalar=Scalar(_min_scalar, (lambda ans, x, y: _max_local_scalar(y, x), lambda ans, x, y: _max_local_scalar(x, y))),
       rule=("(1 + sign(y - x))/2", "(1 + sign(x - y))/2")),
    # `diff(f, x)` is this gate over the derivative's gates (x) and f (y): its value is x's
    Op("diff", 2, _first, (lambda ans, x, y: 1.0, lambda ans, x, y: 0.0),
       "∂", "distributes", (), callable=False,
       scalar=Scalar(lambda x, y: x, (1.0, 0.0)), reads=((), ()),
       rule=("1", "0")),
    Op("sinh", 1, np.sinh, (lambda ans, x: np.cosh(x),),
       "sinh", "slope", (), uses_inputs=True, ufunc=np.sinh,
       scalar=Scalar(lambda x: float(np.sinh(x)), (lambda ans, x: float(np.cosh(x)),)),
       reads=((0,),),
       rule=("cosh(x)",)),
    Op("cosh", 1, np.cosh, (lambda ans, x: np.sinh(x),),
       "cosh", "slope", (), uses_inputs=True, ufunc=np.cosh,
       scalar=Scalar(lambda x: float(np.cosh(x)), (lambda ans, x: float(np.sinh(x)),)),
       reads=((0,),),
       rule=("sinh(x)",)),
    # Steps: their slope is 0 wherever it exists, so no gradient passes; they are what the
    # derivatives of abs, relu, max and min are made of (their jumps are those ops' kinks).
    Op("sign", 1, np.sign, (lambda ans, x: _zero_slope(x),),
       "sign", "blocks", (), uses_inputs=True, ufunc=np.sign,
       kink_offset=_offset_from_0, kink_rule="sign'(0) = 0 (a jump)",
       scalar=Scalar(_sign_scalar, (lambda ans, x: 0.0 if x == x else math.nan,)),
       reads=((0,),),
       rule=("0",)),
    Op("step", 1, _step, (lambda ans, x: _zero_slope(x),),
       "step", "blocks", (), uses_inputs=True,
       kink_offset=_offset_from_0, kink_rule="step'(0) = 0 (a jump; step(0) = 0, relu's slope at its kink)",
       scalar=Scalar(lambda x: 1.0 if x > 0 else 0.0 if x <= 0 else math.nan,
                     (lambda ans, x: 0.0 if x == x else math.nan,)),
       reads=((0,),),
       rule=("0",)),
    Op("equal", 2, _equal, (lambda ans, x, y: _zero_slope(x, y), lambda ans, x, y: _zero_slope(x, y)),
       "=", "blocks", (), uses_inputs=True,
       kink_offset=_offset_from_tie, kink_rule="equal's slope at a tie is 0 (a jump)",
       scalar=Scalar(lambda x, y: 1.0 if x == y else 0.0,
                     (lambda ans, x, y: 0.0, lambda ans, x, y: 0.0)),
       reads=((0, 1), (0, 1)),
       rule=("0", "0")),
]


# -- the functions of issue 12: each entry's NumPy forward and local gradients, its Scalar kernel
#    (Python floats, the same bits: see `Scalar`), its kinks and its domain ---------------------

_LOG2E = 1.4426950408889634  # 1/ln 2, correctly rounded (tests/test_edges.py checks it with mpmath)
_LOG10E = 0.4342944819032518  # 1/ln 10
_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/√π
_SCALE_UP = 600  # hypot of subnormal inputs: scaled by 2^600 (exact) to keep every bit


def _hypot_over(n, r, x, y, power: int):
    """n/r^power for r = hypot(x, y) (power 1 or 2), divided by r one step at a time, never by
    r² (which overflows or underflows where n/r² need not). Where r is subnormal it holds few
    bits: then from x, y, n scaled by 2^600 (exact). At r = 0, the origin's convention: 0. At
    r = ∞, the limit: 0 for power 2; for power 1 the direction, ±1/√k on the k infinite inputs
    (as norm's), 0 on a finite one; nan where an input is nan."""
    normal = (r >= _TINY) & (r <= _HUGE)
    if np.all(normal):
        local = n / r
        return local / r if power == 2 else local
    tiny = (r < _TINY) & (r != 0)
    scale = np.ldexp(1.0, np.where(tiny, _SCALE_UP, 0))
    rs = np.where(normal, r, np.where(tiny, np.hypot(x * scale, y * scale), 1.0))
    local = (n * scale) / rs
    if power == 2:
        local = (local / rs) * scale
    if power == 1:
        count = np.isinf(x).astype(np.float64) + np.isinf(y)
        far = np.where(np.isinf(n), np.copysign(1.0, n) / np.sqrt(np.maximum(count, 1.0)), 0.0)
    else:
        far = 0.0
    edge = np.where(r == 0, 0.0, far)
    unknown = np.isnan(x) | np.isnan(y) | np.isnan(n)  # hypot(nan, inf) is inf, its slopes unknown
    return np.where(normal | tiny, local, np.where(unknown, np.nan, edge))[()]


def _hypot_over_scalar(n, r, x, y, power: int):
    # as _hypot_over on finite floats (the scalar engine runs no nan nor inf)
    if r == 0.0:
        return 0.0
    if r < _TINY:
        rs = float(np.hypot(math.ldexp(x, _SCALE_UP), math.ldexp(y, _SCALE_UP)))
        local = math.ldexp(n, _SCALE_UP) / rs
        return (local / rs) * math.ldexp(1.0, _SCALE_UP) if power == 2 else local
    local = n / r
    return local / r if power == 2 else local


def _hypot_kink(x, y):
    # 0 at the origin only; its sign flips where a move along x (y = 0) or along y (x = 0)
    # crosses it. (A move of y through 0 at x < 0 flips it too: check then judges leniently.)
    return np.where(y == 0, x, y)


def _atan2_kink(x, y):
    # atan2(x, y) (x the ordinate) has a corner at the origin and jumps by 2π across its branch
    # cut, x = 0 with y < 0: 0 on both, and a sign that flips where a move crosses them
    return np.where(y > 0, 1.0, x)


def _atan_local(ans, x):
    # 1/(1 + x²); beyond |x| = 1e150, x² would overflow though 1/x² need not: (1/x)/x
    big = np.abs(x) > 1e150
    if np.any(big):
        small = np.where(big, 0.0, x)
        return np.where(big, (1.0 / np.where(big, x, 1.0)) / x, 1.0 / (1.0 + small * small))[()]
    return 1.0 / (1.0 + x * x)


def _atan_local_scalar(ans, x):
    return (1.0 / x) / x if abs(x) > 1e150 else 1.0 / (1.0 + x * x)


def _asin_local(ans, x):
    # 1/√(1 - x²) with 1 - x² as (1 - x)(1 + x): exact factors near ±1, where 1 - x·x cancels
    return 1.0 / np.sqrt((1.0 - x) * (1.0 + x))


def _asin_local_scalar(ans, x):
    return 1.0 / math.sqrt((1.0 - x) * (1.0 + x))


def _xlogy(x, y):
    """x·log y, 0 where x = 0 whatever y is (but nan), as SciPy's xlogy."""
    zero = x == 0
    if np.any(zero):
        product = x * np.log(np.where(zero, 1.0, y))
        return np.where(zero, np.where(np.isnan(y), np.nan, 0.0), product)[()]
    return x * np.log(y)


def _xlogy_scalar(x, y):
    return 0.0 if x == 0.0 else x * float(np.log(y))


def _xlogy_local_y(ans, x, y):
    # x/y, and 0 where x = 0: xlogy is 0 all along x = 0 (also at y = 0, where x/y is 0/0)
    zero = x == 0
    if np.any(zero):
        local = x / np.where(zero, 1.0, y)
        return np.where(zero, np.where(np.isnan(y), np.nan, 0.0), local)[()]
    return x / y


# erf: math.erf (libm's, correctly rounded to within an ulp) element by element, since NumPy has
# no erf and SciPy is no dependency; the scalar kernel calls the same math.erf: the same bits.
_erf_elements = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    return np.asarray(_erf_elements(x), dtype=np.float64)[()]


def _erf_local(ans, x):
    # 2/√π·e^(-x²), x² split exactly into hi + lo (Dekker): e^(-hi)·(1 - lo), since x² rounded
    # would cost up to x²·2^-53 relative (7e-14 at x = 26). Past |x| = 30 it is 0 (e^-900).
    t = np.minimum(np.abs(x), 30.0)
    hi = t * t
    c = t * 134217729.0  # 2^27 + 1
    top = c - (c - t)
    rest = t - top
    lo = ((top * top - hi) + 2.0 * top * rest) + rest * rest
    return _TWO_OVER_SQRT_PI * (np.exp(-hi) * (1.0 - lo))


def _erf_local_scalar(ans, x):
    t = min(abs(x), 30.0)
    hi = t * t
    c = t * 134217729.0
    top = c - (c - t)
    rest = t - top
    lo = ((top * top - hi) + 2.0 * top * rest) + rest * rest
    return _TWO_OVER_SQRT_PI * (float(np.exp(-hi)) * (1.0 - lo))


# clip(x, lo, hi) is min(max(x, lo), hi), and its gradients are that composition's: a tie splits
# the gradient as max and min do (x = lo = hi gives x and lo ¼ each and hi ½).

def _clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _clip_local_x(ans, x, lo, hi):
    return (_max_local(x, lo) * _max_local(hi, np.maximum(x, lo)))[()]


def _clip_local_lo(ans, x, lo, hi):
    return (_max_local(lo, x) * _max_local(hi, np.maximum(x, lo)))[()]


def _clip_local_hi(ans, x, lo, hi):
    return _max_local(np.maximum(x, lo), hi)[()]


def _clip_scalar(x, lo, hi):
    return _min_scalar(_max_scalar(x, lo), hi)


def _clip_local_x_scalar(ans, x, lo, hi):
    return _max_local_scalar(x, lo) * _max_local_scalar(hi, _max_scalar(x, lo))


def _clip_local_lo_scalar(ans, x, lo, hi):
    return _max_local_scalar(lo, x) * _max_local_scalar(hi, _max_scalar(x, lo))


def _clip_local_hi_scalar(ans, x, lo, hi):
    return _max_local_scalar(_max_scalar(x, lo), hi)


def _clip_kink(x, lo, hi):
    """1 strictly inside (lo, hi), -1 outside, 0 at a tie of min(max(x, lo), hi) that matters:
    x = lo with lo ≤ hi, or max(x, lo) = hi; nan if an input is. Comparisons, not differences,
    which could overflow. (Moving lo past hi with x below both flips no sign: only a pass at the
    tie itself sees that kink.)"""
    top = np.maximum(x, lo)
    side = np.where((x > lo) & (top < hi), 1.0, -1.0)
    tie = ((x == lo) & (lo <= hi)) | (top == hi)
    return np.where(np.isnan(top) | np.isnan(hi), np.nan, np.where(tie, 0.0, side))[()]


_OPS += [
    Op("atan2", 2, np.arctan2,
       (lambda ans, x, y: _hypot_over(y, np.hypot(x, y), x, y, 2),
        lambda ans, x, y: _hypot_over(-x, np.hypot(x, y), x, y, 2)),
       "atan2", "slope", (), uses_inputs=True, ufunc=np.arctan2,
       kink_offset=_atan2_kink,
       arg_names=("y", "x"),
       kink_rule="the gradient of atan2(0, 0) is 0; where the value jumps by 2π (first input 0, "
                 "second negative) it is the formula's",
       scalar=Scalar(lambda x, y: float(np.arctan2(x, y)),
                     (lambda ans, x, y: _hypot_over_scalar(y, float(np.hypot(x, y)), x, y, 2),
                      lambda ans, x, y: _hypot_over_scalar(-x, float(np.hypot(x, y)), x, y, 2))),
       rule=("y/(hypot(x, y) + equal(hypot(x, y), 0))/(hypot(x, y) + equal(hypot(x, y), 0))",
             "-x/(hypot(x, y) + equal(hypot(x, y), 0))/(hypot(x, y) + equal(hypot(x, y), 0))")),
    Op("hypot", 2, np.hypot,
       (lambda ans, x, y: _hypot_over(x, ans, x, y, 1), lambda ans, x, y: _hypot_over(y, ans, x, y, 1)),
       "hypot", "slope", (), uses_inputs=True, uses_output=True,
       ufunc=np.hypot, kink_offset=_hypot_kink, kink_rule="the gradient of hypot at (0, 0) is 0",
       scalar=Scalar(lambda x, y: float(np.hypot(x, y)),
                     (lambda ans, x, y: _hypot_over_scalar(x, ans, x, y, 1),
                      lambda ans, x, y: _hypot_over_scalar(y, ans, x, y, 1))),
       rule=("x/(hypot(x, y) + equal(hypot(x, y), 0))", "y/(hypot(x, y) + equal(hypot(x, y), 0))")),
    Op("log1p", 1, np.log1p, (lambda ans, x: 1.0 / (1.0 + x),),
       "log1p", "slope", (), uses_inputs=True, ufunc=np.log1p,
       scalar=Scalar(lambda x: float(np.log1p(x)), (lambda ans, x: 1.0 / (1.0 + x),)),
       rule=("1/(1 + x)",),
       domain="x > -1 (at x = -1: -inf)"),
    Op("expm1", 1, np.expm1, (lambda ans, x: np.exp(x),),  # not ans + 1, which cancels for x < 0
       "expm1", "slope", (), uses_inputs=True, ufunc=np.expm1,
       scalar=Scalar(lambda x: float(np.expm1(x)), (lambda ans, x: float(np.exp(x)),)),
       rule=("exp(x)",)),
    Op("log2", 1, np.log2, (lambda ans, x: _LOG2E / x,),
       "log2", "slope", (), uses_inputs=True, ufunc=np.log2,
       scalar=Scalar(lambda x: float(np.log2(x)), (lambda ans, x: _LOG2E / x,)),
       rule=("1/log(2)/x",),
       domain="x > 0 (at x = 0: -inf)"),
    Op("log10", 1, np.log10, (lambda ans, x: _LOG10E / x,),
       "log10", "slope", (), uses_inputs=True, ufunc=np.log10,
       scalar=Scalar(lambda x: float(np.log10(x)), (lambda ans, x: _LOG10E / x,)),
       rule=("1/log(10)/x",),
       domain="x > 0 (at x = 0: -inf)"),
    Op("atan", 1, np.arctan, (_atan_local,),
       "atan", "slope", (), uses_inputs=True, ufunc=np.arctan,
       scalar=Scalar(lambda x: float(np.arctan(x)), (_atan_local_scalar,)),
       rule=("1/(1 + x**2)",)),
    Op("asin", 1, np.arcsin, (_asin_local,),
       "asin", "slope", (), uses_inputs=True, ufunc=np.arcsin,
       scalar=Scalar(lambda x: float(np.arcsin(x)), (_asin_local_scalar,)),
       rule=("1/sqrt((1 - x)*(1 + x))",),
       domain="-1 ≤ x ≤ 1 (the slope is inf at ±1)"),
    Op("acos", 1, np.arccos, (lambda ans, x: -_asin_local(ans, x),),
       "acos", "slope", (), uses_inputs=True, ufunc=np.arccos,
       scalar=Scalar(lambda x: float(np.arccos(x)), (lambda ans, x: -_asin_local_scalar(ans, x),)),
       rule=("-1/sqrt((1 - x)*(1 + x))",),
       domain="-1 ≤ x ≤ 1 (the slope is -inf at ±1)"),
    Op("clip", 3, _clip, (_clip_local_x, _clip_local_lo, _clip_local_hi),
       "clip", "routes", (),
       uses_inputs=True, kink_offset=_clip_kink,
       arg_names=("x", "lo", "hi"),
       kink_rule="clip(x, lo, hi) = min(max(x, lo), hi): a tie splits the gradient equally",
       scalar=Scalar(_clip_scalar, (_clip_local_x_scalar, _clip_local_lo_scalar, _clip_local_hi_scalar)),
       rule=("(1 + sign(x - y))/2*(1 + sign(z - max(x, y)))/2",
             "(1 + sign(y - x))/2*(1 + sign(z - max(x, y)))/2",
             "(1 + sign(max(x, y) - z))/2")),
    Op("xlogy", 2, _xlogy, (lambda ans, x, y: np.log(y), _xlogy_local_y),
       "xlogy", "slope", (), uses_inputs=True,
       scalar=Scalar(_xlogy_scalar, (lambda ans, x, y: float(np.log(y)),
                                     lambda ans, x, y: 0.0 if x == 0.0 else x / y)),
       reads=((1,), (0, 1)),
       rule=("log(y)", "x/(y + equal(x, 0)*equal(y, 0))"),
       domain="y > 0, or x = 0 (then 0 for any y)"),
    Op("erf", 1, _erf, (_erf_local,),
       "erf", "slope", (), uses_inputs=True,
       scalar=Scalar(math.erf, (_erf_local_scalar,)),
       rule=("2/sqrt(pi)*exp(-x**2)",)),
]

_OPS += _array_ops()

OPS: dict[str, Op] = {op.name: op for op in _OPS}

# The names a program can call: `exp(x)`, `max(a, b)`, `pow(x, 2)`, `sum(X, axis=0)`.
FUNCTIONS: dict[str, Op] = {op.name: op for op in _OPS if op.callable and not op.call}

# Every callable op by its name in the language and its number of arguments: `max(x)` is the
# reduction amax, `max(x, y)` the elementwise max.
OVERLOADS: dict[str, dict[int, Op]] = {}
for _op in _OPS:
    if _op.callable:
        OVERLOADS.setdefault(_op.call_name, {})[_op.arity] = _op

# Named constants; a value given for the same name replaces the constant (see README).
CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e)}

# What each role word means: the lecture's patterns in the backward flow.
ROLES: dict[str, str] = {
    "distributes": "passes the upstream gradient to every input unchanged",
    "routes": "sends the upstream gradient to the input that won, 0 to the others",
    "swaps": "scales each input's gradient by the other input's value",
    "scales": "multiplies the upstream gradient by a constant factor",
    "slope": "multiplies the upstream gradient by the gate's local slope",
    "rearranges": "passes the upstream gradient on with its elements moved (a transpose)",
    "blocks": "passes no gradient back: its slope is 0 wherever it has one (a step)",
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


_PLACEHOLDER = re.compile(r"(?<![A-Za-z0-9_])[xyz](?![A-Za-z0-9_])")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHORT = 16  # a longer input is written as x or y in a formula


# `cos (a+b)` reads `cos(a+b)`
_FUNCTION_SPACE = re.compile(r"\b((?:cosh|sinh|tanh|cos|sin|tan|sign|ln|atan|asin|acos)²?) (?=\()")


def _name_at(match, names: dict) -> str:
    """The input's name for a placeholder; a parenthesised label inside parentheses already
    (`σ(x)`) is written bare."""
    name = names.get(match.group(0), match.group(0))
    text, start, end = match.string, match.start(), match.end()
    if name.startswith("(") and text[start - 1:start] == "(" and text[end:end + 1] == ")":
        return name[1:-1]
    return name


def number_text(value: float) -> str:
    return f"{value:g}"


def gate_view(op: Op, constants: tuple, labels: tuple) -> GateView:
    """`constants`: per input its value if it is a constant, else None; `labels`: per input how
    it is called. Formulas name an input by its label when that is short (parenthesised unless
    it is a name), else by x (and y, z): a view that shows them renames those (see render.steps)."""
    if op.body is not None:
        return GateView(op.symbol, op.role, op.formulas)
    const_x, const_y = (tuple(constants) + (None, None))[:2]
    names = {}
    for letter, value, label in zip("xyz", constants, labels):
        if value is not None:
            names[letter] = number_text(value)
        elif label is not None and _IDENTIFIER.fullmatch(label):
            names[letter] = label
        elif label is not None and len(label) <= _SHORT:
            names[letter] = f"({label})"
    if op.name == "div" and const_x is not None and const_y is None:
        c = "" if const_x == 1 else number_text(const_x)
        return GateView(f"{c or 1}/x", "slope", ("", f"-{c or 1}/{names.get('y', 'x')}²"))
    if op.name == "pow" and const_y is not None and const_x is None:
        c = const_y
        base = names.get("x", "x")
        slope = (f"2{base}" if len(base) == 1 else f"2·{base}") if c == 2 \
            else f"{number_text(c)}·{base}^{number_text(c - 1)}"
        return GateView(f"x^{number_text(c)}", "slope", (slope, ""))
    role = op.role
    if role in ("swaps", "slope") and op.arity == 2 and (const_x is not None or const_y is not None):
        role = "scales"  # a constant factor (2*x, x/2)
    formulas = tuple(_FUNCTION_SPACE.sub(r"\1", _PLACEHOLDER.sub(lambda m: _name_at(m, names), f))
                     for f in op.formulas)
    return GateView(op.symbol, role, formulas)
