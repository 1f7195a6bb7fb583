"""Every data reader, fed damaged files: a valid result or one clear error, never a crash.

The property, for each reader (forecast CSV read directly and through `read_series`, `.ts` and
long-format CSV through the series classifier's readers, the sensor CSV read whole and streamed,
CoNLL-U, parallel TSV, plain text and labelled CSV, each directly and through its task's reader):
reading a damaged file either returns a result that passes the format's own checks (finite
numbers, as many tags as forms, no empty side of a pair, ...), or raises `DataError`
(FileNotFoundError / IsADirectoryError where that is the honest type) whose message is one line,
names the file's path, and names only line numbers the file has. Any other exception (IndexError,
csv.Error, UnicodeDecodeError, zlib.error, a ValueError such as "min() arg is an empty
sequence") fails it: from the command line that is a traceback, or a bare message that names
neither the file nor the line to fix.

Why: the readers are where users' own files enter rnnlab, damaged in ways no hand-written test
lists (a download cut short, a spreadsheet's CR line ends, a NUL, a stray quote, a superscript
digit). A message naming the file, the line and the value lets a user fix the file without
reading rnnlab's source; a crash hides all three.

The damage: a small valid file of each format (conftest's `Builders`, cut small, and a
hand-written one using the format's corners: comments, missing values, multiword tokens, quoted
fields) changed by one to four mutations (truncated at a byte; a line deleted, duplicated or
swapped; bytes inserted: invalid UTF-8, NUL, BOM, CR, quotes, separators, Unicode line separators;
a cell replaced by '', 'nan', 'inf', '1e999', '²', text; a cell added or dropped; the header
dropped; the line ends changed); or an empty file, its header alone, random text or bytes; or a
file put together from the format's own pieces (header names, .ts tags and values, CoNLL-U IDs),
which reaches the later checks far more often; and gzip streams damaged after compression.
Two metamorphic properties beside it: CRLF and CR line ends, a byte-order mark and gzip leave
what a valid file reads as unchanged; and a damaged file saved with CR line ends fails on the
same lines as its LF copy. Last, the command line: `rnnlab train TASK --data BROKEN` for each
task is one line on stderr, exit status 2, and writes nothing (see its section).

Counts (the "rnnlab" profile: seeded, the same examples on every run), for the 16 readers: 60
damaged files, 30 random ones and 60 files of pieces each; 20 damaged gzip streams for each of
the 5 gzip readers; 15 (valid) and 30 (damaged) files for the metamorphic properties of the 11
plain ones; 12 broken files for each of the 8 command lines: about 3,100 files, about 30 s on two
cores. The crashes they found are kept as plain regression tests, each with its input, the old
exception and the message it now gets.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnnlab.cli.main import main  # noqa: E402
from rnnlab.data.errors import DataError  # noqa: E402
from rnnlab.data.frames import read_series  # noqa: E402
from rnnlab.data.series import read_csv  # noqa: E402
from rnnlab.data.stream import load_series as load_anomaly_series  # noqa: E402
from rnnlab.data.text import read_conllu, read_labelled_csv, read_parallel_tsv, read_text  # noqa: E402
from rnnlab.data.ts import load_labelled_series, read_ts  # noqa: E402
from rnnlab.tasks.anomaly.detector import Detector  # noqa: E402
from rnnlab.tasks.anomaly.streaming import stream_lines  # noqa: E402
from rnnlab.tasks.classify_series.series import read_sequences  # noqa: E402
from rnnlab.tasks.classify_text.texts import read_labelled, read_text_column  # noqa: E402
from rnnlab.tasks.generate.corpus import read_corpus  # noqa: E402
from rnnlab.tasks.tag.sentences import read_sentences  # noqa: E402
from rnnlab.tasks.translate.corpus import read_texts  # noqa: E402

# --- valid files: the seeds every mutation starts from ---------------------------------------------

FORECAST_GAPS = ("date,sales,temperature\n2020-01-01,1.5,3\n2020-01-02,,4\n\n2020-01-03,2.5,NA\n"
                 "2020-01-04,3,5\n2020-01-05,3.5,6\n")
TS_TOY = ("# a comment line\n@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n"
          "@dimensions 2\n@equalLength false\n@classLabel true up down\n@data\n"
          "1,2,3:10,20,30:up\n4,5:40,50:down\n\n6,?,8:60,70,80:up\n")
TS_UNLABELLED = "@problemName U\n@univariate true\n@classLabel false\n@data\n1,2,3\n4,5\n"
TS_NO_DIMENSIONS = ("@problemName N\n@equalLength true\n@seriesLength 2\n@classLabel true a b\n@data\n"
                    "1,2:3,4:a\n5,6:7,8:b\n")
LONG_CSV = ("sequence_id,time,x,y,label\ns0,0,0.1,0.2,rise\ns0,1,0.2,0.4,rise\ns1,1,0.3,0.1,fall\n"
            "s1,0,0.5,0.2,fall\ns2,0,1,,rise\ns2,1,2,3,rise\n")
SENSOR_GAPS = "time,value,is_anomaly\nt0,1.5,0\nt1,,0\nt2,2.5,1\n\nt3,NaN,0\nt4,3,0\n"
CONLLU_CORNERS = ("# sent_id = 1\n# text = Do gato .\n1-2\tDo\t_\t_\t_\t_\t_\t_\t_\t_\n"
                  "1\tDe\tde\tADP\t_\t_\t_\t_\t_\t_\n2\to\to\tDET\t_\t_\t_\t_\t_\t_\n"
                  "2.1\tgato\t_\tNOUN\t_\t_\t_\t_\t_\t_\n3\tgato\tgato\tNOUN\t_\t_\t_\t_\t_\t_\n"
                  "4\t.\t.\tPUNCT\t_\t_\t_\t_\t_\tSpaceAfter=No\n\n# sent_id = 2\n"
                  "1\tSim\tsim\tINTJ\t_\t_\t_\t_\t_\t_\n\n")
LABELLED_QUOTED = 'text,label,source\n"one, two",fresh,a\n"a line\nbroken",rotten,b\nplain,fresh,\n'


def seeds(build, folder: Path) -> dict[str, list[bytes]]:
    """Each format's valid files, as bytes: the conftest builders' files (cut small) and the corner cases."""
    def built(writer, name: str, **size) -> bytes:
        return writer(folder / name, **size).read_bytes()

    return {
        "forecast": [built(build.series_csv, "s.csv", n=16), FORECAST_GAPS.encode()],
        "ts": [built(build.series_ts, "m.ts", cases=1), TS_TOY.encode(), TS_UNLABELLED.encode(),
               TS_NO_DIMENSIONS.encode()],
        "long": [LONG_CSV.encode()],
        "sensor": [built(build.sensor_csv, "v.csv", n=12), SENSOR_GAPS.encode()],
        "conllu": [built(build.conllu, "c.conllu", repeats=1), CONLLU_CORNERS.encode()],
        "parallel": [built(build.parallel_tsv, "p.tsv", repeats=1)],
        "text": [built(build.text_file, "t.txt", repeats=1)],
        "labelled": [built(build.labelled_csv, "l.csv", repeats=1), LABELLED_QUOTED.encode()],
    }


# --- what a valid result is, format by format -------------------------------------------------------

def check_series(series) -> None:
    assert len(series) >= 1 and series.values.shape == (len(series), len(series.columns))
    assert np.isfinite(series.values).all()


def check_sequences(result) -> None:
    data = result[0] if isinstance(result, tuple) else result
    assert len(data) >= 1 and all(len(values) >= 1 and np.isfinite(values).all() for values in data.series)
    assert all(values.shape[1] == len(data.channels) for values in data.series)
    if data.labels is not None:
        assert all(label and label in data.classes for label in data.labels)


def check_anomaly(series) -> None:
    assert len(series.values) >= 1 and np.isfinite(series.values).all()
    assert series.labels is None or (len(series.labels) == len(series.values) and set(series.labels) <= {0, 1})


def check_scores(lines: list[str]) -> None:
    assert len(lines) >= 2 and all(len(line.splitlines()) == 1 for line in lines)


def check_sentences(sentences) -> None:
    assert sentences
    for forms, tags in sentences:
        assert len(forms) == len(tags) >= 1
        assert all(form and "\t" not in form and "\n" not in form for form in forms)
        assert all(tag and tag != "_" and "\t" not in tag for tag in tags)


def check_pairs(pairs) -> None:
    assert pairs and all(side and side == side.strip() and "\t" not in side and "\n" not in side
                         for pair in pairs for side in pair)


def check_text(text) -> None:
    assert isinstance(text, str) and text.strip() and "\r" not in text


def check_labelled(result) -> None:
    texts, labels = (result.texts, result.labels) if hasattr(result, "texts") else result
    assert len(texts) == len(labels) >= 1 and all(texts) and all(labels)


def check_texts(texts) -> None:
    assert texts and all(text and text == text.strip() for text in texts)


def stream_scores(path: Path, fill: str | None) -> list[str]:
    """What `rnnlab detect` prints for a file, scored by the naive detector (no model to train)."""
    detector = Detector("naive", None, np.zeros(1), np.ones(1), np.ones(1), smooth=1, threshold=1.0)
    return list(stream_lines(detector, path, ["value"], columns=None, label_column="is_anomaly", fill=fill))


@dataclass(frozen=True)
class Reader:
    """One reader under test: the format it reads, the file suffix, its fill modes, the call and its check."""

    name: str
    format: str
    suffix: str
    read: Callable[[Path, str | None], Any]
    check: Callable[[Any], None]
    fills: tuple[str | None, ...] = (None,)


SERIES_FILLS = (None, "ffill", "interpolate", "zero")
READERS = [
    Reader("series.read_csv", "forecast", ".csv", lambda p, fill: read_csv(p, "sales", fill=fill), check_series,
           SERIES_FILLS),
    Reader("frames.read_series", "forecast", ".csv", lambda p, fill: read_series(str(p), target="sales", fill=fill),
           check_series, SERIES_FILLS),
    Reader("read_sequences .ts", "ts", ".ts", lambda p, fill: read_sequences(str(p), fill=fill), check_sequences,
           SERIES_FILLS),
    Reader("load_labelled_series .ts.gz", "ts", ".ts.gz", lambda p, fill: load_labelled_series(p, fill=fill),
           check_sequences, SERIES_FILLS),
    Reader("read_sequences long .csv", "long", ".csv", lambda p, fill: read_sequences(str(p), fill=fill),
           check_sequences, SERIES_FILLS),
    Reader("stream.load_series", "sensor", ".csv",
           lambda p, fill: load_anomaly_series(str(p), columns=None, label_column="is_anomaly", fill=fill),
           check_anomaly, SERIES_FILLS),
    Reader("stream_lines", "sensor", ".csv", stream_scores, check_scores, (None, "ffill", "zero")),
    Reader("read_conllu", "conllu", ".conllu", lambda p, _: read_conllu(p), check_sentences),
    Reader("read_sentences .gz", "conllu", ".conllu.gz", lambda p, _: read_sentences(str(p)), check_sentences),
    Reader("read_parallel_tsv", "parallel", ".tsv", lambda p, _: read_parallel_tsv(p), check_pairs),
    Reader("read_texts .gz", "parallel", ".tsv.gz", lambda p, _: read_texts(str(p)), check_pairs),
    Reader("read_text", "text", ".txt", lambda p, _: read_text(p), check_text),
    Reader("read_corpus .gz", "text", ".txt.gz", lambda p, _: read_corpus(str(p)), check_text),
    Reader("read_labelled_csv", "labelled", ".csv", lambda p, _: read_labelled_csv(p), check_labelled),
    Reader("read_labelled .gz", "labelled", ".csv.gz", lambda p, _: read_labelled(str(p)), check_labelled),
    Reader("read_text_column", "labelled", ".csv", lambda p, _: read_text_column(str(p)), check_texts),
]
SEPARATORS = {"forecast": ",", "ts": ":, ", "long": ",", "sensor": ",", "conllu": "\t", "parallel": "\t",
              "text": " ", "labelled": ","}


VALID: dict[str, list[bytes]] = {}  # the seeds, built once (kept out of the tests' arguments, which
#                                     hypothesis prints in full with every failing example)


@pytest.fixture(scope="module", autouse=True)
def _valid(build, tmp_path_factory) -> None:
    VALID.update(seeds(build, tmp_path_factory.mktemp("seeds")))


# --- damage -----------------------------------------------------------------------------------------

# Inserted bytes: invalid UTF-8 (a lone continuation, a cut sequence), NUL, BOM, line ends, each
# format's separators and markers, and the characters str.splitlines takes for line ends (\x0b,
# \x0c, \x1c, U+0085, U+2028) that no CSV or editor does.
BYTES = [b"\xff", b"\x80", b"\xc3", b"\xe2\x82", b"\x00", b"\xef\xbb\xbf", b"\r", b"\r\n", b"\n", b"\n\n", b'"',
         b",", b"\t", b":", b"#", b"@", b"?", b"-", b".", b" ", b"_", b"\x0b", b"\x0c", b"\x1c", b"\xc2\x85",
         b"\xe2\x80\xa8"]
# Replacement cells: missing markers, non-finite and out-of-range numbers, digits float() or int()
# refuse though str.isdigit() accepts them (superscripts), other scripts' digits, text, quotes.
CELLS = ["", " ", "nan", "NaN", "-nan", "NA", "null", "?", "_", "inf", "-Infinity", "1e999", "-1e400", "1e308",
         "-1e308", "0x1A", "1_000", "²", "١٢", "abc", "true", "-", ".", "1.2.3", '"', '""', "'", "\\", "\u00a0",
         "é", "日本", "0", "-0", "1-2", "2.1", "@data", "#"]


def mutations(separators: str):
    """One damage step: a tuple (kind, *arguments), positions as integers taken modulo the file's size."""
    position = st.integers(0, 1 << 16)
    return st.one_of(
        st.tuples(st.just("truncate"), position),
        st.tuples(st.just("delete line"), position),
        st.tuples(st.just("duplicate line"), position),
        st.tuples(st.just("swap lines"), position, position),
        st.tuples(st.just("insert"), position, st.sampled_from(BYTES) | st.binary(min_size=1, max_size=3)),
        st.tuples(st.just("replace cell"), position, position, st.sampled_from(separators),
                  st.sampled_from(CELLS) | st.text(max_size=3)),
        st.tuples(st.just("add cell"), position, st.sampled_from(separators)),
        st.tuples(st.just("drop cell"), position, position, st.sampled_from(separators)),
        st.tuples(st.just("drop header")),
        st.tuples(st.just("line ends"), st.sampled_from([b"\r\n", b"\r"])),
    )


