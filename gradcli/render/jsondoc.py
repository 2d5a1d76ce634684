"""`--format json`: one JSON document, valid even with nan and inf (written as strings)."""

from __future__ import annotations

import json
from bisect import bisect_right
from itertools import compress, repeat
from operator import is_
from typing import TYPE_CHECKING

import numpy as np

from ..core.trace import Result

if TYPE_CHECKING:
    from ..evaluation.check import CheckReport

# How long a node's source text may be in the document; `span` locates the rest.
TEXT_LIMIT = 200

_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def jsonable(value):
    """A number or array as JSON data: floats, nested lists, and "NaN"/"Infinity"/"-Infinity"."""
    if value is None or isinstance(value, str):  # a str: the formula of a non-elementwise Jacobian
        return value
    if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.ndim == 0):
        number = float(value)  # the common case, a scalar: no array round trip
        if number - number == 0:
            return number
        return "NaN" if number != number else ("Infinity" if number > 0 else "-Infinity")
    array = np.asarray(value, dtype=np.float64)
    finite = np.isfinite(array)
    if finite.all():
        return array.tolist()
    data = array.astype(object)
    data[np.isnan(array)] = "NaN"
    data[np.isposinf(array)] = "Infinity"
    data[np.isneginf(array)] = "-Infinity"
    return data.tolist()


def document(result: Result) -> dict:
    graph = result.graph
    doc = {
        "value": jsonable(result.value),
        "shape": list(np.shape(result.value)),
        "gradient_of": result.gradient_of,
        "gradients": {name: jsonable(g) for name, g in result.gradients.items()},
        "output": graph.output.id,
    }
    if result.trace is not None:
        nodes = []
        forks = []
        for record in result.trace:
            node = record.node
            line, column = node.span.source.line_col(node.span.start)
            by_index = {edge.index: edge for edge in record.edges}
            view = node.view if node.kind == "gate" else None
            inputs = []
            for index, inp in enumerate(node.inputs):
                edge = by_index.get(index)
                inputs.append({
                    "id": inp.id,
                    "local": jsonable(edge.local) if edge else None,
                    "upstream": jsonable(edge.upstream) if edge else None,
                    "result": jsonable(edge.result) if edge else None,
                })
            nodes.append({
                "id": node.id,
                "op": node.op_name,
                "symbol": view.symbol if view else None,
                "role": view.role if view else None,
                "name": node.name,
                "rewrite": node.rewrite,
                "text": node.span.short_text(TEXT_LIMIT),
                "span": {"start": node.span.start, "end": node.span.end, "line": line, "column": column},
                "value": jsonable(record.value),
                "gradient": jsonable(record.gradient),
                "inputs": inputs,
            })
            if record.is_fork:
                forks.append({
                    "id": node.id,
                    "terms": [jsonable(edge.result) for edge in record.arrivals],
                    "total": jsonable(record.gradient),
                })
        doc["nodes"] = nodes
        doc["forks"] = forks
    return doc


def dumps(data) -> str:
    # ASCII like the other documents (σ is \u03c3): the same data, and safe on any terminal
    return json.dumps(data, allow_nan=False, indent=2)


def write_matrix_document(doc: dict, key: str, out) -> None:
    """A document whose entry `key` is a matrix (a 2-D array), each other entry on one line and
    the matrix one row a line, in the document's order: a Hessian's, a Jacobian's. Written row
    by row: a matrix of millions of entries is never held as text or as lists."""
    out.write("{")
    sep = "\n"
    for name, value in doc.items():
        out.write(f"{sep}  {json.dumps(name)}: ")
        sep = ",\n"
        if name != key:
            out.write(json.dumps(value, allow_nan=False))
        elif len(value) == 0:
            out.write("[]")
        else:
            out.write("[")
            for i, row in enumerate(value):
                out.write(("\n    " if i == 0 else ",\n    ") + json.dumps(jsonable(row), allow_nan=False))
            out.write("\n  ]")
    out.write("\n}\n")


def render(result: Result) -> str:
    """The document as one string: the same text `write` streams."""
    import io

    out = io.StringIO()
    write(result, out)
    return out.getvalue()


