"""Text → Graph: an LALR parser calls GraphBuilder's methods as it reduces each rule.

The language is grammar/gradcli.lark (Lark, LALR(1)). The parser is gradcli.language.lalr's driver over
tables generated from that grammar by Lark ahead of time (gradcli/language/lalr_tables.py), so a normal run
never imports Lark; if the grammar file no longer matches the tables (it was edited), the first
parse rebuilds them through Lark. No parse tree is built and nothing recurses, so 10,000 nested
parentheses and 100,000-term sums parse in linear time. Each node keeps its span in the user's
text for later messages. Importing this module does no work: the first parse loads the tables.
"""

from __future__ import annotations

import gc
import re
import threading
from pathlib import Path

import numpy as np

from .composite import MAX_INLINED_GATES, Function, function_op, size_of, too_big
from ..differentiation.derivative import RULES, Builder, gradient_nodes, topological, zero_like
from .composite import expand as expand_graph
from ..base.errors import (DefinitionError, GradcliError, GradcliSyntaxError, ResourceError, UnknownFunctionError,
                           character_hint, did_you_mean, shorten)
from ..core.graph import SPAN_SHIFT, Columns, Graph, Node
from ..core.ops import CONSTANTS, OPS, OVERLOADS, Op
from ..base.source import Source, Span
from ..core.trace import Diagnostic


_GRAMMAR_NAME = "gradcli.lark"

# How an expected terminal reads in a syntax error.
_TERMINAL_WORDS = {
    "NUMBER": "a number",
    "NAME": "a name",
}


