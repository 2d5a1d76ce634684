"""Forward and reverse-mode backward pass over a Graph, in NumPy float64.

Backward seeds ∂f/∂f = 1 at the output and visits gates in reverse topological order. For each
edge: local (∂gate/∂input, from forward values) × upstream (∂f/∂gate) = result, which is summed
back to the input's shape and *added* to the input's gradient (gradients add at forks).
An op that is not elementwise (a reduction, a matrix product) gives its vector-Jacobian product
instead (`Op.vjp`), and the trace records the op's formula as the edge's local gradient.
"""

from __future__ import annotations

import numpy as np

from .errors import MissingValueError, ResourceError, ShapeError, did_you_mean, shorten
from .graph import Graph, Node
from .trace import Diagnostic, Edge, NodeTrace, Result
from .values import to_arrays


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
        result = np.sum(result, axis=tuple(range(extra)))
        rshape = rshape[extra:]
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and rshape[i] != 1)
    if stretched:
        result = np.sum(result, axis=stretched, keepdims=True)
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


class _FloatingPointFlag:
    """NumPy calls this on a floating-point error; the engine then checks the gate's output."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self, kind: str, flag: int) -> None:
        self.raised = True


def _describe(array) -> str:
    kinds = []
    if np.isnan(array).any():
        kinds.append("nan")
    if np.isposinf(array).any():
        kinds.append("inf")
    if np.isneginf(array).any():
        kinds.append("-inf")
    return "/".join(kinds)


def _at(node: Node) -> str:
    return f"{node.label!r} ({node.op_name}, {node.span.where()})"


def bind_values(graph: Graph, values: dict) -> tuple[dict[str, np.ndarray], list[Diagnostic]]:
    """Check the given values against the graph's variables and convert them to arrays."""
    diagnostics = []
    arrays = to_arrays(values)
    for name in arrays:
        if name not in graph.variables:
            hint = did_you_mean(name, graph.variables) if graph.variables else None
            diagnostics.append(Diagnostic(
                "input", f"a value was given for {shorten(name)!r}, which the expression does not use"
                + (f"; {hint}" if hint else "")))
    missing = [name for name in graph.required if name not in arrays]
    if missing:
        raise MissingValueError(missing)
    for name, array in arrays.items():
        if name in graph.variables and not np.isfinite(array).all():
            diagnostics.append(Diagnostic(
                "domain", f"the value of {name!r} holds {_describe(array)}", graph.variables[name]))
    return arrays, diagnostics