def _view_fields(op, constants: tuple, cache: dict) -> tuple[str, str]:
    """A gate's "symbol" and "role" as JSON text. They depend on the op and its constant inputs
    only (not on the inputs' labels, which only the formulas name): computed once per kind."""
    key = (id(op), constants)  # (an op's own hash is slower; the cache lives while op does)
    fields = cache.get(key)
    if fields is None:
        from ..core.ops import gate_view

        view = gate_view(op, constants, (None,) * len(constants))
        enc = json.encoder.encode_basestring_ascii
        fields = cache[key] = (enc(view.symbol) if view.symbol is not None else "null",
                               enc(view.role) if view.role is not None else "null")
    return fields


def write(result: Result, out) -> None:
    """Write the document to the text stream `out`, one block of nodes at a time: the text is
    exactly `json.dumps(document(result), allow_nan=False, indent=2)`, without holding the
    document (or its text) whole. A 100,000-node trace's document is ~60 MB of text, and several
    times that as dicts; json's indenting encoder is pure Python. Here each node is laid out by a
    template, strings by json's own C helper, a finite float as json writes it (float.__repr__),
    anything else (arrays, nan/inf) by json itself.

    Writing the shortest repr of a float (~0.75 µs) is most of the work, and a trace repeats its
    numbers (an edge's upstream is its gate's gradient, a sum's result its input's gradient, a
    product's local the other factor): each block's floats are formatted once. A scalar run's
    result is written from its columns (_write_columns), without making the records at all."""
    enc = json.encoder.encode_basestring_ascii
    float_repr = float.__repr__

    def value(data, level: int) -> str:
        """One JSON value at nesting `level`, laid out as json.dumps(indent=2) lays it there."""
        if data is None:
            return "null"
        if type(data) is float:
            return float_repr(data)
        if type(data) is str:
            return enc(data)
        if type(data) is int:
            return int.__repr__(data)
        text = json.dumps(data, allow_nan=False, indent=2)
        return text.replace("\n", "\n" + "  " * level) if level else text

    known: dict = {}  # float -> its text, for the current block (never a zero: 0.0 == -0.0)

    def number(data, level: int) -> str:
        if data.__class__ is float and data * 0.0 == 0.0:  # a finite float
            text = known.get(data)
            if text is None:
                text = float_repr(data)
                if data:
                    known[data] = text
            return text
        return value(jsonable(data), level)

    _write_head(result, out, value, number)
    columns = result.columns
    if columns is not None and _write_columns(result.graph, columns, out):
        return
    trace = result.trace
    if trace is None:
        out.write("\n}")
        return
    out.write(",\n")
    lines: list[str] = []
    views: dict = {}

    def flush() -> None:
        out.write("".join(lines))
        lines.clear()
        known.clear()

    out.write('  "nodes": [' + ("" if trace else "],\n"))
    null_null = ("null", "null")
    texts: dict = {}  # per source: its text, and where its lines start (line_col's answer, by bisect)
    for number_, record in enumerate(trace):
        node = record.node
        span = node.span
        start, end = span.start, span.end
        source = texts.get(span.source)
        if source is None:
            source = texts[span.source] = (span.source.text, _line_starts(span.source.text))
        source_text, starts = source
        line = bisect_right(starts, start)
        if end - start <= TEXT_LIMIT:  # short_text's answer at once when there is no space to squeeze
            text = source_text[start:end]
            if not (text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "):
                text = span.short_text(TEXT_LIMIT)
        else:
            text = span.short_text(TEXT_LIMIT)
        inputs = node.inputs
        if node.kind == "gate":
            symbol, role = _view_fields(node.op, tuple([i.default if i.kind == "const" else None for i in inputs]),
                                        views)
        else:
            symbol, role = null_null
        name = node.name
        rewrite = node.rewrite
        gradient = record.gradient
        gradient_text = number(gradient, 3)
        if gradient.__class__ is not float:
            gradient = None  # an array's text is indented by its level: not an edge's
        lines.append(
            f'{"," if number_ else ""}\n    {{\n'
            f'      "id": {node.id},\n'
            f'      "op": {enc(node.op_name)},\n'
            f'      "symbol": {symbol},\n'
            f'      "role": {role},\n'
            f'      "name": {"null" if name is None else enc(name)},\n'
            f'      "rewrite": {"null" if rewrite is None else enc(rewrite)},\n'
            f'      "text": {enc(text)},\n'
            '      "span": {\n'
            f'        "start": {start},\n'
            f'        "end": {end},\n'
            f'        "line": {line},\n'
            f'        "column": {start - starts[line - 1] + 1}\n'
            "      },\n"
            f'      "value": {number(record.value, 3)},\n'
            f'      "gradient": {gradient_text},\n'
            '      "inputs": [')
        if not inputs:
            lines.append("]\n    }")
            continue  # (a variable or a constant: the block is flushed at a gate)
        edges = record.edges
        count = len(inputs)
        if len(edges) != count or edges[0].index or edges[-1].index != count - 1 or (
                count > 2 and [edge.index for edge in edges] != list(range(count))):
            by_index = [None] * len(inputs)  # (an input without an edge: a constant, say)
            for edge in edges:
                by_index[edge.index] = edge
            edges = by_index
        items = []
        for inp, edge in zip(inputs, edges):
            if edge is None:
                items.append(f'\n        {{\n          "id": {inp.id},\n          "local": null,\n'
                             '          "upstream": null,\n          "result": null\n        }')
            else:  # (the upstream is the gate's gradient, the very object: its text is known)
                upstream = edge.upstream
                items.append(f'\n        {{\n          "id": {inp.id},\n'
                             f'          "local": {number(edge.local, 5)},\n'
                             f'          "upstream": {gradient_text if upstream is gradient else number(upstream, 5)},\n'
                             f'          "result": {number(edge.result, 5)}\n        }}')
        lines.append(",".join(items) + "\n      ]\n    }")
        if len(lines) >= 1000:
            flush()
    if trace:
        lines.append("\n  ],\n")
    flush()
    forks = [record for record in trace if len(record.arrivals) > 1]
    out.write('  "forks": [')
    if not forks:
        out.write("]\n}")
        return
    for number_, record in enumerate(forks):
        terms = [edge.result for edge in record.arrivals]
        if all(term.__class__ is float and term * 0.0 == 0.0 for term in terms):  # json.dumps's layout
            terms = "[\n        " + ",\n        ".join([number(term, 4) for term in terms]) + "\n      ]"
        else:
            terms = value([jsonable(term) for term in terms], 3)
        lines.append(("," if number_ else "") + "\n    {\n"
                     f'      "id": {record.node.id},\n'
                     f'      "terms": {terms},\n'
                     f'      "total": {number(record.gradient, 3)}\n'
                     "    }")
        if len(lines) >= 1000:
            flush()
    lines.append("\n  ]\n}")
    flush()


# A node of the document as pieces: the texts between its fields (the first node's opener has no
# comma), its fields going between them (_write_columns).
_NODE = ('\n    {\n      "id": ', None, ',\n      "op": ', None, ',\n      "name": ', None,
         ',\n      "rewrite": ', None, ',\n      "text": ', None, ',\n      "span": {\n        "start": ',
         None, ',\n        "end": ', None, ',\n        "line": ', None, ',\n        "column": ', None,
         '\n      },\n      "value": ', None, ',\n      "gradient": ', None, None)
_SLOT = (',\n        {\n          "id": ', None, ',\n          "local": ', None, ',\n          "upstream": ',
         None, ',\n          "result": ', None, '\n        }')
_INPUTS, _NO_INPUTS, _LAST = ',\n      "inputs": [', ',\n      "inputs": []\n    }', '\n        }\n      ]\n    }'
_JSON_NAMES = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}  # as jsonable writes them
# Nodes laid out at a time by _write_columns (its memory: a block's texts).
COLUMN_BLOCK = 4096


