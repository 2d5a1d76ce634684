"""One gate on NumPy arrays, as every evaluator of a graph runs it: the forward of an op that is
not elementwise with its shape checks, the broadcast check of a binary gate, and one edge's
local × upstream summed back to its input's shape (`unbroadcast`).

Shared by the NumPy engine (gradcli.evaluation.engine) and by a user function's body run as one gate
(gradcli.language.composite), so it sits below both: it knows the op registry and the graph's nodes, and
nothing of how a whole graph is run. A shape error raised here is the one gradcli.evaluation.shapes
predicts before the run (same function, same message).
"""

from __future__ import annotations

import numpy as np

from ..base.errors import ShapeError
from .graph import Node
from .ops import _check_product, safe_dot, safe_sum


def broadcast_error(node, *shapes: tuple) -> ShapeError:
    listed = [f"{shape} of {inp.label!r}" for shape, inp in zip(shapes, node.inputs)]
    return ShapeError(
        f"shapes {', '.join(listed[:-1])} and {listed[-1]} do not broadcast "
        f"at gate {node.label!r} ({node.gate_name})", span=node.span,
        hint="NumPy broadcasting: trailing dimensions must be equal or 1")


def array_op_error(node, message: str, shapes: list) -> ShapeError:
    listed = " and ".join(f"{shape} of {inp.label!r}" for inp, shape in zip(node.inputs, shapes))
    return ShapeError(f"{message} at gate {node.label!r} ({node.gate_name}); the shapes are {listed}",
                      span=node.span)


def array_op_shape(node, shapes: list) -> tuple | None:
    """The output shape of a gate that is not elementwise, or None for an op without a rule
    here; raises the gate's ShapeError (an axis out of bounds, a product that does not align)."""
    op = node.op
    if op.name in _DERIVATIVE_SHAPES:
        return _DERIVATIVE_SHAPES[op.name](node, shapes)
    if "axis" in op.params:  # a reduction
        (shape,) = shapes
        axis = node.params.get("axis")
        ndim = len(shape)
        # NumPy lets a 0-d array be reduced over axis 0 or -1; there is no such axis
        if axis is not None and not -ndim <= axis < ndim:
            raise array_op_error(node, f"axis {axis} is out of bounds for array of dimension {ndim}", shapes)
        if op.needs_elements and (0 in shape if axis is None else shape[axis] == 0):
            along = "" if axis is None else f" along axis {axis}"
            raise array_op_error(node, f"{op.call_name} of no elements{along} has no value", shapes)
        if axis is None:
            return ()
        axis %= ndim
        return shape[:axis] + shape[axis + 1:]
    if op.name in ("dot", "matmul"):
        sa, sb = shapes
        try:  # the op's own check, on stand-ins that cost no memory
            _check_product("@" if op.name == "matmul" else op.name,
                           np.broadcast_to(np.float64(0.0), sa), np.broadcast_to(np.float64(0.0), sb))
        except ValueError as exc:
            raise array_op_error(node, str(exc), shapes) from None
        return sa[:-1] + sb[1:]
    if op.name == "T":
        return shapes[0][::-1]
    return None


def _axis_of(node, ndim: int, shapes: list) -> int | None:
    axis = node.params.get("axis")
    if axis is not None and not -ndim <= axis < ndim:
        raise array_op_error(node, f"axis {axis} is out of bounds for array of dimension {ndim}", shapes)
    return None if axis is None else axis % ndim


def _expand_as_shape(node, shapes: list) -> tuple:
    sa, sb = shapes
    axis = _axis_of(node, len(sb), shapes)
    if axis is not None and len(sa) < len(sb):
        sa = sa[:axis] + (1,) + sa[axis:]
    try:
        if np.broadcast_shapes(sa, sb) == sb:
            return sb
    except ValueError:
        pass
    raise array_op_error(node, f"cannot spread shape {shapes[0]} over shape {sb}", shapes)


def _sum_as_shape(node, shapes: list) -> tuple:
    sa, sb = shapes
    axis = _axis_of(node, len(sa), shapes)
    reduced = sa[:axis] + sa[axis + 1:] if axis is not None else sb
    try:
        fits = reduced == sb and (axis is not None or np.broadcast_shapes(sa, sb) == sa)
    except ValueError:
        fits = False
    if not fits:
        raise array_op_error(node, f"cannot sum shape {sa} down to shape {sb}", shapes)
    return sb


def _weights_shape(node, shapes: list) -> tuple:
    (shape,) = shapes
    axis = _axis_of(node, len(shape), shapes)
    if 0 in shape if axis is None else shape[axis] == 0:
        raise array_op_error(node, f"{node.op.name} of no elements has no value", shapes)
    return shape


