"""Graph nodes → a formula for people: readable gradcli source, or LaTeX for slides.

`Formula(roots)` reads one or more output nodes (of one graph or several: the derivatives of f
with respect to each variable) as one expression DAG in which equal subexpressions are one node
(structural hash-consing, so the printer shares what the graph builder did not). A subexpression
that would be written more than once and is not trivially small becomes an intermediate,
`u = w0*x0 + w1*x1 + w2`, under a name that is none of the formula's variables, functions or
constants. Two printers, one method per op kind as in SymPy's StrPrinter and LatexPrinter, write
each node from its inputs' texts; precedence decides the parentheses:

- First the DAG is put in a normal form (`_Normalizer`): a product is one coefficient times
  integer powers of its factors, variables first, written numerator over denominator
  (1/(1+u)/(1+u)*u*x0 is x0*u/(1 + u)**2), and a sum's like terms are collected (1/x + 1/x is
  2/x). That is the same function; in floats, the same numbers to rounding (tested to 1e-9
  relative on well-conditioned cases), not to the bit.
- `TextPrinter` writes gradcli's own syntax, which gradcli.parse reads back: signs are moved
  outward where IEEE arithmetic gives the same bits (-(a*b) = (-a)*b, a + (-b) = a - b), and a
  product's right-hand product or quotient loses its parentheses (`x0*u/v`).
- `LatexPrinter` writes `\\frac`, `e^{…}`, `\\sigma\\left(…\\right)`, `x_{0}` and `\\cdot`.

Everything is built with loops over the nodes in topological order, never recursion: derivative
graphs thousands of nodes deep are normal input.
"""

from __future__ import annotations

import math
import struct
from typing import Iterable, Sequence

from ..core.graph import Graph, Node
from ..core.ops import CONSTANTS, OPS, OVERLOADS
from ..differentiation.derivative import topological
from .printer import join_pieces

# How tightly a piece of text binds, as in grammar/gradcli.lark: sum < product < unary < power < atom.
SUM, PRODUCT, UNARY, POWER, ATOM = range(5)

# A subexpression written this many characters long or longer, and used more than once, is named.
MIN_NAMED_LENGTH = 12
# Names for intermediates, in order of preference; then u1, u2, ...
NAME_POOL = ("u", "v", "w", "p", "q", "r", "s", "t", "a", "b", "c", "h", "k", "m", "n")


class Expr:
    """One node of the formula's DAG: a variable (`name`), a constant (`value`) or a gate (`op`
    of `inputs`, indices of earlier Exprs, with the gate's `params`). `origin` is a graph node
    it stands for, and `label` the name the user gave that node in a program, if any."""

    __slots__ = ("kind", "op", "inputs", "name", "value", "params", "origin", "label")

    def __init__(self, kind: str, origin: Node, *, op=None, inputs: tuple[int, ...] = (),
                 name: str | None = None, value: float | None = None, params: dict | None = None) -> None:
        self.kind = kind
        self.op = op
        self.inputs = inputs
        self.name = name
        self.value = value
        self.params = params or {}
        self.origin = origin
        self.label = origin.name if kind == "gate" and origin is not None else None


def _constant_key(value: float):
    return ("const", struct.pack("<d", value)) if value == value else ("const", "nan")


def _inline_user_functions(roots: list[Node]) -> list[Node]:
    """The roots with every call of a user function replaced by its body's gates (copies; the
    graph is left as it is), so that the text parses back without the definitions. sigmoid and
    the other built-in composites stay calls."""
    from .composite import MAX_INLINED_GATES, _instantiate, _user_body

    if not any(n.kind == "gate" and n.op.body is not None for n in _walk(roots)):
        return roots
    mapping: dict[int, Node] = {}
    created: list[Node] = []
    memo: dict = {}
    budget = [MAX_INLINED_GATES]
    for node in _walk(roots):
        inputs = tuple(mapping.get(id(i), i) for i in node.inputs)
        function = _user_body(node.op) if node.kind == "gate" else None
        if function is not None:
            key = (id(function), *map(id, inputs))
            if key not in memo:
                memo[key] = _instantiate(function, inputs, created, memo, _user_body, budget)
            out = memo[key]
            if out.kind == "gate" and out.name is None and node.name is not None:
                out.name = node.name
            mapping[id(node)] = out
        elif inputs != node.inputs:
            mapping[id(node)] = Node(node.kind, node.span, op=node.op, inputs=inputs, name=node.name,
                                     default=node.default, params=node.params)
    return [mapping.get(id(r), r) for r in roots]