def damage(data: bytes, steps) -> bytes:
    """`data` after each mutation of `steps` in turn."""
    for kind, *arguments in steps:
        lines = data.split(b"\n")
        if kind == "truncate":
            data = data[: arguments[0] % (len(data) + 1)]
            continue
        at = arguments[0] % len(lines) if arguments and isinstance(arguments[0], int) else 0
        if kind == "delete line":
            del lines[at]
        elif kind == "duplicate line":
            lines.insert(at, lines[at])
        elif kind == "swap lines":
            other = arguments[1] % len(lines)
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "insert":
            offset = arguments[0] % (len(data) + 1)
            data = data[:offset] + arguments[1] + data[offset:]
            continue
        elif kind in ("replace cell", "drop cell"):
            separator = arguments[2].encode()
            cells = lines[at].split(separator)
            where = arguments[1] % len(cells)
            if kind == "drop cell":
                del cells[where]
            else:
                cells[where] = arguments[3].encode("utf-8", "surrogatepass")
            lines[at] = separator.join(cells)
        elif kind == "add cell":
            lines[at] += arguments[1].encode() + b"x"
        elif kind == "drop header":
            lines = lines[1:]
        elif kind == "line ends":
            lines = [line.rstrip(b"\r") for line in lines]
            data = arguments[0].join(lines)
            continue
        data = b"\n".join(lines)
    return data