def grammar_path() -> Path:
    """The grammar file: inside the installed package, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent
    package = here.parents[__name__.count(".") - 2] if __name__.count(".") > 1 else here  # gradcli/
    for candidate in (package / "grammar" / _GRAMMAR_NAME, package.parent / "grammar" / _GRAMMAR_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"gradcli's grammar file {_GRAMMAR_NAME} is missing from {here}")


# An expression occurrence, the value of every expression rule: (node, start, end), its node and
# where it stands in the text (parentheses included). A plain tuple: the parser makes one per
# name, call, operator and parentheses, and a tuple costs a fifth of an object with attributes.
Expr = tuple


class Keyword:
    """A keyword argument of a call, `axis=0`: its name token and its value."""

    __slots__ = ("token", "expr")

    def __init__(self, token, expr: Expr) -> None:
        self.token = token
        self.expr = expr


class Statement:
    __slots__ = ("target", "expr", "start")

    def __init__(self, target: str | None, expr: Expr | None, start: int | None = None) -> None:
        self.target = target
        self.expr = expr  # None for a function definition (whose name is the target)
        self.start = start  # where the statement begins (its target's name), if not at expr


class _Definition:
    """A function definition being parsed: its head is known, its body not yet."""

    def __init__(self, name: str, params: dict[str, Node], start: int, mark: int) -> None:
        self.name = name
        self.params = params
        self.start = start
        self.mark = mark  # where the body's nodes begin in GraphBuilder.created


def _binary(op_name: str):
    """The builder's method for a binary operator: `left op right` (the operator token, if the
    rule passes it, sits between them). One call per gate: these run for most of a long sum."""
    op = OPS[op_name]
    kernel = op.scalar
    forward, first, second = (kernel.forward, *kernel.locals) if kernel else (None, None, None)
    if op.kink_offset is not None:
        forward = None  # (every gate through Builder._gate_columns)

    def method(self, children: list) -> Expr:
        left, right = children[0], children[-1]
        start, end = left[1], right[2]
        a, b = left[0], right[0]
        created = self.created
        node = Node("gate", start << SPAN_SHIFT | end, op, (a, b))  # its Span made when read (core.graph.Node)
        node._source = self.source
        node.id = k = len(created)
        created.append(node)
        i, j = a.id, b.id
        constant = self.constant
        if forward is None or i in constant or j in constant:
            self._gate_columns(node)
        else:  # the usual case, inline: one call per gate (core.graph.Columns)
            self.gate_columns((k, forward, i, j, first, second))
        return (node, start, end)

    return method


class GraphBuilder:
    """Lark's callbacks, one per rule alias of the grammar; state is per parse (see `parse`)."""

    def reset(self, source: Source, var_shapes: dict[str, tuple] | None = None,
              output: str | None = None) -> None:
        self.source = source
        self.output_name = output  # the statement whose value is the output; None: the last
        self.var_shapes = var_shapes  # the variables' shapes, when known before parsing
        self.differentiated = False  # a diff(…) was built (with those shapes)
        self.created: list[Node] = []  # each node's id is its index here
        self.columns = columns = Columns()  # the gates as flat lists, for the scalar engine
        self.gate_columns = columns.gates.extend
        self.constant = columns.constant
        self.position = columns.position
        self.bindings: dict[str, Node] = {}  # names assigned so far
        self.free: dict[str, Node] = columns.variables  # variables and named constants, one node per name
        self.notes: list[Diagnostic] = []
        self.functions: dict[str, tuple[Op, Span]] = {}  # user functions defined so far
        self.defining: _Definition | None = None

    # -- helpers -------------------------------------------------------------------------
    def _span(self, start: int, end: int) -> Span:
        return Span(self.source, start, end)

    def _node(self, kind: str, start: int, end: int, **fields) -> Node:
        """A constant or a gate, also in the columns."""
        created = self.created
        node = Node(kind, start << SPAN_SHIFT | end, **fields)
        node._source = self.source
        node.id = k = len(created)
        created.append(node)
        if kind == "const":
            self.columns.constants.append((k, node.default))
            self.constant.add(k)
        else:
            self._gate_columns(node)
        return node

    def _gate_columns(self, node: Node) -> None:
        """A gate's entry in the columns (see core.graph.Columns)."""
        inputs = node.inputs
        columns = self.columns
        if node.params or not 1 <= len(inputs) <= 2:
            columns.complete = False  # the scalar engine plans such a graph from its nodes
            return
        op = node.op
        kernel = op.scalar
        constant = columns.constant
        i = inputs[0].id
        j = inputs[1].id if len(inputs) == 2 else -1
        need_i = i not in constant
        need_j = j >= 0 and j not in constant
        forward = first = second = None
        if kernel is None:
            columns.scalar = False
        else:
            forward = kernel.forward
            first = kernel.locals[0] if need_i else None
            second = kernel.locals[1] if need_j else None
        if not (need_i or need_j):
            constant.add(node.id)
            columns.constant_gates.append(len(columns.gates) // Columns.STRIDE)
        elif op.kink_offset is not None:
            columns.kinks.append((op.kink_offset, i, j))
        self.gate_columns((node.id, forward, i, j, first, second))

    def _unary(self, op: Op, a: Node, start: int, end: int) -> Expr:
        """A built-in one-input gate (a call such as sin(x), or -x): the usual case of
        _gate_columns inline, one call per gate."""
        created = self.created
        node = Node("gate", start << SPAN_SHIFT | end, op, (a,))
        node._source = self.source
        node.id = k = len(created)
        created.append(node)
        fast = _UNARY.get(id(op))
        if fast is None or fast[0] is not op:
            kernel = op.scalar
            fast = _UNARY[id(op)] = (op, kernel.forward, kernel.locals[0]) \
                if kernel is not None and op.kink_offset is None and not op.params else (op, None, None)
        i = a.id
        if fast[1] is None or i in self.constant:
            self._gate_columns(node)
        else:
            self.gate_columns((k, fast[1], i, -1, fast[2], None))
        return (node, start, end)

    def _gate(self, op_name: str, args: list[Expr], start: int, end: int) -> Expr:
        node = self._node("gate", start, end, op=OPS[op_name], inputs=tuple([a[0] for a in args]))
        return (node, start, end)

    # -- atoms ---------------------------------------------------------------------------
    def number(self, children: list) -> Expr:
        (tok,) = children
        value = float(tok.group())
        if value == float("inf"):
            self.notes.append(Diagnostic(
                "domain", f"the number {tok.group()[:30]} at {self._span(tok.start(), tok.end()).where()} "
                "is too large for float64 and becomes inf"))
        return (self._node("const", tok.start(), tok.end(), default=value), tok.start(), tok.end())

    def name(self, children: list) -> Expr:
        (tok,) = children
        name = tok.group()
        if self.defining is not None:
            return self._body_name(tok, name)
        node = self.bindings.get(name) or self.free.get(name)
        start, end = tok.span()
        if node is None:
            node = Node("var", start << SPAN_SHIFT | end, None, (), name, CONSTANTS.get(name))
            node._source = self.source
            created = self.created
            node.id = k = len(created)
            created.append(node)
            self.free[name] = node
            self.position[name] = k
            if node.default is not None:  # a named constant: needs no gradient unless given a value
                self.constant.add(k)
        return (node, start, end)

    def _body_name(self, tok, name: str) -> Expr:
        """A name inside a function's body: a parameter, or a named constant."""
        definition = self.defining
        node = definition.params.get(name)
        if node is None and name in CONSTANTS:
            node = self._node("const", tok.start(), tok.end(), default=CONSTANTS[name])
        if node is None:
            params = ", ".join(definition.params)
            hint = f"add it as a parameter: {definition.name}({', '.join([*definition.params, name])}) = …"
            if name in OVERLOADS or name in self.functions:  # `exp*t`: a function without its argument
                hint = f"{name} is a function: write {name}({next(iter(definition.params))})"
            elif did_you_mean(name, definition.params):  # a misspelt parameter
                hint = f"{did_you_mean(name, definition.params)} If not, {hint}"
            raise DefinitionError(
                f"the body of {definition.name}({params}) uses {name!r}, which is not one of its "
                "parameters", span=self._span(tok.start(), tok.end()), hint=hint)
        return (node, tok.start(), tok.end())

    def call(self, children: list) -> Expr:
        tok, _, args, rpar = children
        name = tok.group()
        overloads = OVERLOADS.get(name)
        if overloads is not None and self.defining is None and name not in self.functions:
            # a built-in function called with positional arguments: the usual case, in short
            op = overloads.get(len(args))
            if op is not None:
                if len(args) == 1:
                    arg = args[0]
                    if arg.__class__ is tuple:
                        return self._unary(op, arg[0], tok.start(), rpar.end())
                elif all([arg.__class__ is tuple for arg in args]):
                    start, end = tok.start(), rpar.end()
                    created = self.created
                    node = Node("gate", start << SPAN_SHIFT | end, op, tuple([a[0] for a in args]))
                    node._source = self.source
                    node.id = len(created)
                    created.append(node)
                    self._gate_columns(node)
                    return (node, start, end)
        span = self._span(tok.start(), tok.end())
        if self.defining is not None and name == self.defining.name:
            raise DefinitionError(
                f"{name} calls itself: a function cannot be recursive", span=span,
                hint="a function's body may call only built-in functions and functions defined before it")
        user = self.functions.get(name)
        if name == "diff" and not user:
            return self._diff(tok, args, rpar)
        overloads = {user[0].arity: user[0]} if user else OVERLOADS.get(name)
        if overloads is None:
            raise self._unknown_function(name, span, self.source.text[tok.end():rpar.end()])
        positional = [a for a in args if a.__class__ is tuple]
        keywords = [a for a in args if isinstance(a, Keyword)] if len(positional) < len(args) else []
        op = overloads.get(len(positional))
        if op is None:
            raise _arity_error(name, overloads, len(positional), span, self.source.text[tok.end():rpar.end()])
        if keywords and args.index(keywords[0]) < len(positional):
            raise GradcliSyntaxError(
                f"a positional argument follows the keyword argument {keywords[0].token.group()!s}",
                span=self._span(keywords[0].token.start(), keywords[0].token.end()),
                hint="put keyword arguments last")
        params = {}
        for kw in keywords:
            params.update(self._keyword(op, name, kw, params))
        start, end = tok.start(), rpar.end()
        if user and self.defining is None and size_of(op.body) > MAX_INLINED_GATES:
            raise too_big(f"a call of {name}", self._span(start, end))  # before any value is read
        node = Node("gate", start << SPAN_SHIFT | end, op=op, params=params,
                    inputs=tuple([a[0] for a in positional]))
        node._source = self.source
        node.id = len(self.created)
        self.created.append(node)
        self._gate_columns(node)
        return (node, start, end)

    def _diff(self, tok, args: list, rpar) -> Expr:
        """`diff(EXPR, NAME)` and `diff(EXPR, NAME, N)`: the derivative's gates, built now from
        the registry's rules (gradcli.differentiation.derivative), under one `diff` gate whose value is theirs."""
        start, end = tok.start(), rpar.end()
        span = self._span(start, end)
        usage = "write diff(EXPR, NAME) or diff(EXPR, NAME, N), e.g. diff(x**3 * y, x, 2)"
        self.columns.complete = False  # the derivative's gates are not in the columns
        positional = [a for a in args if a.__class__ is tuple]
        if len(positional) < len(args):
            kw = next(a for a in args if isinstance(a, Keyword))
            raise UnknownFunctionError("diff() takes no keyword arguments",
                                       span=self._span(kw.token.start(), kw.token.end()), hint=usage)
        if len(positional) not in (2, 3):
            raise UnknownFunctionError(f"diff() takes 2 or 3 arguments, not {len(positional)}", span=span,
                                       hint=usage)
        expr, wrt = positional[0], positional[1]
        variable = wrt[0]
        wrt_text = self.source.text[wrt[1]:wrt[2]]
        if variable.kind != "var" or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", wrt_text):
            what = (f"{wrt_text!r} is assigned in the program" if variable.kind == "gate" and variable.name == wrt_text
                    else f"{wrt_text[:30]!r} is not a name")
            raise GradcliSyntaxError(f"diff's second argument must be a variable; {what}",
                                     span=self._span(wrt[1], wrt[2]), hint=usage)
        order = 1
        if len(positional) == 3:
            node = positional[2][0]
            value = node.default if node.kind == "const" else None
            if value is None or not float(value).is_integer() or not 1 <= value <= MAX_DIFF_ORDER:
                raise GradcliSyntaxError(
                    f"diff's order must be a whole number from 1 to {MAX_DIFF_ORDER} written in the text",
                    span=self._span(positional[2][1], positional[2][2]), hint=usage)
            order = int(value)
        # values all scalars: so are a user function's arguments (no broadcast to undo in its body)
        scalars = bool(self.var_shapes) and all(s == () for s in self.var_shapes.values())
        builder = Builder(self.created.append, scope=f"∂/∂{wrt_text}", span=span, var_shapes=self.var_shapes,
                          scalars=scalars)
        builder.know(self.created)
        self.differentiated = True
        scalar = expr[0]
        if builder.maybe_array(scalar):
            # f's shape is checked first (the engines run gates in the order they were made):
            # the derivative's gates assume a scalar f
            scalar = self._node("gate", start, end, op=OPS["scalar"], inputs=(expr[0],),
                                scope=f"∂/∂{wrt_text}", text=f"{self._span(expr[1], expr[2]).short_text()} "
                                "(a scalar)")
        if order > 1 and self.var_shapes is not None and self.var_shapes.get(wrt_text, ()) != ():
            raise GradcliSyntaxError(
                f"diff(…, {wrt_text}, {order}) needs a scalar {wrt_text}, and its value has shape "
                f"{self.var_shapes[wrt_text]}: the derivatives of a gradient array are a matrix",
                span=self._span(wrt[1], wrt[2]),
                hint="gradcli hessian gives every second derivative (or use diff(diff(f, x), y) of scalars)")
        if variable not in topological(expr[0]):
            self.notes.append(Diagnostic(
                "input", f"{wrt_text} does not appear in the expression differentiated at {span.where()}: "
                "its derivative is 0"))
        result = expr[0]
        for k in range(order):
            if k and builder.maybe_array(result):
                # order 2 and up differentiate the last derivative, a scalar only for a scalar
                # variable: checked before the next order's gates run
                result = self._node("gate", start, end, op=OPS["scalar"], inputs=(result,),
                                    scope=f"∂/∂{wrt_text}", text=f"order {k} of diff(…, {wrt_text}, {order})")
                # kept in the graph through a pass-through gate the final diff gate reads
                scalar = self._node("gate", start, end, op=OPS["diff"], inputs=(scalar, result),
                                    scope=f"∂/∂{wrt_text}", text="the checks of each order")
            result = gradient_nodes(result, [variable], builder, RULES)[0]
            if result is None:
                result = zero_like(variable, builder, span)
                break
        node = self._node("gate", start, end, op=OPS["diff"], inputs=(result, scalar))
        return (node, start, end)

    def _unknown_function(self, name: str, span: Span, arguments: str) -> UnknownFunctionError:
        """A call of a name that is no function: a misspelling, another tool's name for one of
        ours (`ln`), or a variable followed by parentheses (`x(y+1)`, meant as a product)."""
        known = [*OVERLOADS, "diff", *self.functions]
        meant, note = _FUNCTION_ALIASES.get(name.lower(), (None, None))
        if note is None:
            folded = [k for k in known if k.lower() == name.lower()]
            hint = f"did you mean {folded[0]!r}?" if folded else did_you_mean(name, known)
        else:
            hint = f"did you mean {meant!r}?" + (f" ({note})" if note else "") if meant else note
        if hint:
            return UnknownFunctionError(f"unknown function {name!r}", span=span, hint=hint)
        shown = arguments if len(arguments) <= 40 else "(…)"
        if arguments.strip("() \t") and (name in self.bindings or name in self.free or len(name) == 1
                                           or name in CONSTANTS):
            return UnknownFunctionError(f"{name} is not a function", span=span,
                                        hint=f"to multiply, write {name}*{shown}")
        return UnknownFunctionError(f"unknown function {name!r}", span=span,
                                    hint=f"functions are: {', '.join(sorted(known))}")

    def _keyword(self, op, name: str, kw: Keyword, given: dict) -> dict:
        key = kw.token.group()
        span = self._span(kw.token.start(), kw.token.end())
        if key not in op.params:
            accepted = ", ".join(f"{p}=" for p in op.params)
            raise UnknownFunctionError(
                f"{name}() with {op.arity} argument{'s' if op.arity > 1 else ''} has no keyword argument {key!r}",
                span=span, hint=f"it accepts {accepted}" if accepted else "it takes no keyword arguments")
        if key in given:
            raise GradcliSyntaxError(f"{key}= is given twice", span=span)
        node = kw.expr[0]
        value = node.default if node.kind == "const" else None
        if value is None or not float(value).is_integer():
            raise GradcliSyntaxError(
                f"{key}= needs a whole number written in the text, like {key}=0 or {key}=-1",
                span=self._span(kw.expr[1], kw.expr[2]), hint=f"write {name}(x, {key}=0)")
        return {key: int(value)}

    def keyword(self, children: list) -> Keyword:
        tok, expr = children
        return Keyword(tok, expr)

    def arguments(self, children: list) -> list[Expr]:
        return children

    arguments.keeps_children = True  # the parser may skip the call (gradcli.language.lalr)

    def parens(self, children: list) -> Expr:
        lpar, inner, rpar = children
        return (inner[0], lpar.start(), rpar.end())

    # -- operators -----------------------------------------------------------------------
    add = _binary("add")
    sub = _binary("sub")
    mul = _binary("mul")
    div = _binary("div")
    matmul = _binary("matmul")
    power = _binary("pow")

    def neg(self, children: list) -> Expr:
        sign, operand = children
        node = operand[0]
        if node.kind == "const":  # -2.5 is a constant, not a gate
            if self.created[-1] is node:  # (and 2.5 no node: the graph would leave it out)
                self.created.pop()
                self.columns.constants.pop()
                self.constant.discard(node.id)
            folded = self._node("const", sign.start(), operand[2], default=-node.default)
            return (folded, sign.start(), operand[2])
        return self._unary(OPS["neg"], node, sign.start(), operand[2])

    def pos(self, children: list) -> Expr:
        sign, operand = children
        return (operand[0], sign.start(), operand[2])

    # -- statements ----------------------------------------------------------------------
    def expression(self, children: list) -> Statement:
        return Statement(None, children[0])

    def assign(self, children: list) -> Statement:
        tok, expr = children
        statement = self._bind(tok.group(), expr)
        statement.start = tok.start()
        return statement

    def augassign(self, children: list) -> Statement:
        tok, augop, expr = children
        target = tok.group()
        current = self.name([tok])  # the binding before this statement
        op_name = {"+=": "add", "-=": "sub", "*=": "mul", "/=": "div"}[augop.group()]
        combined = self._gate(op_name, [current, expr], tok.start(), expr[2])
        return self._bind(target, combined)

    def define_head(self, children: list) -> _Definition:
        tok, _, args, _ = children
        name = tok.group()
        span = self._span(tok.start(), tok.end())
        if self.defining is not None:  # pragma: no cover - the grammar has no nested definitions
            raise DefinitionError("a function cannot be defined inside another", span=span)
        if name in OVERLOADS or name == "diff":
            raise DefinitionError(f"{name} is a built-in function and cannot be redefined", span=span,
                                  hint=f"choose another name, e.g. my_{name}")
        if name in OPS:  # add, mul, matmul…: gates are told apart by these names
            raise DefinitionError(f"{name} is the name of the built-in gate {OPS[name].symbol} and cannot "
                                  "name a function", span=span, hint=f"choose another name, e.g. my_{name}")
        if name in self.functions:
            raise DefinitionError(f"{name} is already defined, on line {self.functions[name][1].line}",
                                  span=span, hint="give each function one definition")
        params: dict[str, Node] = {}
        for arg in args:
            if isinstance(arg, Keyword):  # f(x, axis=0) = …: a keyword is no parameter
                raise DefinitionError(f"a parameter of {name} must be a name, not {arg.token.group()}=…",
                                      span=self._span(arg.token.start(), arg.token.end()),
                                      hint=f"write {name}(t) = … and use t in the body")
            text = self.source.text[arg[1]:arg[2]]
            arg_span = self._span(arg[1], arg[2])
            if not _PARAMETER.fullmatch(text):
                raise DefinitionError(f"a parameter of {name} must be a name, not {text!r}", span=arg_span,
                                      hint=f"write {name}(t) = … and use t in the body")
            if text in params:
                raise DefinitionError(f"{name} has two parameters called {text}", span=arg_span,
                                      hint="give each parameter its own name")
            node = arg[0]  # the argument was read as a use of the name: take that back
            if node.kind == "var" and node.span.start == arg[1] and self.free.get(text) is node:
                del self.free[text]
            params[text] = Node("var", arg_span, name=text)
        if not params:
            raise DefinitionError(f"{name} has no parameters", span=span,
                                  hint=f"write {name}(t) = … with at least one parameter")
        self.columns.complete = False  # the body's nodes leave `created`
        self.defining = _Definition(name, params, tok.start(), len(self.created))
        return self.defining

    def define(self, children: list) -> Statement:
        definition, body = children
        self.defining = None
        nodes = self.created[definition.mark:]
        del self.created[definition.mark:]  # the body is not part of the program's graph
        graph = Graph([*definition.params.values(), *nodes], body[0], self.source)
        function = Function(definition.name, tuple(definition.params), graph,
                            span=self._span(definition.start, definition.start + len(definition.name)))
        self.functions[definition.name] = (function_op(function),
                                           self._span(definition.start, definition.start + 1))
        return Statement(definition.name, None)

    def _bind(self, target: str, expr: Expr) -> Statement:
        node = expr[0]
        if node.kind == "gate" and node.name is None:
            node.name = target
        self.bindings[target] = node
        return Statement(target, expr)

    @staticmethod
    def _named_statement(statements: list[Statement], name: str) -> Statement:
        """The last statement that assigns `name` (an output asked for by name)."""
        for stmt in reversed(statements):
            if stmt.target == name and stmt.expr is not None:
                return stmt
        named = list(dict.fromkeys(s.target for s in statements if s.target is not None and s.expr is not None))
        if any(s.target == name for s in statements):  # only a definition has that name
            raise GradcliError(f"{shorten(name)!r} is a function the program defines, not a statement, so it "
                               "cannot be an output",
                               hint=f"call it in a statement (y = {shorten(name)}(x)) and ask for that statement")
        hint = did_you_mean(name, named) if named else None
        raise GradcliError(f"no statement of the program assigns {shorten(name)!r}, so it cannot be an output",
                           hint=hint or (f"the statements assign: {', '.join(named[:10])}" if named else
                                         "name a statement first, e.g. f = x*y; then ask for f"))

    def start(self, children: list) -> Graph:
        statements: list[Statement] = children
        if not statements:
            raise GradcliSyntaxError("nothing to evaluate: the program has no statements",
                                     hint='write an expression, e.g. "x * y"')
        last = statements[-1]
        if self.output_name is not None:
            last = self._named_statement(statements, self.output_name)
        elif last.expr is None:
            raise GradcliSyntaxError("the program ends with a function definition: nothing to evaluate",
                                     hint=f"add a last statement that calls it, e.g. {last.target}(x)")
        for stmt in statements:
            if stmt.target is None and stmt is not last:
                where = self._span(stmt.expr[1], stmt.expr[2]).where()
                # (worded alike for every output asked for by name: said once for several)
                self.notes.append(Diagnostic(
                    "input", f"the expression at {where} is not assigned or used; "
                    + ("only the last statement is the output" if self.output_name is None
                       else "no output asked for depends on it")))
        output = last.expr[0]
        start = last.expr[1] if last.start is None else last.start
        self.source.output = self._span(start, last.expr[2])
        graph = Graph(self.created, output, self.source, self.notes, columns=self.columns)
        if self.differentiated and self.var_shapes:
            graph.assumes = {n: s for n, s in self.var_shapes.items() if n in graph.variables}
        return graph


_BUILDER = GraphBuilder()
# id(op) → (op, its scalar forward, its local gradient) for GraphBuilder._unary, or (op, None,
# None) when the gate goes through _gate_columns
_UNARY: dict[int, tuple] = {}
_LOCK = threading.Lock()
_PARSER = None  # built by the first parse


def _parser():
    """The table-driven parser; rebuilt through Lark if the grammar file differs from the tables."""
    global _PARSER
    if _PARSER is None:
        from .lalr import Parser
        from .lalr import grammar_key
        from .lalr_tables import TABLES

        tables = TABLES
        try:
            grammar = grammar_path().read_text(encoding="utf-8")
        except FileNotFoundError:  # the tables are the language; the grammar file is their source
            grammar = None
        if grammar is not None and grammar_key(grammar) != TABLES["grammar"]:
            from .lalr_build import GrammarNotSupported, generate

            try:
                tables = generate(grammar, GraphBuilder)
            except GrammarNotSupported:
                from .lalr_reference import LarkParser

                _PARSER = LarkParser(grammar, _BUILDER)
                return _PARSER
        _PARSER = Parser(tables, _BUILDER)
    return _PARSER


# Parsing costs about a microsecond a character: past this, refuse rather than seem to hang.
MAX_SOURCE_CHARS = 2_000_000
# The highest order `diff(f, x, N)` takes (the gate budget of gradcli.differentiation.derivative bounds it too).
MAX_DIFF_ORDER = 20


def _compile_rule(text: str):
    """A registry rule's text as nodes: (output node, {name: variable node})."""
    graph = parse(text)
    return graph.output, dict(graph.variables)


RULES.compiler = _compile_rule


def parse(text: str, *, expand: bool = False, max_chars: int | None = MAX_SOURCE_CHARS,
          shapes: dict[str, tuple] | None = None, output: str | None = None) -> Graph:
    """Parse a gradcli expression or program into a Graph (max_chars=None lifts the size limit).

    A call of a user function or of a built-in composite (sigmoid) is one gate; with `expand`,
    it is replaced by the primitive gates of its body. `shapes` ({name: shape}, what the values
    will be) lets `diff(…)` leave out the gates that sum a broadcast cotangent back to a
    variable's shape where no broadcast can happen; the graph then refuses values of other
    shapes for those names (Graph.assumes). `output` names the statement whose value is the
    output (the last assignment of that name; by default the last statement): for a program of
    several outputs, one graph per output. Raises GradcliError when no statement assigns it."""
    if not isinstance(text, str):
        raise TypeError(f"parse() needs a str, not {type(text).__name__}")
    if output is not None and not isinstance(output, str):
        raise TypeError(f"parse()'s output is a statement's name (a str), not {type(output).__name__}")
    if max_chars is not None and len(text) > max_chars:
        raise ResourceError(f"the program is {len(text):,} characters long; the limit is {max_chars:,}",
                            hint="split the work, or call gradcli.parse(text, max_chars=None) from Python")
    if "diff" in text:  # diff(…) builds from the rules, themselves parsed: compile them first
        RULES.load_all()
    if shapes is not None:
        shapes = {name: tuple(np.shape(s) if not isinstance(s, tuple) else s) for name, s in shapes.items()}
    with _LOCK:
        graph = _parse_with(_parser(), text, shapes, output)
    return expand_graph(graph, parse) if expand else graph


def _parse_with(parser, text: str, shapes: dict[str, tuple] | None = None, output: str | None = None) -> Graph:
    """Run `parser` (gradcli.language.lalr.Parser, or gradcli.language.lalr_reference.LarkParser) with the builder."""
    from .lalr import ParseFailure

    source = Source(text)
    gc_was_on = gc.isenabled()
    gc.disable()  # building 100,000 nodes triggers many useless collections
    try:
        _BUILDER.reset(source, shapes, output)
        try:
            return parser.parse(text)
        except ParseFailure as failure:
            raise _syntax_error(failure, source) from None
        finally:
            _BUILDER.reset(Source(""))  # drop references to this parse's nodes
    finally:
        if gc_was_on:
            gc.enable()


def _syntax_error(failure, source: Source) -> GradcliSyntaxError:
    text = source.text
    kind = failure.kind
    if kind == "char":
        pos = failure.pos
        char = text[pos]
        what = f"unexpected character {char!r}" if char.isprintable() else \
            f"unexpected character U+{ord(char):04X}"
    elif kind == "end":
        pos = len(text.rstrip())
        what = "unexpected end of input"
    else:
        pos = failure.pos
        shown = failure.value
        shown = shown if len(shown) <= 20 else shown[:19] + "…"
        what = "unexpected new line" if kind == "newline" else f"unexpected {shown!r}"
    at = pos  # where the text went wrong; `pos` is where the caret can stand
    pos = min(pos, max(len(text) - 1, 0)) if text else 0
    words = _expected_words(failure.expected, failure.literals)
    hint = character_hint(text[at]) if kind == "char" else None
    hint = hint or _slip_hint(text, at, kind) or _dunder_hint(text, pos)
    message = what + (f"; expected {words}" if words else "")
    return GradcliSyntaxError(message, span=Span(source, pos, pos + 1), hint=hint)


def _expected_words(expected, literals: dict) -> str:
    words = []
    for name in sorted(expected):
        if name in ("_NEWLINE", "$END"):  # separators: listing them only adds noise
            continue
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
            continue
        if name in literals:
            words.append(repr(literals[name]))
        elif name == "POW":
            words.append("'**'")
        elif name == "AUGOP":
            words.append("'+='")
    words = sorted(set(words))
    if len(words) > 1:
        return ", ".join(words[:-1]) + " or " + words[-1]
    return "".join(words)


_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_BEFORE = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _juxtaposition_hint(text: str, pos: int) -> str | None:
    """`3x` means 3*x to a person; say so."""
    match = _NUMBER_BEFORE.search(text[max(0, pos - 64):pos])
    if match and pos < len(text) and (text[pos].isalpha() or text[pos] in "_("):
        name = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[pos:])
        token = name.group(0) if name else "(…)"
        return f"write {match.group(0)}*{token} to multiply"
    return None


