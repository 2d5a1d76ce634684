"""Each op's derivative is written once, as its rule (`Op.rule`, gradcli syntax); every kernel that
states the same mathematics for speed or for the edges of float64 is held to it here, op by op,
over the registry: the NumPy local gradients (`locals`), the Python-float ones (`scalar`), the
in-place ones of the untraced engine (`in_place`) and the vector-Jacobian products (`vjp`).

The rule is evaluated the way derivative graphs are: compiled by gradcli.differentiation.derivative, its gates
instantiated on variables and run by the engine. Points come from the SPEC table of test_ops.py
(the op's domain, scalars, arrays and broadcasting), so a new op is covered by its SPEC row.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import gradcli  # noqa: F401  (gives the rules their compiler)
from gradcli.differentiation.derivative import RULES, Builder
from gradcli.core.graph import Graph, Node
from gradcli.core.ops import OPS
from gradcli.base.source import Source, Span

from test_ops import _cases, _points, _vjp_cases  # the SPEC table's points, shared

RTOL = 1e-12


def _rule_value(op, index: int, inputs: list, params: dict, g=None):
    """The rule of input `index` at `inputs` (and cotangent g), evaluated as a graph."""
    source = Source("rule")
    span = Span(source, 0, 4)
    created: list[Node] = []
    variables = [Node("var", span, name=name) for name in "xyz"[:op.arity]]
    cotangent = Node("var", span, name="g")
    created += [*variables, cotangent]
    builder = Builder(created.append, var_shapes={**{v.name: np.shape(a) for v, a in zip(variables, inputs)},
                                                  "g": np.shape(g)})
    node = builder.apply(RULES.template(op, index), tuple(variables), cotangent, params, span)
    if node is None:
        return 0.0
    values = {v.name: a for v, a in zip(variables, inputs)}
    values["g"] = 0.0 if g is None else g
    graph = Graph(created, node, source)
    values = {k: v for k, v in values.items() if k in graph.variables}
    return graph.evaluate(values, trace=False).value


def test_every_op_states_its_rule_once_per_input():
    for name, op in OPS.items():
        assert len(op.rule) == op.arity, f"{name}: one rule per input (None where the output does not depend on it)"
        for index in range(op.arity):
            RULES.template(op, index)  # compiles: every rule parses, names only x, y, z and g


@pytest.mark.parametrize("name, shapes", list(_cases()))
def test_kernels_agree_with_the_rule(name, shapes):
    op = OPS[name]
    for inputs in _points(name, shapes):
        ans = op.forward(*inputs)
        full = np.shape(ans)
        for index in range(op.arity):
            rule = np.broadcast_to(_rule_value(op, index, inputs, {}), full)
            kernel = np.broadcast_to(op.locals[index](ans, *inputs), full)
            np.testing.assert_allclose(kernel, rule, rtol=RTOL, atol=1e-300,
                                       err_msg=f"{name}: locals[{index}] against its rule {op.rule[index]!r}")
            if op.scalar is not None and not full:
                local = op.scalar.locals[index]
                number = local if isinstance(local, float) else local(float(ans), *map(float, inputs))
                np.testing.assert_allclose(number, rule, rtol=RTOL, atol=1e-300,
                                           err_msg=f"{name}: scalar local {index} against its rule")
            if op.in_place is not None:
                args = [np.array(a, dtype=np.float64) for a in inputs]
                got = op.in_place.local(index, lambda: np.empty(full), np.array(ans, dtype=np.float64), *args)
                if got is not None:
                    local, factor = got
                    np.testing.assert_allclose(np.broadcast_to(np.multiply(local, factor), full), rule,
                                               rtol=RTOL, atol=1e-300,
                                               err_msg=f"{name}: in-place local {index} against its rule")


@pytest.mark.parametrize("name, shapes, params", list(_vjp_cases()))
def test_vjp_kernels_agree_with_the_rule(name, shapes, params):
    op = OPS[name]
    rng = np.random.default_rng(zlib.crc32(f"rule{name}{shapes}{params}".encode()))
    for inputs in _points(name, shapes):
        inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
        ans = op.forward(*inputs, **params)
        g = rng.uniform(-2.0, 2.0, size=np.shape(ans))
        for index in range(op.arity):
            kernel = op.vjp(g, ans, *inputs, index=index, **params)
            rule = _rule_value(op, index, inputs, params, g)
            np.testing.assert_allclose(np.broadcast_to(rule, np.shape(kernel)), kernel, rtol=1e-11, atol=1e-14,
                                       err_msg=f"{name}: vjp {index} against its rule {op.rule[index]!r}")


# Where the kernels take care (tails, overflow, underflow), the rule must give the same finite
# answer: a derivative graph is evaluated from the rules alone.
EDGES = {
    "exp": [(-700.0,), (700.0,)],
    "log": [(1e-300,), (1e300,)],
    "sqrt": [(1e-300,), (1e300,)],
    "tanh": [(20.0,), (-40.0,), (400.0,)],
    "sigmoid": [(-40.0,), (40.0,), (-700.0,)],
    "softplus": [(-40.0,), (40.0,)],
    "div": [(1e200, 1e200), (1e-300, 1e-10), (3.0, -1e155)],
    "sinh": [(700.0,)],
    "cosh": [(-700.0,)],
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_rules_keep_the_kernels_finite_answers_at_the_edges(name):
    op = OPS[name]
    for point in EDGES[name]:
        inputs = [np.float64(v) for v in point]
        with np.errstate(all="ignore"):
            ans = op.forward(*inputs)
            for index in range(op.arity):
                kernel = float(op.locals[index](ans, *inputs))
                rule = float(_rule_value(op, index, inputs, {}))
                assert np.isfinite(kernel) and np.isfinite(rule), (name, point, index, kernel, rule)
                np.testing.assert_allclose(rule, kernel, rtol=1e-12, err_msg=f"{name} at {point}, input {index}")