def _walk(roots: list[Node]) -> list[Node]:
    """Every node the roots read, inputs first."""
    return topological(roots)


class Formula:
    """The DAG of `roots` with its intermediates chosen. `scalars`: every variable is a scalar,
    so the plumbing of broadcasting (expand_as, sum_as) is the identity and is left out.

    `exprs`: the Exprs in topological order; `roots`: each root's index in it; `names`: index →
    intermediate name, in topological order (an intermediate's text only uses earlier ones)."""

    def __init__(self, roots: Sequence[Node] | Graph, *, taken: Iterable[str] = (),
                 normal: bool = True, scalars: bool = False, root_names: dict[int, str] | None = None) -> None:
        if isinstance(roots, Graph):
            roots = [roots.output]
        self.exprs: list[Expr] = []
        self.roots: list[int] = []
        self._build(_inline_user_functions(list(roots)))
        if normal:
            self.exprs, self.roots = _Normalizer(scalars).run(self.exprs, self.roots)
        self.variables = list(dict.fromkeys(e.name for e in self.exprs if e.kind == "var"))
        self.taken = set(taken) | set(self.variables) | set(OVERLOADS) | set(CONSTANTS)
        self.names: dict[int, str] = {}
        self._text = TextPrinter(self)
        # a root that is also an intermediate is called by its own name where one is given (f)
        self._root_names = {self.roots[i]: n for i, n in (root_names or {}).items() if n not in self.taken}
        self._choose_names()

    # -- the DAG -----------------------------------------------------------------------------------

    def _build(self, roots: list[Node]) -> None:
        index: dict[object, int] = {}  # structural key → Expr index
        done: dict[int, int] = {}  # id(node) → Expr index
        for node in _walk(roots):
            if node.kind == "var":
                key = ("var", node.name)
                make = lambda n=node: Expr("var", n, name=n.name)
            elif node.kind == "const":
                key = _constant_key(float(node.default))
                make = lambda n=node: Expr("const", n, value=float(n.default))
            else:
                inputs = tuple(done[id(i)] for i in node.inputs)
                key = ("gate", node.op.name, inputs, repr(sorted(node.params.items())))
                make = lambda n=node, i=inputs: Expr("gate", n, op=n.op, inputs=i, params=n.params)
            k = index.get(key)
            if k is None:
                k = index[key] = len(self.exprs)
                self.exprs.append(make())
            elif node.kind == "gate" and self.exprs[k].label is None:
                self.exprs[k].label = node.name
            done[id(node)] = k
        self.roots.extend(done[id(root)] for root in roots)

    def uses(self) -> list[int]:
        """How many times each Expr is read by other Exprs (a root's own line does not count)."""
        uses = [0] * len(self.exprs)
        for e in self.exprs:
            for i in e.inputs:
                uses[i] += 1
        return uses

    # -- intermediates -------------------------------------------------------------------------------

    def _choose_names(self) -> None:
        """Name each gate read more than once whose text is not short. The printer decides with
        the text as it would be written, its named inputs already replaced by their names."""
        uses = self.uses()
        labels = {e.label for e in self.exprs if e.label is not None}
        pool = self._pool(self.taken | labels | set(self._root_names.values()))
        printer = self._text
        for k, e in enumerate(self.exprs):
            printer.visit(k)
            if e.kind != "gate" or uses[k] < 2 or printer.length[k] < MIN_NAMED_LENGTH:
                continue
            label = e.label
            if k in self._root_names and self._root_names[k] not in self.names.values():
                name = self._root_names[k]
            elif label is not None and label not in self.taken and label not in self.names.values():
                name = label  # the user's own name for it (`u = w*x + b`)
            else:
                name = next(pool)
            self.names[k] = name
            printer.rename(k, name)

    @staticmethod
    def _pool(taken: set[str]):
        for name in NAME_POOL:
            if name not in taken:
                yield name
        n = 1
        while True:
            for letter in "uvw":
                if f"{letter}{n}" not in taken:
                    yield f"{letter}{n}"
            n += 1

    def needed(self, k: int) -> list[int]:
        """The intermediates that Expr k's text uses, directly or through others, in order."""
        seen, stack, found = {k}, [k], set()
        while stack:
            for i in self.exprs[stack.pop()].inputs:
                if i not in seen:
                    seen.add(i)
                    stack.append(i)
                    if i in self.names:
                        found.add(i)
        return [i for i in self.names if i in found]

    # -- text ------------------------------------------------------------------------------------------

    def expression(self, k: int, printer=None) -> str:
        """Expr k written in full (its inputs by their intermediates' names)."""
        return (printer or self._text).full(k)

    def statements(self, root: int | None = None) -> list[tuple[str, int]]:
        """(name, Expr index) of each intermediate, in order; with `root` (a position in
        `roots`), only those that root's text uses."""
        order = list(self.names) if root is None else self.needed(self.roots[root])
        return [(self.names[k], k) for k in order]

    def program(self, root: int = 0, *, separator: str = "; ") -> str:
        """One root as a gradcli program that parses back: its intermediates, then the root."""
        return self.program_of(self.roots[root], separator=separator)

    def program_of(self, k: int, *, separator: str = "; ") -> str:
        """Expr k (a root or an intermediate) as a program: the intermediates it uses, then it."""
        parts = [f"{self.names[i]} = {self.expression(i)}" for i in self.needed(k)]
        parts.append(self.expression(k))
        return separator.join(parts)

    def values(self, given: dict) -> dict[int, object]:
        """Each Expr's value at the `given` values (every root's graph evaluated, as printed)."""
        out: dict[int, object] = {}
        for root in range(len(self.roots)):
            graph = self.to_graph(root)
            index = {id(node): k for k, node in enumerate(self._nodes)}
            result = graph.evaluate({n: v for n, v in given.items() if n in graph.variables})
            for record in result.trace:
                out.setdefault(index[id(record.node)], record.value)
        return out

    def to_graph(self, root: int = 0) -> Graph:
        """One root as a Graph of the Exprs' own nodes (to evaluate it as printed, unparsed)."""
        from ..base.source import Source, Span

        source = Source(self.program(root))
        span = Span(source, 0, len(source.text))
        nodes: list[Node] = []
        for e in self.exprs:
            if e.kind == "var":
                default = e.origin.default if e.origin is not None else None
                nodes.append(Node("var", span, name=e.name, default=default))
            elif e.kind == "const":
                nodes.append(Node("const", span, default=e.value))
            else:
                nodes.append(Node("gate", span, op=e.op, inputs=tuple(nodes[i] for i in e.inputs),
                                  params=dict(e.params)))
        self._nodes = nodes
        return Graph(nodes, nodes[self.roots[root]], source)

    def latex(self, root: int = 0) -> str:
        """One root in LaTeX, its intermediates after it (`… \\quad\\text{where}\\quad u = …`)."""
        printer = LatexPrinter(self)
        body = printer.full(self.roots[root])
        where = [f"{printer.name(name)} = {printer.full(i)}" for name, i in self.statements(root)]
        return body if not where else body + r" \quad\text{where}\quad " + r",\; ".join(where)

    def latex_printer(self) -> LatexPrinter:
        return LatexPrinter(self)


