"""The circuit page (`gradcli eval … --output circuit.html`, gradcli/render/page.py) and the
JavaScript printed from the op registry (gradcli/language/javascript.py).

The page is loaded in a real headless Chromium (Debian's `chromium`, driven by Playwright): it
loads with no console error and no request, hovering a gate highlights its rows and wires, and
moving a slider or typing in a box shows the Python engine's numbers at the new point. The
JavaScript's numbers are held to the Python engine's (values, gradients, and every edge's local,
upstream and result) at many points: for the lecture's two circuits, array programs, and every
op of the registry (the shapes and domains of tests/test_ops.py's SPEC table). A screenshot of
each lecture page is saved under $GRADCLI_ARTIFACTS (or pytest's tmp dir) and its path printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.core.ops import OPS
from gradcli.language import javascript
from gradcli.language.printer import op_text
from gradcli.render import numbers, page

from opcalls import SKIPPED, calls
from test_ops import SHAPES, SPEC, _draw

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
RTOL, ATOL = 1e-12, 1e-13

SIGMOID = "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"
LECTURE = [
    ("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0}),
    (SIGMOID, {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}),
    ("sum(tanh(X @ w)) + mean(X, axis=0) @ w", {"X": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "w": [0.1, -0.2]}),
]


def _result(source, values):
    return gradcli.parse(source).evaluate({k: np.asarray(v, dtype=np.float64) for k, v in values.items()},
                                          trace=True)


def _page(source, values, **kwargs) -> str:
    return page.render(_result(source, values), **kwargs)


# -- without a browser ---------------------------------------------------------------------------

def test_every_registry_op_has_a_javascript_forward():
    missing = sorted(name for name in OPS if name not in javascript.ELEMENTWISE and name not in javascript.ARRAY)
    assert not missing, f"ops with no JavaScript forward in gradcli/language/javascript.py: {missing}"
    elementwise = sorted(name for name in javascript.ELEMENTWISE if not OPS[name].elementwise)
    assert not elementwise, f"listed as elementwise but with a vjp: {elementwise}"


def test_the_derivatives_are_printed_from_the_rules_not_written_here():
    # tanh's local gradient is its rule, (1/cosh(x))**2: cosh, div and pow calls, no tanh in it
    text = javascript.ops_source(gradcli.parse("tanh(x)").nodes)
    entry = text[text.index('"tanh"'):].split("\n")[0]
    assert 'OPS["cosh"].f(x' in entry and 'OPS["div"].f(R.c(1.0), s0' in entry and 'OPS["pow"].f(s1, R.c(2.0)' in entry
    for name in ("cosh", "div", "pow"):  # the ops the rule calls are listed too
        assert f'"{name}": {{' in text


def test_strings_and_data_cannot_close_the_script():
    assert javascript.string("</script><b>") == '"\\u003c/script\\u003e\\u003cb\\u003e"'
    assert "</" not in javascript.data({"a": "</script>", "b": [float("nan"), float("inf")]})
    assert javascript.data([float("nan"), float("-inf")]) == '["NaN","-Infinity"]'
    assert javascript.number(-0.0) == "(-0.0)" and javascript.number(1e-300) == "1e-300"


def test_user_text_is_data_only():
    # a user function's name and the variables' names appear in the data block and the text, never
    # in the script's code
    source = "# </script><script>alert(1)</script>\nzzfun(a) = a*a + 1\nzzfun(qqvar) * 2"
    text = _page(source, {"qqvar": 3.0})
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    assert len(scripts) == 1
    assert "zzfun" not in scripts[0] and "qqvar" not in scripts[0] and "alert" not in scripts[0]
    data = re.search(r'<script type="application/json" id="gradcli-data">(.*?)</script>', text, flags=re.S)
    assert "qqvar" in data.group(1)
    assert text.count("</script>") == 2  # the comment's </script> is not in the page at all
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    assert "default-src 'none'" in text  # the page may make no request


def test_the_page_starts_with_the_python_engines_numbers():
    text = _page("(x+y)*z", {"x": -2.0, "y": 5.0, "z": -4.0})
    for want in ('data-v="4">-12<', 'data-gn="x">-4<', 'data-gn="z">3<', 'data-g="3">3<', 'data-er="0">-4<'):
        assert want in text
    assert "<title>gradcli: (x+y)*z</title>" in text


def test_every_scalar_gets_a_slider_and_a_number_box_even_nan_inf_and_1e308(cli, tmp_path):
    result = cli("eval", "x*y + z", "x=nan", "y=1e308", "z=-inf", "--output", str(tmp_path / "p.html"))
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "p.html").read_text(encoding="utf-8")
    controls = re.findall(r'<label class="var">.*?</label>', text)
    assert len(controls) == 3 and 'type="text"' not in "".join(controls) and '"NaN"' not in "".join(controls)
    for name in "xyz":
        assert f'<input type="range" data-var="{name}"' in text
    # a non-finite value: an empty box that says what it holds, the slider at 0; 1e308: its own
    # digits, the slider's ends the largest floats (never inf)
    assert '<input type="number" data-var="x" step="any" value="" placeholder="nan"' in text
    assert '<input type="number" data-var="z" step="any" value="" placeholder="-inf"' in text
    assert '<input type="number" data-var="y" step="any" value="1e+308"' in text
    assert 'min="-1.7976931348623157e+308" max="1.7976931348623157e+308"' in text 
    assert not re.search(r'(min|max|step|value)="-?(inf|nan)', text)


def test_eval_output_html_writes_the_page(cli, tmp_path):
    path = tmp_path / "circuit.html"
    result = cli("eval", "(x+y)*z", "x=-2", "y=5", "z=-4", "--output", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and path.read_text().startswith("<!DOCTYPE html>")
    result = cli("eval", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4", "--outputs", "q,f",
                 "--output", str(tmp_path / "c.html"))
    assert result.exit_code == 0, result.stderr
    assert "Backward pass of" in (tmp_path / "c-q.html").read_text()
    assert (tmp_path / "c-f.html").read_text().count('<input type="range"') == 3  # a slider per variable


def test_eval_output_html_refusals(cli, tmp_path):
    result = cli("eval", "x*y", "x=1", "y=2", "--output", str(tmp_path / "c.htm"))
    assert result.exit_code == 2 and ".html" in result.stderr
    result = cli("eval", "x*y", "x=1", "y=2", "--format", "json", "--output", str(tmp_path / "c.html"))
    assert result.exit_code == 2
    big = " + ".join(f"x*{i}" for i in range(1, 400))  # 1,197 nodes
    result = cli("eval", big, "x=1", "--output", str(tmp_path / "big.html"))
    assert result.exit_code == 1 and "more than a page shows" in result.stderr
    assert not (tmp_path / "big.html").exists()


# -- in Chromium -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=FLAGS)
        yield chromium
        chromium.close()


class Loaded:
    """A page in the browser, with what it logged and requested."""

    def __init__(self, browser, html: str, path: Path) -> None:
        path.write_text(html, encoding="utf-8")
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.console, self.requests = [], []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.url = path.as_uri()

    def evaluate(self, values: dict) -> dict:
        return json.loads(self.page.evaluate("(v) => JSON.stringify(window.gradcli.evaluate(v))", _to_js(values)))

    def close(self):
        self.page.close()


def _to_js(values: dict) -> dict:
    def one(v):
        a = np.asarray(v, dtype=np.float64)
        return json.loads(javascript.data(a.tolist()))
    return {k: one(v) for k, v in values.items()}


def _from_js(value):
    if isinstance(value, list):
        return np.array([_from_js(v) for v in value], dtype=np.float64)
    return np.float64(float(value) if isinstance(value, str) else value)


def _close(js, py, what):
    got, want = _from_js(js), np.asarray(py, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} in the page, {want.shape} in Python"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)


def assert_same_as_python(js: dict, result, where: str = "") -> None:
    """Every number of the page's evaluation equals the Python engine's."""
    _close(js["value"], result.value, f"{where} f")
    for name, grad in result.gradients.items():
        _close(js["gradients"][name], grad, f"{where} ∂f/∂{name}")
    for record in result.trace:
        _close(js["values"][record.node.id], record.value, f"{where} value of {record.node.label}")
        if record.gradient is not None:
            _close(js["grads"][record.node.id], record.gradient, f"{where} gradient of {record.node.label}")
    edges = list(result.iter_edges())
    assert [(e["gate"], e["index"]) for e in js["edges"]] == [(e.gate.id, e.index) for e in edges]
    for got, edge in zip(js["edges"], edges):
        label = f"{where} edge {edge.gate.label} → {edge.input.label}"
        if not isinstance(edge.local, str):
            # a constant local may be a scalar on one side and spread over the shape on the other
            # (Python's kernel for sign gives zeros of x's shape, its rule "0" a scalar)
            local, want = np.broadcast_arrays(_from_js(got["local"]), np.asarray(edge.local, dtype=np.float64))
            np.testing.assert_allclose(local, want, rtol=RTOL, atol=ATOL, err_msg=label + " local")
        _close(got["upstream"], edge.upstream, label + " upstream")
        _close(got["result"], edge.result, label + " result")


def _artifacts(tmp_path_factory) -> Path:
    where = os.environ.get("GRADCLI_ARTIFACTS")
    path = Path(where) if where else tmp_path_factory.mktemp("page-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _near(rng, values: dict) -> dict:
    """A random point around the given values (same shapes)."""
    return {k: np.asarray(v, dtype=np.float64) + rng.uniform(-1.5, 1.5, np.shape(v)) for k, v in values.items()}


@pytest.mark.slow
@pytest.mark.parametrize("source, values", LECTURE, ids=["lecture-circuit", "sigmoid-neuron", "arrays"])
def test_the_page_in_chromium(browser, tmp_path, tmp_path_factory, source, values):
    loaded = Loaded(browser, _page(source, values), tmp_path / "circuit.html")
    tab = loaded.page
    try:
        assert loaded.console == [], loaded.console
        assert loaded.requests == [loaded.url], loaded.requests  # the file itself, nothing else
        # the script's first evaluation shows the Python engine's texts unchanged
        result = _result(source, values)
        assert tab.text_content('#summary [data-v]') == numbers.number(result.value, 6)
        # many points: the JavaScript's numbers are the Python engine's
        rng = np.random.default_rng(zlib.crc32(source.encode()))
        for k in range(25):
            point = values if k == 0 else _near(rng, values)
            assert_same_as_python(loaded.evaluate(point), _result(source, point), f"at {point}:")
        # hovering a gate highlights it, its wires, its rows and its step, and nothing else's
        gate = result.graph.output.inputs[0] if source == "(x+y)*z" else result.graph.output
        tab.hover(f'#circuit [data-node="{gate.id}"]')
        lit_rows = tab.eval_on_selector_all("#backward tr.hl", "rows => rows.map(r => r.dataset.gate)")
        assert lit_rows and set(lit_rows) == {str(gate.id)}
        assert len(lit_rows) == len(result.trace[gate.id].edges)
        assert tab.eval_on_selector_all(".wire.hl", "w => w.length") >= len(gate.inputs)
        assert tab.eval_on_selector_all(f'#steps li.hl[data-gate="{gate.id}"]', "s => s.length") == 1
        tab.hover("h1")
        assert tab.eval_on_selector_all(".hl", "e => e.length") == 0
        # a box and a slider change the numbers to the Python engine's at the new point
        name = result.graph.required[0]
        scalar = np.ndim(values[name]) == 0
        new = dict(values)
        if scalar:
            new[name] = 1.25
            tab.fill(f'input[type=number][data-var="{name}"]', "1.25")
        else:
            new[name] = np.asarray(values[name]) * 0.5
            tab.fill(f'input[type=text][data-var="{name}"]', json.dumps(new[name].tolist()))
        _assert_shown(tab, _result(source, new))
        if scalar:
            tab.eval_on_selector(f'input[type=range][data-var="{name}"]',
                                 "el => { el.value = el.min; el.dispatchEvent(new Event('input')); }")
            low = float(tab.get_attribute(f'input[type=range][data-var="{name}"]', "min"))
            new[name] = low
            _assert_shown(tab, _result(source, new))
            assert tab.input_value(f'input[type=number][data-var="{name}"]') == tab.input_value(
                f'input[type=range][data-var="{name}"]')
        # bad input: a message, the numbers stay, no console error
        before = tab.text_content("#summary")
        tab.fill(f'input[data-var="{name}"]:not([type=range])', "[1, 2" if not scalar else "")
        assert tab.text_content("#status").startswith(f"{name}: not a")
        assert tab.text_content("#summary") == before
        assert loaded.console == [], loaded.console
        shot = _artifacts(tmp_path_factory) / f"page-{zlib.crc32(source.encode()):08x}.png"
        tab.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert shot.stat().st_size > 1000
    finally:
        loaded.close()


def _assert_shown(tab, result):
    """The page's texts are the Python engine's numbers at result's point."""
    shown = tab.eval_on_selector_all("#summary [data-v], #summary [data-gn]", "e => e.map(x => x.textContent)")
    want = [numbers.number(result.value, 6)] + [numbers.number(g, 6) for g in result.gradients.values()]
    assert shown == want
    for k, edge in enumerate(result.iter_edges()):
        assert tab.text_content(f'#backward [data-er="{k}"]') == numbers.number(edge.result, 6)
        assert tab.text_content(f'#backward [data-eu="{k}"]') == numbers.number(edge.upstream, 6)


