"""The whole Jacobian of one or more outputs with respect to the variables, by forward or reverse
mode.

J has one row per output element and one column per input element: J[i, j] = ∂outᵢ/∂inⱼ. Two
ways to fill it, with the same numbers to rounding:

- forward mode (JVP): one forward pass per output graph carrying n tangent columns at once,
  seeded with the identity over the n input elements (`gradcli.evaluation.forward.tangent_columns`);
  an output's tangent, of shape out_shape + (n,), is its rows of J. Its cost grows with n.
- reverse mode (VJP): one forward pass per output graph for the values, then one backward sweep
  carrying a batch of cotangents, one per output element (R rows), seeded with the identity. An
  elementwise gate multiplies by its local gradients (`Op.locals`) and sums the broadcast axes
  back to each input's shape (`gradcli.core.kernels.unbroadcast`, the row axis kept last); a gate
  with a VJP (`Op.vjp`: a reduction, @, a transpose) is called once per row, or, for a matrix
  product, once for all rows (a batched matmul). A variable's cotangent, of shape
  var_shape + (R,), is its columns of those rows. Its cost grows with R.

`auto` takes forward mode when there are fewer input elements (columns) than output elements
(rows), else reverse mode (JAX's advice for `jacfwd` and `jacrev`, and the cost of each above).

A zero cotangent times an infinite local gradient counts 0, not 0·inf = nan, where the zero is
structural: the row's output element does not depend (through the graph's edges, whatever the
numbers) on the gate's element, so it gets nothing from it (the identity's other rows: sqrt(v)
at v = [0, 1] has 0 off the diagonal). Where it does depend and the cotangent is 0 by the
numbers, the product is local·0 = nan, as the reverse engine gives (sqrt(x)·y at x = y = 0: nan
in column x, as forward mode and `gradcli eval` give). The masks of which rows reach which
elements (`_Reached`: the identity at the output, passed back like the cotangents but on
indicators) are made only when an infinite local first meets a zero cotangent. Forward mode
applies the same rule to its tangents (`gradcli.evaluation.forward`), so the two modes agree.
The warnings are the reverse engine's for each output graph (kinks with their conventions, nan
and inf where they first appear), once each, and one for a nan or inf in the matrix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from ..base.errors import GradcliError, ResourceError, did_you_mean, shorten
from ..core.kernels import _check_broadcast, _forward_array_op, unbroadcast
from ..core.trace import Diagnostic, DisplayMixin
from .engine import _describe
from .forward import identity_seeds, tangent_columns, times
from .hessian import element_labels

if TYPE_CHECKING:
    from ..core.graph import Graph, Node

MODES = ("auto", "forward", "reverse")


class Jacobian(DisplayMixin):
    """The Jacobian of one or more outputs at one point.

    - `matrix`: shape (m, n), float64; row i is output element i, column j input element j:
      matrix[i, j] = ∂outᵢ/∂inⱼ.
    - `rows`: the m labels, output by output in the order asked for: the output's name for a
      scalar (`f`, `g`), one per element in C order for an array (`g[0]`, `g[1]`, `A[0,1]`).
    - `columns`: the n labels, variable by variable: `x`, `W[0,0]`, `W[0,1]`, … (C order).
    - `mode`: "forward" or "reverse", the mode that ran; `reason`: one sentence on why.
    - `outputs`: {name: value} (a float for a scalar output, else an array).
    - `variables`: {name: shape} of the columns' variables, in column order.
    - `diagnostics` (and `warnings`, their messages): kinks, nan/inf, unused values.
    """

    __slots__ = ("matrix", "_rows", "_columns", "mode", "reason", "outputs", "variables", "diagnostics")

    def __init__(self, matrix: np.ndarray, rows: list[str] | None, columns: list[str] | None, mode: str,
                 reason: str, outputs: dict, variables: dict[str, tuple[int, ...]],
                 diagnostics: list[Diagnostic] | None = None) -> None:
        self.matrix = matrix
        self._rows = rows  # (None: made from the shapes when first read)
        self._columns = columns
        self.mode = mode
        self.reason = reason
        self.outputs = outputs
        self.variables = variables
        self.diagnostics = diagnostics or []

    @property
    def rows(self) -> list[str]:
        if self._rows is None:
            self._rows = _labels({name: np.shape(value) for name, value in self.outputs.items()})
        return self._rows

    @property
    def columns(self) -> list[str]:
        if self._columns is None:
            self._columns = _labels(self.variables)
        return self._columns

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def warnings(self) -> list[str]:
        return [d.message for d in self.diagnostics]

    def block(self, output: str, variable: str) -> np.ndarray:
        """∂output/∂variable in their shapes, output.shape + variable.shape: for g of shape (3,)
        and W of shape (2, 2), `block("g", "W")[i, j, k]` is ∂g[i]/∂W[j,k]."""
        rows = _spans({name: np.shape(value) for name, value in self.outputs.items()})
        columns = _spans(self.variables)
        for name, spans, what in ((output, rows, "an output"), (variable, columns, "a variable")):
            if name not in spans:
                hint = did_you_mean(name, spans) or f"the choices are: {', '.join(spans)}"
                raise GradcliError(f"{name!r} is not {what} of this Jacobian", hint=hint)
        (r, so), (c, sv) = rows[output], columns[variable]
        return self.matrix[r, c].reshape(so + sv)

    def __repr__(self) -> str:
        with np.printoptions(precision=6, threshold=64, edgeitems=3):
            matrix = repr(self.matrix)
        return (f"Jacobian(mode={self.mode!r}, rows={self.rows!r}, columns={self.columns!r},\n"
                f"         matrix={matrix})")


def _labels(shapes: Mapping[str, tuple]) -> list[str]:
    """Each name's element labels in turn (hessian.element_labels: `x`, `g[2]`, `W[0,1]`), a
    vector's made without np.ndindex (a Jacobian may have 10⁶ rows)."""
    labels: list[str] = []
    for name, shape in shapes.items():
        if len(shape) == 1:
            labels += [f"{name}[{i}]" for i in range(shape[0])]
        else:
            labels += element_labels(name, shape)
    return labels


