"""`gradcli jvp`: forward mode on the command line, and `gradcli check --tangent`.

The numbers are the lecture's, worked by hand ((x + y)·z, the sigmoid neuron of
../shared/reference/backprop.md), central differences along the direction, and the gradient of
reverse mode (∂f·t = ∇f · t); every format is checked exactly for the first circuit; bad input is
one message on stderr with its exit code."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import gradcli
from gradcli.evaluation import check as chk
from gradcli.evaluation.forward import jvp as jvp_of_graph
from gradcli.render import forward as view

CIRCUIT = ["(x + y) * z", "x=-2", "y=5", "z=-4"]
NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NEURON_VALUES = dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
# σ(1)(1 − σ(1)): ∂f/∂w0 = −S, ∂f/∂x0 = 2S, ∂f/∂w1 = −2S, ∂f/∂x1 = −3S, ∂f/∂w2 = S (the lecture's)
S = 0.19661193324148185
NEURON_GRADIENT = dict(w0=-S, x0=2 * S, w1=-2 * S, x1=-3 * S, w2=S)


def central(source: str, values: dict, tangent: dict, h: float = 1e-6):
    """(f(v + h·t) − f(v − h·t)) / 2h, every variable moved along t at once."""
    graph = gradcli.parse(source)
    base = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}

    def f(sign):
        return np.asarray(graph.evaluate({k: v + sign * h * np.asarray(tangent.get(k, 0.0)) for k, v in base.items()},
                                         trace=False).value)

    return (f(1) - f(-1)) / (2 * h)


# -- the lecture's circuit, every format ------------------------------------------------------------

def test_table_of_the_circuit(cli):
    result = cli("jvp", *CIRCUIT, "--tangent", "x=1")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    # ∂f·t with t = (1, 0, 0) is ∂f/∂x = z = -4: dq = dx + dy = 1, df = z·dq + q·dz = -4
    assert result.stdout == (
        "Forward pass of (x + y) * z\n"
        "read a row as the chain rule forward: term = local × input tangent; a gate's tangent is the sum of its terms\n"
        "gate        | op | role        | input | input value | input tangent | local | term | gate output | gate tangent\n"
        "------------+----+-------------+-------+-------------+---------------+-------+------+-------------+-------------\n"
        "x + y       | +  | distributes | x     |          -2 |             1 |     1 |    1 |           3 |            1\n"
        "x + y       | +  | distributes | y     |           5 |             0 |     1 |    0 |           3 |            1\n"
        "(x + y) * z | *  | swaps       | x + y |           3 |             1 |    -4 |   -4 |         -12 |           -4\n"
        "(x + y) * z | *  | swaps       | z     |          -4 |             0 |     3 |    0 |         -12 |           -4\n"
        "\n"
        "f = -12\n"
        "∂f·t = -4    (the directional derivative of f along t)\n"
        "t: x = 1, y = 0, z = 0\n")


def test_steps_of_the_circuit(cli):
    result = cli("jvp", "q = x + y; q * z", "x=-2", "y=5", "z=-4", "-t", "x=1", "--steps")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Forward pass of q * z along t, one gate per step, inputs first\n"
        "dv is v's tangent, its derivative along t (dv = ∂v·t); ∂q/∂v is gate q's local gradient\n"
        "seeds: dx = 1, dy = 0, dz = 0\n"
        "\n"
        "1. q = x + y = 3    [+ gate]\n"
        "   in: x = -2, dx = 1; y = 5, dy = 0\n"
        "   ∂q/∂x = 1, ∂q/∂y = 1\n"
        "   dq = 1·dx + 1·dy = 1·1 + 1·0 = 1\n"
        "2. f = q * z = -12    [* gate]\n"
        "   in: q = 3, dq = 1; z = -4, dz = 0\n"
        "   ∂f/∂q = z = -4, ∂f/∂z = q = 3\n"
        "   df = -4·dq + 3·dz = -4·1 + 3·0 = -4\n"
        "\n"
        "f = -12\n"
        "∂f·t = df = -4    (the directional derivative of f along t)\n")


def test_json_of_the_circuit(cli):
    result = cli("jvp", *CIRCUIT, "-t", "x=1", "-t", "z=0.5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # t = (1, 0, 0.5): ∂f·t = z·1 + q·0.5 = -4 + 1.5
    assert doc["f"] == -12.0 and doc["tangent"] == -2.5
    assert doc["seeds"] == {"x": 1.0, "y": 0.0, "z": 0.5}
    assert doc["warnings"] == []
    add, mul = doc["gates"]
    assert (add["gate"], add["op"], add["symbol"], add["value"], add["tangent"]) == ("x + y", "add", "+", 3.0, 1.0)
    assert add["inputs"] == [
        {"id": 0, "input": "x", "value": -2.0, "tangent": 1.0, "formula": "1", "local": 1.0, "term": 1.0},
        {"id": 1, "input": "y", "value": 5.0, "tangent": 0.0, "formula": "1", "local": 1.0, "term": 0.0}]
    assert (mul["gate"], mul["value"], mul["tangent"]) == ("(x + y) * z", -12.0, -2.5)
    assert [(i["input"], i["formula"], i["local"], i["tangent"], i["term"]) for i in mul["inputs"]] == [
        ("x + y", "z", -4.0, 1.0, -4.0), ("z", "(x + y)", 3.0, 0.5, 1.5)]


def test_a_glued_short_tangent_and_an_expression_starting_with_minus_t(cli):
    assert cli("jvp", "x*y", "x=1", "y=2", "-tx=1", "-f", "plain").stdout == "f 2.0\njvp 2.0\n"
    result = cli("jvp", "-tanh(x)", "x=0", "-t", "x=1", "-f", "plain")
    assert result.stdout == "f -0.0\njvp -1.0\n"  # -(1 - tanh(0)²)


def test_csv_and_plain_of_the_circuit(cli):
    result = cli("jvp", *CIRCUIT, "-t", "x=1", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "gate,op,role,input,value,local,input_tangent,term,tangent,input_value,symbol\n"
        "x + y,add,distributes,x,3.0,1.0,1.0,1.0,1.0,-2.0,+\n"
        "x + y,add,distributes,y,3.0,1.0,0.0,0.0,1.0,5.0,+\n"
        "(x + y) * z,mul,swaps,x + y,-12.0,-4.0,1.0,-4.0,-4.0,3.0,*\n"
        "(x + y) * z,mul,swaps,z,-12.0,3.0,0.0,0.0,-4.0,-4.0,*\n")
    result = cli("jvp", *CIRCUIT, "-t", "x=1", "-f", "plain")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "f -12.0\njvp -4.0\n"


def test_a_constant_input_has_no_row_and_the_ascii_table_under_a_dumb_terminal(cli, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    result = cli("jvp", "2*x + y", "x=3", "y=1", "-t", "x=1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.isascii()
    assert "| 2     |" not in result.stdout  # the constant 2 carries no tangent: no row
    assert "df*t = 2" in result.stdout  # ∂f·t spelled in ASCII


# -- the sigmoid neuron -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(NEURON_VALUES))
def test_the_neuron_along_each_axis_gives_the_lectures_gradient(cli, name):
    result = cli("jvp", NEURON, *(f"{k}={v}" for k, v in NEURON_VALUES.items()), "-t", f"{name}=1", "-f", "plain")
    assert result.exit_code == 0, result.stderr
    f_line, jvp_line = result.stdout.splitlines()
    assert float(f_line.split()[1]) == pytest.approx(0.7310585786300049, rel=1e-15)
    assert float(jvp_line.split()[1]) == pytest.approx(NEURON_GRADIENT[name], rel=1e-12)


def test_the_neuron_along_a_mixed_direction_is_the_gradient_dotted_with_it():
    t = dict(w0=1.0, x0=-0.5, w1=2.0, x1=0.25, w2=-1.0)
    f, df = jvp_of_graph(gradcli.parse(NEURON), NEURON_VALUES, t)
    assert df == pytest.approx(sum(NEURON_GRADIENT[k] * t[k] for k in t), rel=1e-12)
    assert df == pytest.approx(float(central(NEURON, NEURON_VALUES, t)), rel=1e-7)


def test_the_neuron_steps_narrate_the_lectures_gates(cli):
    result = cli("jvp", NEURON, *(f"{k}={v}" for k, v in NEURON_VALUES.items()), "-t", "w0=1", "--steps")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    # the forward values of the lecture: -2, 6, 4, 1, -1, 0.37, 1.37, 0.73; the gates inputs first
    for line in ["1. w0*x0 = -2    [* gate]",
                 "   ∂(w0*x0)/∂w0 = x0 = -1, ∂(w0*x0)/∂x0 = w0 = 2",
                 "   d(w0*x0) = -1·dw0 + 2·dx0 = -1·1 + 2·0 = -1",
                 "6. g = exp(-(w0*x0+w1*x1+w2)) = 0.367879    [exp gate]",
                 "   in: u = -1, du = 1",
                 "   ∂g/∂u = e^u = 0.367879",
                 "8. f = 1/(1+exp(-(w0*x0+w1*x1+w2))) = 0.731059    [1/x gate]",
                 "   ∂f/∂u = -1/u² = -0.534447",
                 "   df = -0.534447·du = -0.534447·0.367879 = -0.196612",
                 "∂f·t = df = -0.196612    (the directional derivative of f along t)"]:
        assert line in text.splitlines(), line
    assert text.index("1. w0*x0") < text.index("2. w1*x1") < text.index("8. f =")


# -- several outputs ---------------------------------------------------------------------------------

def test_two_outputs_each_with_its_own_tangent(cli):
    program = "q = x*y; g = q + z"
    result = cli("jvp", program, "x=1", "y=2", "z=3", "-t", "x=1", "-t", "z=1", "--outputs", "q,g", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # z is used by g: no warning for q
    doc = json.loads(result.stdout)["outputs"]
    assert list(doc) == ["q", "g"]
    assert (doc["q"]["f"], doc["q"]["tangent"], doc["q"]["seeds"]) == (2.0, 2.0, {"x": 1.0, "y": 0.0})
    assert (doc["g"]["f"], doc["g"]["tangent"]) == (5.0, 3.0)  # dq + dz = 2 + 1
    result = cli("jvp", program, "x=1", "y=2", "z=3", "-t", "x=1", "-t", "z=1", "--outputs", "q,g", "-f", "plain")
    assert result.stdout == "q 2.0\njvp:q 2.0\ng 5.0\njvp:g 3.0\n"
    result = cli("jvp", program, "x=1", "y=2", "z=3", "-t", "x=1", "--outputs", "q,g", "-f", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][0] == "output" and [row[0] for row in rows[1:]] == ["q", "q", "g", "g", "g", "g"]
    result = cli("jvp", program, "x=1", "y=2", "z=3", "-t", "x=1", "--outputs", "q,g")
    assert "Forward pass of q = x*y" in result.stdout and "Forward pass of g = q + z" in result.stdout
    assert "∂q·t = 2" in result.stdout and "∂g·t = 2" in result.stdout


def test_a_value_no_output_uses_is_warned_once(cli):
    result = cli("jvp", "q = x*y; g = q + z", "x=1", "y=2", "z=3", "w=4", "-t", "x=1", "--outputs", "q,g",
                 "-f", "plain")
    assert result.exit_code == 0
    assert result.stderr.count("warning:") == 1 and "'w'" in result.stderr
    result = cli("jvp", "q = x*y; g = q + z", "x=1", "y=2", "z=3", "w=4", "-t", "x=1", "--outputs", "q,g",
                 "-f", "json", "-q")
    assert result.stderr == ""
    doc = json.loads(result.stdout)["outputs"]
    assert [len(doc[name]["warnings"]) for name in ("q", "g")] == [1, 1] and "'w'" in doc["q"]["warnings"][0]


# -- arrays ---------------------------------------------------------------------------------------------

def test_an_array_tangent_from_a_file(cli, tmp_path):
    path = tmp_path / "t.json"
    path.write_text("[1, 0, 2]")
    result = cli("jvp", "sum(x * y)", "x=[1,2,3]", "y=[4,5,6]", "-t", f"x=@{path}", "-f", "plain")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "f 32.0\njvp 16.0\n"  # y · t = 4 + 0 + 12


def test_an_array_f_has_an_array_tangent(cli):
    result = cli("jvp", "W @ v", "W=[[1,2],[3,4]]", "v=[1,1]", "-t", "v=[1,-1]", "-t", "W=[[0,1],[0,0]]",
                 "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # d(W v) = dW v + W dv = [1, 0] + [-1, -1]
    assert doc["f"] == [3.0, 7.0] and doc["tangent"] == [0.0, -1.0]


def test_the_table_shows_at_most_100_rows_unless_all(cli):
    program = " + ".join(f"x*{k}" for k in range(1, 80))  # 79 products and 78 sums: 158 + 78 rows
    result = cli("jvp", program, "x=1", "-t", "x=1", "-f", "table")
    assert result.exit_code == 0, result.stderr
    assert "more rows not shown; --all shows every row" in result.stdout
    assert f"∂f·t = {sum(range(1, 80))}" in result.stdout
    every = cli("jvp", program, "x=1", "-t", "x=1", "--all")
    assert "not shown" not in every.stdout
    assert len(every.stdout.splitlines()) > len(result.stdout.splitlines()) + 100


# -- hostile input: one message, its exit code --------------------------------------------------------

@pytest.mark.parametrize("args, code, message", [
    (["x*y", "x=1", "y=2"], 2, "error: give the direction: at least one --tangent NAME=VALUE (-t)\n"
                               'hint: for example: gradcli jvp "(x + y) * z" x=-2 y=5 z=-4 --tangent x=1\n'),
    (["x*y", "x=1", "y=2", "-t", "xx=1"], 1, "error: tangent xx: not a variable of the expression with a value\n"
                                             "hint: did you mean 'x'?\n"),
    (["x*y", "x=1", "y=2", "-t", "x=[1,2]"], 1, "error: tangent x: the tangent is shape (2,), but x is a scalar\n"
                                                "hint: a tangent has its variable's shape: one number\n"),
    (["x*y", "x=1", "y=2", "-t", "x=nan"], 1,
     "error: tangent x: a tangent's numbers must be finite (not nan or inf)\n"),
    (["x*pi", "x=1", "-t", "pi=1"], 1, "error: --tangent pi: pi is a constant (3.14159), which has no tangent\n"
                                       "hint: --set pi=VALUE makes it a variable, which can have a tangent\n"),
    (["x*y", "x=1", "y=2", "-t", "x=1", "--steps", "-f", "json"], 2,
     "error: --steps narrates the forward pass for people; it does not go with --format json\n"
     "hint: --format json already holds every gate's local gradients and tangents\n"),
    (["x*y", "x=1", "y=2", "-t", "x=1", "-t", "x=2"], 1,
     "error: x is given a tangent twice: --tangent x=1 and --tangent x=2\nhint: give each variable one tangent\n"),
])
def test_hostile_input(cli, args, code, message):
    result = cli("jvp", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", message)


def test_strict_exits_1_on_a_nan_with_the_output_printed(cli):
    result = cli("jvp", "log(x)", "x=-1", "-t", "x=1", "-f", "plain", "--strict")
    assert result.exit_code == 1
    assert result.stdout.startswith("f NaN\n")
    assert "warning:" in result.stderr and "--strict" in result.stderr


# -- the renderers are pure views of a JVP --------------------------------------------------------

def test_the_documents_hold_the_jvps_numbers():
    graph = gradcli.parse(NEURON)
    result = jvp_of_graph(graph, NEURON_VALUES, {"w0": 1.0})
    doc = view.document(result, NEURON_VALUES)
    assert [g["tangent"] for g in doc["gates"]] == [float(r.tangent) for r in result.records]
    for gate in doc["gates"]:  # each gate's tangent is the sum of its terms
        assert gate["tangent"] == pytest.approx(sum(i["term"] for i in gate["inputs"]), abs=1e-15)
    assert doc["tangent"] == pytest.approx(-S, rel=1e-12)


# -- gradcli check --tangent ------------------------------------------------------------------------

def test_check_along_a_direction_passes_for_the_neuron(cli):
    result = cli("check", NEURON, *(f"{k}={v}" for k, v in NEURON_VALUES.items()),
                 "-t", "w0=1", "-t", "x1=-0.5", "-t", "w2=2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Directional derivative check of {NEURON}"
    assert result.stdout.splitlines()[1].split()[0] == "output"
    assert "t: w0 = 1, x0 = 0, w1 = 0, x1 = -0.5, w2 = 2" in result.stdout
    assert result.stderr == "check passed: 1 directional derivative checked (1 good)\n"


def test_check_along_a_direction_per_element_of_an_array_f_and_expect(cli):
    args = ["check", "x*y", "x=[1,2,3]", "y=2", "-t", "y=1", "-t", "x=[0,1,0]"]
    result = cli(*args, "--expect", "f=[1,4,3]", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    # d(x·y) = dx·y + x·dy = [0, 2, 0] + [1, 2, 3]
    assert [c["label"] for c in doc["checks"]] == ["f[0]", "f[1]", "f[2]"]
    assert [c["analytic"] for c in doc["checks"]] == [1.0, 4.0, 3.0]
    assert [c["numeric"] for c in doc["checks"]] == pytest.approx([1.0, 4.0, 3.0], rel=1e-8)
    assert doc["gradient_of"] == "jvp" and doc["tangent"] == {"x": [0.0, 1.0, 0.0], "y": 1.0}
    assert [c["expected_verdict"] for c in doc["checks"]] == ["good"] * 3
    wrong = cli(*args, "--expect", "f=[1,2,3]")
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith("check failed: 1 of 3 directional derivatives wrong or non-finite: f[1]")
    refused = cli(*args, "--expect", "x=1")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: an expected value is given for 'x'; along a --tangent")


def test_check_along_a_direction_across_relus_kink(cli):
    result = cli("check", "relu(x) * y", "x=4e-6", "y=2", "-t", "x=1", "-t", "y=0.5")
    assert result.exit_code == 0, result.stderr
    assert "kink crossed" in result.stdout.splitlines()[3]
    assert ("kink crossed along t at gate 'relu(x)' (relu, line 1, column 1); the numeric derivative means "
            "nothing there") in result.stdout
    assert result.stderr == "check passed: 1 directional derivative checked (1 kink crossed)\n"


def test_check_along_a_direction_finds_a_wrong_derivative():
    # a gradient made wrong on purpose: the JVP of the graph is replaced by a wrong one
    graph = gradcli.parse("x*x + y")
    report = chk.check_direction(graph, {"x": 3.0, "y": 1.0}, {"x": 1.0}, expected={"f": 7.0})
    assert report.passed is False and report.entries[0].verdict == "good"  # 2x = 6, not 7
    assert report.entries[0].expected_verdict == "wrong"


def test_check_of_1000_variables_costs_one_evaluation_pair(monkeypatch):
    graph = gradcli.parse("sum(tanh(v) * v)")
    rng = np.random.default_rng(0)
    v = rng.normal(size=1000)
    t = rng.normal(size=1000)
    calls = []
    evaluate = type(graph).evaluate

    def counted(self, values, *args, **kwargs):
        if not np.array_equal(values["v"], v):  # a point away from v
            calls.append(values["v"])
        return evaluate(self, values, *args, **kwargs)

    monkeypatch.setattr(type(graph), "evaluate", counted)
    report = chk.check_direction(graph, {"v": v}, {"v": t})
    assert len(calls) == 2  # f(v + h·t) and f(v − h·t), whatever the number of variables
    np.testing.assert_allclose(calls[0] - v, 1e-5 * t, rtol=1e-6)
    assert report.passed and [e.verdict for e in report.entries] == ["good"]
    exact = float(np.sum((np.tanh(v) + v / np.cosh(v) ** 2) * t))
    assert report.entries[0].analytic == pytest.approx(exact, rel=1e-12)


def test_check_direction_through_the_testing_api():
    from gradcli.testing import assert_gradients, check_gradients

    report = check_gradients(NEURON, NEURON_VALUES, tangent={"w0": 1.0, "x0": 1.0})
    assert report.direction is not None and report.passed
    assert report.entries[0].analytic == pytest.approx(-S + 2 * S, rel=1e-12)
    assert_gradients("x**3", {"x": 2.0}, {"f": 12.0}, tangent={"x": 1.0})
    with pytest.raises(AssertionError, match="check failed"):
        assert_gradients("x**3", {"x": 2.0}, {"f": 8.0}, tangent={"x": 1.0})


@pytest.mark.parametrize("tangent, message", [
    ({"x": 0.0}, "the direction is 0 for every variable"),
    ({"q": 1.0}, "tangent q: not a variable of the expression with a value"),
])
def test_check_direction_refuses_a_useless_or_unknown_direction(tangent, message):
    with pytest.raises(gradcli.GradcliError, match=message):
        chk.check_direction(gradcli.parse("x**2"), {"x": 1.0}, tangent)


# -- terminals and warnings -----------------------------------------------------------------------

@pytest.mark.parametrize("width", [200, 90, 40])
def test_on_a_terminal_numbers_are_never_cut(width):
    from rich.console import Console

    graph = gradcli.parse(NEURON)
    result = jvp_of_graph(graph, NEURON_VALUES, {"w0": 1.0})
    console = Console(width=width, record=True, force_terminal=True, no_color=True, file=io.StringIO())
    view.render_table(result, console, values=NEURON_VALUES)
    text = console.export_text()
    table = text.split("\nf = ")[0]  # the summary lines are not wrapped (copied whole), as eval's
    assert all(len(line) <= width for line in table.splitlines())
    for number in ("0.367879", "-0.534447", "-0.196612", "1.36788"):
        assert number in text


def test_forward_mode_warns_at_a_kink_as_reverse_mode_does(cli):
    forward = cli("jvp", "relu(x) * y", "x=0", "y=2", "-t", "x=1", "-f", "plain")
    backward = cli("eval", "relu(x) * y", "x=0", "y=2", "-f", "plain")
    assert forward.exit_code == 0 and forward.stdout == "f 0.0\njvp 0.0\n"  # relu'(0) = 0
    assert forward.stderr == backward.stderr != ""
    assert cli("jvp", "relu(x) * y", "x=0", "y=2", "-t", "x=1", "-q").stderr == ""


def test_a_zero_tangent_times_an_infinite_slope_is_zero(cli):
    result = cli("jvp", "sqrt(x) + y", "x=0", "y=2", "-t", "y=1", "--steps")
    assert result.exit_code == 0, result.stderr
    assert "   d(sqrt(x)) = inf·dx = inf·0 = 0" in result.stdout.splitlines()
    assert "∂f·t = df = 1    (the directional derivative of f along t)" in result.stdout


def test_steps_under_a_dumb_terminal_are_ascii(cli, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    result = cli("jvp", "q = x + y; q * z", "x=-2", "y=5", "z=-4", "-t", "x=1", "--steps")
    assert result.exit_code == 0 and result.stdout.isascii()
    assert "   df = -4*dq + 3*dz = -4*1 + 3*0 = -4" in result.stdout.splitlines()


@pytest.mark.parametrize("args, message", [
    (["x*y", "x=1", "y=2", "-t", "x=0"], "error: the direction is 0 for every variable: there is nothing to check "
                                        "along it\nhint: give a --tangent that is not all zeros, e.g. --tangent x=1\n"),
    (["x*y", "x=1", "y=2", "-t", "yy=1"], "error: tangent yy: not a variable of the expression with a value\n"
                                          "hint: did you mean 'y'?\n"),
    (["x*y", "x=1", "y=2", "-t", "x=inf"], "error: tangent x: a tangent's numbers must be finite (not nan or inf)\n"),
])
def test_check_along_a_bad_direction_is_one_message_and_exit_1(cli, args, message):
    result = cli("check", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message)


def test_the_program_and_a_tangent_cannot_both_read_stdin(cli):
    from typer.testing import CliRunner

    from gradcli.commands.cli import app

    result = CliRunner().invoke(app, ["jvp", "-", "x=1", "y=2", "-t", "x=@-"], input="x*y")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == ("error: the program (-) and --tangent x=@- both read stdin\n"
                             "hint: stdin can be read once; put the other one in a file\n")
