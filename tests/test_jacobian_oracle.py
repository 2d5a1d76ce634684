"""HIPS autograd as an oracle for the Jacobian: on random programs of two outputs over the
elementwise registry (scalar and small array values, fixed seeds) and on hand-written programs of
array ops, gradcli's Jacobian in both modes agrees with `autograd.jacobian` to 1e-10.

Each gradcli program is translated here into an autograd.numpy function by a small op map (not by
gradcli's code). Only well-conditioned cases are compared, as in the SymPy oracle test: every value
and gradient of the pass finite and below 1e4, kink inputs at least 1e-3 from their kink.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

autograd = pytest.importorskip("autograd")

import autograd.numpy as anp  # noqa: E402
from autograd.extend import defvjp, primitive  # noqa: E402

import gradcli  # noqa: E402
from gradcli.core.ops import OPS  # noqa: E402

from exprtrees import ALL_OPS, safe_tree, text, well_conditioned  # noqa: E402

TOLERANCE = 1e-10


# (autograd.scipy needs SciPy, which the tests do not: erf as a primitive with its textbook
# derivative 2/√π·exp(-x²), logsumexp written out)
@primitive
def a_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)[()]


defvjp(a_erf, lambda ans, x: lambda g: g * 2 / math.sqrt(math.pi) * np.exp(-x * x))


def a_logsumexp(v):
    top = np.max(getattr(v, "_value", v))
    return top + anp.log(anp.sum(anp.exp(v - top)))

OP_MAP = {
    "abs": anp.abs, "acos": anp.arccos, "asin": anp.arcsin, "atan": anp.arctan, "cos": anp.cos,
    "cosh": anp.cosh, "erf": a_erf, "exp": anp.exp, "expm1": anp.expm1, "log": anp.log,
    "log10": anp.log10, "log1p": anp.log1p, "log2": anp.log2, "neg": anp.negative,
    "relu": lambda a: anp.maximum(a, 0.0), "sigmoid": lambda a: 1 / (1 + anp.exp(-a)),
    "sign": anp.sign, "sin": anp.sin, "sinh": anp.sinh, "softplus": lambda a: anp.logaddexp(0.0, a),
    "sqrt": anp.sqrt, "step": lambda a: anp.where(a > 0, 1.0, 0.0), "tan": anp.tan, "tanh": anp.tanh,
    "add": anp.add, "sub": anp.subtract, "mul": anp.multiply, "div": anp.divide, "pow": anp.power,
    "max": anp.maximum, "min": anp.minimum, "atan2": anp.arctan2, "hypot": lambda a, b: anp.sqrt(a * a + b * b),
    "xlogy": lambda a, b: a * anp.log(b), "equal": lambda a, b: anp.where(a == b, 1.0, 0.0),
    "clip": lambda a, lo, hi: anp.minimum(anp.maximum(a, lo), hi),
}


def test_the_op_map_covers_the_random_programs_ops():
    assert set(ALL_OPS) <= set(OP_MAP) and all(OPS[name].elementwise for name in ALL_OPS)


def to_autograd(tree, env):
    kind = tree[0]
    if kind == "var":
        return env[tree[1]]
    if kind == "const":
        return tree[1]
    return OP_MAP[kind](*(to_autograd(kid, env) for kid in tree[1:]))


def oracle(outputs, values: dict, names: list[str]) -> np.ndarray:
    """autograd.jacobian of the outputs (functions of an env {name: value}), with respect to
    `names` flattened into one vector, the others held at their values."""
    shapes = {name: np.shape(values[name]) for name in names}

    def f(vector):
        env, start = dict(values), 0
        for name in names:
            size = math.prod(shapes[name])
            env[name] = anp.reshape(vector[start:start + size], shapes[name])
            start += size
        return anp.concatenate([anp.reshape(out(env) + 0.0 * vector[0], (-1,)) for out in outputs])

    point = np.concatenate([np.ravel(values[name]) for name in names])
    return np.asarray(autograd.jacobian(f)(point), dtype=np.float64)


SHAPES = [
    {"x": (), "y": (), "z": ()},
    {"x": (2,), "y": (), "z": (2,)},
    {"x": (3, 1), "y": (2,), "z": ()},
]


def agree(ours: np.ndarray, theirs: np.ndarray) -> None:
    scale = max(1.0, float(np.max(np.abs(theirs), initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE * scale)


@pytest.mark.parametrize("batch", range(3))
def test_random_programs_agree_with_autograd(batch):
    compared = 0
    for seed in range(1000 + batch * 40, 1000 + (batch + 1) * 40):
        rng = random.Random(seed)
        shapes = rng.choice(SHAPES)
        trees = {"f": safe_tree(rng, 3), "g": safe_tree(rng, 3)}
        source = f"f = {text(trees['f'])}\ng = {text(trees['g'])}\nf"
        values = {name: np.array([rng.uniform(-1.5, 1.5) for _ in range(math.prod(shape))]).reshape(shape)
                  for name, shape in shapes.items()}
        graphs = {name: gradcli.parse(source, output=name) for name in trees}
        names = [v for v in values if any(v in g.variables for g in graphs.values())]
        if not names or not all(
                well_conditioned(g.evaluate({v: values[v] for v in g.variables}, trace=True)) for g in graphs.values()):
            continue
        functions = [lambda env, t=tree: to_autograd(t, env) for tree in trees.values()]
        for mode in ("forward", "reverse"):
            ours = gradcli.jacobian(source, {v: values[v] for v in names}, outputs=["f", "g"], mode=mode)
            assert sorted(ours.variables) == sorted(names)
            agree(ours.matrix, oracle(functions, values, list(ours.variables)))
        compared += 1
    assert compared >= 25


ARRAY_PROGRAMS = [
    ("u = tanh(W @ x + b); y = sum(u**2)", ["u", "y"],
     [lambda e: anp.tanh(e["W"] @ e["x"] + e["b"]), lambda e: anp.sum(anp.tanh(e["W"] @ e["x"] + e["b"]) ** 2)],
     {"W": (2, 3), "x": (3,), "b": (2,)}),
    ("p = exp(v) / sum(exp(v))", ["p"], [lambda e: anp.exp(e["v"]) / anp.sum(anp.exp(e["v"]))], {"v": (4,)}),
    ("n = norm(A, axis=1); m = mean(T(A) @ A)", ["n", "m"],
     [lambda e: anp.linalg.norm(e["A"], axis=1), lambda e: anp.mean(e["A"].T @ e["A"])], {"A": (3, 2)}),
    ("r = logsumexp(v) * x; s = max(v * x)", ["r", "s"],
     [lambda e: a_logsumexp(e["v"]) * e["x"], lambda e: anp.max(e["v"] * e["x"])], {"v": (3,), "x": ()}),
    ("q = dot(v, w) * v; s = sum(A, axis=0) * mean(A, axis=1)[0]", ["q"],
     [lambda e: anp.dot(e["v"], e["w"]) * e["v"]], {"v": (3,), "w": (3,)}),
    ("s = sum(A * B, axis=1); t = sigmoid(A) @ T(B)", ["s", "t"],
     [lambda e: anp.sum(e["A"] * e["B"], axis=1), lambda e: (1 / (1 + anp.exp(-e["A"]))) @ e["B"].T],
     {"A": (2, 3), "B": (2, 3)}),
]


@pytest.mark.parametrize("source,outputs,functions,shapes", ARRAY_PROGRAMS, ids=[p[0][:30] for p in ARRAY_PROGRAMS])
@pytest.mark.parametrize("seed", range(3))
def test_array_programs_agree_with_autograd(source, outputs, functions, shapes, seed):
    if "[0]" in source:  # (gradcli has no indexing: that statement is left out)
        source = source.split(";")[0]
    rng = np.random.default_rng(seed)
    values = {name: rng.uniform(-1.5, 1.5, size=shape) for name, shape in shapes.items()}
    theirs = oracle(functions, values, list(shapes))
    for mode in ("forward", "reverse", "auto"):
        ours = gradcli.jacobian(source, values, outputs=outputs, wrt=list(shapes), mode=mode)
        agree(ours.matrix, theirs)
