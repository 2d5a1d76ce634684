"""`gradcli diff`'s views of a gradcli.evaluation.formulas.Derivatives: text lines (`∂f/∂x = …`), a LaTeX
`aligned` environment, and the JSON document. The formulas themselves are written by
language.formula; --format dot is render.dot.render_formula."""

from __future__ import annotations

from ..evaluation.formulas import Derivatives, symbol
from ..language.formula import Formula, latex_name


def _latex_symbol(name: str, order: int) -> str:
    power = "" if order == 1 else f"^{{{order}}}"
    return rf"\frac{{\partial{power} f}}{{\partial {latex_name(name)}{power}}}"


def _lines(derivs: Derivatives, latex: bool) -> tuple[Formula, list[tuple[str, str, int]]]:
    """(the shared formula, [(left side, right side, Expr index)]): intermediates in order, f,
    then each derivative."""
    formula = derivs.formula()
    printer = formula.latex_printer() if latex else None
    lines = []
    roots = formula.roots
    pending = list(formula.names)
    labels = (["f"] + [(_latex_symbol(i.name, derivs.order) if latex else symbol(i.name, derivs.order))
                       for i in derivs.items])
    for label, root in zip(labels, roots):
        # the intermediates this line needs that are not written yet, first
        for k in formula.needed(root):
            if k in pending:
                pending.remove(k)
                name = formula.names[k]
                lines.append((printer.name(name) if latex else name, formula.expression(k, printer), k))
        if root in pending:  # f itself is used by the derivatives: this line defines it
            pending.remove(root)
        lines.append((label, formula.expression(root, printer), root))
    return formula, lines


def _values(derivs, formula: Formula, lines) -> dict[int, object]:
    """Each line's value: f's and the derivatives' from their graphs, an intermediate's from the
    formula as printed."""
    values = formula.values(derivs.given) if formula.names else {}
    values[formula.roots[0]] = derivs.value
    for item, root in zip(derivs.items, formula.roots[1:]):
        values[root] = item.value
    return values


def render_text(derivs, *, digits: int = 6) -> str:
    """`gradcli diff`'s text: `u = …` for each intermediate, `f = …`, then `∂f/∂x = …` per
    variable; with values, `= value` after each line, in one column when the lines are short."""
    from .numbers import number

    formula, lines = _lines(derivs, latex=False)
    left = [f"{label} = {text}" for label, text, _ in lines]
    if not derivs.has_values:
        return "\n".join(left)
    values = _values(derivs, formula, lines)
    width = max(len(t) for t in left)
    pad = width if width <= 60 else 0
    return "\n".join(f"{t.ljust(pad)} = {number(values[k], digits)}" for t, (_, _, k) in zip(left, lines))


def render_latex(derivs, *, digits: int = 6) -> str:
    """The same lines in a LaTeX `aligned` environment (for $$ … $$ or an equation)."""
    from .numbers import number

    formula, lines = _lines(derivs, latex=True)
    values = _values(derivs, formula, lines) if derivs.has_values else {}
    rows = []
    for label, text, k in lines:
        value = f" = {_latex_number(number(values[k], digits))}" if k in values else ""
        rows.append(f"  {label} &= {text}{value}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _latex_number(text: str) -> str:
    if "e" in text and text[0] in "-0123456789" and "[" not in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text.replace("inf", r"\infty")


def document(derivs) -> dict:
    """`--format json`: f's value (null without values), the order, and per variable its
    symbol, formula (a program that parses back), LaTeX and value (null without values)."""
    from .jsondoc import jsonable

    f = Formula([derivs.graph.output], taken=derivs.taken(), scalars=derivs.scalars)
    out = {"f": jsonable(derivs.value) if derivs.has_values else None,
           "expression": f.program(), "order": derivs.order, "derivatives": {}}
    for index, item in enumerate(derivs.items):
        alone = derivs.standalone(index)
        out["derivatives"][item.name] = {
            "symbol": symbol(item.name, derivs.order),
            "formula": alone.program(),
            "latex": alone.latex(),
            "value": jsonable(item.value) if derivs.has_values else None,
            "simplified": item.simplified,
        }
    if derivs.warnings:
        out["warnings"] = list(derivs.warnings)
    return out
