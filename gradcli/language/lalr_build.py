"""Generate gradcli/language/lalr_tables.py: the LALR tables that Lark builds from grammar/gradcli.lark,
as plain data for gradcli.language.lalr's driver (which then never needs to import Lark).

After editing the grammar, regenerate and commit the result (gradcli.language.lalr_update runs this module
with the parser's GraphBuilder; this module stays below the parser, which uses it too):

    python -m gradcli.language.lalr_update

(tests/test_lalr.py fails while the committed tables differ from what the installed Lark makes of
the grammar; at run time, an edited grammar is noticed and the tables are rebuilt in
memory through this module: the tables carry the grammar's text to compare.)

What is reproduced, and how it is checked here rather than assumed:

- the lexer: one regular expression whose alternatives are Lark's terminals in Lark's order
  (Python's `re` takes the first alternative that matches, as Lark's scanner does). Lark's
  contextual lexer only tries, in each parser state, the terminals that state accepts (plus the
  ignored ones and _NEWLINE); each state's list is recorded, and this module checks that it is
  the root list filtered, in the same order, which is what lets the driver use the root
  expression and fall back to the state's own list only when a token is not accepted;
- runs of ignored terminals (spaces, comments) that Lark would read as such wherever they can
  start (no terminal tried before them can start with their characters: proved from the parsed
  expressions, see _skippable) are consumed before each token, saving a turn of the loop;
- the parser: Lark's action and goto tables, terminals and rules coded as integers, states
  numbered by a breadth-first walk (Lark's own numbering changes from run to run);
- the children: per rule, the callback Lark would call (rule alias, else rule name: a method of
  GraphBuilder), which children it passes (Lark drops anonymous and `_`-named tokens, splices the
  children of `_`-rules into their parent, and passes the lone child of a `?rule` through).

Grammar features this does not reproduce make it raise GrammarNotSupported (the run-time falls
back to Lark itself): keywords colliding with a name pattern, `[x]` placeholders, terminal
callbacks, rules with neither a builder method nor a parent to splice into.
"""

from __future__ import annotations

from pathlib import Path

from .lalr import grammar_key
from .lalr_reference import ParenNewlines, build_lark

TABLES_MODULE = Path(__file__).resolve().parent / "lalr_tables.py"

# Codes 0..2: the terminals the newline post-lexer watches; then the ignored ones, then the rest.
SPECIAL = (ParenNewlines.open, ParenNewlines.close, ParenNewlines.newline)


class GrammarNotSupported(Exception):
    """The grammar uses a Lark feature that the table-driven parser does not reproduce."""


def _may_start(items, char: str) -> tuple[bool, bool]:
    """Whether a parsed regular expression may match a text starting with `char`, and whether it
    may match the empty string; when unsure, it says it may (the answer is used to prove that a
    fold is safe, so erring that way only forgoes the fold)."""
    c = _sre()[1]
    for op, av in items:
        if op is c.LITERAL:
            may, empty = chr(av) == char, False
        elif op is c.NOT_LITERAL:
            may, empty = chr(av) != char, False
        elif op is c.IN:
            may, empty = _in_set(av, char), False
        elif op is c.SUBPATTERN and not av[1] and not av[2]:  # a group without inline flags
            may, empty = _may_start(av[3], char)
        elif op is c.BRANCH:
            results = [_may_start(branch, char) for branch in av[1]]
            may, empty = any(r[0] for r in results), any(r[1] for r in results)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)):
            may, empty = _may_start(av[2], char)
            empty = empty or av[0] == 0
        elif op in (c.ASSERT, c.ASSERT_NOT, c.AT):  # zero width: look past it (a superset)
            may, empty = False, True
        else:  # anything else: assume the worst
            return True, True
        if may:
            return True, empty
        if not empty:
            return False, False
    return False, True


def _in_set(items, char: str) -> bool:
    import re

    c = _sre()[1]
    categories = {c.CATEGORY_DIGIT: r"\d", c.CATEGORY_NOT_DIGIT: r"\D", c.CATEGORY_SPACE: r"\s",
                  c.CATEGORY_NOT_SPACE: r"\S", c.CATEGORY_WORD: r"\w", c.CATEGORY_NOT_WORD: r"\W"}
    negate = False
    found = False
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            found = found or chr(av) == char
        elif op is c.RANGE:
            found = found or av[0] <= ord(char) <= av[1]
        elif op is c.CATEGORY and av in categories:
            found = found or re.fullmatch(categories[av], char) is not None
        else:
            return True
    return found != negate


