"""Issue 18: the first screen a learner sees reads as the lecture does. Each test reads the output
as a user would (through the command line) and compares exact text."""

from __future__ import annotations

import csv
import io
import sys

import pytest

NEURON = ["1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]


def _table_rows(out: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split(" | ")] for line in out.splitlines() if " | " in line]


# -- 1. the input wire's value and the gate's output, apart; how to read a row, in the table ---

def test_the_table_shows_each_input_s_value_apart_from_the_gate_s_output(cli):
    out = cli("eval", "(x + y) * z", "x=-2", "y=5", "z=-4").stdout
    assert out.splitlines()[:2] == ["Backward pass of (x + y) * z",
                                    "read a row as the chain rule: result = local × upstream"]
    assert _table_rows(out) == [
        ["gate", "op", "role", "input", "input value", "gate output", "local", "upstream", "result"],
        ["(x + y) * z", "*", "swaps", "x + y", "3", "-12", "-4", "1", "-4"],
        ["(x + y) * z", "*", "swaps", "z", "-4", "-12", "3", "1", "3"],
        ["x + y", "+", "distributes", "x", "-2", "3", "1", "-4", "-4"],
        ["x + y", "+", "distributes", "y", "5", "3", "1", "-4", "-4"],
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_the_neuron_on_an_80_column_terminal_shows_every_number_of_the_circuit():
    from test_terminals import _run_on_a_terminal, _shown_table

    text = _run_on_a_terminal(["eval", *NEURON], 80)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[1] == "read a row as the chain rule: result = local × upstream"
    header, rows = _shown_table(text)
    assert header == ["gate", "op", "input", "input value", "gate output", "local", "upstream", "result"]
    # the gate, its input, the value on that wire, the gate's output, local, upstream, result: the
    # lecture's walk-through, gate by gate; no two gates' labels alike (w0*x0…1+w2, w0*x0…1*x1)
    assert rows == [
        ["1/(1+…2)))", "1/x", "1+exp…w2))", "1.36788", "0.731059", "-0.534447", "1", "-0.534447"],
        ["1+exp…w2))", "+", "exp(-…w2))", "0.367879", "1.36788", "1", "-0.534447", "-0.534447"],
        ["exp(-…w2))", "exp", "-(w0*…+w2)", "-1", "0.367879", "0.367879", "-0.534447", "-0.196612"],
        ["-(w0*…+w2)", "-x", "w0*x0…1+w2", "1", "-1", "-1", "-0.196612", "0.196612"],
        ["w0*x0…1+w2", "+", "w0*x0…1*x1", "4", "1", "1", "0.196612", "0.196612"],
        ["w0*x0…1+w2", "+", "w2", "-3", "1", "1", "0.196612", "0.196612"],
        ["w0*x0…1*x1", "+", "w0*x0", "-2", "4", "1", "0.196612", "0.196612"],
        ["w0*x0…1*x1", "+", "w1*x1", "6", "4", "1", "0.196612", "0.196612"],
        ["w1*x1", "*", "w1", "-3", "6", "-2", "0.196612", "-0.393224"],
        ["w1*x1", "*", "x1", "-2", "6", "-3", "0.196612", "-0.589836"],
        ["w0*x0", "*", "w0", "2", "-2", "-1", "0.196612", "-0.196612"],
        ["w0*x0", "*", "x0", "-1", "-2", "2", "0.196612", "0.393224"],
    ]


def test_csv_keeps_its_columns_and_adds_the_input_value_and_the_gate_s_name(cli):
    out = cli("eval", "x/y", "x=1", "y=4", "--format", "csv").stdout
    assert out == ("gate,op,role,input,value,local,upstream,result,input_value,symbol\n"
                   "x/y,div,slope,x,0.25,0.25,1.0,0.25,1.0,/\n"
                   "x/y,div,slope,y,0.25,-0.0625,1.0,-0.0625,4.0,/\n")


# -- 2. one name per gate, in every view and message --------------------------------------------

def test_a_gate_has_one_name_in_the_table_steps_tree_dot_and_warnings(cli):
    args = ["eval", "1/x + y**3 - y", "x=2", "y=1"]
    table = _table_rows(cli(*args).stdout)
    assert [row[1] for row in table[1:]] == ["-", "-", "+", "+", "x^3", "1/x"]
    steps = cli(*args, "--steps").stdout
    assert "[x^3 gate: slope]" in steps and "[1/x gate: slope]" in steps
    assert "1/x gate, slope" in cli(*args, "--format", "tree").stdout
    assert 'label="1/x", shape=circle' in cli(*args, "--format", "dot").stdout
    rows = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv").stdout)))
    assert [(row["op"], row["symbol"]) for row in rows][-2:] == [("pow", "x^3"), ("div", "1/x")]
    assert _table_rows(cli("eval", "-x", "x=1").stdout)[1][:2] == ["-x", "-x"]
    assert "[-x gate: scales]" in cli("eval", "-x", "x=1", "--steps").stdout
    warning = cli("eval", "max(X)", "X=[1,1]").stderr
    assert warning == ("warning: gate 'max(X)' (max, line 1, column 1) is at its kink; "
                       "using the convention a tie splits the gradient equally\n")


# -- 3. the title is the program's output statement ----------------------------------------------

def test_a_program_is_titled_by_its_output_statement(cli):
    program = "# neuron\nsig(t) = 1/(1+exp(-t))\nz = w*x + b # pre-activation\nsig(z)\n"
    assert cli("eval", program, "w=1", "x=2", "b=3").stdout.splitlines()[0] == "Backward pass of sig(z)"
    assert cli("eval", "q = x + y; f = q * z  # the output", "x=1", "y=2", "z=3", "--steps").stdout \
        .splitlines()[0] == "Backward pass of f = q * z, one gate per step, output first"
    dot = cli("eval", "q = x + y\nf = q * z", "x=1", "y=2", "z=3", "--format", "dot").stdout
    assert 'label="gradcli: f = q * z"' in dot
    expanded = cli("eval", program, "w=1", "x=2", "b=3", "--expand").stdout
    assert expanded.splitlines()[0] == "Backward pass of sig(z)"


# -- 4. --expand: a body's names never read as the user's -----------------------------------------

def test_expand_shows_a_body_with_the_call_s_arguments(cli):
    out = cli("eval", "sigmoid(y)*x", "x=1", "y=2", "--expand").stdout
    assert [row[0] for row in _table_rows(out)[1:]] == [
        "sigmoid(y)*x", "sigmoid(y)*x", "sigmoid: 1/(1+exp(-y))", "sigmoid: 1+exp(-y)",
        "sigmoid: exp(-y)", "sigmoid: -y"]
    out = cli("eval", "sig(t) = 1/(1+exp(-t)); sig(t*2 + x)", "t=1", "x=0", "--expand").stdout
    assert "sig: -(t*2 + x)" in out and "sig: -t " not in out


# -- 5. a sum of gradients reads as arithmetic ----------------------------------------------------

def test_a_fork_s_sum_writes_a_negative_term_with_a_minus(cli):
    args = ["eval", "x/y - y", "x=1", "y=2"]
    assert "  ∂f/∂y = -1 - 0.25 = -1.25\n" in cli(*args).stdout  # in the order they arrived
    assert "   ∂f/∂y = -0.25 - 1 = -1.25    (gradients add at forks)\n" in cli(*args, "--steps").stdout


# -- 6. plain output spells a non-finite number one way ---------------------------------------------

def test_plain_spells_nan_and_infinity_the_same_alone_and_in_an_array(cli):
    out = cli("eval", "x*y", "x=nan", "y=[1,inf]", "--format", "plain", "-q").stdout
    assert out == "f [NaN,NaN]\nx Infinity\ny [NaN,NaN]\n"
    out = cli("eval", "x*y", "x=-inf", "y=2", "--format", "plain", "-q").stdout
    assert out == "f -Infinity\nx 2.0\ny -Infinity\n"
