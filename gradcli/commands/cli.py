"""The command line: its commands and options, and the process's start and end. With
terminal.py (errors, warnings, the console, the exit codes) and views.py (a format to its
renderer), the commands layer is the only one that knows about exit codes, stdout/stderr and colours.

Exit codes: 0 success; 1 bad input (syntax, names, values, shapes) or, with --strict, a
nan/inf, or a gradient that `check` finds wrong or non-finite; 2 a usage error of the command line
itself (unknown option, missing argument).
"""

# No `from __future__ import annotations` here: Typer reads every command's parameters from their
# annotations, and string annotations cost an eval() each on every run (~10 ms of start-up).

import enum
import errno
import gc
import io
import os
import re
import sys
from pathlib import Path
from typing import Annotated, List, Optional

# No collection passes while Click, Typer and this module create their thousands of objects
# (see __init__.py); the collector is turned back on at the end of this module.
_collecting = gc.isenabled()
gc.disable()
try:
    import click
    import typer
    import typer.core
    import typer.main

    from .. import __version__
    from ..base.errors import DomainError, GradcliError
    from . import terminal, views
    from .terminal import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_INTERRUPTED, EXIT_OK
    from .views import MAX_DIFF_ORDER, DiffFormat, Format
except BaseException:
    if _collecting:
        gc.enable()
    raise

MAX_CHUNK_SIZE = 2**24  # batch --chunk-size: larger chunks only cost memory


class ReportFormat(str, enum.Enum):
    """The four views of jvp, hessian and jacobian (one class: each Enum costs start-up time)."""
    table = "table"
    json = "json"
    csv = "csv"
    plain = "plain"


class CheckFormat(str, enum.Enum):
    table = "table"
    json = "json"


# -- help and usage errors: one plain style everywhere (helptext.py, loaded only when needed) -----

# Each command's examples, shown at the end of its --help ("" is gradcli itself). Each is printed
# as written, never wrapped, so that it pastes whole: at most 56 characters, it fits a 60-column
# terminal with its indent. tests/test_help.py runs every one of them.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ('gradcli eval "(x + y) * z" x=-2 y=5 z=-4',
         'gradcli eval "sigmoid(w*x + b)" w=2 x=-1 b=-3 --steps',
         'gradcli check "x**3" x=2 --expect x=12',
         "gradcli help language"),
}