def _spans(shapes: Mapping[str, tuple]) -> dict[str, tuple[slice, tuple]]:
    spans, start = {}, 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        spans[name] = (slice(start, start + size), tuple(shape))
        start += size
    return spans


def jacobian(graphs: Mapping[str, Graph], values: Mapping[str, object] | None = None,
             wrt: Sequence[str] | None = None, *, mode: str = "auto",
             max_memory: int | None = None) -> Jacobian:
    """The Jacobian of the outputs `graphs` ({output name: graph}, rows in this order) at
    `values`, with respect to the variables `wrt` (columns in this order; by default every
    variable with a value that some output uses, in first-use order across the outputs).

    `mode`: "forward" (one JVP pass with a tangent column per input element), "reverse" (one VJP
    sweep with a cotangent row per output element), or "auto" (forward when there are fewer
    input elements than output elements, else reverse). An output that does not depend on a
    variable has zeros in its columns.

    Raises MissingValueError (a variable without a value), GradcliError (no variables; a `wrt`
    name that is not a variable of an output with a value), ResourceError (the m × n matrix, or
    a pass, needs more than `max_memory` bytes; checked before the work), ValueError (a mode
    that is none of MODES), and what evaluating the graphs raises (shapes, values)."""
    if mode not in MODES:
        raise ValueError(f"mode is one of {', '.join(MODES)}, not {mode!r}")
    if not graphs:
        raise GradcliError("a Jacobian needs at least one output")
    from ..inputs.values import to_arrays

    arrays = to_arrays(dict(values or {}))
    owns = {name: {v: arrays[v] for v in graph.variables if v in arrays} for name, graph in graphs.items()}
    for name, graph in graphs.items():
        if any(v not in arrays for v in graph.required):
            graph.evaluate(owns[name], trace=False)  # raises MissingValueError, naming them
    used = list(dict.fromkeys(v for graph in graphs.values() for v in graph.variables if v in arrays))
    names = _chosen(used, wrt)
    shapes = {name: np.shape(arrays[name]) for name in names}
    # every node's shape, before any work (the engine's own inference: the same shape errors)
    from .shapes import infer

    inferred = {name: infer(graph, {v: np.shape(a) for v, a in owns[name].items()})[0]
                for name, graph in graphs.items()}
    sizes = {name: math.prod(inferred[name][graph.output.id]) for name, graph in graphs.items()}
    m, n = sum(sizes.values()), sum(math.prod(shape) for shape in shapes.values())
    if max_memory and 8 * m * n > max_memory:
        raise ResourceError(f"a Jacobian of {m} × {n} entries needs more memory than the limit",
                            hint="differentiate fewer outputs or with respect to fewer variables, "
                                 "or allow more memory")
    how = {"forward": f"one forward pass with {_count(n, 'tangent column')}",
           "reverse": f"one backward sweep with {_count(m, 'cotangent row')}"}
    if mode == "auto":
        mode = "forward" if n < m else "reverse"
        why = (f"{_count(n, 'input element')} < {_count(m, 'output element')}" if mode == "forward" else
               f"{_count(m, 'output element')} <= {_count(n, 'input element')}")
        reason = f"auto: {why}: {how[mode]}"
    else:
        reason = f"asked for: {how[mode]}"
    if max_memory:
        for name, graph in graphs.items():
            # a tangent (or cotangent) per node moved by the columns' variables, n (or its rows) wide
            moved = _moved(graph, set(names))
            held = 8 * (n if mode == "forward" else sizes[name]) * sum(
                math.prod(inferred[name][node.id]) for node in graph.nodes if node in moved)
            if held > max_memory:
                raise ResourceError(f"the {how[mode][4:]} over {name!r} needs more memory than the limit",
                                    hint="differentiate fewer outputs or with respect to fewer variables, "
                                         "or allow more memory")
    diagnostics: list[Diagnostic] = []
    seen: set[str] = set()

    def report(found) -> None:
        for diagnostic in found:
            if diagnostic.message not in seen:
                seen.add(diagnostic.message)
                diagnostics.append(diagnostic)

    from .outputs import unused_values

    report(unused_values(graphs, arrays))
    outputs: dict = {}
    blocks = []
    for name, graph in graphs.items():
        report(graph.notes)
        if mode == "forward":  # the pass gives the value and the warnings the engine would
            outputs[name], block, found = _forward_rows(graph, owns[name], names, shapes, n, max_memory)
            report(found)
        else:  # the engine's pass for the value and its warnings, then the sweep
            first = graph.evaluate(owns[name], trace=False, max_memory=max_memory)
            report(first.diagnostics)
            outputs[name] = first.value
            with np.errstate(all="ignore"):
                block = _reverse_rows(graph, owns[name], names, shapes, int(np.size(first.value)))
        blocks.append(block)
    matrix = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    matrix += 0.0  # -0.0 (a zero times a negative local) is written 0.0, as people and the other mode write it
    result = Jacobian(matrix, None, None, mode, reason, outputs, shapes, diagnostics)
    if not np.isfinite(matrix).all():
        rows, columns = result.rows, result.columns
        where = np.nonzero(~np.isfinite(matrix))
        count = len(where[0])
        listed = ", ".join(f"J[{rows[i]},{columns[j]}]" for i, j in zip(where[0][:4], where[1][:4])) + (
            f" and {count - 4} more" if count > 4 else "")
        report([Diagnostic("domain", f"the Jacobian holds {_describe(matrix)} at {listed}")])
    result.outputs = {name: float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=np.float64)
                      for name, v in outputs.items()}
    return result


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" if k == 1 else f"{k} {noun}s"


