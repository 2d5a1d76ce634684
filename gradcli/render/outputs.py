"""`gradcli eval --outputs f,g`: every format for several outputs, each output's part made by the
renderer of one output (`results` is {output name: Result}, in the order asked for).

- table, --steps, tree: one output after the other, a blank line between; each table and each
  narration has its own title (`Backward pass of g = exp(q)`), and calls its output by its name
  where one output calls it f (`g = 7.38906`, `∂g/∂x = 14.7781`; the tree's root `g = g`).
- json: {"outputs": {"f": <the one-output document>, "g": ...}}, --steps json likewise.
- csv: the one-output table with a leading `output` column.
- plain: `OUTPUT NAME NUMBER` lines, each output's first line its value (`g g 7.38905609893065`),
  then one per variable (`g x 14.7781121978613` is ∂g/∂x): the one-output lines, each after its
  output's name (`awk '$1 == "g"'` picks one output).
- dot: one digraph per output, a blank line between, its output node labelled by the output's
  name (Graphviz's tools read such a stream: `dot -Tsvg -O` writes one file per digraph).
"""

from __future__ import annotations

import csv
import json
from typing import Mapping

from ..core.trace import Result
from .style import write

# Each function imports the one renderer it wraps: a run loads only the format it prints.


class _Indented:
    """A text stream that writes to `out` with `indent` after every newline (JSON strings hold no
    raw newline, so a document nests inside another this way)."""

    def __init__(self, out, indent: str) -> None:
        self.out = out
        self.indent = indent

    def write(self, text: str) -> None:
        self.out.write(text.replace("\n", "\n" + self.indent))


def write_json(results: Mapping[str, Result], out) -> None:
    """{"outputs": {name: jsondoc's document}}, the text json.dumps(indent=2) gives, streamed one
    output's document at a time (jsondoc.write)."""
    from . import jsondoc

    out.write('{\n  "outputs": {')
    for position, (name, result) in enumerate(results.items()):
        out.write(("," if position else "") + f"\n    {json.encoder.encode_basestring_ascii(name)}: ")
        jsondoc.write(result, _Indented(out, "    "))
    out.write("\n  }\n}")


def steps_document(results: Mapping[str, Result]) -> dict:
    """--steps --format json: {"outputs": {name: the one-output steps document}}."""
    from . import steps as steps_view

    return {"outputs": {name: steps_view.document(result) for name, result in results.items()}}


def render_table(results: Mapping[str, Result], out, **options) -> None:
    """The tables, one per output (options as for table.render)."""
    from . import table as table_view

    for position, (name, result) in enumerate(results.items()):
        if position:
            write(out, "")
        table_view.render(result, out, name=name, **options)


def render_steps(results: Mapping[str, Result], out, **options) -> None:
    """The narrations, one per output (options as for steps.render)."""
    from . import steps as steps_view

    for position, (name, result) in enumerate(results.items()):
        if position:
            out.write("\n")
        steps_view.render(result, out, name=name, **options)


def render_tree(results: Mapping[str, Result], out, **options) -> None:
    """The trees, one per output (options as for tree.render)."""
    from . import tree as tree_view

    for position, (name, result) in enumerate(results.items()):
        if position:
            write(out, "")
        tree_view.render(result, out, name=name, **options)


def render_csv(results: Mapping[str, Result], out) -> None:
    from . import csvtable

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["output", *csvtable.HEADER])
    for name, result in results.items():
        writer.writerows([name, *row] for row in csvtable.rows(result))


class _Prefixed:
    """A text stream that writes each line to `out` after a prefix (the writer writes whole lines)."""

    def __init__(self, out, prefix: str) -> None:
        self.out = out
        self.prefix = prefix

    def write(self, text: str) -> None:
        self.out.write("".join(self.prefix + line for line in text.splitlines(keepends=True)))


def render_plain(results: Mapping[str, Result], out) -> None:
    from . import plain as plain_view

    for name, result in results.items():
        plain_view.render(result, _Prefixed(out, name + " "), name=name)


def render_dot(results: Mapping[str, Result], *, digits: int = 6) -> list[str]:
    """One DOT digraph per output, in order."""
    from . import dot as dot_view

    return [dot_view.render(result, digits=digits, name=name) for name, result in results.items()]
