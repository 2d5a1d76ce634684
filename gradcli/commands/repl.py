"""`gradcli repl`: an interactive session. Type an expression or a program and see its backward
pass; change a value (`x := 2`, `:set x=2 y=3`) and the last program runs again on the graph
already parsed; `:steps`, `:tree`, `:json`, `:check`, `:diff x`, `:plot x -3:3`, `:save FILE.grad`
show the last program as the commands of those names do.

Every view is the command line's own code: its renderers (views.py: `render`, `render_diff`),
its warnings and its error messages (terminal.py: `user_errors`). Line editing is prompt_toolkit's
(history kept in the user's data folder, Ctrl-R, Tab completion); without a terminal (a pipe, a test) lines
are read as they come, with the same rules for where an input ends.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from ..base.errors import GradcliError, MissingValueError
from . import terminal, views

PROMPT = "grad> "
CONTINUATION = "  ... "

# (command, arguments, what it does): the :help page and Tab completion read this table.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    (":set", "NAME=VALUE...", "give values (or x := 2), run the last program again"),
    (":unset", "NAME...", "forget values"),
    (":values", "", "the values set so far"),
    (":table", "", "the backward pass as a table (gradcli eval)"),
    (":steps", "", "one gate at a time (gradcli eval --steps)"),
    (":tree", "", "the circuit as a tree (gradcli eval -f tree)"),
    (":json", "", "one JSON document (gradcli eval -f json)"),
    (":check", "", "gradients against differences (gradcli check)"),
    (":diff", "[NAME,NAME] [N]", "N-th derivative as a formula (gradcli diff)"),
    (":plot", "NAME LOW:HIGH [2]", "f, f' (and f'') over a range (gradcli plot)"),
    (":save", "FILE.grad", "the program, its values in a comment (eval --file)"),
    (":help", "", "this list"),
)
NAMES = tuple(name for name, _args, _what in COMMANDS)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WALRUS = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:=(.*)", re.DOTALL)
# A line that assigns a name or defines a function (`q = x + y`, `sig(t) = ...`, `q += 1`): a
# program goes on after it, so Enter there starts a new line; an empty line runs the program.
_STATEMENT = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*(\([^()]*\))?\s*[-+*/]?=(?!=)")
_OPEN = {"(": ")", "[": "]"}
_DEFINED = re.compile(r"(?:^|[;\n])\s*([A-Za-z_][A-Za-z0-9_]*)\s*\([^()]*\)\s*=(?!=)")  # sig(t) = …


def complete_input(text: str) -> bool:
    """Whether Enter after `text` runs it (True) or starts another line of the same input: after
    a bracket left open (a line break inside brackets is a space, as in the language), or a last
    line that is an assignment or a definition without a `;` (then an empty line runs it)."""
    stripped = text.strip()
    if not stripped or stripped.startswith(":") or _WALRUS.match(text):
        return True
    last_line = text.rsplit("\n", 1)[-1].strip()
    if "\n" in text and (not last_line or last_line.startswith(":") or _WALRUS.match(last_line)):
        return True  # an empty line ends a program (and any input, even one left open); so does a command
    depth, start, separator = 0, 0, "\n"  # where the last statement starts, and after what
    i = 0
    while i < len(text):
        char = text[i]
        if char == "#":  # a comment runs to the end of its line
            i = text.find("\n", i)
            if i == -1:
                break
            char = "\n"
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char in "\n;" and depth <= 0:
            start, separator = i + 1, char
        i += 1
    if depth > 0:
        return False
    last = text[start:]
    return not (separator == "\n" and _STATEMENT.match(last))


class Session:
    """The state of one session: the values set so far, the last program, its graphs (parsed
    once, re-used while only values change) and its results."""

    def __init__(self, values: Mapping[str, object] | None = None, *, digits: int = 6,
                 no_color: bool = False) -> None:
        self.values: dict[str, object] = dict(values or {})
        self.digits = digits
        self.no_color = no_color
        self.source: str | None = None
        self.graphs: dict | None = None
        self.results: dict | None = None
        self._shapes: dict | None = None  # the shapes a program with diff(…) was parsed for

    # -- one input --------------------------------------------------------------------------------

    def run(self, text: str) -> None:
        """Do what one input says; a problem is reported as the command line reports it, and the
        session goes on."""
        from click.exceptions import Exit
        try:
            with terminal.user_errors():
                try:
                    self._dispatch(text)
                except MissingValueError as exc:
                    if exc.hint and exc.hint.startswith("add --set"):
                        names = " ".join(f"{n}=VALUE" for n in exc.names[:5])
                        exc.hint = f"give {'it a value' if len(exc.names) == 1 else 'them values'}: :set {names}"
                    raise
        except Exit:
            pass  # the message is out; a session never ends on an error
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
        finally:
            sys.stdout.flush()

    def _dispatch(self, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            return
        walrus = _WALRUS.match(stripped)
        if walrus:
            self.set_values([f"{walrus[1]}={walrus[2].strip()}"])
            return
        if not stripped.startswith(":"):
            self.evaluate(text.rstrip())
            return
        command, _, rest = stripped.partition(" ")
        rest = rest.strip()
        if command not in NAMES:
            from ..base.errors import closest

            guess = closest(command, NAMES)
            raise GradcliError(f"no such command {command}",
                               hint=(f"did you mean {guess}? " if guess else "") + ":help lists the commands")
        getattr(self, "do_" + command[1:])(rest)

    # -- evaluating -----------------------------------------------------------------------------

    def evaluate(self, source: str) -> None:
        """Run `source` on the values set so far and show its backward pass as a table. A text
        that does not parse leaves the last program in place; one that parses becomes the last
        program even when it cannot run yet (:set gives it the values it misses)."""
        graphs, shapes = self._graphs(source)
        self.source, self.graphs, self._shapes, self.results = source, graphs, shapes, None
        from ..evaluation import outputs as several

        results = several.evaluate(graphs, self._used(graphs), trace=True)
        views.warn_outputs(results, False)
        self.results = results
        self.show(views.Format.table)

    def _graphs(self, source: str) -> tuple[dict, dict | None]:
        """The program's graphs and the shapes they were parsed for: the last ones again while the
        text is the same; parsed anew for a new text or, for a program with diff(…) (built for its
        variables' shapes), when those shapes changed."""
        from ..evaluation import outputs as several
        from ..inputs.values import shapes_of

        shapes = shapes_of(self.values) if "diff" in source else None
        if self.graphs is not None and source == self.source and shapes == self._shapes:
            return self.graphs, shapes
        return several.graphs(source, None, values=self.values), shapes

    def _used(self, graphs: dict) -> dict:
        """The values the program uses (the session keeps others without a warning at every run);
        all of them when one it needs is missing, for the message's did-you-mean."""
        used = {name for graph in graphs.values() for name in graph.variables}
        own = {name: value for name, value in self.values.items() if name in used}
        if self._complete(graphs):
            return own
        # of the others, only those a missing name may be a typo of: an unrelated value kept from
        # earlier (:set constructor=3) is no "did you mean" for a missing y
        from ..base.errors import closest

        others = [name for name in self.values if name not in used]
        missing = {name for graph in graphs.values() for name in graph.required if name not in self.values}
        typos = {closest(name, others) for name in missing} - {None}
        own.update((name, self.values[name]) for name in others if name in typos)
        return own

    def _complete(self, graphs: dict) -> bool:
        """Whether every variable the program needs has a value."""
        return all(name in self.values for graph in graphs.values() for name in graph.required)

    def _program(self):
        """The last program's graph (one output)."""
        if self.graphs is None:
            raise GradcliError("no program yet", hint="type an expression first, e.g. (x + y) * z")
        graph, = self.graphs.values()
        return graph

    def _last(self) -> dict:
        """The last program's results."""
        self._program()
        if self.results is None:
            raise GradcliError("the last program has not run (see its error)",
                               hint="give it the values it needs: :set NAME=VALUE")
        return self.results

    def show(self, format, *, steps: bool = False) -> None:
        """The last results in one of eval's views, through eval's own renderer."""
        results = self._last()
        with terminal.ascii_stdout():
            views.render(*results.values(), format, steps=steps, output=None, digits=self.digits,
                        all_rows=False, no_color=self.no_color)

    def _rerun(self, new: dict) -> None:
        if self.source is not None:
            self.evaluate(self.source)
        else:
            for name, value in new.items():
                print(f"{name} = {_literal(value)}")

    # -- the : commands -----------------------------------------------------------------------

    def set_values(self, pairs: list[str]) -> None:
        from ..inputs.arguments import collect_values

        if not pairs:
            raise GradcliError(":set needs NAME=VALUE pairs", hint="for example :set x=2 y=[1,2,3] (or x := 2)")
        new = collect_values(pairs, flag=":set")
        self.values.update(new)
        self._rerun(new)

    def do_set(self, rest: str) -> None:
        # split before each NAME=, so that a value may hold spaces: :set v=[1, 2] w=3
        self.set_values([part.strip() for part in re.split(r"\s+(?=[A-Za-z_][A-Za-z0-9_]*\s*=)", rest)
                         if part.strip()])

    def do_unset(self, rest: str) -> None:
        names = rest.replace(",", " ").split()
        if not names:
            raise GradcliError(":unset needs variable names", hint="for example :unset x y")
        for name in names:
            if name not in self.values:
                from ..base.errors import did_you_mean

                raise GradcliError(f"{name} has no value", hint=did_you_mean(name, self.values)
                                   or f"values: {', '.join(self.values) or 'none'}")
        for name in names:
            del self.values[name]

    def do_values(self, rest: str) -> None:
        if not self.values:
            print("no values yet: :set x=2 (or x := 2) gives one")
        for name, value in self.values.items():
            print(f"{name} = {_literal(value)}")

    def do_table(self, rest: str) -> None:
        self.show(views.Format.table)

    def do_steps(self, rest: str) -> None:
        self.show(views.Format.table, steps=True)

    def do_tree(self, rest: str) -> None:
        self.show(views.Format.tree)

    def do_json(self, rest: str) -> None:
        self.show(views.Format.json)

    def do_check(self, rest: str) -> None:
        """gradcli check on the last program: evaluation.check's report in its table."""
        from ..evaluation.check import check
        graph = self._program()
        report = check(graph, self._used(self.graphs))
        terminal.warn(report.diagnostics)
        from ..render import checktable

        with terminal.ascii_stdout():
            checktable.render(report, terminal.table_output(self.no_color), digits=self.digits,
                              ascii_only=terminal.dumb_terminal())
        sys.stdout.flush()
        sys.stderr.write(report.summary() + "\n")

    def do_diff(self, rest: str) -> None:
        """gradcli diff on the last program: `:diff x`, `:diff x,y 2`, `:diff` (every variable)."""
        from ..evaluation.formulas import derive
        words = rest.split()
        order = 1
        if words and words[-1].isdigit():
            order = int(words.pop())
        if not 1 <= order <= views.MAX_DIFF_ORDER:
            raise GradcliError(f":diff order {order} is not between 1 and {views.MAX_DIFF_ORDER}")
        names = [n for word in words for n in word.split(",") if n] or None
        graph = self._program()
        values = self._used(self.graphs) if self._complete(self.graphs) else None  # else formulas only
        derivs = derive(graph, names, order, values, flag=":diff")
        for message in derivs.warnings:
            sys.stderr.write(f"warning: {terminal.plain(message)}\n")
        with terminal.ascii_stdout():
            sys.stdout.write(views.render_diff(derivs, views.DiffFormat.text, self.digits) + "\n")

    def do_plot(self, rest: str) -> None:
        """gradcli plot on the last program, through its show_plot: `:plot x -3:3` (f and ∂f/∂x),
        `:plot x -3:3 2` (and ∂²f/∂x²); the other variables held at their values."""
        words = rest.split()
        if len(words) not in (2, 3) or (len(words) == 3 and not words[2].isdigit()):
            raise GradcliError(":plot needs a variable and a range", hint="for example :plot x -3:3 (or :plot x -3:3 2)")
        graph = self._program()
        name, range_text = words[:2]
        if "," in name:
            raise GradcliError(f":plot {name}: the repl plots over one variable",
                               hint=f"for example :plot {name.split(',')[0] or 'x'} {range_text}; a field over two "
                                    f"goes into a file: gradcli plot … --wrt {name} --output field.png")
        if name not in graph.variables:
            from ..base.errors import did_you_mean

            raise GradcliError(f":plot {name}: not a variable of the last program",
                               hint=did_you_mean(name, graph.variables) or f"its variables: {', '.join(graph.variables)}")
        order = int(words[2]) if len(words) == 3 else 1
        from .plot import PlotUsageError, show_plot

        held = {key: value for key, value in self._used(self.graphs).items() if key != name}  # (name: the range)
        try:
            show_plot(self.source, held, [name], range_text, order=order, digits=self.digits,
                      color=False if self.no_color or "NO_COLOR" in os.environ else None)
        except PlotUsageError as exc:  # in the repl's words: its range and order, not --range, --order
            example = f":plot {name} -3:3"
            message = exc.message.replace("--range", "the range").replace("--order", "the order")
            hint = exc.hint
            if hint and "--order" in hint:
                hint = f"write {example} 2 for ∂²f/∂{name}²; the order is 1 or 2"
            elif hint and "--range" in hint:
                hint = f"write e.g. {example} (LOW:HIGH)"
            raise GradcliError(message, hint=hint) from None

    def do_save(self, rest: str) -> None:
        """Write the last program to FILE, its values as gradcli eval's arguments in a comment on
        the first line (`gradcli eval --file FILE x=1 y=2` runs it again)."""
        import shlex

        if not rest:
            raise GradcliError(":save needs a file name", hint="for example :save circuit.grad")
        graph = self._program()
        path = Path(rest).expanduser()
        pairs = [f"{name}={_literal(value)}" for name, value in self.values.items() if name in graph.variables]
        header = " ".join(["# gradcli eval --file", shlex.quote(str(path)), *map(shlex.quote, pairs)])
        from ..base.outfile import AtomicFile

        try:
            handle = AtomicFile(str(path))
            handle.write(header + "\n" + self.source.rstrip("\n") + "\n")
            handle.commit()
        except OSError as exc:
            raise GradcliError(f":save {rest}: {exc.strerror or exc}") from None
        print(f"saved {path}")

    def do_help(self, rest: str) -> None:
        print(help_text())

    # -- completion -------------------------------------------------------------------------------

    def words(self) -> list[str]:
        """The names Tab completes in an expression: variables (with a value, or in the last
        program), functions you defined, the language's functions and constants."""
        from ..core.ops import CONSTANTS, OVERLOADS

        names = dict.fromkeys(self.values)
        for graph in (self.graphs or {}).values():
            names.update(dict.fromkeys(graph.variables))
        if self.source:
            names.update(dict.fromkeys(_DEFINED.findall(self.source)))
        names.update(dict.fromkeys(sorted(OVERLOADS)))
        names.update(dict.fromkeys(["diff", *CONSTANTS]))
        return list(names)

    def completions(self, before: str) -> list[str]:
        """The words that complete the text before the cursor (its last word)."""
        match = re.search(r"[:A-Za-z_][A-Za-z0-9_]*$", before)
        word = match.group(0) if match else ""
        head = before[: len(before) - len(word)]
        if word.startswith(":") and not head.strip():
            return [name for name in NAMES if name.startswith(word)]
        if word.startswith(":"):
            return []
        if head.lstrip().startswith((":diff", ":plot", ":unset")):
            pool = list(dict.fromkeys([*self.values, *(n for g in (self.graphs or {}).values() for n in g.variables)]))
        elif head.lstrip().startswith(":set"):
            pool = list(dict.fromkeys([*(n for g in (self.graphs or {}).values() for n in g.variables), *self.values]))
        elif head.lstrip().startswith(":"):
            return []
        else:
            pool = self.words()
        return [name for name in pool if name.startswith(word) and name != word]


def _literal(value) -> str:
    """A value as gradcli reads it back: a number (shortest round trip: 2, 0.1, -2.5e-08), or a
    nested list of them."""
    import numpy as np

    def number(x) -> str:
        text = repr(float(x)) if np.asarray(x).dtype.kind in "fiub" else repr(x)
        return text[:-2] if text.endswith(".0") else text

    array = np.asarray(value)
    if array.ndim == 0:
        return number(array)

    def nested(a) -> str:
        return "[" + ",".join(nested(x) if np.ndim(x) else number(x) for x in a) + "]"

    return nested(array)


def help_text() -> str:
    width = max(len(f"{name} {args}".rstrip()) for name, args, _what in COMMANDS)
    lines = ["Type an expression or a program (q = x + y, Enter, q * z; an empty line runs",
             "a program that ends in an assignment): its backward pass, as gradcli eval shows",
             "it. x := 2 gives x a value and runs the last program again (on the same graph).", ""]
    for name, args, what in COMMANDS:
        lines.append(f"  {f'{name} {args}'.rstrip():<{width}}  {what}")
    lines += ["", "Tab completes names, Up and Down walk the history, Ctrl-R searches it,",
              "Ctrl-C drops the line, Ctrl-D leaves."]
    return "\n".join(lines)


# -- reading input ------------------------------------------------------------------------------------

def split_input(text: str) -> list[str]:
    """One input as typed, as the inputs to run: a program whose last line is a command
    (`q = x + y`, then `:steps` or `x := 3`) is the program, then the command."""
    head, _, last = text.rpartition("\n")
    if head.strip() and (last.strip().startswith(":") or _WALRUS.match(last)):
        return [head.rstrip("\n"), last.strip()]
    return [text]


def inputs_from_lines(lines: Iterable[str]) -> Iterator[str]:
    """Inputs from lines without a terminal (a pipe, a file): each line or, where complete_input
    says a program goes on, several; what is pending at the end is an input too."""
    pending = ""
    for line in lines:
        pending += line.rstrip("\r\n") + "\n"
        if complete_input(pending[:-1]):  # the text as the prompt's buffer holds it at Enter
            if pending.strip():
                yield from split_input(pending.rstrip("\n"))
            pending = ""
    if pending.strip():
        yield pending.rstrip("\n")


def history_path() -> Path:
    """The history file: gradcli's folder in the user's data directory ($XDG_DATA_HOME/gradcli on
    Linux, by platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("gradcli", appauthor=False)) / "repl_history"


def prompt_inputs(session: Session, history: Path | None) -> Iterator[str]:
    """Inputs typed at a terminal through prompt_toolkit: Enter runs a complete input (else starts
    another line), Tab completes, Ctrl-R searches the history, Ctrl-C drops the line, Ctrl-D ends."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.filters import is_searching
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings

    class _Names(Completer):
        def get_completions(self, document, complete_event):
            before = document.text_before_cursor
            match = re.search(r"[:A-Za-z_][A-Za-z0-9_]*$", before)
            word = match.group(0) if match else ""
            for name in session.completions(before):
                yield Completion(name, start_position=-len(word))

    keys = KeyBindings()

    @keys.add("enter", filter=~is_searching)
    def _enter(event) -> None:
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion is not None:
            buffer.apply_completion(buffer.complete_state.current_completion)
            return
        if complete_input(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    class _History(FileHistory):
        """The history file; one that cannot be written (a full disk, a read-only folder) is
        said once, and the session goes on with the history it has in memory."""
        failed = False

        def store_string(self, string: str) -> None:
            try:
                super().store_string(string)
            except OSError as exc:
                if not self.failed:
                    self.failed = True
                    sys.stderr.write(f"warning: cannot write the history file {history}: {exc.strerror or exc}\n")

    store = InMemoryHistory()
    if history is not None:
        try:
            history.parent.mkdir(parents=True, exist_ok=True)
            store = _History(str(history))
        except OSError as exc:
            sys.stderr.write(f"warning: no history file ({exc.strerror or exc}); this session's history is kept "
                             "in memory\n")
    prompt = PromptSession(PROMPT, history=store, completer=_Names(), key_bindings=keys, multiline=True,
                           prompt_continuation=lambda width, line, wrap: CONTINUATION,
                           complete_while_typing=False, enable_history_search=False)
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        yield from split_input(text)


def main(values: Mapping[str, object], *, program: str | None = None, digits: int = 6,
         no_color: bool = False, history: bool = True) -> None:
    """Run a session until Ctrl-D (or the end of a piped input)."""
    session = Session(values, digits=digits, no_color=no_color)
    if program is not None:
        session.run(program)
    if sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty():
        sys.stdout.write("gradcli repl: type an expression, :help for the commands, Ctrl-D to leave.\n")
        inputs = prompt_inputs(session, history_path() if history else None)
    else:
        inputs = inputs_from_lines(sys.stdin or [])
    for text in inputs:
        session.run(text)