def whole_files(seed: bytes):
    """Files that are not a damaged copy: empty, blank, the header alone, random text or bytes."""
    header = seed.split(b"\n")[0]
    return st.one_of(
        st.sampled_from([b"", b"\n", b" \n\t\n", b"\xef\xbb\xbf", header, header + b"\n", header + b"\n\n"]),
        st.binary(max_size=60),
        st.text(max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.text(alphabet="0123456789,.:;\t\n\r #@?-+eE_\"'abcxyz", max_size=80).map(str.encode),
    )


# Files put together from a format's own pieces: header names, tags, ids and values, valid or not,
# so that the reader's later checks (a header value, a label alone on a case line, a tag column)
# are reached far more often than by damaging a valid file at random.
NUMBERS = ["0", "1", "-2.5", "3e2", "0.001", "7", "12"]
CSV_NAMES = {"forecast": ["date", "sales", "temperature", "time", "Sales"],
             "sensor": ["time", "value", "is_anomaly", "other"],
             "long": ["sequence_id", "time", "x", "y", "label"],
             "labelled": ["text", "label", "source"]}
WORDS = {"forecast": ["2020-01-01", "2020-01-02", "t0"], "sensor": ["t0", "t1", "2"], "long": ["s0", "s1", "up"],
         "labelled": ["a good film", "fresh", "rotten", '"one, two"', '"a\nb"'],
         "conllu": ["1", "2", "3", "1-2", "2.1", "10", "O", "gato", "DET", "NOUN", "_", "#", "# text = O"],
         "parallel": ["the light", "la luz", " ", "_"], "text": ["to be", "or not"]}
TS_TAGS = {"@problemName": ["Toy"], "@timeStamps": ["false"], "@missing": ["true", "false"],  # tag: valid values
           "@univariate": ["true", "false"], "@dimensions": ["1", "2"], "@dimension": ["2"],
           "@equalLength": ["true", "false"], "@seriesLength": ["2", "3"], "@classLabel": ["true a b", "false"],
           "@classlabel": ["true up"], "@other": ["x"], "#": ["comment"], "problemName": ["Toy"]}
TS_VALUES = ["true", "false", "True", "1", "2", "3", "0", "-1", "²", "١", "x", "", "true a b", "true a", "False a",
             "true 1 2", "false extra"]


def pieces(format: str):
    """A file of the format's own pieces (see above)."""
    cell = st.sampled_from(CELLS) | st.sampled_from(NUMBERS) | st.sampled_from(WORDS.get(format, ["a"]))
    if format in CSV_NAMES:
        header = st.lists(st.sampled_from(CSV_NAMES[format]), min_size=1, max_size=6).map(",".join)
        rows = st.lists(st.lists(cell, max_size=6).map(",".join), max_size=6)
        lines = st.tuples(header, rows).map(lambda parts: [parts[0], *parts[1]])
    elif format == "ts":
        tag = st.sampled_from(sorted(TS_TAGS)).flatmap(lambda name: (
            st.sampled_from(TS_TAGS[name]) | st.sampled_from(TS_VALUES)).map(lambda value: f"{name} {value}"))
        tags = st.lists(tag, max_size=6)
        parts = st.lists(st.lists(cell, max_size=3).map(",".join), max_size=3)
        cases = st.lists(st.tuples(parts, st.sampled_from(["", "a", "b", "up", "x", "1"])).map(
            lambda case: ":".join([*case[0], case[1]] if case[1] else case[0])), max_size=4)
        lines = st.tuples(tags, st.booleans(), cases).map(lambda f: [*f[0], *(["@data"] if f[1] else []), *f[2]])
    else:
        separator = " " if format == "text" else "\t"
        line = st.lists(cell, max_size=11).map(separator.join) | st.sampled_from(["", "# a comment"])
        lines = st.lists(line, max_size=8)
    return st.tuples(lines, st.sampled_from(["\n", "\r\n", ""])).map(
        lambda f: ("\n".join(f[0]) + f[1]).encode("utf-8", "surrogatepass"))


# --- the properties ---------------------------------------------------------------------------------

def line_count(data: bytes) -> int:
    """The lines a user sees in a file: ended by \\r\\n, \\r or \\n, as the csv module and editors count them."""
    return len(re.split(rb"\r\n|\r|\n", data))


def read_or_fail_clearly(reader: Reader, path: Path, data: bytes, fill: str | None) -> None:
    """Read the file at `path` (whose plain bytes are `data`): a valid result, or one clear error."""
    try:
        result = reader.read(path, fill)
    except (DataError, FileNotFoundError, IsADirectoryError) as error:
        message = str(error)
        assert len(message.splitlines()) == 1, f"not one line: {message!r}"
        assert str(path) in message, f"the file is not named: {message!r}"
        lines = line_count(_plain(path.read_bytes()) if path.suffix == ".gz" and path.is_file() else data)
        for number in re.findall(r"\blines? (\d+)", message):
            assert 1 <= int(number) <= lines, f"line {number} of a file of {lines} lines: {message!r}"
        assert "Traceback" not in message
    else:
        reader.check(result)


def _plain(compressed: bytes) -> bytes:
    try:
        return gzip.decompress(compressed)
    except Exception:  # damaged: no line of it can be named
        return b""


def _write(path: Path, data: bytes, reader: Reader) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if reader.suffix.endswith(".gz") else data)
    return path


