"""Small real data sets shipped inside the package.

Each bundled data set is a folder under ``rnnlab/data/bundled/`` holding its data file(s) and a
``SOURCE.md`` (origin, citation, licence, how it was extracted). Nothing here downloads: the files
are read from the installed package, so loading works on machines without network access.

Two registries: the time series (for each name, which CSV holds the series, which column is the
default forecasting target, and which ``fill`` ``rnnlab.data.load_series`` uses by default), and
the text data sets (for each name, its file and its kind, i.e. which reader of `rnnlab.data.text`
reads it: "labelled", "text", "conllu" or "parallel"). `bundled_path` and `bundled_file` take a
name from either; `list_names`/`list_datasets` describe the series, `list_text_names`/
`list_text_datasets` the text.

This module is longer than the style's ~300 lines: it holds the registries of all four kinds of
bundled data (series, texts, series classification, anomaly series), a few lines per entry, so
that one file answers "what ships with rnnlab, and where does it come from".
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

# Folder of the bundled data sets, next to this module (works for editable and regular installs).
_BUNDLED_ROOT = Path(__file__).resolve().parent / "bundled"


@dataclass(frozen=True)
class _Entry:
    file: str                # CSV file inside the data set's folder
    target: str              # default forecasting target column
    fill: str | None         # default fill for missing cells (None: the file has none)
    description: str         # one line, for `rnnlab datasets`


# Names a user may pass to `bundled_path` and `load_series`; each is a folder under _BUNDLED_ROOT.
_REGISTRY: dict[str, _Entry] = {
    "airline": _Entry(
        "airline.csv", "passengers", None,
        "Monthly international airline passengers (thousands), 1949-1960 (Box & Jenkins)"),
    "co2": _Entry(
        "co2.csv", "co2", "interpolate",
        "Weekly atmospheric CO2 at Mauna Loa (ppmv), 1958-2001, 59 gaps (Keeling & Whorf)"),
    "seattle_weather": _Entry(
        "seattle_weather.csv", "temp_max", None,
        "Daily Seattle weather 2012-2015: precipitation, temp_max, temp_min, wind (NOAA)"),
}
_NAMES = tuple(_REGISTRY)


@dataclass(frozen=True)
class _TextEntry:
    file: str                # the data file inside the data set's folder
    kind: str                # which reader: labelled | text | conllu | parallel
    description: str         # one line, for `rnnlab datasets`


# Text data sets, read with rnnlab.data.text (resolve_text_data maps a name to its file).
_TEXT_REGISTRY: dict[str, _TextEntry] = {
    "rotten_tomatoes": _TextEntry(
        "rotten_tomatoes.csv.gz", "labelled",
        "Rotten Tomatoes review snippets labelled fresh or rotten (Pang & Lee), text,label CSV"),
    "hamlet": _TextEntry(
        "hamlet.txt", "text",
        "Shakespeare's Hamlet, plain text (public domain), for character or word generation"),
    "porttinari": _TextEntry(
        "porttinari.conllu.gz", "conllu",
        "Brazilian Portuguese news sentences with UD UPOS tags (Porttinari-base sample), CoNLL-U"),
    "kjv_rv": _TextEntry(
        "kjv_rv.tsv.gz", "parallel",
        "English (King James) <TAB> Spanish (Reina-Valera 1909) Bible verse pairs, <= 25 words"),
}
# What one unit of each kind's size is, for `list_text_datasets`.
_TEXT_UNITS = {"labelled": "rows", "text": "characters", "conllu": "sentences", "parallel": "pairs"}
_ALL_NAMES = _NAMES + tuple(_TEXT_REGISTRY)


@dataclass(frozen=True)
class DatasetInfo:
    """What `list_datasets` reports about one bundled data set.

    Attributes:
        name: the name to pass to `load_series` or `bundled_path`.
        description: one line: what is measured, where, when.
        points: number of time steps (data rows of the CSV).
        columns: the input columns, the target included (the time column excluded).
        target: the default forecasting target column.
        fill: the default fill for missing cells, or None.
    """

    name: str
    description: str
    points: int
    columns: tuple[str, ...]
    target: str
    fill: str | None


@dataclass(frozen=True)
class TextDatasetInfo:
    """What `list_text_datasets` reports about one bundled text data set.

    Attributes:
        name: the name to pass to `rnnlab.data.text.resolve_text_data` or `bundled_file`.
        kind: which reader reads it: "labelled", "text", "conllu" or "parallel".
        description: one line: what the text is and where it comes from.
        size: how many ``unit``s the file holds, counted by reading it.
        unit: "rows" (labelled), "characters" (text), "sentences" (conllu) or "pairs" (parallel).
    """

    name: str
    kind: str
    description: str
    size: int
    unit: str


@dataclass(frozen=True)
class AnomalyInfo:
    """A bundled univariate series with labelled anomalies (what `anomaly_info` returns).

    Attributes:
        file: the CSV (header ``time,value,is_anomaly``; one row per step, in time order).
        value_column: the column holding the series.
        label_column: the column holding the 0/1 anomaly labels.
        normal_until: rows ``[0, normal_until)`` are known normal: the part to train a detector on.
    """

    file: Path
    value_column: str = "value"
    label_column: str = "is_anomaly"
    normal_until: int = 1200


@dataclass(frozen=True)
class SensorDatasetInfo:
    """What `list_sensor_datasets` reports about one bundled sensor data set.

    Attributes:
        name: the name to pass to `series_classification_files` or `anomaly_info`.
        kind: "classification" (a TRAIN and a TEST ``.ts`` file) or "anomaly" (one labelled series).
        description: one line: what was measured and where it comes from.
        files: the data files, TRAIN then TEST for a classification set.
    """

    name: str
    kind: str
    description: str
    files: tuple[Path, ...]


# Classification sets in the UCR/UEA .ts format (read by rnnlab.data.ts): folder -> (TRAIN, TEST).
_SERIES_CLASSIFICATION: dict[str, tuple[str, str, str]] = {
    "japanese_vowels": (
        "JapaneseVowels_TRAIN.ts.gz", "JapaneseVowels_TEST.ts.gz",
        "9 speakers saying /ae/: 12 LPC cepstrum channels, 7-29 steps, 270/370 cases (Kudo et al.)"),
    "basic_motions": (
        "BasicMotions_TRAIN.ts.gz", "BasicMotions_TEST.ts.gz",
        "Smart-watch accelerometer+gyroscope (6 channels x 100 steps), 4 activities, 40/40 cases"),
}
# Univariate series with labelled anomalies: folder -> (CSV, normal_until, description).
_ANOMALY: dict[str, tuple[str, int, str]] = {
    "ucr_135": ("ucr_135.csv", 1200,
                "UCR anomaly archive #135, InternalBleeding16: 7501 points, anomaly at 4187-4198"),
}


def series_classification_files(name: str) -> tuple[Path, Path]:
    """Return ``(train_path, test_path)``: the ``.ts.gz`` files of a bundled classification set.

    Args:
        name: one of ``['japanese_vowels', 'basic_motions']``.

    Raises:
        ValueError: if ``name`` is not a bundled series classification set.
    """
    if name not in _SERIES_CLASSIFICATION:
        raise ValueError(f"name must be one of {list(_SERIES_CLASSIFICATION)}; received {name!r}")
    train, test, _ = _SERIES_CLASSIFICATION[name]
    return _BUNDLED_ROOT / name / train, _BUNDLED_ROOT / name / test


def anomaly_info(name: str) -> AnomalyInfo:
    """Return where a bundled anomaly series lives and how to read it.

    Args:
        name: one of ``['ucr_135']``.

    Raises:
        ValueError: if ``name`` is not a bundled anomaly series.

    Example:
        >>> info = anomaly_info("ucr_135")
        >>> info.file.name, info.value_column, info.label_column, info.normal_until
        ('ucr_135.csv', 'value', 'is_anomaly', 1200)
    """
    if name not in _ANOMALY:
        raise ValueError(f"name must be one of {list(_ANOMALY)}; received {name!r}")
    file, normal_until, _ = _ANOMALY[name]
    return AnomalyInfo(file=_BUNDLED_ROOT / name / file, normal_until=normal_until)


def list_series_classification_names() -> tuple[str, ...]:
    """Return the names `series_classification_files` takes, in registry order."""
    return tuple(_SERIES_CLASSIFICATION)


def list_anomaly_names() -> tuple[str, ...]:
    """Return the names `anomaly_info` takes, in registry order."""
    return tuple(_ANOMALY)


def list_sensor_datasets() -> list[SensorDatasetInfo]:
    """Describe the bundled sensor sets: the classification sets, then the anomaly series."""
    infos = [SensorDatasetInfo(name, "classification", description,
                               series_classification_files(name))
             for name, (_, _, description) in _SERIES_CLASSIFICATION.items()]
    return infos + [SensorDatasetInfo(name, "anomaly", description, (anomaly_info(name).file,))
                    for name, (_, _, description) in _ANOMALY.items()]


def bundled_path(name: str) -> Path:
    """Return the folder of a bundled data set.

    Args:
        name: the data set's name: a series (``['airline', 'co2', 'seattle_weather']``) or a text
            data set (``['rotten_tomatoes', 'hamlet', 'porttinari', 'kjv_rv']``).

    Returns:
        The folder that holds the data set's files and its ``SOURCE.md``.

    Raises:
        ValueError: if ``name`` is not a bundled data set.

    Example:
        >>> (bundled_path("airline") / "SOURCE.md").is_file()
        True
    """
    if name not in _ALL_NAMES:
        raise ValueError(f"name must be one of {list(_ALL_NAMES)}; received {name!r}")
    return _BUNDLED_ROOT / name


def list_names() -> tuple[str, ...]:
    """Return the names of the bundled time series (what `load_series` takes), in registry order."""
    return _NAMES


def list_text_names(kind: str | None = None) -> tuple[str, ...]:
    """Return the names of the bundled text data sets, of one ``kind`` or (None) all of them."""
    return tuple(name for name, entry in _TEXT_REGISTRY.items() if kind in (None, entry.kind))


def text_kind(name: str) -> str | None:
    """Return the kind of a bundled text data set ("labelled", "text", "conllu", "parallel"), or
    None if ``name`` is not one (a series, or not bundled)."""
    entry = _TEXT_REGISTRY.get(name)
    return entry.kind if entry is not None else None


def bundled_file(name: str) -> Path:
    """Return the data file of a bundled data set, series or text (see `bundled_path`)."""
    folder = bundled_path(name)  # validates the name with the usual message
    entry = _REGISTRY.get(name) or _TEXT_REGISTRY[name]
    return folder / entry.file


def bundled_defaults(name: str) -> tuple[str, str | None]:
    """Return ``(target, fill)``: the default target column and fill of a bundled series.

    Raises:
        ValueError: if ``name`` is not bundled, or is a text data set (which has no target).
    """
    bundled_path(name)  # validates the name with the usual message
    if name in _TEXT_REGISTRY:
        raise ValueError(f"name must be a bundled time series {list(_NAMES)}; received {name!r}, "
                         f"a {_TEXT_REGISTRY[name].kind!r} text data set")
    entry = _REGISTRY[name]
    return entry.target, entry.fill


def list_datasets() -> list[DatasetInfo]:
    """Describe every bundled data set, in registry order.

    The number of points and the columns are read from each CSV's header and rows, so they cannot
    drift from the files.

    Returns:
        One `DatasetInfo` per bundled data set.

    Example:
        >>> [info.name for info in list_datasets()]
        ['airline', 'co2', 'seattle_weather']
    """
    infos = []
    for name, entry in _REGISTRY.items():
        with bundled_file(name).open(newline="", encoding="utf-8") as file:
            header, *rows = [row for row in csv.reader(file) if row]
        # Every bundled file keeps its time column first; the rest are numeric inputs.
        infos.append(DatasetInfo(name=name, description=entry.description, points=len(rows),
                                 columns=tuple(header[1:]), target=entry.target, fill=entry.fill))
    return infos


def list_text_datasets() -> list[TextDatasetInfo]:
    """Describe every bundled text data set, in registry order.

    Each size is counted by reading the file with its reader from `rnnlab.data.text`, so it cannot
    drift from the file (this reads a few MB; call it for listings, not in a loop).

    Returns:
        One `TextDatasetInfo` per bundled text data set.

    Example:
        >>> [(info.name, info.kind) for info in list_text_datasets()][1]
        ('hamlet', 'text')
    """
    from rnnlab.data import text  # here, not at the top: text imports this module

    readers = {"labelled": lambda path: text.read_labelled_csv(path)[0], "text": text.read_text,
               "conllu": text.read_conllu, "parallel": text.read_parallel_tsv}
    return [TextDatasetInfo(name=name, kind=entry.kind, description=entry.description,
                            size=len(readers[entry.kind](bundled_file(name))),
                            unit=_TEXT_UNITS[entry.kind])
            for name, entry in _TEXT_REGISTRY.items()]


def load_airline() -> torch.Tensor:
    """Load the airline passengers series (Box, Jenkins & Reinsel, Series G).

    Monthly totals of international airline passengers, in thousands, January 1949 to December
    1960. The same values as R's ``datasets::AirPassengers``; see ``SOURCE.md`` in
    ``bundled_path("airline")`` for the origin and licence.

    Returns:
        A float32 tensor of the 144 monthly values, in time order (first 112.0, last 432.0).

    Shape:
        (T,) with T = 144.

    Example:
        >>> series = load_airline()
        >>> series.shape, series[0].item()
        (torch.Size([144]), 112.0)
    """
    path = bundled_path("airline") / "airline.csv"
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    months = [row["month"] for row in rows]
    # The CSV is written in time order; checked here so a bad edit cannot silently shuffle it.
    assert months == sorted(months), "airline.csv must be in time order"
    return torch.tensor([float(row["passengers"]) for row in rows], dtype=torch.float32)  # (T,)
