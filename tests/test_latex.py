"""`gradcli eval --format latex` and `--format tikz` (render/latex.py, render/tikz.py).

The numbers are checked against values worked out independently of gradcli's engine (by hand for
the lecture's (x+y)*z, central differences for the sigmoid neuron, NumPy for the array program),
and the LaTeX is compiled by a real engine (pdflatex, from texlive-latex-base and
texlive-pictures) whose PDF is read back with pdftotext (poppler-utils): the numbers must be in
the PDF, not only in the source. Those tests are marked slow and skip, saying why, where the
tools are missing (.ci/run installs them).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import numpy as np
import pytest

import gradcli
from gradcli.core.ops import OPS
from gradcli.render import latex, tikz

from conftest import numeric_gradients

PDFLATEX = shutil.which("pdflatex")
PDFTOTEXT = shutil.which("pdftotext")
needs_tex = pytest.mark.skipif(
    PDFLATEX is None or PDFTOTEXT is None,
    reason="pdflatex or pdftotext missing: apt-get install texlive-latex-base texlive-pictures poppler-utils")

LECTURE = ("(x+y)*z", "x=-2", "y=5", "z=-4")
NEURON_POINT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
NEURON = ("1/(1+exp(-(w0*x0 + w1*x1 + w2)))", *(f"{k}={v:g}" for k, v in NEURON_POINT.items()))
NEURON_FUNCTION = ("sig(t) = 1/(1+exp(-t)); sig(w0*x0 + w1*x1 + w2)",
                   *(f"{k}={v:g}" for k, v in NEURON_POINT.items()))
X = np.array([[1.0, 2.0], [3.0, 4.0]])
W = np.array([0.5, -1.0])
ARRAY = ("sum(tanh(X @ w))", "X=[[1,2],[3,4]]", "w=[0.5,-1]")


def six(value: float) -> str:
    """A number as the output writes it at --digits 6 (numbers.scalar)."""
    return "0" if value == 0 else f"{value:.6g}"


def eval_text(cli, *args: str) -> str:
    result = cli("eval", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def pdf_text(tex: str, tmp_path, name: str = "doc") -> str:
    """Compile `tex` with pdflatex (errors stop it), then the PDF's text (pdftotext -layout),
    minus signs as -."""
    (tmp_path / f"{name}.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", f"{name}.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / f"{name}.log").read_text(encoding="latin-1")
    assert run.returncode == 0, log[-3000:]
    assert "Missing character" not in log, "a character the font does not have"
    text = subprocess.run([PDFTOTEXT, "-layout", f"{name}.pdf", "-"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=True).stdout
    return text.replace("\u2212", "-")


def tokens(text: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)


def neuron(p) -> float:
    return 1 / (1 + math.exp(-(p["w0"] * p["x0"] + p["w1"] * p["x1"] + p["w2"])))


def neuron_gradients() -> dict[str, float]:
    h = 1e-6
    out = {}
    for name in NEURON_POINT:
        plus, minus = dict(NEURON_POINT), dict(NEURON_POINT)
        plus[name] += h
        minus[name] -= h
        out[name] = (neuron(plus) - neuron(minus)) / (2 * h)
    return out


def array_gradients() -> tuple[float, np.ndarray, np.ndarray]:
    s = np.tanh(X @ W)
    slope = 1 - s ** 2
    return float(s.sum()), np.outer(slope, W), X.T @ slope


# -- the text ------------------------------------------------------------------------------------


def test_the_lecture_table_is_a_tabular_with_the_terminal_columns(cli):
    out = eval_text(cli, *LECTURE, "-f", "latex")
    assert out.startswith(r"% gradcli: a LaTeX fragment; its preamble needs \usepackage{amsmath}")
    assert r"gate & op & role & input & input value & gate output & local & upstream & result \\" in out
    rows = [line for line in out.splitlines() if line.count(" & ") == 8 and not line.startswith("gate")]
    # by hand: q = x + y = 3, f = q z = -12; ∂f/∂q = z, ∂f/∂z = q, ∂f/∂x = ∂f/∂y = ∂f/∂q
    numbers = [tokens(" ".join(row.split(" & ")[4:])) for row in rows]
    assert numbers == [["3", "-12", "-4", "1", "-4"], ["-4", "-12", "3", "1", "3"],
                       ["-2", "3", "1", "-4", "-4"], ["5", "3", "1", "-4", "-4"]]
    assert rows[0].startswith(r"$\left(x + y\right) z$ & $\times$ & swaps & $x + y$")
    for line in (r"f &= -12", r"\frac{\partial f}{\partial x} &= -4", r"\frac{\partial f}{\partial y} &= -4",
                 r"\frac{\partial f}{\partial z} &= 3"):
        assert line in out


def test_steps_write_the_chain_rule_as_equations(cli):
    out = eval_text(cli, "q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--steps", "-f", "latex")
    # the issue's own line, then the next gate's: local × upstream
    assert r"\frac{\partial f}{\partial q} &= z = -4" in out
    assert r"\frac{\partial f}{\partial z} &= q = 3" in out
    assert (r"\frac{\partial f}{\partial x} &= 1 \cdot \frac{\partial f}{\partial q} = 1 \cdot \left(-4\right) = -4"
            in out)
    assert r"\frac{\partial f}{\partial f} &= 1 && \text{seed}" in out
    assert out.count(r"\begin{align*}") == out.count(r"\end{align*}") == 3  # two gates, the totals


def test_steps_of_the_neuron_read_the_sigmoid_rule(cli):
    out = eval_text(cli, *NEURON, "--steps", "-f", "latex")
    grads = neuron_gradients()
    # 1/x's rule -(x/y)/y with x = 1, on its long input named u: -1/u², at u = 1 + e^{-1}
    assert r"u &= 1 + e^{-\left(w_{0} x_{0} + w_{1} x_{1} + w_{2}\right)}" in out
    assert rf"\frac{{\partial f}}{{\partial u}} &= -\frac{{1}}{{u^{{2}}}} = {six(-1 / (1 + math.exp(-1)) ** 2)}" in out
    assert r"e^{u} \cdot" in out  # exp's rule is exp(x)
    for name, grad in grads.items():
        assert rf"\frac{{\partial f}}{{\partial {latex.name(name)}}} &= {six(grad)}" in out
    # a function you define: its local is ∂sig/∂t
    out = eval_text(cli, *NEURON_FUNCTION, "--steps", "-f", "latex")
    assert rf"&= \frac{{\partial \operatorname{{sig}}}}{{\partial t}} = {six(neuron(NEURON_POINT) * (1 - neuron(NEURON_POINT)))}" in out


def test_an_array_program_shows_shapes_and_its_vjps(cli):
    f, dx, dw = array_gradients()
    out = eval_text(cli, *ARRAY, "--steps", "-f", "latex")
    assert rf"f = \operatorname{{sum}}\left(\tanh\left(X \, w\right)\right) = {six(f)}" in out
    assert r"\text{vjp: g}\cdot \text{b}^{\top} \text{ of }" in out  # @'s VJP, by its registry text
    assert rf"\frac{{\partial f}}{{\partial w}} &= (2,)\;[{six(dw[0])}, {six(dw[1])}]" in out
    assert rf"(2,2)\;[[{six(dx[0, 0])}, {six(dx[0, 1])}], [{six(dx[1, 0])}, {six(dx[1, 1])}]]" in out


@pytest.mark.parametrize("op", sorted(name for name, op in OPS.items()
                                      if op.elementwise and op.rule and op.callable and name != "diff"))
def test_each_local_formula_is_the_registry_rule(op):
    """The formula the steps print for every elementwise op, evaluated as printed (its normal
    form), gives the engine's local gradient on every edge: what is shown is the rule."""
    from test_ops import SPEC

    spec = SPEC[op]
    values = {}
    for k, domain in enumerate(spec.domains):
        low, high = domain[-1]
        values["abc"[k]] = low + (high - low) * (0.3 + 0.2 * k)
    entry = OPS[op]
    result = gradcli.evaluate(f"{entry.call_name}({', '.join(values)})", **values)
    gate = result.graph.output
    for edge in result.trace[gate.id].edges:
        formula = latex.local_rule(gate, edge.index)
        if formula == 0:
            assert edge.local == 0
            continue
        graph = formula.to_graph(0)
        given = {latex.placeholder(k): values[n] for k, n in enumerate(values)}
        shown = graph.evaluate({n: v for n, v in given.items() if n in graph.variables}).value
        assert float(shown) == pytest.approx(float(edge.local), rel=1e-9, abs=1e-12), (op, edge.index)
        math_text, _ = latex.local_formula(gate, edge.index, [(latex.name(n), 4) for n in values])
        assert math_text and "\x00" not in math_text