def _fill(reader: Reader, index: int) -> str | None:
    return reader.fills[index % len(reader.fills)]


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.name)
@given(seed=st.integers(0, 7), steps=st.data(), fill=st.integers(0, 3))
def test_a_damaged_file_reads_or_fails_with_one_clear_error(reader, seed, steps, fill, tmp_path):
    files = VALID[reader.format]
    data = damage(files[seed % len(files)], steps.draw(st.lists(mutations(SEPARATORS[reader.format]), min_size=1,
                                                                max_size=4), label="steps"))
    path = _write(tmp_path / f"damaged{reader.suffix}", data, reader)
    read_or_fail_clearly(reader, path, data, _fill(reader, fill))


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.name)
@settings(max_examples=30)
@given(content=st.data(), fill=st.integers(0, 3))
def test_a_random_file_reads_or_fails_with_one_clear_error(reader, content, fill, tmp_path):
    data = content.draw(whole_files(VALID[reader.format][0]), label="file")
    path = _write(tmp_path / f"random{reader.suffix}", data, reader)
    read_or_fail_clearly(reader, path, data, _fill(reader, fill))


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.name)
@given(content=st.data(), fill=st.integers(0, 3))
def test_a_file_of_the_formats_pieces_reads_or_fails_with_one_clear_error(reader, content, fill, tmp_path):
    data = content.draw(pieces(reader.format), label="file")
    path = _write(tmp_path / f"pieces{reader.suffix}", data, reader)
    read_or_fail_clearly(reader, path, data, _fill(reader, fill))


