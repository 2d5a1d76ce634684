"""Every gate's shape before the run, and the memory the run will need (--max-memory).

Shapes follow the ops' own rules, gate by gate: broadcasting for elementwise gates, the reduced
axis for `sum(X, axis=0)` & co., the product's rows and columns for `dot` and `@`, the reversed
shape for `T`. A shape error found here is the one the forward pass would raise at that gate, so
a run that would fail fails before any work, with the same message.

The estimate follows the engines' own bookkeeping with those shapes:
  - traced: the inputs, every gate's value, each edge's local gradient and result, each node's
    gradient, and a few working arrays of the largest step;
  - untraced: the arrays alive at each step of the forward and backward passes (a value lives
    until its last reader, a gradient from its first arrival until its gate has passed it on),
    plus working arrays of that step's size, at the worst step.
It is an upper bound of what NumPy allocates (tests/test_memory.py measures it).
"""

from __future__ import annotations

import numpy as np

from ..base.errors import ResourceError, ShapeError
from ..core.kernels import array_op_shape, broadcast_error

# Temporary arrays an op's formula may hold at once (a local gradient's, a reduction's, a
# forward that is not one ufunc), in arrays of the size it works on: measured over every op of
# the registry (tests/test_memory.py), with room for a formula that grows a temporary or two.
TEMPORARIES = 3
FORMULA = 6  # a local gradient's formula: pow's, in both tails, takes the most
ITEM = 8  # bytes of a float64
BUFFERS = 2**18  # NumPy's own buffers (a reduction over a broadcast view takes 64 KiB a time)
# Ops that are not elementwise whose forward is one NumPy call (writing its output only)
_PLAIN_FORWARD = frozenset(("sum", "mean", "amax", "amin", "dot", "matmul", "T"))


def gate_shape(node, shapes: list) -> tuple | None:
    """A gate's output shape from its inputs' shapes; None where it is not known before the run
    (a user function, an op without a rule). Raises the ShapeError the forward pass would."""
    op = node.op
    if op.body is not None:
        return None  # its body decides (see _body_shape)
    if op.vjp is None:  # elementwise: broadcasting
        if len(shapes) == 2:
            sa, sb = shapes
            if sa == sb or not sb:
                return sa
            if not sa:
                return sb
            try:
                return np.broadcast_shapes(sa, sb)
            except ValueError:
                raise broadcast_error(node, sa, sb) from None
        if len(shapes) == 1:
            return shapes[0]
        try:  # three inputs (clip)
            return np.broadcast_shapes(*shapes)
        except ValueError:
            raise broadcast_error(node, *shapes) from None
    return array_op_shape(node, shapes)


def _size(shape: tuple) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _largest(shapes: list) -> tuple:
    return max(shapes, key=_size, default=())


def _body_shape(node, shapes: list, sure: bool) -> tuple:
    """A user function's output shape: its body's, run on its inputs, and at least their
    broadcast (a body of elementwise gates gives one value per element)."""
    try:
        full = np.broadcast_shapes(*shapes)
    except ValueError:
        full = _largest(shapes)
    from ..language.composite import flat_body  # the body with every call inlined: no recursion here

    function = node.op.body
    flat = flat_body(function)
    try:
        inner = infer(flat.graph, {p: s for p, s in zip(function.params, shapes)})[0][flat.output]
    except ShapeError:
        inner = full
    return _largest([full, inner])


def infer(graph, var_shapes: dict) -> tuple[list, list]:
    """(shapes, sure): every node's shape, and whether it is certain. A shape after a user
    function is an upper bound, not certain; a shape error there is left to the run to find.
    Kept on the graph for the last shapes asked (a graph is evaluated again and again: batch
    chunks, a function's body at each call)."""
    key = tuple(sorted((name, tuple(shape)) for name, shape in var_shapes.items()))
    cached = graph.__dict__.get("_inferred")
    if cached is not None and cached[0] == key:
        return cached[1]
    found = _infer(graph, var_shapes)
    graph._inferred = (key, found)
    return found