def _size_shape(node, shapes: list) -> tuple:
    _axis_of(node, len(shapes[0]), shapes)
    return ()


# the ops derivative graphs are made of (gradcli.differentiation.derivative): their output has an input's shape
_DERIVATIVE_SHAPES = {
    "expand_as": _expand_as_shape,
    "sum_as": _sum_as_shape,
    "size": _size_shape,
    "max_weights": lambda node, shapes: _weights_shape(node, shapes),
    "min_weights": lambda node, shapes: _weights_shape(node, shapes),
    "matmul_vjp_a": lambda node, shapes: shapes[1],
    "matmul_vjp_b": lambda node, shapes: shapes[2],
    "scalar": lambda node, shapes: () if shapes[0] == () else _not_scalar(node, shapes),
}


def _not_scalar(node, shapes: list):
    text = node.text or ""
    if text.startswith("order "):  # diff(f, X, N ≥ 2) of an array X (see gradcli.language.parser)
        raise ShapeError(f"{text[text.index('diff'):]} needs a scalar variable, and its first derivative has shape "
                         f"{shapes[0]}: the derivatives of a gradient array are a matrix", span=node.span,
                         hint="gradcli hessian gives every second derivative")
    raise ShapeError(f"diff needs a scalar expression, and {node.inputs[0].label!r} has shape "
                     f"{shapes[0]}", span=node.span,
                     hint="differentiate a scalar made of it, e.g. its sum: diff(sum(…), x)")


def _shape(value) -> tuple[int, ...]:
    return getattr(value, "shape", ())  # np.shape() costs 1.5 µs a call on a scalar


def unbroadcast(result, shape: tuple[int, ...], full_shape: tuple[int, ...]):
    """Sum a gradient over the axes that broadcasting added or stretched, back to `shape`.

    `full_shape` is the gate's output shape; `result` may be smaller (a scalar seed, or a local
    gradient that did not depend on every input) and then stands for its broadcast to it.
    """
    rshape = _shape(result)
    if rshape == full_shape:
        if rshape == shape:
            return result
    else:  # stands for its broadcast: spread it (a view, no copy), then sum like any other
        result = np.broadcast_to(result, full_shape)
        rshape = full_shape
        if rshape == shape:
            return result
    extra = len(rshape) - len(shape)
    if extra > 0:
        result = safe_sum(result, axis=tuple(range(extra)))  # (a partial sum may overflow)
        rshape = rshape[extra:]
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and rshape[i] != 1)
    if stretched:
        result = safe_sum(result, axis=stretched, keepdims=True)
    return result


def _is_one(value) -> bool:
    return isinstance(value, float) and value == 1.0


def _times(local, upstream):
    """local × upstream, skipping the multiplication where one side is ±1."""
    if isinstance(local, float):
        if local == 1.0:
            return upstream
        if local == -1.0:
            return np.negative(upstream)
    if _is_one(upstream):
        return local
    return local * upstream


def _dot(a, b):
    """sum(a * b) over every element of two arrays of one shape, without the product array.
    np.dot of two contiguous vectors is BLAS's; np.vdot is several times slower (NumPy 2.4)."""
    if a.flags.c_contiguous and b.flags.c_contiguous:
        total = np.dot(a.reshape(-1), b.reshape(-1))
    else:
        total = np.vdot(a, b)
    # a partial sum that overflowed though the total need not: again, scaled (gradcli.core.ops)
    return total if np.isfinite(total) else safe_dot(np.ravel(a), np.ravel(b))


def _forward_array_op(node: Node, args: list):
    """Forward of an op that is not elementwise; its shape errors name the gate."""
    shapes = [_shape(a) for a in args]
    array_op_shape(node, shapes)  # the same checks (and messages) as before the run
    try:
        return node.op.forward(*args, **node.params)
    except ValueError as exc:  # NumPy's AxisError is a ValueError too
        raise array_op_error(node, str(exc), shapes) from None


def _edge_result(local, upstream, shape, full_shape):
    """local × upstream summed back to the input's `shape`."""
    if (shape == () and full_shape != () and isinstance(upstream, np.ndarray) and isinstance(local, np.ndarray)
            and local.shape == full_shape == upstream.shape):
        return _dot(local, upstream)  # sum(local * upstream) without the product array
    return unbroadcast(_times(local, upstream), shape, full_shape)


def _check_broadcast(node: Node, args: list) -> None:
    """Raise the gate's ShapeError where its (two or three) inputs do not broadcast."""
    sa, sb = _shape(args[0]), _shape(args[1])
    if len(args) == 2 and (sa == sb or not sa or not sb):
        return
    shapes = [_shape(a) for a in args]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise broadcast_error(node, *shapes) from None