def _chosen(used: list[str], wrt: Sequence[str] | None) -> list[str]:
    """The columns' variables: `wrt` (checked, in its order, each once) or every one used."""
    if not used:
        raise GradcliError("nothing to differentiate: no output uses a variable with a value",
                           hint='give an expression of variables and their values, e.g. "x*y" with x=1, y=2')
    if wrt is None:
        return used
    if isinstance(wrt, str):
        wrt = [wrt]
    names: list[str] = []
    for name in wrt:
        if name not in used:
            hint = did_you_mean(name, used) or f"variables: {', '.join(used)}"
            raise GradcliError(f"cannot differentiate with respect to {shorten(name)!r}: it is not a variable "
                               "of the outputs with a value", hint=hint)
        if name not in names:
            names.append(name)
    if not names:
        raise GradcliError("wrt needs at least one variable name", hint="name a variable, e.g. x")
    return names


def _moved(graph: Graph, names: set) -> set:
    """The nodes that the variables `names` move: those variables, and every gate fed by one."""
    moved = set()
    for node in graph.nodes:
        if node.kind == "var" and node.name in names or node.kind == "gate" and any(i in moved for i in node.inputs):
            moved.add(node)
    return moved


def _forward_rows(graph: Graph, arrays: dict, names: list[str], shapes: dict, n: int,
                  max_memory: int | None) -> tuple[object, np.ndarray, list[Diagnostic]]:
    """An output's value, its rows of J by forward mode (its tangent with n columns, as an
    array (size, n) of its own) and the pass's diagnostics."""
    seeds = {name: seed for name, seed in identity_seeds(names, shapes, n).items() if name in graph.variables}
    with np.errstate(all="ignore"):
        value, tangent, found = tangent_columns(graph, arrays, seeds, n, max_memory=max_memory)
    size = int(np.size(value))
    if tangent is None:
        return value, np.zeros((size, n)), found
    tangent = np.asarray(tangent, dtype=np.float64)
    if tangent.shape != np.shape(value) + (n,):  # (one that stands for its broadcast)
        tangent = np.array(np.broadcast_to(tangent, np.shape(value) + (n,)))
    return value, tangent.reshape(size, n), found


