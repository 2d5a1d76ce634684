"""`gradcli batch`: one CSV row, one point; per-point f and gradients, vectorised in chunks.

Each data row of the input is an independent point: its columns give the variables of that point
(the header row names them) and `--set` gives the constants that are the same for every row. The
output has, per row, the input cells as they were written, f, and one `df/d<name>` column per
variable that comes from a column: per-point gradients, as JAX's vmap(grad(f)) gives them.

How: the expression is parsed once. A chunk of rows becomes one column array per variable, and
`Graph.evaluate(values, trace=False)` runs once per chunk. Every gate the rows flow through is
elementwise, so f's element i depends on row i only, and the gradient of sum(f) over the chunk
with respect to column x is, element by element, ∂f_i/∂x_i: exactly the per-row gradients. A
`--set` constant is one scalar shared by all the rows, so its gradient from the engine would be
the sum over the rows of the chunk, not a per-row figure: constants get no gradient column (make
the variable a column to get its per-row gradient). Gates that are not elementwise (sum, dot, @,
...) would mix rows and are refused when a row value flows into them.

Memory holds one chunk (its lines, its matrix, the engine's arrays), whatever the input's size.

`run` reads CSV text; `run_table` the same for a table that is already columns (Parquet, from
inputs/tables.py); both write through one writer per format (CSV or NDJSON text, Parquet). The
Dask engine (batch_dask.py) calls them on each partition: one code path for both engines.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, TextIO

import numpy as np

from ..language.composite import mixing_gate
from ..inputs.datafiles import BadRow, header_of, parse_lines
from ..base.errors import GradcliError, MissingValueError, ValueFormatError
from ..core.graph import Graph
from ..core.ops import OVERLOADS
from ..inputs.values import NAME

DEFAULT_CHUNK = 16384
# A chunk also ends once its lines hold this many characters: memory stays bounded whatever the
# --chunk-size and however long the lines.
CHUNK_CHARS = 64 * 2**20
MAX_REPORTED = 20  # failed rows named on stderr; the rest are counted
PROGRESS_BYTES = 32 * 2**20  # a progress bar for inputs this large (and stderr a terminal)


@dataclass
class Summary:
    """What a batch run did: rows read and written, the failed rows, warnings to show once."""

    rows: int = 0
    failed: list[BadRow] = field(default_factory=list)
    failed_count: int = 0
    non_finite: int = 0  # rows with nan/inf in f or a gradient (not failures without --strict)
    warnings: list[str] = field(default_factory=list)
    stopped: bool = False  # --fail-fast stopped the run


class Plan:
    """The checked set-up of a run: the graph, the columns, and which variable comes from where."""

    def __init__(self, graph: Graph, header: list[str], constants: dict[str, np.ndarray],
                 source: str) -> None:
        self.graph = graph
        self.header = header
        self.source = source
        for index, name in enumerate(header):
            if not name:
                raise ValueFormatError(f"{source}: header cell {index + 1} is empty",
                                       hint="the header row names the variables, like x0,x1,w")
            if name == "f" or name.startswith("df/d"):
                raise ValueFormatError(f"{source}: a column is named {name!r}, as an output column is",
                                       hint="rename that column")
        seen = set()
        for name in header:
            if name in seen:
                raise ValueFormatError(f"{source}: the header names column {name!r} twice")
            seen.add(name)
        both = [name for name in header if name in constants]
        if both:
            raise ValueFormatError(f"{both[0]} is both a column of {source} and given by --set",
                                   hint="give each variable one value: drop the --set or the column")
        for name, value in constants.items():
            if np.ndim(value) != 0:
                raise ValueFormatError(
                    f"--set {name}: batch needs a number here, not an array of shape {np.shape(value)}",
                    hint="each row is one point; a constant is one number shared by every row")
        missing = [name for name in graph.required if name not in seen and name not in constants]
        if missing:
            separator = next((sep for sep in (";", "\t") if len(header) == 1 and sep in header[0]), None)
            if separator is not None:  # a semicolon- or tab-separated file read as one column
                shown = "';'" if separator == ";" else "tabs"
                raise ValueFormatError(
                    f"{source}: batch reads comma-separated values, but the header {header[0][:60]!r} "
                    f"looks separated by {shown}",
                    hint=f"separate the columns with commas, e.g. tr '{separator}' ',' < FILE".replace("\t", "\\t"))
            unused = {name: source for name in header if name not in graph.variables}
            unused.update((name, None) for name in constants if name not in graph.variables)
            error = MissingValueError(missing, unused=unused, where=graph.variables, functions=OVERLOADS)
            if error.hint.startswith("add --set"):
                error.hint = f"add a column {missing[0]!r} to {source}, or --set {missing[0]}=VALUE"
            raise error
        self.constants = {name: v for name, v in constants.items() if name in graph.variables}
        # a header cell that is not a variable name (`point id`) can only be copied through
        self.unused = [name for name in header if name not in graph.variables or not NAME.fullmatch(name)]
        self.unused_constants = [name for name in constants if name not in graph.variables]
        # the columns that are variables, in the header's order: each gets a gradient column
        self.row_names = [name for name in header if name in graph.variables and NAME.fullmatch(name)]
        self.column_of = {name: header.index(name) for name in self.row_names}
        self._check_elementwise()

    def _check_elementwise(self) -> None:
        mixing = mixing_gate(self.graph, self.column_of)
        if mixing is not None:  # a user function: only a gate of its body that row values reach mixes rows
            node, inner = mixing
            through = "" if inner is node else f" (through its gate {inner.label!r}, {inner.gate_name})"
            raise GradcliError(
                f"batch evaluates each row on its own, but gate {node.label!r} ({node.gate_name}) "
                f"combines elements{through} and row values flow into it",
                span=node.span,
                hint="in batch, use elementwise functions of the columns; "
                     "use gradcli eval --set X=@file.csv for a function of the whole table")

    def output_names(self) -> list[str]:
        return ["f"] + [f"df/d{name}" for name in self.row_names]


def batch_graph(expression: str, constants: dict[str, np.ndarray]) -> Graph:
    """The graph batch evaluates: `expression` parsed once for the whole run (on each Dask worker
    too); diff(…) is built for scalar variables, since each row is one point."""
    from ..language.parser import parse
    from ..inputs.values import shapes_of

    graph = parse(expression)
    if "diff" in expression:  # each row's variables are scalars: diff(…) is built for those
        shapes = {name: () for name in graph.variables}
        shapes.update(shapes_of(constants))
        graph = parse(expression, shapes=shapes)
        graph.assumes = {}  # the engine runs a chunk of rows at once: a column per variable
    return graph


def wants_progress(size: int | None, stderr_is_terminal: bool) -> bool:
    return stderr_is_terminal and size is not None and size >= PROGRESS_BYTES


def make_writer(plan: Plan, fmt: str, out):
    """The writer of `fmt` ("csv", "ndjson": text to the stream `out`; "parquet": to the
    ParquetOutput `out`)."""
    if fmt == "parquet":
        return ParquetWriter(plan, out)
    return Writer(plan, fmt, out)


class Writer:
    """Formats a chunk's rows as CSV or NDJSON text."""

    def __init__(self, plan: Plan, fmt: str, out=None) -> None:
        self.out = out
        self.plan = plan
        self.fmt = fmt
        self.width = len(plan.header)
        self.outputs = plan.output_names()
        if fmt == "csv":
            self.template = "%s" + ",%s" * len(self.outputs) + "\n"
            self.empty_inputs = "," * (self.width - 1)
        else:
            keys = [json.dumps(name).replace("%", "%%") for name in plan.header + self.outputs]
            self.template = "{" + ", ".join(f"{key}: %s" for key in keys) + "}\n"

    def header(self) -> str:
        if self.fmt == "csv":
            return ",".join(self.plan.header + self.outputs) + "\n"
        return ""

    def begin(self) -> None:
        self.out.write(self.header())

    def write(self, echo, inputs, results, failed, ragged) -> None:
        text = self.chunk(echo, inputs, results, failed, ragged)
        if text:
            self.out.write(text)

    def chunk(self, echo: list[str], inputs: np.ndarray, results: np.ndarray,
              failed: dict[int, BadRow], ragged: set[int]) -> str:
        """`echo`: the input lines' text; `inputs` (rows, columns); `results` (rows, outputs)."""
        rows = len(echo)
        if rows == 0:
            return ""
        if self.fmt == "csv":
            step = 1 + len(self.outputs)
            flat: list = [None] * (rows * step)
            flat[0::step] = echo
            for j in range(len(self.outputs)):
                flat[j + 1::step] = results[:, j].tolist()
            for i in failed:
                flat[i * step + 1:(i + 1) * step] = [""] * (step - 1)
                if i in ragged:
                    flat[i * step] = self.empty_inputs
            return (self.template * rows) % tuple(flat)
        table = np.concatenate([inputs, results], axis=1)
        step = table.shape[1]
        flat = table.ravel().tolist()
        odd = ~np.isfinite(table).all(axis=1)
        if not odd.any() and not failed:
            return (self.template * rows) % tuple(flat)
        lines = []
        names = self.plan.header + self.outputs
        for i in range(rows):
            if i in failed:
                record = {"line": failed[i].line, "error": failed[i].message}
                record.update({name: None for name in names})
                lines.append(json.dumps(record) + "\n")
            elif odd[i]:
                record = {name: _json_number(v) for name, v in zip(names, flat[i * step:(i + 1) * step])}
                lines.append(json.dumps(record) + "\n")
            else:
                lines.append(self.template % tuple(flat[i * step:(i + 1) * step]))
        return "".join(lines)


