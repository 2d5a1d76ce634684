"""Values from files and stdin: NumPy `.npy`, numeric CSV, JSON, a Parquet column and Zarr.

`--set x=@data.npy`, `--set X=@points.csv`, `--set x=@values.json`, `--set x=@-` (stdin, JSON or
CSV), `--set x=@data.parquet:column` (pyarrow; a folder of parts: `@parts/:column`, whatever
its name), `--set X=@big.zarr` (a lazy Dask array: the run
computes it chunk by chunk, gradcli.evaluation.array_api) and `--values FILE.json` (one JSON
object, name → value) all come through here. Every problem
(a missing file, a non-numeric cell, a ragged CSV, a wrong dtype) is one ValueFormatError naming
the file and, for CSV, the line and column.

Every read is bounded while it happens, not after: a value file stops at the memory limit, a .npy
file is sized from its header, batch input is read a block at a time with a bound on one line, and
text that is not UTF-8 (or holds a NUL byte) is one message naming the line and column.

The CSV reader is shared with `gradcli batch`: `parse_lines` turns a chunk of lines into a float64
matrix with NumPy's C parser (np.loadtxt) and only falls back to a line-by-line Python reader, to
say which line and cell is wrong, when that fails.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass

import numpy as np

from ..base.errors import ResourceError, ValueFormatError
from .values import MAX_DIMS, NAME

STDIN = "-"
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# -- opening ---------------------------------------------------------------------------------

READ_BLOCK = 1 << 16
# A value file's text is refused past --max-memory; where no limit is given, past this.
DEFAULT_MAX_BYTES = 4 * 2**30
# One CSV line of batch input; a 1,000-column row of 20-character cells is 20,000.
MAX_LINE_CHARS = 8 * 2**20
_NOT_TEXT = re.compile("[\x00\udc80-\udcff]")  # a NUL, or a byte that is not UTF-8 (surrogateescape)


def source_name(path: str) -> str:
    return "stdin" if path == STDIN else path


def binary_stdin(stdin=None):
    """The byte stream under stdin (or under the given text stream)."""
    import sys

    stream = stdin if stdin is not None else sys.stdin
    if stream is None:  # the process was started with stdin closed (<&-)
        raise ValueFormatError("cannot read standard input: it is closed")
    return getattr(stream, "buffer", stream)


def read_limited(binary, where: str, *, max_bytes: int | None = None, max_chars: int | None = None,
                 limit_text: str = "", text_only: bool = False) -> str:
    """The UTF-8 text of a byte stream, read a block at a time and refused *while* reading once it
    passes `max_bytes` bytes or `max_chars` characters: an endless stdin or /dev/zero costs one
    block over the limit, never the whole stream. A leading byte-order mark is dropped.
    `text_only`: a NUL byte is refused too (no JSON or CSV holds one)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    parts: list[str] = []
    nbytes = nchars = 0
    first = b""
    while True:
        try:
            chunk = binary.read(READ_BLOCK)
        except OSError as exc:
            raise ValueFormatError(f"cannot read {where}: {exc.strerror or exc}") from None
        if isinstance(chunk, str):  # a text stream without a byte buffer (io.StringIO)
            chunk = chunk.encode("utf-8", "surrogateescape")
        if not chunk:
            break
        if not first:
            first = chunk[:4]
        nbytes += len(chunk)
        if max_bytes is not None and nbytes > max_bytes:
            raise _too_large(where, nbytes, max_bytes, limit_text, whole=False)
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            done = "".join(parts) + exc.object[:exc.start].decode("utf-8", "replace")
            raise not_utf8(where, done, first) from None
        if text_only and "\0" in text:
            done = "".join(parts) + text[:text.index("\0")]
            raise ValueFormatError(f"{where} is not text: it holds a NUL byte ({_position(done)})",
                                   hint=_utf16_hint(first) or "CSV and JSON files are text")
        parts.append(text)
        nchars += len(text)
        if max_chars is not None and nchars > max_chars:
            raise ResourceError(f"{where}: the program is longer than the limit of {max_chars:,} characters",
                                hint="split the work, or call gradcli.parse(text, max_chars=None) from Python")
    try:
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        raise not_utf8(where, "".join(parts), first) from None
    text = "".join(parts)
    return text[1:] if text.startswith("\ufeff") else text