def _float_texts(floats: list, known: dict) -> list:
    """Each float's JSON text (None's: null): those in `known` from there, the others formatted
    at once (repr of a list: the C loop of float.__repr__, as json writes them) and added to it.
    A zero is never kept in `known` (0.0 == -0.0 there)."""
    texts = list(map(known.get, floats))
    if None not in texts:
        return texts
    fresh = [number for number in dict.fromkeys(floats) if number not in known]
    made = repr(fresh)[1:-1].split(", ")
    if "n" in "".join(made):  # nan, inf: json's names
        made = [_JSON_NAMES.get(text, text) for text in made]
    known.update(zip(fresh, made))
    known.pop(0.0, None)
    texts = list(map(known.get, floats))
    if None in texts:  # a zero (0.0 == -0.0 in a dict), or a nan not the one formatted
        for n in compress(range(len(texts)), map(is_, texts, repeat(None))):
            number = floats[n]
            texts[n] = _JSON_NAMES.get(repr(number), repr(number))
    return texts


def _reprs(floats: list) -> list:
    """Each float's JSON text, formatted at once (no float repeats enough to look it up)."""
    made = repr(floats)[1:-1].split(", ") if floats else []
    if "n" in "".join(made):  # nan, inf: json's names
        made = [_JSON_NAMES.get(text, text) for text in made]
    return made