GZIP_READERS = [reader for reader in READERS if reader.suffix.endswith(".gz")]


@pytest.mark.parametrize("reader", GZIP_READERS, ids=lambda reader: reader.name)
@settings(max_examples=20)
@given(cut=st.integers(0, 1 << 16), flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)),
                                                    max_size=3))
def test_a_damaged_gzip_stream_reads_or_fails_with_one_clear_error(reader, cut, flips, tmp_path):
    compressed = bytearray(gzip.compress(VALID[reader.format][0], mtime=0))
    for offset, mask in flips:
        compressed[offset % len(compressed)] ^= mask
    compressed = bytes(compressed[: len(compressed) - cut % 12])  # cut off up to the 8-byte trailer and a bit
    path = tmp_path / f"broken{reader.suffix}"
    path.write_bytes(compressed)
    read_or_fail_clearly(reader, path, b"", _fill(reader, 0))


def summary(result: Any) -> Any:
    """A result in comparable form: arrays as lists, named tuples and dataclasses by their fields."""
    if isinstance(result, np.ndarray):
        return result.tolist()
    if isinstance(result, (list, tuple)):
        return [summary(item) for item in result]
    if hasattr(result, "__dataclass_fields__"):
        return {name: summary(getattr(result, name)) for name in result.__dataclass_fields__ if name != "source"}
    return result