def _too_large(where: str, size: int, max_bytes: int, limit_text: str, *, whole: bool) -> ResourceError:
    limit = limit_text or f"the limit of {max_bytes:,} bytes for a value file"
    told = f"it is {size:,} bytes" if whole else f"reading stopped at {size:,} bytes"
    return ResourceError(f"{where}: larger than {limit} ({told})",
                         hint="give a smaller file" + (", or raise --max-memory (0: no limit)" if "--max-memory" in limit else ""))


def _position(done: str) -> str:
    """'line L, column C' of the character after the text `done`."""
    line = done.count("\n") + 1
    return f"line {line}, column {len(done) - done.rfind(chr(10))}"


def _utf16_hint(first: bytes) -> str | None:
    if first[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "it starts with a UTF-16 byte-order mark; convert it: iconv -f UTF-16 -t UTF-8"
    return None


def not_utf8(where: str, done: str, first: bytes) -> ValueFormatError:
    """`where` is not UTF-8; `done` is the text before the first bad byte."""
    return ValueFormatError(f"{where} is not UTF-8 text ({_position(done)})",
                            hint=_utf16_hint(first) or "save it as UTF-8")


def read_text(path: str, stdin=None, limit: tuple[int, str] | None = None, where: str | None = None) -> str:
    """The whole text of a file, or of stdin for "-", refused while reading past the limit (bytes,
    how to name it); `where` names it in messages."""
    max_bytes, limit_text = limit or (DEFAULT_MAX_BYTES, "")
    where = where or ("stdin" if path == STDIN else path)
    if path == STDIN:
        return read_limited(binary_stdin(stdin), where, max_bytes=max_bytes, limit_text=limit_text,
                            text_only=True)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise _open_error(path, exc) from None
    with handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:  # no need to read to know
            raise _too_large(where, info.st_size, max_bytes, limit_text, whole=True)
        return read_limited(handle, where, max_bytes=max_bytes, limit_text=limit_text, text_only=True)


def open_text(path: str, stdin=None) -> "CsvLines":
    """The lines of a file, or of stdin for "-" (see CsvLines); the caller closes it."""
    if path == STDIN:
        return CsvLines(binary_stdin(stdin), "stdin", owned=False)
    try:
        return CsvLines(open(path, "rb"), path, owned=True)
    except OSError as exc:
        raise _open_error(path, exc) from None


class CsvLines:
    """The lines of batch input, read a block at a time: checked to be UTF-8 text without NUL
    bytes (the message names the line), a byte-order mark dropped (stdin too), `\r\n` and `\r`
    read as `\n`, and no line longer than MAX_LINE_CHARS (a file without newlines, like
    /dev/zero, is refused after that many characters, not read to its end). Lines come
    without their line ends."""

    BLOCK = 1 << 20

    def __init__(self, binary, where: str, *, owned: bool) -> None:
        import io

        self.where = where
        self._owned = owned
        self._text = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline=None)
        self._lines: list[str] = []
        self._next = 0
        self._partial = ""
        self._split = 0  # lines split off so far, for the line number in messages
        self._first = b""
        self._eof = False
        self.consumed = 0  # characters handed out, for a progress bar

    def _fill(self) -> None:
        try:
            block = self._text.read(self.BLOCK)
        except OSError as exc:
            raise ValueFormatError(f"cannot read {self.where}: {exc.strerror or exc}") from None
        if not block:
            self._eof = True
            self._lines, self._next = ([self._partial] if self._partial else []), 0
            self._partial = ""
            return
        if not self._first:
            self._first = block[:2].encode("utf-8", "surrogateescape")
            if block[0] == "\ufeff":
                block = block[1:]
        text = self._partial + block
        # isascii() is free on an ASCII string: the regular expression only runs on other text
        bad = (_NOT_TEXT.search(text) if not text.isascii() or "\0" in text else None)
        if bad:
            done = text[:bad.start()]
            line = self._split + done.count("\n") + 1
            column = len(done) - done.rfind("\n")
            if bad.group() == "\0":
                raise ValueFormatError(f"{self.where} is not text: it holds a NUL byte (line {line}, column {column})",
                                       hint=_utf16_hint(self._first) or "batch reads a CSV text file")
            raise ValueFormatError(f"{self.where} is not UTF-8 text (line {line}, column {column})",
                                   hint=_utf16_hint(self._first) or "save it as UTF-8")
        lines = text.split("\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_CHARS:
            raise ResourceError(f"{self.where}, line {self._split + len(lines) + 1}: longer than "
                                f"{MAX_LINE_CHARS:,} characters",
                                hint="batch reads one point per line; is this a CSV file?")
        self._split += len(lines)
        self._lines, self._next = lines, 0

    def take(self, count: int, max_chars: int | None = None) -> list[str]:
        """The next `count` lines (fewer at the end), or fewer once they hold `max_chars`."""
        taken: list[str] = []
        chars = 0
        while len(taken) < count:
            if self._next >= len(self._lines):
                if self._eof:
                    break
                self._fill()
                continue
            end = min(len(self._lines), self._next + count - len(taken))
            piece = self._lines[self._next:end]
            self._next = end
            taken += piece
            if max_chars is not None:
                chars += sum(map(len, piece)) + len(piece)
                if chars >= max_chars:
                    break
        self.consumed += sum(map(len, taken)) + len(taken)
        return taken

    def __iter__(self):
        while True:
            line = self.take(1)
            if not line:
                return
            yield line[0]

    def close(self) -> None:
        if self._owned:
            self._text.close()
        else:
            self._text.detach()  # stdin stays open for whoever owns it


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

def load_value(path: str, where: str, stdin=None, limit: tuple[int, str] | None = None) -> np.ndarray:
    """The array in a .npy, .csv or .json file, or on stdin (JSON or CSV) for "-". `limit`:
    (bytes, how to name it) past which the file is refused while it is read."""
    if not path:
        raise ValueFormatError(f"{where}: no file name after '@'", hint="write x=@data.npy, or x=@- for stdin")
    stored = _STORED.fullmatch(path)
    if stored:  # X=@data.parquet:column, X=@big.zarr, X=@group.zarr:array
        file, column = stored["file"], stored["column"]
        if stored["kind"].lower() == ".parquet":
            return _load_parquet(file, column, where, limit)
        return _load_zarr(file, column, where)
    folder = _stored_folder(path)
    if folder is not None:  # X=@parts/:column, X=@parts:column: a folder of Parquet parts (or a Zarr store)
        file, column, kind = folder
        if kind == "parquet":
            return _load_parquet(file, column, where, limit)
        return _load_zarr(file, column, where)
    kind = os.path.splitext(path)[1].lower()
    if path == STDIN:
        text = read_text(path, stdin, limit, where=where)
        stripped = text.strip()
        if not stripped:
            raise ValueFormatError(f"{where}: stdin is empty")
        if stripped[0] in "[{":
            return json_value(text, where)
        try:
            data = _parse_json(text, where)
        except ValueFormatError:  # not JSON: CSV
            return csv_matrix(text, where)
        return json_to_array(data, where, booleans=_has_booleans(text))
    if kind == ".npy":
        return _load_npy(path, where, limit)
    if kind == ".csv":
        return csv_matrix(read_text(path, limit=limit, where=where), where)
    if kind == ".json":
        return json_value(read_text(path, limit=limit, where=where), where)
    if os.path.isdir(path.rstrip("/") or "/"):
        raise ValueFormatError(f"{where}: cannot tell the format of {path!r}: a folder holding no .parquet file and no Zarr store",
                               hint="a folder of Parquet parts is read as DIR/:COLUMN")
    raise ValueFormatError(f"{where}: cannot tell the format of {path!r} from its name",
                           hint="use a file ending in .npy, .csv or .json, or data.parquet:COLUMN (a folder "
                                "of parts: DIR/:COLUMN), big.zarr")


def _load_npy(path: str, where: str, limit: tuple[int, str] | None = None) -> np.ndarray:
    """The array of a .npy file, its size checked from the header before its data is read."""
    from numpy.lib import format as npy

    max_bytes, limit_text = limit or (DEFAULT_MAX_BYTES, "")
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise _open_error(path, exc) from None
    with handle:
        try:
            version = npy.read_magic(handle)
            reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = reader(handle)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueFormatError(f"{where}: {path} is not a .npy array ({exc})",
                                   hint="save it with np.save(path, array.astype(float))") from None
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise ValueFormatError(f"{where}: {path} holds {dtype} values, not real numbers",
                                   hint="gradcli reads bool, integer and float arrays")
        count = math.prod(shape)
        size = count * dtype.itemsize
        if max(size, count * 8) > max_bytes:  # as float64, the array gradcli computes with
            raise ResourceError(f"{where}: the array in {path} has shape {shape}: {count * 8:,} bytes as "
                                f"float64, over {limit_text or f'the limit of {max_bytes:,} bytes'}",
                                hint="raise --max-memory (0: no limit), or give a smaller array")
        try:
            data = handle.read(size)
        except OSError as exc:
            raise ValueFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) != size:
        raise ValueFormatError(f"{where}: {path} is cut short: its header promises {size:,} bytes of "
                               f"data, the file holds {len(data):,}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.astype(np.float64)


# -- Parquet and Zarr: @data.parquet:column, @big.zarr (lazy, through Dask) ------------------

_STORED = re.compile(r"(?P<file>.+?(?P<kind>\.parquet|\.zarr))/?(?::(?P<column>[^:/]+))?", re.IGNORECASE)


def _stored_folder(path: str) -> tuple[str, str | None, str] | None:
    """(folder, column or None, "parquet" or "zarr") for `DIR`, `DIR/`, `DIR:COLUMN` or
    `DIR/:COLUMN` naming a folder whose name does not say its format: one holding *.parquet files
    (at any depth, as batch --input DIR/ reads them) or a Zarr store (its zarr.json, .zarray or
    .zgroup); else None."""
    folder, column = path, None
    if not os.path.isdir(folder.rstrip("/") or "/") and ":" in path:
        folder, column = path.rsplit(":", 1)
    folder = folder.rstrip("/") or "/"
    if not os.path.isdir(folder) or (column is not None and not column):
        return None
    if any(os.path.exists(os.path.join(folder, marker)) for marker in ("zarr.json", ".zarray", ".zgroup")):
        return folder, column, "zarr"
    import glob

    if glob.glob(os.path.join(glob.escape(folder), "**", "*.parquet"), recursive=True):
        return folder, column, "parquet"
    return None


def _missing_extra(where: str, what: str, exc: ImportError) -> ValueFormatError:
    return ValueFormatError(f"{where}: reading {what} needs {exc.name or 'an optional package'}, "
                            "which is not installed", hint="pip install 'gradcli[dask]'")


def _load_parquet(path: str, column: str | None, where: str, limit: tuple[int, str] | None) -> np.ndarray:
    """One column of a Parquet file (or a folder of parts), read with pyarrow, as float64: a
    numeric column is a vector; a column of lists of one length is a matrix (row i the list of
    row i). Without `:column` the file must hold one column. Sized from the metadata first."""
    try:
        import pyarrow as pa
        import pyarrow.dataset as ds
    except ImportError as exc:
        raise _missing_extra(where, "Parquet", exc) from None
    try:
        dataset = ds.dataset(path, format="parquet")
        names = dataset.schema.names
    except FileNotFoundError:
        raise _open_error(path, FileNotFoundError()) from None
    except (OSError, pa.ArrowException) as exc:
        raise ValueFormatError(f"{where}: {path} is not a Parquet file ({exc})") from None
    listed = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
    if column is None:
        if len(names) != 1:
            raise ValueFormatError(f"{where}: {path} holds {len(names)} columns; say which one",
                                   hint=f"write {path}:COLUMN; its columns are {listed}")
        column = names[0]
    if column not in names:
        raise ValueFormatError(f"{where}: {path} has no column {column!r}", hint=f"its columns are {listed}")
    kind = dataset.schema.field(column).type
    inner = kind.value_type if pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind) \
        or pa.types.is_large_list(kind) else kind
    if not (pa.types.is_integer(inner) or pa.types.is_floating(inner) or pa.types.is_boolean(inner)):
        raise ValueFormatError(f"{where}: column {column!r} of {path} holds {kind} values, not real numbers")
    max_bytes, limit_text = limit or (DEFAULT_MAX_BYTES, "")
    rows = dataset.count_rows()
    if rows * 8 > max_bytes:  # (a list column is checked again once its lengths are known)
        raise ResourceError(f"{where}: column {column!r} of {path} has {rows:,} rows: {rows * 8:,} bytes as "
                            f"float64, over {limit_text or f'the limit of {max_bytes:,} bytes'}",
                            hint="raise --max-memory (0: no limit), or pass a Dask array to gradcli.evaluate")
    data = dataset.to_table(columns=[column]).column(column).combine_chunks()
    if data.null_count:
        raise ValueFormatError(f"{where}: column {column!r} of {path} has {data.null_count:,} empty cells",
                               hint="fill or drop them first")
    if inner is kind:
        return data.to_numpy(zero_copy_only=False).astype(np.float64)
    lengths = pa.compute.list_value_length(data).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths != lengths[0]).any():
        first = int(np.argmax(lengths != lengths[0]))
        raise ValueFormatError(f"{where}: the lists in column {column!r} of {path} differ in length "
                               f"(row 1 has {lengths[0]}, row {first + 1} has {lengths[first]})",
                               hint="every row of a matrix needs the same length")
    width = int(lengths[0]) if len(lengths) else 0
    if rows * width * 8 > max_bytes:
        raise ResourceError(f"{where}: column {column!r} of {path} holds {rows:,} × {width:,} values: "
                            f"{rows * width * 8:,} bytes as float64, over "
                            f"{limit_text or f'the limit of {max_bytes:,} bytes'}",
                            hint="raise --max-memory (0: no limit), or pass a Dask array to gradcli.evaluate")
    flat = pa.compute.list_flatten(data).to_numpy(zero_copy_only=False)
    return flat.astype(np.float64).reshape(rows, width)


