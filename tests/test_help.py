"""The help a learner reads first, read as they would: every command's examples paste and run,
nothing is wrapped inside them at 80 or 60 columns, the language page lists every op of the
registry, and every usage error is `error: …` then `hint: …`, as every other error."""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gradcli
from gradcli.core import ops
from gradcli.commands.cli import EXAMPLES
from gradcli.language.printer import op_text
from gradcli.render import language

COMMANDS = ["", "eval", "check", "jvp", "batch", "help"]  # "" is gradcli itself
BOXES = "╭╮╰╯│─┃━"


def _script() -> list[str]:
    """The real console script next to this interpreter, else python -m gradcli."""
    script = Path(sys.executable).parent / "gradcli"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gradcli"]


def run(*args: str, columns: int | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    environment.pop("COLUMNS", None)
    if columns is not None:
        environment["COLUMNS"] = str(columns)
    return subprocess.run([*_script(), *args], capture_output=True, text=True, env=environment, timeout=60)


def examples_in(text: str) -> list[str]:
    """The lines of a help page's Examples section, as a user would select them."""
    lines = text.splitlines()
    start = lines.index("Examples:") + 1
    found = []
    for line in lines[start:]:
        if not line.strip():
            break
        found.append(line.strip())
    return found


def _help_args(command: str) -> list[str]:
    return [command, "--help"] if command else ["--help"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_description_and_two_or_more_examples(cli, command):
    result = cli(*_help_args(command))
    assert result.exit_code == 0, result.stderr
    assert examples_in(result.stdout) == list(EXAMPLES[command])
    assert 2 <= len(EXAMPLES[command]) <= 4
    assert all(len(line) <= 56 for line in EXAMPLES[command])  # with its indent, within 60 columns
    description = result.stdout.split("\n\n")[1]
    assert len(description.split()) >= 10, description


@pytest.mark.parametrize("command", COMMANDS)
def test_the_examples_run_through_the_cli(cli, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for line in examples_in(cli(*_help_args(command)).stdout):
        words = shlex.split(line)
        if "|" in words:  # `printf … | gradcli batch … --input -`: the printf's text on stdin
            at = words.index("|")
            stdin = words[1].encode().decode("unicode_escape")
            assert words[0] == "printf" and at == 2
            words = words[at + 1:]
            result = _invoke(words[1:], stdin)
        else:
            result = cli(*words[1:])
        assert words[0] == "gradcli"
        assert result.exit_code == 0, (line, result.stdout, result.stderr)
        assert result.stdout, line


def _invoke(args, stdin):
    from typer.testing import CliRunner

    from gradcli.commands.cli import app

    return CliRunner().invoke(app, args, input=stdin)


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("command", COMMANDS)
def test_examples_paste_from_a_real_terminal_width(command, columns, tmp_path):
    """In a real process at 80 and 60 columns: each example is one whole line that fits, and
    pasted into a shell it runs and exits 0."""
    done = run(*_help_args(command), columns=columns)
    assert done.returncode == 0, done.stderr
    examples = examples_in(done.stdout)
    assert examples == list(EXAMPLES[command])
    assert all(len(line) <= columns for line in done.stdout.splitlines()), done.stdout
    shell = shutil.which("bash") or shutil.which("sh")
    path = f"{Path(_script()[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    for line in examples:
        if not Path(_script()[0]).name == "gradcli":
            line = line.replace("gradcli ", f"{shlex.join(_script())} ", 1)
        pasted = subprocess.run([shell, "-c", line], capture_output=True, text=True, cwd=tmp_path,
                                env={**os.environ, "PATH": path}, timeout=60)
        assert pasted.returncode == 0, (line, pasted.stdout, pasted.stderr)


@pytest.mark.parametrize("env", [{}, {"TERM": "dumb"}, {"TYPER_USE_RICH": "0"}, {"TYPER_USE_RICH": "1"}])
def test_help_is_the_same_plain_text_with_or_without_rich_and_piped(env):
    plain = run("eval", "--help", columns=80, TYPER_USE_RICH="0").stdout
    text = run("eval", "--help", columns=80, **env).stdout
    assert not any(box in text for box in BOXES)
    if env.get("TERM") == "dumb":
        assert text.isascii() and "df/dv" in text
    else:
        assert text == plain


def test_no_type_column_squeezes_the_descriptions(cli):
    text = cli("eval", "--help").stdout
    assert "INTEGER" not in text and "RANGE" not in text and "[table|json" not in text
    assert "--digits N " in text and "-f, --format FORMAT " in text
    # at 80 columns every description starts in the same column, at most 26 characters in
    starts = {len(line) - len(line.lstrip()) for line in text.splitlines() if line.startswith("                  ")}
    assert max(starts) <= 26


def test_on_a_narrow_terminal_each_description_goes_under_its_option():
    text = run("eval", "--help", columns=60).stdout
    assert "\n  --digits N\n      Significant digits (1 to 17)" in text
    assert all(len(line) <= 60 for line in text.splitlines())


def test_help_eval_is_eval_help(cli):
    assert cli("help", "eval").stdout.rstrip() == cli("eval", "--help").stdout.rstrip()


def test_help_alone_lists_the_topics(cli):
    result = cli("help")
    assert result.exit_code == 0
    for topic in ("language", "eval", "check", "batch"):
        assert re.search(rf"^  {topic} ", result.stdout, re.M), result.stdout


def test_an_unknown_help_topic_is_a_usage_error(cli):
    result = cli("help", "langauge")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("error: no help topic 'langauge'\nhint: did you mean language? "
                             "(gradcli help lists the topics: language, eval, check, jvp, diff, hessian, jacobian, plot, batch, repl)\n")


# -- the language page ----------------------------------------------------------------------------

def _names(op):
    return language._names(op)


def test_every_operator_and_function_of_the_registry_is_on_the_language_page(cli):
    result = cli("help", "language")
    assert result.exit_code == 0
    page = " ".join(result.stdout.split())  # the page as words, however it is wrapped
    for op in ops.OPS.values():
        assert op_text(op, _names(op)) in page, op.name
        if op.callable:
            assert op_text(op, _names(op), as_call=True) in page, op.name
        for formula in language._formulas(op):  # (in the op's own argument names, atan2's y and x)
            assert formula.replace("vjp:", "").strip() in page, (op.name, formula)
        assert op.role in page
        if op.kink_rule:
            assert op.kink_rule in page, op.name
        if op.domain:
            assert f"domain: {op.domain}" in page, op.name
    for role, meaning in ops.ROLES.items():
        assert meaning in page


def test_a_new_op_is_on_the_page_without_an_edit(monkeypatch):
    cube = ops.Op("cube", 1, lambda x: x ** 3, (lambda ans, x: 3 * x * x,), "cube", "slope", ("3x²",))
    monkeypatch.setitem(ops.OPS, "cube", cube)
    page = language.render(200)
    assert "cube(x)" in page and "∂/∂x = 3x²" in page


@pytest.mark.parametrize("columns", [80, 60])
def test_the_language_page_fits_the_terminal(columns):
    done = run("help", "language", columns=columns)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), [line for line in lines if len(line) > columns]
    assert "  x ** y " in done.stdout and "  exp(x) " in done.stdout


def test_the_language_page_is_ascii_under_term_dumb():
    done = run("help", "language", TERM="dumb")
    assert done.returncode == 0 and done.stdout.isascii()
    assert "d/dx = e^x" in done.stdout


def test_an_ordinary_run_imports_no_help():
    code = ("import sys\nsys.argv = ['gradcli', 'eval', 'x*y', 'x=1', 'y=2', '--format', 'json']\n"
            "from gradcli.commands.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(' '.join(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    modules = done.stderr.split()
    assert "gradcli.commands.cli" in modules
    assert "gradcli.commands.helptext" not in modules and "gradcli.render.language" not in modules
    assert not any(m == "rich" or m.startswith("rich.") for m in modules)


# -- one style of error ---------------------------------------------------------------------------

USAGE_ERRORS = [
    (["eval", "x", "x=1", "--fromat", "json"],
     "error: no such option --fromat\nhint: did you mean --format? (gradcli eval --help lists the options)\n"),
    (["eval", "x", "x=1", "--digits", "99"],
     "error: invalid value for --digits: 99 is not between 1 and 17\nhint: gradcli eval --help describes --digits\n"),
    (["batch", "x", "--input", "-", "--chunk-size", "x"],
     "error: invalid value for --chunk-size: 'x' is not a valid integer\n"
     "hint: gradcli batch --help describes --chunk-size\n"),
    (["evl", "x"],
     "error: no such command 'evl'\n"
     "hint: did you mean eval? (gradcli --help lists the commands: eval, check, jvp, diff, hessian, jacobian, plot, batch, repl, help)\n"),
    (["batch", "x"], "error: missing option --input PATH\nhint: gradcli batch --help describes --input\n"),
    (["eval"], "error: give an EXPRESSION, - to read it from stdin, or --file PROGRAM.grad\n"
               'hint: for example: gradcli eval "(x + y) * z" x=-2 y=5 z=-4\n'),
    (["eval", "x", "x=1", "--digits"],
     "error: option --digits requires an argument\nhint: gradcli eval --help describes --digits\n"),
    (["check", "x", "x=1", "--format", "xml"],
     "error: invalid value for --format: 'xml' is not one of 'table', 'json'\n"
     "hint: gradcli check --help describes --format\n"),
    (["--verison"],
     "error: no such option --verison\nhint: did you mean --version? (gradcli --help lists the commands and options)\n"),
]


@pytest.mark.parametrize("args, expected", USAGE_ERRORS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_usage_error_is_an_error_line_and_a_hint_line(cli, args, expected):
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == expected


@pytest.mark.parametrize("env", [{}, {"TERM": "dumb"}, {"TYPER_USE_RICH": "0"}])
@pytest.mark.parametrize("args, expected", USAGE_ERRORS[:4], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_the_same_in_a_real_process_on_any_terminal(args, expected, env):
    done = run(*args, columns=60, **env)
    assert done.returncode == 2
    assert done.stderr == expected and done.stdout == ""


def test_bad_input_keeps_its_exit_code_and_the_same_form(cli):
    result = cli("eval", "w0*x", "wo=1", "x=3")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and lines[-1].startswith("hint: ")


def test_gradcli_alone_prints_the_help_with_its_examples(cli):
    result = cli()
    assert result.exit_code == 2  # no command: a usage error, answered with the help itself
    assert examples_in(result.stdout) == list(EXAMPLES[""])


@pytest.mark.parametrize("command", ["eval", "diff", "hessian", "check"])
@pytest.mark.parametrize("expression", ["-(cos(y))", "-(tanh(y))", "-(sqrt(y))", "-y*y", "-sqrt(y)", "-hypot(y, 0)",
                                        "-f*y", "-q*y"])
def test_an_expression_starting_with_a_minus_is_not_read_as_short_options(cli, command, expression):
    # click would read "-(cos(y))" as -o "s(y))" and "-(tanh(y))" as -h (help, exit 0)
    fmt = {"eval": ["-f", "plain"], "diff": ["-f", "text"], "hessian": ["-f", "plain"], "check": []}[command]
    result = cli(command, *fmt, expression, "y=2", *(["f=3", "q=5"] if expression in ("-f*y", "-q*y") else []), "-q")
    assert result.exit_code == 0, result.stderr
    assert "Usage:" not in result.stdout and "--output" not in result.stderr
    value = {"-(cos(y))": -math.cos(2), "-(tanh(y))": -math.tanh(2), "-(sqrt(y))": -math.sqrt(2), "-y*y": -4,
             "-sqrt(y)": -math.sqrt(2), "-hypot(y, 0)": -2, "-f*y": -6, "-q*y": -10}[expression]
    if command == "eval":
        assert float(result.stdout.split()[1]) == pytest.approx(value)


def test_glued_short_options_still_read_as_options(cli):
    result = cli("eval", "-fjson", "-sx=3", "x*2", "-q")
    assert result.exit_code == 0 and '"value": 6.0' in result.stdout


def test_functions_with_their_own_argument_names_use_them_everywhere(cli):
    # atan2(y, x) as NumPy and the README write it: the help's formulas in those names
    page = " ".join(cli("help", "language").stdout.split())
    assert "atan2(y, x) slope: ∂/∂y = x/(hypot(y, x)" in page and "∂/∂x = -y/(hypot(y, x)" in page
    assert "clip(x, lo, hi)" in page and "∂/∂lo = (1 + sign(lo - x))/2" in page
    result = cli("eval", "atan2(y)", "y=1")
    assert result.exit_code == 1 and "hint: write atan2(y, x)" in result.stderr
    # ∂atan2(y, x)/∂y = x/(x² + y²) at (y, x) = (1, 2): 2/5
    assert gradcli.evaluate("atan2(y, x)", y=1.0, x=2.0).gradients["y"] == pytest.approx(0.4, rel=1e-15)