def _write_columns(graph, columns, out) -> bool:
    """The nodes and forks of the document from a scalar run's columns (core.trace.RecordColumns),
    without making the records: a block of nodes is an array of pieces (the _NODE and _SLOT
    texts, the fields between them) joined once; its floats are formatted at once (_float_texts),
    the fields that do not depend on the values are read a column at a time (one list per field,
    not a dict per node), and NumPy's index arithmetic places them. False (nothing written) where
    the graph's nodes come from several sources."""
    nodes = columns.nodes
    count = len(nodes)
    # (source, start, end) is read a block at a time, without a Span per node (the parser's are
    # made when read) and without a list for the whole graph (a 10,000-term sum's is ~12 MB)
    source = nodes[0].bounds()[0] if nodes else None
    if any(node.bounds()[0] is not source for node in nodes):
        return False
    enc = json.encoder.encode_basestring_ascii
    source_text = source.text
    line_starts = np.array(_line_starts(source_text))
    constants = any(node.kind == "const" for node in nodes)
    values, gradients = columns.values, columns.gradients
    gates, indexes, inputs, locals_, results = (columns.gates, columns.indexes, columns.inputs, columns.locals,
                                                columns.results)
    gate_array = np.array(gates, dtype=np.int64)
    input_array = np.array(inputs, dtype=np.int64)
    arrivals = np.bincount(input_array, minlength=count) if len(inputs) else np.zeros(count, dtype=np.int64)
    # an input that only one edge reaches has that edge's result as its gradient (-0.0 + r is r,
    # bit for bit): its text is the gradient's, already made
    all_gradient_texts: list = []
    views: dict = {}
    short_texts: dict = {}  # span.short_text(TEXT_LIMIT) by start (and end)
    descriptors: dict = {}  # (id of the op or the kind, arity) -> the op, symbol and role fields as text
    null = "null"
    out.write(',\n  "nodes": [' + ("" if count else "],\n"))
    for first in range(0, count, COLUMN_BLOCK):
        last = min(first + COLUMN_BLOCK, count)
        block = nodes[first:last]
        known: dict = {None: null}
        size = last - first
        arity = np.array([len(node.inputs) for node in block], dtype=np.int64)
        slot_count = int(arity.sum())
        slots_before = np.zeros(size, dtype=np.int64)
        np.cumsum(arity[:-1], out=slots_before[1:])
        node_at = np.arange(size, dtype=np.int64) * len(_NODE) + slots_before * len(_SLOT)
        pieces = np.empty(size * len(_NODE) + slot_count * len(_SLOT), dtype=object)
        for n, text in enumerate(_NODE):
            if text is not None:
                pieces[node_at + n] = text
        if first == 0:
            pieces[0] = _NODE[0]
        else:
            pieces[0] = "," + _NODE[0]
        pieces[node_at[1:]] = "," + _NODE[0]
        pieces[node_at + 1] = list(map(str, range(first, last)))
        # op, symbol and role: by the op (the node's kind for a variable or constant) and arity,
        # except for a gate with a constant input (its symbol folds the constant in)
        keys = [node.kind if node.op is None else id(node.op) for node in block]  # (an op's hash is slow)
        fields = [descriptors.get((key, a)) for key, a in zip(keys, arity.tolist())]
        slot_ids = [inp.id for node in block for inp in node.inputs]
        folded = {n for n, k in zip(np.repeat(np.arange(size), arity).tolist(), slot_ids)
                  if nodes[k].kind == "const"} if constants else ()
        for n in [n for n, text in enumerate(fields) if text is None or n in folded]:
            node = block[n]
            if node.kind == "gate":
                defaults = tuple([i.default if i.kind == "const" else None for i in node.inputs])
                symbol, role = _view_fields(node.op, defaults, views)
            else:
                symbol = role = null
            text = f'{enc(node.op_name)},\n      "symbol": {symbol},\n      "role": {role}'
            if n not in folded:
                descriptors[(keys[n], len(node.inputs))] = text
            fields[n] = text
        pieces[node_at + 3] = fields
        pieces[node_at + 5] = [null if name is None else enc(name) for name in [node.name for node in block]]
        rewrites = [node.rewrite for node in block]
        pieces[node_at + 7] = null if rewrites.count(None) == size else [
            null if rewrite is None else enc(rewrite) for rewrite in rewrites]
        block_bounds = [node.bounds() for node in block]
        starts = [where[1] for where in block_bounds]
        ends = [where[2] for where in block_bounds]
        # a text as it is where it has no space to squeeze (short_text's answer), checked at once
        texts = [source_text[start:end] if end - start <= TEXT_LIMIT else None for start, end in zip(starts, ends)]
        joined = "|".join(filter(None, texts))
        if not (joined.isprintable() and "  " not in joined and " |" not in joined and "| " not in joined
                and joined[:1] != " " and joined[-1:] != " "):  # else one at a time
            texts = [text if text is None or (text.isprintable() and "  " not in text and text[:1] != " "
                                              and text[-1:] != " ") else False for text in texts]
        texts = list(map(enc, map(str, texts)))  # (None, False: placeholders)
        for n in [n for n, text in enumerate(texts) if text == '"None"' or text == '"False"']:
            start, end = starts[n], ends[n]
            key = start if end - start > 4 * TEXT_LIMIT else (start, end)  # (short_text reads no further)
            text = short_texts.get(key)  # (a long sum's left-nested terms share their start)
            if text is None:
                text = short_texts[key] = enc(block[n].span.short_text(TEXT_LIMIT))
            texts[n] = text
        pieces[node_at + 9] = texts
        pieces[node_at + 11] = list(map(str, starts))
        pieces[node_at + 13] = list(map(str, ends))
        if len(line_starts) == 1:  # one line: column = offset + 1
            pieces[node_at + 15] = "1"
            pieces[node_at + 17] = list(map(str, map((1).__add__, starts)))
        else:
            start_array = np.array(starts, dtype=np.int64)
            lines = np.searchsorted(line_starts, start_array, side="right")
            pieces[node_at + 15] = list(map(str, lines.tolist()))
            pieces[node_at + 17] = list(map(str, (start_array - line_starts[lines - 1] + 1).tolist()))
        block_values = values[first:last]
        value_texts = _reprs(block_values)
        pieces[node_at + 19] = value_texts
        known.update(zip(block_values, value_texts))  # (a product's locals are its inputs' values)
        known.pop(0.0, None)
        gradient_texts = _float_texts(gradients[first:last], known)
        pieces[node_at + 21] = gradient_texts
        all_gradient_texts += gradient_texts
        pieces[node_at + 22] = _NO_INPUTS
        has_inputs = node_at[arity > 0]
        pieces[has_inputs + 22] = _INPUTS
        if slot_count:
            slot_at = (np.repeat(node_at + len(_NODE) - slots_before * len(_SLOT), arity)
                       + np.arange(slot_count, dtype=np.int64) * len(_SLOT))
            for n, text in enumerate(_SLOT):
                if text is not None:
                    pieces[slot_at + n] = text
            pieces[slot_at[np.cumsum(arity[arity > 0]) - arity[arity > 0]]] = _SLOT[0][1:]  # a node's first
            pieces[slot_at[np.cumsum(arity[arity > 0]) - 1] + 8] = _LAST
            pieces[slot_at + 1] = list(map(str, slot_ids))
            # this block's edges: their gates' ids are first..last-1, contiguous in the columns
            begin, end = np.searchsorted(gate_array, (first, last))
            begin, end = int(begin), int(end)
            edge_gates = gates[begin:end]
            local_texts = _float_texts(locals_[begin:end], known)
            upstream_texts = [gradient_texts[k - first] for k in edge_gates]
            result_texts = list(map(all_gradient_texts.__getitem__, inputs[begin:end]))
            forked = np.flatnonzero(arrivals[input_array[begin:end]] > 1).tolist()
            if forked:
                for n, text in zip(forked, _float_texts([results[begin + n] for n in forked], known)):
                    result_texts[n] = text
            if end - begin == slot_count:  # every input has its edge, in order
                at = slot_at
            else:  # an input without an edge (a constant): null, null, null
                at = slot_at[(slots_before[gate_array[begin:end] - first] + np.array(indexes[begin:end],
                                                                                      dtype=np.int64))]
                for n in (3, 5, 7):
                    pieces[slot_at + n] = null
            pieces[at + 3] = local_texts
            pieces[at + 5] = upstream_texts
            pieces[at + 7] = result_texts
        out.write("".join(pieces.tolist()))
    if count:
        out.write("\n  ],\n")
    # forks: the nodes where several gradients arrived, each arrival's result in the order the
    # backward pass added them (gates in reverse, a gate's inputs in order)
    forks = np.flatnonzero(arrivals > 1)
    out.write('  "forks": [')
    if not len(forks):
        out.write("]\n}")
        return True
    order = np.lexsort((np.array(indexes, dtype=np.int64), -gate_array, input_array))
    firsts = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(arrivals, out=firsts[1:])
    lines = []
    forks = forks.tolist()
    arrivals = arrivals.tolist()
    order = order.tolist()
    firsts = firsts.tolist()
    for at in range(0, len(forks), 1000):
        block = forks[at:at + 1000]
        known = {None: null}
        totals = _float_texts([gradients[k] for k in block], known)
        terms = _float_texts([results[e] for k in block for e in order[firsts[k]:firsts[k + 1]]], known)
        position = 0
        for n, k, total in zip(range(at, at + len(block)), block, totals):
            many = arrivals[k]
            lines.append(("," if n else "") + '\n    {\n      "id": ' + str(k) + ',\n      "terms": [\n        '
                         + ",\n        ".join(terms[position:position + many]) + '\n      ],\n      "total": '
                         + total + "\n    }")
            position += many
        out.write("".join(lines))
        lines.clear()
    lines.append("\n  ]\n}")
    out.write("".join(lines))
    return True


