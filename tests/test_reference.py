"""The worked examples of shared/reference/backprop.md (CS231n), every number of them,
through the Python API, the table and the JSON document.

Expected numbers are the reference's own, or worked out by hand here from its formulas
(never read back from gradcli).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import gradcli
from gradcli.core.ops import OPS

# --------------------------------------------------------------------------------------------
# Example 1: f = (x + y) z at x = -2, y = 5, z = -4
# --------------------------------------------------------------------------------------------

EX1 = "(x + y) * z"
EX1_VALUES = {"x": -2, "y": 5, "z": -4}
EX1_SETS = ["--set", "x=-2", "--set", "y=5", "--set", "z=-4"]
EX1_GRADIENTS = {"x": -4.0, "y": -4.0, "z": 3.0}


def records_by_text(result) -> dict:
    """Trace records keyed by their node's source text (unique in these examples)."""
    out = {}
    for record in result.trace:
        out.setdefault(record.node.span.text, record)
    return out


def assert_gradients(actual: dict, expected: dict, rel: float = 1e-9, abs_: float = 1e-12) -> None:
    assert set(actual) == set(expected)
    for name, value in expected.items():
        assert float(actual[name]) == pytest.approx(value, rel=rel, abs=abs_), name


def test_example1_api():
    result = gradcli.evaluate(EX1, EX1_VALUES)
    assert result.value == pytest.approx(-12.0)
    assert result.gradient_of == "f"
    assert_gradients(result.gradients, EX1_GRADIENTS)
    assert result.diagnostics == []

    records = records_by_text(result)
    q = records["x + y"]
    assert q.node.op_name == "add"
    assert float(q.value) == pytest.approx(3.0)
    assert float(q.gradient) == pytest.approx(-4.0)
    # the add gate: local 1 for each input, upstream -4, result -4
    assert len(q.edges) == 2
    for edge in q.edges:
        assert float(edge.local) == pytest.approx(1.0)
        assert float(edge.upstream) == pytest.approx(-4.0)
        assert float(edge.result) == pytest.approx(-4.0)

    f = records[EX1]
    assert f.node is result.graph.output
    assert float(f.value) == pytest.approx(-12.0)
    assert float(f.gradient) == pytest.approx(1.0)  # the seed
    by_input = {edge.input.span.text: edge for edge in f.edges}
    assert float(by_input["x + y"].local) == pytest.approx(-4.0)  # ∂f/∂q = z
    assert float(by_input["z"].local) == pytest.approx(3.0)  # ∂f/∂z = q
    assert float(by_input["x + y"].result) == pytest.approx(-4.0)
    assert float(by_input["z"].result) == pytest.approx(3.0)
    for edge in f.edges:
        assert float(edge.upstream) == pytest.approx(1.0)


def test_example1_trace_is_topological_and_edges_output_first():
    result = gradcli.evaluate(EX1, EX1_VALUES)
    position = {id(r.node): i for i, r in enumerate(result.trace)}
    for record in result.trace:
        for inp in record.node.inputs:
            assert position[id(inp)] < position[id(record.node)]
    assert result.edges[0].gate is result.graph.output
    # the variables keep their first-use order
    assert list(result.gradients) == ["x", "y", "z"]


@pytest.mark.parametrize("program", [
    "q = x + y; f = q * z",
    "q = x + y\nf = q * z",
    "q = x + y\nf = q * z\n",
    "# example 1\nq = x + y   # the sum\nf = q * z\n",
])
def test_example1_program_form(program):
    result = gradcli.evaluate(program, **EX1_VALUES)
    assert result.value == pytest.approx(-12.0)
    assert_gradients(result.gradients, EX1_GRADIENTS)
    names = {r.node.name: r for r in result.trace if r.node.name}
    assert float(names["q"].value) == pytest.approx(3.0)
    assert float(names["q"].gradient) == pytest.approx(-4.0)
    assert float(names["f"].value) == pytest.approx(-12.0)
    assert result.graph.output is names["f"].node


def test_example1_table(cli):
    result = cli("eval", EX1, *EX1_SETS)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert result.stderr == ""
    assert re.search(r"f = -12\b", out)
    for name, grad in EX1_GRADIENTS.items():
        assert re.search(rf"∂f/∂{name} = {grad:g}(\s|$)", out), name


