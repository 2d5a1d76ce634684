"""Registry ops as JavaScript: the circuit page (gradcli.render.page) re-evaluates a graph in the
browser with the functions written here.

Each op's forward is one small JavaScript function (elementwise ops on numbers, mapped over
arrays with NumPy's broadcasting; reductions, products and the transpose on arrays). Each op's
derivative is **not** written here: it is the op's registry rule (`Op.rule`), compiled by the
differentiation layer into a `Template` (steps of registry ops) and printed here as JavaScript
calls of those forwards, as language/printer.py prints a graph as gradcli source. A user
function's forward is its body, printed the same way; its derivative is its body's VJP template.

Only registry text and numbers reach the code: op names are registry identifiers (a user
function is called `u0`, `u1`…), numbers are written by `number`, strings by `string` (JSON with
`<`, `>`, `&` and the line separators escaped, so nothing closes the page's `<script>`). Names
and values the user gave travel as JSON data that the page parses, never as code.

The runtime `R` (RUNTIME below) holds arrays as {shape, data: Float64Array}; a scalar is shape [].
"""

from __future__ import annotations

import json
import math

from ..core.graph import Node
from ..core.ops import OPS, Op
from ..differentiation.derivative import _COTANGENT, RULES, Template

# The forward of every elementwise op, on JavaScript numbers (IEEE doubles, as NumPy's float64).
# JavaScript's Math functions may differ from NumPy's in the last bit: tests/test_page.py holds
# the page's numbers to the Python engine's at 1e-12 relative.
ELEMENTWISE = {
    "add": "(x, y) => x + y",
    "sub": "(x, y) => x - y",
    "mul": "(x, y) => x * y",
    "div": "(x, y) => x / y",
    "neg": "(x) => -x",
    "pow": "(x, y) => (y === 0 ? 1 : x === 1 ? 1 : Math.pow(x, y))",
    "exp": "Math.exp",
    "log": "Math.log",
    "sqrt": "Math.sqrt",
    "sin": "Math.sin",
    "cos": "Math.cos",
    "tan": "Math.tan",
    "tanh": "Math.tanh",
    "sigmoid": "(x) => { const e = Math.exp(-Math.abs(x)); return x >= 0 ? 1 / (1 + e) : e / (1 + e); }",
    "softplus": "(x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))",
    "relu": "(x) => (x > 0 ? x : x <= 0 ? 0 : NaN)",
    "abs": "Math.abs",
    "max": "(x, y) => (x !== x || y !== y ? NaN : x > y ? x : y)",
    "min": "(x, y) => (x !== x || y !== y ? NaN : x < y ? x : y)",
    "sinh": "Math.sinh",
    "cosh": "Math.cosh",
    "sign": "(x) => (x > 0 ? 1 : x < 0 ? -1 : x)",
    "step": "(x) => (x > 0 ? 1 : x <= 0 ? 0 : NaN)",
    "equal": "(x, y) => (x === y ? 1 : 0)",
    "atan2": "Math.atan2",
    "hypot": "(x, y) => (x === Infinity || x === -Infinity || y === Infinity || y === -Infinity ? Infinity : Math.hypot(x, y))",
    "log1p": "Math.log1p",
    "expm1": "Math.expm1",
    "log2": "Math.log2",
    "log10": "Math.log10",
    "atan": "Math.atan",
    "asin": "Math.asin",
    "acos": "Math.acos",
    "clip": "(x, lo, hi) => { const m = (x !== x || lo !== lo) ? NaN : x > lo ? x : lo; "
            "return (m !== m || hi !== hi) ? NaN : m < hi ? m : hi; }",
    "xlogy": "(x, y) => (x === 0 ? (y !== y ? NaN : 0) : x * Math.log(y))",
    "erf": "R.erf",
}

# The ops that are not elementwise (and diff, whose value takes the broadcast shape of both
# inputs): functions of the runtime, on arrays, with the gate's params as the last argument.
ARRAY = {
    "sum": "R.sum", "mean": "R.mean", "amax": "R.amax", "amin": "R.amin",
    "logsumexp": "R.logsumexp", "norm": "R.norm", "dot": "R.matmul", "matmul": "R.matmul",
    "T": "R.T", "expand_as": "R.expandAs", "sum_as": "R.sumAsOp", "max_weights": "R.maxWeights",
    "min_weights": "R.minWeights", "size": "R.size", "matmul_vjp_a": "R.matmulVjpA",
    "matmul_vjp_b": "R.matmulVjpB", "scalar": "R.scalar", "diff": "R.first",
}