@pytest.mark.parametrize("reader", [r for r in READERS if not r.suffix.endswith(".gz")], ids=lambda r: r.name)
@settings(max_examples=15)
@given(seed=st.integers(0, 7), ending=st.sampled_from([b"\r\n", b"\r"]), bom=st.booleans(), zipped=st.booleans())
def test_line_ends_a_bom_and_gzip_read_as_the_plain_file(reader, seed, ending, bom, zipped, tmp_path):
    files = VALID[reader.format]
    data = files[seed % len(files)]
    fill = "zero" if "zero" in reader.fills else None  # the seeds with gaps read only when filled
    plain = tmp_path / f"plain{reader.suffix}"
    plain.write_bytes(data)
    expected = summary(reader.read(plain, fill))
    changed = (b"\xef\xbb\xbf" if bom else b"") + ending.join(data.split(b"\n"))
    gz = zipped and reader.format not in ("forecast", "sensor")  # the readers of .gz files
    path = tmp_path / f"changed{reader.suffix}{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(changed) if gz else changed)
    assert summary(reader.read(path, fill)) == expected


def outcome(reader: Reader, path: Path, fill: str | None) -> tuple[str, list[str]]:
    """("read", []) or ("error", the line numbers its message names)."""
    try:
        reader.read(path, fill)
    except DataError as error:
        return "error", re.findall(r"\blines? (\d+)", str(error))
    return "read", []


@pytest.mark.parametrize("reader", [r for r in READERS if not r.suffix.endswith(".gz")], ids=lambda r: r.name)
@settings(max_examples=30)
@given(seed=st.integers(0, 7), steps=st.data(), fill=st.integers(0, 3))
def test_a_damaged_file_with_cr_line_ends_fails_on_the_same_line(reader, seed, steps, fill, tmp_path):
    files = VALID[reader.format]
    data = damage(files[seed % len(files)], steps.draw(st.lists(mutations(SEPARATORS[reader.format]), min_size=1,
                                                                max_size=3), label="steps"))
    hypothesis.assume(b"\r" not in data)
    lf, cr = tmp_path / f"lf{reader.suffix}", tmp_path / f"cr{reader.suffix}"
    lf.write_bytes(data)
    cr.write_bytes(data.replace(b"\n", b"\r"))  # as old Mac and some spreadsheets save: every offset the same
    assert outcome(reader, cr, _fill(reader, fill)) == outcome(reader, lf, _fill(reader, fill))


# --- every reader: a missing path, a directory ------------------------------------------------------

@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.name)
def test_a_missing_file_or_a_directory_is_one_clear_error(reader, tmp_path):
    for path in (tmp_path / f"nope{reader.suffix}", tmp_path):
        read_or_fail_clearly(reader, path, b"", _fill(reader, 0))
        with pytest.raises((DataError, FileNotFoundError, IsADirectoryError)):
            reader.read(path, _fill(reader, 0))


# --- the crashes the properties found, kept as plain cases ------------------------------------------
# Each: the file, the reader, and the message it now gets (before: the exception in the comment).

FIELD = b'"' + b"x" * 140_000  # a quote never closed: the rest of the file is one field, over csv's limit
GZ_FLIPPED = bytearray(gzip.compress(TS_TOY.encode(), mtime=0))
GZ_FLIPPED[10] ^= 1  # the first byte of the deflate stream

