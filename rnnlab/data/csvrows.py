"""CSV rows with their line numbers, where whatever the csv module refuses is a `DataError`.

Every CSV reader of rnnlab (forecast series, long-format sequences, labelled texts, the sensor
stream's lines) reads through these two functions, so that the errors the csv module raises on a
damaged file (a field longer than `csv.field_size_limit()`, as when a quote is never closed and
swallows the rest of the file; a NUL byte before Python 3.11) name the file and the line, as every
other problem in a file does, instead of escaping as a bare ``_csv.Error``.
"""

from __future__ import annotations

import csv
import io

from rnnlab.data.errors import DataError


def csv_rows(path, text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each row of `text` with a non-blank cell; line 1 is the first line.

    A row's number is the line it ends on (``csv.reader.line_num``): a quoted field may span lines.
    `text` is the whole file, decoded; its line ends may be ``\\n``, ``\\r\\n`` or ``\\r``.

    Raises:
        DataError: naming `path` and the line the failing row starts on.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, previous = [], 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as error:
            raise DataError(f"{path}: line {previous + 1}: {_problem(error)}") from None
        previous = reader.line_num
        if any(cell.strip() for cell in row):  # blank lines carry no row
            rows.append((reader.line_num, row))


def csv_cells(path, number: int, line: str) -> list[str]:
    """The cells of one line (line `number` of `path`) of a CSV file read line by line.

    Raises:
        DataError: naming `path` and `number`, where the csv module refuses the line.
    """
    try:
        return next(csv.reader([line]), [])
    except csv.Error as error:
        raise DataError(f"{path}: line {number}: {_problem(error)}") from None


def _problem(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return f"a field longer than {csv.field_size_limit()} characters (is a quote never closed?)"
    return f"not readable as CSV ({error})"