def _show(tab, html: str, path: Path) -> None:
    """Load a page afresh (a new document: set_content would keep the last page's globals)."""
    path.write_text(html, encoding="utf-8")
    tab.goto(path.as_uri(), wait_until="domcontentloaded")


def _op_programs():
    """(label, program, [values at several points]) covering every registry op, few pages (a page
    load costs more than all its evaluations): per arity, one program adding up every elementwise
    op of that arity, each on its own variables drawn from its SPEC domains, at tests/test_ops.py's
    shapes (broadcasting too); and one program adding up sum(…) of every other op at each of its
    SPEC cases (shapes and axis)."""
    rng = np.random.default_rng(20261130)

    def term_names(k, arity):
        return [f"v{k}_{j}" for j in range(arity)]

    for arity in sorted(SHAPES):
        ops = [OPS[n] for n in sorted(OPS) if n not in SKIPPED and n in SPEC and OPS[n].elementwise
               and OPS[n].arity == arity]
        terms = []
        for k, op in enumerate(ops):
            infix = op.name in ("add", "sub", "mul", "div", "pow")
            terms.append(op_text(op, term_names(k, arity), as_call=op.callable and not infix))
        source = " + ".join(f"({t})" for t in terms)
        points = []
        for shapes in SHAPES[arity]:
            for _ in range(2):
                point = {}
                for k, op in enumerate(ops):
                    spec = SPEC[op.name]
                    for _attempt in range(1000):
                        inputs = [_draw(rng, d, shape) for d, shape in zip(spec.domains, shapes)]
                        if not spec.distinct or all(np.all(np.abs(np.subtract(a, b)) >= 0.1)
                                                    for i, a in enumerate(inputs) for b in inputs[i + 1:]):
                            break
                    point.update(zip(term_names(k, arity), inputs))
                points.append(point)
        yield f"elementwise ops of {arity} inputs", source, points
    terms, cases = [], []
    for name in sorted(OPS):
        op = OPS[name]
        if name in SKIPPED or name not in SPEC or op.elementwise:
            continue
        for source, values in calls(op, lambda shape, i: np.zeros(shape)):
            k = len(terms)
            rename = {old: f"v{k}_{j}" for j, old in enumerate(values)}
            args = ", ".join(rename.values())
            call = source[source.index("(") + 1:-1].split(", ", len(values) - 1)[-1]
            keywords = call[call.index(","):] if "=" in call else ""
            text = op_text(op, list(rename.values())) if not op.callable else f"{op.call_name}({args}{keywords})"
            terms.append(f"sum({text})")
            cases.append((op, {rename[n]: np.shape(v) for n, v in values.items()}))
    source = " + ".join(terms)
    points = []
    for _ in range(3):
        point = {}
        for op, shapes in cases:
            point.update({n: _draw(rng, SPEC[op.name].domains[0], shape) for n, shape in shapes.items()})
        points.append(point)
    yield "the other ops", source, points


