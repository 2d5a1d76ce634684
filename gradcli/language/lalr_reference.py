"""Lark itself parsing gradcli's grammar: the source of the LALR tables, and the reference parser.

Lark reads grammar/gradcli.lark and analyses it (48 ms, and importing Lark takes ~45 ms more), so
a normal run never calls this module: `gradcli.language.lalr` drives tables generated from it ahead of
time (`gradcli.language.lalr_tables`). It is used to regenerate those tables (gradcli.language.lalr_build), when
the grammar file no longer matches them (a developer edited it), and by the tests that check
that both parsers build the same graph and fail at the same place. Lark is imported only inside
the functions.
"""

from __future__ import annotations

class ParenNewlines:
    """Post-lexer: newlines inside parentheses are whitespace, as in Python.

    `gradcli.language.lalr` does the same in its token loop; the names below are the contract."""

    always_accept = ("_NEWLINE",)
    open, close, newline = "LPAR", "RPAR", "_NEWLINE"

    def process(self, stream):
        depth = 0
        for tok in stream:
            kind = tok.type
            if kind == "LPAR":
                depth += 1
            elif kind == "RPAR":
                depth = max(depth - 1, 0)
            elif kind == "_NEWLINE" and depth:
                continue
            yield _matchlike(tok)


_MATCH_TOKEN = None


def _matchlike(tok):
    """A Lark token that the builder reads as it reads gradcli.language.lalr's tokens, re.Match
    objects: tok.group(), tok.start(), tok.end(), tok.span()."""
    global _MATCH_TOKEN
    if _MATCH_TOKEN is None:
        from lark import Token

        class MatchToken(Token):
            __slots__ = ()

            def group(self) -> str:
                return str(self)

            def start(self) -> int:
                return self.start_pos

            def end(self) -> int:
                return self.end_pos

            def span(self) -> tuple[int, int]:
                return self.start_pos, self.end_pos

        _MATCH_TOKEN = MatchToken
    return _MATCH_TOKEN.new_borrow_pos(tok.type, tok.value, tok)


def build_lark(grammar: str, transformer=None):
    """Lark's LALR parser for `grammar`, with a contextual lexer and the newline post-lexer;
    with a transformer, its methods are called as rules reduce (no tree is built)."""
    from lark import Lark

    return Lark(grammar, parser="lalr", lexer="contextual", postlex=ParenNewlines(),
                transformer=transformer)


class LarkParser:
    """Lark driving the builder, with the interface of gradcli.language.lalr.Parser: `parse(text)` returns
    what the builder's start rule returns, or raises gradcli.language.lalr.ParseFailure."""

    def __init__(self, grammar: str, builder) -> None:
        self.lark = build_lark(grammar, builder)

    def parse(self, text: str):
        from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

        from .lalr import ParseFailure

        try:
            return self.lark.parse(text)
        except UnexpectedInput as exc:
            if isinstance(exc, UnexpectedCharacters):
                pos = exc.pos_in_stream
                kind, value, expected = "char", text[pos], exc.allowed
            elif isinstance(exc, UnexpectedToken):
                tok = exc.token
                pos = tok.start_pos if tok.type != "$END" else len(text)
                kind = "end" if tok.type == "$END" else "newline" if tok.type == "_NEWLINE" else "token"
                value, expected = str(tok.value), exc.expected
            else:  # UnexpectedEOF and any future kind
                pos, kind, value = len(text), "end", ""
                expected = getattr(exc, "expected", ())
            literals = {}
            for name in expected or ():
                try:
                    pattern = self.lark.get_terminal(name).pattern
                except KeyError:
                    continue
                if pattern.type == "str":
                    literals[name] = pattern.value
            raise ParseFailure(kind, value, pos, frozenset(expected or ()), literals) from None