def test_example1_program_table(cli):
    result = cli("eval", "q = x + y; f = q * z", *EX1_SETS)
    assert result.exit_code == 0, result.stderr
    assert "∂f/∂x = -4" in result.stdout
    assert "∂f/∂z = 3" in result.stdout


def check_json_edges(doc: dict) -> None:
    """Every input of every gate: result = local × upstream, and upstream = the gate's gradient."""
    nodes = {node["id"]: node for node in doc["nodes"]}
    for node in doc["nodes"]:
        for inp in node["inputs"]:
            if inp["local"] is None:
                continue
            assert inp["upstream"] == pytest.approx(node["gradient"], rel=1e-12)
            assert inp["result"] == pytest.approx(inp["local"] * inp["upstream"], rel=1e-12, abs=1e-15)
            assert inp["id"] in nodes


def test_example1_json(cli_json):
    doc = cli_json("eval", EX1, *EX1_SETS)
    assert doc["value"] == pytest.approx(-12.0)
    assert doc["shape"] == []
    assert doc["gradient_of"] == "f"
    assert_gradients(doc["gradients"], EX1_GRADIENTS)
    check_json_edges(doc)
    nodes = {node["id"]: node for node in doc["nodes"]}
    out = nodes[doc["output"]]
    assert out["op"] == "mul"
    assert out["gradient"] == pytest.approx(1.0)
    q_input, z_input = out["inputs"]
    q = nodes[q_input["id"]]
    assert q["op"] == "add" and q["value"] == pytest.approx(3.0)
    assert q_input["local"] == pytest.approx(-4.0)
    assert q_input["result"] == pytest.approx(-4.0)
    assert nodes[z_input["id"]]["name"] == "z"
    assert z_input["local"] == pytest.approx(3.0)
    assert z_input["result"] == pytest.approx(3.0)
    for inp in q["inputs"]:
        assert (inp["local"], inp["upstream"], inp["result"]) == (
            pytest.approx(1.0), pytest.approx(-4.0), pytest.approx(-4.0))
    # spans point into the user's text
    assert q["text"] == "x + y"
    assert q["span"]["line"] == 1 and q["span"]["column"] == 2
    assert EX1[q["span"]["start"]:q["span"]["end"]] == "x + y"


def test_example1_program_json_names(cli_json):
    doc = cli_json("eval", "q = x + y; f = q * z", *EX1_SETS)
    assert_gradients(doc["gradients"], EX1_GRADIENTS)
    by_name = {node["name"]: node for node in doc["nodes"] if node["name"]}
    assert set(by_name) == {"x", "y", "z", "q", "f"}
    assert by_name["q"]["gradient"] == pytest.approx(-4.0)
    assert by_name["f"]["id"] == doc["output"]
    check_json_edges(doc)


# --------------------------------------------------------------------------------------------
# Example 2: the sigmoid neuron
# --------------------------------------------------------------------------------------------

EX2 = "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"
EX2_SIGMOID = "sigmoid(w0*x0 + w1*x1 + w2)"
EX2_PROGRAM = """
a = w0*x0
b = w1*x1
s = a + b
t = s + w2
n = -t
ex = exp(n)
d = 1 + ex
f = 1 / d
"""
EX2_VALUES = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}
EX2_SETS = [arg for name, v in EX2_VALUES.items() for arg in ("--set", f"{name}={v}")]

# By hand: the weighted sum is 1, so f = σ(1) and every gradient is σ'(1) = σ(1)(1 - σ(1)) times
# what multiplies the weight or input.
SIG = 1.0 / (1.0 + math.exp(-1.0))
DSIG = SIG * (1.0 - SIG)
EX2_GRADIENTS = {
    "w0": -1 * DSIG,  # x0 · σ'
    "x0": 2 * DSIG,  # w0 · σ'
    "w1": -2 * DSIG,  # x1 · σ'
    "x1": -3 * DSIG,  # w1 · σ'
    "w2": DSIG,
}
# The digits printed in the reference.
EX2_REFERENCE_DIGITS = {
    "w0": -0.19661193, "x0": 0.39322386, "w1": -0.39322386, "x1": -0.58983579, "w2": 0.19661193,
}
# The table's 6 significant digits.
EX2_SIX_DIGITS = {"w0": "-0.196612", "x0": "0.393224", "w1": "-0.393224", "x1": "-0.589836",
                  "w2": "0.196612"}


