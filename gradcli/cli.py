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
    help="A variable's value: a number (-2.5, 1e-3, pi) or a nested list ([1,2,3], [[1,2],[3,4]]), "
         "or @FILE for a .npy, .csv or .json file (@- reads stdin). "
         "Repeat for each variable. --set pi=… or --set e=… replaces that constant by a variable.")]
ValuesOption = Annotated[Optional[str], typer.Option(
    "--values", metavar="FILE.json",
    help='Several values from one JSON object: {"x": 1.5, "W": [[1, 2], [3, 4]]} ("-" reads stdin).')]
FormatOption = Annotated[Format, typer.Option(
    "--format", "-f", help="table: the backward pass for people; json: one JSON document for programs.")]
DigitsOption = Annotated[int, typer.Option(
    "--digits", min=1, max=17, help="Significant digits of the numbers in the table.")]
StrictOption = Annotated[bool, typer.Option(
    "--strict", help="Exit 1 when a nan or inf appears (log(-1), 1/0, exp(1000), ...).")]
AllOption = Annotated[bool, typer.Option(
    "--all", help="Show every row of the table (by default at most 100).")]


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
    values_file: ValuesOption = None,
    format: FormatOption = Format.table,
    digits: DigitsOption = 6,
    strict: StrictOption = False,
    all_rows: AllOption = False,
) -> None:
    """Evaluate EXPRESSION, backpropagate, and show each gate's value, local gradient, upstream gradient and result, then ∂f/∂v for every variable.

    Example: gradcli eval "(x + y) * z" --set x=-2 --set y=5 --set z=-4
    """
    with _user_errors():
        from .parser import parse
        from .values import collect_values

        values = collect_values(set_ or [], values_file)
        result = parse(expression).evaluate(values)
        _warn(result)
        if format is Format.json:
            from .render import jsondoc

            sys.stdout.write(jsondoc.render(result) + "\n")
        else:
            from .render import table

            table.render(result, _console(), digits=digits, all_rows=all_rows)
        if strict and any(d.kind == "domain" for d in result.diagnostics):
            raise DomainError("a nan or inf appeared and --strict is on (see the warnings above)")


class BatchFormat(str, enum.Enum):
    csv = "csv"
    ndjson = "ndjson"


@app.command("batch", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             epilog="Exit codes: 0 every row done; 1 bad input or a failed row (reported with its line "
                    "number); 2 command-line usage error.")
def batch_command(
    expression: Annotated[str, typer.Argument(
        metavar="EXPRESSION", help='An expression of the columns: "sigmoid(w0*x0 + w1*x1 + w2)".')],
    input: Annotated[str, typer.Option(
        "--input", "-i", metavar="FILE.csv",
        help="The points: a CSV whose header row names the variables, one point per row ('-' is stdin).")],
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Where to write the inputs, f and df/d<name> per row ('-', the default, is stdout).")] = "-",
    set_: SetOption = None,
    values_file: ValuesOption = None,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", min=1, help="Rows evaluated together; memory grows with it, not with the input.")] = 65536,
    format: Annotated[BatchFormat, typer.Option(
        "--format", "-f", help="csv: a header and one line per row; ndjson: one JSON object per row.")
    ] = BatchFormat.csv,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="Stop at the first failed row (by default its output row is left empty "
                            "and the run goes on).")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="A row whose f or gradient is nan or inf fails.")] = False,
) -> None:
    """Evaluate EXPRESSION at every row of a CSV: per row, f and the gradient with respect to each column variable (one point per row, not the gradient of a sum).

    Example: gradcli batch "sigmoid(w0*x0 + w1*x1 + w2)" --input points.csv --output grads.csv
    """
    with _user_errors():
        from . import batch
        from .datafiles import open_text, source_name
        from .parser import parse
        from .values import collect_values

        if input == "-" and ("-" == values_file or any(
                s.partition("=")[2].replace(" ", "") == "@-" for s in set_ or [])):
            raise GradcliError("--input - and a value from @- or --values - both read stdin",
                               hint="stdin can be read once; put the values in a file")
        constants = collect_values(set_ or [], values_file)
        graph = parse(expression)
        stream = open_text(input)
        source = source_name(input)
        out = _LazyOutput(output)
        progress = _progress(batch.input_size(input))

        def report(row) -> None:
            sys.stderr.write(f"error: {source}, {row.message}\n")

        try:
            try:
                summary = batch.run(graph, stream, out, constants, source=source, fmt=format.value,
                                    chunk_size=chunk_size, fail_fast=fail_fast, strict=strict,
                                    on_failure=report, on_progress=progress.update if progress else None)
            finally:
                if progress:
                    progress.close()
                if stream is not sys.stdin:
                    stream.close()
                out.close()
        except BrokenPipeError:  # the reader stopped early (| head): not an error of the input
            _silence_stdout()
            raise typer.Exit(EXIT_OK) from None
        for message in summary.warnings:
            sys.stderr.write(f"warning: {message}\n")
        if summary.non_finite:
            sys.stderr.write(f"warning: {summary.non_finite} row{'s have' if summary.non_finite > 1 else ' has'} "
                             "nan or inf in f or a gradient (--strict makes that a failure)\n")
        if summary.failed_count:
            hidden = summary.failed_count - len(summary.failed)
            if hidden:
                sys.stderr.write(f"error: … and {hidden} more failed rows\n")
            if summary.stopped:
                sys.stderr.write("error: stopped at the first failed row (--fail-fast)\n")
            else:
                sys.stderr.write(f"error: {summary.failed_count} of {summary.rows} rows failed; "
                                 "their output rows have empty values\n")
            raise typer.Exit(EXIT_BAD_INPUT)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class _LazyOutput:
    """The output file, created at the first write (so a bad input leaves no empty file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.handle = sys.stdout if path == "-" else None

    def write(self, text: str) -> None:
        if self.handle is None:
            try:
                self.handle = open(self.path, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise GradcliError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.handle.write(text)

    def close(self) -> None:
        if self.handle is not None and self.handle is not sys.stdout:
            self.handle.close()
        elif self.handle is sys.stdout:
            sys.stdout.flush()


def _progress(size: int | None):
    """A progress bar on stderr over the characters read, for a large input when stderr is a
    terminal; else None."""
    from . import batch

    if not batch.wants_progress(size, sys.stderr.isatty()):
        return None
    from rich.console import Console
    from rich.progress import Progress

    return _ProgressBar(Progress(console=Console(stderr=True), transient=True), size)


class _ProgressBar:
    def __init__(self, bar, size: int) -> None:
        self.bar = bar
        self.task = bar.add_task("batch", total=size)
        bar.start()

    def update(self, done: int) -> None:
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        self.bar.stop()


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