def _reverse_rows(graph: Graph, arrays: dict, names: list[str], shapes: dict, rows: int) -> np.ndarray:
    """An output's rows of J by reverse mode: the forward values, then one backward sweep with
    `rows` cotangents at once (each node's cotangent of shape node_shape + (rows,))."""
    nodes = graph.nodes
    needs = _moved(graph, set(names))
    values: dict = {}
    for node in nodes:
        kind = node.kind
        if kind == "var":
            value = arrays.get(node.name)
            values[node] = np.float64(node.default) if value is None else value
        elif kind == "const":
            values[node] = np.float64(node.default)
        else:
            args = [values[i] for i in node.inputs]
            if node.op.vjp is not None:
                values[node] = _forward_array_op(node, args)
            else:
                if len(args) >= 2:
                    _check_broadcast(node, args)
                values[node] = node.op.forward(*args, **node.params) if node.params else node.op.forward(*args)
    out = graph.output
    n = sum(math.prod(shapes[name]) for name in names)
    block = np.zeros((rows, n))
    if out not in needs:
        return block
    out_shape = np.shape(values[out])
    cotangents: dict = {out: np.eye(rows).reshape(out_shape + (rows,))}
    reached = _Reached(nodes, out, needs, values, rows)  # (made only if asked for)
    for node in reversed(nodes):
        g = cotangents.get(node)
        if g is None or node.kind != "gate":
            continue
        del cotangents[node]
        op = node.op
        args = [values[i] for i in node.inputs]
        ans = values[node]
        full = np.shape(ans)
        for k, inp in enumerate(node.inputs):
            if inp not in needs:
                continue
            in_shape = np.shape(args[k])
            if op.vjp is None:
                # local · g with the rows as forward mode's columns, the same 0·∞ rule for structural zeros
                term = unbroadcast(times(op.locals[k](ans, *args), g, rows, reach=lambda node=node: reached.of(node)),
                                   in_shape + (rows,), full + (rows,))
            else:
                if op.body is None and k < len(op.rule) and op.rule[k] is None:
                    continue  # the output reads only that input's shape
                term = _vjp_rows(node, k, g, ans, args, in_shape, rows, lambda node=node: reached.of(node))
            before = cotangents.get(inp)
            cotangents[inp] = term if before is None else before + term
    start = 0
    variables = graph.variables
    for name in names:
        size = math.prod(shapes[name])
        node = variables.get(name)
        g = cotangents.get(node) if node is not None else None
        if g is not None:
            block[:, start:start + size] = np.broadcast_to(g, shapes[name] + (rows,)).reshape(size, rows).T
        start += size
    return block


# reductions over an axis: each output element depends on every input element it reduces
_REDUCTIONS = frozenset(("sum", "mean", "amax", "amin", "logsumexp", "norm"))