# -- the normal form: products as c·Πbᵏ, sums with like terms collected -------------------------


# Ops whose value does not depend on the order of their inputs, to the bit (max and min do: the
# sign of a zero they return, or which nan).
_SYMMETRIC = frozenset({"hypot", "equal"})


class _Terms:
    """A sum not written out: (sign, node or _Terms) parts."""

    __slots__ = ("parts",)

    def __init__(self, parts) -> None:
        self.parts = parts


class _Normalizer:
    """Rewrites the DAG the way a person would write it: a chain of products and quotients is one
    coefficient times integer powers of its factors, written numerator over denominator
    (1/(1+u)/(1+u)*u*x0 is u*x0/(1 + u)**2, 3*y*2*x is 6*y*x); a sum's like terms are collected
    (1/x + 1/x is 2/x) and a term that cancels goes. Mathematically the same function; in floats
    equal to rounding, except where the rearranged form over- or underflows and the original did
    not (the tests compare where both are finite; the CLI checks the value it prints)."""

    MAX_POWER = 64

    def __init__(self, scalars: bool = False) -> None:
        self.scalars = scalars
        self.exprs: list[Expr] = []
        self.index: dict[object, int] = {}
        self.pform: dict[int, tuple[float, dict[int, int]]] = {}  # node → (c, {base: power})
        self.sform: dict[int, list[tuple[float, dict[int, int]]]] = {}  # a sum → its terms

    def make(self, kind: str, *, op=None, inputs: tuple[int, ...] = (), name=None, value=None,
             params=None, origin=None) -> int:
        if kind == "var":
            key = ("var", name)
        elif kind == "const":
            key = _constant_key(value)
        else:  # hypot(y, x) is hypot(x, y), to the bit: one node, written as first met
            ins = tuple(sorted(inputs)) if op.name in _SYMMETRIC else inputs
            key = ("gate", op.name, ins, repr(sorted((params or {}).items())))
        k = self.index.get(key)
        if k is None:
            k = self.index[key] = len(self.exprs)
            self.exprs.append(Expr(kind, origin, op=op, inputs=inputs, name=name, value=value, params=params))
        return k

    def gate(self, name: str, *inputs: int) -> int:
        return self.make("gate", op=OPS[name], inputs=inputs)

    def const(self, value: float) -> int:
        return self.make("const", value=float(value))

    def form(self, k: int) -> tuple[float, dict[int, int]]:
        return self.pform.get(k) or (1.0, {k: 1})

    def terms(self, k) -> list[tuple[float, dict[int, int]]]:
        """The terms of a node, or of a _Terms (a loop over the sums inside it)."""
        if not isinstance(k, _Terms):
            return self.sform.get(k) or [self.form(k)]
        out = []
        stack = [(1.0, k)]
        while stack:
            sign, item = stack.pop()
            if isinstance(item, _Terms):
                stack.extend((sign * s, part) for s, part in reversed(item.parts))
            else:
                out.extend((sign * c, f) for c, f in self.terms(item))
        return out

    def run(self, old: list[Expr], roots: list[int]) -> tuple[list[Expr], list[int]]:
        # A sum read only by other sums is not written out: its terms wait, as a _Terms, for the
        # sum that is (else a 2,000-term sum would be written 2,000 times, once per prefix).
        inner = [True] * len(old)
        for e in old:
            for i in e.inputs:
                inner[i] = inner[i] and e.kind == "gate" and e.op.name in ("add", "sub")
        for r in roots:
            inner[r] = False
        new: list = []
        for k, e in enumerate(old):
            ins = [new[i] for i in e.inputs]
            if inner[k] and e.kind == "gate" and e.op.name in ("add", "sub"):
                new.append(_Terms(((1.0, ins[0]), (1.0 if e.op.name == "add" else -1.0, ins[1]))))
            else:
                new.append(self.visit(e, ins))
        # keep only what the roots read (the rewriting leaves pieces of the old chains behind)
        exprs, roots = self.exprs, [new[r] for r in roots]
        live = [False] * len(exprs)
        for r in roots:
            live[r] = True
        for k in range(len(exprs) - 1, -1, -1):
            if live[k]:
                for i in exprs[k].inputs:
                    live[i] = True
        number: dict[int, int] = {}
        kept = []
        for k, e in enumerate(exprs):
            if live[k]:
                number[k] = len(kept)
                e.inputs = tuple(number[i] for i in e.inputs)
                kept.append(e)
        return kept, [number[r] for r in roots]

    def visit(self, e: Expr, ins: list[int]) -> int:
        k = self._visit(e, ins)
        if e.label is not None and self.exprs[k].kind == "gate" and self.exprs[k].label is None:
            self.exprs[k].label = e.label  # the user's name for it (`q = x + y`)
        return k

    def _visit(self, e: Expr, ins: list[int]) -> int:
        if e.kind == "var":
            return self.make("var", name=e.name, origin=e.origin)
        if e.kind == "const":
            k = self.const(e.value)
            if math.isfinite(e.value):
                self.pform[k] = (e.value, {})
            return k
        name = e.op.name
        if name == "diff" or self.scalars and name in ("expand_as", "sum_as"):
            return ins[0]  # diff(d, f)'s value is d's; of scalars, the others' are their first input's
        if self.scalars and name == "size":
            return self.const(1.0)
        if name in ("mul", "div"):
            (ca, fa), (cb, fb) = self.form(ins[0]), self.form(ins[1])
            sign = 1 if name == "mul" else -1
            factors = dict(fa)
            for base, power in fb.items():
                factors[base] = factors.get(base, 0) + sign * power
            c = ca * cb if name == "mul" else ca / cb if cb else math.nan
            if math.isfinite(c) and (c != 0 or not fa and not fb):
                return self.product(c, factors)
        elif name == "neg":
            if ins[0] in self.sform:
                return self.total([(-c, f) for c, f in self.sform[ins[0]]])
            c, f = self.form(ins[0])
            return self.product(-c, f)
        elif name == "pow" and self.exprs[ins[1]].kind == "const":
            k = self.exprs[ins[1]].value
            c, f = self.form(ins[0])
            if k == int(k) and 0 < abs(k) <= self.MAX_POWER and (f or c != 0):
                try:
                    power = c ** int(k)
                except (OverflowError, ZeroDivisionError):
                    power = math.nan
                if math.isfinite(power) and power != 0:
                    return self.product(power, {b: p * int(k) for b, p in f.items()})
        elif name in ("add", "sub"):
            sign = 1.0 if name == "add" else -1.0
            return self.total(self.terms(ins[0]) + [(sign * c, f) for c, f in self.terms(ins[1])])
        return self.make("gate", op=e.op, inputs=tuple(ins), params=e.params, origin=e.origin)

    def product(self, c: float, factors: dict[int, int]) -> int:
        # variables first, by name (6*x*y, x0*u/(1 + u)**2), then the others as they came
        order = sorted(factors, key=lambda b: (0, self.exprs[b].name) if self.exprs[b].kind == "var" else (1, ""))
        factors = {b: factors[b] for b in order if factors[b]}
        if c == 0 or not factors:
            k = self.const(c)
            self.pform[k] = (c, {})
            return k
        top = [b if p == 1 else self.gate("pow", b, self.const(p)) for b, p in factors.items() if p > 0]
        bottom = [b if p == -1 else self.gate("pow", b, self.const(-p)) for b, p in factors.items() if p < 0]
        if abs(c) != 1:
            top.insert(0, self.const(abs(c)))
        k = top[0] if top else self.const(1.0)
        for t in top[1:]:
            k = self.gate("mul", k, t)
        if bottom:
            d = bottom[0]
            for t in bottom[1:]:
                d = self.gate("mul", d, t)
            k = self.gate("div", k, d)
        if c < 0:
            k = self.gate("neg", k)
        self.pform.setdefault(k, (c, factors))
        return k

    def total(self, terms: list[tuple[float, dict[int, int]]]) -> int:
        collected: dict[frozenset, list] = {}
        for c, f in terms:
            key = frozenset(f.items())
            if key in collected:
                collected[key][0] += c
            else:
                collected[key] = [c, f]
        kept = [(c, f) for c, f in collected.values() if c != 0 and math.isfinite(c)]
        kept += [(c, f) for c, f in collected.values() if not math.isfinite(c)]
        if not kept:
            return self.product(0.0, {})
        k = self.product(*kept[0])
        for c, f in kept[1:]:
            k = self.gate("sub", k, self.product(-c, f)) if c < 0 else self.gate("add", k, self.product(c, f))
        if len(kept) > 1:
            self.sform.setdefault(k, kept)
        return k


