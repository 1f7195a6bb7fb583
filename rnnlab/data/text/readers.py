"""Readers for the four file formats of the text tasks: labelled CSV (classification), plain text
(generation), CoNLL-U (tagging) and tab-separated pairs (translation).

Every reader accepts ``.gz`` files, and every problem in a file raises `DataError` with one line
naming the file, the line and the value. `resolve_text_data` turns a bundled data set's name or a
user's path into the file to read.
"""

import gzip
import zlib
from pathlib import Path

from rnnlab.data import bundled
from rnnlab.data.csvrows import csv_rows
from rnnlab.data.errors import DataError, line_at

TEXT_KINDS = ("labelled", "text", "conllu", "parallel")


def _read_file_text(path) -> tuple[Path, str]:
    """Return ``(Path(path), its text)``: gunzipped if ``.gz``, UTF-8, newlines as ``\\n``.

    Raises `DataError` if the file is missing, not valid gzip, not UTF-8, or blank.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file '{path}' does not exist" if not path.exists()
                        else f"'{path}' is not a file")
    data = path.read_bytes()
    where = ""
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: not a valid gzip file ({error})") from None
        where = " of the decompressed data"
    try:
        text = data.decode("utf-8-sig")  # -sig: tolerate a byte-order mark
    except UnicodeDecodeError as error:
        line = line_at(data, error.start)
        raise DataError(f"{path}: not UTF-8: byte {data[error.start:error.start + 1]!r} at offset "
                        f"{error.start}{where} (line {line})") from None
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    return path, text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path) -> str:
    """Read a plain-text file (a corpus for generation).

    Args:
        path: a UTF-8 text file, or a gzipped one (``.gz``).

    Returns:
        The whole text, with ``\\r\\n`` and ``\\r`` line endings turned into ``\\n``.

    Raises:
        DataError: if the file is missing, not UTF-8, or empty or whitespace only.
    """
    return _read_file_text(path)[1]


def read_labelled_csv(path) -> tuple[list[str], list[str]]:
    """Read a CSV of labelled texts (classification).

    The header must name a ``text`` and a ``label`` column; other columns are ignored. Fields may
    be quoted (with commas or newlines inside), as the ``csv`` module writes them.

    Args:
        path: the CSV file, or a gzipped one (``.gz``).

    Returns:
        ``(texts, labels)``, two lists in file order, each cell stripped of surrounding spaces.

    Raises:
        DataError: if the file is missing, not UTF-8, or empty; a column is missing (the message
            lists the columns found); a row has a different number of fields than the header;
            there are no data rows; or a text or label cell is empty. Line numbers count the
            header as line 1.
    """
    path, text = _read_file_text(path)
    rows = csv_rows(path, text)
    if not rows:
        raise DataError(f"{path}: file is empty (no header and no rows)")
    (_, header), rows = rows[0], rows[1:]
    header = [name.strip() for name in header]
    missing = [name for name in ("text", "label") if name not in header]
    if missing:
        raise DataError(f"{path}: no {' or '.join(repr(name) for name in missing)} column; "
                        f"columns found: {header}")
    if not rows:
        raise DataError(f"{path}: no data rows after the header {header}")
    text_at, label_at = header.index("text"), header.index("label")
    texts, labels = [], []
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields; the header has {len(header)}")
        for column, at, out in (("text", text_at, texts), ("label", label_at, labels)):
            cell = row[at].strip()
            if not cell:
                raise DataError(f"{path}: line {line} has an empty {column} cell "
                                f"(line 1 is the header): {row!r}")
            out.append(cell)
    return texts, labels


def read_conllu(path) -> list[tuple[list[str], list[str]]]:
    """Read the word forms and UPOS tags of a CoNLL-U file (tagging).

    Sentences are separated by blank lines. Comment lines (``#``), multiword-token lines (ID
    ``3-4``) and empty nodes (ID ``5.1``) are skipped, so the forms are the syntactic words the
    tags belong to. The other eight columns are not read (they may be ``_``).

    Args:
        path: the CoNLL-U file, or a gzipped one (``.gz``).

    Returns:
        One ``(forms, upos)`` pair of equal-length lists per sentence, in file order.

    Raises:
        DataError: if the file is missing, not UTF-8, or empty; a token line has fewer than 10
            tab-separated fields; a form is empty; a UPOS is ``_`` or empty ("CoNLL-U without
            UPOS"); or the file has no sentences.
    """
    path, text = _read_file_text(path)
    sentences, forms, tags = [], [], []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            if forms:
                sentences.append((forms, tags))
                forms, tags = [], []
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 10:
            raise DataError(f"{path}: line {line_number} has {len(fields)} tab-separated fields; "
                            f"CoNLL-U token lines have 10: {line!r}")
        if "-" in fields[0] or "." in fields[0]:
            continue
        form, upos = fields[1], fields[3].strip()
        if not form:
            raise DataError(f"{path}: line {line_number} has an empty FORM: {line!r}")
        if upos in ("", "_"):
            raise DataError(f"{path}: line {line_number}: CoNLL-U without UPOS (column 4 is "
                            f"{fields[3]!r})")
        forms.append(form)
        tags.append(upos)
    if forms:
        sentences.append((forms, tags))
    if not sentences:
        raise DataError(f"{path}: no sentences (only comments or multiword lines)")
    return sentences


def read_parallel_tsv(path) -> list[tuple[str, str]]:
    """Read sentence pairs, one ``source<TAB>target`` per line (translation).

    Args:
        path: the TSV file (no header), or a gzipped one (``.gz``). Blank lines are skipped.

    Returns:
        ``(source, target)`` pairs in file order, each side stripped of surrounding spaces.

    Raises:
        DataError: if the file is missing, not UTF-8, or empty; or a line has no tab, more than
            one tab, or an empty side (naming the line).
    """
    path, text = _read_file_text(path)
    pairs = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            problem = "no tab" if len(fields) == 1 else f"{len(fields) - 1} tabs"
            raise DataError(f"{path}: line {line_number} has {problem}; expected "
                            f"source<TAB>target: {line!r}")
        source, target = fields[0].strip(), fields[1].strip()
        for side, value in (("source", source), ("target", target)):
            if not value:
                raise DataError(f"{path}: line {line_number} has an empty {side} side: {line!r}")
        pairs.append((source, target))
    return pairs


def resolve_text_data(data: str, kind: str) -> Path:
    """Return the file that ``data`` names: a bundled text data set's file, or the path itself.

    Args:
        data: a bundled text data set's name (see `rnnlab.data.bundled.list_text_datasets`) or
            a file path. A bundled name wins over a file of the same name.
        kind: the format the caller reads: "labelled", "text", "conllu" or "parallel".

    Returns:
        The bundled file if ``data`` is a bundled name of this kind; otherwise ``Path(data)``
        (not checked here: the readers report a missing file).

    Raises:
        ValueError: if ``kind`` is unknown.
        DataError: if ``data`` is a bundled data set of another kind, or a bundled time series.

    Example:
        >>> resolve_text_data("hamlet", "text").name
        'hamlet.txt'
    """
    if kind not in TEXT_KINDS:
        raise ValueError(f"kind must be one of {list(TEXT_KINDS)}; received {kind!r}")
    name = str(data)
    bundled_kind = bundled.text_kind(name)
    if bundled_kind == kind:
        return bundled.bundled_file(name)
    if bundled_kind is not None:
        raise DataError(f"bundled data set {name!r} is of kind {bundled_kind!r}, not {kind!r}; "
                        f"bundled {kind!r} data sets: {list(bundled.list_text_names(kind))}")
    if name in bundled.list_names():
        raise DataError(f"bundled data set {name!r} is a time series, not {kind!r} text; "
                        f"bundled {kind!r} data sets: {list(bundled.list_text_names(kind))}")
    return Path(data)
