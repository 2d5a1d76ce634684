"""The circuit views: Graphviz DOT, drawing it with dot (--output), and the Rich tree."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from gradcli.render import graphviz

SIGMOID = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SIGMOID_VALUES = ["--set", "w0=2", "--set", "x0=-1", "--set", "w1=-3", "--set", "x1=-2", "--set", "w2=-3"]
EX1 = ["(x + y) * z", "--set", "x=-2", "--set", "y=5", "--set", "z=-4"]


def _wires(dot: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(from, to) → the numbers on the wire: value, then gradient if any."""
    wires = {}
    for src, dst, label in re.findall(r"^  (\w+) -> (\w+) \[label=<(.*)>\];$", dot, flags=re.M):
        wires[(src, dst)] = tuple(re.findall(r">([^<]+)</font>", label))
    return wires


def test_dot_of_example1(cli):
    result = cli("eval", *EX1, "--format", "dot")
    assert result.exit_code == 0, result.stderr
    dot = result.stdout
    assert dot.startswith("digraph gradcli {") and dot.rstrip().endswith("}")
    # nodes: x=0, y=1, x+y=2, z=3, (x+y)*z=4
    assert '  n0 [label="x", shape=box' in dot and '  n3 [label="z", shape=box' in dot
    assert '  n2 [label="+", shape=circle' in dot and '  n4 [label="*", shape=circle' in dot
    assert '  f [label="f", shape=doublecircle' in dot
    assert _wires(dot) == {
        ("n0", "n2"): ("-2", "-4"), ("n1", "n2"): ("5", "-4"),  # value above, gradient below
        ("n2", "n4"): ("3", "-4"), ("n3", "n4"): ("-4", "3"),
        ("n4", "f"): ("-12", "1"),
    }
    assert 'color="#1a7f37">-2<' in dot and 'color="#cf222e">-4<' in dot  # green over red


def test_dot_is_deterministic_and_folds_the_1_of_1_over_x(cli):
    first = cli("eval", SIGMOID, *SIGMOID_VALUES, "--format", "dot", "--digits", "2").stdout
    assert first == cli("eval", SIGMOID, *SIGMOID_VALUES, "--format", "dot", "--digits", "2").stdout
    labels = re.findall(r'^  n\d+ \[label="([^"]*)", shape=circle', first, flags=re.M)
    assert labels == ["*", "*", "+", "+", "-x", "exp", "+", "1/x"]
    assert len(re.findall(r'shape=plaintext', first)) == 1  # the 1 of 1+…; the 1 of 1/x is folded
    wires = _wires(first)
    assert wires[("n13", "n14")] == ("1.4", "-0.53")
    assert wires[("n11", "n12")] == ("-1", "-0.2")
    assert wires[("n14", "f")] == ("0.73", "1")


def test_output_draws_an_svg_with_the_real_dot(cli, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed here (CI installs it)")
    target = tmp_path / "circuit.svg"
    result = cli("eval", SIGMOID, *SIGMOID_VALUES, "--output", str(target), "--digits", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    svg = target.read_text(encoding="utf-8")
    assert "<svg" in svg
    texts = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}
    for label in ("1/x", "exp", "*", "+", "-x", "w0", "x0", "w1", "x1", "w2", "f"):
        assert label in texts, label
    for number in ("0.73", "1.4", "0.37", "-0.53", "-1", "0.2", "-0.2", "0.39", "-0.39", "-0.59"):
        assert number in texts, number


def test_output_dot_writes_the_text(cli, tmp_path):
    target = tmp_path / "c.dot"
    result = cli("eval", *EX1, "-o", str(target))
    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == cli("eval", *EX1, "--format", "dot").stdout


def test_without_dot_the_dot_text_is_kept_and_the_user_told_how_to_install(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    target = tmp_path / "circuit.svg"
    result = cli("eval", *EX1, "--output", str(target))
    assert result.exit_code == 1
    assert not target.exists()
    assert (tmp_path / "circuit.dot").read_text(encoding="utf-8").startswith("digraph gradcli {")
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "dot is not installed" in lines[0] and "apt-get install graphviz" in lines[0]
    assert str(tmp_path / "circuit.dot") in lines[0]


@pytest.mark.parametrize("args, message", [
    (["-o", "c.txt"], "should end in .svg, .png, .pdf, .dot"),
    (["-o", "c.svg", "--format", "json"], "--output draws the circuit diagram; it does not go with --format json"),
    (["-o", "c.svg", "--steps"], "--output draws the circuit diagram; it does not go with --steps"),
    (["--steps", "--format", "dot"], "--steps works with --format table, json, latex or markdown, not dot"),
    (["--steps", "--format", "tree"], "--steps works with --format table, json, latex or markdown, not tree"),
])
def test_conflicting_or_bad_flags_are_usage_errors(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = cli("eval", *EX1, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_one_error(cli, tmp_path):
    result = cli("eval", *EX1, "-o", str(tmp_path / "missing" / "c.dot"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot write")


def test_tree_has_the_output_at_the_root(cli):
    result = cli("eval", *EX1, "--format", "tree")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "f = (x + y) * z  value -12  gradient 1  * gate, swaps",
        "├── x + y  value 3  gradient -4  + gate, distributes",
        "│   ├── x  value -2  gradient -4  variable",
        "│   └── y  value 5  gradient -4  variable",
        "└── z  value -4  gradient 3  variable",
    ]


def test_tree_draws_a_shared_gate_once(cli):
    out = cli("eval", "q = x*y; q + exp(q)", "--set", "x=1", "--set", "y=2", "--format", "tree").stdout
    lines = out.splitlines()
    assert sum("q  value 2" in line for line in lines) == 2
    assert sum("(shown above)" in line for line in lines) == 1
    assert lines.index(next(l for l in lines if "(shown above)" in l)) > 1


def test_tree_of_a_long_chain_is_cut_unless_all(cli):
    source = "+".join(["x"] * 300)
    out = cli("eval", source, "--set", "x=1", "--format", "tree").stdout
    assert len(out.splitlines()) == 101
    assert out.splitlines()[-1] == "… 499 more nodes not shown; --all shows every node"
    every = cli("eval", source, "--set", "x=1", "--format", "tree", "--all").stdout
    assert len(every.splitlines()) == 599


def test_the_committed_svg_shows_what_gradcli_draws_today(cli, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed here (CI installs it)")
    committed = (Path(__file__).resolve().parent.parent / "docs" / "sigmoid-neuron.svg").read_text(encoding="utf-8")
    fresh = tmp_path / "fresh.svg"
    assert cli("eval", SIGMOID, *SIGMOID_VALUES, "--digits", "2", "-o", str(fresh)).exit_code == 0

    def texts(svg: str) -> list[str]:
        return sorted(html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))

    assert texts(committed) == texts(fresh.read_text(encoding="utf-8"))