def _infer(graph, var_shapes: dict) -> tuple[list, list]:
    shapes: list = [()] * len(graph.nodes)
    sure = [True] * len(graph.nodes)
    for node in graph.nodes:
        k = node.id
        if node.kind == "var":
            shapes[k] = tuple(var_shapes.get(node.name, ()))
            continue
        if node.kind != "gate":
            continue
        ins = [shapes[i.id] for i in node.inputs]
        certain = all(sure[i.id] for i in node.inputs)
        if node.op.body is not None:
            shapes[k], sure[k] = _body_shape(node, ins, certain), False
            continue
        try:
            shape = gate_shape(node, ins)
        except ShapeError:
            if certain:
                raise
            shape = None
        if shape is None:
            try:
                shape = np.broadcast_shapes(*ins)
            except ValueError:
                shape = _largest(ins)
            certain = False
        shapes[k], sure[k] = tuple(shape), certain
    return shapes, sure


class Estimate:
    """What a run needs: bytes at the worst moment, and its largest array (for the message)."""

    __slots__ = ("bytes", "largest", "where")

    def __init__(self, need: int, largest: int, where) -> None:
        self.bytes = need
        self.largest = largest  # numbers in the largest array
        self.where = where  # the gate holding it, or None (an input)


def reads(node, index: int) -> tuple:
    """Which forward values the op's local gradient (or vjp) of input `index` reads: input
    positions and "ans" (the gate's output)."""
    op = node.op
    if op.reads is not None:
        return op.reads[index]
    positions = tuple(range(op.arity)) if op.uses_inputs else ()
    return positions + ("ans",) if op.uses_output else positions


_PLAIN: dict = {}


def _passes_a_value(op, index: int) -> bool:
    """Whether the op's local gradient is one of the values it is given (exp's is its output,
    mul's the other input) or a constant (add's 1): then it allocates nothing. Found by calling
    it once on one-element stand-ins."""
    key = (op.name, op.arity, index)
    found = _PLAIN.get(key)
    if found is None:
        if op.body is not None or op.vjp is not None:
            return False
        args = [np.full(1, 0.75 + 0.125 * i) for i in range(op.arity + 1)]
        try:
            with np.errstate(all="ignore"):
                local = op.locals[index](*args)
        except Exception:  # a formula that needs more than stand-ins: counted as a formula
            local = None
        found = isinstance(local, float) or any(local is a for a in args)
        _PLAIN[key] = found
    return found


def full_reduction(node) -> bool:
    """sum or mean over every element: both engines pass a scalar standing for the spread
    upstream gradient (no array)."""
    return node.op.name in ("sum", "mean") and node.params.get("axis") is None


