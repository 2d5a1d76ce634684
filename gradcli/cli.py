"""The command line. The only module that knows about exit codes, stdout/stderr and colours.

Exit codes: 0 success; 1 bad input (syntax, names, values, shapes) or, with --strict, a
nan/inf; 2 a usage error of the command line itself (unknown option, missing argument).
"""

from __future__ import annotations

import enum
import os
import re
import sys
from typing import Annotated, List, Optional

import click
import typer
import typer.core

from . import __version__
from .errors import DomainError, GradcliError

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    dot = "dot"
    tree = "tree"


app = typer.Typer(
    name="gradcli",
    help="See every number of backpropagation: forward values, local and upstream gradients, ∂f/∂v.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gradcli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """gradcli: a command-line gradient calculator that shows its work (CS231n style)."""


# Options shared by every command that evaluates an expression.
SetOption = Annotated[Optional[List[str]], typer.Option(
    "--set", "-s", metavar="NAME=VALUE",
    help="A variable's value: a number (-2.5, 1e-3, pi) or a nested list ([1,2,3], [[1,2],[3,4]]). "
         "Repeat for each variable. --set pi=… or --set e=… replaces that constant by a variable.")]
FormatOption = Annotated[Optional[Format], typer.Option(
    "--format", "-f", show_default=False,
    help="table (default): the backward pass for people; json: one JSON document for programs; "
         "dot: the circuit in Graphviz DOT; tree: the circuit as a tree in the terminal.")]
DigitsOption = Annotated[int, typer.Option(
    "--digits", min=1, max=17,
    help="Significant digits of the numbers shown (table, steps, tree, diagram); JSON keeps them all.")]
StrictOption = Annotated[bool, typer.Option(
    "--strict", help="Exit 1 when a nan or inf appears (log(-1), 1/0, exp(1000), ...).")]
AllOption = Annotated[bool, typer.Option(
    "--all", help="Show every row of the table, step of --steps or node of the tree (by default at most 100).")]
ExpandOption = Annotated[bool, typer.Option(
    "--expand", help="Show the primitive gates inside every call of a user function or of sigmoid "
                     "(by default such a call is one gate).")]
def _output_path(value: Optional[str]) -> Optional[str]:
    from pathlib import Path

    from .render.graphviz import SUFFIXES

    if value is not None and Path(value).suffix.lower() not in SUFFIXES:
        raise typer.BadParameter(f"{value!r} should end in {', '.join(SUFFIXES)}")
    return value


OutputOption = Annotated[Optional[str], typer.Option(
    "--output", "-o", metavar="FILE", callback=_output_path,
    help="Draw the circuit into FILE (.svg, .png, .pdf with Graphviz's dot; .dot for the DOT text).")]
StepsOption = Annotated[bool, typer.Option(
    "--steps", help="Narrate the backward pass one gate at a time: local gradient as formula and "
                    "number, × upstream, = result; sums at forks. With --format json: a list of steps.")]


class _ExpressionCommand(typer.core.TyperCommand):
    """A command whose EXPRESSION may start with "-" ("-x**2"), so unknown options are let through
    to it; an unknown *long* option (`--fromat`) is still a usage error that names it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        known = {opt for param in self.get_params(ctx) for opt in param.opts + param.secondary_opts}
        takes_value = {opt for param in self.params if isinstance(param, click.Option)
                       and not param.is_flag for opt in param.opts}
        args_iter = iter(args)
        for arg in args_iter:
            if arg == "--":
                break
            if arg in takes_value:
                next(args_iter, None)
                continue
            name = arg.split("=", 1)[0]
            if name not in known and re.fullmatch(r"--[A-Za-z][A-Za-z0-9_-]*", name):
                raise click.NoSuchOption(name, possibilities=sorted(o for o in known if o.startswith("--")),
                                         ctx=ctx)
        return super().parse_args(ctx, args)


EXIT_CODES = "Exit codes: 0 success; 1 bad input (or a nan/inf under --strict); 2 command-line usage error."


@app.command("eval", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             epilog=EXIT_CODES)
def eval_command(
    expression: Annotated[str, typer.Argument(
        metavar="EXPRESSION",
        help='An expression or a program: "(x + y) * z", "q = x + y; f = q * z".')],
    set_: SetOption = None,
    format: FormatOption = None,
    digits: DigitsOption = 6,
    strict: StrictOption = False,
    all_rows: AllOption = False,
    steps: StepsOption = False,
    expand: ExpandOption = False,
    output: OutputOption = None,
) -> None:
    """Evaluate EXPRESSION, backpropagate, and show each gate's value, local gradient, upstream gradient and result, then ∂f/∂v for every variable.

    Example: gradcli eval "(x + y) * z" --set x=-2 --set y=5 --set z=-4
    """
    if steps and format not in (None, Format.table, Format.json):
        raise click.UsageError(f"--steps works with --format table or json, not {format.value}")
    if output is not None and (steps or format not in (None, Format.dot)):
        flag = "--steps" if steps else f"--format {format.value}"
        raise click.UsageError(f"--output draws the circuit diagram; it does not go with {flag}")
    format = format or (Format.dot if output is not None else Format.table)
    with _user_errors():
        from .parser import parse
        from .values import parse_assignment, parse_value_text

        values = {}
        for item in set_ or []:
            name, text = parse_assignment(item)
            if name in values:
                raise GradcliError(f"--set {name} is given twice", hint="give each variable one value")
            values[name] = parse_value_text(text, f"--set {item}")
        result = parse(expression, expand=expand).evaluate(values)
        _warn(result)
        _show(result, format, steps=steps, output=output, digits=digits, all_rows=all_rows)
        if strict and any(d.kind == "domain" for d in result.diagnostics):
            raise DomainError("a nan or inf appeared and --strict is on (see the warnings above)")


def _show(result, format: Format, *, steps: bool, output: str | None, digits: int, all_rows: bool) -> None:
    """Hand the result to the renderer the options ask for."""
    if steps:
        from .render import jsondoc, steps as steps_view

        text = (jsondoc.dumps(steps_view.document(result)) if format is Format.json
                else steps_view.text(result, digits=digits, all_steps=all_rows))
        sys.stdout.write(text + "\n")
    elif format is Format.json:
        from .render import jsondoc

        sys.stdout.write(jsondoc.render(result) + "\n")
    elif format is Format.dot:
        from .render import dot

        text = dot.render(result, digits=digits)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            from pathlib import Path

            from .render import graphviz

            graphviz.write(text, Path(output))
    elif format is Format.tree:
        from .render import tree

        tree.render(result, _console(), digits=digits, all_nodes=all_rows)
    else:
        from .render import table

        table.render(result, _console(), digits=digits, all_rows=all_rows)


class _user_errors:
    """Turn gradcli's errors into one message on stderr and exit code 1."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, (GradcliError, RecursionError, MemoryError)):
            return False
        if isinstance(exc, GradcliError):
            message = exc.render()
        elif isinstance(exc, MemoryError):
            message = "not enough memory for this input"
        else:
            message = "the input is nested too deeply"
        sys.stderr.write(f"error: {message}\n")
        raise typer.Exit(EXIT_BAD_INPUT)


def _warn(result) -> None:
    for diagnostic in result.diagnostics:
        sys.stderr.write(f"warning: {diagnostic.message}\n")


def _console():
    from rich.console import Console

    return Console(highlight=False, no_color="NO_COLOR" in os.environ)


def main() -> None:
    """Console-script entry point: never a traceback, even for an internal error."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_BAD_INPUT)
    except Exception as exc:  # a bug of ours: say so plainly, with a way to see the details
        if os.environ.get("GRADCLI_DEBUG"):
            raise
        sys.stderr.write(f"error: internal error ({type(exc).__name__}: {exc}); "
                         "rerun with GRADCLI_DEBUG=1 for the traceback and please report it\n")
        sys.exit(EXIT_BAD_INPUT)
