"""Messages that name what the user most likely meant: each common slip gets one clear line, a
caret at the place and a hint, through the CLI (stderr, exit code 1) and the API (.hint, .line,
.column)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

import gradcli

# (id, program, error class, message text, line, column, hint text)
SYNTAX = [
    # characters that look like operators, quotes or spaces
    ("times-sign", "2×x", gradcli.GradcliSyntaxError, "unexpected character '×'", 1, 2,
     "'×' (U+00D7) looks like '*' but is not: write * to multiply"),
    ("division-sign", "x÷2", gradcli.GradcliSyntaxError, "'÷'", 1, 2, "looks like '/' but is not: write /"),
    ("minus-sign", "x−2", gradcli.GradcliSyntaxError, "'−'", 1, 2, "'−' (U+2212) looks like '-' but is not"),
    ("en-dash", "x – 2", gradcli.GradcliSyntaxError, "'–'", 1, 3, "(U+2013) looks like '-'"),
    ("minus-sign-in-a-number", "−2*x", gradcli.GradcliSyntaxError, "'−'", 1, 1, "write - for a minus"),
    ("middle-dot", "x·y", gradcli.GradcliSyntaxError, "'·'", 1, 2, "looks like '*'"),
    ("asterisk-operator", "x∗y", gradcli.GradcliSyntaxError, "'∗'", 1, 2, "looks like '*'"),
    ("dot-operator", "x⋅y", gradcli.GradcliSyntaxError, "'⋅'", 1, 2, "looks like '*'"),
    ("superscript-two", "x² + 1", gradcli.GradcliSyntaxError, "'²'", 1, 2, "write x**2 for x²"),
    ("superscript-three", "x³", gradcli.GradcliSyntaxError, "'³'", 1, 2, "write x**3 for x³"),
    ("full-width-parenthesis", "（x+1）", gradcli.GradcliSyntaxError, "'（'", 1, 1,
     "a wide or styled form of '(': write ("),
    ("smart-quote", "“x*y”", gradcli.GradcliSyntaxError, "'“'", 1, 1, "put straight quotes"),
    ("no-break-space", "x +\u00a0y", gradcli.GradcliSyntaxError, "U+00A0", 1, 4, "a no-break space"),
    ("greek-letter", "α*x", gradcli.GradcliSyntaxError, "'α'", 1, 1, "write alpha for α"),
    ("pi-sign", "2*π", gradcli.GradcliSyntaxError, "'π'", 1, 3, "write pi"),
    ("comparison", "x < y", gradcli.GradcliSyntaxError, "'<'", 1, 3, "gradcli has no comparisons"),
    ("bars-for-abs", "|x|", gradcli.GradcliSyntaxError, "'|'", 1, 1, "write abs(x) for |x|"),
    ("array-literal", "sum([1,2])", gradcli.GradcliSyntaxError, "'['", 1, 5, "--set x=[1,2,3]"),
    ("numpy-prefix", "np.exp(x)", gradcli.GradcliSyntaxError, "'.'", 1, 3, "no 'np.' prefix: write exp(…)"),
    ("attribute", "x.y", gradcli.GradcliSyntaxError, "'.'", 1, 2, "names have no attributes"),
    # parentheses: which one is unclosed, which one is extra
    ("extra-parenthesis", "(x+1))*2", gradcli.GradcliSyntaxError, "unexpected ')'", 1, 6,
     "this ')' has no matching '('"),
    ("unclosed-outer", "((x+1)*2", gradcli.GradcliSyntaxError, "unexpected end of input", 1, 8,
     "the '(' at column 1 is not closed"),
    ("unclosed-inner", "exp(x * (y + 1)", gradcli.GradcliSyntaxError, "unexpected end of input", 1, 15,
     "the '(' at column 4 is not closed"),
    ("two-unclosed", "exp((x", gradcli.GradcliSyntaxError, "unexpected end of input", 1, 6,
     "2 '(' are not closed: at column 4 and column 5"),
    ("unclosed-across-lines", "a = (x + 1\nb = a*2", gradcli.GradcliSyntaxError, "unexpected 'b'", 2, 1,
     "the '(' at line 1, column 5 is not closed, so the line break"),
    ("empty-parentheses", "x * ()", gradcli.GradcliSyntaxError, "unexpected ')'", 1, 6, "the parentheses are empty"),
    ("trailing-comma", "max(x,)", gradcli.GradcliSyntaxError, "unexpected ')'", 1, 7, "remove the ',' before ')'"),
    # operators
    ("trailing-operator", "x * y +", gradcli.GradcliSyntaxError, "unexpected end of input", 1, 7,
     "the expression ends with '+'"),
    ("line-ends-with-operator", "x +\ny", gradcli.GradcliSyntaxError, "unexpected new line", 1, 4,
     "the line ends with '+'; to go on to the next line, put the expression in parentheses"),
    ("two-operators", "x + * y", gradcli.GradcliSyntaxError, "unexpected '*'", 1, 5,
     "two operators in a row, '+' and '*'"),
    ("power-then-times", "x ** * 2", gradcli.GradcliSyntaxError, "unexpected '*'", 1, 6,
     "two operators in a row, '**' and '*'"),
    ("leading-operator", "y = (* x)", gradcli.GradcliSyntaxError, "unexpected '*'", 1, 6,
     "'*' needs an operand on its left"),
    ("floor-division", "x // y", gradcli.GradcliSyntaxError, "unexpected '/'", 1, 4, "gradcli has no '//'"),
    ("double-equals", "x == y", gradcli.GradcliSyntaxError, "unexpected '='", 1, 4, "gradcli has no comparisons"),
    ("equation", "x + y = 3", gradcli.GradcliSyntaxError, "unexpected '='", 1, 7, "gradcli solves no equations"),
    ("decimal-comma", "2,5*x", gradcli.GradcliSyntaxError, "unexpected ','", 1, 2,
     "the decimal separator is '.': write 2.5"),
    ("stray-comma", "x, y", gradcli.GradcliSyntaxError, "unexpected ','", 1, 2, "separate statements with ';'"),
    # operands with nothing between them
    ("number-name", "3x", gradcli.GradcliSyntaxError, "unexpected 'x'", 1, 2, "write 3*x to multiply"),
    ("number-space-name", "2 x", gradcli.GradcliSyntaxError, "unexpected 'x'", 1, 3, "write 2*x to multiply"),
    ("name-name", "x y", gradcli.GradcliSyntaxError, "unexpected 'y'", 1, 3,
     "an operator is missing between x and y: write x*y"),
    ("parenthesis-parenthesis", "(x+1)(y+1)", gradcli.GradcliSyntaxError, "unexpected '('", 1, 6,
     "write (…)*(…) to multiply"),
    ("function-without-parentheses", "sin x", gradcli.GradcliSyntaxError, "unexpected 'x'", 1, 5,
     "to call sin, write sin(x)"),
    ("python-def", "def f(t): t*2", gradcli.GradcliSyntaxError, "unexpected 'f'", 1, 5, "define a function as f(t) = t*2"),
    ("python-return", "return x", gradcli.GradcliSyntaxError, "unexpected 'x'", 1, 8, "the last statement is the output"),
    ("python-and", "x and y", gradcli.GradcliSyntaxError, "unexpected 'and'", 1, 3, "gradcli has no 'and'"),
    ("python-import", "import math", gradcli.GradcliSyntaxError, "unexpected 'math'", 1, 8, "gradcli has no 'import'"),
    # names: a variable called, a misspelt or foreign function name
    ("variable-called", "x(y+1)", gradcli.UnknownFunctionError, "x is not a function", 1, 1,
     "to multiply, write x*(y+1)"),
    ("bound-name-called", "q = x + 1; q(y)", gradcli.UnknownFunctionError, "q is not a function", 1, 12,
     "to multiply, write q*(y)"),
    ("ln", "ln(x)", gradcli.UnknownFunctionError, "unknown function 'ln'", 1, 1,
     "did you mean 'log'? (log is the natural logarithm)"),
    ("sqr", "sqr(x)", gradcli.UnknownFunctionError, "unknown function 'sqr'", 1, 1,
     "did you mean 'sqrt'? (for the square, write x**2)"),
    ("sigmiod", "1 + sigmiod(x)", gradcli.UnknownFunctionError, "unknown function 'sigmiod'", 1, 5,
     "did you mean 'sigmoid'?"),
    ("capital-exp", "Exp(x)", gradcli.UnknownFunctionError, "unknown function 'Exp'", 1, 1, "did you mean 'exp'?"),
    ("relu-in-capitals", "ReLU(x)", gradcli.UnknownFunctionError, "unknown function 'ReLU'", 1, 1,
     "did you mean 'relu'?"),
    ("arctan", "arctan(x)", gradcli.UnknownFunctionError, "unknown function 'arctan'", 1, 1,
     "did you mean 'atan'?"),
    ("clamp", "clamp(x, 0, 1)", gradcli.UnknownFunctionError, "unknown function 'clamp'", 1, 1,
     "did you mean 'clip'?"),
    ("logistic", "logistic(x)", gradcli.UnknownFunctionError, "unknown function 'logistic'", 1, 1,
     "did you mean 'sigmoid'?"),
    ("misspelt-parameter", "f(rate) = rat*2; f(x)", gradcli.DefinitionError, "uses 'rat', which is not one of its",
     1, 11, "did you mean 'rate'? If not, add it as a parameter: f(rate, rat) = …"),
    ("function-in-a-body", "f(t) = exp*t; f(x)", gradcli.DefinitionError, "uses 'exp'", 1, 8,
     "exp is a function: write exp(t)"),
    # arity: the signature in the message, the likely slip in the hint
    ("arity-signature", "pow(x)", gradcli.UnknownFunctionError, "pow takes 2 arguments, got 1: pow(x, y)", 1, 1,
     "write pow(x, y)"),
    ("arity-user-function", "g(t, u) = t*u\ng(x)", gradcli.UnknownFunctionError,
     "g takes 2 arguments, got 1: g(t, u)", 2, 1, "write g(t, u)"),
    ("arity-decimal-comma", "exp(2,5)", gradcli.UnknownFunctionError, "exp takes 1 argument, got 2: exp(x)", 1, 1,
     "the decimal separator is '.': write 2.5"),
    ("arity-three-numbers", "max(2,5,3)", gradcli.UnknownFunctionError, "max takes 1 or 2 arguments, got 3", 1, 1,
     "write max(x) or max(x, y)"),
    ("axis-by-position", "sum(x, 0)", gradcli.UnknownFunctionError, "sum takes 1 argument, got 2: sum(x)", 1, 1,
     "axis is a keyword argument: write sum(x, axis=…)"),
]


@pytest.mark.parametrize("program, cls, message, line, column, hint", [r[1:] for r in SYNTAX],
                         ids=[r[0] for r in SYNTAX])
def test_slip_through_the_cli(cli, program, cls, message, line, column, hint):
    result = cli("eval", program, "--set", "x=1", "--set", "y=2")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 4, result.stderr  # message, source line, caret, hint
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert lines[0].endswith(f"(at line {line}, column {column})"), lines[0]
    source_line = program.split("\n")[line - 1]
    assert lines[1] == "  " + source_line
    assert lines[2] == "  " + " " * (column - 1) + "^"
    assert lines[3].startswith("hint: ") and hint in lines[3], lines[3]


@pytest.mark.parametrize("program, cls, message, line, column, hint", [r[1:] for r in SYNTAX],
                         ids=[r[0] for r in SYNTAX])
def test_slip_through_the_api(program, cls, message, line, column, hint):
    with pytest.raises(cls) as info:
        gradcli.parse(program)
    error = info.value
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert hint in error.hint and "\n" not in error.hint


@pytest.mark.parametrize("program", [
    "x ++ y", "x - -y", "2^3^2 * x", "max(2,5) * x", "x**-y", "e^x", "q = x\nq * y", "(x +\n y)",
    "X = 2; X * x", "a1 = x; a1 * y",
])
def test_no_slip_where_the_text_is_right(program):
    assert gradcli.evaluate(program, x=1.5, y=2.0).value is not None


# -- a value given under another name than the one used ---------------------------------------------

MISSING_HINT = "did you mean w0? a value was given for 'wo', which the expression does not use"


def _assert_missing_w0(result, hint=MISSING_HINT):
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines == ["error: no value for variable w0 (at line 1, column 1)", "  w0*x", "  ^", f"hint: {hint}"]


def test_missing_name_close_to_a_given_pair(cli):
    _assert_missing_w0(cli("eval", "w0*x", "wo=1", "x=3"))


def test_missing_name_close_to_a_given_set(cli):
    _assert_missing_w0(cli("eval", "w0*x", "--set", "wo=1", "--set", "x=3"))


def test_missing_name_close_to_a_values_file(cli, tmp_path):
    path = tmp_path / "values.json"
    path.write_text(json.dumps({"wo": 1, "x": 3}))
    _assert_missing_w0(cli("eval", "w0*x", "--values", str(path)))


def test_missing_name_in_check(cli):
    _assert_missing_w0(cli("check", "w0*x", "wo=1", "x=3"))


def test_missing_name_close_to_a_batch_column(cli, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("wo,x\n1,3\n")
    _assert_missing_w0(cli("batch", "w0*x", "--input", str(path)),
                       f"did you mean w0? {path} has a column 'wo', which the expression does not use")


def test_missing_name_close_to_a_batch_constant(cli, tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x\n3\n")
    _assert_missing_w0(cli("batch", "w0*x", "--input", str(path), "--set", "wo=1"))


def test_missing_name_in_the_api():
    for call in (lambda: gradcli.evaluate("w0*x", wo=1, x=3),
                 lambda: gradcli.parse("w0*x").evaluate({"wo": 1, "x": 3}),
                 lambda: gradcli.parse("w0*x").evaluate({"wo": 1, "x": 3}, trace=False)):
        with pytest.raises(gradcli.MissingValueError) as info:
            call()
        error = info.value
        assert error.names == ["w0"] and error.message == "no value for variable w0"
        assert error.hint == MISSING_HINT
        assert (error.line, error.column) == (1, 1)


@pytest.mark.parametrize("program, given, names, column, hint", [
    # another case, a swap of two letters, a look-alike digit
    ("2*Alpha", {"alpha": 1}, ["Alpha"], 3, "did you mean Alpha? a value was given for 'alpha'"),
    ("learning_rate*g", {"learnig_rate": 1, "g": 2}, ["learning_rate"], 1, "did you mean learning_rate?"),
    ("x1 + y", {"xl": 1, "y": 2}, ["x1"], 1, "did you mean x1? a value was given for 'xl'"),
    # the only missing and the only unused name, however different
    ("x*y", {"x": 1, "z": 2}, ["y"], 3, "did you mean y? a value was given for 'z'"),
    # two pairs, and a name with no candidate
    ("a*bb*cc", {"b": 1, "c": 2}, ["a", "bb", "cc"], 3,
     "did you mean bb and cc? values were given for 'b' and 'c', which the expression does not use; add --set a=VALUE"),
    # no close name: the unused ones are still named
    ("x*y", {"x": 1, "p": 2, "q": 3}, ["y"], 3,
     "add --set y=VALUE; values were given for 'p' and 'q', which the expression does not use"),
])
def test_missing_name_pairs(cli, program, given, names, column, hint):
    with pytest.raises(gradcli.MissingValueError) as info:
        gradcli.evaluate(program, **given)
    assert info.value.names == names
    assert info.value.column == column
    assert hint in info.value.hint
    result = cli("eval", program, *(f"{k}={v}" for k, v in given.items()))
    assert result.exit_code == 1 and f"column {column})" in result.stderr and hint in result.stderr


@pytest.mark.parametrize("program, given, line, column, hint", [
    # a misspelt intermediate: the closest assigned name, and where it is assigned
    ("rate = 0.1\nw - rat*g", {"w": 1, "g": 2}, 2, 5, "did you mean rate, assigned at line 1, column 1?"),
    # a name used before the statement that assigns it (the unused x is no candidate then)
    ("y = q*2; q = x+1; y", {"x": 1}, 1, 5,
     "q is assigned at line 1, column 10, after this use; assign a name before using it"),
])
def test_missing_name_that_the_program_assigns(cli, program, given, line, column, hint):
    with pytest.raises(gradcli.MissingValueError) as info:
        gradcli.evaluate(program, **given)
    assert (info.value.line, info.value.column) == (line, column)
    assert info.value.hint == hint
    result = cli("eval", program, *(f"{k}={v}" for k, v in given.items()))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].endswith(f"(at line {line}, column {column})") and lines[3] == f"hint: {hint}"


@pytest.mark.parametrize("program, name, column", [("exp + 1", "exp", 1), ("sin*x", "sin", 1), ("x*sqrt", "sqrt", 3)])
def test_function_used_as_a_name(cli, program, name, column):
    result = cli("eval", program, "x=2")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {name} is a function, but it is used here without an argument (at line 1, column {column})"
    assert lines[2] == "  " + " " * (column - 1) + "^"
    assert lines[3] == f"hint: write {name}({'x'}) to call it"
    with pytest.raises(gradcli.MissingValueError) as info:
        gradcli.evaluate(program, x=2)
    assert info.value.names == [name] and info.value.column == column


def test_function_name_given_a_value_is_a_variable(cli):
    # `T` is a function and also a natural name for a temperature: with a value it is a variable
    result = cli("eval", "T*x", "T=300", "x=2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["gradients"] == {"T": 2.0, "x": 300.0}


def test_unused_value_without_a_missing_one_is_a_warning(cli):
    # nothing is missing: the run goes on, and the warning names the closest used name
    result = cli("eval", "w0*x", "w0=2", "wo=1", "x=3", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["value"] == pytest.approx(6.0)
    assert "warning: a value was given for 'wo', which the expression does not use; did you mean 'w0'?" \
        in result.stderr


# -- NAME=VALUE slips ------------------------------------------------------------------------------

VALUE_SLIPS = [
    # (id, arguments after the expression "x*y", message, hint)
    ("spaces-around-equals", ["x", "=", "3", "y=1"], "arguments x = 3: a NAME=VALUE pair is one argument, without spaces",
     "write x=3"),
    ("space-after-equals", ["x=", "3", "y=1"], "arguments x= 3: a NAME=VALUE pair is one argument", "write x=3"),
    ("space-before-equals", ["x", "=3", "y=1"], "arguments x =3: a NAME=VALUE pair is one argument", "write x=3"),
    ("set-without-equals", ["--set", "x", "y=1"], "--set 'x': expected NAME=VALUE",
     "write --set x=1.5, one argument with '=' and no spaces"),
    ("set-with-a-space", ["--set", "x 3", "y=1"], "--set 'x 3': expected NAME=VALUE", "write --set x=3"),
    ("set-with-a-colon", ["--set", "x:3", "y=1"], "--set 'x:3': expected NAME=VALUE", "write --set x=3"),
    ("expression-after-a-pair", ["x=3", "x * 2"], "argument 'x * 2': expected NAME=VALUE",
     "the expression comes first, then its NAME=VALUE pairs"),
    ("decimal-comma", ["x=2,5", "y=1"], "argument x=2,5: unexpected text after the value",
     "the decimal separator is '.': write 2.5; a list is written [2,5]"),
    ("list-without-brackets", ["x=1,2,3", "y=1"], "unexpected text after the value",
     "a list is written in brackets: [1,2,3]"),
    ("list-in-parentheses", ["x=(1,2)", "y=1"], "cannot read '(1,2)' as a number",
     "a list is written in brackets: [1,2]"),
    ("expression-as-value", ["x=2*3", "y=1"], "argument x=2*3: cannot read '*3' as a number",
     "not an expression, and is not computed: write the number it comes to"),
    ("constant-expression-as-value", ["x=pi/2", "y=1"], "cannot read '/2' as a number", "is not computed"),
    ("unicode-minus-in-value", ["x=−2", "y=1"], "cannot read '−2' as a number",
     "'−' (U+2212) looks like '-' but is not"),
    ("double-equals-in-value", ["x==3", "y=1"], "cannot read '=3' as a number",
     "one '=' between the name and the value"),
    ("two-pairs-in-one-argument", ["x=1 y=2"], "cannot read 'y=2' as a number", "one NAME=VALUE per argument"),
]


@pytest.mark.parametrize("args, message, hint", [r[1:] for r in VALUE_SLIPS], ids=[r[0] for r in VALUE_SLIPS])
def test_value_slip_through_the_cli(cli, args, message, hint):
    result = cli("eval", "x*y", *args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert lines[1] == f"hint: {hint}" if hint.startswith("write") else hint in lines[1], lines[1]


@pytest.mark.parametrize("value, hint", [
    ("2,5", "the decimal separator is '.': write 2.5"),
    ("1,2,3", "a list is written in brackets: [1,2,3]"),
    ("2*3", "is not computed"),
    ("−2", "looks like '-' but is not"),
    ("(1,2)", "a list is written in brackets: [1,2]"),
])
def test_value_slip_through_the_api(value, hint):
    with pytest.raises(gradcli.ValueFormatError) as info:
        gradcli.evaluate("x*2", x=value)
    assert hint in info.value.hint


# -- no hint ever breaks: random slips in right programs --------------------------------------------

_SLIPS = list("×÷−–·∗⋅²³（）“”‘’\u00a0<>=≤|!%[]{}:.,;#@^*/+-()xyz2 ") + ["**", "//", "==", "e", "sin", "(("]
_RIGHT = ["x*y + 1", "sigmoid(w0*x + b)", "q = x + y\nq * exp(q)", "max(x, y) ** 2", "f(t) = t*t\nf(x) + y"]


@given(st.sampled_from(_RIGHT), st.lists(st.tuples(st.integers(0, 40), st.sampled_from(_SLIPS)), min_size=1, max_size=3))
def test_any_slip_gives_one_error_with_a_one_line_hint(program, slips):
    for index, slip in slips:
        index = min(index, len(program))
        program = program[:index] + slip + program[index:]
    try:
        gradcli.evaluate(program, x=1.0, y=2.0, w0=0.5, b=0.1)
    except gradcli.GradcliError as error:
        assert error.hint is None or "\n" not in error.hint
        assert error.render().count("\n") <= 3


def test_readme_error_examples_are_what_gradcli_prints(cli):
    """The errors section's ```sh block shows stderr, which tests/test_readme.py does not run."""
    import re
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Errors and exit codes"):]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    examples = re.findall(r"^\$ (gradcli .*)\n((?:(?!\$ ).*\n)*)", block, flags=re.M)
    assert len(examples) == 2
    for command, shown in examples:
        result = cli(*shlex.split(command)[1:])
        assert result.exit_code == 1
        assert result.stderr == shown, command


@pytest.mark.parametrize("value", ['x=[1,"a"]', "x=[1,'a']", 'x="3"'])
def test_a_quoted_word_in_a_value_is_not_taken_for_a_quoted_expression(cli, value):
    result = cli("eval", "sum(x)", value)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "hint: a value holds numbers only (nan and inf included), never text in quotes"