def _load_zarr(path: str, component: str | None, where: str):
    """A Zarr array (or the array `component` of a Zarr group) as a lazy Dask array in the store's
    own chunks: nothing is read until the run computes (gradcli.evaluation.array_api)."""
    try:
        import dask.array as da
        import zarr
    except ImportError as exc:
        raise _missing_extra(where, "Zarr", exc) from None
    if not os.path.exists(path):
        raise _open_error(path, FileNotFoundError())
    try:
        found = zarr.open(path, mode="r")
    except Exception as exc:  # zarr raises many kinds for a store it cannot read
        raise ValueFormatError(f"{where}: {path} is not a Zarr store ({exc})") from None
    if isinstance(found, zarr.Group):
        arrays = sorted(name for name, _ in found.arrays())
        if component is None and len(arrays) == 1:
            component = arrays[0]
        if component is None or component not in arrays:
            said = "has no array " + repr(component) if component else f"is a group of {len(arrays)} arrays"
            raise ValueFormatError(f"{where}: {path} {said}",
                                   hint=f"write {path}:NAME; its arrays are {', '.join(arrays) or 'none'}")
        found = found[component]
    elif component is not None:
        raise ValueFormatError(f"{where}: {path} is one array, not a group: it has no array {component!r}",
                               hint=f"write {path}")
    if found.dtype.kind not in "biuf":
        raise ValueFormatError(f"{where}: {path} holds {found.dtype} values, not real numbers",
                               hint="gradcli reads bool, integer and float arrays")
    if len(found.shape) > MAX_DIMS:
        raise ValueFormatError(f"{where}: {path} has {len(found.shape)} dimensions, over {MAX_DIMS}")
    return da.from_zarr(found)