class _Context(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        from .helptext import HelpFormatter

        return HelpFormatter(width=self.terminal_width, max_width=self.max_content_width)


class _Help:
    """gradcli's help page for a command or the group: Click's plain layout whether Rich is there
    or not (no boxes, nothing that differs in a pipe or under TERM=dumb), the examples unwrapped."""

    context_class = _Context

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:  # Click's parser leaves some without their command
            if exc.ctx is None:
                exc.ctx = ctx
            raise

    def get_help(self, ctx: click.Context) -> str:
        return terminal.plain(super().get_help(ctx))  # ASCII under TERM=dumb

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from .helptext import format_help

        format_help(self, ctx, formatter, EXAMPLES.get("" if ctx.parent is None else self.name, ()))


class _Group(_Help, typer.core.TyperGroup):
    """gradcli itself: every usage error (an unknown option or command, a missing argument, a bad
    option value) is written as other errors are, `error: …` then `hint: …`, with exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `gradcli` alone: the help, exit 2
                sys.stdout.write(exc.format_message() + "\n")
            else:
                from .helptext import report

                report(exc)
            code = exc.exit_code
        except click.Abort:
            sys.stderr.write("error: aborted\n")
            code = EXIT_BAD_INPUT
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def get_command(self, ctx: click.Context, name: str):
        # A command is built (Typer reading its parameters) when first named: a run builds its own
        # only. A name that is none of them builds them all, for the lists and suggestions.
        if name not in self.commands:
            for info in [_LAZY[name]] if name in _LAZY else _LAZY.values():
                if info.name not in self.commands:
                    self.commands[info.name] = typer.main.get_command_from_info(
                        info, pretty_exceptions_short=app.pretty_exceptions_short,
                        rich_markup_mode=app.rich_markup_mode)
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.get_command(ctx, "")  # builds them all
        return [*(name for name in _LAZY if name in self.commands),
                *(name for name in self.commands if name not in _LAZY)]

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            if not args or args[0].startswith("-") or self.get_command(ctx, args[0]) is not None:
                raise
            from ..base.errors import closest
            from .helptext import UsageProblem

            name, names = args[0], self.list_commands(ctx)
            guess = closest(name, names)
            lists = f"{ctx.command_path} --help lists the commands: {', '.join(names)}"
            raise UsageProblem(f"no such command {name!r}", f"did you mean {guess}? ({lists})" if guess
                               else lists, ctx) from None


class _Command(_Help, typer.core.TyperCommand):
    pass


app = typer.Typer(
    name="gradcli",
    cls=_Group,
    rich_markup_mode=None,
    help="See every number of backpropagation, as in CS231n's circuits: each gate's value, local "
         "gradient, upstream gradient and result, then ∂f/∂v for every variable.\n\n"
         "Start with gradcli eval; gradcli help language lists the operators and functions with "
         "their local gradients.",
    epilog="gradcli COMMAND --help describes a command. Exit codes: 0 success; 1 bad input or a "
           "failed check; 2 command-line usage error.",
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
    # its description is the app's help= above
    pass


# Options shared by every command that evaluates an expression.
SetOption = Annotated[Optional[List[str]], typer.Option(
    "--set", "-s", metavar="NAME=VALUE",
    help="A variable's value: a number (-2.5, 1e-3, pi) or a nested list ([1,2,3], [[1,2],[3,4]]), "
         "or @FILE for a .npy, .csv or .json file (@- reads stdin). "
         "Repeat for each variable. --set pi=… or --set e=… replaces that constant by a variable.")]
ValuesOption = Annotated[Optional[str], typer.Option(
    "--values", metavar="FILE.json",
    help='Several values from one JSON object: {"x": 1.5, "W": [[1, 2], [3, 4]]} ("-" reads stdin).')]
FormatOption = Annotated[Optional[Format], typer.Option(
    "--format", "-f", show_default=False, metavar="FORMAT",
    help="table (default): the backward pass for people; json: one JSON document; csv: the per-edge "
         "table with a header; plain: 'name value' lines, f first; dot: the circuit in Graphviz DOT; "
         "tree: the circuit as a tree in the terminal; latex: the table (or --steps) for LaTeX; "
         "markdown: the same in Markdown; tikz: the circuit as a TikZ picture.")]
OutputsOption = Annotated[Optional[str], typer.Option(
    "--outputs", metavar="NAME,NAME",
    help="The outputs: these statements of the program (q = ...; f = ...), each its own f, in this "
         "order (by default the last statement).")]
CheckFormatOption = Annotated[CheckFormat, typer.Option(
    "--format", "-f", metavar="FORMAT", help="table: one row per variable (per element of an array); json: one JSON document.")]


def _between(low: int, high: int):
    """A callback that refuses a number outside [low, high] (Click's own ranges would show
    `INTEGER RANGE [1<=x<=17]` in the help, and an x that is not the user's)."""
    def check(value: int) -> int:
        if not low <= value <= high:
            raise typer.BadParameter(f"{value} is not between {low} and {high}")
        return value

    return check


def _finite(flag: str, default: float, *, zero: bool):
    """A callback that refuses nan, inf, a negative number, and 0 unless zero is allowed: a bad
    --h, --rtol or --atol is a usage error (exit 2), like --digits 99."""
    def check(value: float) -> float:
        import math

        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            need = "a non-negative" if zero else "a positive"
            raise typer.BadParameter(f"{value:g} is not {need} finite number (for example {flag} {default:g})")
        return value

    return check


DigitsOption = Annotated[int, typer.Option(
    "--digits", metavar="N", callback=_between(1, 17),
    help="Significant digits (1 to 17) of the numbers shown for people (the table; steps, tree and "
         "diagram where the command has them). JSON, CSV and plain keep them all.")]
StrictOption = Annotated[bool, typer.Option(
    "--strict", help="Exit 1 when a nan or inf appears (log(-1), 1/0, exp(1000), ...).")]
AllOption = Annotated[bool, typer.Option(
    "--all", help="Show every row of the table, step of --steps or node of the tree (by default at most 100).")]
ArgumentsArgument = Annotated[Optional[List[str]], typer.Argument(
    metavar="EXPRESSION [NAME=VALUE]...",
    help='An expression or a program ("(x + y) * z", "q = x + y; f = q * z"; - reads stdin), '
         "then optional NAME=VALUE pairs, the same as --set.")]
FileOption = Annotated[Optional[Path], typer.Option(
    "--file", metavar="PROGRAM.grad", dir_okay=False,
    help="Read the program from a file (- for stdin); then every argument is a NAME=VALUE.")]
WrtOption = Annotated[Optional[str], typer.Option(
    "--wrt", metavar="NAME,NAME", help="Report only these gradients (the whole graph still runs).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Do not print warnings.")]
NoColorOption = Annotated[bool, typer.Option(
    "--no-color", help="No colour in the table (also when NO_COLOR is set).")]
StableOption = Annotated[bool, typer.Option(
    "--stable", help="Rewrite 1/(1+exp(-u)) into sigmoid(u), log(1+exp(u)) into softplus(u) and "
                     "log(sum(exp(u))) into logsumexp(u) (same axis): same gradients, no overflow.")]
DEFAULT_MAX_MEMORY = "4GiB"
MaxMemoryOption = Annotated[str, typer.Option(
    "--max-memory", metavar="SIZE", callback=lambda value: _check_size(value),
    help="Refuse inputs whose evaluation is estimated to need more memory (e.g. 512MB, 8GiB; 0: no limit).")]
ExpandOption = Annotated[bool, typer.Option(
    "--expand", help="Show the primitive gates inside every call of a user function or of sigmoid "
                     "(by default such a call is one gate).")]


def _output_path(value: Optional[str]) -> Optional[str]:
    if value is None:  # Click calls this on every run: import nothing then
        return value
    from ..render.graphviz import SUFFIXES

    SUFFIXES = SUFFIXES + (".html",)  # the circuit page (render.page)
    if Path(value).suffix.lower() not in SUFFIXES:
        raise typer.BadParameter(f"{value!r} should end in {', '.join(SUFFIXES)}")
    return value


OutputOption = Annotated[Optional[str], typer.Option(
    "--output", "-o", metavar="FILE", callback=_output_path,
    help="Draw the circuit into FILE (.svg, .png, .pdf with Graphviz's dot; .dot for the DOT text; "
         ".html for a page with the circuit, table and steps that re-evaluates as you move a slider).")]
StepsOption = Annotated[bool, typer.Option(
    "--steps", help="Narrate the backward pass one gate at a time: local gradient as formula and "
                    "number, × upstream, = result; sums at forks. With --format json: a list of steps.")]


_MARK = "\x00gradcli-argument:"  # cannot come from a shell (no NUL in an argv string)
# Option names are read with these rather than regular expressions: compiling one costs more than
# a run's whole reading of its options.
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = _LETTERS | frozenset("0123456789_-")


def _short_name(opt: str) -> bool:
    """Whether opt is -X, X a letter."""
    return len(opt) == 2 and opt[0] == "-" and opt[1] in _LETTERS


def _long_name(name: str) -> bool:
    """Whether name reads as a long option: --, a letter, then letters, digits, _ or -."""
    return len(name) > 2 and name[:2] == "--" and name[2] in _LETTERS and _NAME_CHARS.issuperset(name[3:])


def _short_options(arg: str, flags: set, valued: dict) -> bool:
    """Whether "-…" reads as short options: flags (-q, -qh), or one that takes a value with it
    glued on (-fjson, -sx=1, -oc.svg) where that value looks like one. Anything else that starts
    with a minus is the expression: -sqrt(x), -f*x, -(cos(y)), -x**2."""
    body = arg[1:]
    if all(c in flags for c in body):
        return True
    letter, value = body[0], body[1:]
    param = valued.get(letter)
    if param is None:
        return False
    if not value:
        return True
    choices = getattr(param.type, "choices", None)
    if choices is not None:
        return value in choices
    if letter in ("s", "t"):  # --set, --tangent: NAME=VALUE
        return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", value) is not None
    return re.fullmatch(r"[\w./~:-]+", value) is not None  # a path or a number


class _ExpressionCommand(_Command):
    """A command whose EXPRESSION may start with "-" ("-x**2"), so unknown options are let through
    to it; an unknown *long* option (`--fromat`) is still a usage error that names it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        known = {opt for param in self.get_params(ctx) for opt in param.opts + param.secondary_opts}
        takes_value = {opt for param in self.params if isinstance(param, click.Option)
                       and not param.is_flag for opt in param.opts}
        args = list(args)
        flags = {opt[1] for param in self.params if isinstance(param, click.Option) and param.is_flag
                 for opt in param.opts if _short_name(opt)}
        valued = {opt[1]: param for param in self.params if isinstance(param, click.Option) and not param.is_flag
                  for opt in param.opts if _short_name(opt)}
        i = 0
        positional = False  # whether the EXPRESSION has been read (what follows are NAME=VALUE pairs)
        while i < len(args):
            arg = args[i]
            if arg == "--":
                break
            if arg in takes_value:
                i += 2
                continue
            name = arg.split("=", 1)[0]
            if name not in known and _long_name(name):
                raise click.NoSuchOption(name, possibilities=sorted(o for o in known if o.startswith("--")),
                                         ctx=ctx)
            if positional and arg[:1] == "-" and arg[1:2].isalpha() and arg[:2] not in known and \
                    re.fullmatch(r"-[A-Za-z]([A-Za-z_]\w*=.*)?", arg):
                # after the expression, "-t" or "-tx=1" is no pair and no expression: an option
                # this command does not have (`gradcli jacobian … -t x=1`)
                raise click.NoSuchOption(arg[:2], possibilities=sorted(o for o in known if o.startswith("--")),
                                         ctx=ctx)
            positional = positional or not arg.startswith("-") or arg == "-" or not _short_options(arg, flags, valued)
            if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1 and \
                    not _short_options(arg, flags, valued):
                # an expression starting with a minus ("-(cos(y))", "-x**2"): click would read it
                # as a cluster of short options (-o s(y))); marked here, unmarked once parsed
                args[i] = _MARK + arg
            i += 1
        rest = super().parse_args(ctx, args)
        for key, value in ctx.params.items():
            if isinstance(value, (list, tuple)):
                ctx.params[key] = type(value)(v[len(_MARK):] if isinstance(v, str) and v.startswith(_MARK) else v
                                              for v in value)
            elif isinstance(value, str) and value.startswith(_MARK):
                ctx.params[key] = value[len(_MARK):]
        return rest


EXIT_CODES = "Exit codes: 0 success; 1 bad input (or a nan/inf under --strict); 2 command-line usage error."


EXAMPLES["eval"] = (
    'gradcli eval "(x + y) * z" x=-2 y=5 z=-4',
    'gradcli eval "q = x + y; q * z" x=-2 y=5 z=-4 --steps',
    'gradcli eval "sig(t) = 1/(1+exp(-t)); sig(w*x)" w=2 x=-1',
    'gradcli eval "q = x*y; f = exp(q)" x=1 y=2 --outputs q,f',
)


@app.command("eval", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="Show every number of the backward pass of an expression.", epilog=EXIT_CODES)
def eval_command(
    arguments: ArgumentsArgument = None,
    set_: SetOption = None,
    file: FileOption = None,
    values_file: ValuesOption = None,
    format: FormatOption = None,
    outputs: OutputsOption = None,
    wrt: WrtOption = None,
    digits: DigitsOption = 6,
    strict: StrictOption = False,
    all_rows: AllOption = False,
    steps: StepsOption = False,
    expand: ExpandOption = False,
    output: OutputOption = None,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
    max_memory: MaxMemoryOption = DEFAULT_MAX_MEMORY,
    stable: StableOption = False,
    standalone: Annotated[bool, typer.Option(
        "--standalone", help="With --format latex or tikz: a whole LaTeX document that pdflatex compiles "
                             "as it is (without it, a fragment to \\input; its first line names the packages "
                             "it needs).")] = False,
) -> None:
    """Evaluate EXPRESSION, run the backward pass, and show each gate's value, local gradient,
    upstream gradient and result, then ∂f/∂v for every variable.

    EXPRESSION is an expression, or a program: statements separated by ; or by newlines, the
    last of which is f, and functions you define (see the examples); - reads it from stdin. Each
    NAME=VALUE after it gives a variable its value, as --set does. gradcli help language lists
    the operators and functions with their local gradients.

    --outputs f,g reports each named statement as its own f, one after the other (JSON: keyed by
    output; CSV: an output column; plain: each line after its output's name; --output c.svg
    draws c-f.svg and c-g.svg).
    """
    if steps and format not in (None, Format.table, Format.json, Format.latex, Format.markdown):
        raise click.UsageError(f"--steps works with --format table, json, latex or markdown, not {format.value}")
    if standalone and format not in (Format.latex, Format.tikz):
        raise click.UsageError("--standalone works with --format latex or tikz")
    if output is not None and (steps or format not in (None, Format.dot)):
        flag = "--steps" if steps else f"--format {format.value}"
        raise click.UsageError(f"--output draws the circuit diagram; it does not go with {flag}")
    names = None if outputs is None else _names(outputs, "--outputs")
    format = format or (Format.dot if output is not None else Format.table)
    with terminal.user_errors():
        from ..evaluation import outputs as several

        limit = _parse_size(max_memory)
        drawings = views.drawing_paths(output, names)
        if drawings:
            files = []
            for drawing in drawings:
                files.append(("--output " + output if drawing == output else f"{drawing} (for --output {output})",
                              drawing))
                if Path(drawing).suffix.lower() not in (".dot", ".html"):
                    import shutil

                    if shutil.which("dot") is None:  # then the DOT text goes beside it
                        fallback = str(Path(drawing).with_suffix(".dot"))
                        files.append((f"{fallback} (the DOT text for "
                                      + (f"--output {output})" if drawing == output else f"{drawing})"), fallback))
            _refuse_output_over_input(files, _input_files(arguments, file, set_, values_file))
        # a value file larger than the memory limit is refused while it is read
        read_limit = (limit or _MAX_SIZE, f"the memory limit of {max_memory} (--max-memory)")
        source, values = _program_and_values(arguments, file, set_, values_file, read_limit)
        transform = None
        if stable:
            from ..language.rewrite import stabilize as transform
        graphs = several.graphs(source, names, values=values, expand=expand, transform=transform)
        # plain output needs no per-edge records: skip them (faster, far less memory)
        traced = steps or format is not Format.plain
        results = several.evaluate(graphs, values, trace=traced, max_memory=limit or None)
        if wrt is not None:
            _select_outputs(results, wrt)
        for result in results.values():  # a lazy (Zarr) run: its values and nan/inf warnings, now
            getattr(result, "compute", lambda: None)()
        if not quiet:
            views.warn_outputs(results, stable)
        with terminal.ascii_stdout():
            if names is None:
                views.render(*results.values(), format, steps=steps, output=output, digits=digits,
                        all_rows=all_rows, no_color=no_color, standalone=standalone)
            else:
                views.render_outputs(results, format, steps=steps, drawings=drawings, digits=digits,
                                all_rows=all_rows, no_color=no_color, standalone=standalone)
        if strict and any(d.kind == "domain" for result in results.values() for d in result.diagnostics):
            raise DomainError("a nan or inf appeared and --strict is on (see the warnings)")


def _program_and_values(arguments, file, sets, values_file, limit=None) -> tuple[str, dict]:
    """The program text and the variables' values, read the same way by every command; a value
    file is refused while it is read once it passes `limit` (bytes, how to name it)."""
    from ..inputs.arguments import collect_values

    source, pairs, stdin_taken = _read_source(arguments or [], file)
    return source, collect_values(sets or [], pairs, values_file, stdin_taken=stdin_taken, limit=limit)


def _input_files(arguments, file, sets, values_file, batch_input=None) -> list[tuple[str, str]]:
    """(how the user wrote it, path) of every file the run will read; path "-" is stdin."""
    inputs = []
    arguments = list(arguments or [])
    if file is not None:
        inputs.append((f"--file {file}", str(file)))
    elif arguments:
        if arguments[0] == "-":
            inputs.append(("the program (-)", "-"))
        arguments = arguments[1:]
    if values_file is not None:
        inputs.append((f"--values {values_file}", values_file))
    if batch_input is not None:
        inputs.append((f"--input {batch_input}", batch_input))
    for item in [*(sets or []), *arguments]:
        _name, sep, value = item.partition("=")
        value = value.strip()
        if sep and value.startswith("@"):
            inputs.append((item, value[1:].strip()))
    return inputs


def _file_identity(path: str | None):
    """(device, inode) of a regular file (stdout for None, stdin for "-"), or None."""
    try:
        if path is None:
            info = os.fstat(sys.stdout.fileno())
        elif path == "-":
            info = os.fstat(sys.stdin.fileno())
        else:
            info = os.stat(path)
    except (OSError, ValueError, AttributeError):  # no such file yet, or no descriptor (tests)
        return None
    import stat

    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def _refuse_output_over_input(outputs, inputs) -> None:
    """An output that is one of the run's inputs, however spelled (another path, a symlink, a hard
    link: the same device and inode), is refused before anything is read or written."""
    for out_label, out_path in outputs:
        target = _file_identity(out_path)
        if target is None:
            continue
        for in_label, in_path in inputs:
            if _file_identity(in_path) == target:
                raise GradcliError(f"{out_label} is the same file as {in_label}: writing it would destroy "
                                   "an input of this run", hint="write the output to another file")


def _example() -> str:
    """The running command's first example (gradcli check's for check, ...), eval's by default."""
    ctx = click.get_current_context(silent=True)
    name = ctx.info_name if ctx is not None else None
    return EXAMPLES.get(name, EXAMPLES["eval"])[0]


