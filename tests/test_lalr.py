"""The table-driven parser (gradcli/language/lalr.py over gradcli/language/lalr_tables.py) against Lark itself.

- the committed tables are exactly what the installed Lark makes of grammar/gradcli.lark;
- a normal parse imports no Lark, and importing gradcli.language.parser does no work;
- on every string literal of the test suite, the README's programs, edge cases of each token,
  random programs and random mutations of all these, both parsers build the same graph (same
  nodes, ops, names, constants and spans) or raise the same error at the same place;
- an edited grammar is noticed and the tables are rebuilt; a grammar the driver cannot reproduce
  falls back to Lark.
"""

from __future__ import annotations

import ast
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradcli
from gradcli.language import parser
from gradcli.language.lalr import Parser
from gradcli.language.lalr_build import TABLES_MODULE, GrammarNotSupported, generate, render
from gradcli.language.lalr_update import current
from gradcli.language.lalr_reference import LarkParser

from exprtrees import any_tree, program, text as tree_text

TESTS = Path(__file__).resolve().parent
README = TESTS.parent / "README.md"


def test_committed_tables_are_what_lark_makes_of_the_grammar():
    _, tables = current()
    assert TABLES_MODULE.read_text(encoding="utf-8") == render(tables), (
        "gradcli/language/lalr_tables.py is stale: run `python -m gradcli.language.lalr_update` and commit it")


def test_a_parse_imports_no_lark_and_importing_the_parser_does_no_work():
    code = (
        "import sys, gradcli.language.parser\n"
        "assert 'gradcli.language.lalr_tables' not in sys.modules and gradcli.language.parser._PARSER is None\n"
        "g = gradcli.language.parser.parse('q = x*y\\nq + exp(-q)')\n"
        "assert len(g.nodes) == 6, g.nodes\n"
        "print(sorted(m for m in sys.modules if 'lark' in m.lower()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- one parser against the other ----------------------------------------------------------------

@pytest.fixture(scope="module")
def lark_parser():
    # `_parse_with` skips what `parse` does first for a text with diff(…): compile the rules (a
    # rule is itself parsed); without this the test depends on an earlier test having done it
    from gradcli.differentiation.derivative import RULES

    RULES.load_all()
    return LarkParser(parser.grammar_path().read_text(encoding="utf-8"), parser._BUILDER)


def _outcome(driver, text: str):
    """What parsing gives: the graph's nodes in detail, or the error's type, message and place."""
    try:
        graph = parser._parse_with(driver, text)
    except gradcli.GradcliError as exc:
        return ("error", type(exc).__name__, exc.render(), exc.line, exc.column)
    nodes = [(n.id, n.kind, n.op_name, n.name, n.default, n.params, n.span.start, n.span.end,
              tuple(i.id for i in n.inputs)) for n in graph.nodes]
    return ("graph", graph.to_source(), graph.output.id, nodes, [str(d) for d in graph.notes])


def _compare(lark_parser, texts):
    ours = parser._parser()
    assert isinstance(ours, Parser)
    for text in texts:
        expected = _outcome(lark_parser, text)
        assert _outcome(ours, text) == expected, f"the parsers differ on {text!r}"


EDGE_CASES = [
    # numbers
    "1e-3", "1E+4 * x", ".5", "2.", "2.e3", "2.5e", "1e", "0.5.5", "1..2", "..5", "007", "1e999",
    "3x", "3 x", "2(x)", "x2", "_x", "x_1", "__x", "x__", "_", "__", "a.b", "x.5", "x .5",
    # operators
    "x**2", "x^2", "x ** -y", "2^3^2", "-x**2", "--x", "+-+x", "x*-y", "x @ y", "x@@y", "x***y",
    "x * * y", "x ^^ y", "x+=1", "x += 1", "x -= 1\nx", "x *= 2; x", "x /= 2; x", "x =+ 1",
    "1 +=2", "x+ =1", "f(x) += 1", "f(x) = x*2\nf(3)", "(x) = 1", "x = = 1", "x == 1", "1 = x",
    "x *=", "+=", "**", "^", "@", "=", ",", ";", ")", "(", "()", "(,)", "f(,)", "f(x,)",
    "sum(x, axis=0)", "sum(x, axis = -1)", "sum(axis=0, x)", "max(x, y)", "f(x=1)", "g(t, t) = t",
    # separators, newlines and comments inside and outside parentheses
    "a = 1\nb = 2\na*b", "a = 1;b = a;b", ";;x;;", "\n\nx\n\n", "x\n+ y", "x +\ny", "(x\n+ y)",
    "(x +\n y)", "f(x,\n y)", "(\n\nx\n\n)", "(x # comment\n + y)", "x # comment", "# c\nx",
    "x\r\ny", "a = 1\r\nb = a\r\nb", "(x\r\n+ y)", "x\r", "x\r\r\n", "\r\n", "x \t\f y", "x\t*\ty",
    "(x))", "((x)", ")(", "x)\n(y", "(" * 30 + "x" + ")" * 29, "f(" * 5 + "x" + ")" * 5,
    # characters outside the language
    "x $ y", "x·y", "∂f", "x\u00a0+ y", "x\x00", "é + 1", "x\x0b", "'x'", '"x"', "x!", "x?", "[x]",
    "{x}", "x\\y", "x`", "x|y", "x&y", "x%y", "x<y", "x > y", "~x", "$", "", " ", "#", "x #",
    # Python lookalikes
    "__import__", "__import__('os')", "os.system('ls')", "x.__class__", "lambda: 1", "[x for x in y]",
]


def test_edge_cases_of_every_token(lark_parser):
    _compare(lark_parser, EDGE_CASES)


def _string_literals() -> list[str]:
    """Every string constant in the test suite: programs, and plenty of things that are not."""
    found = set()
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 3000:
                found.add(node.value)
    return sorted(found)


def _readme_programs() -> list[str]:
    """The quoted programs of the README's command lines."""
    return sorted(set(re.findall(r'gradcli \w+ "([^"]*)"', README.read_text(encoding="utf-8"))))


def _mutations(texts, rng: random.Random, count: int) -> list[str]:
    alphabet = list("x1(),;=+-*/^@.e_#\n\r\t ") + ["**", "+=", "\u00a0", "é", "__", "\n)"]
    out = []
    for _ in range(count):
        text = rng.choice(texts)
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(text))
            op = rng.random()
            if op < 0.4:
                text = text[:i] + rng.choice(alphabet) + text[i:]
            elif op < 0.7:
                text = text[:i] + text[i + 1:]
            else:
                text = text[:i] + rng.choice(alphabet) + text[i + 1:]
        out.append(text)
    return out