def test_special_characters_are_escaped():
    assert latex.text(r"50% of #1 & $x_1$ {a} ~b^c \ <d> |e| --x") == (
        r"50\% of \#1 \& \$x\_1\$ \{a\} \textasciitilde{}b\textasciicircum{}c \textbackslash{} "
        r"\textless{}d\textgreater{} \textbar{}e\textbar{} -{}-x")
    assert latex.text("∂f/∂x · 2² σ … é") == (r"\ensuremath{\partial}f/\ensuremath{\partial}x \ensuremath{\cdot} "
                                             r"2\ensuremath{^{2}} \ensuremath{\sigma} \ldots{} ?")
    assert latex.math_text("vjp: aᵀ·g") == r"\text{vjp: a}^{\top}\cdot \text{g}"
    assert latex.math_text("vjp: sum_as(g, x)") == r"\text{vjp: sum}\_\text{as(g, x)}"  # MathJax reads no macro in \text
    assert latex.math_tt("w0*x0 + w1…x1_2") == r"\mathtt{w0*x0\ +\ w1\ldots x1\_2}"
    assert latex.name("w_0") == "w_{0}" and latex.name("alpha") == r"\alpha"
    assert latex.number(1e-7) == "10^{-7}" and latex.number(-2.5e20) == r"-2.5 \cdot 10^{20}"
    assert latex.number(float("nan")) == r"\mathrm{nan}" and latex.number(float("-inf")) == r"-\infty"