@pytest.mark.slow
def test_every_op_in_chromium_matches_the_python_engine(browser, tmp_path):
    """One page per program; the page's engine is evaluated at every point (other shapes too:
    its functions are the same for any shape) and compared with the Python engine's."""
    tab = browser.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    checked = 0
    try:
        for label, source, points in _op_programs():
            graph = gradcli.parse(source)
            _show(tab, page.render(graph.evaluate(points[0], trace=True)), tmp_path / "op.html")
            # every point in one call: a round trip to the browser costs more than an evaluation
            # (as one JSON text: Playwright's own serialization of nested arrays is far slower)
            answers = json.loads(tab.evaluate("(points) => JSON.stringify(points.map((v) => window.gradcli.evaluate(v)))",
                                              [_to_js(point) for point in points]))
            for point, js in zip(points, answers):
                assert_same_as_python(js, graph.evaluate(point, trace=True), f"{label}: {source} at {point}:")
                checked += 1
        assert errors == []
    finally:
        tab.close()
    assert checked >= 40


@pytest.mark.slow
def test_functions_you_define_diff_and_broadcasting_in_chromium(browser, tmp_path):
    programs = [
        ("sq(a, b) = a*a + b\nsq(x, y) * sq(y, x)", {"x": 1.5, "y": -0.5}),
        ("sq(a, b) = a*a + b\nsum(sq(v, y))", {"v": [1.0, 2.0, -1.0], "y": 0.25}),
        ("nrm(a) = sum(a*a)\nnrm(v) * y", {"v": [1.0, 2.0, -1.0], "y": 0.25}),
        ("diff(x**3 * y, x) + diff(sin(x), x, 2)", {"x": 0.7, "y": -1.3}),
        ("sum(W * v + b)", {"W": [[1.0, 2.0], [3.0, 4.0]], "v": [0.5, -1.0], "b": 2.0}),
    ]
    tab = browser.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    rng = np.random.default_rng(7)
    try:
        for source, values in programs:
            if values is None:
                continue
            graph = gradcli.parse(source)
            _show(tab, page.render(graph.evaluate(values, trace=True)), tmp_path / "program.html")
            for k in range(6):
                point = values if k == 0 else _near(rng, values)
                js = json.loads(tab.evaluate("(v) => JSON.stringify(window.gradcli.evaluate(v))", _to_js(point)))
                assert_same_as_python(js, graph.evaluate({n: np.asarray(v) for n, v in point.items()}, trace=True),
                                      f"{source} at {point}:")
        assert errors == []
    finally:
        tab.close()