def test_the_test_suites_strings_and_the_readmes_programs(lark_parser):
    corpus = _string_literals() + _readme_programs()
    assert len(corpus) > 500
    _compare(lark_parser, corpus)


def test_random_programs_and_their_mutations(lark_parser):
    rng = random.Random(20261127)
    texts = [program(rng) for _ in range(150)]
    texts += [tree_text(any_tree(rng, rng.randint(1, 5))) for _ in range(150)]
    texts += ["\n".join(rng.sample(texts, 3)) for _ in range(50)]
    seeds = texts + EDGE_CASES + _readme_programs()
    _compare(lark_parser, texts + _mutations(seeds, rng, 2500))


# -- the token loop ---------------------------------------------------------------------------------

def test_tokens_keep_their_text_and_place():
    graph = gradcli.parse("  1e-3 * .5 + 2. \n")
    consts = [(n.default, n.span.text) for n in graph.nodes if n.kind == "const"]
    assert consts == [(1e-3, "1e-3"), (0.5, ".5"), (2.0, "2.")]
    (name,) = [n for n in gradcli.parse("1 + x").nodes if n.kind == "var"]
    assert (name.name, name.span.start, name.span.end) == ("x", 4, 5)


def test_newlines_inside_parentheses_are_whitespace_but_not_outside():
    assert gradcli.parse("(x\n  + y) * (\n z\r\n)").to_source() == "(x + y) * z"
    with pytest.raises(gradcli.GradcliSyntaxError) as info:
        gradcli.parse("x +\ny")
    assert info.value.message.startswith("unexpected new line") and info.value.column == 4