def test_several_outputs_each_get_a_section_named_by_the_output(cli):
    out = eval_text(cli, "q = x*y; g = exp(q) + q", "x=1", "y=2", "--outputs", "q,g", "-f", "latex")
    assert r"\paragraph{Output \texttt{q}}" in out and r"\paragraph{Output \texttt{g}}" in out
    e2 = math.exp(2)
    assert rf"\frac{{\partial g}}{{\partial x}} &= {six(2 * (e2 + 1))}" in out  # ∂g/∂x = y(e^q + 1)
    assert rf"\frac{{\partial q}}{{\partial y}} &= 1" in out
    assert r"\frac{\partial g}{\partial q} &= 1 + " in out  # q forks: its gradients add
    one = eval_text(cli, "q = x*y; g = exp(q) + q", "x=1", "y=2", "--outputs", "g", "-f", "latex")
    assert rf"\frac{{\partial g}}{{\partial x}} &= {six(2 * (e2 + 1))}" in one and r"\paragraph" not in one
    pictures = eval_text(cli, "q = x*y; g = exp(q) + q", "x=1", "y=2", "--outputs", "q,g", "-f", "tikz")
    assert pictures.count(r"\begin{tikzpicture}") == 2
    assert r"(out) at" in pictures and "{$g$};" in pictures and "{$q$};" in pictures


def test_the_tikz_circuit_has_values_above_and_gradients_below(cli):
    out = eval_text(cli, *LECTURE, "-f", "tikz")
    assert out.startswith(r"% gradcli: a TikZ fragment; its preamble needs \usepackage{amsmath} \usepackage{tikz}")
    wires = re.findall(r"\\draw\[gc wire\] \((n\d+)\) -- node\[gc value\] \{\$(.*?)\$\} node\[gc gradient\] "
                       r"\{\$(.*?)\$\} \((\w+)\);", out)
    names = dict(re.findall(r"\\node\[gc \w+\] \((n\d+)\) at \S+ \{\$(.*?)\$\};", out))
    shown = {(names[a], names.get(b, b)): (v, g) for a, v, g, b in wires}
    assert shown == {("x", "+"): ("-2", "-4"), ("y", "+"): ("5", "-4"), ("+", r"\times"): ("3", "-4"),
                     ("z", r"\times"): ("-4", "3"), (r"\times", "out"): ("-12", "1")}
    assert "text={rgb,255:red,26;green,127;blue,55}" in out  # green values, red gradients (dot's colours)
    assert "text={rgb,255:red,207;green,34;blue,46}" in out
    # the lecture's layout: x over y, their sum between them, z beside the + gate
    places, last = tikz.layout(gradcli.evaluate("(x+y)*z", x=-2, y=5, z=-4))
    assert places[0] == (0, 0) and places[1] == (0, 1) and places[2] == (1, 0.5) and places[3][0] == 1