# -- JSON ------------------------------------------------------------------------------------

def check_depth(data, where: str) -> None:
    """Nested lists deeper than an array can be: one message, not NumPy's."""
    depth = 0
    while isinstance(data, list) and data:
        data = data[0]
        depth += 1
        if depth > MAX_DIMS:
            raise ValueFormatError(f"{where}: lists nested more than {MAX_DIMS} deep; an array has at most "
                                   f"{MAX_DIMS} dimensions")


def _parse_json(text: str, where: str):
    try:
        # parse_int=float: a 400-digit integer is inf (with the usual warning), as the same number
        # written in --set is, and a 5,000-digit one does not meet Python's int-to-str limit
        return json.loads(text, parse_constant=lambda word: _NON_FINITE.get(word, math.nan),
                          parse_int=float)
    except json.JSONDecodeError as exc:
        raise ValueFormatError(f"{where}: not valid JSON: {exc.msg} (at line {exc.lineno}, "
                               f"column {exc.colno})") from None
    except RecursionError:
        raise ValueFormatError(f"{where}: the JSON is nested too deeply") from None


def json_value(text: str, where: str) -> np.ndarray:
    """A JSON number or nested list of numbers (or "NaN", "Infinity", "-Infinity") → array."""
    return json_to_array(_parse_json(text, where), where, booleans=_has_booleans(text))


