"""Gate roles and formulas come from the op registry, with a gate's constant inputs folded in."""

from __future__ import annotations

import pytest

import gradcli
from gradcli.core.ops import OPS, ROLES


def _gate(source: str, op: str):
    (node,) = [n for n in gradcli.parse(source).nodes if n.op_name == op]
    return node


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_role_is_one_known_word(name):
    assert OPS[name].role in ROLES
    assert " " not in OPS[name].role


@pytest.mark.parametrize("source, op, role, symbol, formulas", [
    ("x + y", "add", "distributes", "+", ("1", "1")),
    ("max(z, w)", "max", "routes", "max", ("(1 + sign(z - w))/2", "(1 + sign(w - z))/2")),
    ("q * z", "mul", "swaps", "*", ("z", "q")),
    ("2 * x", "mul", "scales", "*", ("x", "2")),
    ("x / 4", "div", "scales", "/", ("1/4", "-(x/4)/4")),
    ("-x", "neg", "scales", "-x", ("-1",)),
    ("exp(-a)", "exp", "slope", "exp", ("e^(-a)",)),  # the formula names the input
    ("1/(1 + a)", "div", "slope", "1/x", ("", "-1/(1 + a)²")),
    ("3/a", "div", "slope", "3/x", ("", "-3/a²")),
    ("a ** 3", "pow", "slope", "x^3", ("3·a^2", "")),
    ("sigmoid(a)", "sigmoid", "slope", "σ", ("σ(a)·σ(-a)",)),
])
def test_gate_view(source, op, role, symbol, formulas):
    view = _gate(source, op).view
    assert (view.role, view.symbol, view.formulas) == (role, symbol, formulas)


def test_table_names_roles_and_the_route_winner(cli):
    out = cli("eval", "2*(x*y + max(z, w))", "--set", "x=3", "--set", "y=-4", "--set", "z=2",
              "--set", "w=-1").stdout
    rows = {tuple(cell.strip() for cell in line.split("|")[:4]) for line in out.splitlines() if " | " in line}
    assert ("max(z, w)", "max", "routes (won)", "z") in rows
    assert ("max(z, w)", "max", "routes (lost)", "w") in rows
    assert ("x*y", "*", "swaps", "x") in rows
    assert ("2*(x*y + max(z, w))", "*", "scales", "x*y + max(z, w)") in rows
    assert ("x*y + max(z, w)", "+", "distributes", "x*y") in rows


def test_json_nodes_carry_symbol_and_role(cli_json):
    doc = cli_json("eval", "1/(1 + exp(-x)) * max(x, y)", "--set", "x=1", "--set", "y=2")
    by_op = {node["op"]: node for node in doc["nodes"]}
    assert (by_op["div"]["symbol"], by_op["div"]["role"]) == ("1/x", "slope")
    assert (by_op["max"]["symbol"], by_op["max"]["role"]) == ("max", "routes")
    assert (by_op["mul"]["symbol"], by_op["mul"]["role"]) == ("*", "swaps")
    assert by_op["var"]["symbol"] is None and by_op["var"]["role"] is None