class ParquetWriter:
    """Writes a chunk's rows to Parquet: the input columns as float64 (null where a cell could not
    be read), f and the df/d<name> columns (null where the row failed), one row group per chunk."""

    def __init__(self, plan: Plan, out: "ParquetOutput") -> None:
        import pyarrow as pa

        self.pa = pa
        self.plan = plan
        self.out = out
        self.names = plan.header + plan.output_names()
        self.schema = pa.schema([(name, pa.float64()) for name in self.names])
        out.open(self.schema)

    def begin(self) -> None:
        pass

    def write(self, echo, inputs, results, failed, ragged) -> None:
        rows = inputs.shape[0]
        if rows == 0:
            return
        pa = self.pa
        masks = [None] * (inputs.shape[1] + results.shape[1])  # Arrow's validity bitmaps: bit i set
        if failed:  # when row i holds a number; a failed row keeps its input cells that were read
            rows_failed = list(failed)
            mask = np.ones(rows, dtype=bool)
            mask[rows_failed] = False
            for j in range(inputs.shape[1]):
                read = mask.copy()
                read[rows_failed] = ~np.isnan(inputs[rows_failed, j])
                masks[j] = read
            masks[inputs.shape[1]:] = [mask] * results.shape[1]
        # Array.from_buffers, not pa.array: pa.array imports pandas (0.9 s) to ask whether a
        # NumPy array is a pandas object
        arrays = [pa.Array.from_buffers(pa.float64(), rows,
                                        [None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little")),
                                         pa.py_buffer(np.ascontiguousarray(column))],
                                        null_count=0 if valid is None else rows - int(valid.sum()))
                  for column, valid in zip((*inputs.T, *results.T), masks)]
        self.out.write(pa.RecordBatch.from_arrays(arrays, schema=self.schema))