def _has_booleans(text: str) -> bool:
    # NumPy reads [true, 1.5] as [1.0, 1.5]: where the text may hold a JSON true or false, the
    # slow path looks at every element and names the one that is not a number
    return "true" in text or "false" in text


def json_to_array(data, where: str, booleans: bool = True) -> np.ndarray:
    if isinstance(data, dict):
        raise ValueFormatError(f"{where}: a JSON object, but one value (a number or a list) is needed",
                               hint="a JSON object of several values goes to --values FILE.json")
    check_depth(data, where)
    try:
        array = np.asarray(data)
    except ValueError:  # NumPy 2 refuses ragged nested lists
        array = np.asarray(None, dtype=object)
    if array.dtype.kind in "iuf" and not booleans:
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


def load_values(path: str, stdin=None, limit: tuple[int, str] | None = None) -> dict[str, np.ndarray]:
    """`--values FILE.json`: one JSON object, each key a variable name and its value."""
    where = f"--values {path}"
    text = read_text(path, stdin, limit, where=where)
    data = _parse_json(text, where)
    booleans = _has_booleans(text)
    if not isinstance(data, dict):
        raise ValueFormatError(f"{where}: needs a JSON object, like {{\"x\": 1.5, \"w\": [1, 2]}}")
    values = {}
    for name, value in data.items():
        if not NAME.fullmatch(name):
            raise ValueFormatError(f"{where}: {name!r} is not a variable name",
                                   hint="names are letters, digits and _, not starting with a digit")
        values[name] = json_to_array(value, f"{where}, {name}", booleans)
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
        with warnings.catch_warnings():  # "input contained no data": ours to say, not NumPy's
            warnings.simplefilter("ignore")
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