def test_hand_numbers_match_the_reference_digits():
    # a check of this file's own arithmetic against the reference's printed digits
    for name, digits in EX2_REFERENCE_DIGITS.items():
        assert EX2_GRADIENTS[name] == pytest.approx(digits, abs=1e-8)


@pytest.mark.parametrize("source", [EX2, EX2_SIGMOID, EX2_PROGRAM],
                         ids=["gates", "sigmoid-gate", "program"])
def test_example2_gradients(source):
    result = gradcli.evaluate(source, EX2_VALUES)
    assert result.value == pytest.approx(SIG, rel=1e-12)
    assert result.value == pytest.approx(0.73, abs=0.005)
    assert_gradients(result.gradients, EX2_GRADIENTS, rel=1e-9)
    for name, digits in EX2_REFERENCE_DIGITS.items():
        assert result.gradients[name] == pytest.approx(digits, abs=1e-8)
    assert result.diagnostics == []


def test_example2_forward_values_in_trace():
    result = gradcli.evaluate(EX2, EX2_VALUES)
    records = records_by_text(result)
    ex = math.exp(-1.0)
    expected = {  # node text -> (exact value, the reference's rounded value)
        "w0*x0": (-2.0, -2),
        "w1*x1": (6.0, 6),
        "w0*x0 + w1*x1": (4.0, 4),
        "w0*x0 + w1*x1 + w2": (1.0, 1),
        "-(w0*x0 + w1*x1 + w2)": (-1.0, -1),
        "exp(-(w0*x0 + w1*x1 + w2))": (ex, 0.37),
        "1 + exp(-(w0*x0 + w1*x1 + w2))": (1.0 + ex, 1.37),
        EX2: (1.0 / (1.0 + ex), 0.73),
    }
    for text, (exact, rounded) in expected.items():
        assert text in records, f"no node for {text!r}; nodes: {list(records)}"
        value = float(records[text].value)
        assert value == pytest.approx(exact, rel=1e-12), text
        assert value == pytest.approx(rounded, abs=0.005), text
    # the rounded values of the reference all appear among the trace's values
    values = [float(r.value) for r in result.trace]
    for rounded in (-2, 6, 4, 1, -1, 0.37, 1.37, 0.73):
        assert any(abs(v - rounded) < 0.005 for v in values), rounded


def test_example2_upstream_gradients_in_trace():
    result = gradcli.evaluate(EX2, EX2_VALUES)
    records = records_by_text(result)
    ex = math.exp(-1.0)
    d = 1.0 + ex
    after_reciprocal = -1.0 / d**2  # -0.53
    after_exp = after_reciprocal * ex  # -0.20
    expected = {  # ∂f/∂node: the upstream gradient each gate receives
        EX2: (1.0, 1.00),
        "1 + exp(-(w0*x0 + w1*x1 + w2))": (after_reciprocal, -0.53),
        "exp(-(w0*x0 + w1*x1 + w2))": (after_reciprocal, -0.53),  # after +1 it stays -0.53
        "-(w0*x0 + w1*x1 + w2)": (after_exp, -0.20),
        "w0*x0 + w1*x1 + w2": (-after_exp, 0.20),  # after ×(-1)
        "w0*x0 + w1*x1": (-after_exp, 0.20),  # the additions pass 0.20 on
        "w0*x0": (-after_exp, 0.20),
        "w1*x1": (-after_exp, 0.20),
    }
    for text, (exact, rounded) in expected.items():
        gradient = float(records[text].gradient)
        assert gradient == pytest.approx(exact, rel=1e-12), text
        assert gradient == pytest.approx(rounded, abs=0.005), text

    # the exp gate: local e^-1 = 0.37 times upstream -0.53 = -0.20
    (exp_edge,) = records["exp(-(w0*x0 + w1*x1 + w2))"].edges
    assert float(exp_edge.local) == pytest.approx(ex, rel=1e-12)
    assert float(exp_edge.upstream) == pytest.approx(after_reciprocal, rel=1e-12)
    assert float(exp_edge.result) == pytest.approx(after_exp, rel=1e-12)
    # the 1/x gate: local -1/x²
    reciprocal = records[EX2]
    by_input = {edge.input.span.text: edge for edge in reciprocal.edges}
    assert float(by_input["1 + exp(-(w0*x0 + w1*x1 + w2))"].local) == pytest.approx(-1 / d**2, rel=1e-12)
    # the negation gate: local -1
    (neg_edge,) = records["-(w0*x0 + w1*x1 + w2)"].edges
    assert float(neg_edge.local) == pytest.approx(-1.0)
    assert float(neg_edge.result) == pytest.approx(-after_exp, rel=1e-12)


