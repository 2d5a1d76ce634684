"""`--steps`: the lecture's walk-through, gate by gate, numbers worked out independently here."""

from __future__ import annotations

import json
import math
import re

import pytest

import gradcli

SIGMOID = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SIGMOID_VALUES = ["--set", "w0=2", "--set", "x0=-1", "--set", "w1=-3", "--set", "x1=-2", "--set", "w2=-3"]

# The reference's walk-through (CS231n): forward then backward, to two decimals.
_s = 1 / (1 + math.exp(-1.0))
_d = _s * (1 - _s)  # 0.19661193…
LECTURE_NUMBERS = [-2, 6, 4, 1, -1, 0.37, 1.37, 0.73,  # forward
                   1.00, -0.53, -0.20, 0.20, -0.39, 0.39, -0.59]  # backward
EXACT = {"w0": -_d, "x0": 2 * _d, "w1": -2 * _d, "x1": -3 * _d, "w2": _d}


def _numbers(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", text)]


def test_sigmoid_walkthrough_has_every_number_of_the_lecture(cli):
    result = cli("eval", SIGMOID, *SIGMOID_VALUES, "--steps")
    assert result.exit_code == 0, result.stderr
    found = {round(v, 2) for v in _numbers(result.stdout)}
    for number in LECTURE_NUMBERS:
        assert round(number, 2) in found, f"{number} is missing from:\n{result.stdout}"
    out = result.stdout
    assert "   u = 1+exp(-(w0*x0+w1*x1+w2))\n   ∂f/∂(1+exp(-(w0*x0+w1*x1+w2))) = [local -1/u² = -0.534447] × [upstream 1] = -0.534447" in out
    assert "   u = -(w0*x0+w1*x1+w2)\n   ∂f/∂(-(w0*x0+w1*x1+w2)) = [local e^u = 0.367879] × [upstream -0.534447] = -0.196612" in out
    assert "[local -1] × [upstream -0.196612] = 0.196612" in out
    assert "∂f/∂w1 = [local x1 = -2] × [upstream 0.196612] = -0.393224" in out
    assert "∂f/∂x0 = [local w0 = 2] × [upstream 0.196612] = 0.393224" in out
    assert "seed ∂f/∂f = 1" in out
    assert "[1/x gate: slope]" in out and "[exp gate: slope]" in out and "[* gate: swaps]" in out


def test_sigmoid_gate_local_gradient_is_shown_as_formula_and_number(cli):
    out = cli("eval", "sigmoid(w0*x0+w1*x1+w2)", *SIGMOID_VALUES, "--steps", "--digits", "2").stdout
    assert "[local σ(w0*x0+w1*x1+w2)·σ(-(w0*x0+w1*x1+w2)) = 0.2] × [upstream 1] = 0.2" in out
    assert "[σ gate: slope]" in out


def test_example1_reads_like_the_lecture(cli):
    out = cli("eval", "q = x + y; f = q * z", "--set", "x=-2", "--set", "y=5", "--set", "z=-4",
              "--steps").stdout
    assert out.splitlines()[2:8] == [
        "1. f = -12    [* gate: swaps]",
        "   seed ∂f/∂f = 1",
        "   ∂f/∂q = [local z = -4] × [upstream 1] = -4",
        "   ∂f/∂z = [local q = 3] × [upstream 1] = 3",
        "2. q = 3    [+ gate: distributes]",
        "   ∂f/∂x = [local 1] × [upstream -4] = -4",
    ]


def test_a_fork_is_completed_with_its_sum(cli):
    # ∂f/∂q = z + 2 = -4 + 2 = -2, then ∂f/∂x = ∂f/∂y = -2
    out = cli("eval", "q = x + y; f = q*z + 2*q", "--set", "x=-2", "--set", "y=5", "--set", "z=-4",
              "--steps").stdout
    assert "∂f/∂q = -4 + 2 = -2    (gradients add at forks)" in out
    assert "∂f/∂x = [local 1] × [upstream -2] = -2" in out
    out = cli("eval", "x*x + x", "--set", "x=3", "--steps").stdout
    assert "∂f/∂x = 3 + 3 + 1 = 7    (gradients add at forks)" in out


def test_max_names_the_input_that_won(cli):
    out = cli("eval", "2*(x*y + max(z, w))", "--set", "x=3", "--set", "y=-4", "--set", "z=2",
              "--set", "w=-1", "--steps").stdout
    assert "∂f/∂z = [local (1 + sign(z - w))/2 = 1] × [upstream 2] = 2    (won)" in out
    assert "∂f/∂w = [local (1 + sign(w - z))/2 = 0] × [upstream 2] = 0    (lost)" in out
    assert "[* gate: scales]" in out


def _json_steps(cli, *args):
    result = cli("eval", *args, "--steps", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("source", [SIGMOID, "q = x + y; f = q*z + 2*q", "x*x + exp(x*x)"])
def test_json_steps_are_a_reverse_topological_order(cli, source):
    values = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3} if source == SIGMOID else {"x": -2, "y": 5, "z": -4}
    graph = gradcli.parse(source)
    args = [a for name in graph.variables for a in ("--set", f"{name}={values[name]}")]
    doc = _json_steps(cli, source, *args)
    order = [step["id"] for step in doc["steps"]]
    gates = [n for n in graph.nodes if n.kind == "gate"]
    assert sorted(order) == sorted(n.id for n in gates)  # one step per gate
    position = {gate_id: i for i, gate_id in enumerate(order)}
    for gate in gates:  # every consumer of a gate is narrated before the gate itself
        for inp in gate.inputs:
            if inp.kind == "gate":
                assert position[gate.id] < position[inp.id]
    assert doc["steps"][0]["seed"] and doc["steps"][0]["id"] == graph.output.id


def test_json_steps_carry_the_numbers(cli):
    doc = _json_steps(cli, SIGMOID, *SIGMOID_VALUES)
    first = doc["steps"][0]
    assert (first["symbol"], first["role"], first["upstream"]) == ("1/x", "slope", 1.0)
    (edge,) = first["edges"]
    assert edge["formula"] == "-1/x²"
    assert edge["local"] == pytest.approx(-1 / (1 + math.exp(-1.0)) ** 2, rel=1e-12)
    grads = {g["name"]: g["gradient"] for g in doc["gradients"]}
    for name, exact in EXACT.items():
        assert grads[name] == pytest.approx(exact, rel=1e-12)
    assert set(doc["roles"]) == {"slope", "distributes", "scales", "swaps"}


def test_json_fork_terms(cli):
    doc = _json_steps(cli, "q = x + y; f = q*z + 2*q", "--set", "x=-2", "--set", "y=5", "--set", "z=-4")
    (q,) = [s for s in doc["steps"] if s["gate"] == "q"]
    assert q["upstream_terms"] == [-4.0, 2.0] and q["upstream"] == -2.0


def test_long_narrations_are_cut_unless_all(cli):
    source = "+".join(["x"] * 150)
    out = cli("eval", source, "--set", "x=1", "--steps").stdout
    assert "… 49 more steps not shown; --all shows every step" in out
    assert "100. " in out and "101. " not in out
    every = cli("eval", source, "--set", "x=1", "--steps", "--all").stdout
    assert "149. " in every
    # a sum shows at most 100 terms and says how many more there are; its total is always there
    assert "∂f/∂x = " + " + ".join(["1"] * 100) + " + … (50 more terms) = 150" in out
    assert "∂f/∂x = " + " + ".join(["1"] * 150) + " = 150" in every  # with --all, complete


def test_arrays_and_constant_outputs_are_narrated_plainly(cli):
    out = cli("eval", "x*w", "--set", "x=[1,2]", "--set", "w=3", "--steps").stdout
    assert "f is an array of shape (2,): the gradients are those of sum(f)" in out
    assert "∂f/∂w = [local x = (2,) [1, 2]] × [upstream 1] = 3" in out
    out = cli("eval", "2*3", "--steps").stdout
    assert "no gradient flows back: the output depends on no variable" in out


def test_formulas_name_the_gates_own_input_when_the_program_has_an_x(cli):
    # issue 18: the user's x is 3; the local of w**3 must read 3·w^2, not 3·x^2
    out = cli("eval", "1/y + w**3 - x", "--set", "w=2", "--set", "y=4", "--set", "x=3", "--steps").stdout
    lines = out.splitlines()
    assert lines[9:13] == [
        "3. w**3 = 8    [x^3 gate: slope]",
        "   ∂f/∂w = [local 3·w^2 = 12] × [upstream 1] = 12",
        "4. 1/y = 0.25    [1/x gate: slope]",
        "   ∂f/∂y = [local -1/y² = -0.0625] × [upstream 1] = -0.0625",
    ]
    assert "   ∂f/∂x = [local -1] × [upstream 1] = -1" in lines


def test_formulas_without_a_collision_and_with_short_and_long_inputs(cli):
    out = cli("eval", "exp(a*b)**2 + cos(a+b) + 1/(a*b*a*b*a*b*a*b + 1)", "--set", "a=1", "--set", "b=2",
              "--steps", "--digits", "3").stdout
    lines = out.splitlines()
    assert "   ∂f/∂(exp(a*b)) = [local 2·(exp(a*b)) = 14.8] × [upstream 1] = 14.8" in lines
    assert "   ∂f/∂(a*b) = [local e^(a*b) = 7.39] × [upstream 14.8] = 109" in lines
    assert "   ∂f/∂(a+b) = [local -sin(a+b) = -0.141] × [upstream 1] = -0.141" in lines
    # a long input is called u, said once in its step; u is no name of the program
    i = lines.index("   u = a*b*a*b*a*b*a*b + 1")
    assert lines[i + 1] == "   ∂f/∂(a*b*a*b*a*b*a*b + 1) = [local -1/u² = -0.00346] × [upstream 1] = -0.00346"
    out = cli("eval", "1/(u*u*u*u*u*u*u + 1)", "--set", "u=1", "--steps").stdout
    assert "   v = u*u*u*u*u*u*u + 1" in out.splitlines() and "[local -1/v² = -0.25]" in out