def _first_chars(items) -> set[str] | None:
    """The characters a parsed expression must start with, when its first item is a plain,
    small set of characters; else None."""
    c = _sre()[1]
    if not items:
        return None
    op, av = items[0]
    if op is c.LITERAL:
        return {chr(av)}
    if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
        return _first_chars(list(av[2]))
    if op is c.SUBPATTERN and not av[1] and not av[2]:
        return _first_chars(list(av[3]))
    if op is c.IN and all(kind is c.LITERAL or (kind is c.RANGE and arg[1] - arg[0] < 256) for kind, arg in av):
        chars = set()
        for kind, arg in av:
            chars.update([chr(arg)] if kind is c.LITERAL else map(chr, range(arg[0], arg[1] + 1)))
        return chars
    return None


def _sre():
    """Python's regular-expression parser and its constants."""
    try:
        from re import _constants, _parser
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_constants as _constants
        import sre_parse as _parser
    return _parser, _constants


def _skippable(lexer: tuple, ignored: list[str]) -> str | None:
    """An expression the driver may consume before each token: the ignored terminals that Lark
    would always choose wherever they can start. That holds for an ignored terminal when every
    terminal tried before it cannot start with any character it starts with (then, wherever it
    can start, Lark tries it first among those that match); folding it saves one turn of the
    loop per run of spaces or comment. None when no terminal qualifies."""
    sre_parse = _sre()[0]
    folded = []
    for position, (name, regexp) in enumerate(lexer):
        if name not in ignored:
            continue
        parsed = sre_parse.parse(regexp)
        first = _first_chars(list(parsed))
        if not first or parsed.state.groups > 1:  # the loop's groups must number as the lexer's
            continue
        earlier = [list(sre_parse.parse(r)) for n, r in lexer[:position]]
        if all(not _may_start(items, char)[0] for items in earlier for char in first):
            folded.append(f"(?:{regexp})")
    return f"(?:{'|'.join(folded)})*" if folded else None


