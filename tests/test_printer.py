"""gradcli.language.printer: a Graph back to source text, with only the parentheses precedence needs."""

from __future__ import annotations

import pytest

import gradcli
from gradcli.language.printer import number_text

from exprtrees import structure


@pytest.mark.parametrize("source, printed", [
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", "1 / (1 + exp(-(w0 * x0 + w1 * x1 + w2)))"),
    ("q = x + y; f = q * z", "q = x + y\nf = q * z"),
    ("c = a + b; c += c + 1", "c = a + b\nc = c + (c + 1)"),
    ("-x**2", "-x**2"),
    ("(-x)**2", "(-x)**2"),
    ("2^3^2", "2**3**2"),
    ("(2**3)**2", "(2**3)**2"),
    ("x - (y - z)", "x - (y - z)"),
    ("(x - y) - z", "x - y - z"),
    ("x/(y*z)", "x / (y * z)"),
    ("x * -y", "x * -y"),
    ("-2.5*x", "(-2.5) * x"),
    ("x**-2", "x**(-2)"),
    ("pow(x, 0.5)", "x**0.5"),
    ("max(x, min(y, 1e-05))", "max(x, min(y, 1e-05))"),
    ("a = x*y; b = a; f = b + a", "a = x * y\nf = a + a"),
    ("e*pi", "e * pi"),
    ("x", "x"),
    ("3", "3"),
    ("-(-x)", "--x"),
    ("1e999*x", "1e999 * x"),
    ("2e20 + x", "2e+20 + x"),
    # a name that would be shadowed while still needed gets a fresh one
    ("x = x + 1; x * y", "t0 = x + 1\nt0 * y"),
    ("c = a + b; k = c; c = c + 1; f = k * c", "c = a + b\nt0 = c + 1\nf = c * t0"),
    # a constant bound to a name is one node feeding two gates; it stays one node
    ("a = 0.5; a + a", "t0 = 0.5\nt0 + t0"),
    ("a = 2; b = x * a; b / a", "t0 = 2\nb = x * t0\nb / t0"),
])
def test_printed_text(source, printed):
    graph = gradcli.parse(source)
    assert graph.to_source() == printed
    assert structure(gradcli.parse(printed)) == structure(graph)


@pytest.mark.parametrize("value, text", [
    (2.0, "2"), (0.1, "0.1"), (-1.5, "(-1.5)"), (-0.0, "(-0)"), (1e-05, "1e-05"),
    (float("inf"), "1e999"), (float("-inf"), "(-1e999)")])
def test_number_text(value, text):
    assert number_text(value) == text
    assert gradcli.parse(text).output.default == value


def test_nan_has_no_text():
    with pytest.raises(ValueError):
        number_text(float("nan"))


def test_deep_and_long_graphs_print_without_recursion():
    # 3,000 levels is thrice Python's recursion limit: only a loop gets through
    deep = gradcli.parse("(" * 3_000 + "x" + "+1)" * 3_000)
    assert deep.to_source() == "x" + " + 1" * 3_000
    deep = gradcli.parse("sin(" * 3_000 + "x" + ")" * 3_000)
    assert deep.to_source() == "sin(" * 3_000 + "x" + ")" * 3_000
    wide = gradcli.parse("+".join(["x"] * 5_000))
    assert wide.to_source() == " + ".join(["x"] * 5_000)