def _read_source(arguments: list[str], file: Path | None) -> tuple[str, list[str], str | None]:
    """The program text (from the first argument, --file, or stdin for "-"), the NAME=VALUE pairs,
    and how stdin was used for the program, if it was (stdin can be read once)."""
    if file is not None:
        if str(file) == "-":
            return _read_program(None, "standard input"), arguments, "--file -"
        return _read_program(file, f"--file {file}"), arguments, None
    if not arguments:
        from .helptext import UsageProblem

        raise UsageProblem("give an EXPRESSION, - to read it from stdin, or --file PROGRAM.grad",
                           hint=f"for example: {_example()}")
    expression, pairs = arguments[0], arguments[1:]
    if expression == "-":
        return _read_program(None, "standard input"), pairs, "the program (-)"
    return expression, pairs, None


def _read_program(file: Path | None, where: str) -> str:
    """A program's text from a file or stdin (None), UTF-8 with or without a byte-order mark. The
    program-size limit stops the read itself: an endless stdin or /dev/zero is not read past it."""
    from ..inputs.datafiles import binary_stdin, read_limited
    from ..language.parser import MAX_SOURCE_CHARS

    if file is None:
        return read_limited(binary_stdin(), where, max_chars=MAX_SOURCE_CHARS)
    try:
        handle = open(file, "rb")
    except OSError as exc:
        raise GradcliError(f"--file {file}: {exc.strerror or exc}") from None
    with handle:
        return read_limited(handle, where, max_chars=MAX_SOURCE_CHARS)


def _names(text: str, flag: str) -> list[str]:
    """A comma-separated list of names (--wrt, --outputs): each once; none at all (`--wrt ,`,
    `--outputs ""`) is a usage error."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        from .helptext import UsageProblem

        what, example = ("output", "f,g") if flag == "--outputs" else ("variable", "x,y")
        raise UsageProblem(f"{flag} needs at least one {what} name", f"write {flag} {example}")
    return names


def _select(result, wrt: str) -> dict:
    """The gradients named by --wrt, in that order."""
    from ..base.errors import did_you_mean

    names = _names(wrt, "--wrt")
    chosen = {}
    for name in names:
        if name not in result.gradients:
            hint = did_you_mean(name, result.gradients) or f"variables: {', '.join(result.gradients) or 'none'}"
            raise GradcliError(f"--wrt {name}: not a variable with a gradient", hint=hint)
        chosen[name] = result.gradients[name]
    return chosen


_SIZE = r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*"  # compiled when first used, not at start-up
_MAX_SIZE = 2**60
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def _check_size(text: str) -> str:
    """--max-memory's callback: a SIZE that is not one is a usage error (exit 2)."""
    try:
        _parse_size(text)
    except GradcliError as exc:
        raise typer.BadParameter(f"{exc.message.split(': ', 1)[-1]} ({exc.hint})") from None
    return text


def _parse_size(text: str) -> int:
    if text == DEFAULT_MAX_MEMORY:
        return 4 * 2**30
    match = re.fullmatch(_SIZE, text, re.IGNORECASE)
    unit = (match.group(2) or "").lower() if match else None
    if not match or unit not in _UNITS:
        raise GradcliError(f"--max-memory {text!r}: not a size", hint="write e.g. 512MB, 8GiB, or 0 for no limit")
    size = float(match.group(1)) * _UNITS[unit]
    if size > _MAX_SIZE:  # 1e400 bytes is no limit, and int(inf) would fail
        raise GradcliError(f"--max-memory {text[:40]!r}: more than 1 EiB", hint="write 0 for no limit")
    return int(size)