def string(text: str) -> str:
    """A JavaScript string literal of `text`, safe inside a <script> element."""
    out = json.dumps(text, ensure_ascii=True)
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def number(value: float) -> str:
    """A JavaScript number literal (NaN, Infinity, -Infinity too): repr round-trips a double."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"({value!r})" if value < 0 or (value == 0 and math.copysign(1.0, value) < 0) else repr(value)


def data(value) -> str:
    """A JSON document for the page's data block: inside <script type="application/json">,
    with <, > and & escaped so that no text of it ends the element. Non-finite floats as strings
    "NaN", "Infinity", "-Infinity" (JSON has none; the page reads them back)."""
    out = json.dumps(_json_safe(value), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json_safe(value):
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class Printer:
    """Builds the `OPS` table of the ops a graph uses (and those their rules use): per op, `f`
    the forward on arrays and, per input, `d` the local gradient (elementwise ops) or `vjp` the
    VJP (the others), printed from the rule's template."""

    def __init__(self) -> None:
        _load_rules()
        self.keys: dict[int, str] = {}  # id(op) -> its key in OPS
        self.ops: dict[str, Op] = {}
        self.pending: list[Op] = []
        self.entries: list[str] = []

    def key(self, op: Op) -> str:
        """The op's key in OPS (queued for printing when first seen)."""
        k = self.keys.get(id(op))
        if k is None:
            if op.body is not None:
                k = f"u{sum(1 for o in self.ops.values() if o.body is not None)}"
            else:
                if op.name not in OPS or OPS[op.name] is not op:
                    raise ValueError(f"the op {op.name!r} is not in the registry")
                if op.name not in ELEMENTWISE and op.name not in ARRAY:
                    raise ValueError(f"the op {op.name!r} has no JavaScript forward")
                k = op.name
            self.keys[id(op)] = k
            self.ops[k] = op
            self.pending.append(op)
        return k

    def add_graph(self, nodes) -> None:
        for node in nodes:
            if node.kind == "gate":
                self.key(node.op)

    def source(self) -> str:
        """`const OPS = {...};` for every op queued, and every op their rules call."""
        while self.pending:
            op = self.pending.pop(0)
            self.entries.append(self._entry(op))
        return "const OPS = {\n" + ",\n".join(self.entries) + "\n};\n"

    def _template(self, template: Template | None, names: list[str], params: str = "p") -> str:
        """A function body evaluating the template, its args named `names` (cotangent: g)."""
        if template is None or template.result is None:
            return "return null;"
        lines = []

        def ref(r) -> str:
            kind, value = r
            if kind == "arg":
                return "g" if value == _COTANGENT else names[value]
            if kind == "const":
                return f"R.c({number(value)})"
            return f"s{value}"

        for j, (op, own, refs) in enumerate(template.steps):
            key = self.key(op)
            call_params = f"R.params({params}, {_params(own)}, {string(','.join(op.params))})"
            lines.append(f"const s{j} = OPS[{string(key)}].f({', '.join(ref(r) for r in refs)}, {call_params});")
        lines.append(f"return {ref(template.result)};")
        return " ".join(lines)

    def _entry(self, op: Op) -> str:
        key = self.keys[id(op)]
        names = ["x", "y", "z"][:op.arity] if op.arity <= 3 else [f"a{i}" for i in range(op.arity)]
        args = ", ".join(names)
        if op.body is not None:
            function = op.body
            body = function.body
            params = {}
            for i, name in enumerate(function.params):
                node = body.variables.get(name)
                if node is not None:
                    params[node] = i
            forward = Template.from_nodes(body.output, params)
            f = f"function ({args}, p) {{ {self._template(forward, names)} }}"
            elementwise = op.vjp is None
            parts = []
            for i in range(op.arity):
                template = RULES.template(op, i, elementwise)
                if elementwise:  # the local gradient: the VJP of a cotangent 1 (no broadcast undone)
                    parts.append(f"function (ans, {args}, p) {{ const g = R.c(1); "
                                 f"{self._template(template, names)} }}")
                else:
                    parts.append(f"function (g, ans, {args}, p) {{ {self._template(template, names)} }}")
            kind = "d" if elementwise else "vjp"
            return (f"{string(key)}: {{elementwise: {'true' if elementwise else 'false'}, f: {f}, "
                    f"{kind}: [{', '.join(parts)}]}}")
        if op.name in ELEMENTWISE:
            f = f"R.elementwise({ELEMENTWISE[op.name]})"
        else:
            f = ARRAY[op.name]
        parts = []
        for i in range(op.arity):
            template = RULES.template(op, i) if i < len(op.rule) else None
            if op.vjp is None:
                parts.append(f"function (ans, {args}, p) {{ {self._template(template, names)} }}")
            else:
                parts.append(f"function (g, ans, {args}, p) {{ {self._template(template, names)} }}")
        kind = "d" if op.vjp is None else "vjp"
        return (f"{string(key)}: {{elementwise: {'true' if op.vjp is None else 'false'}, f: {f}, "
                f"{kind}: [{', '.join(parts)}]}}")