def generate(grammar: str, builder_class) -> dict:
    """The tables for `grammar`, as plain data (ints, strings, tuples, dicts)."""
    parser = build_lark(grammar)
    contextual = parser.parser.lexer.lexer  # PostLexConnector → ContextualLexer
    root = contextual.root_lexer
    root.scanner  # noqa: B018 - builds the scanner and its callbacks
    if root.callback:
        raise GrammarNotSupported(f"terminals with lexer callbacks (keywords?): {sorted(root.callback)}")
    order = [str(t.name) for t in root.scanner.terminals]
    if order != [t.name for t in root.terminals]:
        raise GrammarNotSupported("Lark dropped terminals embedded in others (keywords)")
    ignored = sorted(str(n) for n in parser.ignore_tokens)
    for name in SPECIAL:
        if name not in order:
            raise GrammarNotSupported(f"the post-lexer needs a terminal {name}")
    names = [*SPECIAL, *ignored, *(n for n in order if n not in SPECIAL and n not in ignored), "$END"]
    code = {name: i for i, name in enumerate(names)}

    lexer = tuple((str(t.name), str(t.pattern.to_regexp())) for t in root.scanner.terminals)
    if parser.lexer_conf.g_regex_flags:
        raise GrammarNotSupported("global regex flags")

    table = parser.parser.parser.parser.parse_table
    rules = sorted({rule for row in table.states.values() for action, rule in row.values()
                    if action.name == "Reduce"}, key=lambda r: parser.rules.index(r))
    rule_code = {rule: i for i, rule in enumerate(rules)}
    nonterminals = sorted({str(r.origin.name) for r in parser.rules})
    nt_code = {name: i for i, name in enumerate(nonterminals)}

    # Lark numbers its states in an order that changes from run to run (it walks sets): number
    # them by a breadth-first walk from the start state, symbols in name order.
    start = "start"
    number = {table.start_states[start]: 0}
    queue = [table.start_states[start]]
    for state in queue:
        for symbol, (kind, arg) in sorted(table.states[state].items()):
            if kind.name == "Shift" and arg not in number:
                number[arg] = len(number)
                queue.append(arg)
    if len(number) != len(table.states):
        raise GrammarNotSupported("unreachable parser states")

    actions, gotos, lexers, lexer_sets = [], [], [], {}
    for state in queue:
        row = table.states[state]
        action, goto = {}, {}
        for symbol, (kind, arg) in sorted(row.items()):
            if symbol in code:
                action[code[symbol]] = number[arg] if kind.name == "Shift" else ~rule_code[arg]
            else:
                if kind.name != "Shift":
                    raise GrammarNotSupported(f"a reduce on nonterminal {symbol}")
                goto[nt_code[symbol]] = number[arg]
        actions.append(dict(sorted(action.items())))
        gotos.append(dict(sorted(goto.items())))
        state_lexer = contextual.lexers[state]
        accepted = [t.name for t in state_lexer.terminals]
        if accepted != [n for n in order if n in accepted]:
            raise GrammarNotSupported(f"state {state}'s lexer orders its terminals unlike the root lexer")
        state_lexer.scanner  # noqa: B018 - builds its callbacks
        if state_lexer.callback:
            raise GrammarNotSupported("terminal callbacks in a contextual lexer")
        key = tuple(sorted(code[n] for n in accepted))
        lexers.append(lexer_sets.setdefault(key, len(lexer_sets)))

    builder_methods = {name for name in dir(builder_class) if not name.startswith("__")}
    if builder_methods & set(order):
        raise GrammarNotSupported(f"builder methods named like terminals: {builder_methods & set(order)}")
    rule_data = []
    for rule in rules:
        options = rule.options
        if options.keep_all_tokens or options.empty_indices or options.template_source:
            raise GrammarNotSupported(f"rule {rule}: keep_all_tokens, [ ] placeholders or templates")
        include = tuple((i, sym.name.startswith("_") and not sym.is_term)
                        for i, sym in enumerate(rule.expansion) if not (sym.is_term and sym.filter_out))
        callback = str(rule.alias or rule.origin.name)
        expand1 = bool(options.expand1 and not rule.alias)
        if callback not in builder_methods:
            if not rule.origin.name.startswith("_") and not (expand1 and len(include) == 1 and not include[0][1]):
                raise GrammarNotSupported(f"rule {rule} has no GraphBuilder method {callback!r}")
            callback = None  # a `_`-rule (its parent splices its children in) or a lone child
        rule_data.append((nt_code[rule.origin.name], len(rule.expansion), callback, expand1, include))

    return {
        "grammar": grammar_key(grammar),
        "terminals": tuple(names),
        "literals": {code[t.name]: str(t.pattern.value) for t in root.terminals if t.pattern.type == "str"},
        "ignored": tuple(code[n] for n in ignored),
        "lexer": lexer,
        "skip": _skippable(lexer, ignored),
        "kept": tuple(sorted({str(rule.expansion[i].name) for rule in rules for i, _ in
                              rule_data[rule_code[rule]][4] if rule.expansion[i].is_term})),
        "lexer_sets": tuple(lexer_sets),
        "state_lexer": tuple(lexers),
        "nonterminals": tuple(nonterminals),
        "rules": tuple(rule_data),
        "action": tuple(actions),
        "goto": tuple(gotos),
        "start_state": number[table.start_states[start]],
        "end_state": number[table.end_states[start]],
    }


def render(tables: dict) -> str:
    """The text of gradcli/language/lalr_tables.py for these tables (deterministic, one state a line)."""
    lines = [
        '"""LALR tables of grammar/gradcli.lark, generated by `python -m gradcli.language.lalr_update`: do not edit.',
        "",
        "tests/test_lalr.py checks that regenerating them from the grammar gives exactly this file.",
        '"""',
        "",
        "TABLES = {",
    ]
    for key in sorted(tables):
        value = tables[key]
        if isinstance(value, tuple) and len(value) > 8:
            lines.append(f"    {key!r}: (")
            lines.extend(f"        {item!r}," for item in value)
            lines.append("    ),")
        else:
            lines.append(f"    {key!r}: {value!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"