def _dunder_hint(text: str, pos: int) -> str | None:
    if text.startswith("__", pos) or text.startswith("__", max(pos - 1, 0)):
        return "names may not start with '__' (gradcli is not Python: nothing is ever executed)"
    return None


# Other tools' names for gradcli's functions: name (lower case) -> (gradcli's, a note).
_FUNCTION_ALIASES = {
    "ln": ("log", "log is the natural logarithm"),
    "sqr": ("sqrt", "for the square, write x**2"),
    "square": (None, "write x**2 for the square"),
    "power": ("pow", ""), "logistic": ("sigmoid", ""), "expit": ("sigmoid", ""),
    "transpose": ("T", ""), "average": ("mean", ""), "avg": ("mean", ""),
    "fabs": ("abs", ""), "absolute": ("abs", ""), "maximum": ("max", ""), "minimum": ("min", ""),
    "amax": ("max", ""), "amin": ("min", ""), "lse": ("logsumexp", ""),
    "matmul": (None, "write x @ y for the matrix product"),
    "arctan": ("atan", ""), "arcsin": ("asin", ""), "arccos": ("acos", ""), "arctan2": ("atan2", ""),
    "clamp": ("clip", ""), "lg": ("log10", ""), "ld": ("log2", ""),
}
_OPERATORS = ("**", "//", "+", "-", "*", "/", "@", "^")
_STATEMENT_WORDS = {
    "def": "define a function as f(t) = t*2 (gradcli is not Python)",
    "lambda": "define a function as f(t) = t*2 (gradcli is not Python)",
    "return": "write the expression itself: the last statement is the output",
    "let": "write x = 2, without 'let'", "var": "write x = 2, without 'var'",
}
# Python's words that are no part of gradcli: `x and y`, `import math`, `y if x else z`.
_PYTHON_WORDS = ("and", "or", "not", "if", "else", "for", "in", "is", "import", "from", "while", "print")