def _write_head(result: Result, out, value, number) -> None:
    """The document's first keys (value, shape, gradient_of, gradients, output), as
    json.dumps(indent=2) writes them, without the closing brace."""
    gradients = result.gradients
    lines = ["{\n",
             f'  "value": {number(result.value, 1)},\n',
             f'  "shape": {value(list(np.shape(result.value)), 1)},\n',
             f'  "gradient_of": {value(result.gradient_of, 1)},\n',
             '  "gradients": {']
    if gradients:
        enc = json.encoder.encode_basestring_ascii
        texts = list(gradients.values())
        if all(text.__class__ is float for text in texts):  # formatted at once (30,000 of them, say)
            texts = _float_texts(texts, {})
        else:
            texts = [number(g, 2) for g in texts]
        lines.append(",".join(map("\n    %s: %s".__mod__, zip(map(enc, gradients), texts))))
        lines.append("\n  },\n")
    else:
        lines.append("},\n")
    lines.append(f'  "output": {result.graph.output.id}')
    out.write("".join(lines))


def _line_starts(text: str) -> list[int]:
    """The offsets where the lines of `text` start (Source.line_col's table)."""
    starts = [0]
    find = text.find
    i = find("\n")
    while i != -1:
        starts.append(i + 1)
        i = find("\n", i + 1)
    return starts


