"""The command line's own texts: help pages and usage errors, written the way the rest of gradcli
writes.

- Help is Click's plain layout, whether Rich is installed or not, on a terminal, in a pipe or under
  TERM=dumb: no boxes, examples never wrapped (each fits 60 columns), and option descriptions
  never squeezed into a narrow column (on a narrow terminal each goes under its option).
- A usage error is `error: …` with its hint on its own line (`hint: …`), as every other error.

Imported only when help is asked for or a usage error happens: an ordinary run never loads it.
"""

from __future__ import annotations

import shutil
import sys

import click

from ..base.errors import closest

# The terms' column of a definition list is at most this wide; where the descriptions beside it
# would get fewer than DESCRIPTION_MIN columns, each description goes under its term instead.
TERM_MAX = 24
DESCRIPTION_MIN = 40


class UsageProblem(click.UsageError):
    """A usage error of gradcli's own (exit code 2), with a hint of what to write instead."""

    def __init__(self, message: str, hint: str | None = None, ctx: click.Context | None = None) -> None:
        super().__init__(message, ctx)
        self.hint = hint


class HelpFormatter(click.HelpFormatter):
    """Click's formatter, but text is never broken at a hyphen (`--fail-fast` stays whole) and a
    definition list keeps its descriptions readable: the terms' column is at most TERM_MAX wide,
    and where the descriptions would get fewer than DESCRIPTION_MIN columns beside it, each goes
    under its term instead."""

    def __init__(self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None) -> None:
        super().__init__(indent_increment, width if width is not None else help_width(), max_width)

    def write_text(self, text: str) -> None:
        self.write(_wrap(text, self.width, self.current_indent) + "\n")

    def write_dl(self, rows, col_max: int = TERM_MAX, col_spacing: int = 2) -> None:
        rows = [(term, text) for term, text in rows]
        if not rows:
            return
        column = self.current_indent + min(max(len(term) for term, _ in rows), col_max) + col_spacing
        stacked = self.width - column < DESCRIPTION_MIN
        for term, text in rows:
            line = " " * self.current_indent + term
            if not text:
                self.write(line + "\n")
            elif stacked:
                self.write(line + "\n" + _wrap(text, self.width, self.current_indent + 4) + "\n")
            elif len(line) + col_spacing <= column:
                self.write(line.ljust(column) + _wrap(text, self.width, column).lstrip(" ") + "\n")
            else:
                self.write(line + "\n" + _wrap(text, self.width, column) + "\n")


def help_width() -> int:
    """The width help is written for: the terminal's (80 columns when it is not a terminal), at
    most 78, at least 40."""
    return max(min(shutil.get_terminal_size().columns, 80) - 2, 40)


def _wrap(text: str, width: int, indent: int) -> str:
    """Paragraphs (split at blank lines) filled to `width` after `indent` spaces; a paragraph that
    starts with \\b is kept line for line, as in Click."""
    import textwrap

    pad = " " * indent
    paragraphs = []
    for paragraph in textwrap.dedent(text).strip("\n").split("\n\n"):
        if paragraph.startswith("\b"):
            paragraphs.append("\n".join(pad + line for line in paragraph[1:].strip("\n").splitlines()))
        else:
            paragraphs.append(textwrap.fill(" ".join(paragraph.split()), max(width, indent + 20), initial_indent=pad,
                                            subsequent_indent=pad, break_on_hyphens=False, break_long_words=False))
    return "\n\n".join(paragraphs)


def format_help(command: click.Command, ctx: click.Context, formatter: click.HelpFormatter,
                examples: tuple[str, ...]) -> None:
    """Usage, description, options (and commands), examples, then the epilog."""
    command.format_usage(ctx, formatter)
    command.format_help_text(ctx, formatter)
    options = [record for param in command.get_params(ctx)
               if isinstance(param, click.Option) and (record := param.get_help_record(ctx))]
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)
    if isinstance(command, click.Group):
        command.format_commands(ctx, formatter)
    if examples:
        # written as they are: an example is never wrapped, so it pastes whole
        with formatter.section("Examples"):
            for line in examples:
                formatter.write(f"{'':>{formatter.current_indent}}{line}\n")
    command.format_epilog(ctx, formatter)