def test_output_is_the_same_ascii_text_every_run(cli):
    for args in (NEURON, NEURON_FUNCTION, ARRAY):
        for fmt in (["latex"], ["latex", "--steps"], ["tikz"]):
            first = eval_text(cli, *args, "-f", *fmt)
            assert eval_text(cli, *args, "-f", *fmt) == first
            assert "0x" not in first  # no object address
            assert first.isascii(), fmt  # ∂, σ, … as LaTeX: any engine, any input encoding


def test_usage_errors(cli):
    result = cli("eval", *LECTURE, "-f", "table", "--standalone")
    assert result.exit_code == 2 and "--standalone works with --format latex or tikz" in result.stderr
    result = cli("eval", *LECTURE, "-f", "tikz", "--steps")
    assert result.exit_code == 2 and "--steps works with --format table, json, latex or markdown" in result.stderr


def test_a_big_graph_is_cut_with_a_note_unless_all(cli):
    program = " + ".join(f"x{i}*x{i}" for i in range(60))
    values = [f"x{i}=1" for i in range(60)]
    out = eval_text(cli, program, *values, "-f", "latex")
    assert r"more rows not shown" in out
    assert out.count(r" \\") >= 100
    steps = eval_text(cli, program, *values, "-f", "latex", "--steps")
    assert "more steps not shown" in steps
    assert "more rows not shown" not in eval_text(cli, program, *values, "-f", "latex", "--all")


# -- compiled ------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_tex
def test_standalone_documents_compile_and_show_the_numbers(cli, tmp_path):
    """The lecture's circuit and the neuron, table, steps and circuit, each a document as
    printed; the PDF's numbers are the hand-worked and central-difference ones."""
    grads = neuron_gradients()
    neuron_numbers = [six(neuron(NEURON_POINT)), *map(six, grads.values())]
    body = [eval_text(cli, *NEURON, "-f", "latex", "--steps", "--standalone"),
            eval_text(cli, *LECTURE, "-f", "tikz", "--standalone")]
    steps = pdf_text(body[0], tmp_path, "steps")
    for number in neuron_numbers:
        assert number in tokens(steps), number
    assert "Backward pass of" in steps and "seed" in steps
    circuit = pdf_text(body[1], tmp_path, "circuit")
    found = tokens(circuit)
    for number in ("-2", "5", "-4", "3", "-12", "1"):  # values and gradients, by hand
        assert number in found, number