def _select_outputs(results: dict, wrt: str) -> None:
    """--wrt for every output: each keeps the named gradients it has, in --wrt's order; a name
    that is a variable of no output is an error (as for one output, with did-you-mean)."""
    if len(results) == 1:
        result, = results.values()
        result.gradients = _select(result, wrt)
        return
    from ..base.errors import did_you_mean

    names = _names(wrt, "--wrt")
    known = {name: None for result in results.values() for name in result.gradients}
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known) or f"variables: {', '.join(known) or 'none'}"
            raise GradcliError(f"--wrt {name}: not a variable with a gradient of any output", hint=hint)
    for result in results.values():
        result.gradients = {name: result.gradients[name] for name in names if name in result.gradients}


CHECK_EXIT_CODES = ("Exit codes: 0 every gradient passes; 1 a gradient is wrong or non-finite, or bad input; "
                    "2 command-line usage error.")


EXAMPLES["check"] = (
    'gradcli check "x**3" x=2 --expect x=12',
    'gradcli check "sigmoid(w*x)" w=2 x=-1',
    'gradcli check "norm(v)" "v=[3,4]" --format json',
    'gradcli check "sum(v**2)" "v=[1,2,3]" -t "v=[1,1,1]"',
)


@app.command("check", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="Check every gradient against a numeric one (and yours).", epilog=CHECK_EXIT_CODES)
def check_command(
    arguments: ArgumentsArgument = None,
    set_: SetOption = None,
    file: FileOption = None,
    values_file: ValuesOption = None,
    expect: Annotated[Optional[List[str]], typer.Option(
        "--expect", "-e", metavar="NAME=VALUE",
        help="Your own (hand-derived) gradient of f with respect to NAME, judged against the analytic "
             "and the numeric one. A number, or an array in NAME's shape. Repeat for each variable.")] = None,
    h: Annotated[float, typer.Option("--h", metavar="H", callback=_finite("--h", 1e-5, zero=False), help="The step of the centered difference (f(v+h) - f(v-h)) / 2h.")]
        = 1e-5,
    rtol: Annotated[float, typer.Option(
        "--rtol", metavar="R", callback=_finite("--rtol", 1e-2, zero=False), help="The relative error from which a gradient is wrong (CS231n: 1e-2).")] = 1e-2,
    atol: Annotated[float, typer.Option(
        "--atol", metavar="A", callback=_finite("--atol", 1e-8, zero=True), help="An absolute difference |analytic - numeric| up to which a gradient is good "
                       "whatever its relative error (for gradients near 0).")] = 1e-8,
    format: CheckFormatOption = CheckFormat.table,
    digits: DigitsOption = 6,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
    tangent: Annotated[Optional[List[str]], typer.Option(
        "--tangent", "-t", metavar="NAME=VALUE",
        help="Check the directional derivative along this direction t instead: forward mode (the JVP) "
             "against (f(v+h·t) - f(v-h·t)) / 2h, one pair of evaluations however many variables. NAME's "
             "tangent: a number, an array in NAME's shape, or @FILE; repeat for each variable (0 for "
             "the others). --expect f=VALUE then gives your own ∂f·t.")] = None,
) -> None:
    """Check every gradient of EXPRESSION (every element of an array) against a centered
    difference, and say good, ok with kinks, suspicious or wrong.

    EXPRESSION and NAME=VALUE are as for gradcli eval. --expect NAME=VALUE judges your own
    hand-derived gradient as well. With --tangent, the directional derivative along that
    direction is checked instead (one entry per element of f), the cheap check for many variables.
    """
    with terminal.user_errors():
        from ..evaluation.check import check
        from ..language.parser import parse
        from ..inputs.arguments import collect_values
        from ..inputs.values import shapes_of

        source, values = _program_and_values(arguments, file, set_, values_file)
        expected = collect_values(expect or [], flag="--expect")
        graph = parse(source, shapes=shapes_of(values))
        directions = None
        if tangent:
            taken = next((how for how, path in _input_files(arguments, file, set_, values_file) if path == "-"), None)
            directions = collect_values(tangent, flag="--tangent", stdin_taken=taken)
            _refuse_constant_tangents([graph], directions, values)
        report = check(graph, values, expected=expected, h=h, rtol=rtol, atol=atol, tangent=directions)
        if not quiet:
            terminal.warn(report.diagnostics)
        if format is CheckFormat.json:
            from ..render import jsondoc

            sys.stdout.write(jsondoc.render_check(report) + "\n")
        else:
            from ..render import checktable

            checktable.render(report, terminal.table_output(no_color), digits=digits, ascii_only=terminal.dumb_terminal())
        sys.stderr.write(report.summary() + "\n")
        if not report.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)


# -- gradcli jvp: forward mode, the tangents gate by gate ------------------------------------------

EXAMPLES["jvp"] = (
    'gradcli jvp "(x + y) * z" x=-2 y=5 z=-4 --tangent x=1',
    'gradcli jvp "sigmoid(w*x)" w=2 x=-1 -t w=1 --steps',
    'gradcli jvp "x * y" "x=[1,2]" y=3 -t "x=[1,0]" -f json',
)

TangentOption = Annotated[Optional[List[str]], typer.Option(
    "--tangent", "-t", metavar="NAME=VALUE",
    help="The direction t: NAME's tangent, a number, an array in NAME's shape, or @FILE. Repeat for "
         "each variable; one not named has tangent 0.")]


@app.command("jvp", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="Forward mode: f and its derivative along a direction, gate by gate.", epilog=EXIT_CODES)
def jvp_command(
    arguments: ArgumentsArgument = None,
    set_: SetOption = None,
    file: FileOption = None,
    values_file: ValuesOption = None,
    tangent: TangentOption = None,
    outputs: OutputsOption = None,
    format: Annotated[ReportFormat, typer.Option(
        "--format", "-f", metavar="FORMAT",
        help="table: the forward pass for people; json: {f, tangent, seeds, gates, warnings}; csv: one "
             "line per gate input with a header; plain: 'f VALUE' and 'jvp VALUE' lines.")] = ReportFormat.table,
    steps: Annotated[bool, typer.Option(
        "--steps", help="Narrate the forward pass one gate at a time: local gradients as formula and number, "
                        "then the gate's tangent as the sum of local × input tangent.")] = False,
    digits: DigitsOption = 6,
    all_rows: AllOption = False,
    strict: StrictOption = False,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
    max_memory: MaxMemoryOption = DEFAULT_MAX_MEMORY,
) -> None:
    """Forward mode: evaluate EXPRESSION and, along the direction t that --tangent gives, the
    directional derivative ∂f·t (the Jacobian-vector product), with each gate's value, local
    gradients, incoming tangents and outgoing tangent in the order the forward pass visits them.

    EXPRESSION and NAME=VALUE are as for gradcli eval. One forward pass gives the derivative
    along one direction whatever the number of variables; reverse mode (gradcli eval) gives
    every variable's gradient of one output.
    """
    if steps and format is not ReportFormat.table:
        from .helptext import UsageProblem

        raise UsageProblem(f"--steps narrates the forward pass for people; it does not go with --format {format.value}",
                           hint="--format json already holds every gate's local gradients and tangents")
    with terminal.user_errors():
        from ..evaluation import outputs as several
        from ..inputs.arguments import collect_values

        names = None if outputs is None else _names(outputs, "--outputs")
        limit = _parse_size(max_memory)
        read_limit = (limit or _MAX_SIZE, f"the memory limit of {max_memory} (--max-memory)")
        source, values = _program_and_values(arguments, file, set_, values_file, read_limit)
        if not tangent:
            from .helptext import UsageProblem

            raise UsageProblem("give the direction: at least one --tangent NAME=VALUE (-t)",
                               hint=f"for example: {EXAMPLES['jvp'][0]}")
        taken = next((how for how, path in _input_files(arguments, file, set_, values_file) if path == "-"), None)
        directions = collect_values(tangent, flag="--tangent", stdin_taken=taken, limit=read_limit)
        graphs = several.graphs(source, names, values=values)
        _refuse_constant_tangents(graphs.values(), directions, values)
        traced = steps or format is not ReportFormat.plain
        results = several.jvps(graphs, values, directions, trace=traced, max_memory=limit or None)
        diagnostics = list({d.message: d for r in results.values() for d in r.diagnostics}.values())
        if not quiet:
            terminal.warn(diagnostics)
        _render_jvp(results, values, format, steps=steps, digits=digits, all_rows=all_rows, no_color=no_color,
                    keyed=outputs is not None)
        if strict and any(d.kind == "domain" for d in diagnostics):
            raise DomainError("a nan or inf appeared and --strict is on (see the warnings)")


def _refuse_constant_tangents(graphs, directions: dict, values: dict) -> None:
    """A --tangent for a constant of the language (pi, e) that was given no value: it cannot move."""
    for name in directions:
        if name in values:
            continue
        for graph in graphs:
            node = graph.variables.get(name)
            if node is not None and node.default is not None:
                raise GradcliError(f"--tangent {name}: {name} is a constant ({node.default:g}), which has no tangent",
                                   hint=f"--set {name}=VALUE makes it a variable, which can have a tangent")