# -- printers -------------------------------------------------------------------------------------


class _Printer:
    """A piece of text per Expr: (negated, parts, strength). `parts` holds strings and the indices
    of inputs (whose own parts go there when joined), so that texts are shared, not copied: a
    chain 10,000 deep is joined once, in linear time. `negated`: the text is that of -Expr, the
    sign left to whoever writes it (a parent can often make it vanish: a + -b is a - b)."""

    def __init__(self, formula: Formula) -> None:
        self.formula = formula
        n = len(formula.exprs)
        self.negated = [False] * n
        self.parts: list[list] = [[] for _ in range(n)]
        self.strength = [ATOM] * n
        self.length = [0] * n
        self._visited = 0
        self._renamed = dict(formula.names)  # a printer made after the names were chosen
        self.defined: dict[int, tuple] = {}  # a named Expr's own text

    def visit(self, k: int) -> None:
        """Write Expr k (its inputs are written already)."""
        e = self.formula.exprs[k]
        if e.kind == "var":
            out = (False, [self.variable(e.name)], ATOM)
        elif e.kind == "const":
            out = self.constant(e.value)
        else:
            method = getattr(self, f"print_{e.op.name}", None) or self.call
            out = method(e, *e.inputs)
        self.negated[k], self.parts[k], self.strength[k] = out
        self.length[k] = sum(len(p) if isinstance(p, str) else self.length[p] for p in self.parts[k])
        if k in self._renamed:
            self.rename(k, self._renamed[k])
        self._visited = k + 1

    def rename(self, k: int, name: str) -> None:
        """From now on Expr k is read by its name; its own text stays in `defined`."""
        self.defined[k] = (self.negated[k], self.parts[k], self.strength[k])
        self.negated[k], self.parts[k], self.strength[k] = False, [self.name(name)], ATOM
        self.length[k] = len(name)

    def _ensure(self, k: int) -> None:
        while self._visited <= k:
            self.visit(self._visited)

    def full(self, k: int) -> str:
        """Expr k's whole text, sign included; a named Expr's definition, not its name."""
        self._ensure(k)
        negated, parts, strength = self.defined.get(
            k, (self.negated[k], self.parts[k], self.strength[k]))
        return self.join(self.signed_parts(negated, parts, strength))

    def join(self, parts: list) -> str:
        return join_pieces(parts, self.parts)

    # helpers for the print_ methods

    def wrap(self, k: int, needed: int) -> list:
        """Expr k's magnitude (its sign is the caller's), in parentheses if it binds looser than
        `needed`."""
        return [k] if self.strength[k] >= needed else [self.open, k, self.close]

    def signed(self, k: int) -> list:
        """Expr k with its sign, as a whole argument (of a call, or standing alone)."""
        return self.signed_parts(self.negated[k], [k], self.strength[k])

    def signed_parts(self, negated: bool, parts: list, strength: int) -> list:
        if not negated:
            return parts
        # -(a*b) is written -a*b, read back as (-a)*b: the same number, as rounding is symmetric
        return ["-", *(parts if strength >= PRODUCT else [self.open, *parts, self.close])]

    def signed_strength(self, k: int) -> int:
        if not self.negated[k]:
            return self.strength[k]
        return min(UNARY, max(self.strength[k], PRODUCT))

    open, close = "(", ")"

    # sums and differences: signs moved out of the terms where the bits stay the same

    def _sum(self, e, a, b, subtract: bool):
        na, nb = self.negated[a], self.negated[b] != subtract  # now: ±|a| + ±|b|
        plus, minus = self.plus, self.minus
        if not na and not nb:
            return False, [*self.wrap(a, SUM), plus, *self.wrap(b, PRODUCT)], SUM
        if not na and nb:
            return False, [*self.wrap(a, SUM), minus, *self.wrap(b, PRODUCT)], SUM
        if na and not nb:  # -p + q = q - p
            return False, [*self.wrap(b, SUM), minus, *self.wrap(a, PRODUCT)], SUM
        return True, [*self.wrap(a, SUM), plus, *self.wrap(b, PRODUCT)], SUM  # -p - q = -(p + q)

    def print_add(self, e, a, b):
        return self._sum(e, a, b, False)

    def print_sub(self, e, a, b):
        return self._sum(e, a, b, True)

    def print_neg(self, e, a):
        return not self.negated[a], [a], self.strength[a]

    def call(self, e, *args):
        parts: list = [self.function_name(e), self.call_open]
        for i, arg in enumerate(args):
            if i:
                parts.append(", ")
            parts.extend(self.signed(arg))
        parts.extend(self.keyword(key, value) for key, value in e.params.items())
        parts.append(self.call_close)
        return False, parts, ATOM


