"""Values from files and stdin: NumPy `.npy`, numeric CSV and JSON.

`--set x=@data.npy`, `--set X=@points.csv`, `--set x=@values.json`, `--set x=@-` (stdin, JSON or
CSV) and `--values FILE.json` (one JSON object, name → value) all come through here. Every problem
(a missing file, a non-numeric cell, a ragged CSV, a wrong dtype) is one ValueFormatError naming
the file and, for CSV, the line and column.

The CSV reader is shared with `gradcli batch`: `parse_lines` turns a chunk of lines into a float64
matrix with NumPy's C parser (np.loadtxt) and only falls back to a line-by-line Python reader, to
say which line and cell is wrong, when that fails.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .errors import ValueFormatError

STDIN = "-"
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# -- opening ---------------------------------------------------------------------------------

def source_name(path: str) -> str:
    return "stdin" if path == STDIN else path


def read_text(path: str, stdin=None) -> str:
    """The whole text of a file, or of stdin for "-"."""
    if path == STDIN:
        import sys

        stream = stdin if stdin is not None else sys.stdin
        return stream.read()
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except OSError as exc:
        raise _open_error(path, exc) from None
    except UnicodeDecodeError:
        raise ValueFormatError(f"{path}: not a text file (it is not UTF-8)",
                               hint="CSV and JSON files are text; .npy files are read as binary") from None


def open_text(path: str, stdin=None):
    """A text stream over a file, or stdin for "-"; the caller closes a file."""
    if path == STDIN:
        import sys

        return stdin if stdin is not None else sys.stdin
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise _open_error(path, exc) from None


def _open_error(path: str, exc: OSError) -> ValueFormatError:
    if isinstance(exc, FileNotFoundError):
        return ValueFormatError(f"cannot read {path}: no such file",
                                hint=f"check the path (the current folder is {os.getcwd()})")
    if isinstance(exc, IsADirectoryError):
        return ValueFormatError(f"cannot read {path}: it is a folder, not a file")
    if isinstance(exc, PermissionError):
        return ValueFormatError(f"cannot read {path}: permission denied")
    return ValueFormatError(f"cannot read {path}: {exc.strerror or exc}")


# -- one value: @file ------------------------------------------------------------------------

def load_value(path: str, where: str, stdin=None) -> np.ndarray:
    """The array in a .npy, .csv or .json file, or on stdin (JSON or CSV) for "-"."""
    if not path:
        raise ValueFormatError(f"{where}: no file name after '@'", hint="write x=@data.npy, or x=@- for stdin")
    kind = os.path.splitext(path)[1].lower()
    if path == STDIN:
        text = read_text(path, stdin)
        stripped = text.strip()
        if not stripped:
            raise ValueFormatError(f"{where}: stdin is empty")
        if stripped[0] in "[{":
            return json_value(text, where)
        try:
            return json_value(text, where)
        except ValueFormatError:
            return csv_matrix(text, where)
    if kind == ".npy":
        return _load_npy(path, where)
    if kind == ".csv":
        return csv_matrix(read_text(path), where)
    if kind == ".json":
        return json_value(read_text(path), where)
    raise ValueFormatError(f"{where}: cannot tell the format of {path!r} from its name",
                           hint="use a file ending in .npy, .csv or .json")


def _load_npy(path: str, where: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise _open_error(path, exc) from None
    except ValueError as exc:  # an object array (needs pickle) or a corrupt header
        raise ValueFormatError(f"{where}: {path} is not a numeric .npy array ({exc})",
                               hint="save it with np.save(path, array.astype(float))") from None
    if not isinstance(array, np.ndarray):  # np.load gives an NpzFile for a zip archive
        raise ValueFormatError(f"{where}: {path} is not a .npy array")
    if array.dtype.kind not in "biuf":
        raise ValueFormatError(f"{where}: {path} holds {array.dtype} values, not real numbers",
                               hint="gradcli reads bool, integer and float arrays")
    return array.astype(np.float64, copy=False)


# -- JSON ------------------------------------------------------------------------------------

def _parse_json(text: str, where: str):
    try:
        return json.loads(text, parse_constant=lambda word: _NON_FINITE.get(word, math.nan))
    except json.JSONDecodeError as exc:
        raise ValueFormatError(f"{where}: not valid JSON: {exc.msg} (at line {exc.lineno}, "
                               f"column {exc.colno})") from None
    except RecursionError:
        raise ValueFormatError(f"{where}: the JSON is nested too deeply") from None


def json_value(text: str, where: str) -> np.ndarray:
    """A JSON number or nested list of numbers (or "NaN", "Infinity", "-Infinity") → array."""
    return json_to_array(_parse_json(text, where), where)


def json_to_array(data, where: str) -> np.ndarray:
    if isinstance(data, dict):
        raise ValueFormatError(f"{where}: a JSON object, but one value (a number or a list) is needed",
                               hint="a JSON object of several values goes to --values FILE.json")
    try:
        array = np.asarray(data)
    except ValueError:  # NumPy 2 refuses ragged nested lists
        array = np.asarray(None, dtype=object)
    if array.dtype.kind in "biuf" and not isinstance(data, bool):
        return array.astype(np.float64, copy=False)
    return np.asarray(_clean(data, where, ""), dtype=np.float64)


def _clean(data, where: str, path: str):
    """Nested lists of numbers, non-finite words replaced; the first bad element named."""
    if isinstance(data, bool) or data is None or isinstance(data, dict):
        shown = json.dumps(data)[:20]
        raise ValueFormatError(f"{where}: {'element ' + path if path else 'the value'} is {shown}, not a number")
    if isinstance(data, (int, float)):
        return float(data)
    if isinstance(data, str):
        if data in _NON_FINITE:
            return _NON_FINITE[data]
        raise ValueFormatError(f"{where}: {'element ' + path if path else 'the value'} is the text "
                               f"{data[:20]!r}, not a number")
    items = [_clean(item, where, f"{path}[{i}]") for i, item in enumerate(data)]
    shapes = {np.shape(item) for item in items}
    if len(shapes) > 1:
        raise ValueFormatError(f"{where}: the nested lists {path or ''} are not rectangular".replace("  ", " "),
                               hint="every row of an array needs the same length")
    return items


def load_values(path: str, stdin=None) -> dict[str, np.ndarray]:
    """`--values FILE.json`: one JSON object, each key a variable name and its value."""
    from .values import NAME

    where = f"--values {path}"
    data = _parse_json(read_text(path, stdin), where)
    if not isinstance(data, dict):
        raise ValueFormatError(f"{where}: needs a JSON object, like {{\"x\": 1.5, \"w\": [1, 2]}}")
    values = {}
    for name, value in data.items():
        if not NAME.fullmatch(name):
            raise ValueFormatError(f"{where}: {name!r} is not a variable name",
                                   hint="names are letters, digits and _, not starting with a digit")
        values[name] = json_to_array(value, f"{where}, {name}")
    return values


# -- CSV -------------------------------------------------------------------------------------

def split_cells(line: str) -> list[str]:
    return [cell.strip().strip('"').strip() for cell in line.rstrip("\r\n").split(",")]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def header_of(line: str) -> list[str] | None:
    """The cells of a first line that is a header (some cell is not a number), else None."""
    cells = split_cells(line)
    if all(is_number(cell) for cell in cells):
        return None
    return cells


@dataclass
class BadRow:
    """A line of a CSV that is not a row of numbers: its line number and what is wrong."""

    line: int
    column: str  # "" or ", column 2 (x1)"
    problem: str

    @property
    def message(self) -> str:
        return f"line {self.line}{self.column}: {self.problem}"


def parse_lines(lines: list[str], columns: int, first_line: int, names: list[str] | None = None):
    """A chunk of CSV lines → (float64 matrix (rows, columns), row index → line number or None
    when every line is a row, bad rows). Blank lines are skipped. A bad row's matrix row is nan.

    NumPy's C reader does the work; only a chunk it refuses is read again line by line here.
    """
    try:
        matrix = np.loadtxt(lines, delimiter=",", comments=None, dtype=np.float64, ndmin=2,
                            quotechar='"')
        if matrix.shape == (len(lines), columns):
            return matrix, None, []
    except ValueError:
        pass
    rows, numbers, bad = [], [], []
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        number = first_line + offset
        cells = split_cells(line)
        numbers.append(number)
        if len(cells) != columns:
            bad.append(BadRow(number, "", f"{len(cells)} cell{'s' if len(cells) != 1 else ''}, "
                              f"but the first row has {columns}"))
            rows.append([math.nan] * columns)
            continue
        row = []
        for col, cell in enumerate(cells):
            try:
                row.append(float(cell))
            except ValueError:
                label = f", column {col + 1}" + (f" ({names[col]})" if names and col < len(names) else "")
                problem = f"{cell[:20]!r} is not a number" if cell else "the cell is empty"
                bad.append(BadRow(number, label, problem))
                row = [math.nan] * columns
                break
        rows.append(row)
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), columns)
    return matrix, numbers, bad


def csv_matrix(text: str, where: str) -> np.ndarray:
    """A whole numeric CSV (with or without a header row) → a (rows, columns) matrix."""
    lines = text.splitlines()
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines):
        raise ValueFormatError(f"{where}: the CSV has no rows")
    header = header_of(lines[first])
    start = first + 1 if header is not None else first
    columns = len(header) if header is not None else len(split_cells(lines[first]))
    matrix, _numbers, bad = parse_lines(lines[start:], columns, start + 1, header)
    if bad:
        more = f" (and {len(bad) - 1} more bad lines)" if len(bad) > 1 else ""
        raise ValueFormatError(f"{where}: {bad[0].message}{more}",
                               hint="a CSV value is a table of numbers, with at most one header row")
    if matrix.shape[0] == 0:
        raise ValueFormatError(f"{where}: the CSV has a header but no rows of numbers")
    return matrix