def estimate(graph, var_shapes: dict, trace: bool, plan=None) -> Estimate:
    """The memory a run of `graph` with variables of these shapes needs, in bytes. `plan`: the
    untraced engine's liveness plan (_Plan, below), needed when trace is False."""
    shapes, _ = infer(graph, var_shapes)
    nodes = graph.nodes
    count = len(nodes)
    sizes = [_size(s) for s in shapes]
    given = [node.kind == "var" and node.name in var_shapes for node in nodes]
    if plan is None:
        needs = [False] * count
        for node in nodes:
            needs[node.id] = given[node.id] or node.kind == "gate" and any(needs[i.id] for i in node.inputs)
    else:
        needs = plan.needs

    # Backward: how big each node's gradient is as an array (a full reduction passes a scalar on;
    # an elementwise gate's product is no bigger than its local and upstream), and what each
    # step computes besides: per edge the local (its formula's temporaries), local × upstream
    # and the sum back to the input's shape.
    grad = [0] * count
    forward = [0] * count  # a step's working arrays, in numbers
    backward = [0] * count
    kept = [0] * count  # arrays a step leaves for the rest of the run (a traced run's locals)
    out = graph.output.id
    grad[out] = 1 if trace is False else sizes[out]
    for node in nodes:
        if node.kind != "gate":
            continue
        k = node.id
        op = node.op
        widest = max([sizes[k]] + [sizes[i.id] for i in node.inputs])
        if op.body is not None:
            forward[k] = _body_need(node, [shapes[i.id] for i in node.inputs], sizes[k])
        elif op.vjp is None:
            forward[k] = 0 if op.ufunc is not None else TEMPORARIES * sizes[k]
        elif op.name not in _PLAIN_FORWARD:  # a formula of several steps: a few arrays of its input
            forward[k] = TEMPORARIES * widest
    consumers = [0] * count
    for node in nodes:
        for inp in node.inputs:
            consumers[inp.id] += 1
    for k in range(count - 1, -1, -1):
        node = nodes[k]
        if node.kind != "gate" or not needs[k]:
            continue
        op = node.op
        upstream = grad[k] if not trace else sizes[k]
        work = forward[k] if op.body is not None else 0  # a function's body may run again
        if op.kink is not None or op.kink_offset is not None:
            work = max(work, TEMPORARIES * max([sizes[k]] + [sizes[i.id] for i in node.inputs]))
        for index, inp in enumerate(node.inputs):
            j = inp.id
            if not needs[j]:
                continue
            meets = sizes[j] if consumers[j] > 1 else 0  # gradients added where they meet: a new sum
            if op.vjp is not None:
                local = 0
                if full_reduction(node) and not trace:
                    arrival = upstream
                    step = meets
                else:
                    arrival = sizes[j]
                    step = TEMPORARIES * max(sizes[j], sizes[k]) + sizes[j] + meets
            else:
                read = [sizes[k] if position == "ans" else sizes[node.inputs[position].id]
                        for position in reads(node, index)]
                local = max(read, default=1)
                product = max(local, upstream)
                arrival = min(product, sizes[j])
                # the local's formula and its temporaries; then local × upstream, summed back
                then = product + (arrival if arrival < product else 0) + meets
                step = then if _passes_a_value(op, index) else max((1 + FORMULA) * local, local + then)
            work = max(work, step)
            grad[j] = max(grad[j], arrival)
            if trace:
                kept[k] += local + sizes[j]  # each edge's local and result stay in the trace
        backward[k] = work

    largest = max(range(count), key=lambda k: sizes[k] if nodes[k].kind != "const" else -1, default=None)
    where = nodes[largest] if largest is not None and nodes[largest].kind == "gate" else None
    top = sizes[largest] if largest is not None else 0
    if trace:
        need = sum(sizes[k] + grad[k] + kept[k] for k in range(count) if given[k] or nodes[k].kind == "gate")
        work = max(max(forward, default=0), max(backward, default=0))
    else:
        need, work = _untraced_need(graph, sizes, given, grad, forward, backward, plan), 0
    masks = max(sizes, default=0) // 4  # the boolean masks of the finite checks (1 byte a number)
    return Estimate((need + work + masks) * ITEM + BUFFERS, top, where)


def _untraced_need(graph, sizes: list, given: list, grad: list, forward: list, backward: list, plan) -> int:
    """The peak of the arrays alive at once over the forward and backward passes, in numbers:
    a value from its gate's step to its last reader, a gradient from its first arrival to its
    gate's backward step, the inputs throughout, and each step's working arrays."""
    nodes = graph.nodes
    n = len(nodes)
    end = 2 * n  # forward step k is time k, backward step k is time 2n - 1 - k
    delta = [0] * (end + 2)
    work = [0] * (end + 1)
    out = graph.output.id
    needs, fwd_last, last = plan.needs, plan.fwd_last, plan.careful_last

    def alive(start: int, stop: int, size: int) -> None:
        delta[start] += size
        delta[stop + 1] -= size

    for node in nodes:
        k = node.id
        if given[k]:
            alive(0, end, sizes[k])
        elif node.kind == "gate":
            if k == out or fwd_last[k] == -1:
                stop = end
            elif last[k] != -1:
                stop = end - 1 - last[k]
            else:
                stop = fwd_last[k]
            alive(k, stop, sizes[k])
            work[k] = forward[k]
            work[end - 1 - k] = backward[k]
        if needs[k] and k != out and fwd_last[k] != -1:  # its gradient, from its first arrival
            if node.kind == "var":  # the caller gets an array of the variable's shape
                alive(end - 1 - fwd_last[k], end, sizes[k])
            else:
                alive(end - 1 - fwd_last[k], end - 1 - k, grad[k])
    peak = running = 0
    for t in range(end + 1):
        running += delta[t]
        peak = max(peak, running + work[t])
    return peak