class TextPrinter(_Printer):
    """gradcli source (see the module's docstring for which rewrites keep the numbers)."""

    plus, minus = " + ", " - "
    call_open, call_close = "(", ")"

    def name(self, name: str) -> str:
        return name

    def variable(self, name: str) -> str:
        return name

    def constant(self, value: float):
        if value != value:
            return False, ["(0/0)"], ATOM  # nan: no literal in the language
        negated = math.copysign(1.0, value) < 0
        size = abs(value)
        fraction = _fraction(size)
        if fraction is not None:
            return negated, [fraction], PRODUCT
        text = "1e999" if math.isinf(size) else repr(size)
        return negated, [text[:-2] if text.endswith(".0") else text], ATOM

    def function_name(self, e) -> str:
        return e.op.call_name

    def keyword(self, key: str, value) -> str:
        return f", {key}={value}"

    def print_mul(self, e, a, b):
        if self.formula.exprs[b].kind == "const" and self.formula.exprs[a].kind != "const":
            a, b = b, a  # 2*x, not x*2 (x*2 is 2*x exactly)
        negated = self.negated[a] != self.negated[b]
        right = self.formula.exprs[b]
        if right.kind == "gate" and right.op.name == "div" and _is_one(self.formula.exprs[right.inputs[0]]) \
                and not self.negated[right.inputs[0]]:
            # a*(1/d) is written a/d (equal to rounding)
            d = right.inputs[1]
            negated = negated != self.negated[d]
            return negated, [*self.wrap(a, PRODUCT), "/", *self.wrap(d, UNARY)], PRODUCT
        # a*(b*c) and a*(b/c) lose their parentheses (equal to rounding)
        loose = right.kind == "gate" and right.op.name in ("mul", "div") and self.strength[b] == PRODUCT
        return negated, [*self.wrap(a, PRODUCT), "*", *([b] if loose else self.wrap(b, UNARY))], PRODUCT

    def print_div(self, e, a, b):
        negated = self.negated[a] != self.negated[b]
        return negated, [*self.wrap(a, PRODUCT), "/", *self.wrap(b, UNARY)], PRODUCT

    def print_matmul(self, e, a, b):
        return False, [*self._signed_wrap(a, PRODUCT), " @ ", *self._signed_wrap(b, UNARY)], PRODUCT

    def _signed_wrap(self, k: int, needed: int) -> list:
        parts = self.signed(k)
        return parts if self.signed_strength(k) >= needed else ["(", *parts, ")"]

    def print_pow(self, e, a, b):
        base = ["(", *self.signed(a), ")"] if self.negated[a] else self.wrap(a, ATOM)
        # the exponent may carry a sign: x**-2, and -x**2 binds as -(x**2)
        exponent = self.wrap(b, UNARY)
        if self.negated[b]:
            exponent = ["-", *exponent]
        return False, [*base, "**", *exponent], POWER


