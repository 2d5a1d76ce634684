"""The formula printers (gradcli/language/formula.py): readable gradcli text that parses back to the
same numbers, shared subexpressions named once under names that clash with nothing, minimal
parentheses; LaTeX with balanced braces and known macros (compiled where a LaTeX engine is)."""

from __future__ import annotations

import math
import random
import re
import shutil
import subprocess

import numpy as np
import pytest

import gradcli
from gradcli.differentiation.derivative import derivative
from gradcli.language.formula import Formula, latex_name

from exprtrees import any_tree, safe_tree, text, well_conditioned


def printed(source: str) -> str:
    return Formula(gradcli.parse(source)).program()


def _close(a: float, b: float, scale: float, rtol: float = 1e-9) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-3 * scale)


@pytest.mark.parametrize("source, expected", [
    ("(x + y) * z", "z*(x + y)"),  # variables first, as one writes a product
    ("x - (y - z)", "x - y + z"),  # terms of sums as one writes them
    ("x + -y", "x - y"),  # exactly x - y in IEEE arithmetic
    ("-x + y", "y - x"),
    ("-(x*y) + -z", "-(x*y + z)"),
    ("x - -y*2", "x + 2*y"),
    ("(-x)**2 + x**-y", "x**2 + x**-y"),
    ("exp(-x)**0.5", "exp(-x)**0.5"),
    ("(-x)**0.5 + (x*y)**y", "(-x)**0.5 + (x*y)**y"),
    ("-x**2", "-x**2"),
    ("x**(y**z)", "x**y**z"),
    ("(x**y)**z", "(x**y)**z"),
    ("x*1/y/y*x", "x**2/y**2"),  # one coefficient, integer powers, numerator over denominator
    ("3*y*2*x", "6*x*y"),
    ("1/x + 1/x", "2/x"),
    ("x*y - y*x", "0"),
    ("exp(-(w*x + b))", "exp(-(w*x + b))"),
    ("0.3333333333333333*x", "1/3*x"),  # 1/3 is that float exactly
    ("sum(X, axis=0)", "sum(X, axis=0)"),
])
def test_text_is_minimal_and_reads_back(source, expected):
    assert printed(source) == expected
    gradcli.parse(expected)


def test_a_repeated_subexpression_is_named_once_and_used_by_name():
    text = printed("a = exp(-(w0*x0 + w1*x1 + w2)); x0*a/(1+a)**2 + x1*a/(1+a)**2")
    assert text == "a = exp(-(w0*x0 + w1*x1 + w2)); x0*a/(1 + a)**2 + x1*a/(1 + a)**2"


def test_the_users_own_name_is_kept_for_a_shared_gate():
    assert printed("q = exp(x*y) + sin(x); sin(q)*cos(q) + exp(q)").startswith("q = exp(x*y) + sin(x); ")


def test_intermediate_names_never_clash_with_variables_or_functions():
    # u, v, w, p are the user's: the intermediate takes the next free name
    source = "s = exp(u*v*w*p + u); s*s + sin(s*s) + q"
    text = printed(source)
    names = re.findall(r"(?:^|; )([A-Za-z_]\w*) = ", text)
    assert names and not set(names) & {"u", "v", "w", "p", "q", "exp", "sin", "pi", "e"}
    assert gradcli.parse(text).variables.keys() == gradcli.parse(source).variables.keys()


def test_small_repeats_stay_inline():
    assert printed("sin(x)*sin(x) + x*y*sin(x)") == "sin(x)**2 + x*y*sin(x)"


def _check_round_trip(graph, values, scale_from=None) -> None:
    text = Formula(graph).program()
    back = gradcli.parse(text)
    got = float(back.evaluate({k: v for k, v in values.items() if k in back.variables}, trace=False).value)
    want = graph.evaluate({k: v for k, v in values.items() if k in graph.variables})
    if not well_conditioned(want):
        return
    scale = max(float(np.max(np.abs(r.value))) for r in want.trace)
    assert _close(got, float(want.value), scale), f"{text}: {got} != {want.value}"


@pytest.mark.parametrize("seed", range(4))
def test_printed_expressions_read_back_to_the_same_numbers(seed):
    rng = random.Random(seed)
    for _ in range(150):
        tree = safe_tree(rng, 4)
        values = {n: rng.uniform(-2, 2) for n in "xyz"}
        _check_round_trip(gradcli.parse(text(tree)), values)


@pytest.mark.parametrize("seed", range(3))
def test_printed_derivatives_read_back_to_the_derivative_graphs_numbers(seed):
    rng = random.Random(100 + seed)
    for _ in range(60):
        tree = safe_tree(rng, 3)
        graph = gradcli.parse(text(tree))
        values = {n: rng.uniform(-2, 2) for n in "xyz"}
        for name in graph.variables:
            for order in (1, 2):
                _check_round_trip(derivative(graph, name, order, scalars=True), values)


