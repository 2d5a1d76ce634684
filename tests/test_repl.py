"""gradcli repl: the session's commands show what the real commands show (the same text, byte for
byte), the parsed graph is re-used while only values change, errors never end the session; and,
through a pseudo-terminal (pexpect), a person's typing: Enter, a program over several lines, Tab,
Ctrl-R in the history of an earlier session, Ctrl-C, Ctrl-D."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gradcli.evaluation.outputs as outputs_module
from gradcli.commands import repl
from gradcli.commands.cli import app
from gradcli.commands.repl import Session, complete_input, inputs_from_lines


@pytest.fixture
def session():
    return Session({})


@pytest.fixture
def parses(monkeypatch):
    """How many times the program text is parsed (every parse of the session goes through
    evaluation.outputs.graphs, which calls the parser)."""
    count = []
    real = outputs_module.parse

    def counting(*args, **kwargs):
        count.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(outputs_module, "parse", counting)
    return count


def _run(session, capsys, *inputs: str):
    for text in inputs:
        session.run(text)
    return capsys.readouterr()


def _gradients(text: str) -> dict:
    """The `f = …` and `∂f/∂v = …` lines of a table."""
    found = dict(re.findall(r"^(f|∂f/∂\w+) = (\S+)$", text, re.M))
    return {key: float(value) for key, value in found.items()}


# -- the session in process ---------------------------------------------------------------------

def test_an_expression_shows_evals_table_and_a_value_change_runs_it_again_without_parsing(session, parses, capsys):
    out = _run(session, capsys, ":set x=-2 y=5 z=-4", "(x + y) * z")
    # by hand: q = x + y = 3, f = q z = -12, ∂f/∂x = ∂f/∂y = z = -4, ∂f/∂z = q = 3
    assert _gradients(out.out) == {"f": -12, "∂f/∂x": -4, "∂f/∂y": -4, "∂f/∂z": 3}
    assert len(parses) == 1
    out = _run(session, capsys, "x := 3")
    assert _gradients(out.out) == {"f": -32, "∂f/∂x": -4, "∂f/∂y": -4, "∂f/∂z": 8}
    out = _run(session, capsys, ":set y=1 z=2", ":steps", ":tree", ":json", ":check", ":diff x")
    assert len(parses) == 1, "only values changed: the graph is the one parsed first"
    assert json.loads(out.out[out.out.index("{\n"):out.out.index("\n}\n") + 2])["value"] == 8  # (3 + 1) * 2
    _run(session, capsys, "(x + y) * z + 0")
    assert len(parses) == 2  # a new text is parsed


def test_a_program_with_diff_is_parsed_again_when_a_shape_changes(session, parses, capsys):
    out = _run(session, capsys, "x := 2", "diff(sum(x**3), x)")
    assert _gradients(out.out)["f"] == 12  # 3 x² at 2
    _run(session, capsys, "x := 3")
    assert len(parses) == 1
    out = _run(session, capsys, "x := [1, 2]")
    assert len(parses) == 2  # built for a scalar x: an array needs the gates it left out
    assert out.err == ""
    assert re.search(r"^f = \(2,\) \[3, 12\]$", out.out, re.M)  # 3 x²


@pytest.mark.parametrize("command, view", [
    (":table", ["eval"]),
    (":steps", ["eval", "--steps"]),
    (":tree", ["eval", "-f", "tree"]),
    (":json", ["eval", "-f", "json"]),
    (":check", ["check"]),
    (":diff x", ["diff", "--wrt", "x"]),
    (":diff x,z 2", ["diff", "--wrt", "x,z", "--order", "2"]),
    (":diff", ["diff"]),
    (":plot x -3:3", ["plot", "--wrt", "x", "--range", "-3:3"]),
    (":plot z -1:1 2", ["plot", "--wrt", "z", "--range", "-1:1", "--order", "2"]),
])
def test_each_view_is_the_commands_own_text(session, capsys, cli, command, view):
    program = "q = x + y\nf = sigmoid(q * z)"
    values = ["x=-2", "y=5", "z=-0.5"]
    _run(session, capsys, ":set " + " ".join(values), program)
    out = _run(session, capsys, command)
    if view[0] == "plot":  # the repl holds the others; gradcli plot warns that x=… is not used
        values = [value for value in values if not value.startswith(view[2] + "=")]
    expected = cli(*view, program, *values)
    assert out.out == expected.stdout
    assert out.err == expected.stderr


def test_diff_without_every_value_gives_the_formulas(session, capsys, cli):
    out = _run(session, capsys, "x**3 * y")
    assert "no value for variables x, y" in out.err and ":set x=VALUE y=VALUE" in out.err
    out = _run(session, capsys, ":diff x 2")
    assert out.out == cli("diff", "x**3 * y", "--wrt", "x", "--order", "2").stdout
    assert "6*x*y" in out.out.replace(" ", "")  # ∂²/∂x² of x³y, by hand


def test_set_after_a_missing_value_runs_the_program_that_missed_it(session, capsys):
    out = _run(session, capsys, "a * b")
    assert "error: no value for variables a, b" in out.err
    out = _run(session, capsys, "a := 3")
    assert "hint: give it a value: :set b=VALUE" in out.err
    out = _run(session, capsys, ":set b=[1, 2.5]")  # a value with a space in it
    assert out.err == ""
    assert re.search(r"^∂f/∂a = 3\.5$", out.out, re.M)  # of sum(f): b's elements summed
    assert re.search(r"^∂f/∂b = \(2,\) \[3, 3\]$", out.out, re.M)


def test_errors_show_the_caret_and_the_session_goes_on(session, capsys):
    out = _run(session, capsys, "x := 2", "1 +* x")
    assert out.err.splitlines()[1:3] == ["  1 +* x", "     ^"]
    out = _run(session, capsys, "log(x) +")
    assert "^" in out.err
    out = _run(session, capsys, ":nope", ":set", ":set x=[1,", ":diff w", ":save", ":plot x", ":plot w -1:1",
               ":plot x 1:-1", ":unset q")
    messages = [line for line in out.err.splitlines() if line.startswith("error: ")]
    assert len(messages) == 9, out.err
    assert "no such command :nope" in out.err
    out = _run(session, capsys, "x * x")  # still alive, x still 2
    assert _gradients(out.out) == {"f": 4, "∂f/∂x": 4}
    out = _run(session, capsys, ":steps")
    assert "∂f/∂x" in out.out


def test_plot_errors_are_in_the_repls_words(session, capsys):
    out = _run(session, capsys, ":set a=1 b=2", "a * b", ":plot a,b -1:1")
    assert "error: :plot a,b: the repl plots over one variable" in out.err
    assert "not a variable" not in out.err and "--wrt a,b --output field.png" in out.err
    out = _run(session, capsys, ":plot a 1:-1", ":plot a 0:x", ":plot a -1:1 3")
    assert "error: the range 1:-1: the low end must be below the high end" in out.err
    assert "error: the range 0:x: cannot read 'x' as a number\nhint: write e.g. :plot a -3:3 (LOW:HIGH)" in out.err
    assert "error: the order 3: plot draws the first (1) or also the second (2) derivative" in out.err
    assert "hint: write :plot a -3:3 2 for" in out.err
    assert "--range" not in out.err and "--order" not in out.err
    out = _run(session, capsys, ":plot a -1:1")
    assert out.err == "" and "f = a * b at b = 2" in out.out  # a's own value is no warning here


def test_a_huge_curve_plots_at_once(session, capsys):
    import time

    start = time.perf_counter()
    out = _run(session, capsys, "exp(exp(x))", ":plot x -5:5", "1/(x-1e-300)", ":plot x -5:5 2")
    assert time.perf_counter() - start < 10  # plotille drew ~1e300 dots per segment before: forever
    assert out.out.count("> (x)") == 2


def test_a_value_set_earlier_is_no_did_you_mean_for_a_missing_name(session, capsys):
    out = _run(session, capsys, ":set x=1", "x * y", ":set constructor=3")
    assert "hint: give it a value: :set y=VALUE" in out.err and "did you mean" not in out.err
    out = _run(session, capsys, ":set yy=3")  # a likely typo still is one
    assert "did you mean y? a value was given for 'yy'" in out.err


def test_a_text_that_does_not_parse_keeps_the_last_program(session, capsys):
    _run(session, capsys, "x := 2", "x ** 2")
    _run(session, capsys, "x ** (")
    out = _run(session, capsys, "x := 3")
    assert _gradients(out.out) == {"f": 9, "∂f/∂x": 6}


def test_views_before_any_program_say_so(session, capsys):
    out = _run(session, capsys, ":steps", ":check", ":diff")
    assert out.err.count("error: no program yet") == 3
    out = _run(session, capsys, "w := 1.5", ":values", ":unset w", ":values")
    assert out.out.splitlines() == ["w = 1.5", "w = 1.5", "no values yet: :set x=2 (or x := 2) gives one"]


def test_save_writes_a_program_that_eval_runs_with_the_values_in_its_first_line(session, capsys, cli, tmp_path):
    path = tmp_path / "circuit.grad"
    _run(session, capsys, ":set w=2 x=-1 b=-3 unused=7", "s = w*x + b\nsigmoid(s)")
    out = _run(session, capsys, f":save {path}")
    assert out.out == f"saved {path}\n"
    first, *program = path.read_text().splitlines()
    assert program == ["s = w*x + b", "sigmoid(s)"]
    words = shlex.split(first.lstrip("# "))
    assert words[:4] == ["gradcli", "eval", "--file", str(path)] and words[4:] == ["w=2", "x=-1", "b=-3"]
    again = cli(*words[1:], "-f", "plain")
    assert again.exit_code == 0, again.stderr
    f = 1 / (1 + math.exp(5))  # sigmoid(2·-1 - 3)
    assert float(again.stdout.split()[1]) == pytest.approx(f, rel=1e-15)


@pytest.mark.parametrize("text, complete", [
    ("(x + y) * z", True),
    ("q = x + y", False),           # a program goes on after an assignment
    ("q = x + y\n", True),          # an empty line runs it
    ("q = x + y\nq * z", True),
    ("q = x*y; f = exp(q)", True),  # one line with its statements
    ("sig(t) = 1/(1+exp(-t))", False),
    ("f = (x +", False),            # an open bracket
    ("f = (x +\n  y)", False),      # still an assignment: an empty line runs it
    ("sum([1, 2,\n", True),         # an empty line runs even an open input (its error is shown)
    ("x := 2", True),
    (":diff x", True),
    ("x == y", True),
    ("q = x + y\n:steps", True),     # a command ends the program above it
    ("q = x + y\nx := 3", True),
    ("f = x  # a comment (", False),
    ("", True),
])
def test_where_enter_runs_the_input(text, complete):
    assert complete_input(text) is complete


def test_piped_lines_make_the_same_inputs():
    lines = ["x := 2\n", "q = x + 1\n", "q * q\n", "g(t) = t**2\n", "\n", "sum([1,\n", "2])\n", "q = x\n", ":steps\n",
             "r = x\n", "x := 1\n", "q = 3"]
    assert list(inputs_from_lines(lines)) == ["x := 2", "q = x + 1\nq * q", "g(t) = t**2", "sum([1,\n2])", "q = x", ":steps",
                                              "r = x", "x := 1", "q = 3"]


def test_tab_completes_names_functions_and_commands(session, capsys):
    _run(session, capsys, ":set weight=1 width=2", "sig(t) = 1/(1+exp(-t))\nsig(weight * bias)")
    assert session.completions(":d") == [":diff"]
    assert set(session.completions(":s")) == {":set", ":steps", ":save"}
    assert session.completions("w") == ["weight", "width"]
    found = session.completions("2 * si")
    assert found[0] == "sig" and {"sigmoid", "sin", "sinh"} <= set(found)  # yours first
    assert all(name.startswith("si") for name in found)
    assert session.completions("tan") == ["tanh"]
    assert session.completions("b") == ["bias"]  # a variable of the program, no value yet
    assert session.completions(":diff we") == ["weight"]
    assert session.completions(":help x") == []


def test_the_command_reads_piped_lines_and_ends_with_its_input(tmp_path):
    program = tmp_path / "p.grad"
    program.write_text("q = x + y\nq * z\n")
    runner = CliRunner()
    result = runner.invoke(app, ["repl", "x=-2", "y=5", "--set", "z=-4", "--file", str(program)],
                           input="x := 3\n1 +\n:json\n")
    assert result.exit_code == 0, result.stderr
    assert _gradients(result.stdout.split("Backward pass")[1]) == {"f": -12, "∂f/∂x": -4, "∂f/∂y": -4, "∂f/∂z": 3}
    assert _gradients(result.stdout.split("Backward pass")[2].split("{")[0])["f"] == -32
    assert json.loads(result.stdout[result.stdout.index("{"):])["gradients"] == {"x": -4, "y": -4, "z": 8}
    assert "error: unexpected end of input" in result.stderr and "  1 +" in result.stderr


def test_the_command_refuses_stdin_for_values_and_bad_values_exit_1(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["repl", "x=@-"], input="")
    assert result.exit_code == 1 and "reads its input from stdin" in result.stderr
    result = runner.invoke(app, ["repl", "x=[1,"], input="")
    assert result.exit_code == 1 and result.stderr.startswith("error: ")


def test_the_help_examples_run_on_an_empty_input():
    from gradcli.commands.cli import EXAMPLES

    runner = CliRunner()
    for line in EXAMPLES["repl"]:
        result = runner.invoke(app, shlex.split(line)[1:], input="")
        assert result.exit_code == 0, (line, result.stderr)
    help_text = runner.invoke(app, ["repl", "--help"]).stdout
    assert all(line in help_text for line in EXAMPLES["repl"])


def test_the_history_lives_in_the_users_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert repl.history_path() == tmp_path / "gradcli" / "repl_history"


# -- a person at a terminal ---------------------------------------------------------------------

def _spawn(home: Path, *args: str):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "XDG_DATA_HOME": str(home), "NO_COLOR": "1", "TERM": "xterm",
           "PROMPT_TOOLKIT_NO_CPR": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop("COLUMNS", None)
    child = pexpect.spawn(sys.executable, ["-m", "gradcli", "repl", *args], env=env, encoding="utf-8",
                          timeout=20, dimensions=(50, 120))
    child.expect("grad>")
    return child


@pytest.mark.slow
def test_typing_at_a_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    child = _spawn(tmp_path, "x=-2", "y=5", "z=-4")
    try:
        child.send("(x + y) * z\r")
        child.expect("∂f/∂z = 3\r\n")
        child.expect("grad>")
        child.send("x := 3\r")                         # re-runs (x + y) * z
        child.expect("∂f/∂z = 8\r\n")
        child.expect("grad>")
        child.send("q = x + y\r")                      # an assignment: another line
        child.expect(r"\.\.\.")
        child.send("q * z * 2\r")
        child.expect("∂f/∂z = 16\r\n")
        child.expect("grad>")
        child.send("1 +* 2\r")                         # an error, with its caret
        child.expect(r"error: unexpected '\*'.*\r\n  1 \+\* 2\r\n     \^\r\n")
        child.expect("grad>")
        child.send("tan\t")                            # Tab: the only completion is taken
        child.expect(r"tan(?:\x1b\[[0-9;?]*[A-Za-z])*h")  # "h" drawn after "tan", maybe after escapes
        child.send("(x)\r")
        child.expect(r"∂f/∂x = 0\.0098660")            # 1 - tanh(3)², by hand: 0.00986604
        child.expect("grad>")
        child.send("(x + 1\r")                         # an open bracket goes on
        child.expect(r"\.\.\.")
        child.send("\x03")                             # Ctrl-C drops it
        child.expect("grad>")
        child.send(":tree\r")
        child.expect("variable")
        child.expect("grad>")
        child.send("\x04")                             # Ctrl-D leaves
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "gradcli" / "repl_history").read_text()
    assert "+q = x + y\n+q * z * 2\n" in history  # the program, both lines as one entry

    child = _spawn(tmp_path)                           # a new session: Ctrl-R finds the old program
    try:
        child.send(":set x=1 y=2 z=3\r")
        child.expect("z = 3")
        child.expect("grad>")
        child.send("\x12q = x")
        child.expect("I-search backward")
        child.send("\r")                               # takes the entry found...
        child.send("\r")                               # ...and runs it
        child.expect("∂f/∂z = 6\r\n")                  # f = 2 (x + y) z: ∂f/∂z = 2 (1 + 2)
        child.expect("grad>")
        child.send("\x04")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


@pytest.mark.slow
def test_a_history_folder_that_cannot_be_made_is_said_and_the_session_goes_on(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    blocker = tmp_path / "file"
    blocker.write_text("")
    child = _spawn(blocker, "x=2")  # $XDG_DATA_HOME/gradcli cannot be made under a file
    assert "warning: no history file" in child.before
    try:
        child.send("x**3\r")
        child.expect("∂f/∂x = 12\r\n")
        child.expect("grad>")
        child.send("\x04")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
