"""The tables `gradcli batch` reads, cut into partitions: CSV files (one, or a glob of them) and
Parquet (a file, or a folder of parts, read with pyarrow).

A partition is a description, small enough to send to a Dask worker, of the rows it holds:
  - CSV: a byte range [start, end) of one file. It holds the lines that *start* in that range
    (a line that crosses `end` belongs to it whole, one that crosses `start` to the one before),
    so that the ranges of a file, side by side, hold each line exactly once, in order. The line
    number of its first line is the count of lines in the ranges before it (`count_lines`).
  - Parquet: some row groups of one file; its first row's number comes from the file's footer.
pyarrow is imported only when a Parquet file is read.
"""

from __future__ import annotations

import glob
import io
import os
from dataclasses import dataclass, replace

import numpy as np

from ..base.errors import GradcliError, ValueFormatError
from .datafiles import BadRow, _open_error, header_of

BLOCK = 16 * 2**20  # bytes read at a time when counting lines
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Part:
    """One partition: `kind` "csv" (bytes start..end of path) or "parquet" (row groups of path,
    whose first row is row `first_row` of the file, counting from 1)."""

    kind: str
    path: str  # absolute: a worker's working folder is not the user's
    index: int  # the partition's place in the whole input, from 0
    start: int = 0
    end: int = 0
    row_groups: tuple[int, ...] = ()
    first_row: int = 1
    first_of_file: bool = True
    source: str = ""  # the file as the user named it, for messages


@dataclass
class TableRow(BadRow):
    """A bad row of a Parquet table: named by its row number in the file (from 1). `echo`: its
    cells as a CSV line, as a CSV input's failed row is echoed as written (numbers as floats, an
    empty cell empty, text that is not a number as it is), or None."""

    echo: str | None = None

    @property
    def message(self) -> str:
        return f"row {self.line}{self.column}: {self.problem}"


def input_files(path: str) -> list[str]:
    """The files of an input: a file, a folder (its *.parquet files, in name order, at any
    depth), or a glob pattern (its matches in name order)."""
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
        if not found:
            raise ValueFormatError(f"--input {path}: the folder holds no .parquet file",
                                   hint="give a CSV file, a glob of CSV files (quoted) or Parquet")
        return found
    if glob.has_magic(path) and not os.path.exists(path):
        found = sorted(p for p in glob.glob(path) if os.path.isfile(p))
        if not found:
            raise ValueFormatError(f"--input {path}: no file matches this pattern")
        return found
    if not os.path.exists(path):
        raise _open_error(path, FileNotFoundError(2, "No such file or directory"))
    return [path]


def file_header(path: str, source: str) -> list[str] | None:
    """The column names of one file of the input (`source`: its name in messages): a Parquet
    file's, or a CSV file's first line that is not blank; None for an empty CSV or one whose
    first line holds only numbers (its run says what is wrong)."""
    if is_parquet(path):
        return parquet_header(path, source)
    try:
        with open(path, "rb") as handle:
            line = _header_line(handle)
    except OSError as exc:
        raise _open_error(source, exc) from None
    text = line.decode("utf-8", "replace").lstrip("\ufeff")
    return header_of(text.splitlines()[0]) if text.strip() else None


def common_header(files: list[tuple[str, str]]) -> tuple[list[str], str]:
    """The header every file of an input shares and the name of the first file that has it,
    from (path, name) pairs, before any row is read or written; files whose headers differ are
    refused (their rows would not make one table). ([], "") when no file has a header."""
    seen: dict[tuple, str] = {}
    for path, source in files:
        names = file_header(path, source)
        if names is None:
            continue
        key = tuple(names)
        if seen and key not in seen:
            other = next(iter(seen.values()))
            raise ValueFormatError(f"{source} and {other} have different header rows",
                                   hint="every file of one run names the same columns")
        seen.setdefault(key, source)
    if not seen:
        return [], ""
    key, first = next(iter(seen.items()))
    return list(key), first


def is_parquet(path: str) -> bool:
    if path.endswith(".parquet") or path.endswith(".pq"):
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def partitions(path: str, *, partition_rows: int) -> list[Part]:
    """The partitions of the input `path`, about `partition_rows` rows each: Parquet files cut at
    row groups (a row group is never split), CSV files cut every partition_rows × (the mean
    length of a line of the file's first 64 KiB) bytes, at line starts."""
    parts: list[Part] = []
    for name in input_files(path):
        found = _parquet_parts(name, len(parts), partition_rows) if is_parquet(name) else \
            _csv_parts(name, len(parts), partition_rows)
        parts += [replace(part, path=os.path.abspath(name), source=name) for part in found]
    kinds = {part.kind for part in parts}
    if len(kinds) > 1:
        raise ValueFormatError(f"--input {path} mixes CSV and Parquet files",
                               hint="give one kind of file per run")
    return parts