def _token_before(text: str, pos: int) -> str:
    """The token that ends just before `pos` (spaces skipped; a new line is "\n"), or ""."""
    i = pos
    while i > 0 and text[i - 1] in " \t\f\r":
        i -= 1
    if i == 0:
        return ""
    if text[i - 1].isalnum() or text[i - 1] in "_.":
        j = i
        while j > i - 100 and j > 0 and (text[j - 1].isalnum() or text[j - 1] in "_."):
            j -= 1
        return text[j:i]
    if i >= 2 and text[i - 2:i] in ("**", "//", "==", "+=", "-=", "*=", "/="):
        return text[i - 2:i]
    return text[i - 1]


def _token_at(text: str, pos: int) -> str:
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|\*\*|//|==|.", text[pos:pos + 100])
    return match.group(0) if match else ""


def _unclosed(text: str, pos: int) -> list[int]:
    """Where each '(' before `pos` that is still open there stands (comments skipped)."""
    opened: list[int] = []
    i = 0
    while True:
        match = _PAREN_OR_COMMENT.search(text, i, pos)
        if match is None:
            return opened
        if match.group() == "(":
            opened.append(match.start())
        elif match.group() == ")":
            if opened:
                opened.pop()
        i = match.end()


_PAREN_OR_COMMENT = re.compile(r"[()]|#[^\n]*")