def _render_jvp(results: dict, values: dict, format: "ReportFormat", *, steps: bool, digits: int, all_rows: bool,
                no_color: bool, keyed: bool) -> None:
    from ..render import forward as view

    with terminal.ascii_stdout():
        if format is ReportFormat.json:
            view.render_json(results, sys.stdout, values=values, keyed=keyed)
        elif format is ReportFormat.csv:
            view.render_csv(results, sys.stdout, values=values, keyed=keyed)
        elif format is ReportFormat.plain:
            view.render_plain(results, sys.stdout, keyed=keyed)
        else:
            out = terminal.table_output(no_color) if not steps else sys.stdout
            for n, (name, result) in enumerate(results.items()):
                if n:
                    sys.stdout.write("\n") if out is sys.stdout else out.print()
                if steps:
                    view.render_steps(result, sys.stdout, values=values, name=name, digits=digits, all_steps=all_rows)
                else:
                    view.render_table(result, out, values=values, name=name, digits=digits, all_rows=all_rows,
                                      ascii_only=terminal.dumb_terminal())


# -- gradcli diff: derivatives of any order as formulas ---------------------------------------------

EXAMPLES["diff"] = (
    'gradcli diff "x**3 * y"',
    'gradcli diff "x**3 * y" --wrt x --order 2 x=2 y=3',
    'gradcli diff "sigmoid(w*x + b)" --wrt w --format latex',
    'gradcli diff "log(1 + exp(x))" --order 2 --simplify',
)


@app.command("diff", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="The derivative of an expression as a formula, of any order.",
             epilog="Exit codes: 0 success; 1 bad input, or --simplify without SymPy; 2 command-line usage error.")
def diff_command(
    arguments: ArgumentsArgument = None,
    set_: SetOption = None,
    file: FileOption = None,
    values_file: ValuesOption = None,
    wrt: Annotated[Optional[str], typer.Option(
        "--wrt", metavar="NAME,NAME",
        help="The variables to differentiate with respect to (by default every variable).")] = None,
    order: Annotated[int, typer.Option(
        "--order", "-n", metavar="N", callback=_between(1, MAX_DIFF_ORDER),
        help=f"The order of the derivative: 2 for ∂²f/∂x², up to {MAX_DIFF_ORDER}.")] = 1,
    format: Annotated[DiffFormat, typer.Option(
        "--format", "-f", metavar="FORMAT",
        help="text: one formula per line in gradcli's syntax; latex: the same lines in an aligned "
             "environment; json: one JSON document; dot: the derivatives' graph in Graphviz DOT.")] = DiffFormat.text,
    simplify: Annotated[bool, typer.Option(
        "--simplify", help='Simplify each derivative with SymPy (pip install "gradcli[symbolic]").')] = False,
    digits: DigitsOption = 6,
    quiet: QuietOption = False,
) -> None:
    """Print the derivative of EXPRESSION with respect to each variable as a formula in gradcli's
    own syntax (∂f/∂x = ...), which parses back; --order N gives the N-th derivative.

    A subexpression used more than once is written once, as an intermediate (u = ...). With
    NAME=VALUE pairs (as for gradcli eval), each line shows its value too.
    """
    with terminal.user_errors():
        from ..evaluation.formulas import derive
        from ..language.parser import parse
        from ..inputs.values import shapes_of

        source, values = _program_and_values(arguments, file, set_, values_file)
        names = None if wrt is None else _names(wrt, "--wrt")
        derivs = derive(parse(source, shapes=shapes_of(values)), names, order, values, simplify=simplify)
        if not quiet:
            for message in derivs.warnings:
                sys.stderr.write(f"warning: {terminal.plain(message)}\n")
        with terminal.ascii_stdout():
            sys.stdout.write(views.render_diff(derivs, format, digits) + "\n")


class BatchFormat(str, enum.Enum):
    csv = "csv"
    ndjson = "ndjson"
    parquet = "parquet"


class BatchEngine(str, enum.Enum):
    local = "local"
    dask = "dask"


EXAMPLES["hessian"] = (
    'gradcli hessian "x**2 * y + sin(x*y)" x=1 y=2',
    'gradcli hessian "sum(W**3)" "W=[[1,2],[3,4]]" -f json',
    'gradcli hessian "x*y*z" x=1 y=2 z=3 --wrt x,z',
    'gradcli hessian "x**2 * y" x=3 y=2 --tangent x=1',
)


@app.command("hessian", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="Every second derivative of a scalar f, beside its gradient.", epilog=EXIT_CODES)
def hessian_command(
    arguments: ArgumentsArgument = None,
    set_: SetOption = None,
    file: FileOption = None,
    values_file: ValuesOption = None,
    wrt: Annotated[Optional[str], typer.Option(
        "--wrt", metavar="NAME,NAME", help="The rows and columns: only these variables, in this order "
                                           "(the others are constants).")] = None,
    format: Annotated[ReportFormat, typer.Option(
        "--format", "-f", metavar="FORMAT",
        help="table: the matrix beside the gradient, for people; json: {f, variables, gradient, hessian}; "
             "csv: a header, then one row per variable; plain: 'f VALUE', then 'NAME GRADIENT ROW...' lines.")
    ] = ReportFormat.table,
    digits: DigitsOption = 6,
    strict: StrictOption = False,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
    max_memory: MaxMemoryOption = DEFAULT_MAX_MEMORY,
    tangent: Annotated[Optional[List[str]], typer.Option(
        "--tangent", "-t", metavar="NAME=VALUE",
        help="Print the Hessian-vector product H·v for this tangent v instead of the matrix (one "
             "pass, not the n×n matrix): NAME's direction, a number or an array in NAME's shape. "
             "Repeat for each variable; one not named has direction 0.")] = None,
) -> None:
    """The Hessian of EXPRESSION, a scalar f: the matrix of second derivatives ∂²f/∂v∂w at the
    given values, beside the gradient ∂f/∂v; with --tangent, the Hessian-vector product H·v.

    EXPRESSION and NAME=VALUE are as for gradcli eval. An array variable contributes one row and
    column per element, labelled W[0,1] (C order). The matrix comes from differentiating the
    gradient's own graph (forward over reverse), not from finite differences; at a kink (relu,
    abs, max at a tie) the registry's convention is used and a warning says so.
    """
    with terminal.user_errors():
        from ..language.parser import parse

        limit = _parse_size(max_memory)
        read_limit = (limit or _MAX_SIZE, f"the memory limit of {max_memory} (--max-memory)")
        source, values = _program_and_values(arguments, file, set_, values_file, read_limit)
        names = None
        if wrt is not None:
            names = _names(wrt, "--wrt")
        if tangent is not None:
            if wrt is not None:
                raise GradcliError("--wrt and --tangent do not go together: H·v has a row for every variable",
                                   hint="leave out --wrt; a variable without a --tangent has direction 0")
            # stdin is read once: name the program's or a value's use of it if a tangent asks too
            taken = next((how for how, path in _input_files(arguments, file, set_, values_file) if path == "-"), None)
            _hvp_command(source, values, tangent, format, digits, strict, quiet, no_color, limit, read_limit, taken)
            return
        from ..evaluation.hessian import hessian

        graph = parse(source)
        result = hessian(graph, values, names, max_memory=limit or None)
        _show_second_order(result, graph, "", format, digits, strict, quiet, no_color)


def _show_second_order(result, graph, kind: str, format: ReportFormat, digits: int, strict: bool, quiet: bool,
                       no_color: bool) -> None:
    """Print a Hessian (kind "") or an HVP (kind "hvp_") with render.hessian's renderers of that kind."""
    if not quiet:
        terminal.warn(result.diagnostics)
    from ..render import hessian as view

    with terminal.ascii_stdout():
        if format is ReportFormat.table:
            from ..render.gates import title

            getattr(view, f"render_{kind}table")(result, terminal.table_output(no_color), digits=digits,
                                                 ascii_only=terminal.dumb_terminal(), title=title(graph))
        else:
            getattr(view, f"render_{kind}{format.value}")(result, sys.stdout)
    if strict and any(d.kind == "domain" for d in result.diagnostics):
        raise DomainError("a nan or inf appeared and --strict is on (see the warnings)")