def _csv_parts(path: str, index: int, partition_rows: int) -> list[Part]:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            sample = handle.read(1 << 16)
    except OSError as exc:
        raise _open_error(path, exc) from None
    partition_bytes = max(1, partition_rows * len(sample) // max(1, sample.count(b"\n")))
    if sample.count(b"\r") != sample.count(b"\r\n"):
        # lines ended by a lone \r: the byte ranges cut at \n only, so the file stays whole
        return [Part("csv", path, index, 0, size)]
    starts = list(range(0, max(size, 1), partition_bytes))
    return [Part("csv", path, index + k, start, min(start + partition_bytes, size), first_of_file=k == 0)
            for k, start in enumerate(starts)]


def _parquet_parts(path: str, index: int, partition_rows: int) -> list[Part]:
    pq = _parquet()
    try:
        metadata = pq.ParquetFile(path).metadata
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ValueFormatError(f"{path} is not a Parquet file pyarrow can read: {exc}") from None
    parts: list[Part] = []
    group: list[int] = []
    rows = 0
    first = 1
    for g in range(metadata.num_row_groups):
        group.append(g)
        rows += metadata.row_group(g).num_rows
        if rows >= partition_rows:
            parts.append(Part("parquet", path, index + len(parts), row_groups=tuple(group), first_row=first,
                              first_of_file=not parts))
            first += rows
            group, rows = [], 0
    if group or not parts:
        parts.append(Part("parquet", path, index + len(parts), row_groups=tuple(group), first_row=first,
                          first_of_file=not parts))
    return parts


def _parquet():
    import pyarrow.parquet as pq

    return pq


# -- CSV byte ranges

def line_range(handle, start: int, end: int, size: int) -> tuple[int, int]:
    """[begin, stop): the bytes of the lines that start in [start, end) of an open binary file."""

    def next_line_start(position: int) -> int:
        if position <= 0:
            return 0
        if position >= size:
            return size
        handle.seek(position - 1)
        return position - 1 + len(handle.readline())

    return next_line_start(start), next_line_start(end) if end < size else size


class _RangeRaw(io.RawIOBase):
    """`prefix` then the bytes [begin, stop) of an open binary file, read as they are asked for."""

    def __init__(self, handle, prefix: bytes, begin: int, stop: int) -> None:
        self.handle, self.prefix, self.left = handle, prefix, max(0, stop - begin)
        handle.seek(begin)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self.prefix:
            count = min(len(view), len(self.prefix))
            view[:count] = self.prefix[:count]
            self.prefix = self.prefix[count:]
            return count
        if self.left <= 0:
            return 0
        data = self.handle.read(min(len(view), self.left))
        view[:len(data)] = data
        self.left -= len(data)
        return len(data)

    def close(self) -> None:
        self.handle.close()
        super().close()


def open_range(path: str, start: int, end: int):
    """A binary stream of the lines that start in [start, end) of the file, after the file's
    header line when start > 0 (so that it reads as a CSV of its own), read a block at a time:
    memory holds a block, not the partition."""
    try:
        handle = open(path, "rb")
        size = os.fstat(handle.fileno()).st_size
        prefix = _header_line(handle).rstrip(b"\r\n") + b"\n" if start > 0 else b""
        begin, stop = line_range(handle, start, end, size)
    except OSError as exc:
        raise _open_error(path, exc) from None
    return io.BufferedReader(_RangeRaw(handle, prefix, begin, stop), buffer_size=1 << 20)


def read_range(path: str, start: int, end: int) -> tuple[bytes, bytes]:
    """The bytes of the lines that start in [start, end) of the file, and its header line (the
    first line that is not blank, with its line end)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            begin, stop = line_range(handle, start, end, size)
            handle.seek(begin)
            data = handle.read(max(0, stop - begin))
            header = _header_line(handle) if start > 0 else b""
    except OSError as exc:
        raise _open_error(path, exc) from None
    return data, header


def _header_line(handle) -> bytes:
    """The file's first line that is not blank, with its line end."""
    handle.seek(0)
    header = b""
    while not header.strip():
        line = handle.readline()
        if not line:
            break
        header = line
    return header


def count_lines(path: str, start: int, end: int) -> int:
    """How many lines start in [start, end) of the file (a last line without a line end counts)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            begin, stop = line_range(handle, start, end, size)
            handle.seek(begin)
            count, left, last = 0, stop - begin, b""
            while left > 0:
                block = handle.read(min(BLOCK, left))
                if not block:
                    break
                count += block.count(b"\n")
                left -= len(block)
                last = block[-1:]
    except OSError as exc:
        raise _open_error(path, exc) from None
    return count + (1 if last and last != b"\n" else 0)


# -- Parquet

def parquet_header(path: str, source: str | None = None) -> list[str]:
    """A Parquet file's column names, once its schema says every column holds numbers (or text,
    read as numbers): a column of timestamps, say, is refused here, before any row is written.
    `source`: the file's name in messages (by default `path`)."""
    schema = _parquet().ParquetFile(path).schema_arrow
    for j, column in enumerate(schema):
        if not _numbers_or_text(column.type):
            raise _not_numbers(source or path, j, schema.names, column.type)
    return list(schema.names)