def _body_need(node, shapes: list, out_size: int) -> int:
    """A user function's call: its body's untraced run on its inputs (the body with every call
    inlined, so no recursion however deep the calls go), and the value and local gradients it
    keeps for the backward pass."""
    from ..language.composite import flat_body

    function = node.op.body
    body = flat_body(function).graph
    try:
        full = np.broadcast_shapes(*shapes)
    except ValueError:
        full = _largest(shapes)
    params = {p: s for p, s in zip(function.params, shapes) if p in body.variables}
    key = tuple(sorted(params.items()))
    cache = body.__dict__.setdefault("_body_need", {})
    if key not in cache:
        try:
            cache[key] = estimate(body, params, False, _Plan(body, params)).bytes // ITEM
        except ShapeError:
            cache[key] = TEMPORARIES * _size(full)
    kept = (1 + len(function.params)) * max(out_size, _size(full))
    return cache[key] + 2 * kept  # kept by the call, and the copies it hands out


def check_memory(graph, arrays: dict, trace: bool, limit: int, plan=None) -> None:
    """Refuse, before any work, a run estimated to need more than `limit` bytes."""
    if not arrays:
        return
    need = estimate(graph, {name: a.shape for name, a in arrays.items()}, trace, plan)
    if need.bytes > limit:
        where = f"at gate {need.where.label!r}" if need.where is not None else "an input"
        raise ResourceError(
            f"this evaluation needs about {_bytes(need.bytes)} (its largest array, {where}, holds "
            f"{need.largest:,} numbers), more than the memory limit of {_bytes(limit)}",
            hint="raise --max-memory (0: no limit)"
            + (", or use --format plain, which keeps no per-edge records" if trace else ""))


def _bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


# -- the untraced engine's liveness plan (gradcli.evaluation.engine runs it; the estimate above reads it) --

def _reads(node, index: int) -> tuple:
    """Which forward values the fast pass reads for the gradient of input `index`: input
    positions, "ans"."""
    if node.op.name == "div" and index == 1 and _is_unit_constant(node.inputs[0]):
        return ("ans",)  # 1/y: -ans² (Op.in_place), y itself is not needed (so 1/y is computed in y's array)
    return reads(node, index)


def _is_unit_constant(node) -> bool:
    return node.kind == "const" and node.default is not None and abs(node.default) == 1.0


class _Plan:
    """Who needs a gradient, and the last forward and backward reader of each value.

    `bwd_last` follows the untraced fast pass's reads (`_reads`); `careful_last` the ops' own
    (`Op.reads`), which the traced loop's careful rerun reads: it is never earlier."""

    __slots__ = ("needs", "fwd_last", "bwd_last", "careful_last", "wanted_of")

    def __init__(self, graph, arrays) -> None:
        nodes = graph.nodes
        count = len(nodes)
        self.needs = needs = [False] * count
        self.fwd_last = fwd_last = [-1] * count
        # the backward pass runs in reverse: a value's last reader there has the lowest id
        self.bwd_last = bwd_last = [-1] * count
        self.careful_last = careful_last = [-1] * count
        self.wanted_of = wanted_of = [None] * count
        for node in nodes:
            k = node.id
            if node.kind == "var":
                needs[k] = node.name in arrays
                continue
            inputs = node.inputs
            for inp in inputs:
                fwd_last[inp.id] = k
            if node.kind != "gate":
                continue
            wanted = [index for index, inp in enumerate(inputs) if needs[inp.id]]
            if not wanted:
                continue
            needs[k] = True
            wanted_of[k] = wanted
            op = node.op
            for last, reads_of in ((bwd_last, _reads), (careful_last, reads)):
                read = set()
                for index in wanted:
                    read.update(reads_of(node, index))
                if op.kink is not None or op.kink_offset is not None:
                    read.update(range(len(inputs)))  # the kink check reads every input
                for position in read:  # in id order, the first reader is the backward pass's last
                    i = k if position == "ans" else inputs[position].id
                    if last[i] == -1:
                        last[i] = k