def _hvp_command(source: str, values: dict, tangent: list[str], format: ReportFormat, digits: int,
                 strict: bool, quiet: bool, no_color: bool, limit: int, read_limit: tuple,
                 stdin_taken: str | None) -> None:
    """gradcli hessian --tangent: H·v beside the gradient and the tangent, in the same formats."""
    from ..evaluation.hessian import hvp
    from ..inputs.arguments import collect_values
    from ..inputs.values import shapes_of
    from ..language.parser import parse

    directions = collect_values(tangent, flag="--tangent", stdin_taken=stdin_taken, limit=read_limit)
    graph = parse(source, shapes=shapes_of(values))
    result = hvp(graph, values, directions, max_memory=limit or None)
    _show_second_order(result, graph, "hvp_", format, digits, strict, quiet, no_color)


# -- gradcli jacobian: the whole Jacobian of one or more outputs, by forward or reverse mode --------

class JacobianMode(str, enum.Enum):
    auto = "auto"
    forward = "forward"
    reverse = "reverse"


EXAMPLES["jacobian"] = (
    'gradcli jacobian "a = x*y; b = x + y" x=2 y=3 --outputs a,b',
    'gradcli jacobian "W @ x" "W=[[1,2],[3,4]]" "x=[5,6]" --wrt x',
    'gradcli jacobian "tanh(x)" "x=[0,1,2]" --mode reverse -f json',
)


@app.command("jacobian", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="The whole Jacobian of one or more outputs, by forward or reverse mode.",
             epilog=EXIT_CODES)
def jacobian_command(
    arguments: ArgumentsArgument = None,
    set_: SetOption = None,
    file: FileOption = None,
    values_file: ValuesOption = None,
    outputs: OutputsOption = None,
    wrt: Annotated[Optional[str], typer.Option(
        "--wrt", metavar="NAME,NAME", help="The columns: only these variables, in this order (the others "
                                           "are constants). By default every variable with a value that "
                                           "some output uses.")] = None,
    mode: Annotated[JacobianMode, typer.Option(
        "--mode", "-m", metavar="MODE",
        help="auto: forward when there are fewer input elements than output elements, else reverse; "
             "forward: one pass with a tangent column per input element; reverse: one backward sweep "
             "with a cotangent row per output element.")] = JacobianMode.auto,
    format: Annotated[ReportFormat, typer.Option(
        "--format", "-f", metavar="FORMAT",
        help="table: the matrix for people, the mode on a line; json: {outputs, rows, columns, jacobian, "
             "mode, reason, warnings}; csv: a header 'output,<columns>', then a line per row; plain: "
             "'ROW V1 V2...' lines.")] = ReportFormat.table,
    digits: DigitsOption = 6,
    strict: StrictOption = False,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
    max_memory: MaxMemoryOption = DEFAULT_MAX_MEMORY,
) -> None:
    """The Jacobian of EXPRESSION: ∂ of every output element with respect to every input element,
    a row per output element (g[2]) and a column per input element (W[0,1]).

    EXPRESSION and NAME=VALUE are as for gradcli eval. The outputs are the statements --outputs
    names (by default the last statement; an array output has a row per element). Forward mode
    (JVPs) costs a pass per input element, reverse mode (VJPs) one per output element, each done
    as one pass with all of them at once; auto takes the cheaper and says which. At a kink the
    registry's convention is used and a warning says so.
    """
    with terminal.user_errors():
        from ..base.errors import ResourceError
        from ..evaluation import outputs as several
        from ..evaluation.jacobian import jacobian

        names = None if outputs is None else _names(outputs, "--outputs")
        limit = _parse_size(max_memory)
        read_limit = (limit or _MAX_SIZE, f"the memory limit of {max_memory} (--max-memory)")
        source, values = _program_and_values(arguments, file, set_, values_file, read_limit)
        graphs = several.graphs(source, names, values=values)
        columns = None if wrt is None else _names(wrt, "--wrt")
        try:
            result = jacobian(graphs, values, columns, mode=mode.value, max_memory=limit or None)
        except ResourceError as exc:
            exc.hint = "choose fewer variables with --wrt or fewer outputs with --outputs, or raise --max-memory"
            raise
        if not quiet:
            terminal.warn(result.diagnostics)
        from ..render import jacobian as view

        with terminal.ascii_stdout():
            if format is ReportFormat.table:
                from ..render.gates import title

                view.render_table(result, terminal.table_output(no_color), digits=digits, ascii_only=terminal.dumb_terminal(),
                                  title=", ".join(graphs) if outputs else title(next(iter(graphs.values()))))
            else:
                getattr(view, f"render_{format.value}")(result, sys.stdout)
        if strict and any(d.kind == "domain" for d in result.diagnostics):
            raise DomainError("a nan or inf appeared and --strict is on (see the warnings)")


# -- gradcli plot: f and its derivatives over a range -------------------------------------------------

def _plot_format(value: Optional[str]) -> Optional[str]:
    # a checked str, not an Enum: each Enum class costs every run's start-up
    if value is not None and value not in ("csv", "json"):
        raise typer.BadParameter(f"{value!r} is not one of 'csv', 'json'")
    return value


EXAMPLES["plot"] = (
    'gradcli plot "x**3 - 3*x" --wrt x --range -3:3',
    'gradcli plot "relu(x) * y" --wrt x y=2 --order 2',
    'gradcli plot "tanh(x)" --wrt x --output tanh.png',
    'gradcli plot "x**2 + 3*y**2" --wrt x,y -o field.png',
    'gradcli plot "sin(x)" --wrt x --points 5 -f csv',
)


def _plot_size(value: Optional[str]):
    if value is None:
        return None
    from .plot import PlotUsageError, parse_size

    try:
        return parse_size(value)
    except PlotUsageError as exc:
        raise typer.BadParameter(exc.message) from None


@app.command("plot", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="Plot f and its derivatives over a range, in the terminal or into a file.",
             epilog="Exit codes: 0 success; 1 bad input, or --output without Matplotlib; 2 command-line usage error.")
def plot_command(
    arguments: ArgumentsArgument = None,
    set_: SetOption = None,
    file: FileOption = None,
    values_file: ValuesOption = None,
    wrt: Annotated[str, typer.Option(
        "--wrt", metavar="NAME[,NAME]",
        help="The variable along the horizontal axis; two (x,y) draw the gradient field into a file.")] = "",
    range_: Annotated[str, typer.Option(
        "--range", "-r", metavar="LOW:HIGH",
        help="The variable's range (-5:5, -pi:pi); for two variables one for both or one each (-5:5,-2:2).")
    ] = "-5:5",
    order: Annotated[int, typer.Option(
        "--order", "-n", metavar="N", callback=_between(1, 2),
        help="1: f and ∂f/∂x; 2: also ∂²f/∂x².")] = 1,
    points: Annotated[Optional[int], typer.Option(
        "--points", metavar="N",
        help="Points along the range (default 401, at most 1,000,000); per axis for two variables "
             "(default 101, at most 2,000).")] = None,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="FILE",
        help="Draw a Matplotlib figure into FILE (.png, .svg, .pdf) instead of the terminal "
             "(pip install 'gradcli[plot]').")] = None,
    format: Annotated[Optional[str], typer.Option(
        "--format", "-f", metavar="FORMAT", show_default=False, callback=_plot_format,
        help="csv: a header, then one line per point (x, f, df/dx, ...); json: one JSON document with "
             "the points, the curves and the kinks.")] = None,
    size: Annotated[Optional[str], typer.Option(
        "--size", metavar="COLUMNSxLINES", callback=lambda value: _plot_size(value),
        help="The terminal plot's size in characters, e.g. 72x20 (by default the terminal's).")] = None,
    digits: DigitsOption = 6,
    quiet: QuietOption = False,
    no_color: NoColorOption = False,
) -> None:
    """Plot f = EXPRESSION and ∂f/∂x (with --order 2 also ∂²f/∂x²) over --range, the other
    variables held at their NAME=VALUE values.

    In the terminal the curves are drawn in braille dots with axes and a legend, sized to the
    terminal; --output draws the figure with Matplotlib. Kinks (relu at 0, abs at 0, max at a
    tie) are marked; where a curve is not finite, jumps or crosses a pole it breaks. All points
    come from one array evaluation of the graph. With --wrt x,y, a heat map of ‖∇f‖ with the
    gradient's arrows goes into the --output file.
    """
    with terminal.user_errors():
        from .plot import PlotUsageError, show_plot

        names = _names(wrt, "--wrt") if wrt else []
        if names:  # each once: show_plot refuses --wrt x,x (not quietly --wrt x)
            names = [name.strip() for name in wrt.split(",") if name.strip()]
        source, values = _program_and_values(arguments, file, set_, values_file)
        try:
            show_plot(source, values, names, range_, order=order, points=points, output=output,
                      format=format or "plot", color=None if not no_color else False,
                      digits=digits, quiet=quiet, size=size)
        except PlotUsageError as exc:
            from .helptext import UsageProblem

            raise UsageProblem(exc.message, exc.hint) from None


