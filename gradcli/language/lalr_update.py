"""Regenerate gradcli/language/lalr_tables.py after editing grammar/gradcli.lark, and commit the result:

    python -m gradcli.language.lalr_update

The tables are gradcli.language.lalr_build's, made for the parser's GraphBuilder (whose methods are the
grammar's callbacks). This command sits above the parser; gradcli.language.lalr_build stays below it, as
the parser uses it to rebuild the tables in memory when the grammar file was edited.
"""

from __future__ import annotations

import sys

from .lalr_build import TABLES_MODULE, generate, render
from .parser import GraphBuilder, grammar_path


def current() -> tuple[str, dict]:
    """The grammar's text and the tables the installed Lark makes of it."""
    grammar = grammar_path().read_text(encoding="utf-8")
    return grammar, generate(grammar, GraphBuilder)


def main() -> int:
    _, tables = current()
    TABLES_MODULE.write_text(render(tables), encoding="utf-8")
    print(f"wrote {TABLES_MODULE} ({len(tables['action'])} states, {len(tables['rules'])} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