REGRESSIONS = {
    # zlib.error: Error -3 while decompressing data: invalid stored block lengths
    "damaged .ts.gz": ("bad.ts.gz", bytes(GZ_FLIPPED), lambda p: load_labelled_series(p),
                       r"bad\.ts\.gz: cannot be read as gzipped UTF-8 text \(not a valid gzip file: Error -3"),
    # ValueError: invalid literal for int() with base 10: '²' (str.isdigit takes superscripts)
    "@dimension ²": ("sup.ts", "@dimension ²\n@data\n1:2\n".encode(), lambda p: read_sequences(str(p)),
                     r"sup\.ts: line 1: @dimensions must be a positive integer; found '²'$"),
    "@seriesLength ²": ("len.ts", "@equalLength true\n@seriesLength ²\n@data\n1\n".encode(),
                        lambda p: read_sequences(str(p)), r"len\.ts: line 2: @serieslength must be a positive"),
    # ValueError: min() arg is an empty sequence (a case of a label alone, no @dimensions to count against)
    "a label alone": ("alone.ts", b"@classLabel true a b\n@data\n1,2:a\nb\n", lambda p: read_sequences(str(p)),
                      r"alone\.ts: line 4: a label and no values; a case is channels separated by ':', then its "
                      r"label: 'b'$"),
    # (a DataError, but line 2 and the wrong text: str.splitlines cut the comment at its \x0c)
    "a form feed in a comment": ("ff.ts", b"# a\x0cb\n@data\n1,x:a\n", lambda p: read_ts(p),
                                 r"ff\.ts: line 3, channel 0: non-numeric value 'x'$"),
    # (a DataError without the line: "'utf-8' codec can't decode byte 0xff in position 8")
    "a .ts not UTF-8": ("latin.ts", b"@data\r\n1:\xff\n", lambda p: read_ts(p),
                        r"latin\.ts: cannot be read as UTF-8 text: byte b'\\xff' at line 2$"),
    # (a DataError naming line 1: the line was counted by \n alone)
    "CR line ends, not UTF-8": ("cr.csv", b"date,sales\r2020,1\r2021,\xff\r", lambda p: read_csv(p, "sales"),
                                r"cr\.csv: not UTF-8: byte b'\\xff' at line 3$"),
    "CR line ends, not UTF-8, text": ("cr.txt", b"to be\ror not\r\xff", lambda p: read_text(p),
                                      r"cr\.txt: not UTF-8: byte b'\\xff' at offset 13 \(line 3\)$"),
    # IndexError: list index out of range (no row at all: rows[0])
    "text column of blank cells": ("blank.csv", b",\n , \n", lambda p: read_text_column(str(p)),
                                   r"blank\.csv: file is empty \(no header and no rows\)$"),
    # _csv.Error: field larger than field limit (131072), from every reader built on the csv module
    "an unclosed quote, forecast": ("q1.csv", b"date,sales\n2020,1\n" + FIELD, lambda p: read_csv(p, "sales"),
                                    r"q1\.csv: line 3: a field longer than 131072 characters \(is a quote never "
                                    r"closed\?\)$"),
    "an unclosed quote, long format": ("q2.csv", b"sequence_id,time,x\ns,0,1\n\n" + FIELD,
                                       lambda p: read_sequences(str(p)), r"q2\.csv: line 4: a field longer"),
    "an unclosed quote, labelled": ("q3.csv", b"text,label\n" + FIELD, lambda p: read_labelled_csv(p),
                                    r"q3\.csv: line 2: a field longer"),
    "an unclosed quote, text column": ("q4.csv", b"text,label\n" + FIELD, lambda p: read_text_column(str(p)),
                                       r"q4\.csv: line 2: a field longer"),
    "a long field, sensor header": ("q5.csv", b"time,value\nt0,1\n".replace(b"value", b"v" * 140_000),
                                    lambda p: load_anomaly_series(str(p), columns=None, label_column="is_anomaly",
                                                                  fill=None), r"q5\.csv: line 1: a field longer"),
    "a long field, streamed": ("q6.csv", b"time,value\nt0," + b"1" * 140_000 + b"\n", lambda p: stream_scores(p, None),
                               r"q6\.csv: line 2: a field longer"),
}


@pytest.mark.parametrize("case", list(REGRESSIONS))
def test_a_crash_the_fuzzing_found_is_now_one_clear_error(case, tmp_path):
    name, data, read, message = REGRESSIONS[case]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError, match=message) as error:
        read(path)
    assert str(error.value).startswith(str(path)) and len(str(error.value).splitlines()) == 1