class LatexPrinter(_Printer):
    """LaTeX (math mode), for slides: `\\frac{…}{…}`, `e^{…}`, `\\sqrt{…}`, `x_{0}`, `\\cdot`."""

    plus, minus = " + ", " - "
    call_open, call_close = r"\left(", r"\right)"
    open, close = r"\left(", r"\right)"

    def name(self, name: str) -> str:
        return latex_name(name)

    def variable(self, name: str) -> str:
        return latex_name(name)

    def constant(self, value: float):
        if value != value:
            return False, [r"\mathrm{NaN}"], ATOM
        negated = math.copysign(1.0, value) < 0
        size = abs(value)
        fraction = _fraction(size)
        if fraction is not None:
            p, q = fraction.split("/")
            return negated, [rf"\frac{{{p}}}{{{q}}}"], UNARY
        if math.isinf(size):
            return negated, [r"\infty"], ATOM
        text = repr(size)
        if "e" in text:
            mantissa, exponent = text.split("e")
            mantissa = mantissa[:-2] if mantissa.endswith(".0") else mantissa
            power = f"10^{{{int(exponent)}}}"
            return negated, [power if mantissa == "1" else rf"{mantissa} \cdot {power}"], \
                (POWER if mantissa == "1" else PRODUCT)
        return negated, [text[:-2] if text.endswith(".0") else text], ATOM

    def function_name(self, e) -> str:
        name = e.op.call_name
        return _LATEX_FUNCTIONS.get(name, rf"\operatorname{{{_escape(name)}}}")

    def keyword(self, key: str, value) -> str:
        return rf", \mathrm{{{_escape(key)}}}={_escape(str(value))}"

    def print_mul(self, e, a, b):
        exprs = self.formula.exprs
        if exprs[b].kind == "const" and exprs[a].kind != "const":
            a, b = b, a
        negated = self.negated[a] != self.negated[b]
        right = exprs[b]
        if _is_frac(right) and b not in self._renamed:  # a*(n/d) is \frac{a n}{d}
            n, d = right.inputs
            negated = negated != self.negated[n] != self.negated[d]
            top = [*self.wrap(a, PRODUCT)]
            if not _is_one(exprs[n]):
                top += [self._joint(n), *self.wrap(n, PRODUCT)]
            return negated, [r"\frac{", *top, "}{", d, "}"], UNARY
        return negated, [*self.wrap(a, PRODUCT), self._joint(b), *self.wrap(b, PRODUCT)], PRODUCT

    def _joint(self, right: int) -> str:
        """Factors are written side by side (2 x, w_{0} x_{0}), but before a number: 2 \\cdot 3."""
        return r" \cdot " if self._digit_first(right) else " "

    def _digit_first(self, k: int) -> bool:
        parts = self.parts[k]
        while parts:
            first = parts[0]
            if isinstance(first, str):
                return first[:1].isdigit()
            parts = self.parts[first]
        return False

    def print_div(self, e, a, b):
        negated = self.negated[a] != self.negated[b]
        return negated, [r"\frac{", a, "}{", b, "}"], UNARY

    def print_matmul(self, e, a, b):
        return False, [*self._signed_wrap(a, PRODUCT), r" \, ", *self._signed_wrap(b, PRODUCT)], PRODUCT

    def _signed_wrap(self, k: int, needed: int) -> list:
        parts = self.signed(k)
        return parts if self.signed_strength(k) >= needed else [self.open, *parts, self.close]

    def print_pow(self, e, a, b):
        exprs = self.formula.exprs
        if exprs[b].kind == "const" and exprs[b].value == 0.5:
            return False, [r"\sqrt{", *self.signed(a), "}"], ATOM
        base = self.signed(a)
        if self.negated[a] or self.strength[a] < ATOM:
            base = [self.open, *base, self.close]
        return False, [*base, "^{", *self.signed(b), "}"], POWER

    def print_exp(self, e, a):
        return False, ["e^{", *self.signed(a), "}"], POWER

    def print_sqrt(self, e, a):
        return False, [r"\sqrt{", *self.signed(a), "}"], ATOM

    def print_abs(self, e, a):
        return False, [r"\left|", *self.signed(a), r"\right|"], ATOM

    def print_norm(self, e, a):
        parts = [r"\left\|", *self.signed(a), r"\right\|"]
        parts.extend(rf"_{{\mathrm{{{_escape(k)}}}={_escape(str(v))}}}" for k, v in e.params.items())
        return False, parts, ATOM

    def print_T(self, e, a):
        base = self.signed(a)
        if self.negated[a] or self.strength[a] < ATOM:
            base = [self.open, *base, self.close]
        return False, [*base, r"^{\top}"], POWER


