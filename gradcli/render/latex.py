"""`gradcli eval --format latex`: the backward pass for lecture notes and slides, and the notebook's
`_repr_latex_` (render/html.py calls `display_math`).

- the table (`table_fragment`): a `tabular` with the terminal table's columns (table.HEADERS),
  output first, cut at table.DEFAULT_ROWS rows unless --all (a fragment's tabular does not break
  across pages; a standalone document's table is a `longtable` that does, in a smaller font, its
  long labels wrapping, so that every row of --all is on a page); then f and ∂f/∂v in an
  `align*` (a standalone document allows it to break across pages), and the sums at forks (a
  long sum continues on further rows: `joined_sum`);
- --steps (`steps_fragment`, its equations from `step_blocks`): the chain rule written as equations, one `align*` per gate, output
  first: `\\frac{\\partial f}{\\partial q} = z = -4` under the seed, `\\frac{\\partial f}{\\partial x} =
  1 \\cdot \\frac{\\partial f}{\\partial q} = 1 \\cdot (-4) = -4` below it. A local gradient's formula is
  the op's registry rule (`Op.rule`) instantiated on the gate's inputs by the same Builder that
  differentiates graphs, and written by language/formula.py's LatexPrinter: no second table of
  derivatives. A VJP (a reduction, @, a transpose) is named by its registry text. A value read
  by several inputs of one gate (X*X) gets a line per input, saying which, then their sum.

The output is a fragment to `\\input` (needs `\\usepackage{amsmath}`, its first line says so), or
with `standalone=True` a whole document that pdflatex compiles as it is. Every label is escaped
(`text`: LaTeX's ten special characters, and the non-ASCII characters gradcli writes: ∂ · ² ᵀ σ
… √ ‖ ×); names are written as language/formula.py writes them (w0 is w_{0}, alpha is \\alpha);
numbers as numbers.py writes them, at --digits, 1e-07 as 10^{-7}. render/markdown.py writes
--steps with the same equations; render/tikz.py draws the circuit with the same numbers and
symbols.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from itertools import islice

from ..core.graph import Node
from ..core.trace import Result
from . import gates, numbers, table

PACKAGES = ("amsmath",)  # what a fragment needs in the preamble
LABEL_CHARS = 40  # a longer label is shown as source text, … in its middle
_MATH_NODES = 60  # a label whose expression has more gates is shown as source text

# -- text and math ------------------------------------------------------------------------------

_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
            "&": r"\&", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': "''"}
# the non-ASCII characters gradcli writes, as math (\ensuremath: in text and in math alike)
_UNICODE = {"∂": r"\partial", "·": r"\cdot", "²": "^{2}", "³": "^{3}", "ᵀ": r"^{\top}", "σ": r"\sigma",
            "√": r"\surd", "‖": r"\|", "×": r"\times", "≤": r"\le", "≥": r"\ge", "≠": r"\ne",
            "∞": r"\infty", "→": r"\to", "−": "-", "Σ": r"\Sigma", "∑": r"\sum"}
_TEXT_UNICODE = {"…": r"\ldots{}", "–": "--", "—": "---", "’": "'", "‘": "`", "“": "``", "”": "''",
                 "\u00a0": "~"}


def text(value: str) -> str:
    """`value` as LaTeX text: the special characters escaped, `--` kept as two hyphens, the
    non-ASCII characters gradcli writes as their LaTeX; any other non-ASCII character (a comment
    in a label) as `?`, which every engine prints."""
    out = []
    previous = ""
    for char in value:
        if char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif char == "-" and previous == "-":
            out.append("{}-")  # not an en dash
        elif char in _UNICODE:
            out.append(rf"\ensuremath{{{_UNICODE[char]}}}")
        elif char in _TEXT_UNICODE:
            out.append(_TEXT_UNICODE[char])
        elif char in "\n\t\r":
            out.append(" ")
        elif ord(char) > 126 or ord(char) < 32:
            out.append("?")
        else:
            out.append(char)
        previous = char
    return "".join(out)


def texttt(value: str) -> str:
    return r"\texttt{" + text(value) + "}"


_NUMBER = re.compile(r"-?(?:inf|nan|\d+(?:\.\d*)?(?:e[-+]?\d+)?)")


def _scalar_text(token: str) -> str:
    """A number as numbers.py writes it, in math: 1e-07 is 10^{-7}, 2.5e+20 is 2.5 \\cdot 10^{20}."""
    sign, bare = ("-", token[1:]) if token.startswith("-") else ("", token)
    if bare == "inf":
        return sign + r"\infty"
    if bare == "nan":
        return r"\mathrm{nan}"
    if "e" in bare:
        mantissa, exponent = bare.split("e")
        power = f"10^{{{int(exponent)}}}"
        return sign + (power if mantissa == "1" else rf"{mantissa} \cdot {power}")
    return token


# Math mode, for LaTeX and for MathJax alike (Markdown's $$ blocks, the notebook): MathJax reads
# no macro inside \text{…}, so the special characters stay outside it.
_MATH_SPECIAL = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
                 "&": r"\&", "_": r"\_", "^": r"\hat{}", "~": r"\sim ", '"': "''", "…": r"\ldots "}
_TEXT_SAFE = re.compile(r"[A-Za-z0-9 .,:;()/+*=!?@'\[\]]")


def _math_char(char: str) -> str:
    if char in _MATH_SPECIAL:
        return _MATH_SPECIAL[char]
    if char in _UNICODE:
        return _UNICODE[char] + " " if _UNICODE[char][-1].isalpha() else _UNICODE[char]
    if char in "\n\t\r":
        return r"\ "
    return char if 32 <= ord(char) <= 126 else "?"


def math_text(value: str) -> str:
    """Text in math mode (a VJP's registry text, `vjp: g·bᵀ`): its plain runs in \\text, every
    other character as math (∂ is \\partial, _ is \\_)."""
    out, run = [], []
    for char in value:
        if _TEXT_SAFE.fullmatch(char):
            run.append(char)
            continue
        if run:
            out.append(r"\text{" + "".join(run) + "}")
            run = []
        out.append(_math_char(char))
    if run:
        out.append(r"\text{" + "".join(run) + "}")
    return "".join(out)


def math_tt(value: str) -> str:
    """Source text in math mode, typewriter (\\mathtt), its spaces kept: a label too long or too
    odd to write as a formula."""
    return r"\mathtt{" + "".join(r"\ " if c == " " else _math_char(c) for c in value) + "}"


def number(value, digits: int = 6) -> str:
    """A value in math mode, as numbers.number writes it: -4, 10^{-7}, \\infty; an array as its
    shape and preview, (2,)\\;[1, 2]; a rule standing for a local that is not elementwise (a VJP)
    as text."""
    written = numbers.number(value, digits)
    if isinstance(value, str):
        return math_text(written)
    if written.startswith("("):  # an array: (2, 2) [[1, 2], [3, 4]]
        shape, _, preview = written.partition(") ")
        preview = _NUMBER.sub(lambda m: _scalar_text(m.group(0)), preview).replace("...", r"\ldots")
        return rf"{shape.replace(' ', '')})\;{preview}"
    return _scalar_text(written)


ROW_CHARS = 90  # an align line's sum longer than this (in LaTeX source) continues on the next row


def joined_sum(terms) -> str:
    """Numbers in math written as one sum (numbers.joined_sum), for an `align` line: a long one
    continues on further rows (`\\\\ &\\quad + …`), none of it off the page (a fork's
    hundred terms with --all)."""
    rows, row = [], ""
    for part in re.split(r"(?= [+-] )", numbers.joined_sum(terms)):
        if row and len(row) + len(part) > ROW_CHARS:
            rows.append(row)
            row = part.lstrip()
        else:
            row += part
    rows.append(row)
    return " \\\\\n  &\\quad ".join(rows)


def factor(math: str) -> str:
    """A number as a factor of a product: in parentheses when it starts with a minus sign."""
    return rf"\left({math}\right)" if math.startswith("-") else math


def name(name: str) -> str:
    """A program's name in math, as language/formula.py writes names (w0 is w_{0})."""
    from ..language.formula import latex_name

    return latex_name(name)


def partial(top: str, bottom: str) -> str:
    """\\frac{\\partial top}{\\partial bottom}, the bottom in parentheses where it is not one symbol."""
    if not re.fullmatch(r"[A-Za-z](?:_\{[^{}]*\})?|\\[A-Za-z]+(?:_\{[^{}]*\})?|\\mathit\{[^{}]*\}(?:_\{[^{}]*\})?", bottom):
        bottom = rf"\left({bottom}\right)"
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


_SYMBOLS = {"+": "+", "-": "-", "*": r"\times", "/": "/", "-x": "-x", "**": "x^{y}", "@": "@", "σ": r"\sigma",
            "‖·‖": r"\|\cdot\|", "∂": r"\partial", "=": "=", "T": r"\top", "exp": r"\exp", "log": r"\log",
            "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "tanh": r"\tanh", "sinh": r"\sinh", "cosh": r"\cosh",
            "max": r"\max", "min": r"\min", "sqrt": r"\sqrt{\ }"}


def symbol(gate: Node) -> str:
    """A gate's op symbol (GateView.symbol) in math: \\times, \\exp, x^{2}, 1/x, \\operatorname{sig}."""
    written = gate.view.symbol
    if written in _SYMBOLS:
        return _SYMBOLS[written]
    power = re.fullmatch(r"x\^(.+)", written)
    if power:
        return f"x^{{{power.group(1)}}}"
    if re.fullmatch(r"-?\d*/x", written):
        return written
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", written):
        return r"\operatorname{" + text(written) + "}"
    return math_text(written)


# -- labels: a node as math --------------------------------------------------------------------


def _stopped(root: Node) -> Node | None:
    """A copy of the expression `root` computes, its named nodes (other than root) as variables
    and user functions as calls (not their bodies), for formula.py's printer; None past
    _MATH_NODES gates or for a gate of a derivative (scoped)."""
    copies: dict[int, Node] = {}
    stack = [(root, False)]
    count = 0
    while stack:
        node, ready = stack.pop()
        if id(node) in copies:
            continue
        if node is not root and node.name is not None and node.kind != "const":
            copies[id(node)] = Node("var", node.span, name=node.name)
            continue
        if node.kind != "gate":
            copies[id(node)] = node if node.kind == "const" else Node("var", node.span, name=node.name)
            continue
        if node.scope is not None:
            return None
        if not ready:
            count += 1
            if count > _MATH_NODES:
                return None
            stack.append((node, True))
            stack.extend((i, False) for i in reversed(node.inputs) if id(i) not in copies)
            continue
        op = node.op if node.op.body is None else replace(node.op, body=None)
        copies[id(node)] = Node("gate", node.span, op=op, inputs=tuple(copies[id(i)] for i in node.inputs),
                                params=dict(node.params))
    return copies[id(root)]


def labelled(node: Node) -> tuple[str, int]:
    """`label` and how tightly it binds (language/formula.py's SUM … ATOM), for a formula that
    uses it as an operand."""
    from ..language.formula import ATOM, SUM, Formula, LatexPrinter

    if node.name is not None and node.kind != "const":
        return name(node.name), ATOM
    if node.kind == "const":
        math = number(node.default)
        return math, SUM if math.startswith("-") else ATOM
    written = table.label(node)
    if len(written) <= LABEL_CHARS:
        copy = _stopped(node)
        if copy is not None:
            formula = Formula([copy], normal=False)
            printer = LatexPrinter(formula)
            root = formula.roots[0]
            math = printer.full(root)
            if formula.names:  # a repeated subexpression named: x^{u} where u = …
                where = [f"{printer.name(n)} = {printer.full(i)}" for n, i in formula.statements(0)]
                return math + r" \quad\text{where}\quad " + r",\; ".join(where), SUM
            strength = SUM if printer.negated[root] else printer.strength[root]
            return math, strength
    from .style import shorten

    return math_tt(shorten(written, LABEL_CHARS)), ATOM


def expression(gate: Node) -> str | None:
    """What a named gate computes, in math (q = x + y: x + y), its inputs by their names; None
    for a long one."""
    from ..language.formula import Formula

    copy = _stopped(gate)
    if copy is None:
        return None
    math = Formula([copy], normal=False).latex()
    return math if len(math) <= 4 * LABEL_CHARS else None


_labelled = labelled


def label(node: Node) -> str:
    """How a node reads in math: its name, its number, its expression as formula.py writes it
    (x + y, \\sigma\\left(w x\\right)), or for a long one its source text (\\texttt, … in the
    middle)."""
    return labelled(node)[0]


# -- local gradients from the registry's rules ---------------------------------------------------


def placeholder(index: int) -> str:
    """The variable standing for a gate's input `index` in `local_rule`'s formula."""
    return f"\x00{index}"


def local_rule(gate: Node, index: int, taken=(), cache: dict | None = None):
    """The local gradient ∂gate/∂input `index` as language/formula.py's Formula (normal form,
    what is printed), from the op's registry rule applied by the Builder that differentiates
    graphs, each non-constant input k a variable `placeholder(k)`; None for an op whose rule is a
    VJP or a function you define; 0 where the rule says the output does not depend on it.
    `cache`: a dict kept between calls (gates of one op with the same constants share it)."""
    from ..differentiation.derivative import RULES, Builder
    from ..language import parser  # noqa: F401  (gives RULES its compiler)
    from ..language.formula import Formula

    op = gate.op
    if op.body is not None or not op.elementwise:
        return None
    if cache is not None:
        key = (op.name, index, tuple(None if i.kind != "const" else (float(i.default), math.copysign(1.0, i.default))
                                     for i in gate.inputs), repr(sorted(gate.params.items())), frozenset(taken))
        if key not in cache:
            cache[key] = local_rule(gate, index, taken)
        return cache[key]
    span = gate.span
    args = tuple(inp if inp.kind == "const" else Node("var", span, name=placeholder(k))
                 for k, inp in enumerate(gate.inputs))
    local = Builder(lambda node: None, scalars=True).apply(RULES.template(op, index, True), args, None,
                                                          gate.params, span)
    if local is None:
        return 0
    return Formula([local], normal=True, scalars=True, taken=taken)


def local_formula(gate: Node, index: int, inputs: list[tuple[str, int]], taken=(),
                  digits: int = 6, cache: dict | None = None) -> tuple[str, list[str]] | None:
    """`local_rule` in math, input k written `inputs[k]` ((its math, a letter for a long one;
    how tightly it binds), so that the printer puts it in parentheses where the formula needs
    them), and the intermediates it names (`u = …`); a function you define's is ∂sig/∂t; None
    for an op whose rule is a VJP (the caller names it by its registry text). A constant the
    rule folded (2/sqrt(pi) is 1.1283791670955126) is written to `digits` digits, as numbers are."""
    from ..language.formula import LatexPrinter

    op = gate.op
    if op.body is not None:  # a function you define: ∂sig/∂t, its parameter
        params = op.body.params
        parameter = params[index] if index < len(params) else "x"
        return partial(r"\operatorname{" + text(op.call_name) + "}", name(parameter)), []
    formula = local_rule(gate, index, taken, cache)
    if formula is None:
        return None
    if formula == 0:
        return "0", []
    marks = {placeholder(k): written for k, written in enumerate(inputs)}

    class Printer(LatexPrinter):
        def variable(self, written: str) -> str:
            return marks[written][0] if written in marks else super().variable(written)

        def constant(self, value: float):
            negated, parts, strength = super().constant(value)
            if len(parts) == 1 and re.fullmatch(r"\d+\.\d+", parts[0]) and len(parts[0]) > digits + 2:
                parts = [numbers.scalar(abs(value), digits)]
            return negated, parts, strength

        def visit(self, k: int) -> None:
            super().visit(k)
            e = self.formula.exprs[k]
            if e.kind == "var" and e.name in marks:
                self.strength[k] = marks[e.name][1]

    printer = Printer(formula)
    body = printer.full(formula.roots[0])
    return body, [f"{printer.name(n)} &= {printer.full(i)}" for n, i in formula.statements(0)]


# -- the table ------------------------------------------------------------------------------------


def _row_cells(result: Result, digits: int):
    """Each edge's row in math and text: table.rows' cells, the labels and numbers in math."""
    trace = result.trace
    if trace is None:
        return
    labels: dict[int, str] = {}

    def cached(node) -> str:
        if node.id not in labels:
            labels[node.id] = "$" + label(node) + "$"
        return labels[node.id]

    for record in reversed(trace):
        if not record.edges:
            continue
        gate = record.node
        op = "$" + symbol(gate) + "$" + (" (stable)" if gate.rewrite is not None else "")
        value = "$" + number(record.value, digits) + "$"
        for edge in record.edges:
            local = edge.local
            yield (cached(gate), op, text(gates.role(edge)), cached(edge.input),
                   "$" + number(trace[edge.input.id].value, digits) + "$", value,
                   "$" + number(local, digits) + "$" if not isinstance(local, str) else text(local),
                   "$" + number(edge.upstream, digits) + "$", "$" + number(edge.result, digits) + "$")


def equations(result: Result, *, digits: int = 6, all_rows: bool = False, output: str = "f") -> list[str]:
    """f and ∂f/∂v per variable (at most table.DEFAULT_ROWS unless `all_rows`) as `align` lines
    (`lhs &= rhs`); the notebook's LaTeX view. Of an array f, the gradients of sum(f)."""
    f = name(output)
    lines = [f"{f} &= {number(result.value, digits)}"]
    top = f if result.gradient_of == "f" else rf"\textstyle\sum {f}"
    gradients = result.gradients
    limit = len(gradients) if all_rows else table.DEFAULT_ROWS
    for variable, grad in islice(gradients.items(), limit):
        lines.append(f"{partial(top, name(variable))} &= {number(grad, digits)}")
    if len(gradients) > limit:
        lines.append(rf"&\ldots\ \text{{{len(gradients) - limit} more gradients not shown}}")
    return lines


def display_math(result: Result, *, digits: int = 6) -> str:
    """The notebook's `_repr_latex_`: `equations` in one `$$\\begin{aligned}…$$` (MathJax)."""
    return "$$\\begin{aligned}" + " \\\\ ".join(equations(result, digits=digits)) + "\\end{aligned}$$"


def _fork_lines(result: Result, digits: int, all_rows: bool, output: str) -> tuple[list[str], int]:
    trace = result.trace
    if trace is None:
        return [], 0
    forks = [record for record in trace if record.is_fork]
    limit = len(forks) if all_rows else table.DEFAULT_ROWS
    lines = []
    for record in forks[:limit]:
        arrivals = record.arrivals
        most = len(arrivals) if all_rows else table.DEFAULT_TERMS
        terms = joined_sum(number(edge.result, digits) for edge in islice(arrivals, most))
        if len(arrivals) > most:
            terms += rf" + \ldots\ \text{{({len(arrivals) - most} more terms)}}"
        lines.append(f"{partial(name(output), label(record.node))} &= {terms} = {number(record.gradient, digits)}")
    return lines, len(forks) - len(lines)


def _wrapped(line: str, width: int = 120) -> str:
    """An `align` line longer than `width` characters (an array's preview at --digits 17)
    continued on further rows (`\\\\ &\\quad`) after a comma or before an = outside any
    braces or \\left…\\right, where a row may end."""
    if len(line) <= width:
        return line
    rows, start, depth, last = [], 0, 0, 0
    i = 0
    while i < len(line):
        char = line[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif line.startswith(r"\left", i):
            depth += 1
        elif line.startswith(r"\right", i):
            depth -= 1
        elif depth == 0 and (line.startswith(", ", i) or line.startswith(" = ", i)) and "&" in line[:i]:
            cut = i + 2 if char == "," else i + 1
            if cut - start > width and last > start:
                rows.append(line[start:last].rstrip())
                start = last
            last = cut
        i += 1
    if len(line) - start > width and last > start:
        rows.append(line[start:last].rstrip())
        start = last
    rows.append(line[start:].lstrip())
    return " \\\\\n  &\\quad ".join(rows)


def _align(lines: list[str]) -> str:
    return "\\begin{align*}\n  " + " \\\\\n  ".join(_wrapped(line) for line in lines) + "\n\\end{align*}"


LONG_PACKAGES = ("amsmath", "longtable", "array")  # a standalone document's: its table breaks across pages
_LABEL_COLUMN = r">{\raggedright\arraybackslash}p{0.16\linewidth}"  # gate, input: long labels wrap
_NUMBER_COLUMN = r">{\raggedleft\arraybackslash}p{0.085\linewidth}"  # an array's preview wraps at commas


def _breakable(cell: str) -> str:
    """A label in a table cell that may wrap: source text (math_tt's) breaks at its spaces and
    after * , and the … of a shortened label, one \\mathtt per piece (a braced group in math
    never breaks)."""
    if not cell.startswith(r"$\mathtt{"):
        return cell
    for piece, broken in ((r"\ ", r"}\ \allowbreak\mathtt{"), (r"\ldots ", r"\ldots}\allowbreak\mathtt{"),
                          ("*", r"*}\allowbreak\mathtt{"), (",", r",}\allowbreak\mathtt{")):
        cell = cell.replace(piece, broken)
    return cell


def table_fragment(result: Result, *, digits: int = 6, all_rows: bool = False, output: str = "f",
                   long: bool = False) -> str:
    """The backward table, f and the gradients, the forks: one fragment (see the module). `long`
    (a standalone document's): a `longtable` in \\footnotesize that breaks across pages, its
    header repeated, its gate and input labels wrapping in columns a fifth of the line wide."""
    parts = []
    total = result.edge_count
    shown = total if all_rows else min(total, table.DEFAULT_ROWS)
    if shown:
        head = " & ".join(text(h) for h in table.HEADERS) + r" \\"
        rows = [" & ".join(cells) + r" \\" for cells in islice(_row_cells(result, digits), shown)]
        title = ("\\noindent\\textbf{Backward pass of} " + texttt(gates.title(result.graph)) + "\\\\\n"
                 + "\\emph{" + text(table.HOW_TO_READ) + "}\n\n")
        if long:
            align = "".join(_NUMBER_COLUMN if i in table.NUMBER_COLUMNS else _LABEL_COLUMN if i in (0, 3) else "l"
                            for i in range(len(table.HEADERS)))
            rows = [" & ".join(_breakable(c) if i in (0, 3) else c.replace(", ", ",\\allowbreak ").replace(r"\;", r"\;\allowbreak ")
                               if i in table.NUMBER_COLUMNS else c for i, c in enumerate(cells)) + r" \\"
                    for cells in islice(_row_cells(result, digits), shown)]
            # a number does not break: a smaller font where --digits makes them long
            size = "footnotesize" if digits <= 9 else "scriptsize" if digits <= 12 else "tiny"
            parts.append(title + f"{{\\{size}\\setlength{{\\tabcolsep}}{{3pt}}\\setlength{{\\LTleft}}{{0pt}}"
                         "\\setlength{\\LTright}{0pt}\n"
                         + f"\\begin{{longtable}}{{@{{}}{align}@{{}}}}\n\\hline\n{head}\n\\hline\n\\endhead\n"
                         + "\\hline\n\\endfoot\n" + "\n".join(rows) + "\n\\end{longtable}}")
        else:
            align = "".join("r" if i in table.NUMBER_COLUMNS else "l" for i in range(len(table.HEADERS)))
            parts.append(title + f"\\noindent\\begin{{tabular}}{{{align}}}\n\\hline\n{head}\n\\hline\n"
                         + "\n".join(rows) + "\n\\hline\n\\end{tabular}")
        if total > shown:
            parts.append(r"\emph{\ldots{} " + f"{total - shown} more rows not shown; --all shows every row".replace("--", "-{}-") + "}")
    lines = equations(result, digits=digits, all_rows=all_rows, output=output)
    if result.gradient_of == "sum(f)":
        lines.insert(1, rf"&\text{{{text(output)} is an array of shape {text(str(tuple(result.value.shape)))}: "
                        rf"the gradients are those of $\sum {name(output)}$}}")
    parts.append(_align(lines))
    forks, hidden = _fork_lines(result, digits, all_rows, output)
    if forks:
        if hidden:
            forks.append(rf"&\ldots\ \text{{{hidden} more forks not shown}}")
        parts.append("\\noindent Gradients added at forks (a value feeding several gates):\n" + _align(forks))
    return "\n\n".join(parts)


# -- --steps: the chain rule as equations -----------------------------------------------------------


def step_blocks(result: Result, *, digits: int = 6, all_steps: bool = False, output: str = "f"):
    """The steps of render/steps.py as (heading, [align lines]) pairs, output first, then
    ("totals", lines) for the variables; a step's heading is (number, the gate's math, its
    value's math, the op's math, the role of its first input, the gate's role, the op's symbol
    as text). At most steps.DEFAULT_STEPS steps unless `all_steps`, then ("more", count)."""
    from ..core.ops import _IDENTIFIER, _SHORT
    from ..language.formula import ATOM
    from . import steps as steps_view

    f = name(output)
    graph = result.graph
    out = graph.output
    taken = steps_view._names(result)
    limit = None if all_steps else steps_view.DEFAULT_STEPS
    count = 0
    rules: dict = {}  # local_rule's, per op and constants
    known: dict[int, tuple[str, int]] = {}  # labelled(node), per node id

    def labelled(node) -> tuple[str, int]:
        if node.id not in known:
            known[node.id] = _labelled(node)
        return known[node.id]

    def label(node) -> str:
        return labelled(node)[0]

    def terms_sum(terms: list, total) -> str:
        shown = terms if all_steps else terms[:steps_view.DEFAULT_TERMS]
        more = rf" + \ldots\ \text{{({len(terms) - len(shown)} more terms)}}" if len(shown) < len(terms) else ""
        return joined_sum(number(t, digits) for t in shown) + more + f" = {number(total, digits)}"

    for record in steps_view._step_records(result):
        count += 1
        if limit is not None and count > limit:
            continue
        gate = record.node
        spare = iter(n for n in steps_view._SHORT_NAMES if n not in taken)
        inputs, letters = [], []
        for inp in gate.inputs:
            written = inp.label
            if inp.kind == "const" or inp.name is not None or _IDENTIFIER.fullmatch(written) \
                    or len(written) <= _SHORT:
                inputs.append(labelled(inp))
            else:
                letter = next(spare, None)
                if letter is None:
                    inputs.append(labelled(inp))
                else:
                    letters.append((letter, inp))
                    inputs.append((name(letter), ATOM))
        here = f if gate is out else partial(f, label(gate))
        gate_math = label(gate)
        if gate.name is not None:  # q = x + y: its name, then what it computes
            shown = expression(gate)
            if shown is not None and shown != gate_math:
                gate_math = f"{gate_math} = {shown}"
        if gate is out and not gate_math.startswith(f"{f} = ") and gate_math != f:
            gate_math = f"{f} = {gate_math}"
        lines = []
        if gate is out:
            lines.append(rf"{partial(f, f)} &= 1 && \text{{seed}}")
        else:
            terms = steps_view._terms(record)
            if len(terms) > 1:
                lines.append(rf"{partial(f, label(gate))} &= {terms_sum(terms, record.gradient)} "
                             r"&& \text{gradients add at forks}")
        lines.extend(rf"{name(letter)} &= {label(inp)}" for letter, inp in letters)
        seed = gate is out
        # a value read by several of this gate's inputs (X*X): each input's line says which input
        # it is, then their sum, the fork, where it happens
        reads: dict[int, list] = {}
        for edge in record.edges:
            reads.setdefault(edge.input.id, []).append(edge)
        for edge in record.edges:
            inp = edge.input
            left = partial(f, inputs[edge.index][0])
            written = local_formula(gate, edge.index, inputs, taken | {letter for letter, _ in letters}, digits, rules)
            upstream = number(edge.upstream, digits)
            result_math = number(edge.result, digits)
            if written is None:  # a VJP, named by its registry text
                vjp = number(edge.local, digits)
                lines.append(f"{left} &= {vjp} = {result_math}" if seed
                             else rf"{left} &= {vjp} \text{{ of }} {here} = {result_math}")
                continue
            formula, where = written
            lines.extend(line for line in (rf"&\text{{where }} {w.replace('&=', '=')}" for w in where)
                         if line not in lines)
            local = number(edge.local, digits)
            if seed:  # ∂f/∂f = 1: the local is the result
                lines.append(f"{left} &= {formula} = {result_math}" if formula != result_math
                             else f"{left} &= {result_math}")
            else:
                shown = f"{formula} \\cdot {here}"
                lines.append(f"{left} &= {shown} = {factor(local)} \\cdot {factor(upstream)} = {result_math}")
            same = reads[inp.id]
            if len(same) > 1:
                lines[-1] += rf" && \text{{input {edge.index + 1}}}"
                if edge is same[-1]:
                    which = ", ".join(str(e.index + 1) for e in same)
                    total = sum((e.result for e in same[1:]), same[0].result)
                    lines.append(rf"{left} &= {joined_sum(number(e.result, digits) for e in same)}"
                                 rf" = {number(total, digits)} && \text{{inputs {which} add}}")
        role = gates.role(record.edges[0]) if record.edges else gate.view.role
        yield ("step", (count, gate_math, number(record.value, digits), symbol(gate), role, gate.view.role,
                        gate.view.symbol)), lines
    if limit is not None and count > limit:
        yield ("more", count - limit), []
    if not count:
        yield ("none", None), []
    totals = []
    for total in steps_view.iter_totals(result):
        if limit is not None and len(totals) >= limit:
            break
        terms = total["terms"]
        value = terms_sum(terms, total["gradient"]) if len(terms) > 1 else number(total["gradient"], digits)
        totals.append(f"{partial(f, name(total['node'].name))} &= {value}"
                      + (r" && \text{gradients add at forks}" if len(terms) > 1 else ""))
    if totals:
        yield ("totals", None), totals


def steps_fragment(result: Result, *, digits: int = 6, all_steps: bool = False, output: str = "f") -> str:
    """--steps: a heading per gate and its equations in an `align*` (see the module)."""
    from ..core.ops import ROLES

    parts = ["\\noindent\\textbf{Backward pass of} " + texttt(gates.title(result.graph))
             + ", one gate per step, output first"]
    if result.gradient_of == "sum(f)":
        parts.append(rf"\noindent {text(output)} is an array of shape {text(str(tuple(result.value.shape)))}: "
                     rf"the gradients are those of $\sum {name(output)}$.")
    roles = []
    for (kind, info), lines in step_blocks(result, digits=digits, all_steps=all_steps, output=output):
        if kind == "step":
            number_, gate_math, value, op, role, word, _ = info
            if word not in roles:
                roles.append(word)
            value = value.replace(", ", r",\allowbreak ")  # an array's preview may wrap
            parts.append(rf"\noindent\textbf{{{number_}.}} ${gate_math} = {value}$ \quad (${op}$ gate: {text(role)})"
                         + "\n" + _align(lines))
        elif kind == "more":
            parts.append(r"\noindent\emph{\ldots{} " + f"{info} more steps not shown; -{{}}-all shows every step}}")
        elif kind == "none":
            parts.append(r"\noindent No gradient flows back: the output depends on no variable.")
        else:
            parts.append("\\noindent Gradients of the variables:\n" + _align(lines))
    if roles:
        parts.append("\\noindent Roles: " + "; ".join(rf"\emph{{{text(r)}}}: {text(ROLES[r])}" for r in roles) + ".")
    return "\n\n".join(parts)


# -- documents -------------------------------------------------------------------------------------


def header(packages=PACKAGES) -> str:
    return "% gradcli: a LaTeX fragment; its preamble needs " + " ".join(
        rf"\usepackage{{{p}}}" for p in packages)


def document(body: str, packages=PACKAGES, *, landscape: bool = False,
             paper: tuple[float, float] | None = None) -> str:
    """`body` as a whole document pdflatex compiles (article, the packages, no page numbers);
    `paper`: (width, height) in cm of a page bigger than A4, for a big picture."""
    geometry = "landscape,margin=1.5cm" if landscape else "margin=2cm"
    if paper is not None:
        geometry = f"paperwidth={paper[0]:.1f}cm,paperheight={paper[1]:.1f}cm,margin=1.5cm"
    uses = "\n".join(rf"\usepackage{{{p}}}" for p in packages)
    if "amsmath" in packages:  # a long align* (every gradient, --all) breaks across pages
        uses += "\n\\allowdisplaybreaks"
    return (f"\\documentclass{{article}}\n\\usepackage[{geometry}]{{geometry}}\n{uses}\n\\pagestyle{{empty}}\n"
            f"\\begin{{document}}\n{body}\n\\end{{document}}")


def render(results: dict[str, Result], *, steps: bool = False, digits: int = 6, all_rows: bool = False,
           standalone: bool = False) -> str:
    """`--format latex` for {output name: Result} (`{"f": result}` for one output), each output
    called by its name (∂g/∂x for --outputs g), several each in a section of their own."""
    several = len(results) > 1
    parts = []
    for output, result in results.items():
        called = output  # {"f": result} for one output; --outputs q: q
        body = (steps_fragment(result, digits=digits, all_steps=all_rows, output=called) if steps
                else table_fragment(result, digits=digits, all_rows=all_rows, output=called, long=standalone))
        if several:
            body = rf"\paragraph{{Output {texttt(output)}}}" + "\n\n" + body
        parts.append(body)
    body = "\n\n".join(parts)
    return document(body, LONG_PACKAGES, landscape=True) if standalone else header() + "\n" + body