def run(graph: Graph, values: dict, *, trace: bool = True, max_memory: int | None = None) -> Result:
    arrays, diagnostics = bind_values(graph, values)
    diagnostics[:0] = graph.notes
    nodes = graph.nodes
    count = len(nodes)
    out_id = graph.output.id

    # Which nodes carry a gradient: variables with a value, and every gate fed by one.
    needs = [False] * count
    for node in nodes:
        if node.kind == "var":
            needs[node.id] = node.name in arrays
        elif node.kind == "gate":
            needs[node.id] = any(needs[i.id] for i in node.inputs)

    # Without a trace, a forward value is freed after its last use unless the backward pass reads it.
    keep = [True] * count
    last_use = list(range(count))
    if not trace:
        keep = [False] * count
        keep[out_id] = True
        for node in nodes:
            if node.kind != "gate" or not needs[node.id]:
                for i in node.inputs:
                    last_use[i.id] = node.id
                continue
            op = node.op
            if op.uses_output:
                keep[node.id] = True
            for i in node.inputs:
                last_use[i.id] = node.id
                if op.uses_inputs:
                    keep[i.id] = True

    if max_memory is not None:
        _check_memory(graph, arrays, keep, trace, max_memory)

    flag = _FloatingPointFlag()
    values_of: list = [None] * count
    shapes: list = [()] * count  # kept apart from values, which may be freed before backward
    # Without a trace, arrays the engine allocated and that nothing else references are "owned":
    # once dead they are overwritten in place instead of allocating (values_of: forward, grads: backward).
    owned = [False] * count
    grad_owned = [False] * count
    with np.errstate(all="call", under="ignore", call=flag):
        # -- forward ---------------------------------------------------------------------
        for node in nodes:
            if node.kind == "var":
                value = arrays.get(node.name)
                values_of[node.id] = np.float64(node.default) if value is None else value
                shapes[node.id] = _shape(values_of[node.id])
                continue
            if node.kind == "const":
                values_of[node.id] = np.float64(node.default)
                continue
            args = [values_of[i.id] for i in node.inputs]
            flag.raised = False
            if node.op.vjp is not None:
                buffer = None
                value = _forward_array_op(node, args)
                if not trace:  # a view of an input (the transpose) must not be written into later
                    for inp, arg in zip(node.inputs, args):
                        if owned[inp.id] and np.may_share_memory(value, arg):
                            owned[inp.id] = False
            else:
                if len(args) == 2:
                    _check_broadcast(node, args)
                buffer = _dead_buffer(node, args, owned, last_use, keep, shapes) if not trace else None
                value = node.op.forward(*args) if buffer is None else node.op.ufunc(*args, out=buffer)
            owned[node.id] = (not trace and isinstance(value, np.ndarray) and value.ndim > 0
                              and (node.op.vjp is None or value.flags.owndata))
            # a composite's gates run in a pass of their own, whose floating-point errors this flag misses
            if (flag.raised or node.op.body is not None) and not np.isfinite(value).all():
                # an input overwritten in place (buffer) can no longer be inspected
                inputs_finite = buffer is None and all(np.isfinite(a).all() for a in args)
                diagnostics.append(Diagnostic(
                    "domain", f"gate {_at(node)} produced {_describe(value)}"
                    + (" from finite inputs" if inputs_finite else ""), node))
            values_of[node.id] = value
            shapes[node.id] = _shape(value)
            if not trace:
                for i in node.inputs:
                    if last_use[i.id] == node.id and not keep[i.id]:
                        values_of[i.id] = None

        output_value = values_of[out_id]

        # -- backward --------------------------------------------------------------------
        grads: list = [None] * count
        records = [NodeTrace(node, values_of[node.id], None) for node in nodes] if trace else None
        if needs[out_id]:
            grads[out_id] = 1.0  # ∂f/∂f; for an array f, the gradient of sum(f)
        for k in range(count - 1, -1, -1):
            node = nodes[k]
            upstream = grads[k]
            if upstream is None:
                continue
            if records is not None:
                records[k].gradient = upstream
            if node.kind != "gate":
                continue
            op = node.op
            args = [values_of[i.id] for i in node.inputs]
            ans = values_of[k]
            if op.at_kink(*args, **node.params):
                diagnostics.append(Diagnostic(
                    "kink", f"gate {_at(node)} is at its kink; using the convention {op.kink_rule}", node))
            wanted = [index for index, inp in enumerate(node.inputs) if needs[inp.id]]
            shared = False  # whether an earlier edge of this gate passed `upstream` on as it is
            for index in wanted:
                inp = node.inputs[index]
                j = inp.id
                flag.raised = False
                if op.vjp is not None:
                    local = op.formulas[index]  # the Jacobian is not elementwise: describe it
                    result, result_owned = _vjp_result(op, node, index, upstream, ans, args, shapes, trace)
                else:
                    local = op.locals[index](ans, *args)
                    # the last edge may overwrite an upstream buffer that only this gate holds
                    reuse = grad_owned[k] and not shared and index == wanted[-1]
                    # a local gradient is a new array unless it is a forward value (mul's y); a trace keeps it
                    fresh_local = not trace and local is not ans and all(local is not a for a in args)
                    result, result_owned = _edge_result(local, upstream, shapes[j], shapes[k], reuse, fresh_local)
                shared = shared or result is upstream
                if flag.raised and not np.isfinite(result).all():
                    diagnostics.append(Diagnostic(
                        "domain", f"the gradient from gate {_at(node)} to its input {inp.label!r} is "
                        f"{_describe(result)}", node))
                if trace:
                    grads[j] = result if grads[j] is None else grads[j] + result
                elif grads[j] is None:
                    grads[j], grad_owned[j] = result, result_owned
                elif grad_owned[j]:
                    np.add(grads[j], result, out=grads[j])
                else:
                    total = grads[j] + result
                    grads[j], grad_owned[j] = total, isinstance(total, np.ndarray) and total.ndim > 0
                if records is not None:
                    edge = Edge(node, index, np.float64(local) if isinstance(local, float) else local,
                                upstream, result)
                    records[k].edges.append(edge)
                    records[j].arrivals.append(edge)
            if not trace:  # every consumer of this gate is done: free what it held
                grads[k] = None
                if k != out_id:
                    values_of[k] = None

    gradients = {}
    for name, node in graph.variables.items():
        if name not in arrays:
            continue
        grad = grads[node.id]
        shape = np.shape(arrays[name])
        if grad is None:
            grad = np.zeros(shape)
        if shape == ():
            gradients[name] = float(grad)
        elif grad_owned[node.id] and grad.shape == shape:
            gradients[name] = grad  # allocated for this variable alone: no copy needed
        else:  # a copy the caller owns, in the variable's shape (the seed of sum(f) may be a scalar)
            gradients[name] = np.array(np.broadcast_to(grad, shape), dtype=np.float64)
    if np.ndim(output_value) == 0:
        output_value = float(output_value)
    return Result(graph, output_value, gradients, records, diagnostics)


def _forward_array_op(node: Node, args: list):
    """Forward of an op that is not elementwise; its shape errors name the gate."""
    try:
        return node.op.forward(*args, **node.params)
    except ValueError as exc:  # NumPy's AxisError is a ValueError too
        shapes = " and ".join(f"{_shape(a)} of {inp.label!r}" for inp, a in zip(node.inputs, args))
        raise ShapeError(f"{exc} at gate {node.label!r} ({node.op_name}); the shapes are {shapes}",
                         span=node.span) from None