def _where(text: str, pos: int) -> str:
    line, column = Source(text).line_col(pos)
    return f"column {column}" if "\n" not in text else f"line {line}, column {column}"


def _slip_hint(text: str, at: int, kind: str) -> str | None:
    """What the person most likely meant, when the parser stopped at `at` (a token, a new line or
    the end of the text): the common slips, from the most to the least specific."""
    token = "" if kind in ("end", "newline") else _token_at(text, at)
    before = _token_before(text, at)
    if kind == "char":
        if token != ".":
            return None
        if before in ("np", "numpy", "math", "torch", "jnp", "tf", "F", "scipy", "sp", "cmath"):
            return f"gradcli's functions have no '{before}.' prefix: write {_token_at(text, at + 1)}(…)"
        return "'.' is only a decimal point: names have no attributes (gradcli is not Python)"
    opened = _unclosed(text, at)
    if kind == "end" and opened:
        if len(opened) == 1:
            return f"the '(' at {_where(text, opened[0])} is not closed"
        places = [_where(text, p) for p in opened[-3:]]
        return f"{len(opened)} '(' are not closed: at {', '.join(places[:-1])} and {places[-1]}"
    if opened and "\n" in text[opened[-1]:at]:
        return (f"the '(' at {_where(text, opened[-1])} is not closed, so the line break before "
                "this does not end the statement")
    if token == ")" and not opened:
        return "this ')' has no matching '('"
    if before in _OPERATORS:
        if kind == "end":
            return f"the expression ends with {before!r}: add what follows it, or remove it"
        if kind == "newline":
            return (f"the line ends with {before!r}; to go on to the next line, put the expression in "
                    "parentheses")
        if before == "/" and token == "/" and text[at - 1] == "/":
            return "gradcli has no '//': write x/y to divide"
        if token in _OPERATORS:
            return f"two operators in a row, {before!r} and {token!r}: remove one, or put an operand between them"
    if token in _OPERATORS and before in ("", "\n", ";", "(", ",", "="):
        return f"{token!r} needs an operand on its left"
    if token == "=" or before == "==":
        if before in ("=", "==") or text.startswith("==", at):
            return "gradcli has no comparisons: '=' names a value (q = x*y), once, at a statement's start"
        return "'=' names a value at a statement's start (q = x*y); gradcli solves no equations"
    if token == ",":
        if at > 0 and text[at - 1].isdigit() and text[at + 1:at + 2].isdigit():
            return f"the decimal separator is '.': write {_decimal(text, at)}"
        return "',' separates a function's arguments, as in max(x, y); separate statements with ';'"
    if token == ")" and before == "(":
        return "the parentheses are empty: put an expression between them"
    if token == ")" and before == ",":
        return "remove the ',' before ')', or add the argument that should follow it"
    juxtaposed = _juxtaposition_hint(text, at)
    if juxtaposed:
        return juxtaposed
    if token and (token[0].isalnum() or token[0] in "_.(") and before:
        if before in _STATEMENT_WORDS:
            return _STATEMENT_WORDS[before]
        python = before if before in _PYTHON_WORDS else token if token in _PYTHON_WORDS else None
        if python:
            return f"gradcli has no {python!r}: it is arithmetic and functions only (gradcli is not Python)"
        if before in OVERLOADS:
            return f"to call {before}, write {before}({token}{'…' if token == '(' else ''})".replace("((", "(")
        if before[0].isalnum() or before[0] in "_." or before == ")":
            left = "(…)" if before == ")" else before
            right = "(…)" if token == "(" else token
            return f"an operator is missing between {left} and {right}: write {left}*{right} to multiply"
    return None