@pytest.mark.slow
@needs_tex
def test_fragments_compile_with_their_documented_preamble(cli, tmp_path):
    """Fragments under the preamble their first line names: the lecture table, the neuron as a
    function, the array program (table, steps, circuit), two outputs, every op's steps."""
    from test_renderers_all_ops import CASES

    f, dx, dw = array_gradients()
    parts = [eval_text(cli, *LECTURE, "-f", "latex"),
             eval_text(cli, *NEURON_FUNCTION, "-f", "latex", "--steps"),
             eval_text(cli, *ARRAY, "-f", "latex"),
             eval_text(cli, *ARRAY, "-f", "latex", "--steps"),
             eval_text(cli, *ARRAY, "-f", "tikz"),
             eval_text(cli, "q = x*y; g = exp(q) + q", "x=1", "y=2", "--outputs", "q,g", "-f", "latex", "--steps"),
             eval_text(cli, *NEURON, "-f", "tikz")]
    seen = set()
    for case in CASES:  # every op's symbol and rule: its scalar and constant cases, else its first
        op, _, kind = case.id.partition("-")
        if kind not in ("scalars", "constant") and op in seen:
            continue
        seen.add(op)
        program, values = case.values
        parts.append(eval_text(cli, program, *(f"{k}={v}" for k, v in values.items()), "-f", "latex", "--steps"))
    preamble = parts[4].splitlines()[0].split("needs ", 1)[1]  # the TikZ fragment's: amsmath and tikz
    doc = ("\\documentclass{article}\n\\usepackage[landscape,margin=1cm]{geometry}\n" + preamble
           + "\n\\begin{document}\n" + "\n\n\\clearpage\n".join(parts) + "\n\\end{document}\n")
    text = pdf_text(doc, tmp_path)
    found = tokens(text)
    for number in ("-12", "-4", "3", six(f), six(dw[0]), six(dw[1]), six(dx[1, 1]),
                   six(2 * (math.exp(2) + 1))):
        assert number in found, number
    assert "Output q" in text and "Output g" in text


def test_numbers_agree_with_central_differences_for_the_array_program():
    numeric = numeric_gradients("sum(tanh(X @ w))", {"X": X, "w": W})
    _, dx, dw = array_gradients()
    np.testing.assert_allclose(numeric["X"], dx, rtol=1e-6)
    np.testing.assert_allclose(numeric["w"], dw, rtol=1e-6)


def test_a_value_read_twice_by_one_gate_adds_there(cli):
    """X*X: ∂f/∂X is written once per input, each line saying which, then their sum, in the
    step where the fork happens (3 + 3 = 6 by hand)."""
    out = eval_text(cli, "X*X", "X=3", "-f", "latex", "--steps")
    assert r"\frac{\partial f}{\partial X} &= X = 3 && \text{input 1}" in out
    assert r"\frac{\partial f}{\partial X} &= X = 3 && \text{input 2}" in out
    assert r"\frac{\partial f}{\partial X} &= 3 + 3 = 6 && \text{inputs 1, 2 add}" in out
    steps = eval_text(cli, "q = x + 1; exp(q*q)", "x=1", "-f", "markdown", "--steps")
    assert rf"&= {six(2 * math.exp(4))} + {six(2 * math.exp(4))} = {six(4 * math.exp(4))} && \text{{inputs 1, 2 add}}" in steps


def test_a_name_with_several_underscores_is_one_word(cli):
    """my_var_1 is \\mathit{my\\_var\\_1} (not my with a subscript var_1), in eval's LaTeX and
    in `gradcli diff --format latex`; x_1 stays x_{1}."""
    out = eval_text(cli, "my_var_1 * x_1", "my_var_1=2", "x_1=3", "-f", "latex", "--steps")
    assert r"\frac{\partial f}{\partial \mathit{my\_var\_1}} &= 3" in out
    assert r"\frac{\partial f}{\partial x_{1}} &= 2" in out
    result = cli("diff", "my_var_1*x_1", "--wrt", "my_var_1", "--format", "latex")
    assert result.exit_code == 0, result.stderr
    assert r"\frac{\partial f}{\partial \mathit{my\_var\_1}} &= x_{1}" in result.stdout


def sum_of_sines(n: int) -> tuple[str, ...]:
    """sin(x0*y0) + … + sin(x{n-1}*y{n-1}) at xi = i, yi = 0.5: 5n - 2 rows."""
    return (" + ".join(f"sin(x{i}*y{i})" for i in range(n)),
            *(f"x{i}={i}" for i in range(n)), *(f"y{i}=0.5" for i in range(n)))