_LATEX_FUNCTIONS = {
    "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "tanh": r"\tanh",
    "sinh": r"\sinh", "cosh": r"\cosh", "asin": r"\arcsin", "acos": r"\arccos", "atan": r"\arctan",
    "sigmoid": r"\sigma", "max": r"\max", "min": r"\min", "log2": r"\log_{2}", "log10": r"\log_{10}",
    "erf": r"\operatorname{erf}", "sign": r"\operatorname{sign}",
}

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
          "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
          "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi",
          "Omega"}


def _escape(text: str) -> str:
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("{", r"\{").replace("}", r"\}")


def latex_name(name: str) -> str:
    """A name in LaTeX, as SymPy writes symbols: w0 is w_{0}, x_1 is x_{1}, alpha is \\alpha,
    a longer name is upright-italic as one word (\\mathit{rate}), and so is a name with several
    underscores (my_var_1 is \\mathit{my\\_var\\_1}: one subscript could not say which part is it)."""
    base, sub = name, ""
    if name.count("_") > 1:
        return rf"\mathit{{{_escape(name)}}}"
    if "_" in name.strip("_") and not name.startswith("_"):
        base, sub = name.split("_", 1)
    else:
        stripped = name.rstrip("0123456789")
        if stripped and stripped != name:
            base, sub = stripped, name[len(stripped):]
    if base in _GREEK:
        head = "\\" + base
    elif len(base) == 1:
        head = base
    else:
        head = rf"\mathit{{{_escape(base)}}}"
    if not sub:
        return head
    inner = sub if sub.isalnum() and len(sub) == 1 or sub.isdigit() else (
        "\\" + sub if sub in _GREEK else rf"\mathit{{{_escape(sub)}}}")
    return f"{head}_{{{inner}}}"


def _is_one(e: Expr) -> bool:
    return e.kind == "const" and e.value == 1.0


def _is_frac(e: Expr) -> bool:
    return e.kind == "gate" and e.op.name == "div"


def _fraction(size: float) -> str | None:
    """p/q for a constant whose shortest decimal is long but that is p/q exactly in float64
    (0.3333333333333333 is 1/3: 1/3 parses back to the same float), else None."""
    if not math.isfinite(size) or len(repr(size)) <= 8 or size == int(size):
        return None
    for q in range(2, 13):
        p = round(size * q)
        if 0 < p <= 1000 and math.gcd(p, q) == 1 and p / q == size:
            return f"{p}/{q}"
    return None