def test_example2_sigmoid_gate_local_gradient():
    result = gradcli.evaluate(EX2_SIGMOID, EX2_VALUES)
    (edge,) = result.trace[-1].edges
    assert result.trace[-1].node.op_name == "sigmoid"
    assert float(edge.local) == pytest.approx(DSIG, rel=1e-12)  # 0.73 × 0.27 ≈ 0.20
    assert float(edge.local) == pytest.approx(0.20, abs=0.005)


@pytest.mark.parametrize("source", [EX2, EX2_SIGMOID], ids=["gates", "sigmoid-gate"])
def test_example2_table(cli, source):
    result = cli("eval", source, *EX2_SETS)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "f = 0.731059" in out
    for name, six in EX2_SIX_DIGITS.items():
        assert re.search(rf"∂f/∂{name} = {re.escape(six)}(\s|$)", out), name
    # every gradient line read back agrees to the 6 digits shown
    for name, exact in EX2_GRADIENTS.items():
        match = re.search(rf"∂f/∂{name} = (\S+)", out)
        assert float(match.group(1)) == pytest.approx(exact, rel=5e-6)


def test_example2_table_shows_the_backward_pass(cli):
    out = cli("eval", EX2, *EX2_SETS).stdout
    # forward values, local and upstream gradients of the lecture, 6 significant digits
    for number in ("0.731059", "1.36788", "0.367879", "-0.534447", "-0.196612", "0.196612",
                   "-0.393224", "0.393224", "-0.589836"):
        assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", out), number
    # piped, the table is ASCII: data rows hold " | ", the header starts with "gate"
    rows = [line for line in out.splitlines() if " | " in line and not line.startswith("gate")]
    # one row per edge into something with a gradient: 2 mul × 2, 2 add × 2, neg, exp,
    # 1 + exp and 1 / d (their constants get no edge)
    assert len(rows) == 12


def test_example2_table_digits(cli):
    out = cli("eval", EX2, *EX2_SETS, "--digits", "3").stdout
    assert "∂f/∂w0 = -0.197" in out
    assert "∂f/∂x1 = -0.59" in out
    assert "-0.196612" not in out


@pytest.mark.parametrize("source", [EX2, EX2_SIGMOID, EX2_PROGRAM],
                         ids=["gates", "sigmoid-gate", "program"])
def test_example2_json(cli_json, source):
    doc = cli_json("eval", source, *EX2_SETS)
    assert doc["value"] == pytest.approx(SIG, rel=1e-12)
    assert_gradients(doc["gradients"], EX2_GRADIENTS)
    check_json_edges(doc)