@pytest.mark.slow
@needs_tex
def test_a_long_standalone_table_keeps_every_row_on_the_pages(cli, tmp_path):
    """40 terms, --all: 198 rows, too many for a page and labels too wide for a plain tabular
    (pdftotext found 31 rows of it): a longtable whose long labels wrap. Every row is read back
    (its role word), every gradient (∂f/∂xi = 0.5 cos(0.5 i), by hand), no line runs off a page."""
    tex = eval_text(cli, *sum_of_sines(40), "-f", "latex", "--standalone", "--all")
    assert r"\begin{longtable}" in tex
    pdf_text(tex, tmp_path, "long")  # longtable settles its column widths on the second run
    text = pdf_text(tex, tmp_path, "long")
    log = (tmp_path / "long.log").read_text(encoding="latin-1")
    too_wide = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert max(too_wide, default=0) < 10, too_wide
    assert "Overfull \\vbox" not in log
    assert len(re.findall(r"\b(?:distributes|swaps|slope)\b", text)) == 40 + 2 * 40 + 2 * 39
    found = set(tokens(text))
    for i in range(40):
        assert six(0.5 * math.cos(0.5 * i)) in found, i
        assert six(i * math.cos(0.5 * i)) in found, i


@pytest.mark.slow
@needs_tex
def test_a_big_circuit_gets_a_page_its_size_or_a_clear_refusal(cli, tmp_path):
    """20 terms do not fit A4 at half size: the page grows to the picture (every variable's value
    on it); 150 terms (750 nodes, 7.5 m wide) TeX cannot draw at all ("Dimension too large"
    before): refused, exit 1, saying what to use instead."""
    tex = eval_text(cli, *sum_of_sines(20), "-f", "tikz", "--standalone")
    assert "paperwidth=" in tex
    text = pdf_text(tex, tmp_path, "big")
    found = tokens(text)
    for i in range(20):
        assert six(0.5 * i) in found, i  # the value on the wire out of xi*yi
    result = cli("eval", *sum_of_sines(150), "-f", "tikz", "--standalone")
    assert result.exit_code == 1 and result.stdout == ""
    assert "too big for a TikZ picture" in result.stderr and "--format latex --standalone" in result.stderr
    assert "Traceback" not in result.stderr
    assert cli("eval", *sum_of_sines(150), "-f", "tikz").exit_code == 1  # a fragment neither


@pytest.mark.slow
@needs_tex
def test_a_fork_of_sixty_terms_continues_on_further_rows(cli, tmp_path):
    """x read by 60 gates, --all: its sum of 60 gradients (one line 2000pt wide before) continues
    on rows of its own, in the table's document and in --steps; the total is by hand."""
    program = " + ".join(f"sin(x*w{i})" for i in range(60))
    values = ["x=0.7", *(f"w{i}={i / 8:g}" for i in range(60))]
    total = sum(i / 8 * math.cos(0.7 * i / 8) for i in range(60))
    for extra in ((), ("--steps",)):
        tex = eval_text(cli, program, *values, "-f", "latex", "--standalone", "--all", *extra)
        assert r"&\quad " in tex
        text = pdf_text(tex, tmp_path, "fork")
        log = (tmp_path / "fork.log").read_text(encoding="latin-1")
        too_wide = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
        assert max(too_wide, default=0) < 20, too_wide
        assert six(total) in tokens(text)


@pytest.mark.slow
@needs_tex
def test_a_long_array_value_continues_on_further_rows(cli, tmp_path):
    """A 4x5 X: ∂f/∂X's preview in an align line (300pt off the page before) continues on further
    rows, in the table's equations and in --steps; its numbers are NumPy's."""
    X4 = np.array([[1.1, 2.1, 3.1, 4.1, 5.1], [3.1, 4.1, 5.1, 6.1, 7.1], [1.1] * 5, [1.2] * 5])
    w5 = np.array([0.05, -0.1, 0.2, 0.3, 0.4])
    slope = 1 - np.tanh(X4 @ w5) ** 2
    dX, dw = np.outer(slope, w5), X4.T @ slope
    args = ("sum(tanh(X @ w))", "X=" + str(X4.tolist()), "w=" + str(w5.tolist()))
    for extra in ((), ("--steps",)):
        tex = eval_text(cli, *args, "-f", "latex", "--standalone", *extra)
        text = pdf_text(tex, tmp_path, "array")
        log = (tmp_path / "array.log").read_text(encoding="latin-1")
        too_wide = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
        assert max(too_wide, default=0) < 20, too_wide
        found = " ".join(text.split())
        for value in (dX[0, 0], dX[0, -1], dX[-1, 0], *dw):
            assert six(value) in found, value
