"""`gradcli eval --format markdown`: the backward pass as GitHub-flavoured Markdown, and the
notebook's `_repr_markdown_` (render/html.py calls `result_markdown`).

- the table: a pipe table with the terminal table's columns (table.HEADERS), each label and
  array in a code span (nothing in it is read as Markdown; a `|` is escaped, as GFM asks even
  there), cut at table.DEFAULT_ROWS rows unless --all; then f and ∂f/∂v as a list, and the sums
  at forks;
- --steps: per gate a line and its chain rule as equations in a `$$` block (GitHub, Jupyter and
  pandoc render them), the equations of render/latex.py's `step_blocks`.

Any other text is escaped (`escape`: Markdown's punctuation, so `x*y*z` is not emphasis).
"""

from __future__ import annotations

import re
from itertools import islice

from ..core.trace import Result
from . import gates, numbers, table

# what Markdown (with GFM tables, strikethrough, and the $ math of GitHub and Jupyter) reads
# inside a line
_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|$~&])")


def escape(text: str) -> str:
    """Text on one line, Markdown's punctuation backslash-escaped (CommonMark: any ASCII
    punctuation may be)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def code(text: str, *, in_table: bool = True) -> str:
    """`text` as a code span on one line: a fence longer than any run of backticks in it; in a
    table a `|` escaped (GFM splits cells at it even in a code span)."""
    text = " ".join(text.split("\n"))
    if in_table:
        text = text.replace("|", "\\|")
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _number(value, digits: int) -> str:
    written = numbers.number(value, digits)
    return written if re.fullmatch(r"-?[0-9.e+-]+|-?inf|nan", written) else code(written)


def _plain(text: str) -> str:
    """A sum of numbers as it is, or in a code span where it holds an array."""
    return text if re.fullmatch(r"[-0-9.e+ …()a-z]*", text) and "[" not in text else code(text, in_table=False)


def _rows(result: Result, digits: int):
    """Each edge's cells: table.rows with the labels, op and arrays in code spans."""
    for gate, op, role, inp, *values in table.rows(result, lambda v: numbers.number(v, digits)):
        cells = [code(gate), code(op), escape(role), code(inp)]
        cells += [v if re.fullmatch(r"-?[0-9.e+-]+|-?inf|nan", v) else code(v) for v in values]
        yield cells


def _summary(result: Result, digits: int, all_rows: bool, output: str) -> list[str]:
    lines = [f"- {escape(output)} = {_number(result.value, digits)}"]
    if result.gradient_of == "sum(f)":
        lines.append(f"- {escape(output)} is an array of shape {code(str(tuple(result.value.shape)))}: "
                     f"the gradients are those of sum({escape(output)})")
    gradients = result.gradients
    limit = len(gradients) if all_rows else table.DEFAULT_ROWS
    for variable, grad in islice(gradients.items(), limit):
        lines.append(f"- ∂{escape(output)}/∂{escape(variable)} = {_number(grad, digits)}")
    if len(gradients) > limit:
        lines.append(f"- … {len(gradients) - limit} more gradients not shown")
    return lines


def _forks(result: Result, digits: int, all_rows: bool, output: str) -> list[str]:
    trace = result.trace
    if trace is None:
        return []
    forks = [record for record in trace if record.is_fork]
    limit = len(forks) if all_rows else table.DEFAULT_ROWS
    lines = []
    for record in forks[:limit]:
        arrivals = record.arrivals
        most = len(arrivals) if all_rows else table.DEFAULT_TERMS
        terms = numbers.joined_sum(numbers.number(edge.result, digits) for edge in islice(arrivals, most))
        if len(arrivals) > most:
            terms += f" + … ({len(arrivals) - most} more terms)"
        lines.append(f"- ∂{escape(output)}/∂{code(record.node.label, in_table=False)} = "
                     f"{_plain(terms)} = {_number(record.gradient, digits)}")
    if len(forks) > limit:
        lines.append(f"- … {len(forks) - limit} more forks not shown")
    return lines


def table_text(result: Result, *, digits: int = 6, all_rows: bool = False, output: str = "f") -> str:
    """The backward table, f and its gradients, the forks (see the module)."""
    lines = []
    total = result.edge_count
    shown = total if all_rows else min(total, table.DEFAULT_ROWS)
    if shown:
        lines += [f"**Backward pass of** {code(gates.title(result.graph), in_table=False)}", "",
                  f"*{escape(table.HOW_TO_READ)}*", "",
                  "| " + " | ".join(table.HEADERS) + " |",
                  "|" + "|".join("---:" if i in table.NUMBER_COLUMNS else "---" for i in range(len(table.HEADERS))) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in islice(_rows(result, digits), shown)]
        if total > shown:
            lines += ["", f"*… {total - shown} more rows not shown; \\-\\-all shows every row*"]
        lines.append("")
    lines += _summary(result, digits, all_rows, output)
    forks = _forks(result, digits, all_rows, output)
    if forks:
        lines += ["", "Gradients added at forks (a value feeding several gates):", "", *forks]
    return "\n".join(lines)


def steps_text(result: Result, *, digits: int = 6, all_steps: bool = False, output: str = "f") -> str:
    """--steps: per gate a line and its equations in a `$$` block (render/latex.py's)."""
    from ..core.ops import ROLES
    from .latex import step_blocks

    def block(lines: list[str]) -> list[str]:
        return ["$$", "\\begin{aligned}", *(line + " \\\\" for line in lines[:-1]), lines[-1], "\\end{aligned}", "$$"]

    parts = [f"**Backward pass of** {code(gates.title(result.graph), in_table=False)}, one gate per step, output first"]
    if result.gradient_of == "sum(f)":
        parts.append(f"{escape(output)} is an array of shape {code(str(tuple(result.value.shape)), in_table=False)}: "
                     f"the gradients are those of sum({escape(output)})")
    roles = []
    for (kind, info), lines in step_blocks(result, digits=digits, all_steps=all_steps, output=output):
        if kind == "step":
            count, gate_math, value, _, role, word, plain = info
            if word not in roles:
                roles.append(word)
            parts.append("\n".join([f"**{count}.** ${gate_math} = {value}$ ({code(plain, in_table=False)} "
                                    f"gate: {escape(role)})", "", *block(lines)]))
        elif kind == "more":
            parts.append(f"*… {info} more steps not shown; \\-\\-all shows every step*")
        elif kind == "none":
            parts.append("No gradient flows back: the output depends on no variable.")
        else:
            parts.append("\n".join(["Gradients of the variables:", "", *block(lines)]))
    if roles:
        parts.append("\n".join(["Roles:", "", *(f"- *{escape(r)}*: {escape(ROLES[r])}" for r in roles)]))
    return "\n\n".join(parts)


def result_markdown(result: Result, *, digits: int = 6) -> str:
    """The notebook's `_repr_markdown_`: the table of `table_text` (a result run without its
    per-edge records: f and the gradients only)."""
    return table_text(result, digits=digits)


def render(results: dict[str, Result], *, steps: bool = False, digits: int = 6, all_rows: bool = False) -> str:
    """`--format markdown` for {output name: Result} (`{"f": result}` for one output), each output
    called by its name, several each under a heading of their own."""
    several = len(results) > 1
    parts = []
    for output, result in results.items():
        called = output  # {"f": result} for one output; --outputs q: q
        body = (steps_text(result, digits=digits, all_steps=all_rows, output=called) if steps
                else table_text(result, digits=digits, all_rows=all_rows, output=called))
        parts.append(f"### Output {code(output, in_table=False)}\n\n{body}" if several else body)
    return "\n\n".join(parts)