def test_a_sensor_csv_with_cr_line_ends_reads_as_with_lf(tmp_path):
    # _csv.Error: new-line character seen in unquoted field (read_header and the stream read a CR-only
    # file, as a spreadsheet may save it, as one line; read_csv read it right)
    (tmp_path / "lf.csv").write_bytes(SENSOR_GAPS.encode())
    (tmp_path / "cr.csv").write_bytes(SENSOR_GAPS.replace("\n", "\r").encode())
    (tmp_path / "mixed.csv").write_bytes(b"time,value\r\nt0,1\rt1,2\nt2,3\r")
    lf, cr = (load_anomaly_series(str(tmp_path / name), columns=None, label_column="is_anomaly", fill="zero")
              for name in ("lf.csv", "cr.csv"))
    assert summary(lf) == summary(cr) and cr.labels.tolist() == [0, 0, 1, 0, 0]
    assert stream_scores(tmp_path / "cr.csv", "zero") == stream_scores(tmp_path / "lf.csv", "zero")
    assert [line.split(",")[0] for line in stream_scores(tmp_path / "mixed.csv", None)] == ["time", "t0", "t1", "t2"]
    with pytest.raises(DataError, match=r"cr\.csv: column 'value' is missing \(NaN\) at line 3;"):
        stream_scores(tmp_path / "cr.csv", None)  # and the lines are counted as in the LF file


def test_interpolating_between_the_largest_floats_stays_finite(tmp_path):
    # (values -inf: np.interp's slope between 1e308 and -1e308 overflows; the Series promised no NaN)
    path = tmp_path / "huge.csv"
    path.write_text("date,sales\n1,1e308\n2,\n3,-1e308\n4,\n5,1e-300\n")
    assert read_csv(path, "sales", fill="interpolate").values[:, 0].tolist() == [1e308, 0.0, -1e308, -5e307, 1e-300]
    ts = tmp_path / "huge.ts"
    ts.write_text("@univariate true\n@classLabel false\n@data\n1.7e308,?,-1.7e308\n")
    assert read_ts(ts, fill="interpolate").series[0][:, 0].tolist() == [1.7e308, 0.0, -1.7e308]


# --- the command line: `rnnlab train TASK --data BROKEN` ---------------------------------------------
# The same damage, through the whole command: exit status 2, one line on stderr that starts with
# "rnnlab train: error:" and names the file, no traceback, and neither OUT, OUT.partial nor
# OUT.lock left behind. Only files the task's own reader refuses are kept (`assume`), so the
# command stops at reading and no example trains; each damage includes one step that breaks
# most files (a byte that is not UTF-8, a cut, a cell of text, a dropped field).

TASKS = {  # task: (format, suffix, the reader the task reads --data with, the options after --data)
    "forecast": ("forecast", ".csv", lambda p: read_series(str(p), target="sales"), ["--target", "sales"]),
    "anomaly": ("sensor", ".csv", lambda p: load_anomaly_series(str(p), columns=None, label_column="is_anomaly",
                                                                fill=None), []),
    "classify-series": ("ts", ".ts", lambda p: read_sequences(str(p)), []),
    "classify-series long": ("long", ".csv", lambda p: read_sequences(str(p)), []),
    "classify-text": ("labelled", ".csv", lambda p: read_labelled(str(p)), []),
    "tag": ("conllu", ".conllu", lambda p: read_sentences(str(p)), []),
    "translate": ("parallel", ".tsv", lambda p: read_texts(str(p)), []),
    "generate": ("text", ".txt", lambda p: read_corpus(str(p)), []),
}


def breaking(separators: str):
    """A damage step that breaks most files of a format."""
    position = st.integers(0, 1 << 16)
    return st.one_of(
        st.tuples(st.just("insert"), position, st.sampled_from([b"\xff", b"\xc3(", b"\x80"])),
        st.tuples(st.just("truncate"), st.integers(0, 3)),
        st.tuples(st.just("replace cell"), position, position, st.sampled_from(separators),
                  st.sampled_from(["abc", "1e999", "", "²"])),
        st.tuples(st.just("drop cell"), position, position, st.sampled_from(separators)),
    )


@pytest.mark.parametrize("task", list(TASKS))
@settings(max_examples=12)
@given(seed=st.integers(0, 7), steps=st.data())
def test_train_on_a_damaged_file_is_one_line_on_stderr_and_writes_nothing(task, seed, steps, tmp_path, capsys):
    format, suffix, read, options = TASKS[task]
    files = VALID[format]
    separators = SEPARATORS[format]
    plan = steps.draw(st.tuples(breaking(separators), st.lists(mutations(separators), max_size=2)), label="steps")
    data = damage(files[seed % len(files)], [plan[0], *plan[1]])
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(data)
    try:
        read(path)
    except DataError as error:
        expected = str(error)
    else:
        hypothesis.assume(False)  # the file still reads: the command would train on it
    out = tmp_path / "run"
    capsys.readouterr()
    status = main(["train", task.split()[0], "--data", str(path), *options, "--epochs", "1", "--out", str(out),
                   "--quiet"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err == f"rnnlab train: error: {expected}\n", captured.err
    assert len(captured.err.splitlines()) == 1 and str(path) in captured.err and "Traceback" not in captured.err
    assert not out.exists() and not (tmp_path / "run.partial").exists() and not (tmp_path / "run.lock").exists()
