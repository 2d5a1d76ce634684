"""`gradcli jvp`'s views of a forward-mode pass (gradcli.evaluation.forward.JVP): the table for
people, the narration (--steps), JSON, CSV and plain lines. Pure: every number shown is one the
JVP holds (a gate's value, its local gradients, the tangents in and out, each term).

The table is the mirror image of the backward pass's (render.table, laid out by the same code):
one row per wire into a gate, gates in the order the forward pass visits them (inputs first);
a row reads as the chain rule forward, term = local × input tangent, and the gate's tangent is
the sum of its rows' terms. A constant input carries no tangent and gets no row, as it gets no
gradient in the backward table.

Notation (the narration's header says it): `dv` is v's tangent, its derivative along the
direction t (dv = ∂v·t); `∂q/∂v` is gate q's local gradient with respect to its input v; the
output's tangent `df` is the directional derivative ∂f·t.
"""

from __future__ import annotations

import csv
import re
from itertools import islice
from typing import Mapping

from . import gates, numbers, table
from .jsondoc import dumps, jsonable
from .style import is_console, plain_ascii, write

# One row per wire into a gate, the forward way: what comes in (the input's value and tangent),
# the local gradient, their product (the term), and what goes out (the gate's value and tangent).
HEADERS = ("gate", "op", "role", "input", "input value", "input tangent", "local", "term", "gate output",
           "gate tangent")
HOW_TO_READ = "read a row as the chain rule forward: term = local × input tangent; a gate's tangent is the sum of its terms"
NOTATION = "dv is v's tangent, its derivative along t (dv = ∂v·t); ∂q/∂v is gate q's local gradient"
DEFAULT_ROWS = table.DEFAULT_ROWS  # rows, steps and seeds shown unless --all
CSV_HEADER = ["gate", "op", "role", "input", "value", "local", "input_tangent", "term", "tangent", "input_value",
              "symbol"]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# --steps calls a gate with a long label by one of these letters in its own step (its inputs get
# render.steps' letters, u, v, ..., as in the backward narration)
_GATE_LETTERS = ("g", "h", "q", "a", "b", "c")


class _Wire:
    """What gates.role reads of an edge: the gate and the local gradient of this wire."""

    __slots__ = ("gate", "local")

    def __init__(self, gate, local) -> None:
        self.gate = gate
        self.local = local


def _wires(record):
    """(index, input node) of each input that carries a tangent: every input but the constants."""
    return [(k, inp) for k, inp in enumerate(record.node.inputs) if inp.kind != "const"]


def _value_of(node, gate_values: dict, values: Mapping):
    """An input's value: a gate's from its record, a variable's as given (else its default)."""
    if node.kind == "gate":
        return gate_values.get(node.id)
    if node.kind == "var":
        value = values.get(node.name) if values is not None else None
        return node.default if value is None else value
    return node.default


def _seed_text(jvp, num, all_rows: bool, ellipsis: str = "…") -> str:
    seeds = list(jvp.seeds.items())
    shown = seeds if all_rows else seeds[:DEFAULT_ROWS]
    text = ", ".join(f"{name} = {num(t)}" for name, t in shown)
    if len(shown) < len(seeds):
        text += f", {ellipsis} ({len(seeds) - len(shown)} more; --all shows every one)"
    return text or "(no variables)"


def _summary(jvp, name: str, num, all_rows: bool, ellipsis: str) -> list[str]:
    return [f"{name} = {num(jvp.value)}",
            f"∂{name}·t = {num(jvp.tangent)}    (the directional derivative of {name} along t)",
            f"t: {_seed_text(jvp, num, all_rows, ellipsis)}"]


def render_table(jvp, out, *, values: Mapping | None = None, name: str = "f", digits: int = 6,
                 all_rows: bool = False, ascii_only: bool = False) -> None:
    """The forward-mode table, then f, ∂f·t and the direction t. `out` is a Rich console (a
    terminal) or a text stream, as for render.table; `values` the variables' values (an input
    variable's value column); `name` the output's name. At most DEFAULT_ROWS rows unless
    `all_rows` (then streamed a block at a time)."""
    ellipsis = "..." if ascii_only else "…"

    def num(value) -> str:
        return numbers.number(value, digits)

    records = jvp.records
    gate_values = {record.node.id: record.value for record in records}
    total = sum(len(_wires(record)) for record in records)
    shown = total if all_rows else min(total, DEFAULT_ROWS)

    def rows():
        for record in records:
            gate = record.node
            view = gate.view
            op = view.symbol if gate.rewrite is None else f"{view.symbol} (stable)"
            label, value, tangent = table.label(gate), num(record.value), num(record.tangent)
            for k, inp in _wires(record):
                local = record.locals[k]
                yield (label, op, gates.role(_Wire(gate, local), view), table.label(inp),
                       num(_value_of(inp, gate_values, values)), num(record.tangents_in[k]), num(local),
                       num(record.products[k]), value, tangent)

    if shown:
        title = f"Forward pass of {gates.title(jvp.graph)}\n{HOW_TO_READ}"
        wires = islice(rows(), shown)
        blocks = (block for block in iter(lambda: list(islice(wires, table.BLOCK)), []))
        streaming = shown > table.BLOCK
        if is_console(out):
            table._rich_blocks(out, title, blocks, streaming=streaming, digits=digits, headers=HEADERS)
        else:
            table._ascii_blocks(out, title, blocks, streaming=streaming, digits=digits, ellipsis=ellipsis,
                                ascii_only=ascii_only, width=table.terminal_width(out), headers=HEADERS)
        if total > shown:
            write(out, f"{ellipsis} {total - shown} more rows not shown; --all shows every row")
        write(out, "")
    text = "\n".join(_summary(jvp, name, num, all_rows, ellipsis))
    write(out, plain_ascii(text) if ascii_only else text)