def test_anything_the_grammar_says_prints_to_text_that_parses():
    rng = random.Random(7)
    for _ in range(300):
        source = text(any_tree(rng, 4))
        gradcli.parse(Formula(gradcli.parse(source)).program())


def test_ten_thousand_deep_prints_without_recursion():
    source = "x" + " + sin(x)*y" * 10_000
    nested = "(" * 3000 + "x" + " + y)" * 3000
    for s in (source, nested):
        graph = gradcli.parse(s)
        out = Formula(graph).program()
        assert gradcli.parse(out).evaluate({"x": 0.5, "y": 0.25}, trace=False).value == pytest.approx(
            graph.evaluate({"x": 0.5, "y": 0.25}, trace=False).value, rel=1e-9)
        Formula(graph).latex()


# -- LaTeX -------------------------------------------------------------------------------------------

_KNOWN_MACROS = {r"\frac", r"\left", r"\right", r"\cdot", r"\sigma", r"\sqrt", r"\log", r"\sin", r"\cos",
                 r"\tan", r"\tanh", r"\sinh", r"\cosh", r"\arcsin", r"\arccos", r"\arctan", r"\max", r"\min",
                 r"\operatorname", r"\mathit", r"\mathrm", r"\quad", r"\text", r"\infty", r"\top", r"\,",
                 r"\;", r"\alpha", r"\beta", r"\lambda", r"\partial", r"\begin", r"\end", r"\\", r"\_",
                 r"\|", r"\pi"}


def _check_latex(tex: str) -> None:
    depth = 0
    for char in re.sub(r"\\[{}]", "", tex):
        depth += char == "{"
        depth -= char == "}"
        assert depth >= 0, tex
    assert depth == 0, tex
    assert tex.count(r"\left") == tex.count(r"\right"), tex
    macros = set(re.findall(r"\\(?:[A-Za-z]+|.)", tex))
    assert macros <= _KNOWN_MACROS, (macros - _KNOWN_MACROS, tex)


@pytest.mark.parametrize("source, expected", [
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", r"\frac{1}{1 + e^{-\left(w_{0} x_{0} + w_{1} x_{1} + w_{2}\right)}}"),
    ("sigmoid(x)**2", r"\sigma\left(x\right)^{2}"),
    ("sqrt(x) + x**0.5 + log(y)", r"\sqrt{x} + \sqrt{x} + \log\left(y\right)"),
    ("2*x*y", "2 x y"),
    ("x*3", "3 x"),
    ("alpha*x_1 - rate", r"\alpha x_{1} - \mathit{rate}"),
    ("abs(x)/(y+1)", r"\frac{\left|x\right|}{y + 1}"),
    ("-(a+b)*c", r"-c \left(a + b\right)"),
    ("x*1e-5", r"10^{-5} x"),
    ("x*2.5e-7", r"2.5 \cdot 10^{-7} x"),
])
def test_latex(source, expected):
    tex = Formula(gradcli.parse(source)).latex()
    assert tex == expected
    _check_latex(tex)


def test_latex_of_random_expressions_and_derivatives_is_well_formed():
    rng = random.Random(3)
    for _ in range(200):
        graph = gradcli.parse(text(any_tree(rng, 4)))
        _check_latex(Formula(graph).latex())
        for name in list(graph.variables)[:1]:
            _check_latex(Formula(derivative(graph, name, scalars=True)).latex())


@pytest.mark.parametrize("name, tex", [
    ("x", "x"), ("w0", "w_{0}"), ("x_1", "x_{1}"), ("alpha", r"\alpha"), ("rate", r"\mathit{rate}"),
    ("W12", "W_{12}"), ("h_out", r"h_{\mathit{out}}"), ("_t", r"\mathit{\_t}"), ("beta_2", r"\beta_{2}"),
])
def test_latex_names(name, tex):
    assert latex_name(name) == tex


def test_latex_compiles_where_a_latex_engine_is(tmp_path):
    engine = shutil.which("pdflatex") or shutil.which("lualatex") or shutil.which("xelatex")
    if engine is None:
        pytest.skip("no LaTeX engine (pdflatex, lualatex or xelatex) on this machine")
    graph = gradcli.parse("1/(1+exp(-(w0*x0+w1*x1+w2)))")
    body = "\n".join(f"\\[ {Formula(derivative(graph, n, order, scalars=True)).latex()} \\]"
                     for n in ("w0", "x1") for order in (1, 2, 3))
    (tmp_path / "f.tex").write_text("\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n"
                                    f"{body}\n\\end{{document}}\n")
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "f.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_symmetric_functions_are_one_node_written_as_first_met():
    assert printed("hypot(x, y)*exp(hypot(x, y)) + hypot(y, x)") == "hypot(x, y)*exp(hypot(x, y)) + hypot(x, y)"
    assert printed("max(x, y) - max(y, x)") == "max(x, y) - max(y, x)"  # the sign of a zero may differ