ROW_GROUP_ROWS = 65536  # rows of a Parquet output's row group (at least), whatever --chunk-size


class ParquetOutput:
    """A Parquet file written whole or not at all: rows go to a temporary file beside `path`,
    which replaces `path` at commit(); discard() removes it. A run with no rows still writes a
    file with the columns. Chunks are gathered into row groups of at least ROW_GROUP_ROWS rows
    (a chunk of that many or more is a row group of its own), so a small --chunk-size does not
    make a file of small row groups."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.temp = os.path.join(os.path.dirname(os.path.abspath(path)),
                                 f".{os.path.basename(path)}.{os.getpid()}.partial")
        self.writer = None
        self.pending: list = []  # record batches of the row group being gathered
        self.pending_rows = 0

    def open(self, schema) -> None:
        if self.writer is None:
            import pyarrow.parquet as pq

            try:
                # no dictionary pages: float results rarely repeat, and trying them takes 8x the time
                self.writer = pq.ParquetWriter(self.temp, schema, use_dictionary=False)
            except OSError as exc:
                raise GradcliError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def write(self, batch) -> None:
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            import pyarrow as pa

            table = pa.Table.from_batches(self.pending)
            self.pending = []
            self.pending_rows = 0
            self.writer.write_table(table, row_group_size=min(max(table.num_rows, 1), 1 << 20))  # pyarrow's cap

    def commit(self) -> None:
        if self.writer is not None:
            self._flush()
            self.writer.close()
            os.replace(self.temp, self.path)

    def discard(self) -> None:
        self.pending = []
        if self.writer is not None:
            self.writer.close()
            try:
                os.remove(self.temp)
            except OSError:
                pass


def _json_number(value: float):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def run(graph: Graph, stream: TextIO, out, constants: dict[str, np.ndarray], *,
        source: str = "input", fmt: str = "csv", chunk_size: int = DEFAULT_CHUNK,
        fail_fast: bool = False, strict: bool = False,
        on_failure: Callable[[BadRow], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        write_header: bool = True, first_data_line: int | None = None) -> Summary:
    """Read CSV rows from `stream`, write one output row per input row to `out` (a text stream
    for csv and ndjson, a ParquetOutput for parquet).

    `on_failure` is called with each failed row as it is found (to report it on stderr);
    `on_progress` with the number of characters read so far. A part of a larger file (a Dask
    partition) is given as its file's header line then its own lines: `first_data_line` is the
    file's line number of its first line after the header, and `write_header=False` leaves the
    output's header out.
    """
    summary = Summary()
    line_number = 0
    header_line = None
    take = stream.take if hasattr(stream, "take") else (lambda count, max_chars=None: list(islice(stream, count)))
    while header_line is None:
        taken = take(1)
        if not taken:
            break
        line_number += 1
        if taken[0].strip():
            header_line = taken[0]
    if header_line is None:
        raise ValueFormatError(f"{source}: the input is empty",
                               hint="the first line names the variables, e.g. x0,x1,w; then one row per point")
    header = header_of(header_line)
    if header is None:
        raise ValueFormatError(f"{source}: the first line holds only numbers; batch needs a header row",
                               hint="the first line names the variables, e.g. x0,x1,w")
    if first_data_line is not None:
        line_number = first_data_line - 1
    plan, writer, values = _start(graph, header, constants, source, summary, fmt, out, begin=write_header)
    consumed = len(header_line)
    warned: set = set()
    while True:
        lines = take(chunk_size, CHUNK_CHARS)
        if not lines:
            break
        first = line_number + 1
        line_number += len(lines)
        if on_progress is not None:
            consumed += sum(map(len, lines))
            on_progress(consumed)
        matrix, numbers, bad = parse_lines(lines, len(plan.header), first, plan.header)
        if numbers is None:
            echo = [line.rstrip("\r\n") for line in lines]
            numbers_of = None
        else:
            echo = [lines[n - first].rstrip("\r\n") for n in numbers]
            numbers_of = numbers
        if _chunk(graph, plan, writer, summary, values, warned, echo, matrix, numbers_of, first, bad,
                  BadRow, strict=strict, fail_fast=fail_fast, on_failure=on_failure):
            return summary
    return summary


def _start(graph: Graph, header: list[str], constants: dict, source: str, summary: Summary, fmt: str, out, *,
           begin: bool):
    """A run's plan (its warnings in `summary`), its writer (the header written when `begin`)
    and the values dict its chunks fill: what `run` and `run_table` both start with."""
    plan = Plan(graph, header, constants, source)
    _plan_warnings(plan, summary, source)
    writer = make_writer(plan, fmt, out)
    if begin:
        writer.begin()
    values: dict[str, np.ndarray] = dict(plan.constants)
    return plan, writer, values


def run_table(graph: Graph, header: list[str], batches, out, constants: dict[str, np.ndarray], *,
              source: str, fmt: str = "csv", fail_fast: bool = False, strict: bool = False,
              on_failure: Callable[[BadRow], None] | None = None, header_row: bool = True) -> Summary:
    """The same as `run` for a table that is already columns (Parquet): `batches` yields
    (matrix (rows, columns) float64, number of the first row, bad rows, echo lines or None);
    a row is named by its row number in its file ("row 3"), not a line."""
    from ..inputs.tables import TableRow

    summary = Summary()
    plan, writer, values = _start(graph, header, constants, source, summary, fmt, out, begin=header_row)
    warned: set = set()
    for matrix, first, bad, echo in batches:
        if echo is None and fmt != "parquet":
            echo = table_echo(matrix)
            for row in bad:  # a failed row's cells as they were (its good cells, not nan)
                if getattr(row, "echo", None) is not None:
                    echo[row.line - first] = row.echo
        numbers_of = list(range(first, first + matrix.shape[0])) if bad else None
        if _chunk(graph, plan, writer, summary, values, warned, echo, matrix, numbers_of, first, bad,
                  TableRow, strict=strict, fail_fast=fail_fast, on_failure=on_failure):
            return summary
    return summary


def table_echo(matrix: np.ndarray) -> list[str]:
    """The cells of a table that was not text, written as CSV text (shortest round-trip floats)."""
    if matrix.shape[0] == 0:
        return []
    template = ",".join(["%r"] * matrix.shape[1]) + "\n"
    text = (template * matrix.shape[0]) % tuple(matrix.ravel().tolist())
    return text[:-1].split("\n")


def _plan_warnings(plan: Plan, summary: Summary, source: str) -> None:
    if plan.unused:
        listed = ", ".join(repr(name) for name in plan.unused)
        summary.warnings.append(
            f"column {listed} of {source} is not used by the expression (it is copied to the output)"
            if len(plan.unused) == 1 else
            f"columns {listed} of {source} are not used by the expression (they are copied to the output)")
    summary.warnings += [f"--set {name} is not used by the expression" for name in plan.unused_constants]


def _chunk(graph, plan, writer, summary, values, warned, echo, matrix, numbers_of, first, bad, row_kind, *,
           strict, fail_fast, on_failure) -> bool:
    """Evaluate one chunk and write it; True when --fail-fast stopped the run here."""
    rows = matrix.shape[0]
    failed = {}
    ragged = set()
    if bad:
        index_of = {n: i for i, n in enumerate(numbers_of)}
        for row in bad:
            i = index_of[row.line]
            failed[i] = row
            if row.column == "":
                ragged.add(i)
    results = _evaluate(graph, plan, matrix, values, rows, warned, summary) if rows else \
        np.empty((0, len(plan.output_names())))
    finite = np.isfinite(results).all(axis=1)
    odd = np.flatnonzero(~finite)
    odd = [int(i) for i in odd if i not in failed]  # Python ints: a row number goes into JSON
    if odd:
        if strict:
            for i in odd:
                number = numbers_of[i] if numbers_of is not None else first + i
                failed[i] = row_kind(number, "", "nan or inf in f or a gradient, and --strict is on")
        else:
            summary.non_finite += len(odd)
    if failed and fail_fast:
        stop = min(failed)
        writer.write(echo[:stop], matrix[:stop], results[:stop], {}, set())
        summary.rows += stop
        _fail(summary, failed[stop], on_failure)
        summary.stopped = True
        return True
    for i in sorted(failed):
        _fail(summary, failed[i], on_failure)
    writer.write(echo, matrix, results, failed, ragged)
    summary.rows += rows
    return False


def _fail(summary: Summary, row: BadRow, on_failure) -> None:
    summary.failed_count += 1
    if len(summary.failed) < MAX_REPORTED:
        summary.failed.append(row)
        if on_failure is not None:
            on_failure(row)


def _evaluate(graph: Graph, plan: Plan, matrix: np.ndarray, values: dict, rows: int,
              warned: set, summary: Summary) -> np.ndarray:
    """f and the per-row gradients of a chunk, as a (rows, 1 + variables) matrix."""
    columns = np.ascontiguousarray(matrix.T)
    for name, index in plan.column_of.items():
        values[name] = columns[index]
    result = graph.evaluate(values, trace=False)
    for diagnostic in result.diagnostics:
        if diagnostic.kind == "kink" and diagnostic.message not in warned:
            warned.add(diagnostic.message)
            summary.warnings.append(diagnostic.message + " (in some rows)")
    out = np.empty((rows, 1 + len(plan.row_names)))
    out[:, 0] = result.value
    for j, name in enumerate(plan.row_names):
        out[:, j + 1] = result.gradients[name]
    return out


def input_size(path: str) -> int | None:
    try:
        return os.path.getsize(path) if path != "-" else None
    except OSError:
        return None
