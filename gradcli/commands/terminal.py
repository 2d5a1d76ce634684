"""The terminal, for every command: a user's error as one message on stderr and exit code 1
(`user_errors`), warnings, ASCII under TERM=dumb, the console a table is drawn on, and what to do
when stdout cannot be written. The exit codes are written here, once.

Nothing heavy at module level: gradcli.commands.cli imports this at every start (Rich is imported
when a console is asked for).
"""

from __future__ import annotations

import os
import sys

import click

from ..base.errors import GradcliError

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # Ctrl-C: the shells' 128 + SIGINT
EXIT_CHECK_FAILED = 1  # `check` works as a test in a script: failing is 1, like bad input


class user_errors:
    """Turn gradcli's errors into one message on stderr and exit code 1; also a failed write to
    stdout ("cannot write standard output: No space left on device", exit 1) and a reader that
    stopped early (`| head`: quietly, exit 0). Stdout is flushed here, so that a write that only
    fails at the flush is reported the same way."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, click.exceptions.Exit):
            try:
                sys.stdout.flush()
            except OSError as error:
                if isinstance(error, BrokenPipeError) and exc is not None:
                    silence_stdout()
                    return False  # keep the command's own exit code
                exc = error
            else:
                return False
        if isinstance(exc, OSError) and exc.filename is None:  # files we read or write are named
            raise click.exceptions.Exit(write_failed(exc))
        if not isinstance(exc, (GradcliError, RecursionError, MemoryError)):
            return False
        if isinstance(exc, GradcliError):
            message = exc.render()
        elif isinstance(exc, MemoryError):
            message = "not enough memory for this input"
        else:
            message = "the input is nested too deeply"
        sys.stderr.write(f"error: {plain(message)}\n")
        raise click.exceptions.Exit(EXIT_BAD_INPUT)


def warn(diagnostics) -> None:
    for diagnostic in diagnostics:
        sys.stderr.write(f"warning: {plain(diagnostic.message)}\n")


class ascii_stdout:
    """Under TERM=dumb, stdout writes through render.style.AsciiWriter while a result is
    rendered: ASCII only, whichever renderer writes."""

    def __enter__(self):
        self.saved = sys.stdout
        if dumb_terminal():
            from ..render.style import AsciiWriter

            sys.stdout = AsciiWriter(sys.stdout)

    def __exit__(self, *exc):
        sys.stdout = self.saved
        return False


def plain(message: str) -> str:
    """A message for stderr: in ASCII under TERM=dumb."""
    if message.isascii() or not dumb_terminal():
        return message
    from ..render.style import plain_ascii

    return plain_ascii(message)


def suggest_stable(result) -> None:
    """Where a nan/inf comes from a pattern --stable would rewrite, say so."""
    if not any(d.kind == "domain" for d in result.diagnostics):
        return
    from ..language.rewrite import unstable_patterns

    for node, pattern in unstable_patterns(result.graph):
        sys.stderr.write(f"hint: {pattern} at {node.span.where()} overflows for large |u|; "
                         "--stable computes it as one stable gate with the same gradients\n")


def dumb_terminal() -> bool:
    return os.environ.get("TERM") == "dumb"


def table_output(no_color: bool):
    """A Rich console on a terminal; else stdout itself, for the plain ASCII layout (no Rich)."""
    if sys.stdout.isatty() and not dumb_terminal():
        return console(no_color)
    return sys.stdout


def console(no_color: bool = False):
    from rich.console import Console

    return Console(highlight=False, no_color=no_color or "NO_COLOR" in os.environ)


def write_failed(exc: OSError) -> int:
    """Stdout could not be written: say so (if stderr can be), and the exit code to use. A reader
    that closed the pipe (`| head`) is no error of the input: exit 0 and say nothing."""
    silence_stdout()  # else Python's own final flush fails again at exit
    if isinstance(exc, BrokenPipeError):
        return EXIT_OK
    try:
        sys.stderr.write(f"error: cannot write standard output: {exc.strerror or exc}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return EXIT_BAD_INPUT


SILENCED = []  # set once gradcli itself pointed stdout at /dev/null


def silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail on a closed pipe."""
    SILENCED.append(True)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
