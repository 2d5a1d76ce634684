"""Each registry op's forward on any array library that follows the array API standard
(https://data-apis.org/array-api/2023.12/): `FORWARDS[op.name](xp, *inputs, **params)`, with `xp`
the namespace array-api-compat gives for the inputs (array_api_strict, Dask, CuPy, PyTorch…).

The NumPy engine never reads this table: NumPy values run the registry's own NumPy forwards and
kernels (gradcli.evaluation.engine). Another namespace runs the gradient graph
(gradcli.differentiation.derivative: each op's `rule`, the one statement of its derivative) forward
through these functions alone (gradcli.evaluation.array_api), so no derivative is written here:
only what each op computes, in standard functions. They follow the registry's NumPy forwards
(sigmoid from e^-|x|, logsumexp shifted by its max, clip as min(max(x, lo), hi), a tie of max
splitting its weight) without their float64 rescues of partial sums that overflow (safe_sum,
_product's scaling): those are NumPy-only.

`namespace_of(values)` is the one place a run learns its array library: None for NumPy values
(numbers, lists, NumPy arrays: the NumPy engine runs), else the namespace. It imports
array-api-compat only when some value is not NumPy's.
"""

from __future__ import annotations

import math

import numpy as np

from ..base.errors import GradcliError

_NUMPY_TYPES = (np.ndarray, np.generic, float, int, bool, list, tuple, str)


def namespace_of(values) -> object | None:
    """The array-API namespace of the values, or None when they are all NumPy's (or numbers,
    lists, text). Raises GradcliError for arrays of two libraries."""
    others = [v for v in values if not isinstance(v, _NUMPY_TYPES)]
    if not others:
        return None
    try:
        import array_api_compat
    except ImportError:  # without it nothing but NumPy runs: the values convert as before
        return None
    arrays = [v for v in others if array_api_compat.is_array_api_obj(v)]
    if not arrays or all(isinstance(v, np.ndarray) for v in arrays):
        return None
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError as exc:  # arrays of two libraries (Dask and CuPy): no run can mix them
        libraries = sorted({type(a).__module__.split(".")[0] for a in arrays})
        raise GradcliError(f"the values are arrays of {' and '.join(libraries)}: one run computes in one library",
                           hint="convert them to one library first") from exc
    return None if array_api_compat.is_numpy_namespace(xp) else xp


def is_lazy(xp) -> bool:
    """Whether the namespace builds a graph computed later (Dask): nothing here looks at values."""
    import array_api_compat

    return array_api_compat.is_dask_namespace(xp)


def _full(xp, like, value: float):
    return xp.full_like(like, value, dtype=xp.float64)


def _as_float(xp, condition):
    return xp.astype(condition, xp.float64)


def _squeeze(xp, value, axis):
    """A reduction computed with keepdims=True, in its shape without them."""
    if axis is None:
        return xp.reshape(value, ())
    return xp.squeeze(value, axis=axis)


def _spread(xp, g, x, axis):
    """g (a reduction's result, or its cotangent) spread back over x's shape."""
    if axis is not None and g.ndim < x.ndim:
        g = xp.expand_dims(g, axis=axis)
    return xp.broadcast_to(g, x.shape)


def _broadcast(xp, *arrays):
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return [a if a.shape == shape else xp.broadcast_to(a, shape) for a in arrays]


def _step(xp, x):
    return xp.where(xp.isnan(x), _full(xp, x, math.nan), _as_float(xp, x > 0))


def _sigmoid(xp, x):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _relu(xp, x):
    return xp.maximum(x, xp.zeros_like(x))


def _softplus(xp, x):
    return xp.logaddexp(xp.zeros_like(x), x)


def _xlogy(xp, x, y):
    x, y = _broadcast(xp, x, y)
    zero = x == 0
    product = x * xp.log(xp.where(zero, xp.ones_like(y), y))
    return xp.where(zero, xp.where(xp.isnan(y), _full(xp, y, math.nan), xp.zeros_like(y)), product)


def _erf(xp, x):
    # the standard has no erf: Dask applies the registry's NumPy erf block by block
    import array_api_compat

    if array_api_compat.is_dask_namespace(xp):
        from .ops import OPS

        return x.map_blocks(OPS["erf"].forward, dtype=np.float64)
    raise NotImplementedError("erf has no array API function")


def _clip(xp, x, lo, hi):
    return xp.minimum(xp.maximum(x, lo), hi)


def _first(xp, d, f):
    shape = np.broadcast_shapes(d.shape, f.shape)
    return d if d.shape == shape else xp.broadcast_to(d, shape)


def _logsumexp(xp, x, axis=None):
    peak = xp.max(x, axis=axis, keepdims=True)
    finite = xp.isfinite(peak)
    shift = xp.where(finite, peak, xp.zeros_like(peak))
    # an infinite max: its elements count 1, the others 0 (the limit), as ops._shifted_exp
    shifted = xp.where(finite, x - shift, xp.where(x == peak, xp.zeros_like(x), _full(xp, x, -math.inf)))
    return _squeeze(xp, xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True)) + shift, axis)