def _numbers_or_text(kind) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
            or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind)
            or pa.types.is_null(kind))


def _not_numbers(path: str, j: int, names: list[str], kind) -> ValueFormatError:
    return ValueFormatError(f"{path}: column {j + 1} ({names[j]}) holds {kind}, not numbers",
                            hint="batch reads columns of numbers")


def parquet_batches(path: str, row_groups: tuple[int, ...], first_row: int, batch_rows: int, names: list[str]):
    """(matrix (rows, columns) float64, number of the first row, bad rows, None) per batch of
    `batch_rows` rows of the row groups. Numbers (integers, booleans, floats) are read as float64;
    text columns are read as numbers when they are numbers; a null cell, or text that is not a
    number, makes a bad row named by its row number (its matrix row is nan, as for CSV)."""
    pq = _parquet()
    # one row group at a time, without read-ahead: memory holds one row group, not the partition
    handle = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    number = first_row
    batches = (batch for group in row_groups
               for batch in handle.iter_batches(batch_size=batch_rows, row_groups=[group], use_threads=False))
    for batch in batches:
        rows = batch.num_rows
        matrix = np.empty((rows, batch.num_columns))
        bad: dict[int, TableRow] = {}
        texts: dict[tuple[int, int], str] = {}  # (row, column) of a bad cell: its text ("": null)
        for j in range(batch.num_columns):
            _read_column(batch.column(j), matrix, j, number, names, bad, path, texts)
        for i, row in bad.items():  # the row's good cells stay: only its bad cells are nan
            row.echo = ",".join(_csv_cell(texts[i, j]) if (i, j) in texts else repr(float(matrix[i, j]))
                                for j in range(batch.num_columns))
        yield matrix, number, [bad[i] for i in sorted(bad)], None
        number += rows


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _read_column(column, matrix: np.ndarray, j: int, number: int, names: list[str], bad: dict, path: str,
                 texts: dict) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    label = f", column {j + 1} ({names[j]})"
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.dictionary_decode()
        kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        cells = column.to_pylist()
        values = np.empty(len(cells))
        for i, text in enumerate(cells):
            try:
                values[i] = float(text) if text is not None else np.nan
            except ValueError:
                values[i] = np.nan
                texts[i, j] = text
                bad.setdefault(i, TableRow(number + i, label, f"{text[:20]!r} is not a number"))
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) \
            or pa.types.is_decimal(kind) or pa.types.is_null(kind):
        values = _float64s(column if kind == pa.float64() else pc.cast(column, pa.float64()))
    else:
        raise _not_numbers(path, j, names, kind)
    matrix[:, j] = values
    if column.null_count:
        nulls = _nulls(column)
        matrix[nulls, j] = np.nan  # not whatever is under a null
        for i in nulls.tolist():
            texts[i, j] = ""
            bad.setdefault(i, TableRow(number + i, label, "the cell is empty"))


# Arrow's buffers read with NumPy directly: pyarrow's to_numpy() imports pandas (~0.9 s) first.

def _float64s(array) -> np.ndarray:
    """A float64 Arrow array's values (whatever is under a null) as a NumPy view."""
    if len(array) == 0:
        return np.empty(0)
    return np.frombuffer(array.buffers()[1], dtype=np.float64, count=len(array), offset=array.offset * 8)


def _nulls(array) -> np.ndarray:
    """The indices of an Arrow array's null cells."""
    if array.type.id == 0:  # the null type: every cell
        return np.arange(len(array))
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
    return np.flatnonzero(bits[array.offset:array.offset + len(array)] == 0)


def missing_extra(feature: str, names=("dask", "distributed", "pyarrow")) -> GradcliError | None:
    """None when the packages `names` (the `gradcli[dask]` extra) can be imported; else the error
    that says how to install them."""
    import importlib.util

    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return GradcliError(f"{feature} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                        "not installed",
                        hint="install them: pip install 'gradcli[dask]'")