# -- --steps ----------------------------------------------------------------------------------------

def _d(label: str) -> str:
    """The tangent's name: dx, d(w*x)."""
    return f"d{label}" if _IDENTIFIER.fullmatch(label) else f"d({label})"


def _of(label: str) -> str:
    return label if _IDENTIFIER.fullmatch(label) else f"({label})"


def _factor(text: str) -> str:
    """A number as the right factor of a product: -0.5 in parentheses."""
    return f"({text})" if text.startswith("-") else text


def render_steps(jvp, out, *, values: Mapping | None = None, name: str = "f", digits: int = 6,
                 all_steps: bool = False) -> None:
    """The forward pass narrated one gate at a time, inputs first: the gate and its value, what
    comes in (each input's value and tangent; `values` gives the variables'), its local gradients (formula = number, from the registry's formulas through the gate's view), its
    tangent as the sum of the products local × input tangent. Streamed; at most DEFAULT_ROWS
    steps unless `all_steps`."""
    from ..core.ops import _SHORT
    from .steps import _renamed

    def num(value) -> str:
        return numbers.number(value, digits)

    lines: list[str] = []

    def flush(force: bool = False) -> None:
        if lines and (force or len(lines) >= 200):
            out.write("\n".join(lines) + "\n")
            lines.clear()

    graph = jvp.graph
    output = graph.output
    taken = {node.name for node in graph.nodes if node.name}
    gate_values = {record.node.id: record.value for record in jvp.records}
    lines += [f"Forward pass of {gates.title(graph)} along t, one gate per step, inputs first", NOTATION,
              f"seeds: {', '.join(f'{_d(n)} = {num(t)}' for n, t in islice(jvp.seeds.items(), DEFAULT_ROWS if not all_steps else None))}"
              + (" …" if not all_steps and len(jvp.seeds) > DEFAULT_ROWS else ""), ""]
    count = 0
    for record in jvp.records:
        count += 1
        if not all_steps and count > DEFAULT_ROWS:
            continue
        node = record.node
        view, renamed = _renamed(node, taken)
        letters = {label: letter for letter, label in renamed}
        own = name if node is output else node.label
        if node is output and node.label != name:
            head = f"{name} = {node.label}"
        elif node.name is not None and node.span is not None:
            head = f"{node.name} = {' '.join(node.span.text.split())}"
        elif not _IDENTIFIER.fullmatch(own) and len(own) > _SHORT:  # a long label: a letter for this step
            own = next((g for g in _GATE_LETTERS if g not in taken and g not in letters.values()), own)
            head = f"{own} = {node.label}" if own != node.label else own
        else:
            head = node.label
        lines.append(f"{count}. {head} = {num(record.value)}    [{view.symbol} gate]")
        inputs = _wires(record)
        wires = [(k, letters.get(inp.label, inp.label)) for k, inp in inputs]
        lines.extend(f"   {letter} = {label}" for letter, label in renamed)
        if wires:  # what comes in: each input's value and tangent
            lines.append("   in: " + "; ".join(
                f"{label} = {num(_value_of(inp, gate_values, values))}, {_d(label)} = {num(record.tangents_in[k])}"
                for (k, label), (_, inp) in zip(wires, inputs)))
        if any(isinstance(record.locals[k], str) for k, _ in wires):
            lines.append(f"   not elementwise: each term is a Jacobian-vector product, {_of(own)}'s Jacobian for "
                         "that input times the input's tangent")
            symbols = [f"∂{_of(own)}/∂{_of(inp)}·{_d(inp)}" for _, inp in wires]
            products = [num(record.products[k]) for k, _ in wires]
        else:
            locals_ = []
            for k, inp in wires:
                formula, local = view.formulas[k], num(record.locals[k])
                text = local if formula in ("", local) else f"{formula} = {local}"
                locals_.append(f"∂{_of(own)}/∂{_of(inp)} = {text}")
            lines.append("   " + ", ".join(locals_))
            symbols = [f"{num(record.locals[k])}·{_d(inp)}" for k, inp in wires]
            if all(isinstance(record.locals[k], float) and isinstance(record.tangents_in[k], float)
                   for k, _ in wires):
                products = [f"{num(record.locals[k])}·{_factor(num(record.tangents_in[k]))}" for k, _ in wires]
            else:
                products = [num(record.products[k]) for k, _ in wires]
        equation = [numbers.joined_sum(symbols)]
        if products and products != equation:
            equation.append(numbers.joined_sum(products))
        equation.append(num(record.tangent))
        lines.append(f"   {_d(own)} = {' = '.join(dict.fromkeys(equation))}")
        flush()
    if not count:
        lines.append(f"no gates: {name} is a variable or a constant")
    if not all_steps and count > DEFAULT_ROWS:
        lines.append(f"… {count - DEFAULT_ROWS} more steps not shown; --all shows every step")
    lines += ["", f"{name} = {num(jvp.value)}",
              f"∂{name}·t = {_d(name)} = {num(jvp.tangent)}    (the directional derivative of {name} along t)"]
    flush(force=True)