def _params(params: dict) -> str:
    items = []
    for name, value in params.items():
        items.append(f"{string(str(name))}: {_param_value(value)}")
    return "{" + ", ".join(items) + "}"


def _param_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_param_value(v) for v in value) + "]"
    raise ValueError(f"a param of type {type(value).__name__} has no JavaScript form")


def node_params(node: Node) -> dict:
    """A gate's params as JSON data (axis: int, tuple, or None)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in node.params.items()}


def ops_source(nodes) -> str:
    """The `OPS` table for the gates among `nodes` (see Printer)."""
    printer = Printer()
    printer.add_graph(nodes)
    return printer.source()


def _load_rules() -> None:
    # the rules are compiled by the language's parser, which gives RULES its compiler on import
    from . import parser  # noqa: F401


# The array runtime: broadcasting, reductions along an axis, products of vectors and matrices, the
# transpose; each as NumPy does it for float64 (gradcli.core.ops' forwards).
RUNTIME = r"""
const R = (() => {
  const arr = (shape, data) => ({shape: shape, data: data});
  const size = (shape) => shape.reduce((a, b) => a * b, 1);
  const c = (v) => arr([], Float64Array.of(v));
  const from = (v) => {  // JSON data (nested lists, numbers, "NaN"/"Infinity") -> array
    const shape = [];
    let probe = v;
    while (Array.isArray(probe)) { shape.push(probe.length); probe = probe[0]; }
    const flat = Array.isArray(v) ? v.flat(Infinity) : [v];
    const data = new Float64Array(flat.length);
    flat.forEach((x, i) => { data[i] = typeof x === "string" ? Number(x) : x; });
    if (size(shape) !== data.length) throw new Error("ragged array");
    return arr(shape, data);
  };
  const toList = (a) => {
    const num = (x) => (Number.isFinite(x) ? x : String(x));
    if (a.shape.length === 0) return num(a.data[0]);
    const build = (dim, offset) => {
      const n = a.shape[dim], step = size(a.shape.slice(dim + 1)), out = [];
      for (let i = 0; i < n; i++) out.push(dim === a.shape.length - 1 ? num(a.data[offset + i]) : build(dim + 1, offset + i * step));
      return out;
    };
    return build(0, 0);
  };
  const strides = (shape) => {
    const s = new Array(shape.length);
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
    return s;
  };
  const broadcastShape = (...shapes) => {
    const n = Math.max(0, ...shapes.map((s) => s.length));
    const out = new Array(n).fill(1);
    for (const s of shapes) {
      for (let i = 0; i < s.length; i++) {
        const j = n - s.length + i, d = s[i];
        if (out[j] === 1) out[j] = d;
        else if (d !== 1 && d !== out[j]) throw new Error("shapes (" + shapes.map((t) => t.join(", ")).join(") and (") + ") do not broadcast");
      }
    }
    return out;
  };
  // each input's offset for every element of the broadcast shape
  const offsets = (a, shape) => {
    const n = shape.length, st = strides(a.shape), total = size(shape);
    if (a.data.length === 1) return new Int32Array(total);  // a scalar (or all ones): element 0
    if (a.shape.length === n && a.shape.every((d, i) => d === shape[i])) return null;  // the same shape
    const bst = new Array(n).fill(0);
    for (let i = 0; i < a.shape.length; i++) bst[n - a.shape.length + i] = a.shape[i] === 1 ? 0 : st[i];
    const out = new Int32Array(total), idx = new Array(n).fill(0);
    for (let k = 0; k < total; k++) {
      let off = 0;
      for (let i = 0; i < n; i++) off += idx[i] * bst[i];
      out[k] = off;
      for (let i = n - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
    }
    return out;
  };
  const elementwise = (f) => (...args) => {
    const inputs = args.slice(0, f.length).map((a) => (typeof a === "number" ? c(a) : a));
    const shape = broadcastShape(...inputs.map((a) => a.shape));
    const total = size(shape), data = new Float64Array(total);
    const offs = inputs.map((a) => offsets(a, shape) || Int32Array.from({length: total}, (_, k) => k));
    const [a, b, c3] = inputs.map((x) => x.data), [oa, ob, oc] = offs;
    if (inputs.length === 1) for (let k = 0; k < total; k++) data[k] = f(a[oa[k]]);
    else if (inputs.length === 2) for (let k = 0; k < total; k++) data[k] = f(a[oa[k]], b[ob[k]]);
    else if (inputs.length === 3) for (let k = 0; k < total; k++) data[k] = f(a[oa[k]], b[ob[k]], c3[oc[k]]);
    else for (let k = 0; k < total; k++) data[k] = f();
    return arr(shape, data);
  };
  const broadcastTo = (a, shape) => {
    const o = offsets(a, shape);
    if (o === null) return a;  // arrays are never written in place: the same one will do
    const data = new Float64Array(o.length);
    for (let k = 0; k < o.length; k++) data[k] = a.data[o[k]];
    return arr(shape.slice(), data);
  };
  const normAxis = (axis, ndim) => {
    if (axis === null || axis === undefined) return null;
    const list = Array.isArray(axis) ? axis : [axis];
    return list.map((a) => {
      const b = a < 0 ? a + ndim : a;
      if (b < 0 || b >= ndim) throw new Error("axis " + a + " is out of bounds for an array of " + ndim + " dimensions");
      return b;
    });
  };
  // fold along axes (null: all): fn(values array) -> number; keep: keep the reduced dims as 1
  const reduce = (a, axis, fn, keep) => {
    const axes = normAxis(axis, a.shape.length) || a.shape.map((_, i) => i);
    const outShapeKeep = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const total = size(outShapeKeep), groups = Array.from({length: total}, () => []);
    const st = strides(outShapeKeep), idx = new Array(a.shape.length).fill(0);
    for (let k = 0; k < a.data.length; k++) {
      let off = 0;
      for (let i = 0; i < a.shape.length; i++) if (!axes.includes(i)) off += idx[i] * st[i];
      groups[off].push(a.data[k]);
      for (let i = a.shape.length - 1; i >= 0; i--) { if (++idx[i] < a.shape[i]) break; idx[i] = 0; }
    }
    const data = Float64Array.from(groups.map(fn));
    const shape = keep ? outShapeKeep : a.shape.filter((_, i) => !axes.includes(i));
    return arr(shape, data);
  };
  const total = (v) => v.reduce((s, x) => s + x, 0);
  const need = (v, what) => { if (v.length === 0) throw new Error(what + " of no elements"); return v; };
  const maxOf = (v) => (v.some((x) => x !== x) ? NaN : Math.max(...v));
  const minOf = (v) => (v.some((x) => x !== x) ? NaN : Math.min(...v));
  const lse = (v) => {
    const m = maxOf(need(v, "logsumexp"));
    if (!Number.isFinite(m)) return m === m ? (m > 0 ? Infinity : Math.log(total(v.map((x) => (x === m ? 1 : 0)))) + m) : NaN;
    return Math.log(total(v.map((x) => Math.exp(x - m)))) + m;
  };
  const nrm = (v) => {
    const m = Math.max(0, ...v.map(Math.abs));
    if (m === 0 || !Number.isFinite(m)) return m;
    return m * Math.sqrt(total(v.map((x) => (x / m) * (x / m))));
  };
  const ax = (p) => (p && p.axis !== undefined ? p.axis : null);
  const sum = (x, p) => reduce(x, ax(p), total, false);
  const mean = (x, p) => reduce(x, ax(p), (v) => total(need(v, "mean")) / v.length, false);
  const amax = (x, p) => reduce(x, ax(p), (v) => maxOf(need(v, "max")), false);
  const amin = (x, p) => reduce(x, ax(p), (v) => minOf(need(v, "min")), false);
  const logsumexp = (x, p) => reduce(x, ax(p), lse, false);
  const norm = (x, p) => reduce(x, ax(p), nrm, false);
  const transpose = (a) => {
    const n = a.shape.length;
    if (n < 2) return arr(a.shape.slice(), a.data.slice());
    const shape = a.shape.slice().reverse(), st = strides(a.shape), data = new Float64Array(a.data.length);
    const idx = new Array(n).fill(0);
    for (let k = 0; k < data.length; k++) {
      let off = 0;
      for (let i = 0; i < n; i++) off += idx[i] * st[n - 1 - i];
      data[k] = a.data[off];
      for (let i = n - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
    }
    return arr(shape, data);
  };
  const mm = (a, b) => {  // matrices
    const [m, k] = a.shape, n = b.shape[1], data = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a.data[i * k + t] * b.data[t * n + j];
      data[i * n + j] = s;
    }
    return arr([m, n], data);
  };
  const matmul = (a, b) => {
    const sa = a.shape, sb = b.shape;
    if (!(sa.length >= 1 && sa.length <= 2 && sb.length >= 1 && sb.length <= 2))
      throw new Error("@ needs vectors or matrices (1 or 2 dimensions), got shapes (" + sa.join(", ") + ") and (" + sb.join(", ") + ")");
    if (sa[sa.length - 1] !== sb[0]) throw new Error("@: shapes (" + sa.join(", ") + ") and (" + sb.join(", ") + ") do not align");
    const a2 = sa.length === 1 ? arr([1, sa[0]], a.data) : a, b2 = sb.length === 1 ? arr([sb[0], 1], b.data) : b;
    const out = mm(a2, b2), shape = [];
    if (sa.length === 2) shape.push(sa[0]);
    if (sb.length === 2) shape.push(sb[1]);
    return arr(shape, out.data);
  };
  const expandDims = (a, axis) => {
    const n = a.shape.length + 1, b = axis < 0 ? axis + n : axis, shape = a.shape.slice();
    shape.splice(b, 0, 1);
    return arr(shape, a.data);
  };
  const expandAs = (a, b, p) => {
    let x = a;
    const axis = ax(p);
    if (axis !== null && x.shape.length < b.shape.length) {
      for (const one of (Array.isArray(axis) ? axis : [axis])) x = expandDims(x, one);
    }
    return broadcastTo(x, b.shape);
  };
  const sumAs = (a, shape) => {
    if (a.shape.length === shape.length && a.shape.every((d, i) => d === shape[i])) return arr(a.shape.slice(), a.data.slice());
    let x = broadcastTo(a, broadcastShape(a.shape, shape));  // a scalar seed spreads first
    const extra = x.shape.length - shape.length;
    if (extra > 0) x = reduce(x, Array.from({length: extra}, (_, i) => i), total, false);
    const stretched = shape.map((d, i) => (d === 1 && x.shape[i] !== 1 ? i : -1)).filter((i) => i >= 0);
    if (stretched.length) x = reduce(x, stretched, total, true);
    return broadcastTo(x, shape);
  };
  const sumAsOp = (a, b, p) => (ax(p) !== null ? reduce(a, ax(p), total, false) : sumAs(a, b.shape));
  const weights = (pick) => (x, p) => {
    const axis = ax(p), peak = reduce(x, axis, pick, true), spread = broadcastTo(peak, x.shape);
    const hit = arr(x.shape, x.data.map((v, i) => (v === spread.data[i] ? 1 : 0)));
    const count = broadcastTo(reduce(hit, axis, total, true), x.shape);
    return arr(x.shape, hit.data.map((v, i) => v / count.data[i]));
  };
  const sizeOp = (x, p) => c(ax(p) === null ? size(x.shape) : x.shape[normAxis(ax(p), x.shape.length)[0]]);
  const asMatrices = (a, b) => [a.shape.length === 1 ? arr([1, a.shape[0]], a.data) : a,
                               b.shape.length === 1 ? arr([b.shape[0], 1], b.data) : b];
  const matmulVjpA = (g, a, b) => {
    const [a2, b2] = asMatrices(a, b);
    return arr(a.shape.slice(), mm(arr([a2.shape[0], b2.shape[1]], g.data), transpose(b2)).data);
  };
  const matmulVjpB = (g, a, b) => {
    const [a2, b2] = asMatrices(a, b);
    return arr(b.shape.slice(), mm(transpose(a2), arr([a2.shape[0], b2.shape[1]], g.data)).data);
  };
  const scalar = (f) => { if (f.shape.length) throw new Error("diff needs a scalar expression"); return f; };
  const first = (d, f) => broadcastTo(d, broadcastShape(d.shape, f.shape));
  const params = (gate, own, names) => {  // the gate's params that the step's op takes, its own first
    const out = Object.assign({}, own), taken = names ? names.split(",") : [];
    for (const k of Object.keys(gate || {})) if (taken.includes(k) && !(k in own)) out[k] = gate[k];
    return out;
  };
  // erf to within a few ulps: a series of positive terms below |x| = 3, erfc's continued fraction above
  const erf = (x) => {
    if (x !== x) return NaN;
    const t = Math.abs(x);
    if (t >= 6) return Math.sign(x);
    if (t < 3) {
      let term = t, s = t;
      for (let n = 1; n < 200; n++) { term *= 2 * t * t / (2 * n + 1); s += term; if (term < s * 1e-17) break; }
      return Math.sign(x) * 2 / Math.sqrt(Math.PI) * Math.exp(-t * t) * s;
    }
    let f = 0;  // erfc(t) = e^(-t²)/√π · 1/(t + (1/2)/(t + 1/(t + (3/2)/(t + …))))
    for (let n = 120; n >= 1; n--) f = (n / 2) / (t + f);
    return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
  };
  const add = elementwise((x, y) => x + y), mul = elementwise((x, y) => x * y);
  return {arr, c, from, toList, broadcastShape, broadcastTo, elementwise, sum, mean, amax, amin,
          logsumexp, norm, T: transpose, matmul, expandAs, sumAs, sumAsOp, maxWeights: weights(maxOf),
          minWeights: weights(minOf), size: sizeOp, shapeSize: size, matmulVjpA, matmulVjpB, scalar,
          first, params, erf, add, mul};
})();
"""

# The backward pass over a graph held as data (the page's): the forward, then per gate in reverse
# order the edges the Python trace has, local × upstream summed back to the input's shape
# (elementwise ops) or the op's VJP, gradients added at forks. As gradcli.evaluation.engine.
ENGINE = r"""
const own = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

function evaluateGraph(G, values) {
  const n = G.nodes.length, val = new Array(n), grad = new Array(n).fill(null), edges = [];
  for (const node of G.nodes) {
    if (node.kind === "var") val[node.id] = own(values, node.name) ? values[node.name] : R.from(node.value);
    else if (node.kind === "const") val[node.id] = R.from(node.value);
    else val[node.id] = OPS[node.op].f(...node.inputs.map((i) => val[i]), node.params);
  }
  const out = G.output;
  grad[out] = R.c(1);  // the seed: 1 (of sum(f) when f is an array), as the Python engine
  const byGate = {};
  for (const e of G.edges) (byGate[e.gate] = byGate[e.gate] || []).push(e);
  for (let id = n - 1; id >= 0; id--) {
    const list = byGate[id];
    if (!list) continue;
    const node = G.nodes[id], op = OPS[node.op], up = grad[id];
    const ins = node.inputs.map((i) => val[i]);
    for (const e of list) {
      const input = node.inputs[e.index];
      let local, result;
      if (op.elementwise) {
        local = op.d[e.index](val[id], ...ins, node.params);
        if (local === null) local = R.c(0);
        // local × upstream in the gate's shape (the seed of sum(f) is a scalar 1), summed back
        result = R.sumAs(R.broadcastTo(R.mul(local, up), R.broadcastShape(local.shape, up.shape, val[id].shape)),
                         val[input].shape);
      } else {
        local = null;
        const g = up.shape.join(",") === val[id].shape.join(",") ? up : R.broadcastTo(up, val[id].shape);
        result = op.vjp[e.index](g, val[id], ...ins, node.params);
        if (result === null) result = R.broadcastTo(R.c(0), val[input].shape);
      }
      edges.push({gate: id, index: e.index, input: input, local: local, upstream: up, result: result});
      grad[input] = grad[input] === null ? result : R.add(grad[input], result);
    }
  }
  const gradients = Object.create(null);  // keyed by the user's names: no inherited keys
  for (const node of G.nodes) if (node.kind === "var" && G.wrt.includes(node.name)) gradients[node.name] =
    R.broadcastTo(grad[node.id] === null ? R.c(0) : grad[node.id], val[node.id].shape);
  return {values: val, grads: grad, edges: edges, value: val[out], gradients: gradients};
}
"""