def check_document(report: CheckReport) -> dict:
    """`gradcli check --format json`: the settings, the verdict and one record per element."""
    tol = report.tolerances
    checks = []
    for e in report.entries:
        checks.append({
            "variable": e.variable,
            "index": list(e.index),
            "label": e.label,
            "analytic": jsonable(e.analytic),
            "numeric": jsonable(e.numeric),
            "error": jsonable(e.error),
            "verdict": e.verdict,
            "kinks": [{"gate": n.label, "op": n.op_name, "line": n.span.line, "column": n.span.column}
                      for n in e.kinks],
            "expected": jsonable(e.expected),
            "expected_error": jsonable(e.expected_error),
            "expected_verdict": e.expected_verdict,
            "passed": e.passed,
        })
    doc = {
        "value": jsonable(report.value),
        "gradient_of": report.gradient_of,
        "h": tol.h,
        "rtol": tol.rtol,
        "atol": tol.atol,
        "passed": report.passed,
        "summary": report.summary(),
        "counts": report.counts(),
        "checks": checks,
    }
    if report.direction is not None:  # check --tangent: the direction t, by variable
        doc["tangent"] = {name: jsonable(t) for name, t in report.direction.items()}
    return doc


def render_check(report: CheckReport) -> str:
    return json.dumps(check_document(report), allow_nan=False, indent=2)