class _Reached:
    """Reverse mode's reached masks, made all at once when first asked for: per node, a bool
    array node_shape + (rows,) saying which rows' output elements depend on each of its
    elements (through the graph's edges, whatever the numbers), None where none does. Seeded
    with the identity at the output; an elementwise gate passes its mask back to each input,
    ORed over the broadcast axes; a reduction spreads it over the elements it reduces; a
    transpose transposes it; an op linear in the input (@, dot, expand_as, ...) applies its VJP
    to the float mask with ones for the other inputs (no numerical zero hides a dependence),
    > 0; any other op (a user function's body, `scalar`) marks every input element from any
    output element of the row."""

    __slots__ = ("nodes", "out", "needs", "values", "rows", "masks")

    def __init__(self, nodes: list, out: Node, needs: set, values: dict, rows: int) -> None:
        self.nodes = nodes
        self.out = out
        self.needs = needs
        self.values = values
        self.rows = rows
        self.masks: dict | None = None

    def of(self, node: Node):
        if self.masks is None:
            self.masks = self._make()
        return self.masks.get(node)

    def _make(self) -> dict:
        from ..differentiation.derivative import _ZERO_IF

        values, rows, needs = self.values, self.rows, self.needs
        out = self.out
        order = [node for node in self.nodes if node in needs]
        masks: dict = {}
        masks[out] = np.eye(rows, dtype=bool).reshape(np.shape(values[out]) + (rows,))
        for node in reversed(order):
            m = masks.get(node)
            if m is None or node.kind != "gate":
                continue
            op = node.op
            args = [values[i] for i in node.inputs]
            ans = values[node]
            full = np.shape(ans) + (rows,)
            for k, inp in enumerate(node.inputs):
                if inp not in needs:
                    continue
                in_shape = np.shape(args[k])
                d = len(in_shape)
                if op.vjp is None:
                    got = unbroadcast(m.astype(np.float64), in_shape + (rows,), full) > 0
                elif op.body is None and k < len(op.rule) and op.rule[k] is None:
                    continue
                elif op.body is None and op.name in _REDUCTIONS:
                    axis = node.params.get("axis")
                    spread = m if axis is None or not d else np.expand_dims(m, axis % d)
                    got = np.broadcast_to(spread, in_shape + (rows,))
                elif op.body is None and op.name == "T":
                    got = np.transpose(m, tuple(range(d - 1, -1, -1)) + (d,))
                elif op.body is None and k in _ZERO_IF.get(op.name, ()):
                    ones = [np.ones(np.shape(a)) for a in args]
                    got = np.empty(in_shape + (rows,), dtype=bool)
                    for r in range(rows):
                        row = np.ascontiguousarray(m[..., r], dtype=np.float64)
                        got[..., r] = np.asarray(op.vjp(row, np.ones(np.shape(ans)), *ones, index=k,
                                                        **node.params)) > 0
                else:
                    got = np.broadcast_to(m.reshape(-1, rows).any(axis=0), in_shape + (rows,))
                before = masks.get(inp)
                masks[inp] = got if before is None else before | got
        return masks


def _vjp_rows(node: Node, k: int, g: np.ndarray, ans, args: list, in_shape: tuple, rows: int,
              reach=None) -> np.ndarray:
    """The VJP of input k for every cotangent row, in_shape + (rows,): a matrix product's for all
    rows at once (one batched matmul), any other op's row by row (a VJP is linear in its
    cotangent). In the batched product, a nan or inf of the other matrix times a zero of g
    counts 0 where that zero is structural (`reach()`: the gate's reached mask, asked for only
    then; see the module), else nan: the product runs with 0 in its place and each such
    element's terms are added after."""
    op = node.op
    out_shape = np.shape(ans)
    if op.name in ("matmul", "dot") and rows > 1 and 0 not in out_shape and 0 not in in_shape:
        # as matrices (a vector a is a row (1, k), b a column (k, 1)); g is (p, q, rows)
        a, b = args
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        p, q = a2.shape[0], b2.shape[1]
        g3 = g.reshape(p, q, rows)
        other = b2 if k == 0 else a2
        finite = np.isfinite(other)
        bad = not finite.all()
        if bad:
            other = np.where(finite, other, 0.0)
        if k == 0:  # the rows' g @ bᵀ, (p, rows, q) @ (q, k) as one product
            product = np.ascontiguousarray(
                (g3.transpose(0, 2, 1).reshape(p * rows, q) @ other.T).reshape(p, rows, -1).transpose(0, 2, 1))
        else:  # aᵀ @ the rows' g, (k, p) @ (p, q·rows) as one product
            product = (other.T @ g3.reshape(p, q * rows)).reshape(-1, q, rows)
        if bad:  # each non-finite element's terms, a structural zero of g counting 0
            zero = g3 == 0
            mask = reach() if reach is not None and zero.any() else None
            structural = zero if mask is None else zero & ~np.broadcast_to(mask, g.shape).reshape(p, q, rows)
            if k == 0:  # product[i, j, r] += g[i, c, r] · b[j, c]
                for j, c in zip(*np.nonzero(~finite)):
                    product[:, j, :] += np.where(structural[:, c, :], 0.0, g3[:, c, :] * b2[j, c])
            else:  # product[j, c, r] += a[i, j] · g[i, c, r]
                for i, j in zip(*np.nonzero(~finite)):
                    product[j] += np.where(structural[i], 0.0, a2[i, j] * g3[i])
        if bad or np.isfinite(product).all() or not (np.isfinite(a).all() and np.isfinite(b).all()):
            return product.reshape(in_shape + (rows,))
        # an overflow with finite inputs: the op's own VJP rescues it, row by row
    result = np.empty(in_shape + (rows,))
    for r in range(rows):
        row = g[..., r].copy()  # (contiguous, and 0-d for a scalar output)
        result[..., r] = op.vjp(row, ans, *args, index=k, **node.params)
    return result