EXAMPLES["batch"] = (
    r"""printf 'x,y\n1,2\n3,4\n' | gradcli batch "x*y" --input -""",
    r"""printf 'x\n1\n2\n' | gradcli batch "x**2" -i - -f ndjson""",
)


@app.command("batch", cls=_ExpressionCommand, context_settings={"ignore_unknown_options": True},
             short_help="f and its gradient at every row of a CSV or Parquet table.",
             epilog="Exit codes: 0 every row done; 1 bad input or a failed row (reported with its line "
                    "number), or --engine dask without its extra; 2 command-line usage error.")
def batch_command(
    arguments: Annotated[List[str], typer.Argument(
        metavar="EXPRESSION [NAME=VALUE]...",
        help='An expression of the columns ("sigmoid(w0*x0 + w1*x1 + w2)"), then optional NAME=VALUE '
             "constants, the same as --set.")],
    input: Annotated[str, typer.Option(
        "--input", "-i", metavar="PATH",
        help="The points: a CSV whose header row names the variables, one point per row ('-' is stdin); "
             "a glob of such CSVs ('data/*.csv', quoted); or Parquet, a file or a folder of parts "
             "(Parquet needs pyarrow: pip install 'gradcli[dask]').")],
    output: Annotated[str, typer.Option(
        "--output", "-o", metavar="PATH",
        help="Where to write the inputs, f and df/d<name> per row ('-', the default, is stdout). "
             "A folder (DIR/, or any Parquet output with --engine dask) gets one part per input "
             "partition, part.00000.csv, …")] = "-",
    set_: SetOption = None,
    values_file: ValuesOption = None,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", metavar="N", callback=_between(1, MAX_CHUNK_SIZE),
        help="Rows evaluated together; memory grows with it, not with the input.")] = 16384,
    format: Annotated[Optional[BatchFormat], typer.Option(
        "--format", "-f", metavar="FORMAT", show_default=False,
        help="csv (the default): a header and one line per row; ndjson: one JSON object per row; "
             "parquet: a Parquet file (the default for --output *.parquet).")
    ] = None,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="Stop at the first failed row (by default its output row is left empty "
                            "and the run goes on). Not with --engine dask.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="A row whose f or gradient is nan or inf fails.")] = False,
    engine: Annotated[BatchEngine, typer.Option(
        "--engine", metavar="ENGINE",
        help="local: this process; dask: one Dask task per partition (pip install 'gradcli[dask]'), "
             "on a local cluster of --workers processes or on --scheduler.")] = BatchEngine.local,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", metavar="ADDRESS", show_default=False,
        help="With --engine dask: the Dask scheduler to run on (tcp://HOST:8786); without it a local "
             "cluster is started and closed.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", metavar="N", callback=lambda n: n if n is None else _between(1, 1024)(n),
        show_default=False,
        help="With --engine dask and no --scheduler: worker processes of the local cluster "
             "(default: the CPUs).")] = None,
    partition_rows: Annotated[int, typer.Option(
        "--partition-rows", metavar="N", callback=_between(1, 2**40),
        help="With --engine dask: rows per partition, one task each (about: a CSV is cut by bytes, "
             "Parquet at row groups). A worker's memory grows with --chunk-size, not with this.")
    ] = 1_000_000,
) -> None:
    """Evaluate EXPRESSION at every row of a CSV file or Parquet table whose header (column names)
    names the variables: per row, f and the gradient with respect to each column (one point per
    row, not the gradient of a sum).

    EXPRESSION is as for gradcli eval; each NAME=VALUE after it is a constant, the same for
    every row (it gets no gradient column). With --engine dask the rows are cut into partitions
    computed by Dask workers with the same engine: the same numbers, bit for bit, in the same order.
    """
    if engine is BatchEngine.local and (scheduler is not None or workers is not None):
        raise click.UsageError("--scheduler and --workers go with --engine dask")
    if engine is BatchEngine.dask and fail_fast:
        raise click.UsageError("--fail-fast is for --engine local (Dask computes the partitions at once)")
    if engine is BatchEngine.dask and input == "-":
        raise click.UsageError("--engine dask reads files, not stdin: give --input PATH")
    fmt = (format or (BatchFormat.parquet if output.endswith((".parquet", ".parquet/"))
                      else BatchFormat.csv)).value
    with terminal.user_errors():
        from . import batch
        from ..inputs import tables
        from ..inputs.arguments import collect_values

        expression, pairs = arguments[0], arguments[1:]
        inputs = _input_files([expression, *pairs], None, set_, values_file, batch_input=input)
        _refuse_output_over_input([("standard output" if output == "-" else f"--output {output}",
                                    None if output == "-" else output)], inputs)
        constants = collect_values(set_ or [], pairs, values_file=values_file,
                                   stdin_taken="--input -" if input == "-" else None)
        graph = batch.batch_graph(expression, constants)
        folder = output != "-" and (output.endswith(("/", os.sep)) or os.path.isdir(output))
        if engine is BatchEngine.dask:
            missing = tables.missing_extra("--engine dask")
            if missing:
                raise missing
            if scheduler is not None:
                from . import batch_dask
                from .helptext import UsageProblem

                problem = batch_dask.scheduler_problem(scheduler)
                if problem:
                    raise UsageProblem(f"--scheduler {scheduler}: {problem}",
                                       "a Dask scheduler's address: tcp://HOST:8786")
            folder = folder or (fmt == "parquet" and output != "-")
        if fmt == "parquet" and output == "-":
            from .helptext import UsageProblem

            raise UsageProblem("--format parquet writes a file, not standard output",
                               "give --output FILE.parquet" + (" or a folder DIR/" if engine is BatchEngine.dask else ""))
        if folder and engine is BatchEngine.local:
            raise GradcliError(f"--output {output} is a folder: --engine local writes one file",
                               hint="name a file, or run with --engine dask for one part per partition")
        if engine is BatchEngine.dask:
            summary = _batch_dask(expression, constants, input, output if folder else None, output, fmt,
                                  chunk_size, strict, scheduler, workers, partition_rows)
        else:
            summary = _batch_local(graph, constants, input, output, fmt, chunk_size, fail_fast, strict)
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


def _batch_local(graph, constants, input, output, fmt, chunk_size, fail_fast, strict):
    """The local batch: a CSV streamed through this process, or a table's files one by one."""
    from . import batch
    from ..inputs import tables
    from ..inputs.datafiles import open_text, source_name

    files = [input] if input == "-" or os.path.isfile(input) else tables.input_files(input)
    parquet = [tables.is_parquet(path) for path in files]
    if fmt == "parquet" or any(parquet):
        missing = tables.missing_extra("Parquet", ("pyarrow",))
        if missing:
            raise missing
    if any(parquet) and not all(parquet):
        raise GradcliError(f"--input {input} mixes CSV and Parquet files", hint="give one kind of file per run")
    if len(files) > 1:  # before a row is written, as --engine dask checks
        tables.common_header([(path, source_name(path)) for path in files])
    out = batch.ParquetOutput(output) if fmt == "parquet" else _LazyOutput(output)
    summary = batch.Summary()
    progress = None
    reported = []

    def report(row, source) -> None:  # the first MAX_REPORTED of the whole run, over its files
        if len(reported) < batch.MAX_REPORTED:
            reported.append(row)
            sys.stderr.write(f"error: {source}, {row.message}\n")

    try:
        for number, path in enumerate(files):
            source = source_name(path)
            if parquet[number]:
                names = tables.parquet_header(path)
                batches = tables.parquet_batches(path, tuple(range(_row_groups(path))), 1, chunk_size, names)
                part = batch.run_table(graph, names, batches, out, constants, source=source, fmt=fmt,
                                       fail_fast=fail_fast, strict=strict, header_row=number == 0,
                                       on_failure=lambda row, source=source: report(row, source))
            else:
                stream = open_text(path)
                progress = _progress(batch.input_size(path))
                try:
                    part = batch.run(graph, stream, out, constants, source=source, fmt=fmt,
                                     chunk_size=chunk_size, fail_fast=fail_fast, strict=strict,
                                     on_failure=lambda row, source=source: report(row, source),
                                     on_progress=progress.update if progress else None,
                                     write_header=number == 0)
                finally:
                    if progress:
                        progress.close()
                    stream.close()
            _merge(summary, part, batch.MAX_REPORTED)
            if part.stopped:
                break
    except BaseException:
        out.discard()  # a run that stops halfway leaves the file that was there before
        raise
    out.close() if fmt != "parquet" else out.commit()
    return summary