def test_the_contextual_lexer_is_reproduced():
    # after `1 `, "+=" is not accepted: Lark's contextual lexer reads "+" and then "=", as we do
    with pytest.raises(gradcli.GradcliSyntaxError) as info:
        gradcli.parse("1 +=2")
    assert info.value.message.startswith("unexpected '='") and info.value.column == 4


def test_long_and_deep_input_parse_in_linear_time():
    def best(text, repeats):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            gradcli.parse(text, max_chars=None)
            times.append(time.perf_counter() - start)
        return min(times)

    small, large = 5_000, 50_000
    ratio = best(" + ".join(["x"] * large), 2) / best(" + ".join(["x"] * small), 3)
    assert ratio < 25, f"10x the terms took {ratio:.1f}x the time"
    ratio = best("(" * large + "x" + ")" * large, 2) / best("(" * small + "x" + ")" * small, 3)
    assert ratio < 25, f"10x the depth took {ratio:.1f}x the time"


# -- the tables follow the grammar ---------------------------------------------------------------

@pytest.fixture()
def grammar_file(tmp_path, monkeypatch):
    """Point the parser at a copy of the grammar that the test may edit; restore it afterwards."""
    path = tmp_path / "gradcli.lark"
    path.write_text(parser.grammar_path().read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(parser, "grammar_path", lambda: path)
    monkeypatch.setattr(parser, "_PARSER", None)
    return path


def test_an_edited_grammar_rebuilds_the_tables(grammar_file):
    grammar_file.write_text(grammar_file.read_text().replace('POW: "**" | "^"', 'POW: "**"'))
    assert gradcli.parse("2**3").to_source() == "2**3"
    with pytest.raises(gradcli.GradcliSyntaxError, match=r"unexpected character '\^'"):
        gradcli.parse("2^3")
    assert isinstance(parser._PARSER, Parser)


def test_the_same_grammar_with_other_line_endings_keeps_the_tables(grammar_file):
    grammar_file.write_bytes(grammar_file.read_bytes().replace(b"\n", b"\r\n"))
    from gradcli.language.lalr_tables import TABLES

    gradcli.parse("x")
    assert isinstance(parser._PARSER, Parser) and parser._PARSER.rows[0] == dict(TABLES["action"][0])


def test_a_grammar_the_driver_cannot_reproduce_falls_back_to_lark(grammar_file):
    # a keyword that the name pattern also matches: Lark retypes such tokens, the driver does not
    grammar_file.write_text(grammar_file.read_text().replace(
        '| expr                     -> expression',
        '| expr                     -> expression\n          | "let" NAME "=" expr      -> assign'))
    with pytest.raises(GrammarNotSupported):
        generate(grammar_file.read_text(), parser.GraphBuilder)
    assert gradcli.parse("let a = 2\na * x").to_source() == "2 * x"
    assert isinstance(parser._PARSER, LarkParser)
    with pytest.raises(gradcli.GradcliSyntaxError, match="unexpected end of input"):
        gradcli.parse("let a =")


def test_whitespace_is_folded_only_where_lark_would_always_skip_it():
    from gradcli.language.lalr_build import _skippable

    assert _skippable((("NAME", r"[a-z]+"), ("WS", r"[ \t]+"), ("C", r"#[^\n]*")), ["WS", "C"]) \
        == r"(?:(?:[ \t]+)|(?:#[^\n]*))*"
    # a terminal tried before could start with the same character: no fold
    assert _skippable((("A", r"\s+x"), ("WS", r"[ ]+")), ["WS"]) is None
    assert _skippable((("A", r"x?\t"), ("WS", r"[ \t]+")), ["WS"]) is None
    assert _skippable((("A", r"(?:a|(?=b) )"), ("WS", r"[ ]+")), ["WS"]) is None
    assert _skippable((("A", r"[^a]"), ("WS", r"[ ]+")), ["WS"]) is None
    # after the terminal, nothing to prove; a terminal that is not ignored is never folded
    assert _skippable((("WS", r"[ ]+"), ("A", r" x")), ["WS"]) == r"(?:(?:[ ]+))*"
    assert _skippable((("WS", r"[ ]+"),), []) is None
    # an expression with groups would shift the numbering of the loop's groups: not folded
    assert _skippable((("WS", r"(?: )+"), ("NL", r"(\n)+")), ["WS", "NL"]) == r"(?:(?:(?: )+))*"