def _vjp_result(op, node: Node, index: int, upstream, ans, args: list, shapes: list, trace: bool):
    """The gradient of input `index` of an op that is not elementwise, and whether the engine
    owns it (a fresh array sharing memory with nothing else, so it may be written into).

    Without a trace, inputs the op does not read (sum needs only their shape) were freed: they
    are passed as a zero-stride array of the right shape."""
    out_shape = shapes[node.id]
    g = upstream if _shape(upstream) == out_shape else np.broadcast_to(upstream, out_shape)
    if any(a is None for a in args):
        args = [np.broadcast_to(np.float64(0.0), shapes[inp.id]) if a is None else a
                for inp, a in zip(node.inputs, args)]
    result = op.vjp(g, ans, *args, index=index, **node.params)
    if not isinstance(result, np.ndarray) or result.ndim == 0:
        return np.float64(result), False
    owned = (not trace and result.flags.writeable and result.flags.owndata
             and not any(isinstance(a, np.ndarray) and np.may_share_memory(result, a)
                         for a in (upstream, ans, *args)))
    return result, owned


def _dead_buffer(node: Node, args: list, owned: list, last_use: list, keep: list, shapes: list):
    """An input's array that dies at this gate and has the output's shape, to write into."""
    if node.op.ufunc is None:
        return None
    out_shape = shapes[node.inputs[0].id]
    if len(args) == 2 and shapes[node.inputs[1].id] != out_shape:
        out_shape = np.broadcast_shapes(out_shape, shapes[node.inputs[1].id])
    for inp, arg in zip(node.inputs, args):
        i = inp.id
        if owned[i] and last_use[i] == node.id and not keep[i] and shapes[i] == out_shape:
            return arg
    return None


def _edge_result(local, upstream, shape, full_shape, reuse: bool, fresh_local: bool):
    """local × upstream summed back to the input's `shape`, and whether the result is a fresh
    array no one else holds. With `reuse`, the upstream array may be overwritten; with
    `fresh_local`, the local gradient was computed for this edge alone and may be too."""
    is_array = isinstance(upstream, np.ndarray)
    if (shape == () and full_shape != () and is_array and isinstance(local, np.ndarray)
            and local.shape == full_shape == upstream.shape):
        return np.vdot(local, upstream), False  # sum(local * upstream) without the product array
    if isinstance(local, float) and is_array:
        if _is_one(local):
            product, fresh = upstream, reuse  # passed on as it is: handed over only if ours alone
        elif reuse:
            product, fresh = np.multiply(upstream, local, out=upstream), True
        else:
            product, fresh = upstream * local, True
    elif reuse and is_array and _shape(local) in (full_shape, ()):
        product, fresh = np.multiply(local, upstream, out=upstream), True
    elif fresh_local and isinstance(local, np.ndarray) and local.shape == full_shape:
        product = local if _is_one(upstream) else np.multiply(local, upstream, out=local)
        fresh = True
    else:
        product = _times(local, upstream)
        fresh = product is not local and product is not upstream
    result = unbroadcast(product, shape, full_shape)
    if result is not product:  # summed (a new array) or a read-only broadcast view
        fresh = isinstance(result, np.ndarray) and result.flags.writeable
    return result, fresh and isinstance(result, np.ndarray) and result.ndim > 0


def _check_memory(graph: Graph, arrays: dict, keep: list, trace: bool, limit: int) -> None:
    """Refuse, before any work, a run estimated to need more than `limit` bytes.

    Every gate's value is taken to have the broadcast shape of all inputs (exact for elementwise
    gates). A trace holds each gate's value plus a local gradient and a result per edge; without
    one, the values the backward pass reads plus a few working arrays are alive at once.
    """
    if not arrays:
        return
    try:
        size = int(np.prod(np.broadcast_shapes(*(a.shape for a in arrays.values()))))
    except ValueError:
        size = max(a.size for a in arrays.values())
    gates = [n for n in graph.nodes if n.kind == "gate"]
    if trace:
        count = len(gates) + 2 * sum(len(n.inputs) for n in gates)
    else:
        count = sum(keep[n.id] for n in gates) + 3
    need = count * size * 8
    if need > limit:
        raise ResourceError(
            f"this evaluation needs about {_bytes(need)} ({count} arrays of {size:,} numbers), "
            f"more than the memory limit of {_bytes(limit)}",
            hint="raise --max-memory (0: no limit), or use --format plain, which keeps no per-edge records")


def _bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _check_broadcast(node: Node, args: list) -> None:
    sa, sb = _shape(args[0]), _shape(args[1])
    if sa == sb or not sa or not sb:
        return
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        left, right = node.inputs
        raise ShapeError(
            f"shapes {sa} of {left.label!r} and {sb} of {right.label!r} do not broadcast "
            f"at gate {node.label!r} ({node.op_name})", span=node.span,
            hint="NumPy broadcasting: trailing dimensions must be equal or 1") from None