def _decimal(text: str, at: int) -> str:
    """`2,5` → `2.5`, the number around the comma at `at`."""
    left = re.search(r"\d+$", text[max(0, at - 30):at]).group()
    right = re.match(r"\d+", text[at + 1:at + 31]).group()
    return f"{left}.{right}"


def _arity_error(name: str, overloads: dict, got: int, span: Span, arguments: str) -> UnknownFunctionError:
    """A call with the wrong number of arguments: the signatures in the message, and the likely
    slip (`exp(2,5)`: a decimal comma) in the hint."""
    counts = sorted(overloads)
    wanted = " or ".join(str(n) for n in counts)
    plural = "argument" if counts == [1] else "arguments"
    signatures = " or ".join(_signature(name, overloads[n]) for n in counts)
    hint = f"write {signatures}"
    comma = re.search(r"(?<![\w.])\d+,\d+(?![\w.])", arguments)
    keyed = [op for n, op in overloads.items() if n == got - 1 and op.params]
    if comma and got - 1 in overloads and (got == 2 or ", " in arguments):  # not max(2,5,3)
        hint = f"the decimal separator is '.': write {comma.group().replace(',', '.')}"
    elif keyed:  # sum(x, 0): the axis given by position
        param = keyed[0].params[0]
        hint = f"{param} is a keyword argument: write {name}({', '.join(_parameters(keyed[0]))}, {param}=…)"
    return UnknownFunctionError(f"{name} takes {wanted} {plural}, got {got}: {signatures}", span=span, hint=hint)


def _signature(name: str, op: Op) -> str:
    return f"{name}({', '.join(_parameters(op))})"


def _parameters(op: Op) -> list[str]:
    if op.body is not None:  # a function the program defines: its own parameter names
        return list(op.body.params)
    if op.arg_names:
        return list(op.arg_names)
    return ["xyz"[i] if i < 3 else f"x{i}" for i in range(op.arity)]