def _param_name(param: click.Parameter | None, ctx: click.Context | None) -> str:
    if param is None:
        return "a parameter"
    if isinstance(param, click.Option):
        return max(param.opts, key=lambda opt: (opt.startswith("--"), len(opt)))
    return param.metavar or (param.name or "").upper()


def _sentence(message: str) -> str:
    """Click's message as gradcli writes one: no quotes around an option, lower case, no period."""
    import re

    message = re.sub(r"'(--?[A-Za-z][\w-]*)'", r"\1", message.strip())
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    return message[:-1] if message.endswith(".") else message


def explain(exc: click.ClickException) -> tuple[str, str | None]:
    """(message, hint) for an error of the command line."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "gradcli"
    is_group = ctx is not None and isinstance(ctx.command, click.Group)
    lists = f"{path} --help lists the {'commands and options' if is_group else 'options'}"
    if isinstance(exc, click.NoSuchOption):
        name = exc.option_name
        known = [opt for param in ctx.command.get_params(ctx) for opt in param.opts + param.secondary_opts] \
            if ctx is not None else []
        guess = closest(name, [opt for opt in known if opt.startswith("--") == name.startswith("--")])
        return f"no such option {name}", f"did you mean {guess}? ({lists})" if guess else lists
    if isinstance(exc, click.MissingParameter):
        name = _param_name(exc.param, ctx)
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        what = f"{name} {exc.param.metavar}" if isinstance(exc.param, click.Option) and exc.param.metavar else name
        return f"missing {kind} {what}", f"{path} --help describes {name}"
    if isinstance(exc, click.BadParameter):
        name = _param_name(exc.param, ctx) if exc.param is not None else (exc.param_hint or "a parameter")
        return f"invalid value for {name}: {_sentence(exc.message)}", f"{path} --help describes {name}"
    if isinstance(exc, click.BadOptionUsage):
        return _sentence(exc.message), f"{path} --help describes {exc.option_name}"
    if isinstance(exc, click.UsageError):
        return _sentence(exc.message), getattr(exc, "hint", None) or lists
    return _sentence(exc.format_message()), None


def report(exc: click.ClickException) -> None:
    """Write the error on stderr: `error: …`, then `hint: …` on its own line."""
    message, hint = explain(exc)
    sys.stderr.write(f"error: {message}\n" + (f"hint: {hint}\n" if hint else ""))


# -- gradcli help [TOPIC] --------------------------------------------------------------------------

LANGUAGE = "language"


def topics(root: click.Context) -> dict[str, str]:
    """Every help topic and what it shows."""
    found = {LANGUAGE: "every operator and function with its local gradient; how programs and "
                       "definitions are written"}
    for name in root.command.list_commands(root):
        if name != "help":
            found[name] = f"the same as {root.command_path} {name} --help"
    return found


def help_page(ctx: click.Context, topic: str | None) -> str:
    """The text `gradcli help [TOPIC]` prints."""
    root = ctx.find_root()
    known = topics(root)
    if topic is None:
        formatter = HelpFormatter()
        formatter.write_usage(ctx.command_path, "[TOPIC]")
        formatter.write_paragraph()
        formatter.write_text(f"Help on a topic; {ctx.command_path} {LANGUAGE} is the one to start with.")
        with formatter.section("Topics"):
            formatter.write_dl(list(known.items()))
        return formatter.getvalue()
    if topic == LANGUAGE:
        from ..render.language import render

        return render(help_width())
    if topic in known:
        command = root.command.get_command(root, topic)
        return command.get_help(command.context_class(command, info_name=topic, parent=root)) + "\n"
    guess = closest(topic, list(known))
    lists = f"{ctx.command_path} lists the topics: {', '.join(known)}"
    raise UsageProblem(f"no help topic {topic!r}", f"did you mean {guess}? ({lists})" if guess else lists, ctx)
