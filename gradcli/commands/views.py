"""The views of a result on the terminal or in a file: eval's formats (`Format`) and diff's
(`DiffFormat`), and the dispatch from a format to its renderer in gradcli/render/, for one output
(`render`), several (`render_outputs`) and derivatives as formulas (`render_diff`); the results'
warnings (`warn_outputs`). Used by gradcli eval and diff and by the repl's views.

The renderers are imported when a result is shown: gradcli.commands.cli imports this module at
every start.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path

from .terminal import dumb_terminal, suggest_stable, table_output, warn


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    plain = "plain"
    dot = "dot"
    tree = "tree"
    latex = "latex"
    markdown = "markdown"
    tikz = "tikz"


class DiffFormat(str, enum.Enum):
    text = "text"
    latex = "latex"
    json = "json"
    dot = "dot"


MAX_DIFF_ORDER = 20  # gradcli.evaluation.formulas.MAX_ORDER (not imported: start-up imports no NumPy)


def render(result, format: Format, *, steps: bool, output: str | None, digits: int, all_rows: bool,
            no_color: bool, standalone: bool = False) -> None:
    """Hand the result to the renderer the options ask for."""
    if output is not None and Path(output).suffix.lower() == ".html":  # the circuit page
        from ..base.outfile import write_whole
        from ..render import page

        write_whole(output, page.render(result, digits=digits))
    elif steps and format in (Format.table, Format.json):
        from ..render import jsondoc, steps as steps_view

        if format is Format.json:
            sys.stdout.write(jsondoc.dumps(steps_view.document(result)) + "\n")
        else:
            steps_view.render(result, sys.stdout, digits=digits, all_steps=all_rows)
    elif format is Format.json:
        from ..render import jsondoc

        jsondoc.write(result, sys.stdout)
        sys.stdout.write("\n")
    elif format is Format.csv:
        from ..render import csvtable

        csvtable.render(result, sys.stdout)
    elif format is Format.plain:
        from ..render import plain

        plain.render(result, sys.stdout)
    elif format in (Format.latex, Format.markdown, Format.tikz):
        render_outputs({"f": result}, format, steps=steps, drawings=[], digits=digits, all_rows=all_rows,
                        no_color=no_color, standalone=standalone)
    elif format is Format.dot:
        from ..render import dot

        text = dot.render(result, digits=digits)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            from ..render import graphviz

            graphviz.write(text, Path(output))
    elif format is Format.tree:
        from ..render import tree

        tree.render(result, table_output(no_color), digits=digits, all_nodes=all_rows)
    else:
        from ..render import table

        table.render(result, table_output(no_color), digits=digits, all_rows=all_rows,
                     ascii_only=dumb_terminal())




def drawing_paths(output: str | None, names: list[str] | None) -> list[str]:
    """The files --output draws: FILE itself for one output; for several, one per output, the
    output's name added to FILE's stem (c.svg: c-f.svg, c-g.svg), since one .svg, .png or .pdf
    holds one drawing."""
    if output is None:
        return []
    if names is None or len(names) == 1:
        return [output]
    path = Path(output)
    return [str(path.with_name(f"{path.stem}-{name}{path.suffix}")) for name in names]


def warn_outputs(results: dict, stable: bool) -> None:
    """The outputs' warnings, each message once (outputs that share a gate share its warnings),
    then where --stable would help."""
    if len(results) == 1:
        result, = results.values()
        warn(result.diagnostics)
        if not stable:
            suggest_stable(result)
        return
    seen = {}
    for result in results.values():
        for diagnostic in result.diagnostics:
            seen.setdefault(diagnostic.message, diagnostic)
    warn(seen.values())
    if stable or not any(d.kind == "domain" for d in seen.values()):
        return
    from ..language.rewrite import unstable_patterns

    hints = {}
    for result in results.values():
        for node, pattern in unstable_patterns(result.graph):
            hints.setdefault(f"hint: {pattern} at {node.span.where()} overflows for large |u|; "
                             "--stable computes it as one stable gate with the same gradients\n")
    sys.stderr.write("".join(hints))


def render_outputs(results: dict, format: Format, *, steps: bool, drawings: list[str], digits: int,
                    all_rows: bool, no_color: bool, standalone: bool = False) -> None:
    """--outputs: the results of several outputs (or one, asked for by name) in render.outputs's
    formats."""
    from ..render import outputs as view

    if drawings and Path(drawings[0]).suffix.lower() == ".html":  # a circuit page per output
        from ..base.outfile import write_whole
        from ..render import page

        for (output_name, result), drawing in zip(results.items(), drawings):
            write_whole(drawing, page.render(result, digits=digits, name=output_name))
    elif steps and format in (Format.table, Format.json):
        if format is Format.json:
            from ..render import jsondoc

            sys.stdout.write(jsondoc.dumps(view.steps_document(results)) + "\n")
        else:
            view.render_steps(results, sys.stdout, digits=digits, all_steps=all_rows)
    elif format is Format.json:
        view.write_json(results, sys.stdout)
        sys.stdout.write("\n")
    elif format is Format.csv:
        view.render_csv(results, sys.stdout)
    elif format is Format.plain:
        view.render_plain(results, sys.stdout)
    elif format is Format.latex:  # one output ({"f": result}) is called f; several by their names
        from ..render import latex

        sys.stdout.write(latex.render(results, steps=steps, digits=digits, all_rows=all_rows,
                                      standalone=standalone) + "\n")
    elif format is Format.markdown:
        from ..render import markdown

        sys.stdout.write(markdown.render(results, steps=steps, digits=digits, all_rows=all_rows) + "\n")
    elif format is Format.tikz:
        from ..render import tikz

        sys.stdout.write(tikz.render_all(results, digits=digits, standalone=standalone) + "\n")
    elif format is Format.dot:
        texts = view.render_dot(results, digits=digits)
        if not drawings:
            sys.stdout.write("\n\n".join(texts) + "\n")
        else:
            from ..render import graphviz

            for text, drawing in zip(texts, drawings):
                graphviz.write(text, Path(drawing))
    elif format is Format.tree:
        view.render_tree(results, table_output(no_color), digits=digits, all_nodes=all_rows)
    else:
        view.render_table(results, table_output(no_color), digits=digits, all_rows=all_rows,
                          ascii_only=dumb_terminal())


def render_diff(derivs, format: DiffFormat, digits: int) -> str:
    from ..render import diffview

    if format is DiffFormat.latex:
        return diffview.render_latex(derivs, digits=digits)
    if format is DiffFormat.json:
        from ..render import jsondoc

        return jsondoc.dumps(diffview.document(derivs))
    if format is DiffFormat.dot:
        from ..render import dot
        from ..render.gates import title

        shape = derivs.derivatives_formula()
        values = shape.values(derivs.given) if derivs.has_values else None
        return dot.render_formula(shape, derivs.labels(), title=title(derivs.graph), values=values,
                                  digits=digits)
    return diffview.render_text(derivs, digits=digits)