@pytest.mark.slow
def test_the_number_format_is_numbers_py(browser, tmp_path):
    tab = browser.new_page()
    try:
        _show(tab, _page("x*y", {"x": 1.0, "y": 2.0}), tmp_path / "format.html")
        cases = [0.0, -0.0, 1.0, -12.0, 0.196611933241, 1e-07, 123456.7, 1234567.0, 1e21, -2.5e-300,
                 0.0001, 0.00012345678, 99999.95, 999999.5, float("nan"), float("inf"), -float("inf"),
                 [1.0, 2.5], [[1.0, 2.0], [3.0, 4.0]], list(range(10)), [[0.5] * 3] * 2]
        for value in cases:
            got = tab.evaluate("(v) => window.gradcli.format(v)", json.loads(javascript.data(value)))
            assert got == numbers.number(np.asarray(value, dtype=np.float64) if isinstance(value, list)
                                         else value, 6), value
    finally:
        tab.close()


@pytest.mark.slow
def test_edge_cases_in_chromium(browser, tmp_path):
    """An array output that is a variable (its gradient spread to the variable's shape), nan and
    inf, no variable at all, an empty array, a huge value, a nan value (a slider and a box each): no console error,
    and the script's texts are the Python engine's."""
    cases = [("x", {"x": [1.0, 2.0, 3.0]}), ("log(x)", {"x": -1.0}), ("x/y", {"x": 1.0, "y": 0.0}),
             ("2*3", {}), ("sum(X)", {"X": np.zeros(0)}), ("x*1e308", {"x": 1e308}),
             ("constructor * hasOwnProperty + toString", {"constructor": 2.0, "hasOwnProperty": 3.0, "toString": 1.0}),
             ("max(x, y)", {"x": 1.0, "y": 1.0})]
    tab = browser.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        for source, values in cases:
            result = _result(source, values)
            _show(tab, page.render(result), tmp_path / "edge.html")
            assert tab.text_content("#status") == "", source
            _assert_shown(tab, result)
            if values:  # a box changed: the numbers follow (names such as constructor are only keys)
                name = result.graph.required[-1]
                moved = {**values, name: np.asarray(values[name]) * 0.5}
                tab.fill(f'input[data-var="{name}"]:not([type=range])', javascript.data(moved[name].tolist()))
                _assert_shown(tab, _result(source, moved))
        _show(tab, _page("max(x, y)", {"x": 1.0, "y": 1.0}), tmp_path / "tie.html")
        assert tab.eval_on_selector_all("input[type=range]", "e => e.length") == 2
        roles = "rows => rows.map(r => r.children[2].textContent)"
        assert tab.eval_on_selector_all("#backward tbody tr", roles) == ["routes (tie)", "routes (tie)"]
        tab.fill('input[type=number][data-var="x"]', "3")
        assert tab.eval_on_selector_all("#backward tbody tr", roles) == ["routes (won)", "routes (lost)"]
        assert tab.eval_on_selector_all("#steps [data-route]", "e => e.map(x => x.textContent)") == ["(won)", "(lost)"]
        _show(tab, _page("x * y", {"x": np.nan, "y": 2.0}), tmp_path / "nan.html")
        assert tab.eval_on_selector_all("input[type=range]", "e => e.length") == 2
        tab.fill('input[type=number][data-var="x"]', "3")  # the nan becomes a number
        _assert_shown(tab, _result("x * y", {"x": 3.0, "y": 2.0}))
        tab.fill('input[type=range][data-var="x"]', "1")  # and the slider moves it
        _assert_shown(tab, _result("x * y", {"x": 1.0, "y": 2.0}))
        assert errors == []
    finally:
        tab.close()