def _norm(xp, x, axis=None):
    return xp.sqrt(xp.sum(x * x, axis=axis))


def _weights(xp, x, axis=None, pick="max"):
    hit = _as_float(xp, x == _spread(xp, getattr(xp, pick)(x, axis=axis), x, axis))
    return hit / xp.sum(hit, axis=axis, keepdims=axis is not None)


def _transpose(xp, x):
    return x if x.ndim < 2 else xp.permute_dims(x, tuple(range(x.ndim - 1, -1, -1)))


def _matrices(xp, a, b):
    """A vector a as a row (1, k), a vector b as a column (k, 1), as ops._product_vjp."""
    return (xp.reshape(a, (1, -1)) if a.ndim == 1 else a), (xp.reshape(b, (-1, 1)) if b.ndim == 1 else b)


def _matmul_vjp_a(xp, g, a, b):
    a2, b2 = _matrices(xp, a, b)
    g2 = xp.reshape(g, (a2.shape[0], b2.shape[1]))
    return xp.reshape(xp.matmul(g2, _transpose(xp, b2)), a.shape)


def _matmul_vjp_b(xp, g, a, b):
    a2, b2 = _matrices(xp, a, b)
    g2 = xp.reshape(g, (a2.shape[0], b2.shape[1]))
    return xp.reshape(xp.matmul(_transpose(xp, a2), g2), b.shape)


def _expand_as(xp, a, b, axis=None):
    if axis is not None and a.ndim < b.ndim:
        a = xp.expand_dims(a, axis=axis)
    return xp.broadcast_to(a, b.shape)


def _sum_as(xp, a, b, axis=None):
    shape = b.shape
    if axis is not None:
        return xp.sum(a, axis=axis)
    if a.shape == shape:
        return a
    if a.ndim < len(shape):  # stands for its broadcast
        a = xp.broadcast_to(a, np.broadcast_shapes(a.shape, shape))
    extra = a.ndim - len(shape)
    if extra > 0:
        a = xp.sum(a, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and a.shape[i] != 1)
    if stretched:
        a = xp.sum(a, axis=stretched, keepdims=True)
    return a if a.shape == shape else xp.broadcast_to(a, shape)


def _size(xp, x, axis=None):
    count = math.prod(x.shape) if axis is None else x.shape[axis]
    return xp.asarray(float(count), dtype=xp.float64, device=_device(x))


def _device(x):
    import array_api_compat

    return array_api_compat.device(x)


def _unary(name: str):
    return lambda xp, x: getattr(xp, name)(x)


def _binary(name: str):
    return lambda xp, x, y: getattr(xp, name)(*_broadcast(xp, x, y))


FORWARDS = {
    "add": lambda xp, x, y: x + y,
    "sub": lambda xp, x, y: x - y,
    "mul": lambda xp, x, y: x * y,
    "div": lambda xp, x, y: x / y,
    "neg": lambda xp, x: -x,
    "pow": lambda xp, x, y: x ** y,
    **{name: _unary(name) for name in ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh",
                                       "sign", "abs", "log1p", "expm1", "log2", "log10", "atan", "asin", "acos")},
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "relu": _relu,
    "max": _binary("maximum"),
    "min": _binary("minimum"),
    "diff": _first,
    "step": _step,
    "equal": lambda xp, x, y: _as_float(xp, x == y),
    "atan2": _binary("atan2"),
    "hypot": _binary("hypot"),
    "clip": _clip,
    "xlogy": _xlogy,
    "erf": _erf,
    "sum": lambda xp, x, axis=None: xp.sum(x, axis=axis),
    "mean": lambda xp, x, axis=None: xp.mean(x, axis=axis),
    "amax": lambda xp, x, axis=None: xp.max(x, axis=axis),
    "amin": lambda xp, x, axis=None: xp.min(x, axis=axis),
    "logsumexp": _logsumexp,
    "norm": _norm,
    "dot": lambda xp, a, b: xp.matmul(a, b),  # vectors and matrices only: np.dot is matmul there
    "matmul": lambda xp, a, b: xp.matmul(a, b),
    "T": _transpose,
    "expand_as": _expand_as,
    "sum_as": _sum_as,
    "max_weights": lambda xp, x, axis=None: _weights(xp, x, axis, "max"),
    "min_weights": lambda xp, x, axis=None: _weights(xp, x, axis, "min"),
    "size": _size,
    "matmul_vjp_a": _matmul_vjp_a,
    "matmul_vjp_b": _matmul_vjp_b,
    "scalar": lambda xp, f: f,  # (its shape is checked before: gradcli.core.kernels.array_op_shape)
}