def test_example2_json_gate_by_gate(cli_json):
    doc = cli_json("eval", EX2, *EX2_SETS)
    ex = math.exp(-1.0)
    d = 1.0 + ex
    by_op = {}
    for node in doc["nodes"]:
        by_op.setdefault(node["op"], []).append(node)
    (exp_node,) = by_op["exp"]
    (inp,) = exp_node["inputs"]
    assert inp["local"] == pytest.approx(ex, rel=1e-12)
    assert inp["upstream"] == pytest.approx(-1 / d**2, rel=1e-12)
    assert inp["result"] == pytest.approx(-ex / d**2, rel=1e-12)
    (neg_node,) = by_op["neg"]
    (inp,) = neg_node["inputs"]
    assert (inp["local"], inp["upstream"], inp["result"]) == (
        pytest.approx(-1.0), pytest.approx(-DSIG, rel=1e-12), pytest.approx(DSIG, rel=1e-12))
    (div_node,) = by_op["div"]
    assert div_node["id"] == doc["output"]
    assert div_node["value"] == pytest.approx(SIG, rel=1e-12)
    numerator, denominator = div_node["inputs"]
    assert numerator["local"] is None  # a constant gets no gradient
    assert denominator["local"] == pytest.approx(-1 / d**2, rel=1e-12)
    assert denominator["upstream"] == pytest.approx(1.0)
    nodes = {node["id"]: node for node in doc["nodes"]}
    # the multiplications swap: ∂(w·x)/∂w = x
    for mul in by_op["mul"]:
        a, b = mul["inputs"]
        assert a["local"] == pytest.approx(nodes[b["id"]]["value"])
        assert b["local"] == pytest.approx(nodes[a["id"]]["value"])
        assert a["upstream"] == pytest.approx(DSIG, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Patterns in the backward flow: f = 2 (x y + max(z, w))
# --------------------------------------------------------------------------------------------

PATTERNS = "2*(x*y+max(z,w))"
PATTERNS_VALUES = {"x": 3, "y": -4, "z": 2, "w": -1}
PATTERNS_SETS = [arg for name, v in PATTERNS_VALUES.items() for arg in ("--set", f"{name}={v}")]
PATTERNS_GRADIENTS = {"x": -8.0, "y": 6.0, "z": 2.0, "w": 0.0}


def test_patterns_api():
    result = gradcli.evaluate(PATTERNS, PATTERNS_VALUES)
    assert result.value == pytest.approx(-20.0)  # 2 (-12 + 2)
    assert_gradients(result.gradients, PATTERNS_GRADIENTS)
    assert result.diagnostics == []
    records = records_by_text(result)

    # the add gate distributes: every input gets the upstream gradient unchanged
    add = records["x*y+max(z,w)"]
    assert add.node.op.role == OPS["add"].role == "distributes"
    assert float(add.gradient) == pytest.approx(2.0)
    for edge in add.edges:
        assert float(edge.result) == pytest.approx(float(edge.upstream))
        assert float(edge.result) == pytest.approx(2.0)

    # the max gate routes: the larger input gets all of it, the other 0
    mx = records["max(z,w)"]
    assert mx.node.op.role == "routes"
    results = {edge.input.name: float(edge.result) for edge in mx.edges}
    assert results == {"z": pytest.approx(2.0), "w": pytest.approx(0.0)}

    # the multiply gate swaps: each input gets upstream × the other input
    mul = records["x*y"]
    assert mul.node.op.role == "swaps"
    by_input = {edge.input.name: edge for edge in mul.edges}
    assert float(by_input["x"].local) == pytest.approx(-4.0)
    assert float(by_input["y"].local) == pytest.approx(3.0)
    assert float(by_input["x"].result) == pytest.approx(-8.0)
    assert float(by_input["y"].result) == pytest.approx(6.0)


def test_patterns_table(cli):
    result = cli("eval", PATTERNS, *PATTERNS_SETS)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "f = -20" in out
    for name, grad in PATTERNS_GRADIENTS.items():
        assert re.search(rf"∂f/∂{name} = {grad:g}(\s|$)", out), name


def test_patterns_json(cli_json):
    doc = cli_json("eval", PATTERNS, *PATTERNS_SETS)
    assert doc["value"] == pytest.approx(-20.0)
    assert_gradients(doc["gradients"], PATTERNS_GRADIENTS)
    check_json_edges(doc)
    nodes = {node["id"]: node for node in doc["nodes"]}
    (mx,) = [node for node in doc["nodes"] if node["op"] == "max"]
    z_in, w_in = mx["inputs"]
    assert nodes[z_in["id"]]["name"] == "z" and nodes[w_in["id"]]["name"] == "w"
    assert z_in["local"] == pytest.approx(1.0) and w_in["local"] == pytest.approx(0.0)
    assert z_in["result"] == pytest.approx(2.0) and w_in["result"] == pytest.approx(0.0)


def test_reference_json_is_strict_json(cli):
    """The document parses with a parser that refuses NaN/Infinity literals."""
    import json

    def refuse(token):
        raise ValueError(f"non-standard JSON constant {token}")

    out = cli("eval", EX2, *EX2_SETS, "--format", "json").stdout
    doc = json.loads(out, parse_constant=refuse)
    assert np.isfinite(doc["value"])