def _row_groups(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_row_groups


def _merge(summary, part, most: int) -> None:
    summary.rows += part.rows
    summary.non_finite += part.non_finite
    summary.failed_count += part.failed_count
    summary.failed += part.failed[:max(0, most - len(summary.failed))]
    summary.warnings += [message for message in part.warnings if message not in summary.warnings]
    summary.stopped = part.stopped


def _batch_dask(expression, constants, input, folder, output, fmt, chunk_size, strict, scheduler, workers,
                partition_rows):
    """--engine dask: the parts written by the workers into `folder`, or their text, in order, to
    `output` (a file or stdout)."""
    from . import batch_dask

    job = batch_dask.Job(expression, constants, fmt, chunk_size, strict,
                         os.path.abspath(folder) if folder else None)
    out = None if folder else _LazyOutput(output)

    def report(row, source) -> None:
        sys.stderr.write(f"error: {source}, {row.message}\n")

    try:
        summary = batch_dask.run(job, input, scheduler=scheduler, workers=workers or _cpus(), out=out,
                                 on_failure=report, partition_rows=partition_rows)
    except BaseException:
        if out is not None:
            out.discard()
        raise
    if out is not None:
        out.close()
    return summary


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# -- gradcli repl: an interactive session (gradcli/commands/repl.py) ------------------------------

EXAMPLES["repl"] = (
    "gradcli repl",
    "gradcli repl x=-2 y=5 z=-4",
    "gradcli repl w=2 x=-1 b=-3 --no-history",
)


@app.command("repl", cls=_Command, short_help="An interactive session: expressions, values, views.",
             epilog="Exit codes: 0 the session ended (Ctrl-D, or the end of piped input); 1 a bad "
                    "NAME=VALUE or --file; 2 command-line usage error. Errors inside the session "
                    "are reported and the session goes on.")
def repl_command(
    pairs: Annotated[Optional[List[str]], typer.Argument(
        metavar="[NAME=VALUE]...", help="Values to start with, as for gradcli eval.")] = None,
    set_: SetOption = None,
    values_file: ValuesOption = None,
    file: Annotated[Optional[Path], typer.Option(
        "--file", metavar="PROGRAM.grad", dir_okay=False, help="Run this program first.")] = None,
    digits: DigitsOption = 6,
    no_color: NoColorOption = False,
    no_history: Annotated[bool, typer.Option(
        "--no-history", help="Neither read nor write the history file (by default "
                             "$XDG_DATA_HOME/gradcli/repl_history, kept across sessions).")] = False,
) -> None:
    """An interactive session: type an expression or a program and see its backward pass as
    gradcli eval shows it; x := 2 (or :set x=2 y=3) changes values and runs the last program
    again on its parsed graph; :steps, :tree, :json, :check, :diff x, :plot x -3:3 and
    :save FILE.grad show it as those commands do; :help lists them.

    Enter runs a complete input; inside an open bracket or after an assignment (q = x + y) it
    starts another line, and an empty line runs the program. Tab completes names, Ctrl-R
    searches the history, Ctrl-D leaves. Read from a pipe, the lines are run as they come.
    """
    with terminal.user_errors():
        from . import repl
        from ..inputs.arguments import collect_values

        if str(file) == "-" or values_file == "-" or any(
                p.partition("=")[2].strip() == "@-" for p in [*(set_ or []), *(pairs or [])]):
            raise GradcliError("the session reads its input from stdin", hint="give the program or values in a file")
        program = None if file is None else _read_program(file, f"--file {file}")
        values = collect_values(set_ or [], pairs or [], values_file)
    repl.main(values, program=program, digits=digits, no_color=no_color,
              history=not no_history)


EXAMPLES["help"] = ("gradcli help language", "gradcli help eval")


@app.command("help", cls=_Command, short_help="The language's operators and functions, or a command's help.",
             epilog="Exit codes: 0 success; 2 no such topic.")
def help_command(
    ctx: typer.Context,
    topic: Annotated[Optional[str], typer.Argument(metavar="[TOPIC]", show_default=False)] = None,
) -> None:
    """Help on TOPIC: language (every operator and function with its local gradient, generated
    from gradcli's own op registry; how programs and definitions are written), or a command
    (the same as gradcli COMMAND --help). Without TOPIC, the list of topics."""
    from .helptext import help_page

    text = help_page(ctx, topic)
    with terminal.ascii_stdout():
        sys.stdout.write(text)


class _LazyOutput:
    """The output: stdout, or a file created at the first write (so a bad input leaves no empty
    file) and put in place whole at the end (see outfile.py)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stdout = path == "-"
        self.handle = None

    def write(self, text: str) -> None:
        if self.stdout:
            sys.stdout.write(text)
            return
        if self.handle is None:
            from ..base.outfile import AtomicFile

            self.handle = AtomicFile(self.path)
        self.handle.write(text)

    def close(self) -> None:
        if self.stdout:
            sys.stdout.flush()
        elif self.handle is not None:
            self.handle.commit()

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.discard()


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


class _ClosedOutput(io.TextIOBase):
    """Stdout of a process started with it closed (`>&-`): every write fails as on a closed
    descriptor, and is reported as any failed write is."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))


def _guard_std_streams() -> None:
    """For a process started with stdin, stdout or stderr closed: /dev/null takes the descriptor,
    so that no file opened later lands on 0, 1 or 2; a closed stdout fails every write (reported
    as such), a closed stderr swallows messages (the exit code still tells), a closed stdin is
    None (reading it is "cannot read standard input: it is closed")."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
        except OSError:
            continue
        if fd == 1:
            sys.stdout = _ClosedOutput()
        elif fd == 2:
            sys.stderr = open(os.devnull, "w")
        else:
            sys.stdin = None


def _identity(target: int | str):
    """(device, inode) of a descriptor or a path, or None."""
    try:
        info = os.stat(target)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _met_closed_pipe(stdout_was) -> bool:
    """Whether Click or Rich met a closed pipe while writing (their own texts: --help, usage):
    Click then wraps stdout, Rich points it at /dev/null, and both exit with 1."""
    if isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
        terminal.silence_stdout()
        return True
    now = _identity(1)
    return not terminal.SILENCED and now != stdout_was and now == _identity(os.devnull)


# The commands, in their order, built when first asked for (_Group.get_command) rather than all by
# Typer at every run: reading the six commands' parameters took ~5% of `import numpy`'s time.
_LAZY = {info.name: info for info in app.registered_commands}
app.registered_commands = []


def main() -> None:
    """Console-script entry point: never a traceback, even for an internal error."""
    # What start-up created lives as long as the process: moved out of the collector's sight,
    # it is not traversed again by every full collection a big input's parsing triggers.
    gc.freeze()
    _guard_std_streams()
    stdout_was = _identity(1)
    if terminal.dumb_terminal():  # every message in ASCII, Click's and Typer's too
        from ..render.style import AsciiWriter

        sys.stderr = AsciiWriter(sys.stderr)
    try:
        app()
        code = EXIT_OK
    except SystemExit as exit:
        code = exit.code
        if code == EXIT_BAD_INPUT and _met_closed_pipe(stdout_was):  # in --help's text, say
            code = EXIT_OK
        elif code == EXIT_INTERRUPTED:  # Typer's answer to Ctrl-C, silent until now
            sys.stderr.write("interrupted\n")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = EXIT_INTERRUPTED
    except OSError as exc:  # writing the --help or --version text failed
        if exc.filename is not None or os.environ.get("GRADCLI_DEBUG"):
            raise
        code = terminal.write_failed(exc)
    except Exception as exc:  # a bug of ours: say so plainly, with a way to see the details
        if os.environ.get("GRADCLI_DEBUG"):
            raise
        sys.stderr.write(f"error: internal error ({type(exc).__name__}: {exc}); "
                         "rerun with GRADCLI_DEBUG=1 for the traceback and please report it\n")
        code = EXIT_BAD_INPUT
    try:  # what is still buffered: a failure here is reported like any other write's
        sys.stdout.flush()
    except OSError as exc:
        written = terminal.write_failed(exc)
        code = code if written == EXIT_OK else written
    sys.exit(code)


def run() -> None:
    """The console script and `python -m gradcli`: main(), then the process ends at once. By then
    the output is flushed and every file the run wrote is closed; tearing the interpreter down
    (freeing every module's objects, NumPy's too, one by one: ~3% of `import numpy`'s time)
    would change nothing the user sees. In-process callers (tests) use main(), which raises
    SystemExit."""
    try:
        main()
    except SystemExit as exit:
        code = EXIT_OK if exit.code is None else exit.code
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):  # then let Python's own exit report it
            raise exit from None
        if not isinstance(code, int):
            raise
        os._exit(code)


if _collecting:  # see the imports at the top, and gradcli/__init__.py for the freeze
    gc.freeze()
    gc.unfreeze()
    gc.enable()