def steps_text(jvp, **options) -> str:
    """The narration as one string (see `render_steps`)."""
    import io

    out = io.StringIO()
    render_steps(jvp, out, **options)
    return out.getvalue()[:-1]


# -- machine formats ----------------------------------------------------------------------------

def json_label(node) -> str:
    """A node's label in JSON: its name, else its source text on one line, cut with … past
    jsondoc.TEXT_LIMIT characters (as `eval`'s "text": a 10,000-term sum's gates would otherwise
    write its whole text each, some 10⁹ characters)."""
    from .jsondoc import TEXT_LIMIT

    if node.name is not None:
        return node.name
    text = node.text if node.text is not None else node.span.short_text(TEXT_LIMIT)
    return f"{node.scope}: {text}" if node.scope else text


def document(jvp, values: Mapping | None = None) -> dict:
    """`--format json`: {"f", "tangent" (∂f·t), "seeds" {name: t}, "gates", "warnings"}. A gate:
    its id, label (json_label), op, symbol, role, value, tangent and per input that carries a tangent (every
    input but the constants) its id, label, value, tangent, formula (the local gradient as the
    registry writes it), local and term (local × tangent; for an op that is not elementwise, the
    local is the formula and the term its Jacobian-vector product). nan and inf as "NaN",
    "Infinity", "-Infinity"."""
    records = jvp.records
    gate_values = {record.node.id: record.value for record in records}
    gates_ = []
    for record in records:
        node = record.node
        view = node.view
        gates_.append({
            "id": node.id,
            "gate": json_label(node),
            "op": node.op_name,
            "symbol": view.symbol,
            "role": view.role,
            "value": jsonable(record.value),
            "inputs": [{
                "id": inp.id,
                "input": json_label(inp),
                "value": jsonable(_value_of(inp, gate_values, values)),
                "tangent": jsonable(record.tangents_in[k]),
                "formula": view.formulas[k],
                "local": jsonable(record.locals[k]),
                "term": jsonable(record.products[k]),
            } for k, inp in _wires(record)],
            "tangent": jsonable(record.tangent),
        })
    return {
        "f": jsonable(jvp.value),
        "tangent": jsonable(jvp.tangent),
        "seeds": {name: jsonable(t) for name, t in jvp.seeds.items()},
        "gates": gates_,
        "warnings": list(jvp.warnings),
    }


def render_json(jvps: Mapping, out, *, values: Mapping | None = None, keyed: bool = False) -> None:
    """One document: the JVP's (`jvps` holds one), or with `keyed` (--outputs) {"outputs": {name:
    its document}} in the outputs' order."""
    if keyed:
        data = {"outputs": {name: document(j, values) for name, j in jvps.items()}}
    else:
        data = document(next(iter(jvps.values())), values)
    out.write(dumps(data) + "\n")


def render_csv(jvps: Mapping, out, *, values: Mapping | None = None, keyed: bool = False) -> None:
    """`--format csv`: a header, then one line per (gate, input), full precision and whole labels:
    CSV_HEADER's columns (`value` the gate's output, `tangent` the gate's tangent), with a first
    column `output` when `keyed` (--outputs)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((["output"] if keyed else []) + CSV_HEADER)
    exact = numbers.exact
    for name, jvp in jvps.items():
        records = jvp.records
        gate_values = {record.node.id: record.value for record in records}
        for record in records:
            gate = record.node
            view = gate.view
            for k, inp in _wires(record):
                local = record.locals[k]
                writer.writerow(([name] if keyed else []) + [
                    gates.whole_label(gate), gate.op_name, gates.role(_Wire(gate, local), view),
                    gates.whole_label(inp), exact(record.value), exact(local), exact(record.tangents_in[k]),
                    exact(record.products[k]), exact(record.tangent),
                    exact(_value_of(inp, gate_values, values)), view.symbol])


def render_plain(jvps: Mapping, out, *, keyed: bool = False) -> None:
    """`--format plain`: `f VALUE` and `jvp VALUE` lines (an array as a JSON list, as
    render.plain writes it); with `keyed` (--outputs), `NAME VALUE` and `jvp:NAME VALUE` per
    output."""
    lines = []
    for name, jvp in jvps.items():
        lines += ([f"{name} {numbers.exact(jvp.value)}", f"jvp:{name} {numbers.exact(jvp.tangent)}"] if keyed
                  else [f"f {numbers.exact(jvp.value)}", f"jvp {numbers.exact(jvp.tangent)}"])
    out.write("\n".join(lines) + "\n")
